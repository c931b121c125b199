"""What sent messages show, kept once: a digest sent to thousands of channels was a copy of
its record in each message's row, and every delivered story an entry in an index of
deliveries by story (the fan-out's cost grew by a tenth). Now each record is stored once by
its key, each message names the key, and the stories of each record say which messages show
a story.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from bot.store.contents import content_key

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message_contents",
        sa.Column("content_key", sa.String(32), primary_key=True),
        sa.Column("content", sa.Text, nullable=False),
    )
    op.create_table(
        "content_stories",
        sa.Column("story_id", sa.String(16), nullable=False),
        sa.Column("content_key", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("story_id", "content_key"),
        sqlite_with_rowid=False,
    )
    op.add_column("sends", sa.Column("content_key", sa.String(32), nullable=True))
    bind = op.get_bind()
    records = [r[0] for r in bind.execute(sa.text("SELECT DISTINCT content FROM sends"
                                                  " WHERE content IS NOT NULL"))]  # fmt: skip
    for record in records:
        key = content_key(record)
        bind.execute(
            sa.text("INSERT INTO message_contents (content_key, content) VALUES (:k, :c)"),
            {"k": key, "c": record},
        )
        for story_id in sorted({card[0] for card in json.loads(record)["cards"]}):
            bind.execute(
                sa.text("INSERT INTO content_stories (story_id, content_key) VALUES (:s, :k)"),
                {"s": story_id, "k": key},
            )
        bind.execute(
            sa.text("UPDATE sends SET content_key = :k WHERE content = :c"),
            {"k": key, "c": record},
        )
    op.create_index("ix_sends_content_key", "sends", ["content_key"])
    op.drop_column("sends", "content")
    op.drop_index("ix_deliveries_story_id", table_name="deliveries")


def downgrade() -> None:
    op.create_index("ix_deliveries_story_id", "deliveries", ["story_id"])
    op.add_column("sends", sa.Column("content", sa.Text, nullable=True))
    op.execute(
        "UPDATE sends SET content = (SELECT c.content FROM message_contents AS c"
        " WHERE c.content_key = sends.content_key) WHERE content_key IS NOT NULL"
    )
    op.drop_index("ix_sends_content_key", table_name="sends")
    op.drop_column("sends", "content_key")
    op.drop_table("content_stories")
    op.drop_table("message_contents")
