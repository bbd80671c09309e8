"""`screen` and liveEligibility latency with 10k and then 1M blacklist entries, in one run.

Creates two throwaway PostgreSQL databases on the server of --postgres (default: $LIVEGATE_BENCH_POSTGRES_URL,
$LIVEGATE_TEST_POSTGRES_URL, or postgres://postgres@127.0.0.1:5432/test), builds the schema from the
models, and drops both at the end.

Entries are loaded set-based (INSERT ... SELECT over generate_series) the way CANCEL_ACCOUNT bans look:
DOCUMENT, PHONE and NAME_AND_BIRTHDATE keys each, a DEVICE for half, a CREDIT_CODE for a tenth, an
AVATAR_IMAGE for a hundredth; a fifth JOINT, the rest PLATFORM entries of 50 other platforms; a
twentieth expired and a twentieth removed. Blind indexes are random 64-hex values under the bench's
index key id. Next to them, `--probes` identities are registered as performers through the registry on
the measured platform and then banned by JOINT entries of another platform (through the registry too).
After each load: VACUUM ANALYZE (what autovacuum does in production) and a CHECKPOINT.

The small database is copied (CREATE DATABASE ... TEMPLATE) before the rest is loaded into the copy, so
both sizes exist at once, each with its own ORM context and connection pool. Every measure takes turns
between the sizes call by call (the same call numbers, so the same mix of fresh identities and probes),
so a burst of load from others on the shared machine falls on both sizes alike; each measure's p50/p99
are the medians over `--rounds` rounds (trust the ratios over absolute figures). Measured, one call
after the other, after a warm-up:
- screen (registry): registry.enforcement.services.screen with a document (and name) plus a phone; 90%
  fresh identities (CLEAR), 10% probes (BLOCK);
- screen (GraphQL): the same through the schema in process, with the gateway's parser and validation
  caches (no HTTP, no authentication);
- liveEligibility (uncached): registry.performers.eligibility.live_eligibility with the eligibility
  cache bumped before each call, over clean and banned performers;
- screen image hash: the AVATAR_IMAGE lookup alone (screening.screen with a perceptual hash), a
  stored hash with a few bits flipped or a random one; reported, not part of the targets.

Targets: p99 of screen at most 5 ms at the large size, and 1M within 1.2x of 10k (p99).

    python scripts/bench.py screening [--small 10000] [--large 1000000] [--samples 1000] [--rounds 3]
                                      [--probes 100] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import strawberry
from strawberry.extensions import ParserCache, ValidationCache
from tortoise import Tortoise
from tortoise.context import TortoiseContext

from registry.actors import Actor, ActorKind
from registry.avatars import phash as phashes
from registry.avatars.storage import LocalBlobStore
from registry.config import RegistryConfig, configure
from registry.crypto import BlindIndexer, Keyring, Vault
from registry.db import tortoise_config
from registry.enforcement import screening
from registry.enforcement import services as enforcement
from registry.enforcement.screening import Decision, Scope, SubjectKeys
from registry.enforcement.services import DocumentKey, EntryInput, KeysInput
from registry.performers import eligibility
from registry.performers import services as performers
from registry.performers.eligibility_cache import CACHE
from registry.performers.services import RegisterInput
from registry.platforms import services as platforms
from registry.platforms.scopes import PLATFORM_SCOPES
from registry.validators.documents import DocumentInput, DocumentType, mod11_2_check
from schema.build import build_schema
from schema.context import Context, Principal
from scripts.benches.databases import asyncpg_url, throwaway_database

SCREEN_P99_MS = 5.0
FLAT = 1.2
KID = "b1"
OTHER_PLATFORMS = 50
SCREEN = """query Screen($input: ScreeningInput!) { screen(input: $input) {
  decision matches { key scope score entryId } problems { code field } } }"""

# One INSERT ... SELECT per table; $1, $2: the range of entry numbers; $3: the JOINT lister.
_ENTRIES_SQL = f"""
INSERT INTO blacklist_entry (id, platform_id, scope, reason, until, removed_at, removed_reason, created_at)
SELECT 'ble_bench' || g,
       CASE WHEN g % 5 = 0 THEN $3 ELSE 'plt_bench' || (g % {OTHER_PLATFORMS}) END,
       CASE WHEN g % 5 = 0 THEN 'JOINT' ELSE 'PLATFORM' END,
       'bench',
       CASE WHEN g % 20 = 1 THEN now() - interval '1 day' END,
       CASE WHEN g % 20 = 2 THEN now() END,
       CASE WHEN g % 20 = 2 THEN 'bench' END,
       now()
