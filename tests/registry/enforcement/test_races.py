"""A registration committing while a ban on the same identity is written must not slip through.

On PostgreSQL both sides take advisory locks on the identity's strong keys and the registering side
re-checks the blacklist after its lock: an adult's registration inside its one write statement, under a
snapshot taken after the locks (registry.performers.registration_sql), other writers in their
transaction (screening.store_subject_keys). These tests hold one side while it holds the locks and check,
through pg_locks, that the other side really waits. On SQLite the same tests pass because a transaction
serializes all database work of the process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType

import asyncpg
import pytest
from tortoise.transactions import in_transaction

from registry.enforcement import screening
from registry.enforcement import services as enforcement
from registry.enforcement.locks import lock_for_bulk_screening, lock_id, lock_identities
from registry.enforcement.models import BlacklistEntry
from registry.enforcement.screening import Scope
from registry.performers.eligibility import Reason, live_eligibility
from registry.performers.models import Performer
from registry.problems import ProblemCode
from registry.suppliers import imports
from registry.suppliers import services as suppliers
from registry.suppliers.models import Supplier
from tests.conftest import make_platform
from tests.factories import credit_code, platform_actor, resident_id, years_ago
from tests.registry.enforcement.helpers import actor, add_entry, codes, doc_key, register
from tests.registry.suppliers.helpers import supplier

pytestmark = pytest.mark.usefixtures("db")

Lock = Callable[..., Awaitable[None]]


def on_postgres() -> bool:
    return bool(BlacklistEntry._meta.db.capabilities.dialect == "postgres")


async def _count(sql: str) -> int:
    return int((await BlacklistEntry._meta.db.execute_query_dict(sql))[0]["n"])


async def waiting_for_advisory_lock(count: int = 1) -> None:
    """Until `count` sessions wait on an advisory lock (PostgreSQL only)."""
    for _ in range(500):
        if await _count("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("nobody waits on the identity lock")


def pausing(real: Lock, paused: asyncio.Event, release: asyncio.Event) -> Lock:
    async def lock_then_wait(values: Iterable[str], **options: bool) -> None:
        await real(values, **options)
        paused.set()
        await release.wait()

    return lock_then_wait


_A_WRITE_WAITS = (
    "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
    "AND query LIKE '%livegate_locked_listed%' AND pid <> pg_backend_pid()"
)


class InItsLocks:
    """Holds a platform's next registration right after it took its identity locks, before it commits.

    On PostgreSQL an adult's registration takes them first in its one write statement and links its audit
    event last: the platform's audit chain head, locked here in a session of its own, stops it there. On
    the ORM path (SQLite) its `lock_identities` waits for `release`.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch, database_url: str, platform_id: str) -> None:
        self._monkeypatch, self._url, self._platform_id = monkeypatch, database_url, platform_id
        self._paused, self._release = asyncio.Event(), asyncio.Event()
        self._head: asyncpg.Connection | None = None

    async def __aenter__(self) -> InItsLocks:
        if not on_postgres():
            self._monkeypatch.setattr(
                screening, "lock_identities", pausing(lock_identities, self._paused, self._release)
            )
            return self
        self._head = await asyncpg.connect("postgresql://" + self._url.split("://", 1)[1])
        await self._head.execute("BEGIN")
        await self._head.execute('SELECT 1 FROM "audit_head" WHERE "platform_id" = $1 FOR UPDATE', self._platform_id)
        return self

    async def paused(self) -> None:
        if self._head is None:
            await self._paused.wait()
            return
        for _ in range(500):  # the write holds its identity locks and waits for the head
            if await advisory_locks_held() and await _count(_A_WRITE_WAITS):
                return
            await asyncio.sleep(0.01)
        raise AssertionError("no registration waits in its locks")

    async def release(self) -> None:
        self._release.set()
        if self._head is not None:
            head, self._head = self._head, None
            await head.close()  # its transaction ends with it

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.release()


