from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from gateway.idempotency_redis import RedisIdempotencyStore
from registry.idempotency.services import Begin, IdempotencyStore, InvalidIdempotencyKey, Outcome
from tests.conftest import drop_keys

pytestmark = pytest.mark.redis

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
FP_A = hashlib.sha256(b"operations A").hexdigest()
FP_B = hashlib.sha256(b"operations B").hexdigest()
SUBJECT = "plt_acme"
KEY = "c0ffee-1"


@pytest_asyncio.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    redis = Redis.from_url(redis_url)
    yield redis
    await redis.aclose()


@pytest_asyncio.fixture
async def prefix(client: Redis) -> AsyncIterator[str]:
    prefix = f"livegate:test:idem:{secrets.token_hex(6)}:"
    yield prefix
    await drop_keys(client, prefix)


@pytest.fixture
def store(client: Redis, prefix: str) -> RedisIdempotencyStore:
    return RedisIdempotencyStore(client, prefix=prefix)


async def _finish(store: IdempotencyStore, fingerprint: str = FP_A) -> None:
    await store.complete(
        SUBJECT, KEY, fingerprint, status=200, body=b'{"data":{"ok":true}}\x00\xff', headers={"content-type": "json"}
    )


async def test_first_request_starts_and_a_repeat_replays_its_response(
    store: RedisIdempotencyStore, client: Redis, prefix: str
) -> None:
    assert await store.begin(SUBJECT, KEY, FP_A, now=T0) == Begin(Outcome.STARTED)
    await _finish(store)
    replay = await store.begin(SUBJECT, KEY, FP_A, now=T0 + timedelta(hours=1))
    assert replay == Begin(Outcome.REPLAY, 200, b'{"data":{"ok":true}}\x00\xff', {"content-type": "json"})

    # Redis drops the record itself once the day is over.
    [name] = [name async for name in client.scan_iter(match=prefix + "*")]
    assert 0 < await client.pttl(name) <= 24 * 3600 * 1000


async def test_the_same_key_for_another_request_is_a_mismatch(store: RedisIdempotencyStore) -> None:
    await store.begin(SUBJECT, KEY, FP_A, now=T0)
    assert (await store.begin(SUBJECT, KEY, FP_B, now=T0)).outcome is Outcome.MISMATCH
    await _finish(store)
    assert (await store.begin(SUBJECT, KEY, FP_B, now=T0)).outcome is Outcome.MISMATCH
    assert (await store.begin(SUBJECT, KEY, FP_A, now=T0)).outcome is Outcome.REPLAY


async def test_a_running_request_makes_a_repeat_wait(store: RedisIdempotencyStore) -> None:
    await store.begin(SUBJECT, KEY, FP_A, now=T0)
    assert (await store.begin(SUBJECT, KEY, FP_A, now=T0 + timedelta(seconds=119))).outcome is Outcome.IN_PROGRESS


async def test_subjects_do_not_share_keys(store: RedisIdempotencyStore) -> None:
    await store.begin(SUBJECT, KEY, FP_A, now=T0)
    await _finish(store)
    assert (await store.begin("ses_other", KEY, FP_B, now=T0)).outcome is Outcome.STARTED
    # The length prefix keeps subject "a:b" + key "c" apart from subject "a" + key "b:c".
    assert (await store.begin("a:b", "c", FP_A, now=T0)).outcome is Outcome.STARTED
    assert (await store.begin("a", "b:c", FP_B, now=T0)).outcome is Outcome.STARTED


async def test_a_record_expires_after_a_day(store: RedisIdempotencyStore) -> None:
    await store.begin(SUBJECT, KEY, FP_A, now=T0)
    await _finish(store)
    just_before = T0 + timedelta(hours=24) - timedelta(seconds=1)
    assert (await store.begin(SUBJECT, KEY, FP_A, now=just_before)).outcome is Outcome.REPLAY
    later = T0 + timedelta(hours=24)
    assert (await store.begin(SUBJECT, KEY, FP_B, now=later)).outcome is Outcome.STARTED
    assert (await store.begin(SUBJECT, KEY, FP_B, now=later)).outcome is Outcome.IN_PROGRESS


