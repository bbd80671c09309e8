"""The audit trail: one SHA-256 hash chain per platform, appended in the writer's transaction.

`canonical` is the exact text hashed. It holds ids, blind indexes and statuses, never raw personal
data, so redacting personal data never breaks a chain. The append locks the chain head
(`SELECT ... FOR UPDATE` on PostgreSQL; SQLite serializes writers anyway), and a unique
(platform, seq) constraint is the last guard against a fork.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from tortoise.transactions import in_transaction

from registry import clock
from registry.actors import Actor
from registry.audit.models import GENESIS_HASH, AuditEvent, AuditHead
from registry.ids import new_id
from registry.performers import eligibility_cache

_CHUNK = 1000
# Changes that never alter whether anyone may go live (token traffic, sessions, suppliers).
_NEUTRAL = ("token.", "onboarding.", "supplier.")


@dataclass(frozen=True, slots=True)
class Change:
    """One thing that happened, as the audit trail records it."""

    action: str  # e.g. performer.registered (catalogue in README.md)
    subject_id: str | None
    data: Mapping[str, Any]


class ChainCheck(NamedTuple):
    ok: bool
    checked: int
    first_broken_id: str | None


def canonical_json(value: Mapping[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} does not belong in an audit event")


def link_hash(prev_hash: str, canonical: str) -> str:
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


async def create_chain(platform_id: str) -> None:
    await AuditHead.create(platform_id=platform_id)


async def record(actor: Actor, change: Change) -> AuditEvent:
    return (await record_many(actor, [change]))[0]


async def record_many(actor: Actor, changes: Sequence[Change]) -> list[AuditEvent]:
    """Append events in order; call it inside the transaction of the change it records."""
    if any(not change.action.startswith(_NEUTRAL) for change in changes):
        eligibility_cache.CACHE.bump()  # the change may alter someone's eligibility
    async with in_transaction():
        head = await AuditHead.select_for_update().get(platform_id=actor.platform_id)
        at = clock.now()
        events = []
        seq, prev = head.seq, head.hash
        for change in changes:
            seq += 1
            event_id = new_id("aud")
            canonical = canonical_json(
                {
                    "id": event_id,
                    "platform": actor.platform_id,
                    "seq": seq,
                    "at": at,
                    "actor": actor.kind.value,
                    "token": actor.token_id,
                    "session": actor.session_id,
                    "action": change.action,
                    "subject": change.subject_id,
                    "data": change.data,
                }
            )
            digest = link_hash(prev, canonical)
            events.append(
                AuditEvent(
                    id=event_id,
                    platform_id=actor.platform_id,
                    seq=seq,
                    at=at,
                    actor_kind=actor.kind.value,
                    token_id=actor.token_id,
                    action=change.action,
                    subject_id=change.subject_id,
                    canonical=canonical,
                    hash=digest,
                    prev_hash=prev,
                )
            )
            prev = digest
        await AuditEvent.bulk_create(events)
        head.seq, head.hash = seq, prev
        await head.save(update_fields=["seq", "hash"])
    return events


async def verify_chain(platform_id: str, *, after: str | None = None, limit: int = 100_000) -> ChainCheck:
    """Recompute the chain from genesis (or from the event `after`), at most `limit` links."""
    seq, prev = 0, GENESIS_HASH
    if after is not None:
        start = await AuditEvent.get_or_none(id=after, platform_id=platform_id)
        if start is None:
            return ChainCheck(ok=False, checked=0, first_broken_id=None)
        seq, prev = start.seq, start.hash
    checked = 0
    while checked < limit:
        rows = (
            await AuditEvent.filter(platform_id=platform_id, seq__gt=seq)
            .order_by("seq")
            .limit(min(_CHUNK, limit - checked))
        )
        if not rows:
            break
        for event in rows:
            if event.seq != seq + 1 or event.prev_hash != prev or link_hash(prev, event.canonical) != event.hash:
                return ChainCheck(ok=False, checked=checked, first_broken_id=event.id)
            seq, prev, checked = event.seq, event.hash, checked + 1
    if checked < limit:
        # The whole tail was read: its last link must be the head, or the tail was rewritten.
        head = await AuditHead.get_or_none(platform_id=platform_id)
        if head is not None and (head.seq, head.hash) != (seq, prev):
            last = await AuditEvent.get_or_none(platform_id=platform_id, seq=seq)
            return ChainCheck(ok=False, checked=checked, first_broken_id=last.id if last else None)
    return ChainCheck(ok=True, checked=checked, first_broken_id=None)


async def list_events(
    platform_id: str, *, subject_id: str | None, first: int, after_seq: int | None
) -> tuple[list[AuditEvent], bool]:
    """A platform's events in chain order (its own chain only), keyset-paginated by sequence number."""
    query = AuditEvent.filter(platform_id=platform_id)
    if subject_id is not None:
        query = query.filter(subject_id=subject_id)
    if after_seq is not None:
        query = query.filter(seq__gt=after_seq)
    rows = await query.order_by("seq").limit(first + 1)
    return rows[:first], len(rows) > first
