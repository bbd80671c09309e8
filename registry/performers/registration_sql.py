"""Registration's own statements: what the database knows of an applicant in one read and, on
PostgreSQL, the performer with its identity keys in one write.

registerPerformer took 13 round trips, and on these machines each cost the gateway more CPU (the driver,
the event loop, the socket: 50 to 100 µs) than most of the Python around it (scripts/bench.py
eligibility register). A registration of an adult on PostgreSQL now makes two: this read, which brings
the blacklist listings of the applicant's keys too, and the write, which takes the identity locks,
re-screens, and stores the person (if new), the performer, its keys and its audit event; three when the
person is known already (a second read looks for its earlier performer). Minors (a guardian's consent),
SQLite and callers inside a transaction take the ORM path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from tortoise import fields
from tortoise.connection import get_connection
from tortoise.exceptions import IntegrityError

from registry import clock, sql
from registry.audit.services import Link, chain_gate, link_ctes
from registry.enforcement import screening
from registry.enforcement.locks import lock_ids
from registry.enforcement.models import value_digest
from registry.identities.services import NewPerson, find_person, new_person, person_key
from registry.performers.models import Performer
from registry.pg import LaneClient
from registry.validators.documents import VerifiedDocument

# The platform's minimum age, the person holding the document (by its blind index under each index key
# in use), and the performer of this role on the platform holding that externalRef (a null externalRef
# matches nothing): three reads in one statement, on SQLite too. Each arm can probe a unique index with
# every column bound: a join of performer and person, planned without statistics (a young table), was a
# scan of the platform's performers (scripts/bench.py eligibility register), and so is an OR of the two.
# On PostgreSQL a fourth arm reads the blacklist screening's listings (screening.listings_sql), whose
# columns the other arms pad with nulls.
_NO_LISTING: Final = (
    'NULL AS "entry_id", NULL AS "kind", NULL AS "value", NULL AS "platform_id", NULL AS "scope", '
    'NULL::timestamptz AS "until"'
)


def _known_sql(listed: bool) -> str:
    pad = f", {_NO_LISTING}" if listed else ""
    arms = f"""