async def advisory_locks_held() -> int:
    """Advisory locks granted in this database (0 on SQLite, which has none)."""
    if not on_postgres():
        return 0
    return await _count(
        "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )


async def the_other_side_waits(task: asyncio.Task[object]) -> None:
    if on_postgres():
        await waiting_for_advisory_lock()
    else:
        await asyncio.sleep(0.05)
    assert not task.done()


async def test_a_ban_written_during_a_registration_refuses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    listing, other = await make_platform(), await make_platform()
    number = resident_id(years_ago(34))
    paused, release = asyncio.Event(), asyncio.Event()
    monkeypatch.setattr(enforcement, "lock_identities", pausing(lock_identities, paused, release))
    ban = asyncio.create_task(add_entry(listing.id, Scope.JOINT, document=doc_key(number)))
    await paused.wait()  # the ban holds the identity lock inside its (uncommitted) transaction
    registration = asyncio.create_task(register(other.id, number))
    # On PostgreSQL the registration has screened CLEAR (the ban is not committed) and now waits, inside
    # its write statement or its transaction, for the identity lock.
    await the_other_side_waits(registration)  # type: ignore[arg-type]
    release.set()
    entry = await ban
    outcome = await registration
    assert outcome.performer is None and codes(outcome) == [ProblemCode.BLACKLISTED]
    assert not await Performer.exists(platform_id=other.id)
    assert entry.scope == "JOINT"
    assert await advisory_locks_held() == 0  # a refused write releases its locks


async def test_a_registration_committing_first_is_caught_by_the_ban(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    listing, other = await make_platform(), await make_platform()
    number = resident_id(years_ago(41))
    async with InItsLocks(monkeypatch, database_url, other.id) as held:
        registration = asyncio.create_task(register(other.id, number))
        await held.paused()  # the registration holds the identity locks and has not committed
        monkeypatch.setattr(screening, "lock_identities", lock_identities)
        ban = asyncio.create_task(add_entry(listing.id, Scope.JOINT, document=doc_key(number)))
        await the_other_side_waits(ban)  # type: ignore[arg-type]
    performer = (await registration).performer
    await ban
    assert performer is not None and performer.verification_status == "VERIFIED"
    eligibility = await live_eligibility(actor(other.id), performer.id)
    assert eligibility is not None and Reason.BLACKLISTED in eligibility.reasons
    assert codes(await register(other.id, number, role="ROOM_OPERATOR")) == [ProblemCode.BLACKLISTED]
    assert await advisory_locks_held() == 0


async def test_a_registration_cancelled_in_its_locks_releases_them(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    platform = await make_platform()
    number = resident_id(years_ago(29))
    async with InItsLocks(monkeypatch, database_url, platform.id) as held:
        registration = asyncio.create_task(register(platform.id, number))
        await held.paused()
        registration.cancel()
        with pytest.raises(asyncio.CancelledError):
            await registration
        assert await advisory_locks_held() == 0
    assert not await Performer.exists(platform_id=platform.id)
    outcome = await register(platform.id, number)  # the same identity is not locked out
    assert outcome.performer is not None and outcome.problems == []


async def test_a_registration_whose_connection_dies_in_its_locks_leaves_none(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    if not on_postgres():
        pytest.skip("a server session to end exists on PostgreSQL")
    platform = await make_platform()
    number = resident_id(years_ago(52))
    async with InItsLocks(monkeypatch, database_url, platform.id) as held:
        registration = asyncio.create_task(register(platform.id, number))
        await held.paused()
        await BlacklistEntry._meta.db.execute_query(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        with pytest.raises(Exception):  # noqa: B017 (the driver's error for a lost connection)
            await registration
    assert await advisory_locks_held() == 0
    assert not await Performer.exists(platform_id=platform.id)
    outcome = await register(platform.id, number)
    assert outcome.performer is not None and outcome.problems == []


async def test_identity_locks_serialize_only_the_same_identity() -> None:
    if not on_postgres():
        pytest.skip("advisory locks exist on PostgreSQL; SQLite runs one transaction at a time")
    holding, release = asyncio.Event(), asyncio.Event()
    order: list[str] = []

    async def first() -> None:
        async with in_transaction():
            await lock_identities(["i1:aaa", "i1:bbb"])
            holding.set()
            await release.wait()
            order.append("first")

    async def second(values: list[str], name: str) -> None:
        async with in_transaction():
            await lock_identities(values)
            order.append(name)

    holder = asyncio.create_task(first())
    await holding.wait()
    await second(["i1:ccc"], "unrelated")  # a different identity does not wait
    blocked = asyncio.create_task(second(["i1:bbb", "i1:zzz"], "same"))
    await waiting_for_advisory_lock()
    release.set()
    await asyncio.gather(holder, blocked)
    assert order == ["unrelated", "first", "same"]
    assert lock_id("i1:aaa") != lock_id("i1:bbb") and -(2**63) <= lock_id("i1:aaa") < 2**63


# Supplier imports take one shared lock, which a ban takes exclusively after its identity locks.


async def import_rows(platform_id: str, codes_: list[str]) -> suppliers.ImportResult:
    rows = [supplier(f"race-{i}", code=code) for i, code in enumerate(codes_)]
    return await suppliers.import_suppliers(platform_actor(platform_id), rows, limit=1000)


async def test_a_ban_written_during_an_import_refuses_its_row(monkeypatch: pytest.MonkeyPatch) -> None:
    listing, other = await make_platform(), await make_platform()
    banned, clean = credit_code(), credit_code()
    paused, release = asyncio.Event(), asyncio.Event()
    monkeypatch.setattr(enforcement, "lock_identities", pausing(lock_identities, paused, release))
    ban = asyncio.create_task(add_entry(listing.id, Scope.JOINT, credit_code=banned))
    await paused.wait()  # the ban holds its locks, the bulk lock included, inside its transaction
    imported = asyncio.create_task(import_rows(other.id, [clean, banned]))
    await the_other_side_waits(imported)  # type: ignore[arg-type]
    release.set()
    await ban
    result = await imported
    assert (result.created, [(r.row, [p.code for p in r.problems]) for r in result.rejected]) == (
        1,
        [(1, [ProblemCode.BLACKLISTED])],
    )
    assert await Supplier.filter(platform_id=other.id).count() == 1


async def test_a_ban_waits_for_the_imports_in_flight(monkeypatch: pytest.MonkeyPatch) -> None:
    listing, other = await make_platform(), await make_platform()
    code = credit_code()
    paused, release = asyncio.Event(), asyncio.Event()

    async def shared_then_wait() -> None:
        await lock_for_bulk_screening()
        paused.set()
        await release.wait()

    monkeypatch.setattr(imports, "lock_for_bulk_screening", shared_then_wait)
    imported = asyncio.create_task(import_rows(other.id, [code, credit_code(), credit_code()]))
    await paused.wait()  # the import holds the shared lock inside its transaction
    if on_postgres():  # one lock for the batch, not one per row: a batch of 1,000 must not fill the lock table
        held = "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted"
        assert (await BlacklistEntry._meta.db.execute_query_dict(held))[0]["n"] == 1
    monkeypatch.setattr(imports, "lock_for_bulk_screening", lock_for_bulk_screening)
    if on_postgres():  # imports do not wait for each other (SQLite runs one transaction at a time)
        assert (await import_rows(listing.id, [credit_code()])).created == 1
    ban = asyncio.create_task(add_entry(listing.id, Scope.JOINT, credit_code=code))
    await the_other_side_waits(ban)  # type: ignore[arg-type]
    release.set()
    assert (await imported).created == 3
    await ban
    stored = await Supplier.get(platform_id=other.id, external_ref="race-0")
    assert stored.verification_status == "VERIFIED"  # it committed before the ban existed
