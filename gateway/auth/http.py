"""Bearer tokens at the HTTP edge (RFC 6750): the Authorization header only, never URLs or cookies."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.auth.tokens import InvalidToken, TokenService
from gateway.errors import http_error
from schema.context import Principal

_MAX_HEADER = 8192


class Unauthorized(Exception):
    def __init__(
        self, error: str = "invalid_token", description: str = "The access token is invalid or expired."
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def bearer_token(request: Request) -> str | None:
    # Parsed only when there is one (API calls rarely have any): it cost more than the rest of this check.
    if request.scope.get("query_string") and "access_token" in request.query_params:
        raise Unauthorized("invalid_request", "Send the token in the Authorization header, never in the URL.")
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or len(header) > _MAX_HEADER:
        raise Unauthorized("invalid_request", "Use the header Authorization: Bearer <token>.")
    return token.strip()


async def authenticate(request: Request, tokens: TokenService) -> Principal | None:
    """The caller, or None when no token was sent; raises Unauthorized for any bad token."""
    token = bearer_token(request)
    if token is None:
        return None
    try:
        claims = await tokens.verify(token)
    except InvalidToken:
        raise Unauthorized() from None
    return Principal(platform_id=claims.sub, scopes=claims.scopes, token_id=claims.jti, session_id=claims.sid)


def unauthorized_response(exc: Unauthorized) -> Response:
    challenge = f'Bearer realm="livegate", error="{exc.error}", error_description="{exc.description}"'
    status = 400 if exc.error == "invalid_request" and "URL" in exc.description else 401
    return http_error(status, exc.description, code="UNAUTHENTICATED", headers={"WWW-Authenticate": challenge})
