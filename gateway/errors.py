"""HTTP error bodies: one JSON shape for every refusal at the edge."""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from starlette.responses import Response


def http_error(
    status: int, message: str, *, code: str | None = None, headers: Mapping[str, str] | None = None
) -> Response:
    body: dict[str, object] = {"errors": [{"message": message, "extensions": {"code": code or _code(status)}}]}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=dict(headers or {}))


def _code(status: int) -> str:
    return {
        400: "BAD_REQUEST",
        401: "UNAUTHENTICATED",
        403: "FORBIDDEN",
        404: "NOT_FOUND",
        405: "METHOD_NOT_ALLOWED",
        409: "CONFLICT",
        413: "LIMIT_EXCEEDED",
        415: "UNSUPPORTED_MEDIA_TYPE",
        422: "UNPROCESSABLE",
        429: "RATE_LIMITED",
    }.get(status, "INTERNAL" if status >= 500 else "BAD_REQUEST")
