"""The in-memory near-duplicate index on PostgreSQL: consistent across processes, exact under concurrency.

Each NearIndex stands for one gateway process; writers are separate asyncpg connections, so commits
can be made to happen out of order.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio
from tortoise.context import TortoiseContext
from tortoise.transactions import in_transaction

from registry.avatars import similarity
from registry.avatars.models import Avatar
from registry.avatars.phash import hamming, to_signed64
from tests.registry.avatars.test_similarity import flip, row

_INSERT = """
INSERT INTO avatar (id, platform_id, name, kind, label, status, operator_id, identity, image_sha256, content_type,
                    width, height, phash, band0, band1, band2, band3, created_at, updated_at)
SELECT id, 'plt_x', 'n', 'ORIGINAL', 'l', 'ACTIVE', 'per_x', 'person:' || id, repeat('0', 64), 'image/jpeg', 256, 256,
       h, (h >> 48) & 65535, (h >> 32) & 65535, (h >> 16) & 65535, h & 65535, now(), now()
FROM unnest($1::text[], $2::bigint[]) AS s(id, h)
"""


@pytest.fixture
def pg(database_url: str) -> str:
    if not database_url.startswith("postgres"):
        pytest.skip("the in-memory index serves PostgreSQL (SQLite probes the table)")
    return database_url.replace("postgres://", "postgresql://", 1)


@pytest_asyncio.fixture
async def writers(pg: str, db: TortoiseContext) -> AsyncIterator[list[asyncpg.Connection]]:
    connections = [await asyncpg.connect(pg) for _ in range(3)]
    try:
        yield connections
    finally:
        for connection in connections:
            await connection.close()


async def insert(conn: asyncpg.Connection, hashes: dict[str, int]) -> None:
    await conn.execute(_INSERT, list(hashes), [to_signed64(h) for h in hashes.values()])


def expected(stored: dict[str, int], q: int, distance: int) -> list[tuple[str, int]]:
    return sorted(((a, hamming(q, h)) for a, h in stored.items() if hamming(q, h) <= distance), key=lambda x: x[::-1])


async def answer(index: similarity.NearIndex, q: int, distance: int) -> list[tuple[str, int]]:
    return [(n.avatar_id, n.distance) for n in await index.within(Avatar._meta.db, q, distance)]


async def settled(index: similarity.NearIndex, q: int, size: int) -> None:
    """Memory takes rows in once no transaction older than them runs anywhere on the server, so this
    waits out other sessions' transactions (a test or bench of another suite on the same server)."""
    for _ in range(600):
        await answer(index, q, 0)
        if index.size == size:
            return
        await asyncio.sleep(0.05)
    assert index.size == size


async def test_a_commit_in_one_process_is_seen_by_the_next_lookup_of_another(
    db: TortoiseContext, writers: list[asyncpg.Connection]
) -> None:
    rng = random.Random(11)
    q = rng.getrandbits(64)
    first, second = similarity.NearIndex(), similarity.NearIndex()
    stored = {f"ava_r{i}": rng.getrandbits(64) for i in range(300)}
    await insert(writers[0], stored)
    assert await answer(first, q, 10) == expected(stored, q, 10)
    for step in range(40):  # one registration at a time, each looked up by both processes at once
        new = {f"ava_n{step}": flip(q, rng.randrange(13), rng)}
        await insert(writers[step % 3], new)
        stored |= new
        for distance in (4, 10, 12):
            assert await answer(first, q, distance) == expected(stored, q, distance)
            assert await answer(second, q, distance) == expected(stored, q, distance)
    for index in (first, second):
        await settled(index, q, len(stored))  # each took every row in, once


async def test_out_of_order_commits_are_not_missed(db: TortoiseContext, writers: list[asyncpg.Connection]) -> None:
    """A transaction that started first and commits last: a watermark of the largest id seen would skip it."""
    rng = random.Random(12)
    q = rng.getrandbits(64)
    index = similarity.NearIndex()
    early, late = writers[0], writers[1]
    await answer(index, q, 10)
    slow = early.transaction()
    await slow.start()
    await insert(early, {"ava_early": flip(q, 3, rng)})  # the lower transaction id, still running
    await insert(late, {"ava_late": flip(q, 5, rng)})  # a higher one, committed at once
    assert [a for a, _ in await answer(index, q, 10)] == ["ava_late"]
    assert [a for a, _ in await answer(index, q, 10)] == ["ava_late"]  # and again, with memory caught up
    await slow.commit()
    assert [a for a, _ in await answer(index, q, 10)] == ["ava_early", "ava_late"]
    await settled(index, q, 2)  # both in memory now, and still answered (a new process agrees)
    assert (
        await answer(index, q, 10)
        == await answer(similarity.NearIndex(), q, 10)
        == [
            ("ava_early", 3),
            ("ava_late", 5),
        ]
    )


async def test_a_rolled_back_insert_is_never_answered(db: TortoiseContext, writers: list[asyncpg.Connection]) -> None:
    rng = random.Random(13)
    q = rng.getrandbits(64)
    index = similarity.NearIndex()
    await answer(index, q, 10)
    tx = writers[0].transaction()
    await tx.start()
    await insert(writers[0], {"ava_gone": flip(q, 2, rng)})
    assert await answer(index, q, 10) == []
    await tx.rollback()
    await insert(writers[1], {"ava_kept": flip(q, 2, rng)})
    assert [a for a, _ in await answer(index, q, 10)] == ["ava_kept"]


