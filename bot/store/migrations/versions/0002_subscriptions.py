"""Subscriptions and the delivery ledger.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.tables import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "subscriptions",
        sa.Column("id", seq, primary_key=True, autoincrement=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("workspace", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(128), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("push_time", sa.String(5), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("days", sa.String(13), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("filters", sa.Text, nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("paused_reason", sa.Text, nullable=True),
        sa.Column("next_push_at", UTCDateTime, nullable=True),
        sa.Column("last_push_at", UTCDateTime, nullable=True),
        sa.Column("last_result", sa.Text, nullable=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_subscriptions"),
        sa.UniqueConstraint(
            "platform", "workspace", "channel", "region", name="uq_subscriptions_target"
        ),
    )
    op.create_index("ix_subscriptions_due", "subscriptions", ["paused", "next_push_at"])
    op.create_table(
        "push_claims",
        sa.Column("subscription_id", sa.BigInteger, nullable=False),
        sa.Column("claimed_by", sa.String(32), nullable=False),
        sa.Column("claimed_at", UTCDateTime, nullable=False),
        sa.Column("slot", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("subscription_id", name="pk_push_claims"),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", seq, primary_key=True, autoincrement=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("workspace", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(128), nullable=False),
        sa.Column("story_id", sa.String(16), nullable=False),
        sa.Column("subscription_id", sa.BigInteger, nullable=True),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("reserved_by", sa.String(32), nullable=True),
        sa.Column("message_id", sa.Text, nullable=True),
        sa.Column("delivered_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.UniqueConstraint(
            "platform", "workspace", "channel", "story_id", name="uq_deliveries_once"
        ),
    )
    op.create_index("ix_deliveries_pending", "deliveries", ["state", "delivered_at"])
    op.create_index("ix_deliveries_reservation", "deliveries", ["reserved_by", "subscription_id"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_reservation", table_name="deliveries")
    op.drop_index("ix_deliveries_pending", table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_table("push_claims")
    op.drop_index("ix_subscriptions_due", table_name="subscriptions")
    op.drop_table("subscriptions")
