"""A real verifier for the http identity provider: a Starlette app under uvicorn on 127.0.0.1.

The path picks the behaviour (/VERIFIED, /REJECTED, /MISMATCH, /PENDING answer 200 with that
verdict after checking the request's signature; /accepted 202; /slow past any test timeout;
/error 500; /garbage a 200 that is not JSON; /unknown a verdict that does not exist). The server
runs in its own thread and event loop and is always stopped and joined on the way out.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from registry import clock
from registry.identity_http import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify_signature
from registry.identity_provider import Answer, Verdict
from registry.validators.documents import VerifiedDocument

SECRET = "test-provider-secret"
SLOW_S = 1.5


@dataclass(frozen=True, slots=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(slots=True)
class Verifier:
    base_url: str
    received: list[Received] = field(default_factory=list)

    def url(self, behaviour: str) -> str:
        return f"{self.base_url}/{behaviour}"


def _app(verifier: Verifier) -> Starlette:
    async def answer(request: Request) -> Response:
        body = await request.body()
        verifier.received.append(Received(request.url.path, dict(request.headers), body))
        behaviour = request.path_params["behaviour"]
        if behaviour in Verdict.__members__:
            timestamp, signature = request.headers.get(TIMESTAMP_HEADER), request.headers.get(SIGNATURE_HEADER)
            if not verify_signature(SECRET, timestamp, signature, body, now=clock.now()):
                return JSONResponse({"error": "bad signature"}, status_code=401)
            return JSONResponse({"status": behaviour, "reference": f"ref-{behaviour.lower()}"})
        if behaviour == "slow":
            await asyncio.sleep(SLOW_S)
            return JSONResponse({"status": "VERIFIED"})
        responses = {
            "accepted": Response(status_code=202),
            "error": Response("upstream failure", status_code=500),
            "garbage": Response(b"<html>not json", status_code=200),
            "unknown": JSONResponse({"status": "PROBABLY"}),
        }
        return responses.get(behaviour, Response(status_code=404))

    return Starlette(routes=[Route("/{behaviour}", answer, methods=["POST"])])


@contextmanager
def running_verifier() -> Iterator[Verifier]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    verifier = Verifier(f"http://127.0.0.1:{sock.getsockname()[1]}")
    config = uvicorn.Config(_app(verifier), log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the verifier did not start"
            time.sleep(0.02)
        yield verifier
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        assert not thread.is_alive(), "the verifier did not stop"


def closed_port_url() -> str:
    """A URL where nothing listens: connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/VERIFIED"


class FixedProvider:
    """Answers every check with one verdict (for service tests that need a PENDING record)."""

    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict

    async def check(self, subject_id: str, document: VerifiedDocument) -> Answer:
        return Answer(self.verdict)


def callback_body(subject_id: str, status: str, *, event_id: str, reference: str | None = "ref-1") -> bytes:
    return orjson.dumps({"eventId": event_id, "subjectId": subject_id, "status": status, "reference": reference})


def signed_headers(body: bytes, *, secret: str = SECRET, age_s: int = 0) -> dict[str, str]:
    timestamp = str(int(clock.now().timestamp()) - age_s)
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }
