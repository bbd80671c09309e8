"""Idempotency-Key records: a mutation's first response, replayed for the same key for a day.

The storage-neutral API (Outcome, Begin, IdempotencyStore) is shared with the Redis store of the
gateway. A record is keyed by (token subject, key) and remembers the request fingerprint (a SHA-256
the caller computes; request bodies are never stored) and, once the request finished, its response.

The database store is settled by the unique (subject, key) constraint: of two concurrent first
requests only one INSERT succeeds and the other reads the winner's row. Replacing an expired record
and taking over a stale RUNNING one are UPDATEs conditional on the created_at that was read, so of
two racing takers only one matches a row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from registry import clock
from registry.db import unique_violation
from registry.idempotency.models import IdempotencyRecord, RecordState
from registry.ids import new_id

KEY_MAX_LENGTH = 255
SUBJECT_MAX_LENGTH = 64
DEFAULT_TTL = timedelta(hours=24)
DEFAULT_STALE_AFTER = timedelta(seconds=120)
_KEY = re.compile(rf"[\x20-\x7e]{{1,{KEY_MAX_LENGTH}}}")
_FINGERPRINT = re.compile(r"[0-9a-f]{64}")
# A row can vanish (abandon, purge) or be taken over between our INSERT and our read; retry a few times.
_ATTEMPTS = 3


class Outcome(StrEnum):
    STARTED = "STARTED"  # run the request, then call complete() or abandon()
    REPLAY = "REPLAY"  # answer with the stored response
    IN_PROGRESS = "IN_PROGRESS"  # the first request is still running: 409
    MISMATCH = "MISMATCH"  # the key was used for a different request: 422


@dataclass(frozen=True, slots=True)
class Begin:
    outcome: Outcome
    status: int | None = None
    body: bytes | None = None
    headers: dict[str, str] | None = None


class InvalidIdempotencyKey(ValueError):
    """The Idempotency-Key header is not 1..255 printable ASCII characters (the client's mistake)."""


class IdempotencyStore(Protocol):
    async def begin(self, subject: str, key: str, fingerprint: str, *, now: datetime | None = None) -> Begin:
        """Claim the key for this request, or say why not (replay, in progress, mismatch)."""
        ...

    async def complete(
        self, subject: str, key: str, fingerprint: str, *, status: int, body: bytes, headers: dict[str, str]
    ) -> None:
        """Store the response of a STARTED request; later begin() calls replay it."""
        ...

    async def abandon(self, subject: str, key: str, fingerprint: str) -> None:
        """Forget a STARTED request that failed before changing anything, so a retry can run."""
        ...

    async def purge_expired(self, now: datetime | None = None) -> int:
        """Delete records whose replay window has ended; returns how many."""
        ...


def check_request(subject: str, key: str, fingerprint: str) -> None:
    if not _KEY.fullmatch(key):
        raise InvalidIdempotencyKey("an Idempotency-Key is 1 to 255 printable ASCII characters")
    # The subject and fingerprint come from our own code, so a bad one is a bug, not a client error.
    if not 0 < len(subject) <= SUBJECT_MAX_LENGTH:
        raise ValueError(f"an idempotency subject is 1 to {SUBJECT_MAX_LENGTH} characters")
    if not _FINGERPRINT.fullmatch(fingerprint):
        raise ValueError("an idempotency fingerprint is a lowercase hex SHA-256")


def resolve_now(now: datetime | None) -> datetime:
    if now is None:
        return clock.now()
    if now.tzinfo is None:
        raise ValueError("idempotency instants must be timezone-aware")
    return now


class DatabaseIdempotencyStore:
    def __init__(self, ttl: timedelta = DEFAULT_TTL, stale_after: timedelta = DEFAULT_STALE_AFTER) -> None:
        self.ttl = ttl
        self.stale_after = stale_after

    async def begin(self, subject: str, key: str, fingerprint: str, *, now: datetime | None = None) -> Begin:
        check_request(subject, key, fingerprint)
        at = resolve_now(now)
        for _ in range(_ATTEMPTS):
            if await self._insert(subject, key, fingerprint, at):
                return Begin(Outcome.STARTED)
            found = await IdempotencyRecord.get_or_none(subject=subject, key=key)
            if found is None:
                continue
            settled = await self._settle(found, fingerprint, at)
            if settled is not None:
                return settled
        # Lost every race to other writers of this key: the client may simply retry after a 409.
        return Begin(Outcome.IN_PROGRESS)

    async def complete(
        self, subject: str, key: str, fingerprint: str, *, status: int, body: bytes, headers: dict[str, str]
    ) -> None:
        # Only a RUNNING record of this request: a late original after a takeover must not overwrite a
        # response that was already stored (the first stored response is the one replayed).
        await IdempotencyRecord.filter(
            subject=subject, key=key, fingerprint=fingerprint, state=RecordState.RUNNING
        ).update(state=RecordState.DONE, status=status, response=body, headers=dict(headers))

    async def abandon(self, subject: str, key: str, fingerprint: str) -> None:
        await IdempotencyRecord.filter(
            subject=subject, key=key, fingerprint=fingerprint, state=RecordState.RUNNING
        ).delete()

    async def purge_expired(self, now: datetime | None = None) -> int:
        return await IdempotencyRecord.filter(expires_at__lte=resolve_now(now)).delete()

    async def _insert(self, subject: str, key: str, fingerprint: str, at: datetime) -> bool:
        # Its own (nested) transaction: on PostgreSQL a failed INSERT aborts the enclosing transaction,
        # a savepoint confines that to the INSERT.
        try:
            async with in_transaction():
                await IdempotencyRecord.create(
                    id=new_id("idk"),
                    subject=subject,
                    key=key,
                    fingerprint=fingerprint,
                    state=RecordState.RUNNING,
                    created_at=at,
                    expires_at=at + self.ttl,
                )
        except IntegrityError as exc:
            if unique_violation(exc) is None:
                raise
            return False
        return True

    async def _settle(self, found: IdempotencyRecord, fingerprint: str, at: datetime) -> Begin | None:
        """The outcome for an existing record; None when another writer changed it first."""
        if found.expires_at <= at:
            return await self._restart(found, fingerprint, at, expires_at=at + self.ttl)
        if found.fingerprint != fingerprint:
            return Begin(Outcome.MISMATCH)
        if found.state == RecordState.DONE:
            return _replay(found)
        if at - found.created_at < self.stale_after:
            return Begin(Outcome.IN_PROGRESS)
        # Left RUNNING by a crashed process: run it again, still within the first request's window.
        return await self._restart(found, fingerprint, at, expires_at=found.expires_at)

    async def _restart(
        self, found: IdempotencyRecord, fingerprint: str, at: datetime, *, expires_at: datetime
    ) -> Begin | None:
        # Conditional on the attempt we read, so of two racing takers only one UPDATE matches the row.
        updated = await IdempotencyRecord.filter(id=found.id, created_at=found.created_at).update(
            fingerprint=fingerprint,
            state=RecordState.RUNNING,
            status=None,
            response=None,
            headers=None,
            created_at=at,
            expires_at=expires_at,
        )
        return Begin(Outcome.STARTED) if updated else None


def _replay(found: IdempotencyRecord) -> Begin:
    return Begin(Outcome.REPLAY, status=found.status, body=bytes(found.response or b""), headers=found.headers or {})
