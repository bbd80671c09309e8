"""The near-duplicate index: which avatars lie within Hamming distance d of a perceptual hash.

Multi-index hashing (registry.avatars.phash): a hash within distance d has at least one 16-bit band
within a few bits of the query's (phash.band_radii), so looking up those band values finds every match
without a scan.

PostgreSQL: every gateway process keeps every avatar hash in memory, four times, each copy sorted by one
band (32 MB at 1M avatars), so a lookup costs nearly the same whatever the table size: 428 runs of the
sorted copies at d = 10, then the exact distance of the candidates (6,500 at 1M). Memory is caught up with
the database by the lookup's own statement, in the lookup's snapshot, so a registration committed by
any process is seen by the next lookup in every process:

- Each row carries its inserting transaction (`avatar.txid`, pg_current_xact_id() by default). The
  watermark is the xmin of an earlier lookup's snapshot: every transaction below it had ended then, so
  every row below it is in memory. Rows at or above it (committed since, or still running then) are
  read from the (txid, phash) index and checked by the lookup itself. Transactions commit out of
  order, which is why the watermark is a snapshot's xmin and not the largest id seen.
- The same statement returns its snapshot's xmin: the rows below it join memory and the watermark
  moves up to it.
- The ids come from the table through the (band0, phash) index for every hash found, so the answer is
  what the lookup's snapshot sees (a hash in memory whose row is gone answers nothing).

A hash never changes once inserted (a new image is a new avatar) and the registry deletes no avatar, so
memory only grows. A process's first lookup loads every hash (about 0.3 s at 1M; `warm` does it ahead);
a catch-up of more than _FRESH_LIMIT rows (that, a bulk load, or a transaction holding the watermark
back) filters the new rows in the database and returns the settled ones packed.

SQLite (the embedded default, one writer, small tables) probes the four band indexes of the table for
the neighbourhoods and keeps the candidates within the distance.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q

from registry.avatars import phash as phashes
from registry.avatars.models import Avatar

log = logging.getLogger(__name__)

# Parameters are read through sub-selects, which the planner cannot see into: it then estimates every
# plan of a statement alike, so after five runs PostgreSQL keeps one generic plan (0.04 ms) at every
# table size. Given the values, it chose custom plans (0.1-0.2 ms of planning per call) on some table
# sizes and histories and not on others, and latency tracked that choice rather than the lookup.

# The lookup, in one statement and so in one snapshot: this snapshot's xmin (the next watermark); the
# rows memory may lack ($1 is the watermark), by an index scan of (txid, phash) that stops after
# _FRESH_LIMIT + 1; and the avatars of the hashes memory found ($2, signed), by one index probe of
# (band0, phash) each; OFFSET 0 keeps each a probe (a join could hash against a scan of the table).
_LOOKUP_SQL: Final = """
SELECT NULL::varchar AS "id", NULL::bigint AS "phash", pg_snapshot_xmin(pg_current_snapshot()) AS "txid"
UNION ALL
(SELECT "id", "phash", "txid" FROM "avatar" WHERE "txid" >= (SELECT $1::xid8) ORDER BY "txid" LIMIT 1001)
UNION ALL
SELECT a."id", a."phash", NULL FROM unnest((SELECT $2::bigint[])) AS found("phash"), LATERAL (
    SELECT "id", "phash" FROM "avatar"
    WHERE "band0" = (found."phash" >> 48) & 65535 AND "phash" = found."phash" OFFSET 0
) AS a
"""
_FRESH_LIMIT: Final = 1000

# When more rows than that are new (a process's first lookup, a bulk load, or a transaction that has
# held the watermark back for long), the same in the database: `fresh` filters the new rows by distance
# inside an index-only scan of (txid, phash); the first row carries the next watermark and the hashes
# below it, packed; then the avatars of every hash found, memory's ($2) and fresh, probed as above.
_CATCH_UP_SQL: Final = """
WITH snapshot AS MATERIALIZED (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS "xmin"),
fresh AS MATERIALIZED (
    SELECT "phash" FROM "avatar"
    WHERE "txid" >= (SELECT $1::xid8) AND "txid" <= (SELECT '18446744073709551615'::xid8)
      AND bit_count(int8send("phash" # (SELECT $3::bigint))) <= (SELECT $4::int)
),
found AS (SELECT unnest((SELECT $2::bigint[])) AS "phash" UNION SELECT "phash" FROM fresh)
SELECT NULL::varchar AS "id", NULL::bigint AS "phash", snapshot."xmin", (
    SELECT string_agg(int8send(a."phash"), ''::bytea) FROM "avatar" AS a
    WHERE a."txid" >= (SELECT $1::xid8) AND a."txid" < snapshot."xmin"
) AS "settled"
FROM snapshot
UNION ALL
SELECT a."id", a."phash", NULL, NULL FROM found, LATERAL (
    SELECT "id", "phash" FROM "avatar"
    WHERE "band0" = (found."phash" >> 48) & 65535 AND "phash" = found."phash" OFFSET 0
) AS a
"""

_BAND_VALUES: Final = 1 << phashes.BAND_BITS
_SHIFTS: Final = tuple(np.uint64(phashes.BAND_BITS * (phashes.BANDS - 1 - b)) for b in range(phashes.BANDS))
_BAND_MASK: Final = np.uint64(_BAND_VALUES - 1)


def _probes(max_distance: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(band, XOR mask, offset of the band's part of the run table) of every band value to look up."""
    radii = phashes.band_radii(max_distance)
    band = np.concatenate([np.full(len(phashes.xor_masks(r)), b, dtype=np.int64) for b, r in enumerate(radii)])
    masks = np.concatenate([np.array(phashes.xor_masks(r), dtype=np.int64) for r in radii])
    return band, masks, band * _BAND_VALUES


_PROBES: Final = {d: _probes(d) for d in range(phashes.MAX_DISTANCE + 1)}
# New hashes wait in a tail that lookups scan whole, until it reaches 1/16 of the sorted copies (62,500
# hashes, about 0.1 ms, at 1M); then the copies are rebuilt with it, off the event loop when large.
_MIN_TAIL: Final = 4096
_TAIL_SHARE: Final = 16
_BUILD_INLINE_UP_TO: Final = 65536
_EMPTY: Final = np.empty(0, dtype=np.uint64)


@dataclass(frozen=True, slots=True)
class Near:
    avatar_id: str
    distance: int


@dataclass(frozen=True, slots=True)
class _Bands:
    """Every hash once per band, sorted by that band's value, and where each value's run starts."""

    hashes: np.ndarray  # uint64, BANDS * size: band b sorted in [b * size, (b + 1) * size)
    starts: np.ndarray  # int64, BANDS * 65536 + 1: the run of value v of band b is starts[b*65536+v : +1]

    @staticmethod
    def build(hashes: np.ndarray) -> _Bands:
        size = len(hashes)
        copies = np.empty(phashes.BANDS * size, dtype=np.uint64)
        starts = np.empty(phashes.BANDS * _BAND_VALUES + 1, dtype=np.int64)
        for band, shift in enumerate(_SHIFTS):
            key = ((hashes >> shift) & _BAND_MASK).astype(np.uint16)
            copies[band * size : (band + 1) * size] = hashes[np.argsort(key, kind="stable")]  # radix sort
            counts = np.bincount(key, minlength=_BAND_VALUES)
            starts[band * _BAND_VALUES : (band + 1) * _BAND_VALUES] = band * size + np.cumsum(counts) - counts
        starts[-1] = len(copies)
        return _Bands(copies, starts)

    @property
    def size(self) -> int:
        return len(self.hashes) // phashes.BANDS

    def all(self) -> np.ndarray:
        return self.hashes[: self.size]

    def candidates(self, image_hash: int, max_distance: int) -> np.ndarray:
        """Every hash sharing a band neighbourhood with the query (each match at least once)."""
        band, masks, offsets = _PROBES[max_distance]
        values = (np.array(phashes.bands(image_hash), dtype=np.int64)[band] ^ masks) + offsets
        begin, end = self.starts[values], self.starts[values + 1]
        lengths = end - begin
        ends = np.cumsum(lengths)
        # Concatenate the runs: position i of run r is begin[r] + (i - where run r starts in the output).
        positions = np.repeat(begin - ends + lengths, lengths) + np.arange(int(ends[-1]))
        return self.hashes[positions]


_NO_BANDS: Final = _Bands.build(_EMPTY)


def _nearest(image_hash: int, max_distance: int, rows: list[tuple[str, int]]) -> list[Near]:
    found = {avatar_id: phashes.hamming(image_hash, stored) for avatar_id, stored in rows}
    near = (Near(a, d) for a, d in found.items() if d <= max_distance)
    return sorted(near, key=lambda n: (n.distance, n.avatar_id))


def _merged(bands: _Bands, tail: np.ndarray) -> _Bands:
    return _Bands.build(np.concatenate((bands.all(), tail)))


class NearIndex:
    """One process's copy of every avatar hash of one PostgreSQL database, caught up at each lookup."""

    def __init__(self) -> None:
        self._bands = _NO_BANDS
        self._tail = _EMPTY  # hashes taken in since the last build; replaced, never changed in place
        self._watermark = 0  # every row whose txid is below it is in _bands or _tail
        self._build: asyncio.Task[None] | None = None

    @property
    def size(self) -> int:
        return self._bands.size + len(self._tail)

    @property
    def nbytes(self) -> int:
        return self._bands.hashes.nbytes + self._bands.starts.nbytes + self._tail.nbytes

    async def within(self, conn: BaseDBAsyncClient, image_hash: int, max_distance: int) -> list[Near]:
        phashes.band_radii(max_distance)  # refuses distances the bands cannot serve
        watermark, known = self._watermark, self._known(image_hash, max_distance)
        rows = await conn.execute_query_dict(_LOOKUP_SQL, [watermark, known.view(np.int64).tolist()])
        fresh = [row for row in rows if row["id"] is not None and row["txid"] is not None]
        if len(fresh) > _FRESH_LIMIT:
            return await self._catch_up(conn, image_hash, max_distance)
        xmin = next(row["txid"] for row in rows if row["id"] is None)
        settled = [row["phash"] for row in fresh if row["txid"] < xmin]
        self._take_in(watermark, xmin, np.array(settled, dtype=np.int64).view(np.uint64))
        return _nearest(image_hash, max_distance, [(row["id"], row["phash"]) for row in rows if row["id"] is not None])

    async def ready(self) -> None:
        """Wait for a rebuild of the sorted copies in progress (lookups stay exact meanwhile)."""
        while self._build is not None:
            await asyncio.shield(self._build)

    async def _catch_up(self, conn: BaseDBAsyncClient, image_hash: int, max_distance: int) -> list[Near]:
        watermark, known = self._watermark, self._known(image_hash, max_distance)
        params = [watermark, known.view(np.int64).tolist(), phashes.to_signed64(image_hash), max_distance]
        rows = await conn.execute_query_dict(_CATCH_UP_SQL, params)
        header = next(row for row in rows if row["id"] is None)
        # int8send is big-endian two's complement: the same 64 bits as the unsigned hash.
        settled = np.frombuffer(header["settled"] or b"", dtype=">u8").astype(np.uint64)
        self._take_in(watermark, header["xmin"], settled)
        return _nearest(image_hash, max_distance, [(row["id"], row["phash"]) for row in rows if row["id"] is not None])

    def _known(self, image_hash: int, max_distance: int) -> np.ndarray:
        """The distinct hashes in memory within the distance."""
        candidates = self._bands.candidates(image_hash, max_distance)
        if len(self._tail):
            candidates = np.concatenate((candidates, self._tail))
        return np.unique(candidates[np.bitwise_count(candidates ^ np.uint64(image_hash)) <= max_distance])

    def _take_in(self, since: int, xmin: int, settled: np.ndarray) -> None:
        # Another lookup may have moved the watermark since this one read it; its rows are in already.
        if since != self._watermark or xmin <= since:
            return
        if len(settled):
            self._tail = np.concatenate((self._tail, settled))
        self._watermark = xmin
        self._maybe_rebuild()

    def _maybe_rebuild(self) -> None:
        if self._build is not None or len(self._tail) <= max(_MIN_TAIL, self._bands.size // _TAIL_SHARE):
            return
        if self.size <= _BUILD_INLINE_UP_TO:
            self._bands, self._tail = _merged(self._bands, self._tail), _EMPTY
            return
        self._build = asyncio.get_running_loop().create_task(self._rebuild(self._bands, self._tail))

    async def _rebuild(self, bands: _Bands, tail: np.ndarray) -> None:
        try:
            rebuilt = await asyncio.to_thread(_merged, bands, tail)  # numpy sorts without the GIL
        except Exception:  # MemoryError above all: keep answering from the tail and try again later
            log.exception("could not rebuild the near-duplicate index of %d hashes", self.size)
            self._build = None
            return
        # The tail only grew meanwhile, by concatenation: what the build took is its prefix.
        self._bands, self._tail, self._build = rebuilt, self._tail[len(tail) :], None
        self._maybe_rebuild()


_INDEXES: weakref.WeakKeyDictionary[BaseDBAsyncClient, NearIndex] = weakref.WeakKeyDictionary()


def index_of(conn: BaseDBAsyncClient) -> NearIndex:
    """The index of the database behind `conn` (a transaction's connection shares its pool's index)."""
    while (parent := getattr(conn, "_parent", None)) is not None:
        conn = parent
    index = _INDEXES.get(conn)
    if index is None:
        index = _INDEXES[conn] = NearIndex()
    return index


async def within(image_hash: int, max_distance: int) -> list[Near]:
    """Every avatar (any platform, any status) within `max_distance` of the unsigned 64-bit hash.

    Nearest first. Runs in the caller's transaction when there is one.
    """
    conn = Avatar._meta.db
    if conn.capabilities.dialect == "postgres":
        return await index_of(conn).within(conn, image_hash, max_distance)
    # An avatar may come back through several bands; candidates beyond the distance are dropped.
    return _nearest(image_hash, max_distance, await _candidates(image_hash, max_distance))


async def warm() -> None:
    """Load this process's index ahead of the first lookup (PostgreSQL; nothing to do on SQLite)."""
    conn = Avatar._meta.db
    if conn.capabilities.dialect == "postgres":
        index = index_of(conn)
        await index.within(conn, 0, 0)
        await index.ready()


async def _candidates(image_hash: int, max_distance: int) -> list[tuple[str, int]]:
    near = Q()
    for band, (value, radius) in enumerate(
        zip(phashes.bands(image_hash), phashes.band_radii(max_distance), strict=True)
    ):
        if radius >= 0:
            near |= Q(**{f"band{band}__in": [value ^ mask for mask in phashes.xor_masks(radius)]})
    rows: Any = await Avatar.filter(near).values_list("id", "phash")
    return list(rows)
