"""Pure ASGI middleware: a request id on every response, the body size limit, a JSON 500 that leaks
nothing, and the shortcut that takes POST /graphql straight to its endpoint."""

from __future__ import annotations

import logging
import os
import random
import secrets
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import http_error

log = logging.getLogger("livegate.http")
# Request ids only tell one request's log lines from another's; they guard nothing, so a generator
# seeded from the system's randomness serves (a system call per request cost 2-3% of a cached
# liveEligibility). Not sequential: ids must not tell a platform how much traffic others send.
_request_ids = random.Random(secrets.randbits(128))  # noqa: S311
os.register_at_fork(after_in_child=lambda: _request_ids.seed(secrets.randbits(128)))  # forked workers differ


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = f"{_request_ids.getrandbits(64):016x}"
        scope.setdefault("state", {})["request_id"] = request_id
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error (request %s)", request_id)
            if started:
                raise
            response = http_error(500, f"Internal error. Quote request id {request_id} when you report it.")
            response.headers["x-request-id"] = request_id
            await response(scope, receive, send)


class BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """413 as our JSON error (with the request id) when a body exceeds the limit, declared or streamed.

    Runs inside RequestIdMiddleware; a streamed body is counted as it arrives, so nothing larger than
    the limit is ever buffered.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.max_bytes // (1024 * 1024)
        response = http_error(413, f"The request body is larger than the {limit} MiB allowed.", code="LIMIT_EXCEEDED")
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


class EndpointShortcut:
    """One route served without Starlette's exception middleware, router and endpoint wrapper.

    The gateway's traffic is nearly all POST /graphql, and on a cached liveEligibility those layers cost
    about a tenth of the request (scripts/bench.py eligibility). The endpoint is the one the router would
    pick, and it handles its own errors: the router's exception handlers have nothing to add (none are
    registered). Every other request, /graphql/ included, goes through the router as before.
    """

    def __init__(
        self, app: ASGIApp, *, method: str, path: str, endpoint: Callable[[Request], Awaitable[Response]]
    ) -> None:
        self.app = app
        self.method = method
        self.path = path
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != self.method or _route_path(scope) != self.path:
            await self.app(scope, receive, send)
            return
        response = await self.endpoint(Request(scope, receive, send))
        await response(scope, receive, send)


def _route_path(scope: Scope) -> str:
    # As Starlette's router matches: the path below the root path the server was given.
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path