async def test_a_stale_running_record_is_taken_over_exactly_once(store: RedisIdempotencyStore) -> None:
    await store.begin(SUBJECT, KEY, FP_A, now=T0)
    stale = T0 + timedelta(seconds=120)
    assert (await store.begin(SUBJECT, KEY, FP_A, now=stale)).outcome is Outcome.STARTED
    assert (await store.begin(SUBJECT, KEY, FP_A, now=stale)).outcome is Outcome.IN_PROGRESS
    assert (await store.begin(SUBJECT, KEY, FP_B, now=stale)).outcome is Outcome.MISMATCH
    await _finish(store)
    assert (await store.begin(SUBJECT, KEY, FP_A, now=stale)).outcome is Outcome.REPLAY


async def test_the_first_stored_response_is_kept(store: RedisIdempotencyStore) -> None:
    await store.begin(SUBJECT, KEY, FP_A, now=T0)
    await _finish(store)
    await store.complete(SUBJECT, KEY, FP_A, status=500, body=b"late", headers={})
    assert (await store.begin(SUBJECT, KEY, FP_A, now=T0)).status == 200


async def test_abandon_lets_a_retry_run(store: RedisIdempotencyStore) -> None:
    await store.begin(SUBJECT, KEY, FP_A, now=T0)
    await store.abandon(SUBJECT, KEY, FP_B)
    assert (await store.begin(SUBJECT, KEY, FP_A, now=T0)).outcome is Outcome.IN_PROGRESS
    await store.abandon(SUBJECT, KEY, FP_A)
    assert (await store.begin(SUBJECT, KEY, FP_A, now=T0)).outcome is Outcome.STARTED
    await _finish(store)
    await store.abandon(SUBJECT, KEY, FP_A)
    assert (await store.begin(SUBJECT, KEY, FP_A, now=T0)).outcome is Outcome.REPLAY


async def test_purge_removes_only_expired_records(store: RedisIdempotencyStore, client: Redis, prefix: str) -> None:
    await store.begin(SUBJECT, "old", FP_A, now=T0)
    await store.begin(SUBJECT, "new", FP_A, now=T0 + timedelta(hours=12))
    assert await store.purge_expired(T0 + timedelta(hours=24)) == 1
    assert [name async for name in client.scan_iter(match=prefix + "*")] == [f"{prefix}8:{SUBJECT}:new".encode()]


async def test_keys_are_checked(store: RedisIdempotencyStore) -> None:
    for key in ["", "x" * 256, "clé", "line\n"]:
        with pytest.raises(InvalidIdempotencyKey):
            await store.begin(SUBJECT, key, FP_A)
    assert (await store.begin(SUBJECT, "~" * 255, FP_A)).outcome is Outcome.STARTED


async def test_a_decoding_client_is_refused(redis_url: str) -> None:
    decoding = Redis.from_url(redis_url, decode_responses=True)
    try:
        with pytest.raises(ValueError, match="decode_responses"):
            RedisIdempotencyStore(decoding)
    finally:
        await decoding.aclose()


async def test_two_gateways_racing_on_one_key_start_once(redis_url: str, prefix: str) -> None:
    clients = [Redis.from_url(redis_url) for _ in range(2)]
    try:
        stores = [RedisIdempotencyStore(c, prefix=prefix) for c in clients]
        for n in range(10):
            results = await asyncio.gather(*(s.begin(SUBJECT, f"race-{n}", FP_A) for s in stores))
            assert sorted(r.outcome for r in results) == [Outcome.IN_PROGRESS, Outcome.STARTED]
        # And racing to take over a stale record.
        for n in range(10):
            await stores[0].begin(SUBJECT, f"stale-{n}", FP_A, now=T0)
            late = T0 + timedelta(minutes=5)
            results = await asyncio.gather(*(s.begin(SUBJECT, f"stale-{n}", FP_A, now=late) for s in stores))
            assert sorted(r.outcome for r in results) == [Outcome.IN_PROGRESS, Outcome.STARTED]
    finally:
        for c in clients:
            await c.aclose()
