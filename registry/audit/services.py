"""The audit trail: one SHA-256 hash chain per platform, appended in the writer's transaction.

`canonical` is the exact text hashed. It holds ids, blind indexes and statuses, never raw personal
data, so redacting personal data never breaks a chain. The append locks the chain head
(`SELECT ... FOR UPDATE` on PostgreSQL; SQLite serializes writers anyway), and a unique
(platform, seq) constraint is the last guard against a fork.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, NamedTuple
from weakref import WeakKeyDictionary

import orjson
from tortoise.backends.base.client import BaseDBAsyncClient, TransactionalDBClient
from tortoise.connection import get_connection
from tortoise.transactions import in_transaction

from registry import clock, sql
from registry.actors import Actor
from registry.audit.models import GENESIS_HASH, AuditEvent, AuditHead
from registry.ids import new_ids
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


def _event_json(value: Mapping[str, Any]) -> str:
    """`canonical_json`, byte for byte, through orjson when every value is of a type both write alike.

    orjson is several times faster, and for dicts with str keys, lists, str, int, bool and None its
    compact, key-sorted UTF-8 output equals json's (tests/registry/audit compares them). Anything else
    (floats, datetimes, subclasses, ints beyond 64 bits, lone surrogates) takes the json path, so
    what a chain holds does not depend on which path wrote it.
    """
    if _plain_dict(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
        except orjson.JSONEncodeError:
            pass
    return canonical_json(value)


_SCALARS = frozenset({str, int, bool, type(None)})


def _plain_dict(value: object) -> bool:
    if type(value) is not dict:
        return False
    for key, item in value.items():  # type: ignore[attr-defined]
        if type(key) is not str or (type(item) not in _SCALARS and not _plain(item)):
            return False
    return True


def _plain(value: object) -> bool:
    kind = type(value)
    if kind in _SCALARS:
        return True
    if kind is dict:
        return _plain_dict(value)
    if kind is list or kind is tuple:
        return all(type(v) in _SCALARS or _plain(v) for v in value)  # type: ignore[attr-defined]
    return False


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
    return [
        AuditEvent.construct(_saved_in_db=True, **dict(zip(_COLUMNS, row, strict=True)))
        for row in await _append(actor, changes)
    ]


async def append_many(actor: Actor, changes: Sequence[Change]) -> None:
    """`record_many` for bulk writers that do not need the events back: the same links, no model objects."""
    await _append(actor, changes)


# The columns of an event as `_append` builds them, in this order.
_COLUMNS: Final = (
    "id", "platform_id", "seq", "at", "actor_kind", "token_id", "action", "subject_id", "canonical", "hash",
    "prev_hash",
)  # fmt: skip
_Row = tuple[str, str, int, datetime, str, str | None, str, str | None, str, str, str]


async def _append(actor: Actor, changes: Sequence[Change]) -> list[_Row]:
    """Link the changes onto the platform's chain under its head lock and write them with one statement."""
    if len(changes) == 1 and get_connection("default").capabilities.dialect == "postgres":
        return [await _append_one(actor, changes[0])]
    _changed(changes)
    async with _transaction() as conn:
        postgres = conn.capabilities.dialect == "postgres"
        found = await conn.execute_query_dict(_PG_HEAD if postgres else _SQLITE_HEAD, [actor.platform_id])
        if not found:
            raise _no_chain(actor.platform_id)
        at = clock.now()
        rows: list[_Row] = []
        seq, prev = int(found[0]["seq"]), str(found[0]["hash"])
        for change, event_id in zip(changes, new_ids("aud", len(changes)), strict=True):
            seq += 1
            canonical = _event_json(_event(actor, change, event_id, at) | {"seq": seq})
            digest = link_hash(prev, canonical)
            row = (event_id, actor.platform_id, seq, at, actor.kind.value, actor.token_id, change.action,
                   change.subject_id, canonical, digest, prev)  # fmt: skip
            rows.append(row)
            prev = digest
        if rows:
            await _write(conn, rows, seq, prev)
    return rows


def _event(actor: Actor, change: Change, event_id: str, at: datetime) -> dict[str, Any]:
    """What an event's canonical text holds, but its sequence number."""
    return {
        "id": event_id,
        "platform": actor.platform_id,
        "at": at.isoformat(),
        "actor": actor.kind.value,
        "token": actor.token_id,
        "session": actor.session_id,
        "action": change.action,
        "subject": change.subject_id,
        "data": change.data,
    }


def _no_chain(platform_id: str) -> LookupError:
    return LookupError(f"platform {platform_id} has no audit chain")  # created with the platform


