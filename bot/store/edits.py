"""The queue of sent messages to edit because a story they show changed: planned from the
ledger, claimed by one process at a time, finished with what the message shows since."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.domain import ChannelRef
from bot.store.contents import keyed, store_contents
from bot.store.db import write
from bot.store.rows import JsonRows, held_by_dead
from bot.store.tables import UTCDateTime


class EditJob(NamedTuple):
    """A claimed edit: the message (as the ledger has it) and the change it was planned for."""

    send_id: int
    planned_at: datetime  # when the latest change planned for it was made, as claimed
    tries: int  # how many times it was tried and put off
    channel: ChannelRef
    state: str  # "sent" (only sent messages are planned), "" once the ledger forgot it
    message_id: str | None
    content: str | None  # what it shows (see ``bot.render.model.shown``)
    sent_at: datetime
    timezone: str | None  # its subscription's, if it still has one


class EditQueue:
    """Messages to edit (``message_edits``), one row a message however many of its stories
    changed: planning the same message again only notes the later change.

    A claim is a process's for ``stale_before`` (its lease), or until its process is known
    dead; an edit is finished by deleting its row, unless a change was planned for it while
    it was being made (then it is due again, and the next edit shows that change too).
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._json = JsonRows(engine.dialect.name == "postgresql")

    async def plan(
        self,
        story_ids: Collection[str],
        *,
        changed_at: datetime,
        sent_since: datetime,
        due: datetime,
    ) -> int:
        """Queue an edit of every message that shows one of these stories (changed at
        ``changed_at``, the latest of them) and was sent since ``sent_since``, due at
        ``due``: an edit already queued keeps its time, and notes this change; how many
        messages that is."""
        if not story_ids:
            return 0
        stories = self._json.values("stories", "s", "text")
        statement = text(
            "INSERT INTO message_edits (send_id, due_at, planned_at, tries)"
            " SELECT DISTINCT o.id, :due, :changed, 0"
            f" FROM {stories} JOIN content_stories AS c ON c.story_id = s.value"
            " JOIN sends AS o ON o.content_key = c.content_key"
            " WHERE o.at >= :since"
            " ON CONFLICT (send_id) DO UPDATE SET planned_at = excluded.planned_at"
        ).bindparams(
            bindparam("due", due, UTCDateTime),
            bindparam("changed", changed_at, UTCDateTime),
            bindparam("since", sent_since, UTCDateTime),
            bindparam("stories", json.dumps(sorted(set(story_ids)))),
        )

        async def queue(conn: AsyncConnection) -> int:
            return (await conn.execute(statement)).rowcount

        return await write(self.engine, queue)

    async def claim(
        self,
        token: str,
        *,
        now: datetime,
        stale_before: datetime,
        dead: Collection[str] = frozenset(),
        platforms: Collection[str],
        limit: int = 1000,
    ) -> list[EditJob]:
        """Take up to ``limit`` due edits of messages on these platforms that no live process
        holds, the longest due first, with what each needs to be made."""
        if not platforms:
            return []
        names = sorted(platforms)
        of_dead, dead_values = held_by_dead("e.claimed_by", dead)
        free = f"(e.claimed_by IS NULL OR e.claimed_at < :stale OR {of_dead})"
        skip = " FOR UPDATE OF e SKIP LOCKED" if self._json.postgres else ""
        platform_list = ", ".join(f":platform{i}" for i in range(len(names)))
        chosen = (
            "SELECT e.send_id FROM message_edits AS e LEFT JOIN sends AS o ON o.id = e.send_id"
            f" WHERE e.due_at <= :now AND {free}"
            f" AND (o.platform IN ({platform_list}) OR o.id IS NULL)"
            f" ORDER BY e.due_at, e.send_id LIMIT :limit{skip}"
        )
        # the condition again outside: on PostgreSQL a row another process claimed meanwhile
        # is checked anew once its lock is released, and skipped
        claim = text(
            "UPDATE message_edits SET claimed_by = :token, claimed_at = :now"
            f" WHERE send_id IN ({chosen}) AND {free.replace('e.', 'message_edits.')}"
            " RETURNING send_id"
        ).bindparams(
            bindparam("now", now, UTCDateTime),
            bindparam("stale", stale_before, UTCDateTime),
            bindparam("limit", limit),
            bindparam("token", token),
            *dead_values,
            *(bindparam(f"platform{i}", p) for i, p in enumerate(names)),
        )
        ids = self._json.values("ids", "i", "bigint")
        load = text(
            "SELECT e.send_id, e.planned_at, e.tries, o.platform, o.workspace, o.channel,"
            " o.state, o.message_id, c.content, o.at, u.timezone"
            f" FROM {ids} JOIN message_edits AS e ON e.send_id = i.value"
            " LEFT JOIN sends AS o ON o.id = e.send_id"
            " LEFT JOIN message_contents AS c ON c.content_key = o.content_key"
            " LEFT JOIN subscriptions AS u ON u.id = o.subscription_id"
            " ORDER BY e.due_at, e.send_id"
        ).columns(planned_at=UTCDateTime, at=UTCDateTime)

        async def take(conn: AsyncConnection) -> list[EditJob]:
            taken = [int(i) for i in (await conn.execute(claim)).scalars()]
            if not taken:
                return []
            rows = await conn.execute(load, {"ids": json.dumps(taken)})
            # a message the ledger no longer has (released, pruned) comes with no state
            return [
                EditJob(int(send), planned, int(tries), ChannelRef(p or "", w or "", c or ""),
                        state or "", message, content, at or planned, zone)
                for send, planned, tries, p, w, c, state, message, content, at, zone in rows
            ]  # fmt: skip

        return await write(self.engine, take)

    async def finish(
        self,
        token: str,
        done: Sequence[tuple[EditJob, str | None]],
        later: Sequence[tuple[EditJob, datetime]] = (),
        left: Sequence[EditJob] = (),
    ) -> None:
        """Write back claimed edits: ``done`` were made, each with what its message shows now
        (None: the message is gone, never to be edited again); ``later`` are due again at
        the time given (the platform asked to wait); ``left`` change nothing (the message
        shows the stories as they are, or is too old, or refused for good).

        An edit done or left leaves the queue, unless a change was planned for its message
        after the claim: then it is due again at once, to show that change too."""
        j = self._json
        records = keyed(content for _, content in done if content is not None)
        shows = [[job.send_id, None if content is None else records[content]]
                 for job, content in done]  # fmt: skip

        async def store(conn: AsyncConnection) -> None:
            if done:
                await store_contents(conn, j, records)
                rows = j.table("done", "p", send="bigint", content_key="text")
                await conn.execute(
                    text(
                        "UPDATE sends SET content_key = p.content_key FROM"
                        f" {rows} WHERE sends.id = p.send AND sends.state = 'sent'"
                    ),
                    {"done": json.dumps(shows)},
                )
            finished = [*(job for job, _ in done), *left]
            if finished:
                rows = j.table("finished", "f", send="bigint", planned="text")
                packed = [[job.send_id, j.time(job.planned_at)] for job in finished]
                planned = "CAST(f.planned AS timestamptz)" if j.postgres else "f.planned"
                # uncorrelated: the rows are read once (a correlated form reads them per row)
                await conn.execute(
                    text(
                        "DELETE FROM message_edits WHERE claimed_by = :token"
                        f" AND (send_id, planned_at) IN (SELECT f.send, {planned} FROM {rows})"
                    ),
                    {"finished": json.dumps(packed), "token": token},
                )
            # what is left of them: put off, or changed again while being made
            again = [[job.send_id, j.time(when), job.tries + 1] for job, when in later]
            again += [[job.send_id, j.time(job.planned_at), job.tries] for job in finished]
            if again:
                rows = j.table("again", "a", send="bigint", due="text", tries="bigint")
                due_at = "CAST(a.due AS timestamptz)" if j.postgres else "a.due"
                await conn.execute(
                    text(
                        "UPDATE message_edits SET claimed_by = NULL, claimed_at = NULL,"
                        f" due_at = {due_at}, tries = a.tries FROM {rows}"
                        " WHERE message_edits.send_id = a.send"
                        " AND message_edits.claimed_by = :token"
                    ),
                    {"again": json.dumps(again), "token": token},
                )

        await write(self.engine, store)
