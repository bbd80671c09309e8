"""Tortoise's asyncpg client, with a lane of held connections for plain statements outside transactions.

asyncpg's pool costs more than the statements of the hot reads: every release is shielded in a new
task, every acquire waits through a queue and a timeout. Measured on one connection, `pool.fetch` of the
eligibility statement took 85 µs of CPU and `connection.fetch` 20 (scripts/bench.py eligibility: a
cache miss is mostly this statement). So `fetch_plain` (registry/sql.py, outside transactions) keeps
the connections it used for its next statements instead of handing them back each time.

The lane holds at most half the pool, so the ORM always has the other half (no code here needs two
connections at once), and keeps a connection only while the pool has another to give: under pressure
its connections flow back to the pool after each statement.
It is handed back before the pool closes or expires its connections. A statement that fails, or is
cancelled, returns its connection to the pool, which knows how to reset or discard it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
from tortoise.backends.asyncpg.client import AsyncpgDBClient
from tortoise.exceptions import IntegrityError, OperationalError, TransactionManagementError


class LaneClient(AsyncpgDBClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lane: list[asyncpg.Connection] = []
        self._lane_size = self.pool_maxsize // 2  # a pool of one keeps no lane: the ORM needs it

    async def fetch_plain(self, query: str, values: Sequence[Any]) -> list[dict[str, Any]]:
        """The rows of one statement in autocommit mode, as dictionaries (as `execute_query_dict`)."""
        pool = self._pool
        if pool is None or not self._lane_size:
            return await self.execute_query_dict(query, list(values))  # also creates the pool
        lane = self._lane
        connection = lane.pop() if lane else None
        if connection is None or not _open(connection):
            if connection is not None:  # the server closed it while it waited here
                await pool.release(connection)  # a no-op when asyncpg already took it back
            connection = await pool.acquire()
        try:
            rows = await connection.fetch(query, *values)
        except BaseException as exc:
            await pool.release(connection)
            translated = translated_error(exc)
            if translated is exc:
                raise
            raise translated from exc
        if len(lane) < self._lane_size and pool is self._pool and _spare(pool):
            lane.append(connection)
        else:  # the lane is full, or the pool has nothing else to give and someone may be waiting
            await pool.release(connection)
        return [dict(row) for row in rows]

    async def _release_lane(self) -> None:
        pool, lane = self._pool, self._lane
        while lane:
            connection = lane.pop()
            if pool is not None:
                await pool.release(connection)

    async def _expire_connections(self) -> None:
        await self._release_lane()
        await super()._expire_connections()

    async def _close(self) -> None:
        await self._release_lane()  # asyncpg's close waits for every connection lent out
        await super()._close()


def _spare(pool: asyncpg.Pool) -> bool:
    """The pool can give a connection now: one is idle, or it may open another."""
    return bool(pool.get_idle_size()) or pool.get_size() < pool.get_max_size()


def _open(connection: asyncpg.Connection) -> bool:
    try:
        return not connection.is_closed()
    except asyncpg.InterfaceError:  # asyncpg returned it to the pool when the server closed it
        return False


def translated_error(exc: BaseException) -> BaseException:
    """Tortoise's own translation of driver errors (AsyncpgDBClient._translate_exceptions)."""
    if isinstance(exc, asyncpg.SyntaxOrAccessError | asyncpg.exceptions.DataError):
        return OperationalError(exc)
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        return IntegrityError(exc)
    if isinstance(exc, asyncpg.InvalidTransactionStateError):
        return TransactionManagementError(exc)
    return exc


client_class = LaneClient  # read by Tortoise when a connection's engine is this module