SELECT 'platform' AS "row", NULL AS "id", NULL AS "person_id", NULL AS "external_ref", "minimum_age"{pad}
FROM "platform" WHERE "id" = $1
UNION ALL
SELECT 'person', "id", NULL, NULL, NULL{pad} FROM "person" WHERE "document_index" = ANY($2)
UNION ALL
SELECT 'performer', "id", "person_id", "external_ref", NULL{pad} FROM "performer"
WHERE "platform_id" = $1 AND "role" = $3 AND "external_ref" = $4"""  # noqa: S608 (our own fragments)
    if not listed:
        return arms
    listings = screening.listings_sql(
        f"'listing', NULL, NULL, NULL, NULL, {screening.LISTING_COLUMNS}", "$5", "$6", "$1"
    )
    return f"{arms}\nUNION ALL\n{listings}"


_KNOWN_SQL: Final = _known_sql(listed=False)
_KNOWN_LISTED_SQL: Final = _known_sql(listed=True)
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
    listings: list[screening.Listing] | None  # None: not read here (SQLite), `screening.screen` reads them


async def known(
    platform_id: str,
    role: str,
    person_indexes: Sequence[str],
    external_ref: str | None,
    screened: Sequence[str] = (),
) -> Known:
    """What the database knows of an applicant and, on PostgreSQL, the blacklist listings of the blind
    indexes `screened`, in one statement."""
    values: list[Any] = [platform_id, list(person_indexes), role, external_ref]
    listed = get_connection("default").capabilities.dialect == "postgres"
    if listed:
        values += [screening.digests_of(screened), clock.now()]
    rows = await sql.fetch(_KNOWN_LISTED_SQL if listed else _KNOWN_SQL, values)
    minimum_age: int | None = None
    person_id: str | None = None
    holders: list[Holder] = []
    listings: list[screening.Listing] | None = [] if listed else None
    for row in rows:
        if row["row"] == "platform":
            minimum_age = int(row["minimum_age"])
        elif row["row"] == "person":
            person_id = person_id or row["id"]
        elif row["row"] == "performer":
            holders.append(Holder(row["id"], row["person_id"], row["external_ref"]))
        elif listings is not None:
            listings.append(screening.Listing.of(row))
    if minimum_age is None:
        raise LookupError(f"platform {platform_id} does not exist")  # the caller's token was issued to it
    if person_id is not None and all(holder.person_id != person_id for holder in holders):
        rows = await sql.fetch(_PERSON_HOLDER_SQL, [platform_id, role, person_id])
        holders += [Holder(row["id"], row["person_id"], row["external_ref"]) for row in rows]
    return Known(minimum_age, person_id, holders, listings)


def available() -> bool:
    """The one-statement write needs PostgreSQL outside a transaction: it commits by itself, which ends its
    locks and frees the audit chain's head (inside a caller's transaction the ORM path runs)."""
    return type(get_connection("default")) is LaneClient


async def write(
    row: dict[str, Any], document: VerifiedDocument, strong: Sequence[str], keys: Sequence[tuple[str, str]],
    session: str | None, link: Link,
) -> str | None:  # fmt: skip
    """Insert the performer (and its person, when `row["person_id"]` is None), its keys and its audit
    event, and complete the onboarding session, in one statement that commits by itself; the person's id,
    or None when an entry in force holds one of the strong keys (then nothing is written).

    The statement first takes the identity locks of the strong keys (registry.enforcement.locks), then
    re-screens them under a snapshot of its own (screening.locked_listed_sql): a ban, which takes the same
    locks in its transaction, waits for this statement to commit, or is seen by it. A performer that
    breaks a unique constraint raises IntegrityError, as the ORM's insert would.
    """
    person = new_person(document) if row["person_id"] is None else None
    try:
        return await _write(row, person, strong, keys, session, link)
    except IntegrityError as exc:
        if person is None or getattr(exc.args[0] if exc.args else None, "column_name", None) != "person_id":
            raise
    # Another writer (a guardian's consent, a legal representative: they take no identity lock) created
    # the person after the registration found none: its row is committed, and is the one to use.
    found = await find_person(person_key(document))
    if found is None:
        raise LookupError("a person's creation conflicted with a row that is gone")  # cannot happen: never deleted
    return await _write({**row, "person_id": found.id}, None, strong, keys, session, link)


async def _write(
    row: dict[str, Any], person: NewPerson | None, strong: Sequence[str], keys: Sequence[tuple[str, str]],
    session: str | None, link: Link,
) -> str | None:  # fmt: skip
    values = [row[name] for name in COLUMNS]
    values[_FINDINGS] = _FINDINGS_FIELD.to_db_value(values[_FINDINGS], None)  # JSON text, as the ORM writes it
    digests = [value_digest(v) for v in strong]
    keys = list(dict.fromkeys(keys))  # each (kind, value) once: the keys are inserted without ON CONFLICT
    values += [digests, list(strong), [k for k, _ in keys], [v for _, v in keys], session]
    values += [person.id, person.document_index] if person is not None else [None, None]
    values.append(lock_ids(strong))
    async with chain_gate(link.actor.platform_id):  # it moves the chain's head and commits by itself
        found = (await sql.fetch(_WRITE_SQL, [*values, *link.values]))[0]
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
_FINDINGS = COLUMNS.index("findings")
_FINDINGS_FIELD: Final = Performer._meta.fields_map["findings"]
_NOW = f"${COLUMNS.index('created_at') + 1}"
_PLATFORM = f"${COLUMNS.index('platform_id') + 1}"
# After the columns: the strong keys' digests and blind indexes (the re-screening), every key's kind and
# blind index (identity_key), the onboarding session the registration completes, if any, a new person's
# id and blind index (or nulls), the identity locks, and the audit link (audit.services.link_ctes). The
# keys belong to the performer the statement creates, so none can exist yet: a plain insert, without
# ON CONFLICT's speculative insertion (`_write` passes each (kind, value) once). The
# locks come first: "listed" is the first thing each insert evaluates, and it is evaluated once
# (MATERIALIZED; a volatile call is never inlined anyway). The audit link waits for the
# performer: a performer insert that waits on a concurrent twin's unique key never does so holding the
# chain's head, and a platform without a chain (created with the platform: it cannot happen) fails the
# statement rather than store a performer without its audit event. A new person that a concurrent
# writer created first leaves the performer's person null: the statement fails, and `write` tries again
# with that person.
_WRITE_SQL: Final = f"""
WITH "listed" AS MATERIALIZED (
    SELECT 1 WHERE {screening.locked_listed_sql(f"${_N + 8}", f"${_N + 1}", f"${_N + 2}", _NOW, _PLATFORM)}
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
), "session" AS (
    UPDATE "onboarding_session" SET "status" = 'COMPLETED', "performer_id" = w."id"
    FROM "written" w WHERE "onboarding_session"."id" = ${_N + 5}
), {link_ctes(_N + 9, after_write="written")}
SELECT (SELECT count(*) FROM "written") AS "written", (SELECT "person_id" FROM "written") AS "person_id"
"""  # noqa: S608 (built from the model's column names and our own fragments; every value is bound)
