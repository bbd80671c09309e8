"""`bench.py import`: the supplier import script end to end against asyncpg COPY of the same rows.

    python scripts/bench.py import [--rows 100000] [--memory-rows 1000000] [--batch 1000]
                                   [--concurrency 4] [--workers 2] [--postgres URL]

Creates a throwaway PostgreSQL database (dropped at the end), builds the schema from the models,
starts a real gateway (uvicorn on 127.0.0.1, its own process), generates a CSV of `--rows`
suppliers (mostly companies, some natural persons, a few invalid rows) and runs
scripts/import_suppliers.py on it as a child process: rows/s from its wall time, peak memory from
its max RSS; CPU per row of the script, the gateway and PostgreSQL from the kernel's counters. The
baseline loads the same rows, already in the table's shape, into a copy of the supplier table (same
indexes) with `asyncpg.copy_records_to_table`, three times into the emptied table before the
script and three times after; the median rate counts. With `--memory-rows`, the script also
imports a file of that many rows so its peak memory can be compared (constant memory: within 1.2x).
The exit status is 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import resource
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
from tortoise.context import TortoiseContext

from registry.avatars.storage import LocalBlobStore
from registry.config import RegistryConfig, configure
from registry.crypto import BlindIndexer, Keyring, Vault
from registry.db import tortoise_config
from registry.platforms import services as platforms
from registry.validators.documents import mod11_2_check
from registry.validators.uscc import ALPHABET, org_code_check_char, uscc_check_char
from scripts.benches.databases import admin

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "import_suppliers.py"
COLUMNS = [
    "external_ref", "kind", "name", "credit_code", "address", "contact_phone", "categories", "licenses",
    "document_type", "document_number", "full_name", "birth_date", "nationality", "expires_on",
]  # fmt: skip
TARGET_RATIO = 0.1
MEMORY_FACTOR = 1.2
COPY_RUNS = 3
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"
_CITIES = [
    ("广东省深圳市南山区", "0755"),
    ("北京市朝阳区", "010"),
    ("上海市浦东新区", "021"),
    ("浙江省杭州市西湖区", "0571"),
]


# ------------------------------------------------------------------------------------ the data


def _credit_code(rng: random.Random, kind: str) -> str:
    body8 = "".join(rng.choice(ALPHABET) for _ in range(8))
    first17 = ("92" if kind == "INDIVIDUAL_BUSINESS" else "91") + "440300" + body8 + org_code_check_char(body8)
    return first17 + uscc_check_char(first17)


def _resident_id(rng: random.Random) -> str:
    birth = date(rng.randint(1960, 2000), rng.randint(1, 12), rng.randint(1, 28))
    body = f"110105{birth:%Y%m%d}{rng.randint(0, 999):03d}"
    return body + mod11_2_check(body)


def supplier_rows(count: int, seed: int = 7) -> Iterator[dict[str, str]]:
    """Realistic rows: 85% enterprises, 5% individual businesses, 10% natural persons; 1 in 1,000 invalid."""
    rng = random.Random(seed)
    for i in range(count):
        city, area = rng.choice(_CITIES)
        roll = rng.random()
        kind = "ENTERPRISE" if roll < 0.85 else "INDIVIDUAL_BUSINESS" if roll < 0.9 else "NATURAL_PERSON"
        food = rng.random() < 0.3
        licenses = [
            {"type": "FOOD_BUSINESS", "number": f"JY{rng.randint(10**13, 10**14 - 1)}", "validUntil": "2030-06-30"}
        ]
        row = {
            "external_ref": f"sup-{i:08d}",
            "kind": kind,
            "name": f"{city[:2]}{rng.choice(_SURNAMES)}{rng.choice(_GIVEN)}商贸有限公司",
            "address": f"{city}科技园路{rng.randint(1, 999)}号",
            "contact_phone": f"{area}-{rng.randint(2000_0000, 7999_9999)}"
            if rng.random() < 0.5
            else f"139{rng.randint(10**7, 10**8 - 1)}",
            "categories": "GENERAL;FOOD" if food else "GENERAL",
            "licenses": json.dumps(licenses if food else [], ensure_ascii=False),
        }
        if kind == "NATURAL_PERSON":
            name = rng.choice(_SURNAMES) + rng.choice(_GIVEN) + rng.choice(_GIVEN)
            row.update(name=name, document_type="RESIDENT_ID_CARD", document_number=_resident_id(rng), full_name=name)
        else:
            row["credit_code"] = _credit_code(rng, kind)
        if i % 1000 == 999:
            row["credit_code"] = "914403001922038217"  # fails its check character: rejected
            row["kind"] = "ENTERPRISE"
        yield row


def write_csv(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(supplier_rows(count))


def copy_records(platform_id: str, count: int) -> tuple[list[str], list[tuple[object, ...]]]:
    """The same rows in the supplier table's shape, for COPY (no validation: the raw load ceiling)."""
    columns = ["id", "platform_id", "external_ref", "kind", "name", "credit_code", "address", "contact_phone",
               "categories", "licenses", "licenses_missing", "verification_status", "findings", "content_hash",
               "created_at", "updated_at"]  # fmt: skip
    now = datetime.now(UTC)
    records = [
        (f"sup_{secrets.token_hex(13)}", platform_id, row["external_ref"], row["kind"], row["name"],
         row.get("credit_code"), row["address"], row["contact_phone"], f"|{row['categories'].replace(';', '|')}|",
         row["licenses"], False, "VERIFIED", "[]", secrets.token_hex(32), now, now)
        for row in supplier_rows(count)
    ]  # fmt: skip
    return columns, records


