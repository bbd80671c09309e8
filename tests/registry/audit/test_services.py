from __future__ import annotations

import asyncio
import itertools
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tortoise.context import TortoiseContext
from tortoise.transactions import in_transaction

from registry.actors import Actor, ActorKind
from registry.audit.models import GENESIS_HASH, AuditEvent, AuditHead
from registry.audit.services import (
    Change,
    _event_json,
    append_many,
    canonical_json,
    chain_gate,
    link_hash,
    record,
    record_many,
    verify_chain,
)
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


async def test_bulk_and_single_appends_store_the_same_events(db: TortoiseContext) -> None:
    # From 20 events on, PostgreSQL writes them by COPY and moves the head in a second statement.
    platform = await make_platform()
    actor = Actor(ActorKind.PLATFORM_TOKEN, platform.id, token_id="jti-9", session_id="ses-1")
    returned = await record_many(actor, [Change("bulk.done", f"sup_{n}", {"n": n}) for n in range(25)])
    returned += await record_many(actor, [Change("one.done", None, {"n": 25})])
    returned += await record_many(actor, [Change("bulk.done", f"sup_{n}", {"n": n}) for n in range(26, 50)])
    stored = await AuditEvent.filter(platform_id=platform.id, seq__gt=1).order_by("seq")
    fields = ("id", "seq", "at", "actor_kind", "token_id", "action", "subject_id", "canonical", "hash", "prev_hash")
    assert [[getattr(e, f) for f in fields] for e in stored] == [[getattr(e, f) for f in fields] for e in returned]
    assert [e.seq for e in stored] == list(range(2, 52))
    head = await AuditHead.get(platform_id=platform.id)
    assert (head.seq, head.hash) == (51, stored[-1].hash)
    assert await verify_chain(platform.id) == (True, 51, None)


async def test_one_event_is_chained_as_python_would(db: TortoiseContext) -> None:
    # On PostgreSQL a single event is hashed in SQL (sha256 over UTF-8): the text and every link must be
    # what Python writes and verifies, with non-ASCII text, nested values, nulls and a datetime.
    platform = await make_platform()
    actor = Actor(ActorKind.PLATFORM_TOKEN, platform.id, token_id="jti-中")
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    data = {"name": "张*三", "nested": {"b": [1, "é", None], "a": True}, "when": at, "emoji": "\U0001f600"}
    event = await record(actor, Change("thing.done", "per_x", data))
    expected = {
        "id": event.id, "platform": platform.id, "seq": 2, "at": event.at.isoformat(), "actor": "PLATFORM_TOKEN",
        "token": "jti-中", "session": None, "action": "thing.done", "subject": "per_x", "data": data,
    }  # fmt: skip
    assert event.canonical == canonical_json(expected)
    stored = await AuditEvent.get(id=event.id)
    fields = ("seq", "canonical", "hash", "prev_hash", "token_id", "subject_id")
    assert [getattr(stored, f) for f in fields] == [getattr(event, f) for f in fields]
    assert event.hash == link_hash(event.prev_hash, event.canonical)
    head = await AuditHead.get(platform_id=platform.id)
    assert (head.seq, head.hash, head.prev_hash) == (2, event.hash, event.prev_hash)
    assert await verify_chain(platform.id) == (True, 2, None)


async def test_an_event_rolls_back_with_its_transaction(db: TortoiseContext) -> None:
    platform = await make_platform()
    before = await AuditHead.get(platform_id=platform.id)
    with pytest.raises(RuntimeError):
        async with in_transaction():
            await record(Actor.system(platform.id), Change("a", None, {}))
            raise RuntimeError("the change it records failed")
    after = await AuditHead.get(platform_id=platform.id)
    assert (after.seq, after.hash, after.prev_hash) == (before.seq, before.hash, before.prev_hash)
    assert await AuditEvent.filter(platform_id=platform.id).count() == 1
    await record(Actor.system(platform.id), Change("b", None, {}))
    assert await verify_chain(platform.id) == (True, 2, None)


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
    assert canonical_json({"b": 1, "a": "张"}) == '{"a":"张","b":1}'
    with pytest.raises(TypeError):
        canonical_json({"x": object()})


