"""Registration's own statements: what the database knows of an applicant in one read and, on
PostgreSQL, the performer with its identity keys in one write.

registerPerformer took 13 round trips, and on these machines each cost the gateway more CPU (the driver,
the event loop, the socket: 50 to 100 µs) than most of the Python around it (scripts/bench.py
eligibility register). A registration of an adult on PostgreSQL now makes five: this read, the
blacklist screening, the identity locks, the write (with the person's row if new, and the audit link),
and the release of the locks; six when the person is known already (a second read looks for its earlier
performer). Minors (a guardian's consent), SQLite and callers inside a transaction take the ORM path.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Final, cast

import asyncpg
from tortoise import fields
from tortoise.connection import get_connection
from tortoise.exceptions import IntegrityError

from registry import sql
from registry.audit.services import Link, link_ctes
from registry.enforcement import screening
from registry.enforcement.locks import lock_ids
from registry.enforcement.models import value_digest
from registry.identities.models import Person
from registry.identities.services import new_person, person_indexes
from registry.performers.models import Performer
from registry.pg import LaneClient, fetch_on
from registry.validators.documents import VerifiedDocument

# The platform's minimum age, the person holding the document (by its blind index under each index key
# in use), and the performer of this role on the platform holding that externalRef (a null externalRef
# matches nothing): three reads in one statement, on SQLite too. Each arm can probe a unique index with
# every column bound: a join of performer and person, planned without statistics (a young table), was a
# scan of the platform's performers (scripts/bench.py eligibility register), and so is an OR of the two.
_KNOWN_SQL: Final = """
SELECT 'platform' AS "row", NULL AS "id", NULL AS "person_id", NULL AS "external_ref", "minimum_age"
FROM "platform" WHERE "id" = $1
UNION ALL
SELECT 'person', "id", NULL, NULL, NULL FROM "person" WHERE "document_index" = ANY($2)
UNION ALL
SELECT 'performer', "id", "person_id", "external_ref", NULL FROM "performer"
WHERE "platform_id" = $1 AND "role" = $3 AND "external_ref" = $4
"""
# A person already known may hold a performer of the role: only then is it looked for.
_PERSON_HOLDER_SQL: Final = (
    'SELECT "id", "person_id", "external_ref" FROM "performer" WHERE "platform_id" = $1 AND "role" = $2 '
    'AND "person_id" = $3'
)


@dataclass(frozen=True, slots=True)
class Holder:
    """A performer of the role on the platform that holds the applicant's person or externalRef."""

    performer_id: str
    person_id: str
    external_ref: str | None


@dataclass(frozen=True, slots=True)
class Known:
    minimum_age: int  # the platform's
    person_id: str | None  # None: nobody has registered this document yet, on any platform
    holders: list[Holder]


async def known(platform_id: str, role: str, person_indexes: Sequence[str], external_ref: str | None) -> Known:
    rows = await sql.fetch(_KNOWN_SQL, [platform_id, list(person_indexes), role, external_ref])
    minimum_age: int | None = None
    person_id: str | None = None
    holders: list[Holder] = []
    for row in rows:
        if row["row"] == "platform":
            minimum_age = int(row["minimum_age"])
        elif row["row"] == "person":
            person_id = person_id or row["id"]
        else:
            holders.append(Holder(row["id"], row["person_id"], row["external_ref"]))
    if minimum_age is None:
        raise LookupError(f"platform {platform_id} does not exist")  # the caller's token was issued to it
    if person_id is not None and all(holder.person_id != person_id for holder in holders):
        rows = await sql.fetch(_PERSON_HOLDER_SQL, [platform_id, role, person_id])
        holders += [Holder(row["id"], row["person_id"], row["external_ref"]) for row in rows]
    return Known(minimum_age, person_id, holders)


def available() -> bool:
    """The one-statement write needs PostgreSQL and a connection of its own (no enclosing transaction)."""
    return type(get_connection("default")) is LaneClient


# The identity locks, taken at session level on the writer's own connection.
_LOCK_SQL: Final = 'SELECT count(pg_advisory_lock(k)) AS "locks" FROM unnest($1::bigint[]) AS k'
_PERSON_SQL: Final = 'SELECT "id" FROM "person" WHERE "document_index" = ANY($1::text[])'
_UNLOCK_SQL: Final = "SELECT pg_advisory_unlock_all()"


@asynccontextmanager
async def locked(strong: Sequence[str]) -> AsyncIterator[Held]:
    """Hold the identity locks of these strong keys (registry.enforcement.locks) on a connection of its
    own, for `Held.write`, and release them when the block ends, however it ends.

    They are session-level locks, so that the write can commit by itself: held in a transaction, the
    audit chain's head would stay locked from the write until COMMIT, across a wait in the event loop,
    and every registration of the platform would queue there (scripts/bench.py eligibility register).
    A ban takes the same keys in its transaction and so waits for the write to commit, or the write's
    statement, which starts after the locks, sees the ban. Locks that cannot be released end with their
    connection. The block must use no other connection: with the pool drained by writers queued on these
    locks, it would wait for ever.
    """
    async with cast(LaneClient, get_connection("default")).held() as connection:
        try:
            await fetch_on(connection, _LOCK_SQL, [lock_ids(strong)])
            yield Held(connection)
        finally:
            await _unlock(connection)


async def _unlock(connection: asyncpg.Connection) -> None:
    """Release the session's advisory locks or, if that fails, end the session, which releases them.

    Never raises but for a cancellation: the write may have committed, and its answer must not be lost
    to a connection that broke afterwards (the caller's own error, if any, goes on propagating).
    """
    try:
        await connection.execute(_UNLOCK_SQL)
    except asyncio.CancelledError:
        connection.terminate()
        raise
    except Exception:  # any failure: the connection cannot be trusted with the locks
        connection.terminate()


