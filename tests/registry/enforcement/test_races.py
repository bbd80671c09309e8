"""A registration committing while a ban on the same identity is written must not slip through.

On PostgreSQL both sides take advisory transaction locks on the identity's strong keys and the
registering side re-checks the blacklist after its lock (screening.store_subject_keys); these tests
hold one side inside its transaction and check, through pg_locks, that the other side really waits.
On SQLite the same tests pass because a transaction serializes all database work of the process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable

import pytest
from tortoise.transactions import in_transaction

from registry.enforcement import screening
from registry.enforcement import services as enforcement
from registry.enforcement.locks import lock_id, lock_identities
from registry.enforcement.models import BlacklistEntry
from registry.enforcement.screening import Scope
from registry.performers.eligibility import Reason, live_eligibility
from registry.performers.models import Performer
from registry.problems import ProblemCode
from tests.conftest import make_platform
from tests.factories import resident_id, years_ago
from tests.registry.enforcement.helpers import actor, add_entry, codes, doc_key, register

pytestmark = pytest.mark.usefixtures("db")

Lock = Callable[[Iterable[str]], Awaitable[None]]


def on_postgres() -> bool:
    return bool(BlacklistEntry._meta.db.capabilities.dialect == "postgres")


async def waiting_for_advisory_lock(count: int = 1) -> None:
    """Until `count` sessions wait on an advisory lock (PostgreSQL only)."""
    for _ in range(500):
        rows = await BlacklistEntry._meta.db.execute_query_dict(
            "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        )
        if rows[0]["n"] >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("nobody waits on the identity lock")


def pausing(real: Lock, paused: asyncio.Event, release: asyncio.Event) -> Lock:
    async def lock_then_wait(values: Iterable[str]) -> None:
        await real(values)
        paused.set()
        await release.wait()

    return lock_then_wait


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
    # On PostgreSQL the registration has screened CLEAR (the ban is not committed) and now waits
    # inside its own transaction for the identity lock.
    await the_other_side_waits(registration)  # type: ignore[arg-type]
    release.set()
    entry = await ban
    outcome = await registration
    assert outcome.performer is None and codes(outcome) == [ProblemCode.BLACKLISTED]
    assert not await Performer.exists(platform_id=other.id)
    assert entry.scope == "JOINT"


async def test_a_registration_committing_first_is_caught_by_the_ban(monkeypatch: pytest.MonkeyPatch) -> None:
    listing, other = await make_platform(), await make_platform()
    number = resident_id(years_ago(41))
    paused, release = asyncio.Event(), asyncio.Event()
    monkeypatch.setattr(screening, "lock_identities", pausing(lock_identities, paused, release))
    registration = asyncio.create_task(register(other.id, number))
    await paused.wait()  # the registration holds the identity lock inside its transaction
    monkeypatch.setattr(screening, "lock_identities", lock_identities)
    ban = asyncio.create_task(add_entry(listing.id, Scope.JOINT, document=doc_key(number)))
    await the_other_side_waits(ban)  # type: ignore[arg-type]
    release.set()
    performer = (await registration).performer
    await ban
    assert performer is not None and performer.verification_status == "VERIFIED"
    eligibility = await live_eligibility(actor(other.id), performer.id)
    assert eligibility is not None and Reason.BLACKLISTED in eligibility.reasons
    assert codes(await register(other.id, number, role="ROOM_OPERATOR")) == [ProblemCode.BLACKLISTED]


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
