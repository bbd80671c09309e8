"""What token verification costs: an authenticated `{ __typename }` against an unauthenticated one.

Starts the real gateway with uvicorn on 127.0.0.1 (a throwaway data dir and SQLite database, rate
limits raised out of the way), creates a platform with the CLI, then drives both request kinds
interleaved for N rounds at a fixed concurrency. Each round's ratio is computed inside the round and
the median is taken (the machine is shared: trust ratios, not absolute figures).

The load generator is either prepared request bytes on raw keep-alive sockets (default: cheap enough
to keep the server's core busy, like wrk) or httpx.AsyncClient (`--client httpx`: set-up and
pre-checks always use it). The server's CPU time per request is read from /proc as well. A throughput
ratio measures the server only while the server is the bottleneck, so the verdict takes the larger of
both costs when the server was saturated, and the CPU cost alone when it was not.

    python scripts/bench.py auth [--rounds 5] [--seconds 3] [--concurrency 16] [--client raw|httpx]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

TARGET_COST = 0.15  # "token verification costs at most 15%"
SATURATED = 0.8  # share of a core above which the server, not the load generator, is the bottleneck
BODY = b'{"query":"{ __typename }"}'
EXPECTED = b'{"data":{"__typename":"Query"}}'
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True)
class Server:
    url: str
    pid: int
    client_id: str
    client_secret: str


@dataclass(frozen=True, slots=True)
class Phase:
    requests: int
    errors: int
    seconds: float
    server_cpu_s: float | None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_us_per_request(self) -> float | None:
        return None if self.server_cpu_s is None or not self.requests else self.server_cpu_s / self.requests * 1e6


# -- the server ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environment(data_dir: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("LIVEGATE_")}
    env.update(
        {
            "LIVEGATE_DATA_DIR": str(data_dir),
            "LIVEGATE_DATABASE_URL": f"sqlite://{data_dir / 'bench.sqlite3'}",
            "LIVEGATE_LIMITS_RATE_PER_S": "1000000",
            "LIVEGATE_LIMITS_RATE_BURST": "1000000",
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"livegate {' '.join(args)} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def _wait_until_up(url: str, process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the gateway exited with status {process.returncode} while starting")
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the gateway did not answer /healthz within {timeout_s:.0f} s")


@contextmanager
def running_gateway() -> Iterator[Server]:
    data_dir = Path(tempfile.mkdtemp(prefix="livegate-bench-"))
    env = _environment(data_dir)
    process: subprocess.Popen[bytes] | None = None
    try:
        _cli(env, "migrate")
        created = json.loads(_cli(env, "platform", "create", "--name", "bench", "--json"))
        port = _free_port()
        command = [sys.executable, "-m", "uvicorn", "--factory", "gateway.asgi:app_factory"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"]
        process = subprocess.Popen(command, env=env, cwd=ROOT)
        url = f"http://127.0.0.1:{port}"
        _wait_until_up(url, process)
        yield Server(url, process.pid, created["client_id"], created["client_secret"])
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(data_dir, ignore_errors=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)  # uvicorn shuts down gracefully on SIGINT
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _server_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of the server process (Linux /proc), or None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    # After the ")" closing the command name, utime and stime are the 12th and 13th fields.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the load ------------------------------------------------------------------------------------


async def _token(client: httpx.AsyncClient, server: Server) -> str:
    form = {"grant_type": "client_credentials", "client_id": server.client_id, "client_secret": server.client_secret}
    response = await client.post("/oauth/token", data=form)
    response.raise_for_status()
    return str(response.json()["access_token"])


async def _worker(client: httpx.AsyncClient, headers: dict[str, str], deadline: float) -> tuple[int, int]:
    done = errors = 0
    while time.perf_counter() < deadline:
        response = await client.post("/graphql", content=BODY, headers=headers)
        if response.status_code == 200 and response.content == EXPECTED:
            done += 1
        else:
            errors += 1
    return done, errors


def _raw_request(url: str, headers: dict[str, str]) -> bytes:
    lines = ["POST /graphql HTTP/1.1", f"Host: {url.removeprefix('http://')}", f"Content-Length: {len(BODY)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + BODY


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise RuntimeError("a response without Content-Length")


async def _raw_worker(url: str, request: bytes, deadline: float) -> tuple[int, int]:
    """One keep-alive connection writing prepared bytes: a client cheap enough to saturate the server."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    done = errors = 0
    try:
        while time.perf_counter() < deadline:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            body = await reader.readexactly(_content_length(head))
            if head.startswith(b"HTTP/1.1 200") and body == EXPECTED:
                done += 1
            else:
                errors += 1
    except (asyncio.IncompleteReadError, ConnectionError):
        errors += 1  # the server closed the connection: counted, and this worker stops
    finally:
        writer.close()
    return done, errors


