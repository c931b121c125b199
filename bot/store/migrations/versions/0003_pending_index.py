"""The ledger's index of reservations in flight covers only pending rows.

A settled row leaves the index instead of moving inside it, so the index stays as small as
the deliveries under way while the ledger's history grows.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

PENDING = sa.text("state = 'pending'")


def upgrade() -> None:
    op.drop_index("ix_deliveries_pending", table_name="deliveries")
    op.create_index(
        "ix_deliveries_pending", "deliveries", ["delivered_at"],
        sqlite_where=PENDING, postgresql_where=PENDING,
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_deliveries_pending", table_name="deliveries")
    op.create_index("ix_deliveries_pending", "deliveries", ["state", "delivered_at"])
