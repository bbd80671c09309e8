"""liveEligibility against bare GraphQL apps at 10k and 1M performers; `register`: registerPerformer
against a bare Strawberry mutation inserting one row, on a platform seeded with the first of --sizes.

A throwaway PostgreSQL database (on the server of LIVEGATE_TEST_POSTGRES_URL) gets the migrations, a
platform created through the registry, and performers seeded by COPY (scripts/benches/eligibility_seed.py),
then VACUUM ANALYZE and a checkpoint, as autovacuum would have done long before a production read.
Three servers run at once, one uvicorn worker each, on their own port and pinned to the last core: the
gateway, a bare Strawberry app (strawberry.asgi with both caches) and a bare graphql-core app (a cached
document, orjson), the last two from scripts/benches/baselines.py. A raw-socket load generator pinned to
the other cores drives them interleaved, in rounds, at one concurrency; each ratio is computed inside
its round and the median taken (the machine is shared: trust ratios over absolute figures).
The liveEligibility checks are the same mix at every size: a share (--fresh, 5%) for performers nobody
asked before, whose answers are computed by a read of the database, and the rest for a hot sample of
performers (--hot, 1,000, each asked once first), whose answers the gateway's cache gives. Each round's
line "by kind" gives the latencies of both; with 5% computed answers the p99 is always one of theirs,
so the p99 ratio of the sizes compares database reads in the same mix. (With a mix left to chance, the
share of computed answers crossed 1% from round to round, and the p99 moved with it.)

    python scripts/bench.py eligibility [--rounds 3] [--seconds 5] [--concurrency 32] [--sizes 10000,1000000]
                                       [--hot 1000] [--fresh 0.05]
    python scripts/bench.py eligibility register [--rounds 3] [--seconds 5] [--concurrency 32]
    ... --profile gateway.prof   runs the gateway under cProfile and prints where its time went
                                 (the profiler slows it: read the profile, not that run's ratios)
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import pstats
import random
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from importlib.util import find_spec
from pathlib import Path

import asyncpg
import httpx
import orjson

from registry.avatars.storage import LocalBlobStore
from registry.config import RegistryConfig, configure
from registry.crypto import BlindIndexer, Keyring, Vault
from registry.migrate import apply_migrations, orm
from registry.performers.eligibility_cache import MAX_AGE
from registry.platforms import services as platforms
from scripts.benches import eligibility_seed as seed
from scripts.benches import loadgen
from scripts.benches.baselines import CREATE_INSERT_TABLE
from scripts.benches.databases import admin, asyncpg_url, throwaway_database
from scripts.benches.loadgen import Phase, Server, Target

ELIGIBILITY_TARGET = 0.4  # of the bare graphql-core app's throughput
P99_TARGET = 1.2  # p99 at the largest size within 1.2x of p99 at the smallest
REGISTER_TARGET = 0.5  # of a bare Strawberry insert's throughput
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/test"
FRESH_POOL = 100_000  # performers drawn to be asked once: more than a run at --fresh 0.05 asks for

ELIGIBILITY = "query Eligibility($id: ID!) { liveEligibility(performerId: $id) { allowed reasons checkedAt } }"
HELLO = b'{"query":"{ hello }"}'
REGISTER = (
    "mutation Register($input: RegisterPerformerInput!) "
    "{ registerPerformer(input: $input) { performer { id } problems { code message field } } }"
)
INSERT = "mutation Insert($key: String!, $name: String!) { insertRow(key: $key, name: $name) { id key } }"
GATEWAY, STRAWBERRY, GRAPHQL_CORE = "liveEligibility", "bare Strawberry", "bare graphql-core"
CACHED, COMPUTED = "cached", "computed"  # EligibilityRequests' kinds of request
REGISTRATION, INSERTION = "registerPerformer", "bare Strawberry insert"
BASELINES = {"strawberry_app": STRAWBERRY, "graphql_core_app": GRAPHQL_CORE}  # app factory -> label


@dataclass(frozen=True, slots=True)
class Options:
    rounds: int
    seconds: float
    warmup: float
    concurrency: int
    sizes: list[int]
    hot: int
    fresh: float
    blacklist: int
    pool: int
    server_url: str
    redis_url: str | None
    profile: Path | None


# -- the database --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Setup:
    url: str
    data_dir: Path
    data_keys: Keyring
    index_keys: Keyring
    platform_id: str
    client_id: str
    client_secret: str


@asynccontextmanager
async def prepared(options: Options) -> AsyncIterator[Setup]:
    """A migrated throwaway database with one platform, and the keys the gateway will be given."""
    data_dir = Path(tempfile.mkdtemp(prefix="livegate-bench-"))
    try:
        async with throwaway_database(options.server_url) as url:
            started = time.perf_counter()
            await apply_migrations(url)
            data_keys, index_keys = Keyring.generate("bench1"), Keyring.generate("bench1")
            # The seeding uses the registry's own vault and indexer, under the keys the gateway gets.
            configure(RegistryConfig(Vault(data_keys), BlindIndexer(index_keys), LocalBlobStore(data_dir / "blobs")))
            async with orm(url):
                created = await platforms.create_platform("bench")
            print(f"database {url.rsplit('/', 1)[1]} migrated in {time.perf_counter() - started:.1f} s", flush=True)
            platform = created.platform
            yield Setup(url, data_dir, data_keys, index_keys, platform.id, platform.client_id, created.client_secret)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


# -- the servers ---------------------------------------------------------------------------------


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEGATE_", "BENCH_"))}
    env["PYTHONPATH"] = str(loadgen.ROOT)
    return env


def _gateway_env(setup: Setup, options: Options) -> dict[str, str]:
    env = _base_env()
    env.update(
        {
            "LIVEGATE_ENV": "dev",
            "LIVEGATE_EXPLORER": "0",  # as in prod: no introspection (one more validation rule, cached)
            "LIVEGATE_DATA_DIR": str(setup.data_dir / "gateway"),
            "LIVEGATE_DATABASE_URL": f"{setup.url}?minsize=1&maxsize={options.pool}",
            "LIVEGATE_DATA_KEYS": setup.data_keys.format(),
            "LIVEGATE_INDEX_KEYS": setup.index_keys.format(),
            "LIVEGATE_LIMITS_RATE_PER_S": "1000000",
            "LIVEGATE_LIMITS_RATE_BURST": "1000000",
            "LIVEGATE_TOKEN_LIFETIME_S": "3600",
        }
    )
    if options.redis_url:
        env["LIVEGATE_REDIS_URL"] = options.redis_url
    return env


def _start_gateway(setup: Setup, options: Options, core: set[int] | None) -> Server:
    prefix = [sys.executable]
    if options.profile is not None:
        prefix += ["-m", "cProfile", "-o", str(options.profile)]
    command = loadgen.uvicorn_command("gateway.asgi:app_factory", loadgen.free_port(), prefix=prefix)
    return loadgen.start("gateway", command, _gateway_env(setup, options), core, ready="/healthz")


def _start_baseline(app: str, env: dict[str, str], core: set[int] | None) -> Server:
    command = loadgen.uvicorn_command(f"scripts.benches.baselines:{app}", loadgen.free_port(), prefix=[sys.executable])
    return loadgen.start(app, command, env, core, ready="/graphql")


def _token(server: Server, setup: Setup, scope: str) -> str:
    form = {
        "grant_type": "client_credentials",
        "client_id": setup.client_id,
        "client_secret": setup.client_secret,
        "scope": scope,
    }
    answer = httpx.post(f"http://127.0.0.1:{server.port}/oauth/token", data=form, timeout=30.0)
    if answer.status_code != 200:
        raise RuntimeError(f"no token for {scope}: HTTP {answer.status_code} {answer.text[:200]}")
    return str(answer.json()["access_token"])


# -- what is sent ----------------------------------------------------------------------------------


class EligibilityRequests:
    """liveEligibility checks in a mix that is the same at every size: a share `fresh` of them for performers
    nobody asked before (each once, in a random order: computed, a read of the database), the others for a
    performer picked uniformly from a small hot sample, asked once each first (answered from the gateway's
    cache while valid: within MAX_AGE of the check that computed it, no write in between)."""

    def __init__(self, port: int, token: str, hot: Sequence[str], fresh: Sequence[str], share: float,
                 rng: random.Random) -> None:  # fmt: skip
        self._headers = {"Authorization": f"Bearer {token}"}
        self._port = port
        self._hot = [self._request(pid) for pid in hot]
        self._fresh = iter(fresh)
        self._share = share
        self._computed_at: dict[int, float] = {}
        self._first_pass = iter(range(len(hot)))
        self._rng = rng
        self.sent = self.cacheable = self.fresh_sent = 0
        self.fresh_ran_out = False
        self._last = CACHED

    def _request(self, performer_id: str) -> bytes:
        body = orjson.dumps({"query": ELIGIBILITY, "variables": {"id": performer_id}})
        return loadgen.post(self._port, "/graphql", body, self._headers)

    def __call__(self) -> bytes:
        self.sent += 1
        pick = next(self._first_pass, None)
        if pick is None and self._share and self._rng.random() < self._share:
            fresh = next(self._fresh, None)
            if fresh is not None:
                self.fresh_sent += 1
                self._last = COMPUTED
                return self._request(fresh)
            self.fresh_ran_out = True
        if pick is None:
            pick = self._rng.randrange(len(self._hot))
        now = time.monotonic()
        computed = self._computed_at.get(pick)
        if computed is not None and now - computed < MAX_AGE.total_seconds():
            self.cacheable += 1
            self._last = CACHED
        else:
            self._computed_at[pick] = now
            self._last = COMPUTED
        return self._hot[pick]

    def kind(self) -> str:
        """Whether the request just sent could be answered from the cache (loadgen.Target.kind)."""
        return self._last


def _eligibility_ok(body: bytes) -> bool:
    return body.startswith(b'{"data":{"liveEligibility":{"allowed":') and b'"errors"' not in body


def _hello_ok(body: bytes) -> bool:
    return b'"world"' in body and b'"errors"' not in body


def _hello_target(server: Server) -> Target:
    request = loadgen.post(server.port, "/graphql", HELLO)
    return Target(BASELINES[server.name], server.port, server.pid, lambda: request, _hello_ok)


def _registration(n: int, run: str) -> dict[str, object]:
    number = seed.resident_number(n, region="310101", first_birth=date(1980, 1, 1))
    document = {"type": "RESIDENT_ID_CARD", "number": number, "fullName": "张三"}
    return {"role": "MARKETER", "document": document, "phone": "13800138000", "externalRef": f"{run}-{n}"}


def _register_source(port: int, token: str, run: str) -> Callable[[], bytes]:
    """A new valid identity for every request."""
    counter, headers = itertools.count(), {"Authorization": f"Bearer {token}"}

    def next_request() -> bytes:
        body = {"query": REGISTER, "variables": {"input": _registration(next(counter), run)}}
        return loadgen.post(port, "/graphql", orjson.dumps(body), headers)

    return next_request


def _insert_source(port: int, run: str) -> Callable[[], bytes]:
    counter = itertools.count()

    def next_request() -> bytes:
        body = {"query": INSERT, "variables": {"key": f"{run}-{next(counter):016x}", "name": "bench"}}
        return loadgen.post(port, "/graphql", orjson.dumps(body))

    return next_request


def _registered_ok(body: bytes) -> bool:
    return b'"performer":{"id":"per_' in body and b'"problems":[]' in body


def _inserted_ok(body: bytes) -> bool:
    return b'"insertRow"' in body and b'"errors"' not in body


# -- measuring -----------------------------------------------------------------------------------

Round = dict[str, Phase]


def _phase_text(phase: Phase) -> str:
    cpu = phase.cpu_us_per_request
    cpu_text = "" if cpu is None else f", {cpu:,.0f} µs CPU/req"
    errors = f", {phase.errors} errors" if phase.errors else ""
    return f"{phase.rps:7,.0f} req/s p99 {phase.p99_ms:6.1f} ms{cpu_text}{errors}"


async def _measure(targets: list[Target], options: Options, label: str) -> list[Round]:
    for target in targets:
        await loadgen.check(target)
        await loadgen.drive(target, options.warmup, options.concurrency)
    rounds: list[Round] = []
    for number in range(options.rounds):
        shift = number % len(targets)  # rotate the order so drift within a round favours nobody
        measured: Round = {}
        for target in targets[shift:] + targets[:shift]:
            measured[target.name] = await loadgen.drive(target, options.seconds, options.concurrency)
            await asyncio.sleep(0.5)
        rounds.append(measured)
        line = " | ".join(f"{t.name} {_phase_text(measured[t.name])}" for t in targets)
        print(f"{label} round {number + 1}: {line}", flush=True)
        for target in targets:
            if measured[target.name].by_kind:
                print(f"{'':>{len(label)}}   {target.name} by kind: {_kinds_text(measured[target.name])}", flush=True)
    return rounds


def _kinds_text(phase: Phase) -> str:
    # The p99 of a round is a computed answer's latency as soon as they are more than 1% of its requests.
    total = sum(len(values) for values in phase.by_kind.values()) or 1
    return "; ".join(
        f"{kind} {len(values) / total:.1%} p50 {loadgen.percentile_ms(values, 0.5):.1f} ms "
        f"p99 {loadgen.percentile_ms(values, 0.99):.1f} ms"
        for kind, values in sorted(phase.by_kind.items())
    )


def _median(rounds: list[Round], value: Callable[[Round], float | None]) -> float | None:
    values = [v for v in (value(r) for r in rounds) if v is not None]
    return statistics.median(values) if values else None


def _ratio(rounds: list[Round], top: str, bottom: str) -> float:
    found = _median(rounds, lambda r: r[top].rps / r[bottom].rps if r[bottom].requests else None)
    return float("nan") if found is None else found


def _cpu_ratio(rounds: list[Round], top: str, bottom: str) -> float | None:
    """Throughput ratio a saturated core would give: the inverse ratio of CPU per request."""

    def one(r: Round) -> float | None:
        a, b = r[top].cpu_us_per_request, r[bottom].cpu_us_per_request
        return b / a if a and b else None

    return _median(rounds, one)


def _summary(rounds: list[Round], name: str) -> str:
    rps = _median(rounds, lambda r: r[name].rps) or 0.0
    p99 = _median(rounds, lambda r: r[name].p99_ms) or 0.0
    cpu = _median(rounds, lambda r: r[name].cpu_us_per_request)
    busy = _median(rounds, lambda r: (r[name].server_cpu_s or 0) / r[name].seconds if r[name].server_cpu_s else None)
    extra = "" if cpu is None or busy is None else f", {cpu:,.0f} µs CPU/req, server busy {busy:.0%} of a core"
    database = _median(rounds, lambda r: r[name].database_cpu_us_per_request)
    extra += "" if database is None else f", PostgreSQL {database:,.0f} µs CPU/req"
    client = _median(rounds, lambda r: r[name].client_cpu_us_per_request)
    extra += "" if client is None else f", load generator {client:,.0f} µs CPU/req"
    return f"  {name:<24} median {rps:7,.0f} req/s, p99 {p99:6.1f} ms{extra}"


def _verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def _ratio_line(rounds: list[Round], top: str, bottom: str, target: float | None) -> tuple[str, bool]:
    ratio, cpu = _ratio(rounds, top, bottom), _cpu_ratio(rounds, top, bottom)
    cpu_text = "" if cpu is None else f" (by CPU per request {cpu:.3f})"
    verdict = "" if target is None else f": target >= {target:.2f}, {_verdict(ratio >= target)}"
    return f"  {top} ÷ {bottom}: {ratio:.3f}{cpu_text}{verdict}", target is None or ratio >= target


# -- the two modes -------------------------------------------------------------------------------


async def _eligibility_phases(setup: Setup, options: Options, servers: list[Server]) -> dict[int, list[Round]]:
    gateway, *bare = servers
    rng = random.Random(4)
    conn = await asyncpg.connect(asyncpg_url(setup.url))
    results: dict[int, list[Round]] = {}
    try:
        ids: list[str] = []
        drawn: set[str] = set()
        for size in options.sizes:
            started = time.perf_counter()
            ids += await seed.seed_performers(conn, setup.platform_id, len(ids), size)
            if size == options.sizes[0] and options.blacklist:
                listed = seed.listed_sample(max(1, options.blacklist // 100), size, rng)
                await seed.seed_blacklist(conn, setup.platform_id, options.blacklist, listed)
            await seed.settle(conn)
            print(f"seeded {size:,} performers ({options.blacklist:,} blacklist entries) in "
                  f"{time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
            # Drawn from the whole table (at 1,000,000 they are spread over it), but never one an earlier
            # size drew: the gateway may still hold its answer.
            candidates = [pid for pid in ids if pid not in drawn]
            chosen = rng.sample(candidates, min(len(candidates), options.hot + FRESH_POOL))
            drawn.update(chosen)
            hot, fresh = chosen[: options.hot], chosen[options.hot :]
            if options.fresh and not fresh:
                raise RuntimeError(f"no performer is left to ask for the first time at {size:,}: give a smaller --hot")
            token = _token(gateway, setup, "eligibility:read")
            requests = EligibilityRequests(gateway.port, token, hot, fresh, options.fresh, rng)
            targets = [Target(GATEWAY, gateway.port, gateway.pid, requests, _eligibility_ok, requests.kind)]
            targets += [_hello_target(server) for server in bare]
            results[size] = await _measure(targets, options, f"{size:>9,}")
            print(_workload_text(requests, len(hot), len(fresh)), flush=True)
            if requests.fresh_ran_out:
                raise RuntimeError(
                    f"the {len(fresh):,} performers not asked before ran out at {size:,}: fewer checks than --fresh "
                    "asks were first checks, so the sizes' mixes differ; give a larger first size or a smaller --fresh"
                )
    finally:
        await conn.close()
    return results


def _workload_text(requests: EligibilityRequests, hot: int, fresh: int) -> str:
    sent = requests.sent or 1
    return (
        f"  {requests.sent:,} liveEligibility requests: {requests.fresh_sent:,} ({requests.fresh_sent / sent:.1%}) "
        f"for performers not asked before (of {fresh:,} drawn), the others for {hot:,} hot performers; "
        f"{requests.cacheable / sent:.1%} could be answered from the gateway's cache"
    )


def _eligibility_report(results: dict[int, list[Round]]) -> bool:
    passed = True
    for size, rounds in results.items():
        print(f"\n{size:,} performers, {len(rounds)} rounds (medians):")
        for name in (GATEWAY, STRAWBERRY, GRAPHQL_CORE):
            print(_summary(rounds, name))
        line, ok = _ratio_line(rounds, GATEWAY, GRAPHQL_CORE, ELIGIBILITY_TARGET)
        print(line)
        print(_ratio_line(rounds, GATEWAY, STRAWBERRY, None)[0])
        print(_ratio_line(rounds, STRAWBERRY, GRAPHQL_CORE, None)[0])
        passed &= ok
    sizes = sorted(results)
    if len(sizes) > 1:
        small, large = (_median(results[s], lambda r: r[GATEWAY].p99_ms) or 0.0 for s in (sizes[0], sizes[-1]))
        growth = large / small
        print(f"\nliveEligibility p99 at {sizes[-1]:,} ÷ p99 at {sizes[0]:,}: {large:.1f} ms ÷ {small:.1f} ms = "
              f"{growth:.2f}: target <= {P99_TARGET:.2f}, {_verdict(growth <= P99_TARGET)}")  # fmt: skip
        passed &= growth <= P99_TARGET
        print(_computed_line(results, sizes[0], sizes[-1]))
    errors = sum(p.errors for rounds in results.values() for r in rounds for p in r.values())
    print(f"errors: {errors}")
    return passed and errors == 0


def _computed_line(results: dict[int, list[Round]], small: int, large: int) -> str:
    """The computed answers' p99 over all rounds at both sizes: the latency the database's size could change."""

    def p99(size: int) -> float:
        latencies = sorted(v for r in results[size] for v in r[GATEWAY].by_kind.get(COMPUTED, ()))
        return loadgen.percentile_ms(latencies, 0.99)

    low, high = p99(small), p99(large)
    return (f"  computed answers only (a database read), all rounds: p99 at {large:,} ÷ p99 at {small:,}: "
            f"{high:.1f} ms ÷ {low:.1f} ms = {high / low:.2f}")  # fmt: skip


async def run_eligibility(options: Options) -> bool:
    server_core, client_cores = loadgen.cores()
    async with prepared(options) as setup:
        with loadgen.running([]) as servers:
            servers.append(_start_gateway(setup, options, server_core))
            env = _base_env()
            servers += [_start_baseline(app, env, server_core) for app in BASELINES]
            if client_cores is not None:
                os.sched_setaffinity(0, client_cores)
            _print_setup(options, server_core, client_cores)
            results = await _eligibility_phases(setup, options, servers)
    _print_profile(options.profile)
    return _eligibility_report(results)


async def run_register(options: Options) -> bool:
    server_core, client_cores = loadgen.cores()
    run = secrets.token_hex(4)
    async with prepared(options) as setup:
        await admin(setup.url, CREATE_INSERT_TABLE)
        await _seed_platform(setup, options)
        with loadgen.running([]) as servers:
            servers.append(_start_gateway(setup, options, server_core))
            env = {**_base_env(), "BENCH_DATABASE_URL": asyncpg_url(setup.url), "BENCH_POOL_SIZE": str(options.pool)}
            servers.append(_start_baseline("strawberry_app", env, server_core))
            gateway, bare = servers
            if client_cores is not None:
                os.sched_setaffinity(0, client_cores)
            _print_setup(options, server_core, client_cores)
            token = _token(gateway, setup, "performers:write")
            register = _register_source(gateway.port, token, run)
            targets = [
                Target(REGISTRATION, gateway.port, gateway.pid, register, _registered_ok),
                Target(INSERTION, bare.port, bare.pid, _insert_source(bare.port, run), _inserted_ok),
            ]
            rounds = await _measure(targets, options, "register")
        landed = await _count(setup.url, "SELECT count(*) FROM performer") - options.sizes[0]
    _print_profile(options.profile)
    return _register_report(rounds, landed)


async def _seed_platform(setup: Setup, options: Options) -> None:
    """Registrations go to a platform that already has performers (the first of --sizes) and blacklist
    entries, its statistics gathered, as in production. On empty tables that no ANALYZE had seen, the
    gateway's prepared statements kept generic plans made for a few rows, and a probe of a unique index
    became a scan of the platform's performers, longer with every registration."""
    started = time.perf_counter()
    conn = await asyncpg.connect(asyncpg_url(setup.url))
    try:
        size = options.sizes[0]
        await seed.seed_performers(conn, setup.platform_id, 0, size)
        if options.blacklist:
            listed = seed.listed_sample(max(1, options.blacklist // 100), size, random.Random(4))
            await seed.seed_blacklist(conn, setup.platform_id, options.blacklist, listed)
        await seed.settle(conn)
    finally:
        await conn.close()
    print(f"seeded {size:,} performers ({options.blacklist:,} blacklist entries) in "
          f"{time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip


async def _count(url: str, sql: str) -> int:
    conn = await asyncpg.connect(asyncpg_url(url))
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


def _register_report(rounds: list[Round], landed: int) -> bool:
    print(f"\nregister, {len(rounds)} rounds (medians):")
    for name in (REGISTRATION, INSERTION):
        print(_summary(rounds, name))
    line, passed = _ratio_line(rounds, REGISTRATION, INSERTION, REGISTER_TARGET)
    print(line)
    errors = sum(p.errors for r in rounds for p in r.values())
    print(f"performers registered during the run (warm-up included): {landed:,}; errors: {errors}")
    return passed and errors == 0


def _print_setup(options: Options, server_core: set[int] | None, client_cores: set[int] | None) -> None:
    pinning = (
        "not pinned (one core)" if server_core is None else f"servers on core {server_core}, load on {client_cores}"
    )
    # uvicorn takes uvloop and httptools when they are installed: they change every absolute figure.
    stack = "uvloop+httptools" if find_spec("uvloop") and find_spec("httptools") else "asyncio+h11"
    print(f"{options.rounds} rounds x {options.seconds:g} s per server, {options.concurrency} connections, "
          f"DB pools of {options.pool}, {pinning}, uvicorn on {stack}", flush=True)  # fmt: skip


def _print_profile(path: Path | None) -> None:
    if path is None or not path.exists():
        return
    stats = pstats.Stats(str(path))
    print(f"\ngateway profile ({path}), by own time:")
    stats.sort_stats("tottime").print_stats(30)
    print("by cumulative time:")
    stats.sort_stats("cumulative").print_stats(45)


# -- command line --------------------------------------------------------------------------------


def _sizes(text: str) -> list[int]:
    sizes = sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()})
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError("sizes are positive numbers of performers, e.g. 10000,1000000")
    return sizes


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench.py eligibility", description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="?", choices=("eligibility", "register"), default="eligibility")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per server per round (default 5)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per server (default 2)")
    parser.add_argument("--concurrency", type=int, default=32, help="connections, one request each (default 32)")
    parser.add_argument("--sizes", type=_sizes, default=[10_000, 1_000_000], help="performers (default 10000,1000000)")
    parser.add_argument("--hot", type=int, default=1_000, help="performers asked again and again (default 1000)")
    parser.add_argument(
        "--fresh", type=float, default=0.05, help="share of checks for performers not asked before (default 0.05)"
    )
    parser.add_argument("--blacklist", type=int, default=2_000, help="blacklist entries (default 2000)")
    parser.add_argument("--pool", type=int, default=10, help="database pool size of each server (default 10)")
    parser.add_argument("--redis", help="give the gateway this LIVEGATE_REDIS_URL (default: no Redis)")
    parser.add_argument("--profile", type=Path, help="run the gateway under cProfile, writing this file")
    return parser