@dataclass(frozen=True, slots=True)
class Load:
    client: httpx.AsyncClient
    url: str
    pid: int
    concurrency: int
    raw: bool  # prepared bytes on raw sockets instead of httpx

    async def phase(self, headers: dict[str, str], seconds: float) -> Phase:
        cpu_before = _server_cpu_s(self.pid)
        started = time.perf_counter()
        deadline = started + seconds
        if self.raw:
            request = _raw_request(self.url, headers)
            work = [_raw_worker(self.url, request, deadline) for _ in range(self.concurrency)]
        else:
            work = [_worker(self.client, headers, deadline) for _ in range(self.concurrency)]
        results = await asyncio.gather(*work)
        elapsed = time.perf_counter() - started
        cpu_after = _server_cpu_s(self.pid)
        cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
        return Phase(sum(r[0] for r in results), sum(r[1] for r in results), elapsed, cpu)


async def _precheck(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    response = await client.post("/graphql", content=BODY, headers=headers)
    if response.status_code != 200 or response.content != EXPECTED:
        raise RuntimeError(f"pre-check failed: HTTP {response.status_code} {response.text[:200]}")


async def _measure(
    server: Server, rounds: int, seconds: float, concurrency: int, raw: bool
) -> list[tuple[Phase, Phase]]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=30.0) as client:
        load = Load(client, server.url, server.pid, concurrency, raw)
        plain = {"Content-Type": "application/json"}
        authed = {**plain, "Authorization": f"Bearer {await _token(client, server)}"}
        for headers in (plain, authed):
            await _precheck(client, headers)
            await load.phase(headers, 1.0)  # warm-up
        pairs = []
        for number in range(rounds):
            # Alternate which kind goes first, so drift within a round favours neither.
            first, second = (authed, plain) if number % 2 == 0 else (plain, authed)
            a, b = await load.phase(first, seconds), await load.phase(second, seconds)
            pairs.append((a, b) if first is authed else (b, a))
            print(_round_line(number + 1, *pairs[-1]), flush=True)
        return pairs


# -- report --------------------------------------------------------------------------------------


def _cpu_text(phase: Phase) -> str:
    cpu = phase.cpu_us_per_request
    return "n/a" if cpu is None else f"{cpu:,.0f} µs/req"


def _round_line(number: int, authed: Phase, plain: Phase) -> str:
    return (
        f"round {number}: authenticated {authed.rps:8,.0f} req/s ({_cpu_text(authed)}), "
        f"unauthenticated {plain.rps:8,.0f} req/s ({_cpu_text(plain)}), ratio {authed.rps / plain.rps:.3f}"
    )


def _report(pairs: list[tuple[Phase, Phase]], seconds: float, concurrency: int) -> int:
    ratios = [authed.rps / plain.rps for authed, plain in pairs]
    throughput_cost = 1 - statistics.median(ratios)
    errors = sum(a.errors + p.errors for a, p in pairs)
    print(f"\n{len(pairs)} rounds of {seconds:g} s per kind, {concurrency} concurrent requests, {errors} errors")
    print(f"authenticated   median {statistics.median(a.rps for a, _ in pairs):8,.0f} req/s")
    print(f"unauthenticated median {statistics.median(p.rps for _, p in pairs):8,.0f} req/s")
    print(f"ratio (median of per-round ratios) {statistics.median(ratios):.3f}: throughput cost {throughput_cost:+.1%}")
    cost = throughput_cost
    cpu = _cpu_cost(pairs)
    if cpu is not None:
        cpu_cost, busy = cpu
        print(f"server CPU per request: cost {cpu_cost:+.1%} (server busy {busy:.0%} of a core)")
        if busy < SATURATED:
            print("  the load generator did not saturate the server: the throughput ratio measures the client")
        cost = max(cost, cpu_cost) if busy >= SATURATED else cpu_cost
    passed = errors == 0 and cost <= TARGET_COST
    verdict = "PASS" if passed else "FAIL"
    print(f"verdict: {verdict}: target: token verification costs at most {TARGET_COST:.0%}; measured {cost:+.1%}")
    return 0 if passed else 1


def _cpu_cost(pairs: list[tuple[Phase, Phase]]) -> tuple[float, float] | None:
    """Median per-round CPU-per-request cost, and how busy the server was (None without /proc)."""
    costs, busy = [], []
    for authed, plain in pairs:
        a, p = authed.cpu_us_per_request, plain.cpu_us_per_request
        if a is None or not p or plain.server_cpu_s is None:
            return None
        costs.append(a / p - 1)
        busy.append(plain.server_cpu_s / plain.seconds)
    return statistics.median(costs), statistics.median(busy)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.py auth", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per kind per round (default 3)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (default 16)")
    parser.add_argument(
        "--client",
        choices=("httpx", "raw"),
        default="raw",
        help="load generator: prepared bytes on raw keep-alive sockets (default), or httpx.AsyncClient",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.seconds <= 0 or args.concurrency < 1:
        parser.error("--rounds, --seconds and --concurrency must be positive")
    try:
        with running_gateway() as server:
            print(f"gateway pid {server.pid} at {server.url}; {args.rounds} rounds, {args.concurrency} concurrent")
            pairs = asyncio.run(_measure(server, args.rounds, args.seconds, args.concurrency, args.client == "raw"))
    except RuntimeError as exc:
        print(f"bench auth: {exc}", file=sys.stderr)
        return 2
    return _report(pairs, args.seconds, args.concurrency)
