"""The ledger keeps each message once: ``sends``, and a delivered story names its message.

A push's message carried several stories, and each story's ledger row held the message's
state, reservation and platform id: settling a push rewrote all of them. A message now has one
row in ``sends``, which settling rewrites alone, and ``deliveries`` keeps only what makes
delivery at most once, the (channel, story) key, with the message it went out in. On SQLite
``deliveries`` is its key (WITHOUT ROWID), so a delivered story writes one B-tree.

Existing rows move over: the rows of one message (one channel, subscription, state,
reservation, message id and, once sent, time) become one send. Reservations in flight keep
their state, so the lease releases them as before. Stop every bot process before upgrading.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.tables import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

PENDING = sa.text("state = 'pending'")
# The rows of one message in the old ledger (GROUP BY and PARTITION BY alike take NULLs as
# equal): one channel, subscription, state, reservation, message id and, once sent, time.
MESSAGE = (
    "platform, workspace, channel, subscription_id, state, reserved_by, message_id,"
    " CASE WHEN state = 'sent' THEN delivered_at END"
)


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "sends",
        sa.Column("id", seq, primary_key=True, autoincrement=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("workspace", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(128), nullable=False),
        sa.Column("subscription_id", sa.BigInteger, nullable=True),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("reserved_by", sa.String(32), nullable=False),
        sa.Column("number", sa.BigInteger, nullable=False),
        sa.Column("message_id", sa.Text, nullable=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sends"),
    )
    # One send per message: rows of one channel, subscription, state, reservation and message
    # id (and, once sent, time). Numbered below zero, a moved reservation never meets a new one.
    op.execute(
        "INSERT INTO sends (platform, workspace, channel, subscription_id, state, reserved_by,"
        " number, message_id, at)"
        " SELECT platform, workspace, channel, subscription_id, state,"
        " COALESCE(reserved_by, ''), -MIN(id), message_id, MAX(delivered_at)"
        f" FROM deliveries GROUP BY {MESSAGE}"
    )
    op.create_index(
        "ix_sends_pending", "sends", ["reserved_by", "number"], unique=True,
        sqlite_where=PENDING, postgresql_where=PENDING,
    )  # fmt: skip
    op.drop_index("ix_deliveries_pending", table_name="deliveries")
    if _postgres():  # names the new table's key takes
        op.drop_constraint("uq_deliveries_once", "deliveries", type_="unique")
        op.drop_constraint("pk_deliveries", "deliveries", type_="primary")
    op.rename_table("deliveries", "deliveries_before_0007")
    op.create_table(
        "deliveries",
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("workspace", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(128), nullable=False),
        sa.Column("story_id", sa.String(16), nullable=False),
        sa.Column("send_id", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint(
            "platform", "workspace", "channel", "story_id", name="pk_deliveries"
        ),
        sqlite_with_rowid=False,
    )
    # each row finds its send by the number its message got (one hash join, however many
    # messages a channel has)
    op.execute(
        "INSERT INTO deliveries (platform, workspace, channel, story_id, send_id)"
        " SELECT d.platform, d.workspace, d.channel, d.story_id, o.id"
        " FROM (SELECT platform, workspace, channel, story_id,"
        f" -MIN(id) OVER (PARTITION BY {MESSAGE}) AS number"
        " FROM deliveries_before_0007) AS d JOIN sends AS o ON o.number = d.number"
    )
    op.drop_table("deliveries_before_0007")


def downgrade() -> None:
    if _postgres():
        op.drop_constraint("pk_deliveries", "deliveries", type_="primary")
    op.rename_table("deliveries", "deliveries_after_0007")
    seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
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
    op.execute(
        "INSERT INTO deliveries (platform, workspace, channel, story_id, subscription_id,"
        " state, reserved_by, message_id, delivered_at)"
        " SELECT d.platform, d.workspace, d.channel, d.story_id, o.subscription_id, o.state,"
        " NULLIF(o.reserved_by, ''), o.message_id, o.at"
        " FROM deliveries_after_0007 AS d JOIN sends AS o ON o.id = d.send_id"
    )
    op.create_index(
        "ix_deliveries_pending", "deliveries", ["reserved_by", "subscription_id"],
        sqlite_where=PENDING, postgresql_where=PENDING,
    )  # fmt: skip
    op.drop_table("deliveries_after_0007")
    op.drop_index("ix_sends_pending", table_name="sends")
    op.drop_table("sends")