# ------------------------------------------------------------------------------------ the setup


@dataclass(frozen=True, slots=True)
class Database:
    admin_url: str
    name: str

    @property
    def url(self) -> str:
        parts = urlsplit(self.admin_url)
        return urlunsplit((parts.scheme, parts.netloc, f"/{self.name}", parts.query, ""))

    @property
    def asyncpg_url(self) -> str:
        return self.url.replace("postgres://", "postgresql://", 1)


async def create_database(admin_url: str, keys: RegistryConfig) -> tuple[Database, platforms.NewClient]:
    database = Database(admin_url, f"livegate_bench_{secrets.token_hex(4)}")
    await admin(admin_url, f'CREATE DATABASE "{database.name}"')
    configure(keys)
    context = TortoiseContext()
    async with context:
        await context.init(config=tortoise_config(database.url))
        await context.generate_schemas(safe=False)
        client = await platforms.create_platform("bench", scopes="suppliers:read suppliers:write")
    conn = await asyncpg.connect(database.asyncpg_url)
    try:
        await conn.execute("CREATE TABLE supplier_copy (LIKE supplier INCLUDING ALL)")
    finally:
        await conn.close()
    return database, client


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_gateway(
    database: Database, keys: RegistryConfig, data_dir: Path, workers: int
) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {
        **os.environ,
        "LIVEGATE_DATABASE_URL": database.url,
        "LIVEGATE_DATA_DIR": str(data_dir),
        "LIVEGATE_DATA_KEYS": keys.vault.keyring.format(),
        "LIVEGATE_INDEX_KEYS": keys.indexer.keyring.format(),
        "LIVEGATE_LIMITS_RATE_PER_S": "1000000",
        "LIVEGATE_LIMITS_RATE_BURST": "1000000",
        "LIVEGATE_EXPLORER": "0",
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "gateway.asgi:app_factory", "--host", "127.0.0.1",
               "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log"]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return server, url
        except httpx.TransportError:
            pass
        if server.poll() is not None:
            break
        time.sleep(0.2)
    stop(server)
    raise RuntimeError("the gateway did not become ready")


def stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# ------------------------------------------------------------------------------------ the runs


