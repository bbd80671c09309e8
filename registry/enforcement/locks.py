"""Transaction-scoped locks on identity keys, so a registration and a ban of one identity serialize.

Without them a registration could screen CLEAR, a ban on the same document commit, and the
registration commit after it. Both sides lock the blind indexes of the strong keys (document,
credit code) inside their transaction, and the registering side re-checks the blacklist after
taking the lock (`screening.store_subject_keys` does both). On PostgreSQL the locks are advisory
transaction locks, taken in ascending order so two writers never wait on each other in a cycle;
SQLite runs one transaction at a time per database, which serializes the two sides already.

Bulk writers (supplier imports, up to 1,000 rows a call) do not lock each row's keys: PostgreSQL keeps
every advisory lock in one shared table (max_locks_per_transaction x max_connections entries, about
12,000 on a default server), and a dozen batches in flight would exhaust it ("out of shared memory").
They take one shared lock instead, which a ban takes exclusively after its identity locks: a ban waits
for the imports in flight to commit, and imports that start meanwhile wait for the ban.

Order within a transaction: the subject's row lock (if any), then identity locks (a ban: then the bulk
lock), then the audit chain head (audit.services.record): every writer takes them in this order, so
none waits in a cycle.

An adult's registration on PostgreSQL takes the same identity locks inside its one autocommit write
statement, first, and re-screens under a snapshot taken after them (screening.locked_listed_sql); it
takes no row lock before them, and the audit chain head last, as above.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from registry import sql
from registry.enforcement.models import BlacklistKey

_LOCK_SQL = "SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k"
_BULK_SHARED_SQL = "SELECT pg_advisory_xact_lock_shared($1::bigint)"


def lock_id(value: str) -> int:
    """A signed 64-bit advisory-lock key for a blind index (a collision only serializes more)."""
    digest = hashlib.blake2b(value.encode(), digest_size=8, person=b"livegate-idlock").digest()
    return int.from_bytes(digest, "big", signed=True)


# Not a blind index (those are "kid:hex"), so no identity's lock can be this one, short of a 64-bit collision.
BULK_LOCK = lock_id("livegate:bulk-screening")


def lock_ids(values: Iterable[str]) -> list[int]:
    """The advisory-lock keys of these identity keys, in the order they are taken."""
    return sorted({lock_id(value) for value in values})


async def lock_identities(values: Iterable[str], *, excluding_bulk: bool = False) -> None:
    """Lock these identity keys until the current transaction ends; call it inside `in_transaction()`.

    `excluding_bulk` (a ban): then also wait for every bulk writer in flight, and hold new ones off.
    """
    ids = lock_ids(values)
    if excluding_bulk:
        ids.append(BULK_LOCK)  # last: after the identity locks, as the order above says
    connection = BlacklistKey._meta.db  # inside in_transaction() this is the transaction's connection
    if not ids or connection.capabilities.dialect != "postgres":
        return
    # unnest yields the array in order, so the locks are taken in that order.
    await sql.fetch(_LOCK_SQL, [ids])


async def lock_for_bulk_screening() -> None:
    """A bulk writer's one lock, shared with the others and exclusive of bans, until the transaction ends."""
    connection = BlacklistKey._meta.db
    if connection.capabilities.dialect == "postgres":
        await connection.execute_query(_BULK_SHARED_SQL, [BULK_LOCK])
