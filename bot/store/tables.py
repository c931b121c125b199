"""Table definitions. Migrations in ``migrations/versions`` create exactly these."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator, TypeEngine

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out.

    PostgreSQL stores ``timestamptz``. SQLite has no date type: it stores microseconds since
    the epoch as an integer, which sorts and compares like the time itself and reads back
    without parsing text (a due-scan reads thousands of them).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware datetime")
        if dialect.name == "sqlite":
            return self.to_sqlite(value)
        return value.astimezone(UTC)

    @staticmethod
    def to_sqlite(value: datetime) -> int:
        """The stored form on SQLite: microseconds since the epoch."""
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware datetime")
        return (value - _EPOCH) // _MICROSECOND

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, int):
            return _EPOCH + value * _MICROSECOND
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
    Index("ix_stories_changed_at", "changed_at"),
    Index("ix_stories_ingested_at", "ingested_at"),
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
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("platform", "workspace", "channel", "region", name="uq_subscriptions_target"),
    # Covers a due-scan: due pushes of the platforms a process serves (see migration 0005).
    Index("ix_subscriptions_due", "paused", "next_push_at", "platform"),
)

# A process pushing a subscription right now: its token and when it took the claim. A table
# of its own keeps a scan's writes small (claiming 10,000 pushes writes 10,000 short rows, not
# 10,000 subscription rows spread over the whole table).
push_claims = Table(
    "push_claims",
    metadata,
    Column("subscription_id", BigInteger, primary_key=True),
    Column("claimed_by", String(32), nullable=False),
    Column("claimed_at", UTCDateTime, nullable=False),
)

# One row per message sent (or being sent) to a channel: who sent it for which subscription,
# the platform's message id and when. The stories it carried are its rows in ``deliveries``.
sends = Table(
    "sends",
    metadata,
    Column("id", _SEQ, primary_key=True, autoincrement=True),
    Column("platform", String(16), nullable=False),
    Column("workspace", String(64), nullable=False),
    Column("channel", String(128), nullable=False),
    Column("subscription_id", BigInteger, nullable=True),
    # "pending" from reservation until the platform accepted the message, then "sent".
    Column("state", String(8), nullable=False),
    Column("reserved_by", String(32), nullable=False),
    # The message's number in its reservation: a push's subscription id, an alert's place.
    Column("number", BigInteger, nullable=False),
    Column("message_id", Text, nullable=True),
    Column("at", UTCDateTime, nullable=False),  # when reserved, then when sent
    # What the message shows, to edit it when one of its stories changes: its record's key in
    # ``message_contents``; none for a notice, or once the message was deleted.
    Column("content_key", String(32), nullable=True),
    # Messages in flight only, by reservation (see migration 0007); queries name the state
    # as a literal, as a partial index needs.
    Index(
        "ix_sends_pending",
        "reserved_by",
        "number",
        unique=True,
        sqlite_where=text("state = 'pending'"),
        postgresql_where=text("state = 'pending'"),
    ),
    Index("ix_sends_content_key", "content_key"),  # the messages that show a record
)

# What sent messages show (JSON, see ``bot.render.model.shown``), once a record however many
# messages show it, by a key made from it (see ``bot.store.contents``).
message_contents = Table(
    "message_contents",
    metadata,
    Column("content_key", String(32), primary_key=True),
    Column("content", Text, nullable=False),
)

# The stories each record shows: the messages to edit when a story changes are found here.
content_stories = Table(
    "content_stories",
    metadata,
    Column("story_id", String(16), nullable=False),
    Column("content_key", String(32), nullable=False),
    PrimaryKeyConstraint("story_id", "content_key"),
    sqlite_with_rowid=False,
)

# One row per story delivered to a channel, naming the message that carried it: the primary
# key is what makes delivery at most once, across restarts and replicas. On SQLite the table
# is its key (WITHOUT ROWID): one B-tree to write per story, not a table and an index.
deliveries = Table(
    "deliveries",
    metadata,
    Column("platform", String(16), nullable=False),
    Column("workspace", String(64), nullable=False),
    Column("channel", String(128), nullable=False),
    Column("story_id", String(16), nullable=False),
    Column("send_id", BigInteger, nullable=False),
    PrimaryKeyConstraint("platform", "workspace", "channel", "story_id"),
    sqlite_with_rowid=False,
)

# Messages to edit because a story they show changed: due a short while after the change,
# so a burst of updates makes one edit; ``planned_at`` is when the latest change planned for
# it was made, so an edit under way when another change comes is made again. Claimed like a
# push.
message_edits = Table(
    "message_edits",
    metadata,
    Column("send_id", _SEQ, primary_key=True, autoincrement=False),  # SQLite: the rowid
    Column("due_at", UTCDateTime, nullable=False),
    Column("planned_at", UTCDateTime, nullable=False),
    Column("claimed_by", String(32), nullable=True),
    Column("claimed_at", UTCDateTime, nullable=True),
    Column("tries", Integer, nullable=False),
    Index("ix_message_edits_due_at", "due_at"),
)

# Events a platform delivered (and may deliver again: Slack retries an event it thinks was
# missed): the key makes each one handled once, across restarts and replicas.
platform_events = Table(
    "platform_events",
    metadata,
    Column("platform", String(16), nullable=False),
    Column("event_id", String(128), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("platform", "event_id"),
    Index("ix_platform_events_received_at", "received_at"),
)

# What a platform adapter keeps between runs, by name (the Discord commands' hash).
platform_state = Table(
    "platform_state",
    metadata,
    Column("platform", String(16), nullable=False),
    Column("name", String(128), nullable=False),
    Column("value", Text, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("platform", "name"),
)


# Slack installations and OAuth states, in the shape slack-sdk's SQLAlchemy stores read and
# write (``AsyncSQLAlchemyInstallationStore``, ``AsyncSQLAlchemyOAuthStateStore``): the tables
# are ours, made by our migrations, on SQLite and PostgreSQL alike.
def _slack_bot(*, enterprise_url: bool) -> list[Column[Any]]:
    """The columns an installation and a bot share: the app, the workspace, the bot."""
    columns: list[Column[Any]] = [
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("client_id", String(32), nullable=False),
        Column("app_id", String(32), nullable=False),
        Column("enterprise_id", String(32)),
        Column("enterprise_name", String(200)),
    ]
    if enterprise_url:
        columns.append(Column("enterprise_url", String(200)))
    columns += [
        Column("team_id", String(32)),
        Column("team_name", String(200)),
        Column("bot_token", String(200)),
        Column("bot_id", String(32)),
        Column("bot_user_id", String(32)),
        Column("bot_scopes", String(1000)),
        Column("bot_refresh_token", String(200)),
        Column("bot_token_expires_at", DateTime),
    ]
    return columns


slack_installations = Table(
    "slack_installations",
    metadata,
    *_slack_bot(enterprise_url=True),
    Column("user_id", String(32), nullable=False),
    Column("user_token", String(200)),
    Column("user_scopes", String(1000)),
    Column("user_refresh_token", String(200)),
    Column("user_token_expires_at", DateTime),
    Column("incoming_webhook_url", String(200)),
    Column("incoming_webhook_channel", String(200)),
    Column("incoming_webhook_channel_id", String(200)),
    Column("incoming_webhook_configuration_url", String(200)),
    Column("is_enterprise_install", Boolean, nullable=False),
    Column("token_type", String(32)),
    Column("installed_at", DateTime, nullable=False),
    Index(
        "slack_installations_idx",
        "client_id",
        "enterprise_id",
        "team_id",
        "user_id",
        "installed_at",
    ),
)

slack_bots = Table(
    "slack_bots",
    metadata,
    *_slack_bot(enterprise_url=False),
    Column("is_enterprise_install", Boolean, nullable=False),
    Column("installed_at", DateTime, nullable=False),
    Index("slack_bots_idx", "client_id", "enterprise_id", "team_id", "installed_at"),
)

slack_oauth_states = Table(
    "slack_oauth_states",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("state", String(200), nullable=False),
    Column("expire_at", DateTime, nullable=False),
)
