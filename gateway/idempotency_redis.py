"""Idempotency-Key records in Redis, for gateways that share one (the rules are registry.idempotency's).

A record is one hash (fields fingerprint, state, status, body, headers, started_at, expires_at) under
`{prefix}{len(subject)}:{subject}:{key}`; the length prefix keeps subject "a:b" with key "c" apart from
subject "a" with key "b:c". Every check-and-change is a Lua script, so it is atomic: claiming a new key
(the SET NX of this store), replacing an expired record and taking over a stale RUNNING one cannot
race. Redis expires a record itself after the TTL; expires_at also ends it logically, for callers that
pass their own `now`.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from redis.asyncio import Redis

from registry.idempotency.services import (
    DEFAULT_STALE_AFTER,
    DEFAULT_TTL,
    Begin,
    Outcome,
    check_request,
    resolve_now,
)

# KEYS[1] the record; ARGV fingerprint, now_ms, expires_at_ms, ttl_ms, stale_ms.
_BEGIN = """
local now = tonumber(ARGV[2])
local r = redis.call('HMGET', KEYS[1], 'fingerprint', 'state', 'status', 'body', 'headers', 'started_at', 'expires_at')
if not r[1] or tonumber(r[7]) <= now then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'fingerprint', ARGV[1], 'state', 'RUNNING', 'started_at', ARGV[2], 'expires_at', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return {'STARTED'}
end
if r[1] ~= ARGV[1] then return {'MISMATCH'} end
if r[2] == 'DONE' then return {'REPLAY', r[3], r[4], r[5]} end
if now - tonumber(r[6]) < tonumber(ARGV[5]) then return {'IN_PROGRESS'} end
redis.call('HSET', KEYS[1], 'started_at', ARGV[2])
return {'STARTED'}
"""

# KEYS[1] the record; ARGV fingerprint, status, body, headers. Only a RUNNING record of this request.
_COMPLETE = """
if redis.call('HGET', KEYS[1], 'fingerprint') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'state') ~= 'RUNNING' then
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'DONE', 'status', ARGV[2], 'body', ARGV[3], 'headers', ARGV[4])
return 1
"""

# KEYS[1] the record; ARGV fingerprint.
_ABANDON = """
if redis.call('HGET', KEYS[1], 'fingerprint') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'state') ~= 'RUNNING' then
  return 0
end
return redis.call('DEL', KEYS[1])
"""

# KEYS[1] a record; ARGV now_ms.
_PURGE = """
local expires_at = redis.call('HGET', KEYS[1], 'expires_at')
if expires_at and tonumber(expires_at) <= tonumber(ARGV[1]) then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

_GLOB_SPECIAL = str.maketrans({c: "\\" + c for c in "*?[]\\"})


class RedisIdempotencyStore:
    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = "livegate:idem:",
        ttl: timedelta = DEFAULT_TTL,
        stale_after: timedelta = DEFAULT_STALE_AFTER,
    ) -> None:
        # Stored bodies are arbitrary bytes; a decoding client would fail on (or mangle) them.
        if client.get_connection_kwargs().get("decode_responses"):
            raise ValueError("the idempotency store needs a Redis client without decode_responses")
        self.client = client
        self.prefix = prefix
        self.ttl = ttl
        self.stale_after = stale_after
        self._begin = client.register_script(_BEGIN)
        self._complete = client.register_script(_COMPLETE)
        self._abandon = client.register_script(_ABANDON)
        self._purge = client.register_script(_PURGE)

    async def begin(self, subject: str, key: str, fingerprint: str, *, now: datetime | None = None) -> Begin:
        check_request(subject, key, fingerprint)
        at = resolve_now(now)
        args = [fingerprint, _ms(at), _ms(at + self.ttl), _duration_ms(self.ttl), _duration_ms(self.stale_after)]
        reply = await self._begin(keys=[self._record_key(subject, key)], args=args)
        return _begin_from(reply)

    async def complete(
        self, subject: str, key: str, fingerprint: str, *, status: int, body: bytes, headers: dict[str, str]
    ) -> None:
        args = [fingerprint, status, body, json.dumps(headers, separators=(",", ":"))]
        await self._complete(keys=[self._record_key(subject, key)], args=args)

    async def abandon(self, subject: str, key: str, fingerprint: str) -> None:
        await self._abandon(keys=[self._record_key(subject, key)], args=[fingerprint])

    async def purge_expired(self, now: datetime | None = None) -> int:
        # Redis already drops records after the TTL; this catches the ones a caller's `now` has ended.
        now_ms = _ms(resolve_now(now))
        purged = 0
        async for name in self.client.scan_iter(match=self.prefix.translate(_GLOB_SPECIAL) + "*", count=500):
            purged += int(await self._purge(keys=[name], args=[now_ms]))
        return purged

    def _record_key(self, subject: str, key: str) -> str:
        return f"{self.prefix}{len(subject)}:{subject}:{key}"


def _begin_from(reply: list[bytes]) -> Begin:
    outcome = Outcome(reply[0].decode())
    if outcome is not Outcome.REPLAY:
        return Begin(outcome)
    status, body, headers = reply[1:4]
    return Begin(outcome, status=int(status), body=bytes(body), headers=json.loads(headers))


def _ms(at: datetime) -> int:
    return round(at.timestamp() * 1000)


def _duration_ms(duration: timedelta) -> int:
    return round(duration / timedelta(milliseconds=1))
