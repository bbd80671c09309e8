"""The near-duplicate index: which avatars lie within Hamming distance d of a perceptual hash.

Multi-index hashing over the avatar table (registry.avatars.phash): a hash within distance d shares at
least one 16-bit band within floor(d / 4) bits, so probing the four band indexes for those
neighbourhoods finds every match without a scan. The table is the index, so every gateway process
sees the same answer the moment a registration commits.

On PostgreSQL each band has a composite index (band, phash): the exact distance is filtered inside
index-only scans, so only true matches leave the database, and a second indexed read fetches their
ids. On SQLite (the embedded default) the same probes return the candidates and Python keeps those
within the distance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from registry.avatars import phash as phashes
from registry.avatars.models import Avatar

# Each arm is its own index-only scan with = ANY(array) as the index condition, and bit_count filters
# on the index tuple, so a candidate that is not a match never touches the table.
_MATCHES_SQL: Final = """
SELECT "phash" FROM "avatar" WHERE "band0" = ANY($1::int[]) AND bit_count(int8send("phash" # $5)) <= $6
UNION
SELECT "phash" FROM "avatar" WHERE "band1" = ANY($2::int[]) AND bit_count(int8send("phash" # $5)) <= $6
UNION
SELECT "phash" FROM "avatar" WHERE "band2" = ANY($3::int[]) AND bit_count(int8send("phash" # $5)) <= $6
UNION
SELECT "phash" FROM "avatar" WHERE "band3" = ANY($4::int[]) AND bit_count(int8send("phash" # $5)) <= $6
"""
# A separate statement rather than a join: the planner cannot estimate how few rows bit_count keeps
# and may then hash-join against a full scan of the table.
_ROWS_SQL: Final = 'SELECT "id", "phash" FROM "avatar" WHERE "band0" = ANY($1::int[]) AND "phash" = ANY($2::bigint[])'
# At 1M rows the planner picks a parallel plan, and starting its workers took 17 ms where the serial
# plan takes 2-3 ms; SET LOCAL ends with the surrounding transaction.
_SERIAL_PLAN: Final = "SET LOCAL max_parallel_workers_per_gather = 0"


@dataclass(frozen=True, slots=True)
class Near:
    avatar_id: str
    distance: int


async def within(image_hash: int, max_distance: int) -> list[Near]:
    """Every avatar (any platform, any status) within `max_distance` of the unsigned 64-bit hash.

    Nearest first. Joins the caller's transaction when there is one.
    """
    neighbourhoods = phashes.band_neighbourhoods(image_hash, max_distance)
    async with in_transaction() as conn:
        if conn.capabilities.dialect == "postgres":
            rows = await _postgres(conn, neighbourhoods, image_hash, max_distance)
        else:
            rows = await _candidates(neighbourhoods)
    found: dict[str, int] = {}
    for avatar_id, stored in rows:
        distance = phashes.hamming(image_hash, stored)
        if distance <= max_distance:
            found[avatar_id] = distance  # SQLite: an avatar may come back through several bands
    return sorted((Near(a, d) for a, d in found.items()), key=lambda n: (n.distance, n.avatar_id))


async def _postgres(
    conn: BaseDBAsyncClient, neighbourhoods: list[list[int]], image_hash: int, max_distance: int
) -> list[tuple[str, int]]:
    await conn.execute_script(_SERIAL_PLAN)
    params = [*neighbourhoods, phashes.to_signed64(image_hash), max_distance]
    matches = [row["phash"] for row in await conn.execute_query_dict(_MATCHES_SQL, params)]
    if not matches:
        return []
    band0 = sorted({phashes.bands(phashes.to_unsigned64(h))[0] for h in matches})
    rows = await conn.execute_query_dict(_ROWS_SQL, [band0, matches])
    return [(row["id"], row["phash"]) for row in rows]


async def _candidates(neighbourhoods: list[list[int]]) -> list[tuple[str, int]]:
    near = Q()
    for band, values in enumerate(neighbourhoods):
        near |= Q(**{f"band{band}__in": values})
    return list(await Avatar.filter(near).values_list("id", "phash"))  # type: ignore[arg-type]
