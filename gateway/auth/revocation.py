"""Revoked token ids (`jti`), each kept only until the token would have expired anyway."""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from redis.asyncio import Redis

from gateway.batching import Batched

__all__ = ["MemoryRevocationStore", "RedisRevocationStore", "RevocationStore", "RevocationStoreFull"]


@runtime_checkable
class RevocationStore(Protocol):
    async def revoke(self, jti: str, expires_at: datetime) -> None: ...

    async def is_revoked(self, jti: str) -> bool: ...


class RevocationStoreFull(RuntimeError):
    """Raised instead of silently forgetting a revocation, which would make a revoked token valid again."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


class MemoryRevocationStore:
    """In-process store for a single worker (no LIVEGATE_REDIS_URL)."""

    def __init__(self, *, max_entries: int = 100_000, clock: Callable[[], datetime] = _utcnow) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be positive")
        self._max_entries = max_entries
        self._clock = clock
        self._expiry: dict[str, float] = {}
        # Min-heap of (expiry, jti) so pruning costs only the entries that actually expired.
        self._heap: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._expiry)

    async def revoke(self, jti: str, expires_at: datetime) -> None:
        now = self._clock().timestamp()
        expiry = expires_at.timestamp()
        if expiry <= now:
            return  # an expired token is refused anyway
        self._prune(now)
        known = self._expiry.get(jti)
        if known is not None and known >= expiry:
            return
        if known is None and len(self._expiry) >= self._max_entries:
            raise RevocationStoreFull(f"more than {self._max_entries} unexpired revocations")
        self._expiry[jti] = expiry
        heapq.heappush(self._heap, (expiry, jti))

    async def is_revoked(self, jti: str) -> bool:
        expiry = self._expiry.get(jti)
        if expiry is None:
            return False
        if expiry <= self._clock().timestamp():
            self._prune(self._clock().timestamp())
            return False
        return True

    def _prune(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            expiry, jti = heapq.heappop(heap)
            # A jti revoked twice has a stale heap entry; only the newest expiry removes it.
            if self._expiry.get(jti) == expiry:
                del self._expiry[jti]


class RedisRevocationStore:
    """Shared by every gateway process; each key expires with its token (SET ... EXAT). The checks of
    concurrent requests go in one MGET (gateway/batching.py)."""

    def __init__(self, client: Redis, prefix: str = "livegate:revoked:") -> None:
        self._client = client
        self._prefix = prefix
        self._checks: Batched[str, bool] = Batched(self._are_revoked)

    @property
    def prefix(self) -> str:
        return self._prefix

    def _key(self, jti: str) -> str:
        return self._prefix + jti

    async def revoke(self, jti: str, expires_at: datetime) -> None:
        # Round up so the entry never disappears before the token's own exp.
        expire_at = math.ceil(expires_at.timestamp())
        if expire_at <= _utcnow().timestamp():
            return
        await self._client.set(self._key(jti), b"1", exat=expire_at)

    async def is_revoked(self, jti: str) -> bool:
        return await self._checks.load(self._key(jti))

    async def _are_revoked(self, keys: list[str]) -> list[bool]:
        return [value is not None for value in await self._client.mget(keys)]
