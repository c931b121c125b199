"""Events platforms delivered, so each is handled once (Slack retries events).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.tables import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "platform_events",
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("platform", "event_id"),
    )
    op.create_index("ix_platform_events_received_at", "platform_events", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_platform_events_received_at", "platform_events")
    op.drop_table("platform_events")
