"""The near-duplicate index: exact against brute force, index-only on PostgreSQL, race-free registration."""

from __future__ import annotations

import asyncio
import random

import pytest
from tortoise.context import TortoiseContext
from tortoise.transactions import in_transaction

from registry.avatars import phash as phashes
from registry.avatars import similarity
from registry.avatars.models import Avatar
from registry.avatars.phash import hamming, to_signed64
from tests.conftest import make_platform
from tests.registry.avatars.helpers import codes, encode, near_copies, photo, register, room_operator


def flip(h: int, bits: int, rng: random.Random) -> int:
    for bit in rng.sample(range(64), bits):
        h ^= 1 << bit
    return h


def row(index: int, h: int) -> Avatar:
    band0, band1, band2, band3 = phashes.bands(h)
    return Avatar(
        id=f"ava_t{index:06d}", platform_id="plt_x", name="n", kind="ORIGINAL", label="l", status="ACTIVE",
        operator_id="per_x", identity=f"person:{index}", image_sha256="0" * 64, content_type="image/jpeg",
        width=256, height=256, phash=to_signed64(h), band0=band0, band1=band1, band2=band2, band3=band3,
    )  # fmt: skip


async def test_within_finds_exactly_what_brute_force_finds(db: TortoiseContext) -> None:
    rng = random.Random(7)
    queries = [rng.getrandbits(64) for _ in range(12)]
    # Random hashes plus, for every query, planted hashes at each distance 0..14 (so the edges are tested).
    hashes = [rng.getrandbits(64) for _ in range(1500)]
    hashes += [flip(q, d, rng) for q in queries for d in range(15)]
    await Avatar.bulk_create([row(i, h) for i, h in enumerate(hashes)], batch_size=500)
    for q in queries:
        for distance in (0, 3, 4, 7, 10, 12, phashes.MAX_DISTANCE):
            found = await similarity.within(q, distance)
            expected = sorted(
                (hamming(q, h), f"ava_t{i:06d}") for i, h in enumerate(hashes) if hamming(q, h) <= distance
            )
            assert [(n.distance, n.avatar_id) for n in found] == expected


async def test_within_refuses_distances_the_bands_cannot_serve(db: TortoiseContext) -> None:
    with pytest.raises(ValueError):
        await similarity.within(0, phashes.MAX_DISTANCE + 1)


@pytest.mark.parametrize("plan_cache_mode", ["force_generic_plan", "force_custom_plan"])
async def test_the_postgres_statements_use_only_indexes(
    db: TortoiseContext, database_url: str, plan_cache_mode: str
) -> None:
    if not database_url.startswith("postgres"):
        pytest.skip("the query plans are PostgreSQL's")
    async with in_transaction() as conn:
        await conn.execute_script(
            """
            INSERT INTO avatar (id, platform_id, name, kind, label, status, operator_id, identity, image_sha256,
                                content_type, width, height, phash, band0, band1, band2, band3, created_at, updated_at)
            SELECT 'ava_p' || i, 'plt_x', 'n', 'ORIGINAL', 'l', 'ACTIVE', 'per_x', 'person:' || i, repeat('0', 64),
                   'image/jpeg', 256, 256, h, (h >> 48) & 65535, (h >> 32) & 65535, (h >> 16) & 65535, h & 65535,
                   now(), now()
            FROM (SELECT i, (random() * 9.2e18)::bigint * (CASE WHEN random() < 0.5 THEN -1 ELSE 1 END) AS h
                  FROM generate_series(1, 50000) AS i) AS s;
            ANALYZE avatar;
            """
        )
        q = random.Random(3).getrandbits(64)
        # The generic plan is the one a process keeps; a custom plan is what the first runs get.
        await conn.execute_script(f"SET LOCAL plan_cache_mode = {plan_cache_mode}")
        lookup = await conn.execute_query_dict(f"EXPLAIN {similarity._LOOKUP_SQL}", [12345, [3, 4]])
        catch_up = await conn.execute_query_dict(f"EXPLAIN {similarity._CATCH_UP_SQL}", [0, [3, 4], to_signed64(q), 10])
    for plan in (lookup, catch_up):
        text = "\n".join(line["QUERY PLAN"] for line in plan)
        # Index-only where it can be once VACUUM has set the visibility map (autovacuum, or the bench).
        assert "Seq Scan" not in text and "Bitmap" not in text, text
        assert "_txid_" in text and "_band0_" in text, text


async def test_concurrent_near_copies_for_two_identities_register_once(db: TortoiseContext) -> None:
    platform, other = await make_platform(), await make_platform()
    first, second = await room_operator(platform.id), await room_operator(other.id)
    image = photo(60)
    copies = near_copies(image)
    outcomes = await asyncio.gather(
        register(platform.id, first.id, encode(image)),
        register(other.id, second.id, copies["recompressed"]),
    )
    assert sorted(len(o.problems) for o in outcomes) == [0, 1]
    assert [c for o in outcomes for c in codes(o)] == [("AVATAR_CONFLICT", ("input", "image"))]
    assert await Avatar.all().count() == 1