FROM generate_series($1::bigint, $2::bigint) AS g
"""
# `digest` as registry.enforcement.models.value_digest computes it: the first 64 bits of the hex digest
# (of an image value: the hash itself).
_KEYS_SQL = f"""
INSERT INTO blacklist_key (entry_id, kind, value, digest)
SELECT 'ble_bench' || g, k.kind, '{KID}:' || d.hex, ('x' || left(d.hex, 16))::bit(64)::bigint
FROM generate_series($1::bigint, $2::bigint) AS g
JOIN (VALUES ('DOCUMENT', 1), ('PHONE', 1), ('NAME_AND_BIRTHDATE', 1), ('DEVICE', 2), ('CREDIT_CODE', 10))
     AS k(kind, every) ON g % k.every = 0
CROSS JOIN LATERAL (SELECT encode(sha256(convert_to(k.kind || ':' || g, 'UTF8')), 'hex') AS hex) AS d
"""
_IMAGES_SQL = """
INSERT INTO blacklist_key (entry_id, kind, value, digest, phash, band0, band1, band2, band3)
SELECT 'ble_bench' || g, 'AVATAR_IMAGE', 'phash:' || lpad(to_hex(h), 16, '0'), h, h,
       ((h >> 48) & 65535)::int, ((h >> 32) & 65535)::int, ((h >> 16) & 65535)::int, (h & 65535)::int
FROM (SELECT g, hashtextextended('image' || g, 0) AS h
      FROM generate_series($1::bigint, $2::bigint) AS g WHERE g % 100 = 0) AS s
