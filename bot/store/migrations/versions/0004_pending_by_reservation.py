"""The ledger keeps one index of reservations in flight, by who holds them.

Settling a push finds its rows by reservation (token and subscription), and only pending rows
are ever looked up that way: a partial index of pending rows by reservation serves it and
replaces the full reservation index, which grew with the ledger's whole history and cost
every reserved row a third index entry. Releasing stale reservations reads the pending rows,
which are only the deliveries under way.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

PENDING = sa.text("state = 'pending'")


def upgrade() -> None:
    op.drop_index("ix_deliveries_reservation", table_name="deliveries")
    op.drop_index("ix_deliveries_pending", table_name="deliveries")
    op.create_index(
        "ix_deliveries_pending", "deliveries", ["reserved_by", "subscription_id"],
        sqlite_where=PENDING, postgresql_where=PENDING,
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_deliveries_pending", table_name="deliveries")
    op.create_index(
        "ix_deliveries_pending", "deliveries", ["delivered_at"],
        sqlite_where=PENDING, postgresql_where=PENDING,
    )  # fmt: skip
    op.create_index("ix_deliveries_reservation", "deliveries", ["reserved_by", "subscription_id"])
