"""Plain statements on the current connection, for the hot paths where building ORM queries costs more
than running them (scripts/bench.py eligibility and register)."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from tortoise.connection import get_connection

_NUMBERED = re.compile(r"\$\d+")


@cache
def _for_sqlite(sql: str) -> str:
    if [int(m[1:]) for m in _NUMBERED.findall(sql)] != list(range(1, len(_NUMBERED.findall(sql)) + 1)):
        raise ValueError("SQLite takes positional parameters: number them $1, $2, ... in order of appearance")
    return _NUMBERED.sub("?", sql)


async def fetch(sql: str, values: list[Any]) -> list[dict[str, Any]]:
    """Rows of a statement written for PostgreSQL with $1, $2, ... in order; joins the current transaction."""
    connection = get_connection("default")
    if connection.capabilities.dialect != "postgres":
        sql = _for_sqlite(sql)
    return await connection.execute_query_dict(sql, values)
