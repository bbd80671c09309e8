"""Plain statements on the current connection, for the hot paths where building ORM queries costs more
than running them (scripts/bench.py eligibility and register).

Statements are written for PostgreSQL with $1, $2, ... (a parameter may appear more than once), lists as
`= ANY($n)`; SQLite gets `?` and `IN (?, ...)` in their place, a value for each appearance.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import asyncpg
from tortoise.backends.asyncpg.client import TransactionWrapper
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.connection import get_connection

from registry.pg import LaneClient, fetch_in_transaction, raise_translated

_PARAMETER = re.compile(r"= ANY\(\$(\d+)\)|\$(\d+)")


def for_sqlite(sql: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    flat: list[Any] = []

    def placeholder(match: re.Match[str]) -> str:
        number = int(match[1] or match[2])
        if not 1 <= number <= len(values):
            raise ValueError(f"the statement names ${number}, but {len(values)} values were given")
        value = values[number - 1]
        if match[1] is None:
            flat.append(value)
            return "?"
        items = list(value)
        flat.extend(items)
        return f"IN ({', '.join('?' * len(items))})" if items else "IN (NULL)"  # an empty list matches nothing

    return _PARAMETER.sub(placeholder, sql), flat


async def fetch(sql: str, values: Sequence[Any]) -> list[dict[str, Any]]:
    """The rows of a statement; joins the current transaction, if any."""
    connection = get_connection("default")
    if type(connection) is LaneClient:  # not in a transaction (that is a TransactionWrapper)
        return await connection.fetch_plain(sql, values)
    if type(connection) is TransactionWrapper:  # PostgreSQL's
        return await fetch_in_transaction(connection, sql, values)
    if connection.capabilities.dialect == "postgres":
        return await connection.execute_query_dict(sql, list(values))
    return await connection.execute_query_dict(*for_sqlite(sql, values))


async def copy_records(
    conn: BaseDBAsyncClient, table: str, columns: Sequence[str], records: Sequence[tuple[Any, ...]]
) -> None:
    """Binary COPY of row tuples into `table` on a PostgreSQL connection (the caller's transaction).

    For bulk inserts: asyncpg checks every element of an array parameter against three abstract base
    classes, so an `unnest` of 1,000 rows cost five times as much to encode as COPY (scripts/bench.py import).
    """
    async with conn.acquire_connection() as raw:
        try:
            await raw.copy_records_to_table(table, records=records, columns=list(columns))
        except asyncpg.PostgresError as exc:
            raise_translated(exc)
