"""The pooled PostgreSQL connections are released without asyncpg's reset round trip: nothing leaks."""

from __future__ import annotations

import asyncpg
import pytest
from tortoise.connection import get_connection
from tortoise.context import TortoiseContext
from tortoise.transactions import in_transaction

from registry import sql
from registry.db import PooledConnection, tortoise_config
from registry.sql import for_sqlite

LOCK_KEY = 724_311


def test_postgres_connections_skip_the_reset_statement() -> None:
    credentials = tortoise_config("postgres://u@127.0.0.1:5432/x")["connections"]["default"]["credentials"]
    assert credentials["connection_class"] is PooledConnection
    assert tortoise_config("sqlite://:memory:")["connections"]["default"]["engine"] == "tortoise.backends.sqlite"


@pytest.mark.asyncio
async def _lock_is_free(database_url: str) -> bool:
    """Asked on a connection of its own: a lock still held by any pooled connection shows here."""
    conn = await asyncpg.connect("postgresql://" + database_url.split("://", 1)[1])
    try:
        return bool(await conn.fetchval("SELECT pg_try_advisory_lock($1) AND pg_advisory_unlock($1)", LOCK_KEY))
    finally:
        await conn.close()


async def test_transaction_scoped_state_ends_with_the_transaction(db: TortoiseContext, database_url: str) -> None:
    if get_connection("default").capabilities.dialect != "postgres":
        pytest.skip("advisory locks and SET LOCAL are PostgreSQL's")
    async with in_transaction() as conn:
        await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [LOCK_KEY])
        await conn.execute_script("SET LOCAL max_parallel_workers_per_gather = 0")
    assert await _lock_is_free(database_url)
    # Every pooled connection, reused now without a reset, kept no setting.
    for _ in range(12):
        _, rows = await get_connection("default").execute_query(
            "SELECT current_setting('max_parallel_workers_per_gather') AS w", []
        )
        assert rows[0]["w"] != "0"


@pytest.mark.asyncio
async def test_an_open_transaction_is_still_rolled_back_on_release(db: TortoiseContext, database_url: str) -> None:
    if get_connection("default").capabilities.dialect != "postgres":
        pytest.skip("PostgreSQL pool behaviour")
    client = get_connection("default")
    async with client.acquire_connection() as raw:
        await raw.execute("BEGIN")
        await raw.execute("SELECT pg_advisory_xact_lock($1)", LOCK_KEY)
        assert not await _lock_is_free(database_url)
    assert await _lock_is_free(database_url)


async def test_postgres_statements_keep_their_generic_plans(db: TortoiseContext) -> None:
    # registry.db.SERVER_SETTINGS: on the ORM's connections, the lane's and in transactions alike.
    if get_connection("default").capabilities.dialect != "postgres":
        pytest.skip("plan caching is PostgreSQL's")
    show = "SELECT current_setting('plan_cache_mode') AS m"
    assert (await get_connection("default").execute_query_dict(show))[0]["m"] == "force_generic_plan"
    for _ in range(3):
        assert (await sql.fetch(show, []))[0]["m"] == "force_generic_plan"
    async with in_transaction():
        assert (await sql.fetch(show, []))[0]["m"] == "force_generic_plan"


def test_statements_are_rewritten_for_sqlite() -> None:
    assert for_sqlite("SELECT $1, $2 WHERE x = $3", [1, 2, 3]) == ("SELECT ?, ? WHERE x = ?", [1, 2, 3])
    assert for_sqlite("SELECT $2 WHERE a = $1 OR b = $2", [1, 2]) == ("SELECT ? WHERE a = ? OR b = ?", [2, 1, 2])
    assert for_sqlite("SELECT a WHERE b = ANY($1) AND c = $2", [("x", "y"), 3]) == (
        "SELECT a WHERE b IN (?, ?) AND c = ?",
        ["x", "y", 3],
    )
    assert for_sqlite("SELECT a WHERE b = ANY($1)", [[]]) == ("SELECT a WHERE b IN (NULL)", [])
    with pytest.raises(ValueError, match="values were given"):
        for_sqlite("SELECT $3", [1, 2])
