"""Concurrent requests' revocation checks, rate-limit takes and invalidation messages reach Redis as one
command, each call with its own answer (gateway/batching.py), against a real Redis."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from gateway import invalidation
from gateway.auth.revocation import RedisRevocationStore
from gateway.batching import MAX_BATCH, Batched
from gateway.ratelimit import RedisRateLimiter
from registry.performers.eligibility_cache import CACHE
from tests.conftest import drop_keys

pytestmark = pytest.mark.redis
SLOW = 0.01  # tokens per second: nothing refills during a test


class Counted:
    """The commands a client sends, by name."""

    def __init__(self, client: Redis) -> None:
        self.sent: Counter[str] = Counter()
        send = client.execute_command

        async def counted(*args: Any, **options: Any) -> Any:
            self.sent[str(args[0]).upper()] += 1
            return await send(*args, **options)

        client.execute_command = counted  # type: ignore[method-assign]


@pytest_asyncio.fixture
async def client(redis_url: str) -> AsyncIterator[tuple[Redis, str]]:
    client = Redis.from_url(redis_url)
    prefix = f"livegate:test:{secrets.token_hex(8)}:"
    try:
        yield client, prefix
    finally:
        await drop_keys(client, prefix)
        await client.aclose()


async def test_concurrent_takes_are_one_script_call_each_with_its_own_decision(client: tuple[Redis, str]) -> None:
    redis, prefix = client
    limiter = RedisRateLimiter(redis, prefix=prefix)
    await limiter.take("warm", rate_per_s=SLOW, burst=1)  # loads the script
    counted = Counted(redis)

    buckets = ["a" if i % 4 else "b" for i in range(40)]  # 30 takes on a (burst 10), 10 on b (burst 20)
    decisions = await asyncio.gather(
        *(limiter.take(bucket, rate_per_s=SLOW, burst=10 if bucket == "a" else 20) for bucket in buckets)
    )

    assert counted.sent == Counter({"EVALSHA": 1})
    on_a = [(d.allowed, d.remaining) for bucket, d in zip(buckets, decisions, strict=True) if bucket == "a"]
    on_b = [(d.allowed, d.remaining) for bucket, d in zip(buckets, decisions, strict=True) if bucket == "b"]
    assert on_a == [(True, 9 - n) for n in range(10)] + [(False, 0)] * 20  # in the order of the calls
    assert on_b == [(True, 19 - n) for n in range(10)]
    refused = next(d for bucket, d in zip(buckets, decisions, strict=True) if bucket == "a" and not d.allowed)
    assert refused.retry_after_s == 100.0  # one token at 0.01/s
    # What was written is what one take at a time would have written.
    assert float(await redis.hget(prefix + "a", "tokens")) == pytest.approx(0, abs=1e-3)
    assert float(await redis.hget(prefix + "b", "tokens")) == pytest.approx(10, abs=1e-3)


async def test_sequential_takes_are_one_call_each(client: tuple[Redis, str]) -> None:
    redis, prefix = client
    limiter = RedisRateLimiter(redis, prefix=prefix)
    decisions = [await limiter.take("p", rate_per_s=SLOW, burst=2) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]


async def test_concurrent_revocation_checks_are_one_mget_each_with_its_own_answer(client: tuple[Redis, str]) -> None:
    redis, prefix = client
    store = RedisRevocationStore(redis, prefix=prefix + "revoked:")
    later = datetime.now(UTC) + timedelta(minutes=5)
    for jti in ("r1", "r2"):
        await store.revoke(jti, later)
    counted = Counted(redis)

    jtis = ["r1", "ok1", "r2", "ok2", "r1", "ok1"]
    answers = await asyncio.gather(*(store.is_revoked(jti) for jti in jtis))

    assert answers == [True, False, True, False, True, False]
    assert counted.sent == Counter({"MGET": 1})


async def test_a_batch_is_capped(client: tuple[Redis, str]) -> None:
    redis, prefix = client
    store = RedisRevocationStore(redis, prefix=prefix + "revoked:")
    counted = Counted(redis)
    answers = await asyncio.gather(*(store.is_revoked(f"j{n}") for n in range(MAX_BATCH + 1)))
    assert not any(answers)
    assert counted.sent == Counter({"MGET": 2})


async def test_a_redis_failure_reaches_every_caller_of_the_batch() -> None:
    unreachable = Redis(host="127.0.0.1", port=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
    try:
        store, limiter = RedisRevocationStore(unreachable), RedisRateLimiter(unreachable)
        checks = await asyncio.gather(*(store.is_revoked(f"j{n}") for n in range(3)), return_exceptions=True)
        takes = await asyncio.gather(
            *(limiter.take("p", rate_per_s=1, burst=1) for _ in range(3)), return_exceptions=True
        )
        assert all(isinstance(outcome, RedisConnectionError) for outcome in checks + takes)
    finally:
        await unreachable.aclose()


async def test_concurrent_writes_share_one_invalidation_message(client: tuple[Redis, str]) -> None:
    redis, _ = client
    listener = redis.pubsub()
    await listener.subscribe(invalidation.CHANNEL)
    try:
        await listener.get_message(timeout=1)  # the subscription's confirmation
        counted = Counted(redis)
        epoch = CACHE.epoch

        await asyncio.gather(*(invalidation.changed(redis) for _ in range(5)))

        assert counted.sent == Counter({"PUBLISH": 1})
        assert CACHE.epoch > epoch  # this process forgets at once, before any of the writes answers
        message = await listener.get_message(ignore_subscribe_messages=True, timeout=1)
        assert message is not None and message["data"] == b"1"
    finally:
        await listener.aclose()


def test_one_batcher_serves_one_event_loop_after_another() -> None:
    seen: list[list[int]] = []

    async def doubled(keys: list[int]) -> list[int]:
        seen.append(keys)
        return [2 * key for key in keys]

    batched: Batched[int, int] = Batched(doubled)

    async def three() -> list[int]:
        return list(await asyncio.gather(*(batched.load(n) for n in (1, 2, 3))))

    assert asyncio.run(three()) == [2, 4, 6]
    assert asyncio.run(three()) == [2, 4, 6]  # a new loop: a new loader, not the closed loop's
    assert seen == [[1, 2, 3], [1, 2, 3]]
