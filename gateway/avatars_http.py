"""GET /avatars/{id}/image: the normalized avatar image, for its own platform or the client that registered it.

Anything the caller may not see is 404, exactly like an id that does not exist, so ids cannot be
probed across tenants. The bytes are content-addressed (ETag = sha256) and never change for an id.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from gateway.auth.http import Unauthorized, authenticate, unauthorized_response
from gateway.errors import http_error
from gateway.runtime import Runtime
from registry.avatars import services as avatars

log = logging.getLogger("livegate.avatars")

READ_SCOPE = "avatars:read"
CACHE_CONTROL = "private, immutable"


def _etag_matches(header: str | None, etag: str) -> bool:
    """RFC 9110 If-None-Match: "*" or any listed tag, weak or strong (weak comparison for GET)."""
    if header is None:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    return "*" in tags or etag in tags


async def avatar_image(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    try:
        principal = await authenticate(request, runtime.tokens)
    except Unauthorized as exc:
        return unauthorized_response(exc)
    if principal is None:
        # RFC 6750 §3.1: a request without credentials gets a challenge but no error code.
        return http_error(401, "Send a bearer token.", headers={"WWW-Authenticate": 'Bearer realm="livegate"'})
    if not principal.is_onboarding_client and READ_SCOPE not in principal.scopes:
        return http_error(403, f"Reading avatar images needs the scope {READ_SCOPE}.")
    avatar = await avatars.get_avatar(principal.actor, request.path_params["avatar_id"])
    if avatar is None:
        return http_error(404, "No such avatar.")
    etag = f'"{avatar.image_sha256}"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "X-Content-Type-Options": "nosniff"}
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    data = await avatars.read_image(avatar)
    if data is None:
        log.error("avatar %s: image %s is missing from the blob store", avatar.id, avatar.image_sha256)
        return http_error(404, "No such avatar.")
    return Response(data, media_type=avatar.content_type, headers=headers)
