"""Many rows passed to SQL as one JSON parameter, read back as a table, on SQLite and
PostgreSQL alike."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import BindParameter, bindparam

from bot.store.tables import UTCDateTime


class JsonRows:
    """Many rows passed to SQL as one parameter, a JSON array of arrays, read back as a table.

    Thousands of rows cost one parameter and no per-row work in Python, where an executemany
    spends most of its time binding parameters row by row.
    """

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres

    def table(self, param: str, alias: str, **columns: str) -> str:
        """A FROM item: ``alias`` with one column per keyword, in array order; a column's
        type is an SQL type, or ``json`` for a nested array (see :meth:`strings`)."""
        fields = []
        for index, (name, sql_type) in enumerate(columns.items()):
            if sql_type == "json":
                fields.append(f"r.value -> {index} AS {name}")
            elif self.postgres:
                fields.append(f"CAST(r.value ->> {index} AS {sql_type}) AS {name}")
            else:  # SQLite: ->> gives the value with its own type, as the column stores it
                fields.append(f"r.value ->> {index} AS {name}")
        if self.postgres:
            source, limit = f"jsonb_array_elements(CAST(:{param} AS jsonb)) AS r", ""
        else:
            # LIMIT -1 keeps SQLite from flattening the rows into a join (it would then scan
            # the JSON once per row of the other table): they are read once, then joined.
            source, limit = f"json_each(:{param}) AS r", " LIMIT -1"
        return f"(SELECT {', '.join(fields)} FROM {source}{limit}) AS {alias}"

    def values(self, param: str, alias: str, sql_type: str) -> str:
        """A FROM item: ``alias.value`` for each item of a flat JSON array parameter (ids)."""
        if self.postgres:
            return (
                f"(SELECT CAST(r.value AS {sql_type}) AS value"
                f" FROM jsonb_array_elements_text(CAST(:{param} AS jsonb)) AS r(value)) AS {alias}"
            )
        return f"(SELECT r.value AS value FROM json_each(:{param}) AS r LIMIT -1) AS {alias}"

    def each(self, array: str, alias: str) -> str:
        """A FROM item: ``alias.value`` for each item of a JSON array column, as JSON (see
        :meth:`field`)."""
        if self.postgres:
            return f"jsonb_array_elements({array}) AS {alias}(value)"
        return f"json_each({array}) AS {alias}"

    def field(self, alias: str, index: int, sql_type: str) -> str:
        """Item ``index`` of the array ``alias.value`` (see :meth:`each`), as ``sql_type``."""
        if self.postgres and sql_type != "text":
            return f"CAST({alias}.value ->> {index} AS {sql_type})"
        return f"{alias}.value ->> {index}"

    def time(self, value: datetime | None) -> int | str | None:
        """A time as a JSON value for a ``timestamptz`` column (see :class:`UTCDateTime`)."""
        if value is None:
            return None
        return value.isoformat() if self.postgres else UTCDateTime.to_sqlite(value)

    def element(self, alias: str, sql_type: str) -> str:
        """The value of an item of :meth:`strings`, as ``sql_type``."""
        return f"CAST({alias}.value AS {sql_type})" if self.postgres else f"{alias}.value"

    def strings(self, array: str, alias: str) -> str:
        """A FROM item: ``alias.value`` for each item of a JSON array column (as text on
        PostgreSQL: see :meth:`element`)."""
        if self.postgres:
            return f"jsonb_array_elements_text({array}) AS {alias}(value)"
        return f"json_each({array}) AS {alias}"


# A process's token: what its claims and reservations begin with (a scan's reservation is the
# process's token and one of its own), so a dead process's work is known by it.
TOKEN_LENGTH = 16


def new_token() -> str:
    """A fresh token, for a process or for one reservation."""
    return uuid.uuid4().hex[:TOKEN_LENGTH]


def held_by_dead(column: str, dead: Collection[str]) -> tuple[str, list[BindParameter[str]]]:
    """SQL true where ``column`` (a claim or reservation) begins with the token of one of the
    processes ``dead``, and its values to bind; ``("false", [])`` for none."""
    tokens = sorted(t for t in dead if len(t) == TOKEN_LENGTH)
    if not tokens:
        return "false", []
    names = ", ".join(f":dead{i}" for i in range(len(tokens)))
    return (
        f"substr({column}, 1, {TOKEN_LENGTH}) IN ({names})",
        [bindparam(f"dead{i}", token) for i, token in enumerate(tokens)],
    )
