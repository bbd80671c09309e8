"""Registration's own statements: what the database knows of an applicant in one read and, on
PostgreSQL, the performer with its identity keys in one write.

registerPerformer took 13 round trips, and on these machines each cost the gateway more CPU (the driver,
the event loop, the socket: about 50 µs) than most of the Python around it (scripts/bench.py eligibility
register). A registration of a new adult on PostgreSQL now makes seven: this read, the blacklist
screening, the person's row, then BEGIN, the identity locks, this write and the audit link in one
statement each (registry.audit.services), COMMIT.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from tortoise import fields

from registry import sql
from registry.enforcement import screening
from registry.enforcement.models import value_digest
from registry.performers.models import Performer

# The platform's minimum age, the person holding the document (by its blind index under each index key
# in use), and the performers of this role on the platform holding that person or that externalRef (a
# null externalRef matches nothing): three reads in one statement, on SQLite too.
_KNOWN_SQL: Final = """
SELECT 'platform' AS "row", NULL AS "id", NULL AS "person_id", NULL AS "external_ref", "minimum_age"
FROM "platform" WHERE "id" = $1
UNION ALL
SELECT 'person', "id", NULL, NULL, NULL FROM "person" WHERE "document_index" = ANY($2)
UNION ALL
SELECT 'performer', "id", "person_id", "external_ref", NULL FROM "performer"
WHERE "platform_id" = $1 AND "role" = $3
  AND ("person_id" IN (SELECT "id" FROM "person" WHERE "document_index" = ANY($2)) OR "external_ref" = $4)
"""


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
    return Known(minimum_age, person_id, holders)


# Every column of a performer, in the order `write` binds them.
COLUMNS: Final = tuple(Performer._meta.fields_db_projection.values())
# An INSERT ... SELECT with a WHERE types its bare parameters as text, so each is cast to its column's type.
_CASTS: Final = {fields.CharField: "text", fields.TextField: "text", fields.DatetimeField: "timestamptz",
                 fields.JSONField: "jsonb"}  # fmt: skip
_SELECTED: Final = ", ".join(
    f"${i}::{_CASTS[type(Performer._meta.fields_map[name])]}"
    for i, name in enumerate(Performer._meta.fields_db_projection, start=1)
)
_N = len(COLUMNS)
_NOW = f"${COLUMNS.index('created_at') + 1}"
_PLATFORM = f"${COLUMNS.index('platform_id') + 1}"
# After the columns: the strong keys' digests and blind indexes (the re-screening), every key's kind and
# blind index (identity_key), and the onboarding session the registration completes, if any.
_WRITE_SQL: Final = f"""
WITH "written" AS (
    INSERT INTO "performer" ({", ".join(f'"{c}"' for c in COLUMNS)})
    SELECT {_SELECTED}
    WHERE NOT EXISTS ({screening.listed_sql(f"${_N + 1}", f"${_N + 2}", _NOW, _PLATFORM)})
    RETURNING "id"
), "keys" AS (
    INSERT INTO "identity_key" ("subject_id", "platform_id", "kind", "value", "created_at")
    SELECT w."id", {_PLATFORM}, k."kind", k."value", {_NOW}
    FROM "written" w, unnest(${_N + 3}::text[], ${_N + 4}::text[]) AS k("kind", "value")
    ON CONFLICT ("subject_id", "kind", "value") DO NOTHING
), "session" AS (
    UPDATE "onboarding_session" SET "status" = 'COMPLETED', "performer_id" = w."id"
    FROM "written" w WHERE "onboarding_session"."id" = ${_N + 5}
)
SELECT count(*) AS "written" FROM "written"
"""  # noqa: S608 (built from the model's column names and our own fragments; every value is bound)


async def write(
    row: dict[str, Any], strong: Sequence[str], keys: Sequence[tuple[str, str]], session: str | None
) -> bool:
    """Insert the performer and its keys, unless an entry in force holds one of its strong keys (False).

    Call it in the registering transaction after `lock_identities(strong)`: this statement's snapshot is
    taken after the locks, so it sees every ban that committed before them, and a ban still to come
    waits for this transaction (registry.enforcement.locks). A performer that breaks a unique
    constraint raises IntegrityError, as the ORM's insert would.
    """
    values = [_db_value(name, row[name]) for name in COLUMNS]
    values += [[value_digest(v) for v in strong], list(strong), [k for k, _ in keys], [v for _, v in keys], session]
    found = await sql.fetch(_WRITE_SQL, values)
    return bool(found[0]["written"])


def _db_value(name: str, value: Any) -> Any:
    if name == "findings":
        return Performer._meta.fields_map["findings"].to_db_value(value, None)  # JSON text, as the ORM writes it
    return value
