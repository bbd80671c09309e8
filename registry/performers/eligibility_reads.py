"""The performer's side of an uncached eligibility check: one plain statement instead of three ORM queries.

The check runs before every live session, so its cache misses are the hottest database path of the
gateway; building ORM queries cost three times the statements themselves (scripts/bench.py
eligibility). Rows become partial models, so the rules in eligibility.py read them as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from registry import sql
from registry.enforcement.models import Enforcement
from registry.performers.models import Performer

_COLUMNS: Final = (
    "id", "platform_id", "role", "birth_date_enc", "verification_status", "reverify_by", "pending_since",
    "training_completed_at", "agency_id",
)  # fmt: skip
# The performer, its platform's minimum age, and the measures in force on the performer and its agency
# (the rule of registry.enforcement.status.in_force: not lifted, no end or an end still ahead).
_SQL: Final = """
SELECT p."id", p."platform_id", p."role", p."birth_date_enc", p."verification_status", p."reverify_by",
       p."pending_since", p."training_completed_at", p."agency_id", pl."minimum_age",
       e."id" AS "measure_id", e."subject_id", e."action", e."since", e."until"
FROM "performer" p
JOIN "platform" pl ON pl."id" = p."platform_id"
LEFT JOIN "enforcement" e ON e."subject_id" IN (p."id", p."agency_id")
     AND e."lifted_at" IS NULL AND (e."until" IS NULL OR e."until" > $1)
WHERE p."id" = $2 AND p."platform_id" = $3
ORDER BY e."since", e."id"
"""


@dataclass(frozen=True, slots=True)
class Loaded:
    performer: Performer
    minimum_age: int
    measures: list[Enforcement]  # in force on the performer or its agency, oldest first


async def performer_with_measures(platform_id: str, performer_id: str, now: datetime) -> Loaded | None:
    rows = await sql.fetch(_SQL, [now, performer_id, platform_id])
    if not rows:
        return None
    first = rows[0]
    performer = Performer._init_from_db(**{c: first[c] for c in _COLUMNS})
    measures = [_measure(row) for row in rows if row["measure_id"] is not None]
    return Loaded(performer, int(first["minimum_age"]), measures)


def _measure(row: dict[str, Any]) -> Enforcement:
    return Enforcement._init_from_db(
        id=row["measure_id"], subject_id=row["subject_id"], action=row["action"], since=row["since"],
        until=row["until"],
    )  # fmt: skip