# Canonical keys are sorted, and "seq" falls between "platform" and "session": the text is the JSON of
# the keys before it, the number, and the JSON of the keys after it, each written as `_event_json` would.
_BEFORE_SEQ = ("action", "actor", "at", "data", "id", "platform")


def _around_seq(event: dict[str, Any]) -> tuple[str, str]:
    before = _event_json({key: event[key] for key in _BEFORE_SEQ})
    after = _event_json({key: value for key, value in event.items() if key not in _BEFORE_SEQ})
    return before[:-1] + ',"seq":', "," + after[1:]


@dataclass(frozen=True, slots=True)
class Link:
    """One event ready to be chained in SQL by `link_ctes`: all of it but its place in the chain."""

    actor: Actor
    change: Change
    event_id: str
    at: datetime
    before: str  # the canonical text up to the sequence number, and after it
    after: str

    @property
    def values(self) -> list[Any]:
        """The values of `link_ctes`' parameters, in order."""
        actor, change = self.actor, self.change
        return [actor.platform_id, self.before, self.after, self.event_id, self.at, actor.kind.value, actor.token_id,
                change.action, change.subject_id]  # fmt: skip

    def row(self, linked: Mapping[str, Any]) -> _Row:
        """The event as written, from the "audit_linked" row."""
        actor, change, seq = self.actor, self.change, int(linked["seq"])
        return (self.event_id, actor.platform_id, seq, self.at, actor.kind.value, actor.token_id, change.action,
                change.subject_id, f"{self.before}{seq}{self.after}", linked["hash"], linked["prev_hash"])  # fmt: skip


def prepare_link(actor: Actor, change: Change) -> Link:
    """An event for `link_ctes`, for a writer whose change and audit link go in one statement; like
    `record`, it tells the eligibility cache that answers may have changed."""
    _changed([change])
    at, event_id = clock.now(), new_ids("aud", 1)[0]
    before, after = _around_seq(_event(actor, change, event_id, at))
    return Link(actor, change, event_id, at, before, after)


# A platform's writers queue on its chain's head row. With 32 registrations at once PostgreSQL spent its time
# on that queue (each waiter re-reads the head row after the commit before it, and is woken and put back to
# sleep): 1.1 to 1.35 ms of server CPU per registration, against 0.8 to 1.0 with at most four at once per
# process, and the gateway's own CPU fell by a tenth to a fifth too (scripts/bench.py eligibility register).
# The others wait here, which costs nothing: they would have waited for the head anyway.
CHAIN_WRITERS: Final = 4
_gates: WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Semaphore]] = WeakKeyDictionary()


def chain_gate(platform_id: str) -> asyncio.Semaphore:
    """Admission for a statement that moves the platform's chain head and commits by itself (inside a
    transaction the head stays locked after the statement, so a gate there would only add a wait)."""
    loop = asyncio.get_running_loop()  # a semaphore serves one event loop
    gates = _gates.get(loop)
    if gates is None:
        gates = _gates[loop] = {}
    gate = gates.get(platform_id)
    if gate is None:
        gate = gates[platform_id] = asyncio.Semaphore(CHAIN_WRITERS)
    return gate


# PostgreSQL, one event: the head moves and the event is written in one statement, in or out of a
# transaction. The UPDATE locks the head row (a concurrent append waits, then reads its successor's
# row) and its SET reads the old row, so the link is hashed in SQL as `link_hash` does in Python:
# sha256 over the UTF-8 of the previous hash and the canonical text.
def link_ctes(first: int, after_write: str = "") -> str:
    """WITH items chaining one event: "audit_head_moved", then "audit_linked" (the event's seq, hash and
    prev_hash), with `Link.values` bound from parameter $`first` on.

    `after_write` names a WITH item of the caller's write (registry.performers.registration_sql): the
    event is linked for each of its rows, and only after it ran (the gate is read before the head row
    is locked, so the write never waits on another writer while holding the head). A platform without a
    chain then fails the whole statement (the event's seq is null) instead of committing the write alone.
    """
    platform, before, after, event_id, at, kind, token, action, subject = (f"${first + i}" for i in range(9))
    names = ", ".join(f'"{name}"' for name in _COLUMNS)
    link = f'convert_to("hash" || {before}::text || ("seq" + 1)::text || {after}::text, \'UTF8\')'
    gate = f' AND EXISTS (SELECT 1 FROM "{after_write}")' if after_write else ""  # noqa: S608 (a WITH name)
    source = f'"{after_write}" LEFT JOIN "audit_head_moved" h ON TRUE' if after_write else '"audit_head_moved" h'
    return f"""
"audit_head_moved" AS (
    UPDATE "audit_head" SET "seq" = "seq" + 1, "prev_hash" = "hash", "hash" = encode(sha256({link}), 'hex')
    WHERE "platform_id" = {platform}{gate}
    RETURNING "seq", "hash", "prev_hash"
), "audit_linked" AS (
    INSERT INTO "audit_event" ({names})
    SELECT {event_id}, {platform}, h."seq", {at}, {kind}, {token}, {action}, {subject},
           {before}::text || h."seq"::text || {after}::text, h."hash", h."prev_hash"
    FROM {source}
    RETURNING "seq", "hash", "prev_hash"
)"""  # noqa: S608 (built from the model's column names and parameter numbers only)


