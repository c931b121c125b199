"""What sent messages show, kept once however many messages show it.

A digest goes to thousands of channels alike: its record (see :func:`bot.render.model.shown`)
is stored once, by a key made from it, in ``message_contents``; each message names its key
(``sends.content_key``), and ``content_stories`` says which stories each content shows, so
the messages to edit when a story changes are found without indexing every delivery.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.rows import JsonRows


def content_key(content: str) -> str:
    """The key a message's record is stored under (the same record, the same key)."""
    return hashlib.blake2b(content.encode(), digest_size=16).hexdigest()


def keyed(contents: Iterable[str]) -> dict[str, str]:
    """Each distinct record's key, by record (one hash a record, however often it comes)."""
    keys: dict[str, str] = {}
    for content in contents:
        if content not in keys:
            keys[content] = content_key(content)
    return keys


async def store_contents(conn: AsyncConnection, rows: JsonRows, keys: Mapping[str, str]) -> None:
    """Store these records (by record, their keys) and the stories each shows, unless
    stored already.

    Rows go in in the order of their keys (``ORDER BY``): processes storing the same records
    at once then wait for each other, never deadlock (each holding a key the other's next
    insert wants)."""
    if not keys:
        return
    packed = json.dumps(
        [[key, content, [card[0] for card in json.loads(content)["cards"]]]
         for content, key in keys.items()],
        ensure_ascii=False, separators=(",", ":"),
    )  # fmt: skip
    table = rows.table("contents", "c", content_key="text", content="text", stories="json")
    await conn.execute(
        text(
            f"INSERT INTO message_contents (content_key, content) SELECT c.content_key, c.content"
            f" FROM {table}"
            " WHERE true ORDER BY c.content_key ON CONFLICT (content_key) DO NOTHING"
        ),
        {"contents": packed},
    )
    await conn.execute(
        text(
            "INSERT INTO content_stories (story_id, content_key)"
            f" SELECT DISTINCT {rows.element('s', 'text')}, c.content_key FROM {table}"
            f" CROSS JOIN {rows.strings('c.stories', 's')}"
            " WHERE true ORDER BY 1, 2 ON CONFLICT (story_id, content_key) DO NOTHING"
        ),
        {"contents": packed},
    )


async def forget_unshown(conn: AsyncConnection) -> int:
    """Delete the records no message names any more (its messages pruned, forgotten or
    deleted by someone); how many went."""
    await conn.execute(
        text(
            "DELETE FROM content_stories WHERE NOT EXISTS (SELECT 1 FROM sends AS o"
            " WHERE o.content_key = content_stories.content_key)"
        )
    )
    gone = await conn.execute(
        text(
            "DELETE FROM message_contents WHERE NOT EXISTS (SELECT 1 FROM sends AS o"
            " WHERE o.content_key = message_contents.content_key)"
        )
    )
    return gone.rowcount