def _ticks(pid: int) -> tuple[int, int, str]:
    """(parent pid, user+system clock ticks, command line) of a live process; zeros if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (OSError, IndexError):
        return 0, 0, ""
    return int(fields[1]), int(fields[11]) + int(fields[12]), cmdline


def cpu_seconds(gateway_pid: int, database: str) -> dict[str, float]:
    """CPU used so far by the gateway (with its workers) and by the bench database's server backends."""
    tick = os.sysconf("SC_CLK_TCK")
    used = {"gateway": 0.0, "postgres": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        parent, ticks, cmdline = _ticks(int(entry.name))
        if int(entry.name) == gateway_pid or parent == gateway_pid:
            used["gateway"] += ticks / tick
        elif cmdline.startswith("postgres:") and f" {database} " in f"{cmdline} ":
            used["postgres"] += ticks / tick
    return used


@dataclass(frozen=True, slots=True)
class ScriptRun:
    rows: int
    seconds: float
    peak_rss_mib: float
    summary: str
    cpu: dict[str, float]  # seconds of CPU: the script, the gateway, PostgreSQL

    def per_row(self) -> str:
        return ", ".join(f"{name} {seconds / self.rows * 1e6:,.0f}" for name, seconds in self.cpu.items())

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


def _peak_rss_kib(pid: int) -> int:
    """VmHWM: the peak resident set of the process's own address space (reset by exec). The rusage
    max RSS is not used: it keeps the forking parent's size across exec, which is this bench's."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    line = next((line for line in status.splitlines() if line.startswith("VmHWM:")), "VmHWM: 0 kB")
    return int(line.split()[1])


def _wait_watching_memory(pid: int) -> tuple[int, resource.struct_rusage, int]:
    peak = 0
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return status, usage, peak
        peak = max(peak, _peak_rss_kib(pid))
        time.sleep(0.05)


def run_script(
    path: Path, rows: int, url: str, client: platforms.NewClient, batch: int, concurrency: int,
    server: subprocess.Popen[bytes], database: str,
) -> ScriptRun:  # fmt: skip
    command = [sys.executable, str(SCRIPT), str(path), "--url", url, "--client-id", client.platform.client_id,
               "--client-secret", client.client_secret, "--batch", str(batch), "--concurrency", str(concurrency),
               "--no-progress"]  # fmt: skip
    before = cpu_seconds(server.pid, database)
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE)
    status, usage, peak_kib = _wait_watching_memory(child.pid)
    seconds = time.perf_counter() - started
    after = cpu_seconds(server.pid, database)
    cpu = {"script": usage.ru_utime + usage.ru_stime, **{k: after[k] - before[k] for k in after}}
    output = child.stdout.read().decode() if child.stdout else ""
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"the import script failed ({child.returncode}): {output}")
    return ScriptRun(rows, seconds, peak_kib / 1024, output.strip().splitlines()[-1], cpu)


async def copy_rates(database: Database, platform_id: str, rows: int, runs: int = COPY_RUNS) -> list[float]:
    """Rows/s of `runs` loads, each into the emptied table."""
    columns, records = copy_records(platform_id, rows)
    conn = await asyncpg.connect(database.asyncpg_url)
    rates = []
    try:
        for _ in range(runs):
            await conn.execute("TRUNCATE supplier_copy")
            started = time.perf_counter()
            await conn.copy_records_to_table("supplier_copy", records=records, columns=columns)
            rates.append(rows / (time.perf_counter() - started))
            assert await conn.fetchval("SELECT count(*) FROM supplier_copy") == rows
    finally:
        await conn.close()
    print(f"asyncpg COPY runs: {', '.join(f'{rate:,.0f}' for rate in rates)} rows/s")
    return rates


async def stored_rows(database: Database) -> int:
    conn = await asyncpg.connect(database.asyncpg_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM supplier"))
    finally:
        await conn.close()


@dataclass(frozen=True, slots=True)
class Gateway:
    url: str
    server: subprocess.Popen[bytes]
    database: Database
    client: platforms.NewClient

    def run(self, path: Path, rows: int, args: argparse.Namespace) -> ScriptRun:
        print(f"generating {rows:,} rows ...", flush=True)
        write_csv(path, rows)
        run = run_script(
            path, rows, self.url, self.client, args.batch, args.concurrency, self.server, self.database.name
        )
        print(
            f"import script:  {run.rows:>9,} rows in {run.seconds:7.2f} s = {run.rate:>9,.0f} rows/s  ({run.summary})"
        )
        print(f"  CPU per row (us): {run.per_row()}; load average {os.getloadavg()[0]:.2f}")
        print(f"  script peak memory: {run.peak_rss_mib:.1f} MiB")
        return run


def measure(gateway: Gateway, work: Path, args: argparse.Namespace) -> int:
    # COPY before and after the script: one load takes about a second and this shared machine's speed
    # drifts over the script's run, so the median of loads on both sides is the baseline.
    platform_id = gateway.client.platform.id
    rates = asyncio.run(copy_rates(gateway.database, platform_id, args.rows))
    run = gateway.run(work / "suppliers.csv", args.rows, args)
    print(f"  stored: {asyncio.run(stored_rows(gateway.database)):,} suppliers")
    rates += asyncio.run(copy_rates(gateway.database, platform_id, args.rows))
    copy_rate = statistics.median(rates)
    ratio = run.rate / copy_rate
    print(f"asyncpg COPY:   {args.rows:>9,} rows                = {copy_rate:>9,.0f} rows/s (median of {len(rates)})")
    print(f"ratio script / COPY: {ratio:.3f} (target >= {TARGET_RATIO})  "
          f"[batch {args.batch}, concurrency {args.concurrency}, {args.workers} worker(s)]")  # fmt: skip
    status = 0 if ratio >= TARGET_RATIO else 1
    if args.memory_rows:
        large = gateway.run(work / "suppliers-large.csv", args.memory_rows, args)
        growth = large.peak_rss_mib / run.peak_rss_mib
        print(f"peak memory: {large.peak_rss_mib:.1f} MiB for {large.rows:,} rows = {growth:.2f}x "
              f"the {run.rows:,}-row run (target <= {MEMORY_FACTOR}x)")  # fmt: skip
        status |= 0 if growth <= MEMORY_FACTOR else 1
    return status


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.py import", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--memory-rows", type=int, default=0, help="also import a file this large (e.g. 1000000)")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    default_pg = os.environ.get("LIVEGATE_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
    parser.add_argument("--postgres", default=default_pg, help="a server where a database may be created")
    args = parser.parse_args(argv)
    keys = RegistryConfig(
        vault=Vault(Keyring.generate("b1")),
        indexer=BlindIndexer(Keyring.generate("b2")),
        blobs=LocalBlobStore(Path("/nonexistent")),
    )
    with tempfile.TemporaryDirectory(prefix="livegate-bench-") as tmp:
        work = Path(tmp)
        database, client = asyncio.run(create_database(args.postgres, keys))
        server = None
        try:
            server, url = start_gateway(database, keys, work / "data", args.workers)
            return measure(Gateway(url, server, database, client), work, args)
        finally:
            if server is not None:
                stop(server)
            asyncio.run(admin(args.postgres, f'DROP DATABASE IF EXISTS "{database.name}" WITH (FORCE)'))
