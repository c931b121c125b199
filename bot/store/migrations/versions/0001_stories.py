"""Stories, full-text search and fetch validators.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "stories",
        sa.Column("seq", seq, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("url", sa.Text, nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("region", sa.String(32), nullable=True),
        sa.Column("published_at", UTCDateTime, nullable=True),
        sa.Column("sort_at", UTCDateTime, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("search_text", sa.Text, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("ingested_at", UTCDateTime, nullable=False),
        sa.Column("changed_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_stories"),
        sa.UniqueConstraint("id", name="uq_stories_id"),
    )
    op.create_index("ix_stories_region_sort_at", "stories", ["region", "sort_at"])
    op.create_index("ix_stories_sort_at", "stories", ["sort_at"])
    op.create_index("ix_stories_url", "stories", ["url"])
    op.create_table(
        "fetch_validators",
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("etag", sa.Text, nullable=True),
        sa.Column("last_modified", sa.Text, nullable=True),
        sa.Column("seen_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("url", name="pk_fetch_validators"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE stories ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
            "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
            "setweight(to_tsvector('english', coalesce(search_text, '')), 'B')) STORED"
        )
        op.execute("CREATE INDEX ix_stories_search_vector ON stories USING gin (search_vector)")
    else:
        op.execute(
            "CREATE VIRTUAL TABLE stories_fts USING fts5("
            "title, body, tokenize = 'porter unicode61 remove_diacritics 2')"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TABLE stories_fts")
    op.drop_table("fetch_validators")
    op.drop_table("stories")
