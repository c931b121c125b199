"""Table definitions. Migrations in ``migrations/versions`` create exactly these."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (no zone support) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
_SEQ = BigInteger().with_variant(Integer(), "sqlite")

stories = Table(
    "stories",
    metadata,
    Column("seq", _SEQ, primary_key=True, autoincrement=True),
    Column("id", String(16), nullable=False, unique=True),
    Column("url", Text, nullable=True),
    Column("kind", String(16), nullable=False),
    Column("title", Text, nullable=False),
    Column("region", String(32), nullable=True),
    Column("published_at", UTCDateTime, nullable=True),
    # When the story sorts: its publication time, or when we first saw it if the page had none.
    Column("sort_at", UTCDateTime, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("search_text", Text, nullable=False),
    Column("data", Text, nullable=False),
    Column("ingested_at", UTCDateTime, nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
    Index("ix_stories_region_sort_at", "region", "sort_at"),
    Index("ix_stories_sort_at", "sort_at"),
    Index("ix_stories_url", "url"),
)

fetch_validators = Table(
    "fetch_validators",
    metadata,
    Column("url", Text, primary_key=True),
    Column("etag", Text, nullable=True),
    Column("last_modified", Text, nullable=True),
    Column("seen_at", UTCDateTime, nullable=False),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", _SEQ, primary_key=True, autoincrement=True),
    Column("platform", String(16), nullable=False),
    Column("workspace", String(64), nullable=False),
    Column("channel", String(128), nullable=False),
    Column("region", String(32), nullable=False),
    Column("push_time", String(5), nullable=False),  # HH:MM, local to `timezone`
    Column("timezone", String(64), nullable=False),
    Column("days", String(13), nullable=False),  # weekday numbers, Monday 0: "0,1,2,3,4"
    Column("mode", String(8), nullable=False),
    Column("filters", Text, nullable=False),  # JSON: topics, sources, keywords, exclude
    Column("paused", Boolean, nullable=False),
    Column("paused_reason", Text, nullable=True),
    Column("next_push_at", UTCDateTime, nullable=True),
    Column("last_push_at", UTCDateTime, nullable=True),
    Column("last_result", Text, nullable=True),
    Column("failures", Integer, nullable=False),
    # A process pushing this subscription right now: its token and when it took the claim.
    Column("claimed_by", String(32), nullable=True),
    Column("claimed_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("platform", "workspace", "channel", "region", name="uq_subscriptions_target"),
    Index("ix_subscriptions_due", "paused", "next_push_at"),
)

# One row per story delivered to a channel: the unique key is what makes delivery at most once,
# across restarts and replicas.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", _SEQ, primary_key=True, autoincrement=True),
    Column("platform", String(16), nullable=False),
    Column("workspace", String(64), nullable=False),
    Column("channel", String(128), nullable=False),
    Column("story_id", String(16), nullable=False),
    Column("subscription_id", BigInteger, nullable=True),
    # "pending" from reservation until the platform accepted the message, then "sent".
    Column("state", String(8), nullable=False),
    Column("reserved_by", String(32), nullable=True),
    Column("message_id", Text, nullable=True),
    Column("delivered_at", UTCDateTime, nullable=False),
    UniqueConstraint("platform", "workspace", "channel", "story_id", name="uq_deliveries_once"),
    Index("ix_deliveries_pending", "state", "delivered_at"),
)
