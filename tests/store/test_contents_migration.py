"""Migration 0012 moves what each sent message shows out of its row into one record a
content: the messages keep what they show, and the way back restores it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import Connection, bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store import db
from bot.store.contents import content_key
from bot.store.tables import UTCDateTime

DIGEST = json.dumps({"digest": ["europe", "2026-11-30", "/signals latest europe"],
                     "cards": [["aaaaaaaa", "v1", None], ["bbbbbbbb", "v2", None]]})  # fmt: skip
AT = datetime(2026, 11, 30, tzinfo=UTC)
ALERT = json.dumps({"cards": [["bbbbbbbb", "v2", None]]})


async def _migrate(engine: AsyncEngine, how: str, revision: str) -> None:
    def run(connection: Connection) -> None:
        getattr(command, how)(db.alembic_config(connection), revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def test_each_message_keeps_what_it_shows_both_ways(blank: AsyncEngine) -> None:
    await _migrate(blank, "upgrade", "0011")
    rows = [(1, "C1", DIGEST), (2, "C2", DIGEST), (3, "C3", ALERT), (4, "C4", None)]
    insert = text(
        "INSERT INTO sends (id, platform, workspace, channel, subscription_id, state,"
        " reserved_by, number, message_id, at, content) VALUES"
        " (:n, 'slack', 'T1', :c, NULL, 'sent', 'tok', :n, :m, :at, :content)"
    ).bindparams(bindparam("at", type_=UTCDateTime))
    async with blank.begin() as conn:
        for n, channel, content in rows:
            await conn.execute(insert, {"n": n, "c": channel, "m": f"m{n}", "content": content,
                                        "at": AT})  # fmt: skip
    await _migrate(blank, "upgrade", "0012")
    async with blank.connect() as conn:
        keys = dict((await conn.execute(text("SELECT id, content_key FROM sends"))).all())
        records = dict((await conn.execute(
            text("SELECT content_key, content FROM message_contents"))).all())  # fmt: skip
        shows = set((await conn.execute(
            text("SELECT story_id, content_key FROM content_stories"))).all())  # fmt: skip
    assert keys == {1: content_key(DIGEST), 2: content_key(DIGEST), 3: content_key(ALERT), 4: None}
    assert records == {content_key(DIGEST): DIGEST, content_key(ALERT): ALERT}  # once each
    assert shows == {("aaaaaaaa", content_key(DIGEST)), ("bbbbbbbb", content_key(DIGEST)),
                     ("bbbbbbbb", content_key(ALERT))}  # fmt: skip
    await _migrate(blank, "downgrade", "0011")
    async with blank.connect() as conn:
        back = dict((await conn.execute(text("SELECT id, content FROM sends"))).all())
    assert back == {n: content for n, _, content in rows}
