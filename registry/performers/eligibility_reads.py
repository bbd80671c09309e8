"""An uncached eligibility check's reads in one plain statement (they were six ORM queries).

The check runs before every live session, so its cache misses are the hottest database path of the
gateway; building ORM queries cost three times the statements themselves (scripts/bench.py
eligibility). Rows become partial models, so the rules in eligibility.py read them as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from registry import sql
from registry.enforcement import screening
from registry.enforcement.models import Enforcement
from registry.enforcement.screening import Standing
from registry.performers.models import Performer

_COLUMNS: Final = (
    "id", "platform_id", "role", "birth_date_enc", "verification_status", "reverify_by", "pending_since",
    "training_completed_at", "agency_id",
)  # fmt: skip
# The performer, its platform's minimum age, the measures in force on the performer and its agency (the
# rule of registry.enforcement.status.in_force: not lifted, no end or an end still ahead), and the
# blacklist standing of both (registry.enforcement.screening.blacklist_standing).
_SQL: Final = f"""
SELECT p."id", p."platform_id", p."role", p."birth_date_enc", p."verification_status", p."reverify_by",
       p."pending_since", p."training_completed_at", p."agency_id", pl."minimum_age",
       e."id" AS "measure_id", e."subject_id", e."action", e."since", e."until",
       {screening.listed_until_sql('p."id"', "$1", "$3")} AS "performer_listed_until",
       {screening.listed_until_sql('p."agency_id"', "$1", "$3")} AS "agency_listed_until"
FROM "performer" p
JOIN "platform" pl ON pl."id" = p."platform_id"
LEFT JOIN "enforcement" e ON e."subject_id" IN (p."id", p."agency_id")
     AND e."lifted_at" IS NULL AND (e."until" IS NULL OR e."until" > $1)
WHERE p."id" = $2 AND p."platform_id" = $3
ORDER BY e."since", e."id"
"""  # noqa: S608 (built from constants)


@dataclass(frozen=True, slots=True)
class Loaded:
    performer: Performer
    minimum_age: int
    measures: list[Enforcement]  # in force on the performer or its agency, oldest first
    standing: Standing  # of the performer and its agency


async def performer_with_measures(platform_id: str, performer_id: str, now: datetime) -> Loaded | None:
    rows = await sql.fetch(_SQL, [now, performer_id, platform_id])
    if not rows:
        return None
    first = rows[0]
    performer = Performer._init_from_db(**{c: first[c] for c in _COLUMNS})
    measures = [_measure(row) for row in rows if row["measure_id"] is not None]
    return Loaded(performer, int(first["minimum_age"]), measures, _standing(performer, first))


def _standing(performer: Performer, row: dict[str, Any]) -> Standing:
    listed, ends = set(), []
    for subject, column in ((performer.id, "performer_listed_until"), (performer.agency_id, "agency_listed_until")):
        if subject is None or row[column] is None:
            continue
        listed.add(subject)
        until = _UNTIL(row[column])  # SQLite answers text
        if until != screening.FOREVER:
            ends.append(until)
    return Standing(listed, min(ends, default=None))


_UNTIL: Final = Enforcement._meta.fields_map["until"].to_python_value


def _measure(row: dict[str, Any]) -> Enforcement:
    return Enforcement._init_from_db(
        id=row["measure_id"], subject_id=row["subject_id"], action=row["action"], since=row["since"],
        until=row["until"],
    )  # fmt: skip
