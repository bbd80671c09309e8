"""The lane of held PostgreSQL connections for plain statements (registry/pg.py, registry/sql.fetch)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from tortoise.connection import get_connection
from tortoise.context import TortoiseContext
from tortoise.exceptions import IntegrityError, OperationalError
from tortoise.transactions import in_transaction

from registry import pg, sql
from registry.db import tortoise_config
from registry.pg import LaneClient

PID = "SELECT pg_backend_pid() AS pid"


@pytest.fixture
def lane(db: TortoiseContext) -> LaneClient:
    client = get_connection("default")
    if not isinstance(client, LaneClient):
        pytest.skip("the lane is PostgreSQL's")
    return client


async def _pid() -> int:
    return int((await sql.fetch(PID, []))[0]["pid"])


async def test_plain_statements_reuse_a_held_connection(lane: LaneClient) -> None:
    pids = {await _pid() for _ in range(10)}
    assert len(pids) == 1 and len(lane._lane) == 1


async def test_the_lane_holds_at_most_half_the_pool(lane: LaneClient) -> None:
    await asyncio.gather(*(sql.fetch("SELECT pg_sleep(0.05)", []) for _ in range(lane.pool_maxsize)))
    assert 1 <= len(lane._lane) <= lane.pool_maxsize // 2
    # The ORM still gets every other connection of the pool at once.
    held = [await lane._pool.acquire() for _ in range(lane.pool_maxsize - len(lane._lane))]
    for connection in held:
        await lane._pool.release(connection)


async def test_the_lane_gives_way_when_the_pool_runs_dry(lane: LaneClient) -> None:
    await _pid()  # the pool exists
    held = [await lane._pool.acquire() for _ in range(lane.pool_maxsize - len(lane._lane))]
    try:
        await _pid()  # on the lane's connection, which the pool cannot do without
        assert lane._lane == []
        extra = await asyncio.wait_for(lane._pool.acquire(), 2)  # the ORM gets it at once
        await lane._pool.release(extra)
    finally:
        for connection in held:
            await lane._pool.release(connection)


async def test_in_a_transaction_a_statement_joins_it(lane: LaneClient) -> None:
    setting = "SELECT current_setting('livegate.probe', true) AS v"
    async with in_transaction() as conn:
        await conn.execute_query("SELECT set_config('livegate.probe', 'inside', true)")
        assert (await sql.fetch(setting, []))[0]["v"] == "inside"
    assert (await sql.fetch(setting, []))[0]["v"] in (None, "")


async def test_failures_are_translated_and_lose_no_connection(lane: LaneClient) -> None:
    with pytest.raises(OperationalError):
        await sql.fetch("SELECT 1 / $1::int AS x", [0])
    with pytest.raises(OperationalError):
        await sql.fetch("SELECT * FROM no_such_table", [])
    insert = 'INSERT INTO "person" ("id", "document_index", "created_at") VALUES ($1, $2, now())'
    await sql.fetch(insert, ["psn_lane", "k1:lane"])
    with pytest.raises(IntegrityError):
        await sql.fetch(insert, ["psn_lane", "k1:lane"])
    assert [await _pid() for _ in range(3)]  # the lane and the pool still serve
    assert len(lane._lane) <= lane.pool_maxsize // 2


async def test_a_cancelled_statement_returns_its_connection_to_the_pool(lane: LaneClient) -> None:
    await _pid()
    task = asyncio.create_task(sql.fetch("SELECT pg_sleep(30)", []))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert lane._lane == []  # not kept: the pool resets or discards it
    await asyncio.wait_for(_pid(), 5)  # served at once, by a connection from the pool
    assert len(lane._lane) == 1


async def test_a_held_connection_the_server_closed_is_replaced(lane: LaneClient, database_url: str) -> None:
    held = await _pid()
    admin = await asyncpg.connect("postgresql://" + database_url.split("://", 1)[1])
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", held)
    finally:
        await admin.close()
    for _ in range(50):  # the client notices the closed socket as soon as the loop reads it
        if not pg._open(lane._lane[0]):
            break
        await asyncio.sleep(0.02)
    assert await _pid() != held


async def test_a_transaction_takes_its_connection_from_the_lane_and_leaves_it_there(lane: LaneClient) -> None:
    held = await _pid()
    async with in_transaction():
        assert await _pid() == held and lane._lane == []
        assert (await sql.fetch("SELECT now() = statement_timestamp() AS fresh", []))[0]["fresh"] is False
    assert [c.get_server_pid() for c in lane._lane] == [held]
    assert not lane._lane[0].is_in_transaction()


async def test_a_failed_transaction_rolls_back_and_its_connection_serves_again(lane: LaneClient) -> None:
    insert = 'INSERT INTO "person" ("id", "document_index", "created_at") VALUES ($1, $2, now())'
    with pytest.raises(IntegrityError):
        async with in_transaction():
            await sql.fetch(insert, ["psn_rolled", "k1:rolled"])
            await sql.fetch(insert, ["psn_rolled", "k1:rolled"])  # the transaction is aborted from here
    with pytest.raises(RuntimeError):
        async with in_transaction():
            await sql.fetch(insert, ["psn_rolled", "k1:rolled"])
            raise RuntimeError("the caller changed its mind")
    assert await sql.fetch('SELECT 1 FROM "person" WHERE "id" = $1', ["psn_rolled"]) == []
    assert all(not c.is_in_transaction() for c in lane._lane)


async def test_a_transaction_whose_connection_dies_gives_it_to_the_pool(lane: LaneClient, database_url: str) -> None:
    admin = await asyncpg.connect("postgresql://" + database_url.split("://", 1)[1])
    try:
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError)):
            async with in_transaction():
                assert await admin.fetchval("SELECT pg_terminate_backend($1)", await _pid())
                await asyncio.sleep(0.1)
                await sql.fetch("SELECT 1", [])
    finally:
        await admin.close()
    assert lane._lane == []
    assert await asyncio.wait_for(_pid(), 5)  # a fresh connection from the pool


async def test_a_cancelled_transaction_loses_no_connection(lane: LaneClient) -> None:
    await _pid()

    async def slow() -> None:
        async with in_transaction():
            await sql.fetch("SELECT pg_sleep(30)", [])

    task = asyncio.create_task(slow())
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert all(not c.is_in_transaction() for c in lane._lane)
    await asyncio.wait_for(_pid(), 5)
    free = lane.pool_maxsize - len(lane._lane)
    held = [await asyncio.wait_for(lane._pool.acquire(), 2) for _ in range(free)]  # none was lost
    for connection in held:
        await lane._pool.release(connection)


async def test_nested_transactions_still_roll_back_to_their_savepoint(lane: LaneClient) -> None:
    insert = 'INSERT INTO "person" ("id", "document_index", "created_at") VALUES ($1, $2, now())'
    async with in_transaction():
        await sql.fetch(insert, ["psn_outer", "k1:outer"])
        with pytest.raises(RuntimeError):
            async with in_transaction():
                await sql.fetch(insert, ["psn_inner", "k1:inner"])
                raise RuntimeError("inner only")
    found = await sql.fetch('SELECT "id" FROM "person" WHERE "id" = ANY($1)', [["psn_inner", "psn_outer"]])
    assert found == [{"id": "psn_outer"}]


async def test_closing_does_not_wait_for_the_lane(lane: LaneClient) -> None:
    await asyncio.gather(*(_pid() for _ in range(3)))
    assert lane._lane
    # asyncpg's close waits for every connection lent out (Tortoise gives it 10 s, then terminates).
    await asyncio.wait_for(lane.close(), 5)
    assert lane._lane == []


async def test_a_pool_of_one_keeps_no_lane(database_url: str) -> None:
    if not database_url.startswith("postgres"):
        pytest.skip("the lane is PostgreSQL's")
    async with TortoiseContext() as context:
        await context.init(config=tortoise_config(f"{database_url}?minsize=1&maxsize=1"))
        client = get_connection("default")
        assert isinstance(client, LaneClient)
        for _ in range(3):
            assert await sql.fetch("SELECT 1 AS one", []) == [{"one": 1}]
        assert client._lane == []
        async with in_transaction():  # the one connection is free for the ORM
            pass
