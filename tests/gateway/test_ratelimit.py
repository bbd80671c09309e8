"""Token-bucket rate limiters: in-process (fake clock, exact numbers) and Redis (shared, atomic, expiring)."""

from __future__ import annotations

import asyncio
import math
import secrets
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio import Redis

from gateway.ratelimit import Decision, MemoryRateLimiter, RateLimiter, RedisRateLimiter, retry_after_header
from tests.conftest import drop_keys

# Far from zero, like time.monotonic(), so float rounding of `now - then` is realistic.
START = 123_456.789
SLOW = 0.01  # tokens per second: nothing refills noticeably during a test on a real clock


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def run_now(coro: Coroutine[Any, Any, Decision]) -> Decision:
    """Run a take() that must finish without suspending: no other task can run between its read and write."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise AssertionError("take() suspended")


# -- shared behaviour: in-process and, when configured, Redis -------------------------------------


@pytest_asyncio.fixture
async def redis_clients(redis_url: str) -> AsyncIterator[tuple[Redis, Redis, str]]:
    """Two connections stand for two gateway processes; the random prefix keeps tests apart."""
    prefix = f"livegate:test:{secrets.token_hex(8)}:rl:"
    first, second = Redis.from_url(redis_url), Redis.from_url(redis_url)
    try:
        await first.ping()
        yield first, second, prefix
    finally:
        await drop_keys(first, prefix)
        await first.aclose()
        await second.aclose()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def limiter(request: pytest.FixtureRequest) -> RateLimiter:
    if request.param == "memory":
        return MemoryRateLimiter()
    client, _, prefix = request.getfixturevalue("redis_clients")
    return RedisRateLimiter(client, prefix=prefix)


def test_limiters_satisfy_the_protocol() -> None:
    assert isinstance(MemoryRateLimiter(), RateLimiter)
    assert isinstance(RedisRateLimiter(Redis()), RateLimiter)


async def test_burst_is_allowed_then_refused(limiter: RateLimiter) -> None:
    taken = [await limiter.take("p", rate_per_s=SLOW, burst=3) for _ in range(4)]
    assert [(d.allowed, d.remaining) for d in taken] == [(True, 2), (True, 1), (True, 0), (False, 0)]
    assert all(d.retry_after_s == 0 for d in taken[:3])
    # One token at 0.01/s is about 100 s away (less the few ms the test took).
    assert 99 < taken[3].retry_after_s <= 100


async def test_a_cost_takes_several_tokens(limiter: RateLimiter) -> None:
    assert await limiter.take("p", rate_per_s=SLOW, burst=5, cost=3) == Decision(True, 0.0, 2)
    refused = await limiter.take("p", rate_per_s=SLOW, burst=5, cost=3)
    assert not refused.allowed
    assert refused.remaining == 2  # a refusal takes nothing
    assert 99 < refused.retry_after_s <= 100  # the one missing token
    assert await limiter.take("p", rate_per_s=SLOW, burst=5, cost=2) == Decision(True, 0.0, 0)


async def test_buckets_are_independent(limiter: RateLimiter) -> None:
    assert (await limiter.take("a", rate_per_s=SLOW, burst=1)).allowed
    assert not (await limiter.take("a", rate_per_s=SLOW, burst=1)).allowed
    assert (await limiter.take("b", rate_per_s=SLOW, burst=1)).allowed


async def test_concurrent_takes_never_overdraw(limiter: RateLimiter) -> None:
    decisions = await asyncio.gather(*(limiter.take("p", rate_per_s=SLOW, burst=10) for _ in range(40)))
    assert sum(d.allowed for d in decisions) == 10


async def test_waiting_retry_after_is_enough(limiter: RateLimiter) -> None:
    rate = 50.0  # a token every 20 ms keeps the real-time wait short
    for _ in range(2):
        await limiter.take("p", rate_per_s=rate, burst=2)
    refused = await limiter.take("p", rate_per_s=rate, burst=2)
    assert not refused.allowed
    assert 0 < refused.retry_after_s <= 1 / rate
    await asyncio.sleep(refused.retry_after_s)
    assert (await limiter.take("p", rate_per_s=rate, burst=2)).allowed


async def test_refill_is_capped_at_burst(limiter: RateLimiter) -> None:
    await limiter.take("p", rate_per_s=10, burst=2)
    await asyncio.sleep(0.5)  # five tokens' worth of time, but the bucket holds two
    taken = [(await limiter.take("p", rate_per_s=10, burst=2)).allowed for _ in range(3)]
    assert taken == [True, True, False]


@pytest.mark.parametrize(
    ("rate", "burst", "cost"),
    [(0, 1, 1), (-1, 1, 1), (math.inf, 1, 1), (math.nan, 1, 1), (1, 0, 1), (1, 2, 0), (1, 2, 3)],
)
async def test_invalid_arguments_are_refused(limiter: RateLimiter, rate: float, burst: int, cost: int) -> None:
    with pytest.raises(ValueError):
        await limiter.take("p", rate_per_s=rate, burst=burst, cost=cost)


# -- in-process, exact numbers on a fake clock ----------------------------------------------------


async def test_memory_refills_continuously_up_to_burst(clock: Clock) -> None:
    limiter = MemoryRateLimiter(clock=clock)
    for _ in range(3):
        await limiter.take("p", rate_per_s=2, burst=3)
    assert not (await limiter.take("p", rate_per_s=2, burst=3)).allowed
    clock.advance(0.5)  # one token at 2/s
    assert await limiter.take("p", rate_per_s=2, burst=3) == Decision(True, 0.0, 0)
    assert not (await limiter.take("p", rate_per_s=2, burst=3)).allowed
    clock.advance(3600)  # capped at burst, not 7,200 tokens
    assert [(await limiter.take("p", rate_per_s=2, burst=3)).allowed for _ in range(4)] == [True] * 3 + [False]


async def test_memory_retry_after_is_exact(clock: Clock) -> None:
    limiter = MemoryRateLimiter(clock=clock)
    await limiter.take("p", rate_per_s=4, burst=2, cost=2)
    clock.advance(0.125)  # half a token back
    assert await limiter.take("p", rate_per_s=4, burst=2) == Decision(False, 0.125, 0)
    assert await limiter.take("p", rate_per_s=4, burst=2, cost=2) == Decision(False, 0.375, 0)
    clock.advance(0.124)
    assert not (await limiter.take("p", rate_per_s=4, burst=2)).allowed
    clock.advance(0.001)
    assert (await limiter.take("p", rate_per_s=4, burst=2)).allowed


async def test_memory_waiting_exactly_retry_after_survives_rounding(clock: Clock) -> None:
    limiter = MemoryRateLimiter(clock=clock)
    await limiter.take("p", rate_per_s=3, burst=1)
    for _ in range(100):
        refused = await limiter.take("p", rate_per_s=3, burst=1)
        assert not refused.allowed
        clock.advance(refused.retry_after_s)  # 1/3 s is not exact in binary
        assert (await limiter.take("p", rate_per_s=3, burst=1)).allowed


async def test_memory_clock_stepping_back_does_not_drain(clock: Clock) -> None:
    limiter = MemoryRateLimiter(clock=clock)
    await limiter.take("p", rate_per_s=1, burst=2)
    clock.advance(-10)
    assert await limiter.take("p", rate_per_s=1, burst=2) == Decision(True, 0.0, 0)


async def test_memory_evicts_the_least_recently_used_bucket(clock: Clock) -> None:
    limiter = MemoryRateLimiter(clock=clock, max_buckets=2)

    async def allowed(bucket: str) -> bool:
        return (await limiter.take(bucket, rate_per_s=SLOW, burst=1)).allowed

    assert await allowed("a")
    assert await allowed("b")
    assert not await allowed("a")  # a refusal still counts as use
    assert await allowed("c")  # evicts b, not the drained a
    assert len(limiter) == 2
    assert not await allowed("a")
    assert await allowed("b")  # restarted full, as if idle
    assert len(limiter) == 2


def test_memory_refuses_a_zero_bound() -> None:
    with pytest.raises(ValueError):
        MemoryRateLimiter(max_buckets=0)


def test_memory_take_never_suspends(clock: Clock) -> None:
    limiter = MemoryRateLimiter(clock=clock)
    assert run_now(limiter.take("p", rate_per_s=1, burst=1)).allowed


@st.composite
def schedules(draw: st.DrawFn) -> tuple[float, int, list[tuple[float, int]]]:
    """A rate, a burst and (time advance, cost) steps; simultaneous requests are common, as in a flood."""
    rate = draw(st.floats(min_value=0.01, max_value=1000))
    burst = draw(st.integers(min_value=1, max_value=10))
    advance = st.one_of(st.just(0.0), st.floats(min_value=0, max_value=3))
    steps = draw(st.lists(st.tuples(advance, st.integers(min_value=1, max_value=burst)), max_size=60))
    return rate, burst, steps


@given(schedules())
def test_memory_never_allows_more_than_burst_plus_refill(schedule: tuple[float, int, list[tuple[float, int]]]) -> None:
    rate, burst, steps = schedule
    clock = Clock()
    limiter = MemoryRateLimiter(clock=clock)
    allowed: list[tuple[float, int]] = []  # (time, cost) of each allowed take
    for advance, cost in steps:
        clock.advance(advance)
        decision = run_now(limiter.take("p", rate_per_s=rate, burst=burst, cost=cost))
        if decision.allowed:
            allowed.append((clock.now, cost))
        else:
            # Refused only while tokens are missing, so the wait is never zero.
            assert decision.retry_after_s > 0
    for i, (start, _) in enumerate(allowed):
        spent = 0
        for end, cost in allowed[i:]:
            spent += cost
            assert spent <= burst + rate * (end - start) + 1e-6


@given(
    rate=st.floats(min_value=0.01, max_value=1000, allow_nan=False),
    burst=st.integers(min_value=1, max_value=20),
    advances=st.lists(st.floats(min_value=0, max_value=2, allow_nan=False), max_size=30),
)
def test_memory_waiting_retry_after_always_succeeds(rate: float, burst: int, advances: list[float]) -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock=clock)
    for advance in advances:
        clock.advance(advance)
        decision = run_now(limiter.take("p", rate_per_s=rate, burst=burst, cost=burst))
        if not decision.allowed:
            clock.advance(decision.retry_after_s)
            assert run_now(limiter.take("p", rate_per_s=rate, burst=burst, cost=burst)).allowed


@pytest.mark.parametrize(("seconds", "header"), [(0.0, "1"), (0.001, "1"), (1.0, "1"), (1.001, "2"), (59.5, "60")])
def test_retry_after_header_rounds_up_to_whole_seconds(seconds: float, header: str) -> None:
    assert retry_after_header(Decision(False, seconds, 0)) == header


# -- Redis: shared by processes, atomic, expiring --------------------------------------------------


@pytest.mark.redis
async def test_redis_processes_share_a_bucket(redis_clients: tuple[Redis, Redis, str]) -> None:
    first, second, prefix = redis_clients
    one, two = RedisRateLimiter(first, prefix=prefix), RedisRateLimiter(second, prefix=prefix)
    decisions = [await (one if i % 2 else two).take("p", rate_per_s=SLOW, burst=4) for i in range(6)]
    assert [(d.allowed, d.remaining) for d in decisions] == [(True, 3), (True, 2), (True, 1), (True, 0)] + [
        (False, 0)
    ] * 2
    # And atomically: concurrent takes from both processes never exceed the burst together.
    concurrent = await asyncio.gather(
        *((one, two)[i % 2].take("q", rate_per_s=SLOW, burst=10) for i in range(60)),
    )
    assert sum(d.allowed for d in concurrent) == 10


@pytest.mark.redis
async def test_redis_retry_after_rounds_up_and_a_clock_step_back_does_not_drain(
    redis_clients: tuple[Redis, Redis, str],
) -> None:
    client, _, prefix = redis_clients
    limiter = RedisRateLimiter(client, prefix=prefix)
    seconds, _ = await client.time()
    # As written before a failover to a server whose clock is behind: no refill, but no drain either.
    await client.hset(prefix + "p", mapping={"tokens": 0.5, "ts": seconds + 1000})
    # Half a token at 3/s is 166.67 ms away: rounded up, so a client that waits it is never early.
    assert await limiter.take("p", rate_per_s=3, burst=1) == Decision(False, 0.167, 0)


@pytest.mark.redis
async def test_redis_bucket_expires_once_it_would_be_full(redis_clients: tuple[Redis, Redis, str]) -> None:
    client, _, prefix = redis_clients
    limiter = RedisRateLimiter(client, prefix=prefix)
    await limiter.take("slow", rate_per_s=SLOW, burst=3)
    assert set(await client.hgetall(prefix + "slow")) == {b"tokens", b"ts"}
    ttl_ms = await client.pttl(prefix + "slow")
    assert 300_000 < ttl_ms <= 301_000  # burst / rate + 1 s

    await limiter.take("fast", rate_per_s=100, burst=1)  # full again after 10 ms, gone after 1.01 s
    await asyncio.sleep(1.1)
    assert not await client.exists(prefix + "fast")
    assert await limiter.take("fast", rate_per_s=100, burst=1) == Decision(True, 0.0, 0)


@pytest.mark.redis
async def test_redis_refusal_writes_nothing(redis_clients: tuple[Redis, Redis, str]) -> None:
    client, _, prefix = redis_clients
    limiter = RedisRateLimiter(client, prefix=prefix)
    await limiter.take("p", rate_per_s=SLOW, burst=1)
    before = await client.hgetall(prefix + "p")
    assert not (await limiter.take("p", rate_per_s=SLOW, burst=1)).allowed
    assert await client.hgetall(prefix + "p") == before
