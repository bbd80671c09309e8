from __future__ import annotations

import asyncio
import json

import pytest
from tortoise.context import TortoiseContext

from registry.actors import Actor, ActorKind
from registry.audit.models import GENESIS_HASH, AuditEvent, AuditHead
from registry.audit.services import Change, link_hash, record, record_many, verify_chain
from tests.conftest import make_platform


async def test_chain_starts_at_genesis_and_links(db: TortoiseContext) -> None:
    platform = await make_platform()
    actor = Actor(ActorKind.PLATFORM_TOKEN, platform.id, token_id="jti-1")
    first = await record(actor, Change("thing.done", "per_x", {"status": "VERIFIED"}))
    second = await record(actor, Change("thing.undone", "per_x", {"status": "REJECTED"}))

    events = await AuditEvent.filter(platform_id=platform.id).order_by("seq")
    assert [e.action for e in events] == ["platform.created", "thing.done", "thing.undone"]
    assert events[0].prev_hash == GENESIS_HASH
    assert first.prev_hash == events[0].hash and second.prev_hash == first.hash
    assert second.hash == link_hash(first.hash, second.canonical)
    assert json.loads(second.canonical)["token"] == "jti-1"
    assert await verify_chain(platform.id) == (True, 3, None)


async def test_tampering_is_found(db: TortoiseContext) -> None:
    platform = await make_platform()
    actor = Actor.system(platform.id)
    events = await record_many(actor, [Change("a", None, {"n": n}) for n in range(5)])
    victim = events[2]
    await AuditEvent.filter(id=victim.id).update(canonical=victim.canonical.replace('"n":2', '"n":7'))
    check = await verify_chain(platform.id)
    assert (check.ok, check.first_broken_id) == (False, victim.id)


async def test_a_rewritten_tail_is_found_against_the_head(db: TortoiseContext) -> None:
    platform = await make_platform()
    events = await record_many(Actor.system(platform.id), [Change("a", None, {"n": n}) for n in range(3)])
    last = events[-1]
    forged = last.canonical.replace('"n":2', '"n":9')
    await AuditEvent.filter(id=last.id).update(canonical=forged, hash=link_hash(last.prev_hash, forged))
    check = await verify_chain(platform.id)
    assert (check.ok, check.first_broken_id) == (False, last.id)


async def test_verify_from_an_event_and_with_a_limit(db: TortoiseContext) -> None:
    platform = await make_platform()
    events = await record_many(Actor.system(platform.id), [Change("a", None, {}) for _ in range(10)])
    assert await verify_chain(platform.id, after=events[4].id) == (True, 5, None)
    assert await verify_chain(platform.id, limit=3) == (True, 3, None)
    assert (await verify_chain(platform.id, after="aud_unknown")).ok is False


async def test_chains_are_per_platform(db: TortoiseContext) -> None:
    one, two = await make_platform(), await make_platform()
    await record(Actor.system(one.id), Change("a", None, {}))
    assert (await AuditHead.get(platform_id=one.id)).seq == 2
    assert (await AuditHead.get(platform_id=two.id)).seq == 1
    assert (await verify_chain(two.id)).ok


async def test_concurrent_writers_do_not_fork_the_chain(db: TortoiseContext, database_url: str) -> None:
    if not database_url.startswith("postgres"):
        pytest.skip("SQLite has a single writer; the fork race needs PostgreSQL's concurrent transactions")
    platform = await make_platform()

    async def writer(n: int) -> None:
        for i in range(5):
            await record(Actor.system(platform.id), Change("concurrent", None, {"writer": n, "i": i}))

    await asyncio.gather(*(writer(n) for n in range(8)))
    seqs = [e.seq for e in await AuditEvent.filter(platform_id=platform.id).order_by("seq")]
    assert seqs == list(range(1, 42))
    assert await verify_chain(platform.id) == (True, 41, None)


def test_canonical_json_refuses_unknown_types() -> None:
    from registry.audit.services import canonical_json

    assert canonical_json({"b": 1, "a": "张"}) == '{"a":"张","b":1}'
    with pytest.raises(TypeError):
        canonical_json({"x": object()})
