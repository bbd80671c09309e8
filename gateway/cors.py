"""Per-platform CORS: browsers may call /graphql and /oauth/revoke only from a platform's origins.

A preflight carries no token, so it is answered for any origin some platform allows; the real
request is then checked against the calling platform's own list (403 before anything runs).
Origins are cached for a short while so the check costs no query per request.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from registry.platforms.models import Platform

ALLOWED_HEADERS = "authorization, content-type, idempotency-key, apollo-require-preflight"
EXPOSED_HEADERS = "x-request-id, retry-after, idempotent-replayed"
CACHE_SECONDS = 30.0


class OriginPolicy:
    def __init__(self, ttl: float = CACHE_SECONDS) -> None:
        self._ttl = ttl
        self._loaded_at = -float("inf")
        self._by_platform: dict[str, frozenset[str]] = {}

    async def _origins(self) -> Mapping[str, frozenset[str]]:
        if time.monotonic() - self._loaded_at > self._ttl:
            rows = await Platform.all().only("id", "allowed_origins")
            self._by_platform = {p.id: frozenset(p.allowed_origins or ()) for p in rows}
            self._loaded_at = time.monotonic()
        return self._by_platform

    def forget(self) -> None:
        self._loaded_at = -float("inf")

    async def any_allows(self, origin: str) -> bool:
        return any(origin in allowed for allowed in (await self._origins()).values())

    async def platform_allows(self, platform_id: str, origin: str) -> bool:
        return origin in (await self._origins()).get(platform_id, frozenset())


def preflight_response(origin: str) -> Response:
    return Response(
        status_code=204,
        headers={
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Max-Age": "600",
            "Vary": "Origin",
        },
    )


def add_cors_headers(response: Response, origin: str) -> Response:
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    response.headers["Vary"] = "Origin"
    return response


async def preflight(request: Request) -> Response:
    policy: OriginPolicy = request.app.state.runtime.origins
    origin = request.headers.get("origin")
    if origin and request.headers.get("access-control-request-method") == "POST" and await policy.any_allows(origin):
        return preflight_response(origin)
    return Response(status_code=403, headers={"Vary": "Origin"})
