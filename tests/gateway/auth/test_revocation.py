"""Revocation stores: in-process (bounded, self-pruning) and Redis (entries expire with the token)."""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from gateway.auth.keys import KeySet, generate_signing_key
from gateway.auth.revocation import (
    MemoryRevocationStore,
    RedisRevocationStore,
    RevocationStore,
    RevocationStoreFull,
)
from gateway.auth.tokens import InvalidToken, TokenService
from tests.conftest import drop_keys

REDIS_URL_VARIABLE = "LIVEGATE_TEST_REDIS_URL"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def later(clock: Clock, seconds: float) -> datetime:
    return clock.now + timedelta(seconds=seconds)


# -- in-process ----------------------------------------------------------------------------------


def test_stores_satisfy_the_protocol() -> None:
    assert isinstance(MemoryRevocationStore(), RevocationStore)
    assert isinstance(RedisRevocationStore(Redis()), RevocationStore)


async def test_memory_revoke_and_check(clock: Clock) -> None:
    store = MemoryRevocationStore(clock=clock)
    await store.revoke("a", later(clock, 60))
    assert await store.is_revoked("a")
    assert not await store.is_revoked("b")


async def test_memory_entries_end_with_the_token(clock: Clock) -> None:
    store = MemoryRevocationStore(clock=clock)
    await store.revoke("a", later(clock, 60))
    await store.revoke("b", later(clock, 120))
    clock.advance(61)
    assert not await store.is_revoked("a")
    assert await store.is_revoked("b")
    assert len(store) == 1  # pruned, not merely hidden


async def test_memory_ignores_already_expired_tokens(clock: Clock) -> None:
    store = MemoryRevocationStore(clock=clock)
    await store.revoke("gone", later(clock, -1))
    assert len(store) == 0 and not await store.is_revoked("gone")


async def test_memory_revoking_again_only_extends(clock: Clock) -> None:
    store = MemoryRevocationStore(clock=clock)
    await store.revoke("a", later(clock, 60))
    await store.revoke("a", later(clock, 30))  # must not shorten
    await store.revoke("a", later(clock, 120))
    clock.advance(90)
    assert await store.is_revoked("a")
    clock.advance(31)
    assert not await store.is_revoked("a")
    assert len(store) == 0


async def test_memory_store_is_bounded_and_never_forgets_silently(clock: Clock) -> None:
    store = MemoryRevocationStore(max_entries=3, clock=clock)
    for jti in ("a", "b", "c"):
        await store.revoke(jti, later(clock, 60))
    with pytest.raises(RevocationStoreFull):
        await store.revoke("d", later(clock, 60))
    assert all([await store.is_revoked(jti) for jti in ("a", "b", "c")])
    await store.revoke("a", later(clock, 90))  # an existing entry may still be extended
    clock.advance(61)  # b and c expire and make room
    await store.revoke("d", later(clock, 60))
    assert await store.is_revoked("d") and await store.is_revoked("a")
    assert len(store) == 2


async def test_memory_store_prunes_at_scale(clock: Clock) -> None:
    store = MemoryRevocationStore(max_entries=1000, clock=clock)
    for round_ in range(5):
        for n in range(1000):
            await store.revoke(f"{round_}-{n}", later(clock, 10))
        clock.advance(11)
    assert len(store) == 1000


def test_memory_store_refuses_a_zero_bound() -> None:
    with pytest.raises(ValueError):
        MemoryRevocationStore(max_entries=0)


# -- Redis ---------------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def redis_client() -> AsyncIterator[Redis]:
    url = os.environ.get(REDIS_URL_VARIABLE)
    if not url:
        pytest.skip(f"{REDIS_URL_VARIABLE} is not set; the Redis revocation store is not tested")
    client = Redis.from_url(url)
    try:
        await client.ping()
        yield client
    finally:
        await client.aclose()


@pytest_asyncio.fixture
async def redis_store(redis_client: Redis) -> AsyncIterator[RedisRevocationStore]:
    prefix = f"livegate:test:{secrets.token_hex(8)}:revoked:"
    yield RedisRevocationStore(redis_client, prefix=prefix)
    await drop_keys(redis_client, prefix)


def _key(store: RedisRevocationStore, jti: str) -> str:
    return store.prefix + jti


@pytest.mark.redis
async def test_redis_revoke_and_check(redis_store: RedisRevocationStore) -> None:
    await redis_store.revoke("a", datetime.now(UTC) + timedelta(minutes=5))
    assert await redis_store.is_revoked("a")
    assert not await redis_store.is_revoked("b")


@pytest.mark.redis
async def test_redis_entry_expires_at_the_token_exp(redis_store: RedisRevocationStore, redis_client: Redis) -> None:
    expires_at = datetime.now(UTC) + timedelta(minutes=5, milliseconds=300)
    await redis_store.revoke("a", expires_at)
    # Rounded up to whole seconds (EXAT), so never before the token's own exp.
    remaining_ms = await redis_client.pttl(_key(redis_store, "a"))
    expected_ms = (math.ceil(expires_at.timestamp()) - datetime.now(UTC).timestamp()) * 1000
    assert expected_ms - 2000 <= remaining_ms <= expected_ms + 50


@pytest.mark.redis
async def test_redis_ignores_already_expired_tokens(redis_store: RedisRevocationStore, redis_client: Redis) -> None:
    await redis_store.revoke("gone", datetime.now(UTC) - timedelta(seconds=1))
    assert not await redis_store.is_revoked("gone")
    assert not await redis_client.exists(_key(redis_store, "gone"))


@pytest.mark.redis
async def test_redis_entry_disappears_after_exp(redis_store: RedisRevocationStore, redis_client: Redis) -> None:
    await redis_store.revoke("short", datetime.now(UTC) + timedelta(seconds=1))
    assert await redis_store.is_revoked("short")
    await redis_client.pexpire(_key(redis_store, "short"), 1)  # fast-forward instead of sleeping
    for _ in range(100):
        if not await redis_store.is_revoked("short"):
            break
    assert not await redis_store.is_revoked("short")


@pytest.mark.redis
async def test_revocation_is_shared_between_processes(redis_store: RedisRevocationStore) -> None:
    keys = KeySet([generate_signing_key()])
    # Two services on one store stand for two gateway workers.
    first = TokenService(keys, issuer="http://test", revocations=redis_store)
    second = TokenService(keys, issuer="http://test", revocations=redis_store)
    token, _ = first.issue("platform-1", ["performers:read"], lifetime=timedelta(minutes=15))
    assert (await second.verify(token)).sub == "platform-1"  # now cached in the second worker
    assert await first.revoke(token)
    with pytest.raises(InvalidToken):
        await second.verify(token)
