"""Living messages: what each sent message shows (so it can be edited when a story it shows
changes), the messages of a story (an index of deliveries by story), the stories changed
since a time, and the queue of edits to make.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.tables import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sends", sa.Column("content", sa.Text, nullable=True))
    op.create_index("ix_deliveries_story_id", "deliveries", ["story_id"])
    op.create_index("ix_stories_changed_at", "stories", ["changed_at"])
    op.create_table(
        "message_edits",
        # SQLite: INTEGER, the rowid itself (no second index of the key)
        sa.Column(
            "send_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("due_at", UTCDateTime, nullable=False),
        sa.Column("planned_at", UTCDateTime, nullable=False),
        sa.Column("claimed_by", sa.String(32), nullable=True),
        sa.Column("claimed_at", UTCDateTime, nullable=True),
        sa.Column("tries", sa.Integer, nullable=False),
    )
    op.create_index("ix_message_edits_due_at", "message_edits", ["due_at"])


def downgrade() -> None:
    op.drop_index("ix_message_edits_due_at", table_name="message_edits")
    op.drop_table("message_edits")
    op.drop_index("ix_stories_changed_at", table_name="stories")
    op.drop_index("ix_deliveries_story_id", table_name="deliveries")
    # SQLite (3.35 and later) drops an unindexed column in place, as PostgreSQL does
    op.drop_column("sends", "content")