async def test_the_callers_transaction_sees_its_own_insert(db: TortoiseContext) -> None:
    rng = random.Random(14)
    q = rng.getrandbits(64)
    h = flip(q, 4, rng)
    await similarity.within(q, 10)
    with pytest.raises(RuntimeError):
        async with in_transaction():
            await row(1, h).save()
            assert [n.avatar_id for n in await similarity.within(q, 10)] == ["ava_t000001"]
            raise RuntimeError("roll back")
    assert await similarity.within(q, 10) == []
    assert await similarity.within(h, 0) == []


async def test_a_row_gone_from_the_table_is_not_answered_from_memory(
    db: TortoiseContext, writers: list[asyncpg.Connection]
) -> None:
    rng = random.Random(15)
    q = rng.getrandbits(64)
    index = similarity.NearIndex()
    await insert(writers[0], {"ava_a": flip(q, 1, rng), "ava_b": flip(q, 2, rng)})
    assert [a for a, _ in await answer(index, q, 10)] == ["ava_a", "ava_b"]
    assert [a for a, _ in await answer(index, q, 10)] == ["ava_a", "ava_b"]  # now from memory
    await writers[0].execute("DELETE FROM avatar WHERE id = 'ava_a'")
    assert [a for a, _ in await answer(index, q, 10)] == ["ava_b"]


async def test_a_large_catch_up_and_a_held_back_watermark_stay_exact(
    db: TortoiseContext, writers: list[asyncpg.Connection]
) -> None:
    rng = random.Random(16)
    queries = [rng.getrandbits(64) for _ in range(5)]
    index = similarity.NearIndex()
    stored = {f"ava_s{i}": rng.getrandbits(64) for i in range(200)}
    await insert(writers[0], stored)
    await settled(index, queries[0], len(stored))
    # A transaction that wrote and stays open holds every snapshot's xmin back: rows committed after it
    # stay above the watermark, more than the lookup reads row by row.
    held, held_hash = writers[1].transaction(), flip(queries[0], 1, rng)
    await held.start()
    await insert(writers[1], {"ava_held": held_hash})
    batch = {f"ava_b{i}": rng.getrandbits(64) for i in range(similarity._FRESH_LIMIT + 500)}
    batch |= {f"ava_q{i}": flip(q, d, rng) for i, q in enumerate(queries) for d in (0, 6, 10, 11)}
    await insert(writers[0], batch)
    stored |= batch
    for _ in range(2):
        for q in queries:
            assert await answer(index, q, 10) == expected(stored, q, 10)
    assert index.size == 200  # nothing above the held-back watermark was taken in
    await held.commit()
    stored["ava_held"] = held_hash
    for q in queries:
        assert await answer(index, q, 10) == expected(stored, q, 10)
    await settled(index, queries[0], len(stored))


async def test_rebuilds_off_the_event_loop_keep_answers_exact(
    db: TortoiseContext, writers: list[asyncpg.Connection], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(similarity, "_BUILD_INLINE_UP_TO", 0)  # every rebuild in a thread
    monkeypatch.setattr(similarity, "_MIN_TAIL", 16)
    rng = random.Random(17)
    q = rng.getrandbits(64)
    index = similarity.NearIndex()
    stored: dict[str, int] = {}
    for step in range(12):
        batch = {f"ava_{step}_{i}": flip(q, rng.randrange(15), rng) for i in range(40)}
        await insert(writers[step % 3], batch)
        stored |= batch
        # Concurrent lookups in one process: whichever settles first moves the watermark.
        answers = await asyncio.gather(*(answer(index, q, d) for d in (3, 7, 10, 12)))
        assert answers == [expected(stored, q, d) for d in (3, 7, 10, 12)]
    await settled(index, q, len(stored))
    await index.ready()
    assert len(index._tail) <= max(16, index._bands.size // similarity._TAIL_SHARE)
    assert await answer(index, q, 12) == expected(stored, q, 12)


async def test_concurrent_writers_and_readers_in_several_processes(
    db: TortoiseContext, writers: list[asyncpg.Connection]
) -> None:
    rng = random.Random(18)
    q = rng.getrandbits(64)
    processes = [similarity.NearIndex() for _ in range(3)]
    written: dict[str, int] = {}  # every row that may exist
    committed: dict[str, int] = {}  # rows whose commit has returned

    async def write(conn: asyncpg.Connection, tag: str) -> None:
        for i in range(25):
            new = {f"ava_{tag}{i}": flip(q, rng.randrange(14), rng)}
            written.update(new)
            async with conn.transaction():
                await insert(conn, new)
                await asyncio.sleep(rng.random() / 500)  # commits interleave out of transaction order
            committed.update(new)

    async def read() -> None:
        for _ in range(60):
            before = dict(committed)
            got = dict(await answer(rng.choice(processes), q, 10))
            assert {a for a, h in before.items() if hamming(q, h) <= 10} <= set(got)
            assert all(hamming(q, written[a]) == d <= 10 for a, d in got.items())
            await asyncio.sleep(0)

    await asyncio.gather(*(write(conn, tag) for conn, tag in zip(writers, "xyz", strict=True)), read(), read())
    for index in processes:
        assert await answer(index, q, 12) == expected(committed, q, 12)