@dataclass(frozen=True, slots=True)
class Held:
    connection: asyncpg.Connection

    async def write(
        self, row: dict[str, Any], document: VerifiedDocument, strong: Sequence[str], keys: Sequence[tuple[str, str]],
        session: str | None, link: Link,
    ) -> str | None:  # fmt: skip
        """Insert the performer (and its person, when `row["person_id"]` is None), its keys and its audit
        event, and complete the onboarding session, in one statement that commits by itself; the person's
        id, or None when an entry in force holds one of the strong keys (then nothing is written).

        The statement's snapshot is taken after the identity locks, so it sees every ban that committed
        before them. A performer that breaks a unique constraint raises IntegrityError, as the ORM's
        insert would.
        """
        person = new_person(document) if row["person_id"] is None else None
        try:
            return await self._write(row, person, strong, keys, session, link)
        except IntegrityError as exc:
            if person is None or getattr(exc.args[0] if exc.args else None, "column_name", None) != "person_id":
                raise
        # Another writer (a guardian's consent, a legal representative: they take no identity lock) created
        # the person after the registration found none: its row is committed, and is the one to use.
        found = await fetch_on(self.connection, _PERSON_SQL, [person_indexes(document)])
        return await self._write({**row, "person_id": found[0]["id"]}, None, strong, keys, session, link)

    async def _write(
        self, row: dict[str, Any], person: Person | None, strong: Sequence[str], keys: Sequence[tuple[str, str]],
        session: str | None, link: Link,
    ) -> str | None:  # fmt: skip
        values = [_db_value(name, row[name]) for name in COLUMNS]
        digests = [value_digest(v) for v in strong]
        values += [digests, list(strong), [k for k, _ in keys], [v for _, v in keys], session]
        values += [person.id, person.document_index] if person is not None else [None, None]
        found = (await fetch_on(self.connection, _WRITE_SQL, [*values, *link.values]))[0]
        return found["person_id"] if found["written"] else None


# Every column of a performer, in the order `write` binds them.
COLUMNS: Final = tuple(Performer._meta.fields_db_projection.values())
# An INSERT ... SELECT with a WHERE types its bare parameters as text, so each is cast to its column's type.
_CASTS: Final = {fields.CharField: "text", fields.TextField: "text", fields.DatetimeField: "timestamptz",
                 fields.JSONField: "jsonb"}  # fmt: skip
_SELECTED: Final = ", ".join(
    f"${i}::{_CASTS[type(Performer._meta.fields_map[name])]}"
    if name != "person_id"
    else f'COALESCE(${i}::text, (SELECT "id" FROM "person_created"))'  # noqa: S608 (a new person: created here)
    for i, name in enumerate(Performer._meta.fields_db_projection, start=1)
)
_N = len(COLUMNS)
_NOW = f"${COLUMNS.index('created_at') + 1}"
_PLATFORM = f"${COLUMNS.index('platform_id') + 1}"
# After the columns: the strong keys' digests and blind indexes (the re-screening), every key's kind and
# blind index (identity_key), the onboarding session the registration completes, if any, a new person's
# id and blind index (or nulls), and the audit link (audit.services.link_ctes), which waits for the
# performer: a performer insert that waits on a concurrent twin's unique key never does so holding the
# chain's head, and a platform without a chain (created with the platform: it cannot happen) fails the
# statement rather than store a performer without its audit event. A new person that a concurrent
# writer created first leaves the performer's person null: the statement fails, and `Held.write` tries
# again with that person.
_WRITE_SQL: Final = f"""
WITH "listed" AS ({screening.listed_sql(f"${_N + 1}", f"${_N + 2}", _NOW, _PLATFORM)} LIMIT 1
), "person_created" AS (
    INSERT INTO "person" ("id", "document_index", "created_at")
    SELECT ${_N + 6}::text, ${_N + 7}::text, {_NOW}::timestamptz
    WHERE ${_N + 6}::text IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "listed")
    ON CONFLICT ("document_index") DO NOTHING RETURNING "id"
), "written" AS (
    INSERT INTO "performer" ({", ".join(f'"{c}"' for c in COLUMNS)})
    SELECT {_SELECTED}
    WHERE NOT EXISTS (SELECT 1 FROM "listed")
    RETURNING "id", "person_id"
), "keys" AS (
    INSERT INTO "identity_key" ("subject_id", "platform_id", "kind", "value", "created_at")
    SELECT w."id", {_PLATFORM}, k."kind", k."value", {_NOW}
    FROM "written" w, unnest(${_N + 3}::text[], ${_N + 4}::text[]) AS k("kind", "value")
    ON CONFLICT ("subject_id", "kind", "value") DO NOTHING
), "session" AS (
    UPDATE "onboarding_session" SET "status" = 'COMPLETED', "performer_id" = w."id"
    FROM "written" w WHERE "onboarding_session"."id" = ${_N + 5}
), {link_ctes(_N + 8, after_write="written")}
SELECT (SELECT count(*) FROM "written") AS "written", (SELECT "person_id" FROM "written") AS "person_id"
"""  # noqa: S608 (built from the model's column names and our own fragments; every value is bound)


def _db_value(name: str, value: Any) -> Any:
    if name == "findings":
        return Performer._meta.fields_map["findings"].to_db_value(value, None)  # JSON text, as the ORM writes it
    return value
