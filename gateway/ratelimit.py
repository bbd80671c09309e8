"""Token-bucket rate limits, in-process or shared by every gateway process through Redis.

A bucket holds at most `burst` tokens and refills continuously at `rate_per_s`; a request costing
`cost` tokens is allowed while enough remain, otherwise the caller answers 429 with `Retry-After`.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from redis.asyncio import Redis

from gateway.batching import Batched

__all__ = ["Decision", "MemoryRateLimiter", "RateLimiter", "RedisRateLimiter", "retry_after_header"]

# Float rounding (large monotonic timestamps, rates like 3/s) must not refuse a client that waited
# exactly retry_after_s; the balance never drops below -_EPSILON, so this grants at most 1e-6 token.
_EPSILON = 1e-6


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after_s: float  # 0.0 when allowed
    remaining: int  # whole tokens left in the bucket


@runtime_checkable
class RateLimiter(Protocol):
    async def take(self, bucket: str, *, rate_per_s: float, burst: int, cost: int = 1) -> Decision: ...


def retry_after_header(decision: Decision) -> str:
    """Whole seconds, rounded up so a client that obeys it is never refused again for the same wait."""
    return str(max(1, math.ceil(decision.retry_after_s)))


def _check(rate_per_s: float, burst: int, cost: int) -> None:
    if not (math.isfinite(rate_per_s) and rate_per_s > 0):
        raise ValueError(f"rate_per_s must be a positive finite number, not {rate_per_s!r}")
    if burst < 1:
        raise ValueError(f"burst must be at least 1, not {burst!r}")
    # A cost above burst could never be allowed: answering 429 forever would hide a configuration bug.
    if not 1 <= cost <= burst:
        raise ValueError(f"cost must be between 1 and burst ({burst}), not {cost!r}")


class MemoryRateLimiter:
    """In-process buckets for a single worker (no LIVEGATE_REDIS_URL), least recently used evicted first.

    take() never awaits, so concurrent tasks cannot interleave between reading and writing a bucket.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_buckets: int = 100_000) -> None:
        if max_buckets < 1:
            raise ValueError("max_buckets must be positive")
        self._clock = clock
        self._max_buckets = max_buckets
        # bucket -> (tokens, time of that balance), least recently used first.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    async def take(self, bucket: str, *, rate_per_s: float, burst: int, cost: int = 1) -> Decision:
        _check(rate_per_s, burst, cost)
        now = self._clock()
        buckets = self._buckets
        state = buckets.get(bucket)
        if state is None:
            tokens = float(burst)  # unknown or evicted: treat as idle long enough to be full
        else:
            buckets.move_to_end(bucket)
            tokens, then = state
            # max(): a clock stepping back must not drain the bucket.
            tokens = min(float(burst), tokens + max(0.0, now - then) * rate_per_s)
        if tokens + _EPSILON < cost:
            # Nothing stored: refill from the old balance is the same line, and floods of refusals stay cheap.
            return Decision(False, (cost - tokens) / rate_per_s, int(tokens))
        tokens -= cost
        buckets[bucket] = (tokens, now)
        if len(buckets) > self._max_buckets:
            buckets.popitem(last=False)
        return Decision(True, 0.0, int(tokens))  # int() truncates the -_EPSILON overdraft to 0


# KEYS[i] bucket hash {tokens, ts} of the i-th take (a bucket may come more than once: its takes run in
# order); ARGV four values per take: rate_per_s, burst, cost, expiry in ms.
# Time comes from the Redis server so gateway processes with skewed clocks agree; a script calling TIME
# must be effects-replicated, the only mode since Redis 7. Returns {allowed, retry_after_ms, remaining}
# for each take, flattened, as integers because Redis truncates Lua numbers in replies.
_TAKE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local out = {}
for i = 1, #KEYS do
  local rate = tonumber(ARGV[4 * i - 3])
  local burst = tonumber(ARGV[4 * i - 2])
  local cost = tonumber(ARGV[4 * i - 1])
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'ts')
  local tokens = tonumber(state[1])
  local ts = tonumber(state[2])
  if tokens == nil or ts == nil then
    tokens = burst
  else
    tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
  end
  local allowed, retry_ms = 1, 0
  -- 1e-6 is _EPSILON: never refuse a client that waited exactly retry_after.
  if tokens + 1e-6 < cost then
    allowed, retry_ms = 0, math.ceil((cost - tokens) / rate * 1000)
  else
    tokens = tokens - cost
    -- %.17g: the default number-to-string conversion keeps 14 digits, which would drop the microseconds.
    redis.call('HSET', KEYS[i], 'tokens', string.format('%.17g', tokens), 'ts', string.format('%.17g', now))
    redis.call('PEXPIRE', KEYS[i], ARGV[4 * i])
  end
  out[3 * i - 2], out[3 * i - 1], out[3 * i] = allowed, retry_ms, math.max(0, math.floor(tokens))
end
return out
"""

_Take = tuple[str, float, int, int, int]  # key, rate_per_s, burst, cost, expiry in ms


class RedisRateLimiter:
    """Buckets shared by every gateway process, updated atomically by one Lua script.

    An idle bucket expires once it would be full again anyway, so Redis holds only active buckets. The
    takes of concurrent requests go in one script call (gateway/batching.py).
    """

    def __init__(self, client: Redis, *, prefix: str = "livegate:rl:") -> None:
        self._prefix = prefix
        self._script = client.register_script(_TAKE_LUA)  # EVALSHA, reloading the script after a flush
        self._takes: Batched[_Take, tuple[int, int, int]] = Batched(self._take_many)

    async def take(self, bucket: str, *, rate_per_s: float, burst: int, cost: int = 1) -> Decision:
        _check(rate_per_s, burst, cost)
        # From empty to full takes burst/rate; the extra second covers rounding and clock steps.
        expire_ms = math.ceil(burst / rate_per_s * 1000) + 1000
        allowed, retry_after_ms, remaining = await self._takes.load(
            (self._prefix + bucket, rate_per_s, burst, cost, expire_ms)
        )
        return Decision(bool(allowed), int(retry_after_ms) / 1000, int(remaining))

    async def _take_many(self, takes: list[_Take]) -> list[tuple[int, int, int]]:
        args = [value for take in takes for value in take[1:]]
        flat = await self._script(keys=[take[0] for take in takes], args=args)
        return [(flat[i], flat[i + 1], flat[i + 2]) for i in range(0, len(flat), 3)]
