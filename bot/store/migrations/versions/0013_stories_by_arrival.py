"""Stories indexed by when they were stored.

Every scan looks for stories stored since the last one (alerts for instant subscribers): without
this index each look read the whole stories table (with 100,000 stories, a twentieth of a busy
bot's time went to it); with it a look reads only what arrived.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_stories_ingested_at", "stories", ["ingested_at"])


def downgrade() -> None:
    op.drop_index("ix_stories_ingested_at", table_name="stories")
