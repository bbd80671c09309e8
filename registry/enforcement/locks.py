"""Transaction-scoped locks on identity keys, so a registration and a ban of one identity serialize.

Without them a registration could screen CLEAR, a ban on the same document commit, and the
registration commit after it. Both sides lock the blind indexes of the strong keys (document,
credit code) inside their transaction, and the registering side re-checks the blacklist after
taking the lock (`screening.store_subject_keys` does both). On PostgreSQL the locks are advisory
transaction locks, taken in ascending order so two writers never wait on each other in a cycle;
SQLite runs one transaction at a time per database, which serializes the two sides already.

Order within a transaction: the subject's row lock (if any), then identity locks, then the audit
chain head (audit.services.record): every writer takes them in this order, so none waits in a cycle.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from registry.enforcement.models import BlacklistKey

_LOCK_SQL = "SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k"


def lock_id(value: str) -> int:
    """A signed 64-bit advisory-lock key for a blind index (a collision only serializes more)."""
    digest = hashlib.blake2b(value.encode(), digest_size=8, person=b"livegate-idlock").digest()
    return int.from_bytes(digest, "big", signed=True)


async def lock_identities(values: Iterable[str]) -> None:
    """Lock these identity keys until the current transaction ends; call it inside `in_transaction()`."""
    ids = sorted({lock_id(value) for value in values})
    if not ids:
        return
    connection = BlacklistKey._meta.db  # inside in_transaction() this is the transaction's connection
    if connection.capabilities.dialect != "postgres":
        return
    # unnest yields the array in order, so the locks are taken in ascending order.
    await connection.execute_query(_LOCK_SQL, [ids])
