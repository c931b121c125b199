"""A push claim no longer copies the push time it claims.

The claimed push's time stays on its subscription (``next_push_at``) until the push's outcome
moves it on, so the copy in ``push_claims.slot`` was never read.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.tables import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("push_claims") as batch:  # SQLite rebuilds the small table
        batch.drop_column("slot")


def downgrade() -> None:
    with op.batch_alter_table("push_claims") as batch:
        # claims in flight get their subscription's push time, as the claim had copied it
        batch.add_column(sa.Column("slot", UTCDateTime, nullable=True))
    op.execute(
        "UPDATE push_claims SET slot = (SELECT s.next_push_at FROM subscriptions AS s"
        " WHERE s.id = push_claims.subscription_id)"
    )
    op.execute("DELETE FROM push_claims WHERE slot IS NULL")
    with op.batch_alter_table("push_claims") as batch:
        batch.alter_column("slot", existing_type=UTCDateTime, nullable=False)