"""


@dataclass(frozen=True, slots=True)
class Options:
    small: int
    large: int
    samples: int
    rounds: int
    probes: int
    postgres: str


@dataclass(frozen=True, slots=True)
class Stats:
    p50: float
    p99: float


@dataclass(frozen=True, slots=True)
class World:
    actor: Actor
    principal: Principal
    banned: list[str]  # resident numbers on JOINT entries (and registered as performers)
    performer_ids: list[str]


# -- the database --------------------------------------------------------------------------------


@asynccontextmanager
async def orm(url: str) -> AsyncIterator[None]:
    context = TortoiseContext()
    async with context:
        await context.init(config=tortoise_config(url), _enable_global_fallback=True)
        yield


async def load_entries(url: str, first: int, last: int, lister: str) -> float:
    """Entries number first..last with their keys, set-based; the seconds it took."""
    started = time.perf_counter()
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        async with conn.transaction():
            await conn.execute(_ENTRIES_SQL, first, last, lister)
            await conn.execute(_KEYS_SQL, first, last)
            await conn.execute(_IMAGES_SQL, first, last)
        await conn.execute("VACUUM ANALYZE blacklist_entry")
        await conn.execute("VACUUM ANALYZE blacklist_key")
        with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CHECKPOINT")  # the load's WAL is not flushed during the measurements
    finally:
        await conn.close()
    return time.perf_counter() - started


async def index_sizes(url: str) -> str:
    """The blacklist indexes against shared_buffers: what decides whether lookups stay in memory."""
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        total = await conn.fetchval(
            "SELECT pg_size_pretty(sum(pg_relation_size(indexrelid))) FROM pg_index "
            "WHERE indrelid IN ('blacklist_key'::regclass, 'blacklist_entry'::regclass)"
        )
        single = (
            "SELECT pg_size_pretty(pg_relation_size(indexrelid)) FROM pg_index i JOIN pg_attribute a "
            "ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
            "WHERE indrelid = 'blacklist_key'::regclass AND a.attname = $1 AND i.indnatts = 1"
        )
        value, digest = await conn.fetchval(single, "value"), await conn.fetchval(single, "digest")
        buffers = await conn.fetchval("SHOW shared_buffers")
    finally:
        await conn.close()
    return f"blacklist indexes {total} (blacklist_key.digest {digest}, .value {value}); shared_buffers {buffers}"


# -- identities ----------------------------------------------------------------------------------


def resident_number(rng: random.Random) -> str:
    birth = date(1960, 1, 1) + timedelta(days=rng.randrange(40 * 365))
    body = f"110105{birth:%Y%m%d}{rng.randrange(1000):03d}"
    return body + mod11_2_check(body)


def phone(rng: random.Random) -> str:
    return f"139{rng.randrange(10**8):08d}"


async def build_world(options: Options, rng: random.Random) -> World:
    created = await platforms.create_platform("bench", scopes=" ".join(PLATFORM_SCOPES))
    lister = await platforms.create_platform("bench-lister", scopes=" ".join(PLATFORM_SCOPES))
    actor = Actor(ActorKind.PLATFORM_TOKEN, created.platform.id, token_id="bench")
    lister_actor = Actor(ActorKind.PLATFORM_TOKEN, lister.platform.id, token_id="bench")
    numbers = [resident_number(rng) for _ in range(2 * options.probes)]
    performer_ids = []
    for n, number in enumerate(numbers):
        data = RegisterInput(
            role="MARKETER",
            document=DocumentInput(DocumentType.RESIDENT_ID_CARD, number, "张三"),
            phone=phone(rng),
            external_ref=f"bench-{n}",
        )
        outcome = await performers.register_performer(actor, data)
        assert outcome.performer is not None, outcome.problems
        await performers.record_training(actor, outcome.performer.id, datetime.now(UTC), "bench")
        performer_ids.append(outcome.performer.id)
    banned = numbers[: options.probes]
    for number in banned:
        keys = KeysInput(document=DocumentKey(DocumentType.RESIDENT_ID_CARD, number, full_name="张三"))
        await enforcement.add_blacklist_entry(lister_actor, EntryInput(keys, "bench probe", Scope.JOINT))
    probe = await enforcement.screen(actor, screen_keys_of(banned[0], phone(rng)))
    assert probe.decision is Decision.BLOCK, probe  # the measured platform sees the JOINT bans
    scopes = frozenset(PLATFORM_SCOPES)
    principal = Principal(platform_id=created.platform.id, scopes=scopes, token_id="bench")
    return World(actor, principal, banned, performer_ids)


# -- measuring -----------------------------------------------------------------------------------


def _stats(samples: list[float]) -> Stats:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return Stats(p50=cuts[49] * 1000, p99=cuts[98] * 1000)


Call = Callable[[int], Awaitable[object]]


async def measure(calls: dict[int, tuple[TortoiseContext, Call]], options: Options) -> dict[int, Stats]:
    """One round of one measure at every size: a warm-up, then `samples` calls per size, the sizes taking
    turns call by call (and turns at going first), so a burst of load on the shared machine falls on both
    sizes alike instead of on whichever happened to be running."""
    sizes = list(calls)
    for n in range(min(200, options.samples)):
        for size in sizes:
            context, call = calls[size]
            with context:
                await call(n)
    samples: dict[int, list[float]] = {size: [] for size in sizes}
    for n in range(options.samples):
        for size in sizes if n % 2 == 0 else sizes[::-1]:
            context, call = calls[size]
            with context:
                started = time.perf_counter()
                await call(n)
                samples[size].append(time.perf_counter() - started)
    return {size: _stats(taken) for size, taken in samples.items()}


def median(rounds: list[Stats]) -> Stats:
    return Stats(statistics.median(r.p50 for r in rounds), statistics.median(r.p99 for r in rounds))


def screen_keys_of(number: str, phone_number: str) -> KeysInput:
    document = DocumentKey(DocumentType.RESIDENT_ID_CARD, number, full_name="张三")
    return KeysInput(document=document, phone=phone_number)


def screen_keys(world: World, rng: random.Random, n: int) -> KeysInput:
    number = world.banned[n % len(world.banned)] if n % 10 == 0 else resident_number(rng)
    return screen_keys_of(number, phone(rng))


def scenarios(world: World, rng: random.Random, images: list[int], schema: strawberry.Schema) -> dict[str, Call]:
    async def screen_registry(n: int) -> object:
        answer = await enforcement.screen(world.actor, screen_keys(world, rng, n))
        assert answer.decision is not None, answer.problems
        return answer

    async def screen_graphql(n: int) -> object:
        keys = screen_keys(world, rng, n)
        assert keys.document is not None
        variables = {"input": {"document": {"type": "RESIDENT_ID_CARD", "number": keys.document.number,
                                            "fullName": "张三"}, "phone": keys.phone}}  # fmt: skip
        context = Context(request_id="bench", principal=world.principal)
        result = await schema.execute(SCREEN, variable_values=variables, context_value=context)
        assert result.errors is None, result.errors
        return result

    async def eligibility_uncached(n: int) -> object:
        CACHE.bump()
        performer_id = world.performer_ids[rng.randrange(len(world.performer_ids))]
        return await eligibility.live_eligibility(world.actor, performer_id)

    async def image_hash(n: int) -> object:
        near = rng.choice(images) ^ sum(1 << b for b in rng.sample(range(64), 6)) if images and n % 2 else None
        wanted = near if near is not None else rng.getrandbits(64)
        return await screening.screen(world.actor.platform_id, SubjectKeys(avatar_hashes=[wanted]))

    return {
        "screen (registry)": screen_registry,
        "screen (GraphQL, in process)": screen_graphql,
        "liveEligibility (uncached)": eligibility_uncached,
        "screen image hash (not a target)": image_hash,
    }


async def stored_images(url: str) -> list[int]:
    """A sample of the stored image hashes (unsigned), to query near them."""
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        rows = await conn.fetch("SELECT phash FROM blacklist_key WHERE kind = 'AVATAR_IMAGE' LIMIT 500")
    finally:
        await conn.close()
    return [phashes.to_unsigned64(row["phash"]) for row in rows]


# -- the run -------------------------------------------------------------------------------------


def _configure(data_dir: Path) -> None:
    configure(
        RegistryConfig(
            vault=Vault(Keyring.generate("bench")),
            indexer=BlindIndexer(Keyring.generate(KID)),
            blobs=LocalBlobStore(data_dir / "blobs"),
        )
    )


def _report(results: dict[str, dict[int, Stats]], options: Options) -> bool:
    small, large = options.small, options.large
    print(f"\n{'':34}{f'p50 / p99 at {small:,}':>24}{f'p50 / p99 at {large:,}':>26}{'ratio p50':>11}{'p99':>7}")
    passed = True
    for name, by_size in results.items():
        a, b = by_size[small], by_size[large]
        p50_ratio, p99_ratio = b.p50 / a.p50, b.p99 / a.p99
        print(f"{name:34}{a.p50:>10.2f} / {a.p99:>6.2f} ms{b.p50:>12.2f} / {b.p99:>6.2f} ms"
              f"{p50_ratio:>10.2f}x{p99_ratio:>6.2f}x")  # fmt: skip
        if name.startswith("screen ("):
            ok = b.p99 <= SCREEN_P99_MS and p99_ratio <= FLAT
            passed &= ok
            print(f"{'':34}target p99 <= {SCREEN_P99_MS} ms at {large:,} and p99 ratio <= {FLAT}x: "
                  f"{'PASS' if ok else 'MISS'}")  # fmt: skip
    return passed


async def _prepare(options: Options, url: str, rng: random.Random) -> World:
    async with orm(url):
        await Tortoise.generate_schemas(safe=False)
        world = await build_world(options, rng)
    seconds = await load_entries(url, 1, options.small, "plt_bench_joint")
    print(f"loaded {options.small:,} entries (+{options.probes} probes) in {seconds:.1f} s", flush=True)
    return world


@asynccontextmanager
async def orm_contexts(urls: dict[int, str]) -> AsyncIterator[dict[int, TortoiseContext]]:
    """An ORM context per database, all open at once; a call runs against one inside `with context:`."""
    contexts: dict[int, TortoiseContext] = {}
    try:
        for size, url in urls.items():
            context = TortoiseContext()
            contexts[size] = context
            with context:
                await context.init(config=tortoise_config(url))
        yield contexts
    finally:
        for context in contexts.values():
            await context.close_connections()


async def _measure_round(
    world: World, rng: random.Random, urls: dict[int, str], schema: strawberry.Schema, options: Options
) -> dict[str, dict[int, Stats]]:
    images = {size: await stored_images(url) for size, url in urls.items()}
    by_size = {size: scenarios(world, rng, images[size], schema) for size in urls}
    results: dict[str, dict[int, Stats]] = {}
    async with orm_contexts(urls) as contexts:
        for name in by_size[options.small]:
            calls = {size: (contexts[size], by_size[size][name]) for size in urls}
            results[name] = await measure(calls, options)
    return results


async def run(options: Options) -> bool:
    """Both sizes live side by side (the large database is a copy of the small one plus the rest), and
    every measure takes turns between them call by call, so the machine's noise falls on both alike."""
    data_dir = Path(tempfile.mkdtemp(prefix="livegate-bench-screening-"))
    rng = random.Random(20260201)
    # As the gateway builds it (gateway/runtime.py): parsing and validation are cached per document.
    schema = build_schema(extensions=[lambda: ParserCache(maxsize=64), lambda: ValidationCache(maxsize=64)])
    try:
        _configure(data_dir)
        async with throwaway_database(options.postgres) as small_url:
            world = await _prepare(options, small_url, rng)
            async with throwaway_database(options.postgres, template=small_url) as large_url:
                seconds = await load_entries(large_url, options.small + 1, options.large, "plt_bench_joint")
                print(f"loaded {options.large:,} entries (+{options.probes} probes) in {seconds:.1f} s", flush=True)
                print(f"  small: {await index_sizes(small_url)}\n  large: {await index_sizes(large_url)}", flush=True)
                urls = {options.small: small_url, options.large: large_url}
                rounds: dict[str, dict[int, list[Stats]]] = {}
                for _ in range(options.rounds):
                    for name, by_size in (await _measure_round(world, rng, urls, schema, options)).items():
                        for size, stats in by_size.items():
                            rounds.setdefault(name, {}).setdefault(size, []).append(stats)
                results = {name: {size: median(r) for size, r in by_size.items()} for name, by_size in rounds.items()}
                return _report(results, options)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def _options(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(prog="bench.py screening", description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--probes", type=int, default=100)
    default = os.environ.get("LIVEGATE_BENCH_POSTGRES_URL") or os.environ.get("LIVEGATE_TEST_POSTGRES_URL")
    parser.add_argument("--postgres", default=default or "postgres://postgres@127.0.0.1:5432/test")
    args = parser.parse_args(argv)
    if not 0 < args.small < args.large:
        parser.error("need 0 < --small < --large")
    return Options(args.small, args.large, args.samples, args.rounds, args.probes, args.postgres)


def main(argv: list[str]) -> int:
    """0 when the run finished (targets missed are printed as MISS, not turned into a failure)."""
    options = _options(argv)
    print(f"screening bench: {options.small:,} then {options.large:,} entries, {options.samples} samples "
          f"x {options.rounds} rounds per measure", flush=True)  # fmt: skip
    asyncio.run(run(options))
    return 0
