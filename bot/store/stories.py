"""The story repository: save (deduplicated by id), look up, list and full-text search."""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Literal

from sqlalchemy import Row, TextClause, and_, bindparam, case, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.clock import Clock
from bot.domain import Story, Validators, canonical_url, looks_like_story_id, story_id_for_url
from bot.metrics import INGESTED
from bot.store.db import reading, write
from bot.store.tables import UTCDateTime, fetch_validators, stories

SaveOutcome = Literal["new", "updated", "unchanged"]
# Search ranks the most recent matches: this many, those with the words in the headline first.
RANK_WINDOW = 100
LATE_ARRIVAL_WINDOW = timedelta(hours=24)
_WORD = re.compile(r"\w+", re.UNICODE)


class EmptySearch(ValueError):
    """A search with no words to look for."""


@dataclass(frozen=True)
class SearchQuery:
    words: tuple[str, ...]
    regions: frozenset[str] | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 10

    @classmethod
    def parse(cls, text_: str, **filters: object) -> SearchQuery:
        words = tuple(w.lower() for w in _WORD.findall(text_))
        if not words:
            raise EmptySearch("give at least one word to search for")
        return cls(words=words, **filters)  # type: ignore[arg-type]


def search_text(story: Story) -> str:
    """The text full-text search indexes besides the title: news, sections, insights, outlets."""
    parts: list[str] = [*story.news]
    for paragraphs in story.sections.values():
        parts.extend(paragraphs)
    for insight in story.insights:
        parts.extend((insight.title, insight.body, " ".join(insight.sources)))
    parts.extend(story.insights_from)
    parts.extend(story.verticals)
    return "\n".join(parts)


def _hash(data: str) -> str:
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


# Stories read back, by their stored JSON: the newest are read again and again (every
# ``latest``, every push), and parsing one costs more than its query. A story changed in the
# database is other JSON, so it is parsed afresh.
PARSED_KEPT = 4096


# The lookups every command makes, built once: SQLAlchemy then reuses their compiled form
# without building and keying a statement each time.
_c = stories.c
_BY_ID = select(_c.data).where(_c.id == bindparam("id"))
_CHANGED = case((_c.changed_at > _c.ingested_at, _c.changed_at)).label("changed")
_WITH_CHANGE_BY_ID = select(_c.data, _CHANGED).where(_c.id == bindparam("id"))
_LATEST = select(_c.data).order_by(_c.sort_at.desc(), _c.seq.desc()).limit(bindparam("limit"))
_LATEST_IN = _LATEST.where(_c.region.in_(bindparam("regions", expanding=True)))
# by link: the id the link gives, else any story stored under the same canonical URL
_WITH_CHANGE_BY_LINK = (
    select(_c.data, _CHANGED)
    .where(or_(_c.id == bindparam("id"), _c.url == bindparam("url")))
    .order_by((_c.id == bindparam("id")).desc())
    .limit(1)
)


def _search_statement(sql: str, query: SearchQuery) -> TextClause:
    """The SQL with its time filters bound as aware datetimes (stored as UTC): one statement
    object for each shape of search, which SQLAlchemy keys once."""
    return _text_with_times(sql, query.since is not None, query.until is not None)


@lru_cache(maxsize=256)
def _text_with_times(sql: str, since: bool, until: bool) -> TextClause:
    stmt = text(sql)
    if since:
        stmt = stmt.bindparams(bindparam("since", type_=UTCDateTime))
    if until:
        stmt = stmt.bindparams(bindparam("until", type_=UTCDateTime))
    return stmt


class StoryStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._parsed: OrderedDict[str, Story] = OrderedDict()

    def _story(self, data: str) -> Story:
        """The story stored as ``data``: parsed once while it is read often. Stories read
        back are shared: nothing may change them (a story changes by saving a new one)."""
        parsed = self._parsed.get(data)
        if parsed is not None:
            self._parsed.move_to_end(data)
            return parsed
        parsed = self._parsed[data] = Story.model_validate_json(data)
        if len(self._parsed) > PARSED_KEPT:
            self._parsed.popitem(last=False)
        return parsed

    async def save(self, story: Story, *, now: datetime) -> SaveOutcome:
        """Insert a new story or update a changed one; the same story twice is stored once."""
        data = story.model_dump_json()
        digest = _hash(data)

        async def store(conn: AsyncConnection) -> SaveOutcome:
            return await self._save(conn, story, data, digest, now)

        # a concurrent insert of the same story: the next run finds it and compares
        outcome = await write(self.engine, store, retry_conflicts=True)
        INGESTED.labels(outcome).inc()
        return outcome

    async def _save(
        self, conn: AsyncConnection, story: Story, data: str, digest: str, now: datetime
    ) -> SaveOutcome:
        existing = (
            await conn.execute(
                select(stories.c.seq, stories.c.content_hash, stories.c.sort_at).where(
                    stories.c.id == story.id
                )
            )
        ).first()
        values = {
            "url": story.url,
            "kind": story.kind,
            "title": story.title,
            "region": story.region,
            "published_at": story.published_at,
            "content_hash": digest,
            "search_text": search_text(story),
            "data": data,
            "changed_at": now,
        }
        if existing is None:
            result = await conn.execute(
                stories.insert().values(
                    id=story.id, sort_at=story.published_at or now, ingested_at=now, **values
                )
            )
            seq = result.inserted_primary_key[0] if result.inserted_primary_key else None
            if seq is None:
                seq = (
                    await conn.execute(select(stories.c.seq).where(stories.c.id == story.id))
                ).scalar_one()
            await self._index(conn, int(seq), story, values["search_text"], new=True)
            return "new"
        if existing.content_hash == digest:
            return "unchanged"
        await conn.execute(
            stories.update()
            .where(stories.c.seq == existing.seq)
            .values(sort_at=story.published_at or existing.sort_at, **values)
        )
        await self._index(conn, int(existing.seq), story, values["search_text"], new=False)
        return "updated"

    async def _index(
        self, conn: AsyncConnection, seq: int, story: Story, body: object, *, new: bool
    ) -> None:
        if self._postgres:
            return  # the tsvector column is generated by PostgreSQL itself
        if not new:
            await conn.execute(text("DELETE FROM stories_fts WHERE rowid = :seq"), {"seq": seq})
        await conn.execute(
            text("INSERT INTO stories_fts (rowid, title, body) VALUES (:seq, :title, :body)"),
            {"seq": seq, "title": story.title, "body": body},
        )

    async def get(self, story_id: str) -> Story | None:
        async with reading(self.engine) as conn:
            data = (await conn.execute(_BY_ID, {"id": story_id})).scalar_one_or_none()
        return self._story(data) if data is not None else None

    async def find(self, id_or_url: str) -> Story | None:
        """A story by its short id, or by any spelling of its URL."""
        found = await self.find_with_change(id_or_url)
        return found[0] if found is not None else None

    async def find_with_change(self, id_or_url: str) -> tuple[Story, datetime | None] | None:
        """A story by its short id or any spelling of its URL (one query), with when it last
        changed after it was first stored (None if it never did)."""
        key = id_or_url.strip()
        if key.startswith(("http://", "https://")):
            try:
                params = {"id": story_id_for_url(key), "url": canonical_url(key)}
            except ValueError:  # not a well-formed link ("http://[x"): no story has it
                return None
            query = _WITH_CHANGE_BY_LINK
        elif looks_like_story_id(key.lower()):
            query, params = _WITH_CHANGE_BY_ID, {"id": key.lower()}
        else:
            return None
        async with reading(self.engine) as conn:
            row = (await conn.execute(query, params)).first()
        return (self._story(row.data), row.changed) if row is not None else None

    async def latest(
        self,
        *,
        regions: Collection[str] | None = None,
        since: datetime | None = None,
        limit: int = 10,
    ) -> list[Story]:
        """The newest stories, optionally only these regions and since a time."""
        query = _LATEST if regions is None else _LATEST_IN
        params: dict[str, object] = {"limit": limit}
        if regions is not None:
            params["regions"] = sorted(regions)
        if since is not None:
            query = query.where(stories.c.sort_at >= since)
        async with reading(self.engine) as conn:
            rows = (await conn.execute(query, params)).scalars().all()
        return [self._story(data) for data in rows]

    async def for_digest(
        self, regions: Collection[str], *, since: datetime, limit: int = 200
    ) -> list[Story]:
        """Stories a push since ``since`` should consider, oldest first.

        Those published since then, and those published up to a day earlier that only arrived
        since then (a page ingested late is not lost between two pushes).
        """
        c = stories.c
        late = and_(c.ingested_at >= since, c.sort_at >= since - LATE_ARRIVAL_WINDOW)
        query = (
            select(c.data)
            .where(c.region.in_(sorted(regions)), or_(c.sort_at >= since, late))
            .order_by(c.sort_at.desc(), c.seq.desc())
            .limit(limit)
        )
        async with reading(self.engine) as conn:
            rows = (await conn.execute(query)).scalars().all()
        return [self._story(data) for data in reversed(rows)]

    async def ingested_since(
        self, since: datetime, *, limit: int = 500
    ) -> tuple[list[Story], datetime | None]:
        """Stories first stored after ``since`` (oldest first) and the newest such time."""
        c = stories.c
        query = (
            select(c.data, c.ingested_at)
            .where(c.ingested_at > since)
            .order_by(c.ingested_at)
            .limit(limit)
        )
        async with reading(self.engine) as conn:
            rows = (await conn.execute(query)).all()
        if not rows:
            return [], None
        return [self._story(r.data) for r in rows], rows[-1].ingested_at

    async def changed_since(
        self, since: datetime, *, after: str = "", limit: int = 1000
    ) -> list[tuple[str, datetime]]:
        """Stories stored before and changed after ``(since, after)``, in the order of
        (change time, id): each one's id and when it changed. Pass the last one's time and id
        for the next page."""
        c = stories.c
        # the range first, on its own, so the index on changed_at bounds the scan
        later = and_(c.changed_at >= since, or_(c.changed_at > since, c.id > after))
        query = (
            select(c.id, c.changed_at)
            .where(later, c.changed_at > c.ingested_at)
            .order_by(c.changed_at, c.id)
            .limit(limit)
        )
        async with reading(self.engine) as conn:
            return [(r.id, r.changed_at) for r in await conn.execute(query)]

    async def with_changes(self, story_ids: Collection[str]) -> dict[str, tuple[Story, datetime]]:
        """These stories by id (those the store has), each with when it last changed."""
        if not story_ids:
            return {}
        c = stories.c
        query = select(c.id, c.data, c.changed_at).where(c.id.in_(sorted(set(story_ids))))
        async with reading(self.engine) as conn:
            rows = (await conn.execute(query)).all()
        return {r.id: (self._story(r.data), r.changed_at) for r in rows}

    async def search(self, query: SearchQuery) -> list[Story]:
        """Stories matching every word (stemmed: "elect" finds "elections").

        Of the most recent matches, those with more of the words in their headline come
        first, then the newest: what a reader of news expects, and a common word costs no
        more than a rare one (no statistics over every match, as bm25 and ts_rank need).
        """
        async with reading(self.engine) as conn:
            if self._postgres:
                rows = await self._search_postgres(conn, query)
            else:
                rows = await self._search_sqlite(conn, query)
        return [self._story(row.data) for row in rows]

    @staticmethod
    def _filters(query: SearchQuery, params: dict[str, object]) -> str:
        clauses: list[str] = []
        if query.regions is not None:
            names = []
            for i, region in enumerate(sorted(query.regions)):
                params[f"r{i}"] = region
                names.append(f":r{i}")
            clauses.append(f"s.region IN ({', '.join(names) or 'NULL'})")
        if query.since is not None:
            params["since"] = query.since
            clauses.append("s.sort_at >= :since")
        if query.until is not None:
            params["until"] = query.until
            clauses.append("s.sort_at < :until")
        return "".join(f" AND {c}" for c in clauses)

    async def _search_sqlite(
        self, conn: AsyncConnection, query: SearchQuery
    ) -> Iterable[Row[tuple[str]]]:
        params: dict[str, object] = {"match": " ".join(f'"{w}"' for w in query.words)}
        params.update(limit=query.limit, window=RANK_WINDOW)
        # FTS5 walks the matches newest first and stops after the window. A word counts for
        # a hit if FTS5 finds it in that hit's headline (column "title"), looking only as far
        # back as the window reaches.
        in_headline = []
        for i, word in enumerate(query.words):
            params[f"h{i}"] = f'title : "{word}"'
            in_headline.append(
                f"(hits.seq IN (SELECT rowid FROM stories_fts WHERE stories_fts MATCH :h{i} "
                "AND rowid >= (SELECT min(seq) FROM hits)))"
            )
        sql = (
            "WITH hits AS (SELECT stories_fts.rowid AS seq, s.sort_at AS sort_at "
            "FROM stories_fts JOIN stories s ON s.seq = stories_fts.rowid "
            "WHERE stories_fts MATCH :match"
            + self._filters(query, params)
            + " ORDER BY stories_fts.rowid DESC LIMIT :window) "
            "SELECT s.data FROM hits JOIN stories s ON s.seq = hits.seq "
            f"ORDER BY {' + '.join(in_headline)} DESC, hits.sort_at DESC LIMIT :limit"
        )
        return (await conn.execute(_search_statement(sql, query), params)).all()

    async def _search_postgres(
        self, conn: AsyncConnection, query: SearchQuery
    ) -> Iterable[Row[tuple[str]]]:
        terms = [re.sub(r"[^\w]", "", w) for w in query.words]
        terms = [t for t in terms if t]
        params: dict[str, object] = {"q": " & ".join(terms), "limit": query.limit}
        params["window"] = RANK_WINDOW
        # The headline's words carry weight A in the search vector: each word found there
        # counts one.
        in_headline = []
        for i, term in enumerate(terms):
            params[f"h{i}"] = f"{term}:A"
            in_headline.append(f"(s.search_vector @@ to_tsquery('english', :h{i}))::int")
        sql = (
            f"SELECT s.data FROM (SELECT s.seq, s.sort_at, {' + '.join(in_headline)} AS score "
            "FROM stories s WHERE s.search_vector @@ to_tsquery('english', :q)"
            + self._filters(query, params)
            + " ORDER BY s.seq DESC LIMIT :window) AS hits JOIN stories s ON s.seq = hits.seq "
            "ORDER BY hits.score DESC, hits.sort_at DESC LIMIT :limit"
        )
        return (await conn.execute(_search_statement(sql, query), params)).all()

    async def count(self) -> int:
        async with reading(self.engine) as conn:
            return int((await conn.execute(select(func.count()).select_from(stories))).scalar_one())


class ValidatorStore:
    """ETag/Last-Modified validators in the database, so conditional GETs survive restarts."""

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    async def validators(self, url: str) -> Validators | None:
        async with reading(self.engine) as conn:
            row = (
                await conn.execute(
                    select(fetch_validators.c.etag, fetch_validators.c.last_modified).where(
                        fetch_validators.c.url == url
                    )
                )
            ).first()
        return Validators(etag=row.etag, last_modified=row.last_modified) if row else None

    async def remember(self, url: str, validators: Validators) -> None:
        async def store(conn: AsyncConnection) -> None:
            await conn.execute(fetch_validators.delete().where(fetch_validators.c.url == url))
            if validators.etag or validators.last_modified:
                await conn.execute(
                    fetch_validators.insert().values(
                        url=url,
                        etag=validators.etag,
                        last_modified=validators.last_modified,
                        seen_at=self.clock.now(),
                    )
                )

        # two fetches of one URL at once: the loser's insert meets the winner's row
        await write(self.engine, store, retry_conflicts=True)