_PG_APPEND_ONE: Final = f'WITH {link_ctes(1)} SELECT "seq", "hash", "prev_hash" FROM "audit_linked"'  # noqa: S608


async def _append_one(actor: Actor, change: Change) -> _Row:
    link = prepare_link(actor, change)
    found = await sql.fetch(_PG_APPEND_ONE, link.values)
    if not found:
        raise _no_chain(actor.platform_id)
    return link.row(found[0])


def _changed(changes: Sequence[Change]) -> None:
    if any(not change.action.startswith(_NEUTRAL) for change in changes):
        eligibility_cache.CACHE.bump()  # the change may alter someone's eligibility


@asynccontextmanager
async def _transaction() -> AsyncIterator[BaseDBAsyncClient]:
    """The caller's transaction when there is one (a savepoint would only add two round trips: a failure
    here fails the change it records anyway), else a transaction of its own."""
    current = get_connection("default")
    if isinstance(current, TransactionalDBClient):
        yield current
        return
    async with in_transaction() as conn:
        yield conn


# The head row is the chain's lock: every append of a platform waits here for the one before to commit.
_PG_HEAD = 'SELECT "seq", "hash" FROM "audit_head" WHERE "platform_id" = $1 FOR UPDATE'
_SQLITE_HEAD = 'SELECT "seq", "hash" FROM "audit_head" WHERE "platform_id" = ?'  # one writer at a time anyway
# PostgreSQL: the whole batch as arrays expanded by unnest, and the head moved on, in one round trip
# however many events (a data-modifying WITH runs to completion whether or not it is read).
# Built from the model's own column names only; every value is bound.
_NAMES = ", ".join(f'"{name}"' for name in _COLUMNS)
_PG_WRITE = (
    f'WITH inserted AS (INSERT INTO "audit_event" ({_NAMES}) '  # noqa: S608
    "SELECT t.id, $1, t.seq, $2, $3, $4, t.action, t.subject_id, t.canonical, t.hash, t.prev_hash "
    "FROM unnest($5::text[], $6::bigint[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[]) "
    "AS t(id, seq, action, subject_id, canonical, hash, prev_hash)) "
    'UPDATE "audit_head" SET "seq" = $12, "hash" = $13, "prev_hash" = $14 WHERE "platform_id" = $1'
)
_PG_HEAD_MOVE = 'UPDATE "audit_head" SET "seq" = $1, "hash" = $2, "prev_hash" = $3 WHERE "platform_id" = $4'
_COPY_FROM = 20  # events; fewer go with the head move in one statement
_SQLITE_INSERT = f'INSERT INTO "audit_event" ({_NAMES}) VALUES ({", ".join("?" * len(_COLUMNS))})'  # noqa: S608
_SQLITE_HEAD_MOVE = 'UPDATE "audit_head" SET "seq" = ?, "hash" = ?, "prev_hash" = ? WHERE "platform_id" = ?'


async def _write(conn: BaseDBAsyncClient, rows: Sequence[_Row], seq: int, head_hash: str) -> None:
    first, head_prev = rows[0], rows[-1][10]
    if conn.capabilities.dialect == "postgres" and len(rows) >= _COPY_FROM:
        # A bulk writer's events: COPY, then the head, one more round trip but a fifth of the encoding.
        await sql.copy_records(conn, "audit_event", _COLUMNS, rows)
        await conn.execute_query(_PG_HEAD_MOVE, [seq, head_hash, head_prev, first[1]])
    elif conn.capabilities.dialect == "postgres":
        columns = list(zip(*rows, strict=True))
        # Platform, time and actor are the same for every event of one append.
        arrays = [list(columns[i]) for i in (0, 2, 6, 7, 8, 9, 10)]
        values = [first[1], first[3], first[4], first[5], *arrays, seq, head_hash, head_prev]
        await conn.execute_query(_PG_WRITE, values)
    else:
        await conn.execute_many(_SQLITE_INSERT, [list(row) for row in rows])
        await conn.execute_query(_SQLITE_HEAD_MOVE, [seq, head_hash, head_prev, first[1]])


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
