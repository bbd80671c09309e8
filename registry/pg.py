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

Transactions (`in_transaction()`) take their connection from the lane too, and leave it there when
they end cleanly: the pool's acquire and release cost as much as a short transaction's BEGIN and
COMMIT (scripts/bench.py eligibility register). Their statements from `registry/sql.fetch` run on the
transaction's connection directly, under the wrapper's lock, as Tortoise's own would.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

import asyncpg
from tortoise.backends.asyncpg.client import AsyncpgDBClient, TransactionWrapper
from tortoise.backends.base.client import TransactionContext, TransactionContextPooled
from tortoise.connection import get_connections
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
        connection = await self._take(pool)
        try:
            rows = await fetch_on(connection, query, values)
        except BaseException:
            await pool.release(connection)
            raise
        await self._give_back(pool, connection)
        return rows

    def _in_transaction(self) -> TransactionContext:
        return _LaneTransaction(TransactionWrapper(self), self._pool_init_lock)

    async def _take(self, pool: asyncpg.Pool) -> asyncpg.Connection:
        """A held connection that is still open, else one from the pool."""
        lane = self._lane
        connection = lane.pop() if lane else None
        if connection is not None and _open(connection):
            return connection
        if connection is not None:  # the server closed it while it waited here
            await pool.release(connection)  # a no-op when asyncpg already took it back
        return await pool.acquire()

    async def _give_back(self, pool: asyncpg.Pool, connection: asyncpg.Connection) -> None:
        """Hold an idle connection of `pool` for the next statement, or return it to the pool."""
        if (
            len(self._lane) < self._lane_size
            and pool is self._pool
            and _spare(pool)
            and _open(connection)
            and not connection.is_in_transaction()
        ):
            self._lane.append(connection)
        else:  # the lane is full, the pool is gone, or someone may be waiting for the pool
            await pool.release(connection)

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


class _LaneTransaction(TransactionContextPooled):
    """Tortoise's pooled transaction context, with the connection taken from and left to the lane."""

    __slots__ = ("pool",)

    async def __aenter__(self) -> TransactionWrapper:
        await self.ensure_connection()
        parent: LaneClient = self.client._parent
        self.pool = pool = parent._pool
        connection = await parent._take(pool)
        self.client._connection = connection
        self.token = get_connections().set(self.connection_name, self.client)
        try:
            await self.client.begin()
        except BaseException:
            get_connections().reset(self.token)
            await pool.release(connection)
            raise
        return self.client

    async def __aexit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        connection = self.client._connection
        try:
            if not self.client._finalized:
                if exc_type:
                    if exc_type is not TransactionManagementError:  # a failed transaction cannot roll back
                        await self.client.rollback()
                else:
                    await self.client.commit()
        except BaseException:
            await self.pool.release(connection)  # the pool resets it (an open transaction is rolled back)
            raise
        else:
            await self.client._parent._give_back(self.pool, connection)
        finally:
            get_connections().reset(self.token)


async def fetch_in_transaction(wrapper: TransactionWrapper, query: str, values: Sequence[Any]) -> list[dict[str, Any]]:
    """`execute_query_dict` on a transaction's connection without Tortoise's per-statement layers."""
    async with wrapper._lock:
        return await fetch_on(wrapper._connection, query, values)


async def fetch_on(connection: asyncpg.Connection, query: str, values: Sequence[Any]) -> list[dict[str, Any]]:
    """The rows of a statement on this connection, errors translated as Tortoise translates them."""
    try:
        rows = await connection.fetch(query, *values)
    except BaseException as exc:
        raise_translated(exc)
    return [dict(row) for row in rows]


def _spare(pool: asyncpg.Pool) -> bool:
    """The pool can give a connection now: one is idle, or it may open another."""
    return bool(pool.get_idle_size()) or pool.get_size() < pool.get_max_size()


def _open(connection: asyncpg.Connection) -> bool:
    try:
        return not connection.is_closed()
    except asyncpg.InterfaceError:  # asyncpg returned it to the pool when the server closed it
        return False


def raise_translated(exc: BaseException) -> NoReturn:
    """Raise `exc` as Tortoise would have raised it from one of its own statements."""
    translated = translated_error(exc)
    if translated is exc:
        raise exc
    raise translated from exc


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