async def test_append_many_links_like_record_many(db: TortoiseContext) -> None:
    platform = await make_platform()
    actor = Actor(ActorKind.PLATFORM_TOKEN, platform.id, token_id="jti-2")
    await append_many(
        actor, [Change("supplier.created", f"sup_{n}", {"n": n, "codes": ["A", "B"]}) for n in range(300)]
    )
    [after] = await record_many(actor, [Change("thing.done", None, {"at": datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)})])
    events = await AuditEvent.filter(platform_id=platform.id).order_by("seq")
    assert [e.seq for e in events] == list(range(1, 303))
    assert events[-1].id == after.id and after.hash == events[-1].hash and after.at == events[-1].at
    for before, event in itertools.pairwise(events):
        assert event.prev_hash == before.hash == link_hash(before.prev_hash, before.canonical)
    body = json.loads(events[5].canonical)
    assert body["subject"] == "sup_4" and body["data"] == {"codes": ["A", "B"], "n": 4} and body["token"] == "jti-2"
    assert events[5].canonical == canonical_json({**body})  # the text json itself writes for the same content
    assert json.loads(after.canonical)["data"] == {"at": "2030-01-02T03:04:05+00:00"}
    assert await verify_chain(platform.id) == (True, 302, None)
    head = await AuditHead.get(platform_id=platform.id)
    assert (head.seq, head.hash) == (302, after.hash)


async def test_an_empty_append_writes_nothing(db: TortoiseContext) -> None:
    platform = await make_platform()
    await append_many(Actor.system(platform.id), [])
    assert await record_many(Actor.system(platform.id), []) == []
    assert await verify_chain(platform.id) == (True, 1, None)


async def test_concurrent_bulk_appends_do_not_fork_the_chain(db: TortoiseContext, database_url: str) -> None:
    if not database_url.startswith("postgres"):
        pytest.skip("SQLite has a single writer; the fork race needs PostgreSQL's concurrent transactions")
    platform = await make_platform()

    async def writer(n: int) -> None:
        for i in range(3):
            await append_many(
                Actor.system(platform.id), [Change("bulk", None, {"w": n, "i": i, "k": k}) for k in range(50)]
            )

    await asyncio.gather(*(writer(n) for n in range(6)))
    assert await AuditEvent.filter(platform_id=platform.id).count() == 1 + 6 * 3 * 50
    assert await verify_chain(platform.id) == (True, 901, None)


class _Color(Enum):
    RED = "red"


class _Tag(StrEnum):
    A = "a"


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.text() | st.floats(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)


@given(_json_values)
def test_event_json_is_canonical_json_byte_for_byte(value: Any) -> None:
    # orjson where it writes what json writes; json itself for anything else (floats, big ints, surrogates).
    try:
        expected: str | type[Exception] = canonical_json({"data": value})
    except (TypeError, ValueError) as exc:
        expected = type(exc)
    try:
        got: str | type[Exception] = _event_json({"data": value})
    except (TypeError, ValueError) as exc:
        got = type(exc)
    assert got == expected


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1.5, "b": float("nan")},
        {"big": 2**64, "neg": -(2**63) - 1},
        {"t": (1, "x", None)},
        {"at": datetime(2030, 1, 1, tzinfo=UTC)},
        {"tag": _Tag.A, "int_key": {1: "one"}},
        {"ctrl": 'a\x00\x1f\u2028"\\', "cn": "张三", "emoji": "\U0001f600", "lone": "\ud800"},
    ],
)
def test_event_json_matches_on_values_orjson_writes_differently(value: dict[str, Any]) -> None:
    assert _event_json(value) == canonical_json(value)


@pytest.mark.parametrize("value", [{"d": date(2030, 1, 1)}, {"e": _Color.RED}, {"x": Decimal("1.5")}])
def test_event_json_refuses_what_canonical_json_refuses(value: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        canonical_json(value)
    with pytest.raises(TypeError):
        _event_json(value)


def test_each_platform_has_one_chain_gate_per_event_loop() -> None:
    async def gates() -> tuple[asyncio.Semaphore, asyncio.Semaphore, asyncio.Semaphore]:
        return chain_gate("plt_a"), chain_gate("plt_a"), chain_gate("plt_b")

    first, again, other = asyncio.run(gates())
    assert first is again and first is not other
    assert asyncio.run(gates())[0] is not first  # a semaphore serves the loop it was made in