def _options(argv: list[str]) -> tuple[str, Options]:
    parser = _parser()
    args = parser.parse_args(argv)
    if min(args.rounds, args.concurrency, args.hot, args.pool) < 1 or args.seconds <= 0:
        parser.error("--rounds, --seconds, --concurrency, --hot and --pool must be positive")
    if not 0 <= args.fresh < 1:
        parser.error("--fresh is a share of the checks, from 0 to less than 1")
    if args.warmup < 0 or args.blacklist < 0:
        parser.error("--warmup and --blacklist cannot be negative")
    server = os.environ.get("LIVEGATE_TEST_POSTGRES_URL") or DEFAULT_SERVER
    options = Options(
        rounds=args.rounds, seconds=args.seconds, warmup=args.warmup, concurrency=args.concurrency,
        sizes=args.sizes, hot=args.hot, fresh=args.fresh, blacklist=args.blacklist, pool=args.pool, server_url=server,
        redis_url=args.redis, profile=args.profile.resolve() if args.profile else None,
    )  # fmt: skip
    return args.mode, options


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # unwinds like Ctrl-C: servers stopped, database dropped


def main(argv: list[str]) -> int:
    mode, options = _options(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        passed = asyncio.run(run_register(options) if mode == "register" else run_eligibility(options))
    except KeyboardInterrupt:
        print("bench eligibility: interrupted; servers stopped and database dropped", file=sys.stderr)
        return 130
    except (RuntimeError, OSError, asyncpg.PostgresError) as exc:
        print(f"bench eligibility: {exc}", file=sys.stderr)
        return 2
    return 0 if passed else 1
