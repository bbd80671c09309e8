"""A closed-loop HTTP/1.1 load generator on raw keep-alive sockets, and the servers it drives.

Each connection writes one prepared request, reads the whole answer, and sends the next: cheap enough
for one Python core to saturate one uvicorn worker (httpx costs more per request than the servers
measured here). Latency is measured per request; the server's CPU time comes from /proc, which says
whether the load generator kept the server busy.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
RequestSource = Callable[[], bytes]  # the bytes of the next request
BodyCheck = Callable[[bytes], bool]  # is this 200 answer a correct one?
RequestKind = Callable[[], str]  # the kind of the request `next_request` gave last, e.g. "cached"


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    port: int
    pid: int
    next_request: RequestSource
    ok: BodyCheck
    kind: RequestKind | None = None  # when given, latencies are also kept by kind


@dataclass(frozen=True, slots=True)
class Phase:
    requests: int
    errors: int
    seconds: float
    latencies: list[float]  # seconds, sorted
    server_cpu_s: float | None
    database_cpu_s: float | None = None  # a PostgreSQL server on this machine, all its processes
    client_cpu_s: float | None = None  # this load generator's own process
    by_kind: dict[str, list[float]] = field(default_factory=dict)  # seconds, sorted, by Target.kind

    @property
    def client_cpu_us_per_request(self) -> float | None:
        if self.client_cpu_s is None or not self.requests:
            return None
        return self.client_cpu_s / self.requests * 1e6

    @property
    def database_cpu_us_per_request(self) -> float | None:
        if self.database_cpu_s is None or not self.requests:
            return None
        return self.database_cpu_s / self.requests * 1e6

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile_ms(self, fraction: float) -> float:
        return percentile_ms(self.latencies, fraction)

    @property
    def p99_ms(self) -> float:
        return self.percentile_ms(0.99)

    @property
    def cpu_us_per_request(self) -> float | None:
        if self.server_cpu_s is None or not self.requests:
            return None
        return self.server_cpu_s / self.requests * 1e6


def percentile_ms(latencies: list[float], fraction: float) -> float:
    """A percentile of sorted latencies in seconds, in milliseconds."""
    if not latencies:
        return float("nan")
    return latencies[min(len(latencies) - 1, int(fraction * len(latencies)))] * 1000


def post(port: int, path: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Type: application/json"]
    lines += [f"Content-Length: {len(body)}", *(f"{name}: {value}" for name, value in (headers or {}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise ConnectionError("an answer without Content-Length (chunked answers are not expected here)")


async def _connection(
    target: Target, deadline: float, latencies: list[float], by_kind: dict[str, list[float]]
) -> tuple[int, int]:
    done = errors = 0
    reader, writer = await asyncio.open_connection("127.0.0.1", target.port)
    try:
        while (started := time.perf_counter()) < deadline:
            writer.write(target.next_request())
            kind = None if target.kind is None else target.kind()  # before any other connection asks
            try:
                head = await reader.readuntil(b"\r\n\r\n")
                body = await reader.readexactly(_content_length(head))
            except (asyncio.IncompleteReadError, ConnectionError):
                errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", target.port)
                continue
            latencies.append(time.perf_counter() - started)
            if kind is not None:
                by_kind.setdefault(kind, []).append(latencies[-1])
            if head.startswith(b"HTTP/1.1 200") and target.ok(body):
                done += 1
            else:
                errors += 1
    finally:
        writer.close()
    return done, errors


def server_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process (Linux /proc), or None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    # After the ")" closing the command name, utime and stime are the 12th and 13th fields.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_cpu_s() -> float | None:
    """CPU seconds of every process of a PostgreSQL server on this machine (Linux /proc), or None.

    Pooled connections live through a phase, so the difference over a phase is what the server spent on
    it (a backend that ends meanwhile takes its share with it); the bench servers share this machine."""
    total, found = 0.0, False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if stat[stat.index("(") + 1 : stat.rindex(")")] == "postgres":
            fields = stat.rpartition(")")[2].split()
            total, found = total + int(fields[11]) + int(fields[12]), True
    return total / os.sysconf("SC_CLK_TCK") if found else None


async def drive(target: Target, seconds: float, concurrency: int) -> Phase:
    latencies: list[float] = []
    by_kind: dict[str, list[float]] = {}
    cpu_before, db_before, client_before = server_cpu_s(target.pid), database_cpu_s(), time.process_time()
    started = time.perf_counter()
    connections = (_connection(target, started + seconds, latencies, by_kind) for _ in range(concurrency))
    results = await asyncio.gather(*connections)
    elapsed = time.perf_counter() - started
    client = time.process_time() - client_before
    cpu = _spent(cpu_before, server_cpu_s(target.pid))
    database = _spent(db_before, database_cpu_s())
    latencies.sort()
    for values in by_kind.values():
        values.sort()
    done, errors = sum(r[0] for r in results), sum(r[1] for r in results)
    return Phase(done, errors, elapsed, latencies, cpu, database, client, by_kind)


def _spent(before: float | None, after: float | None) -> float | None:
    return after - before if before is not None and after is not None else None


async def check(target: Target) -> None:
    """One request that must succeed before any timing."""
    reader, writer = await asyncio.open_connection("127.0.0.1", target.port)
    try:
        writer.write(target.next_request())
        head = await reader.readuntil(b"\r\n\r\n")
        body = await reader.readexactly(_content_length(head))
    finally:
        writer.close()
    if not head.startswith(b"HTTP/1.1 200") or not target.ok(body):
        status = head.partition(b"\r\n")[0].decode(errors="replace")
        raise RuntimeError(f"pre-check of {target.name} failed: {status} {body[:300]!r}")


# -- servers -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cores() -> tuple[set[int] | None, set[int] | None]:
    """(the server core, the load generator's cores): the last core for servers, the rest for the client."""
    available = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(available) < 2:
        return None, None
    return {available[-1]}, set(available[:-1])


@dataclass(frozen=True, slots=True)
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid


def _pinned(core: set[int] | None) -> Callable[[], None] | None:
    if core is None:
        return None
    return lambda: os.sched_setaffinity(0, core)


def uvicorn_command(app: str, port: int, *, prefix: Sequence[str] = ()) -> list[str]:
    command = [*prefix, "-m", "uvicorn", "--factory", app, "--host", "127.0.0.1", "--port", str(port)]
    return [*command, "--workers", "1", "--no-access-log", "--log-level", "warning"]


def start(name: str, command: list[str], env: dict[str, str], core: set[int] | None, ready: str) -> Server:
    port = int(command[command.index("--port") + 1])
    process = subprocess.Popen(command, env=env, cwd=ROOT, preexec_fn=_pinned(core))
    server = Server(name, port, process)
    try:
        _wait_until_up(server, ready)
    except BaseException:
        stop(server)
        raise
    return server


def _wait_until_up(server: Server, ready: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited with status {server.process.returncode} while starting")
        with suppress(httpx.TransportError):
            url = f"http://127.0.0.1:{server.port}{ready}"
            answer = (
                httpx.get(url, timeout=1.0) if ready != "/graphql" else httpx.post(url, json={"query": "{ hello }"})
            )
            if answer.status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{server.name} did not answer within {timeout_s:.0f} s")


def _answers(url: str) -> bool:
    if url.endswith("/graphql"):
        return httpx.post(url, json={"query": "{ hello }"}, timeout=1.0).status_code == 200
    return httpx.get(url, timeout=1.0).status_code == 200


def stop(server: Server) -> None:
    process = server.process
    if process.poll() is None:
        process.send_signal(signal.SIGINT)  # uvicorn shuts down gracefully (and cProfile writes its file)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def running(servers: list[Server]) -> Iterator[list[Server]]:
    """Stops every server of the list (as it is at exit), whatever happened."""
    try:
        yield servers
    finally:
        for server in servers:
            stop(server)
