"""OAuth 2.0 client credentials (RFC 6749 §4.4), token revocation (RFC 7009) and the JWKS."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote

import orjson
from starlette.requests import Request
from starlette.responses import Response

from gateway.auth.http import Unauthorized, bearer_token
from gateway.auth.tokens import InvalidToken
from gateway.cors import add_cors_headers
from gateway.ratelimit import retry_after_header
from gateway.runtime import Runtime
from registry.actors import Actor, ActorKind
from registry.audit import services as audit
from registry.audit.services import Change
from registry.platforms import services as platforms
from registry.platforms.models import Platform

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_FORM = "application/x-www-form-urlencoded"
_MAX_FIELD = 4096


class OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400, *, basic: bool = False) -> None:
        super().__init__(description)
        self.error, self.description, self.status, self.basic = error, description, status, basic


def oauth_error_response(exc: OAuthError) -> Response:
    headers = dict(_NO_STORE)
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="livegate"' if exc.basic else 'Bearer realm="livegate"'
    body = {"error": exc.error, "error_description": exc.description}
    return Response(orjson.dumps(body), status_code=exc.status, media_type="application/json", headers=headers)


async def _form(request: Request) -> dict[str, str]:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != _FORM:
        raise OAuthError("invalid_request", f"Send the parameters as {_FORM}.")
    try:
        form = await request.form(max_files=0, max_fields=20)
    except Exception:  # the form parser raises several unrelated types
        raise OAuthError("invalid_request", "The form body could not be parsed.") from None
    fields: dict[str, str] = {}
    for key, value in form.multi_items():
        if not isinstance(value, str) or len(value) > _MAX_FIELD:
            raise OAuthError("invalid_request", f"The parameter {key} is malformed.")
        if key in fields:
            raise OAuthError("invalid_request", f"The parameter {key} is repeated.")
        fields[key] = value
    return fields


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization")
    if header is None or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError("invalid_client", "The Basic credentials are malformed.", 401, basic=True) from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise OAuthError("invalid_client", "The Basic credentials are malformed.", 401, basic=True)
    # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
    return unquote(client_id), unquote(secret)


async def _client(request: Request, fields: dict[str, str]) -> Platform:
    basic = _basic_credentials(request)
    in_form = "client_id" in fields or "client_secret" in fields
    if basic and in_form:
        raise OAuthError("invalid_request", "Authenticate the client one way only: HTTP Basic or form fields.")
    client_id, secret = basic or (fields.get("client_id", ""), fields.get("client_secret", ""))
    if not client_id or not secret:
        raise OAuthError("invalid_client", "Client authentication is required.", 401, basic=basic is not None)
    platform = await platforms.authenticate_client(client_id, secret)
    if platform is None:
        raise OAuthError("invalid_client", "Unknown client or wrong secret.", 401, basic=basic is not None)
    return platform


def _granted(platform: Platform, asked: str | None) -> list[str]:
    granted = platform.scope_list
    if asked is None:
        return granted
    wanted = asked.split()
    refused = [scope for scope in wanted if scope not in granted]
    if refused or not wanted:
        raise OAuthError("invalid_scope", f"The scope {refused[0] if refused else '(empty)'} is not granted.")
    return [scope for scope in granted if scope in wanted]


async def _throttled(request: Request, runtime: Runtime) -> Response | None:
    # Client secrets are slow to check on purpose; the bucket keeps one caller from making that a DoS.
    host = request.client.host if request.client else "unknown"
    limits = runtime.settings.limits
    decision = await runtime.rate_limiter.take(f"oauth:{host}", rate_per_s=limits.rate_per_s, burst=limits.rate_burst)
    if decision.allowed:
        return None
    error = OAuthError("slow_down", "Too many token requests; retry later.", 429)
    response = oauth_error_response(error)
    response.headers["Retry-After"] = retry_after_header(decision)
    return response


async def token_endpoint(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    throttled = await _throttled(request, runtime)
    if throttled is not None:
        return throttled
    try:
        fields = await _form(request)
        grant = fields.get("grant_type")
        if grant is None:
            raise OAuthError("invalid_request", "grant_type is required.")
        if grant != "client_credentials":
            raise OAuthError("unsupported_grant_type", "Only grant_type=client_credentials is supported.")
        platform = await _client(request, fields)
        scopes = _granted(platform, fields.get("scope"))
    except OAuthError as exc:
        return oauth_error_response(exc)
    token, claims = runtime.tokens.issue(platform.id, scopes, lifetime=runtime.token_lifetime)
    actor = Actor(ActorKind.PLATFORM_TOKEN, platform.id, token_id=claims.jti)
    await audit.record(actor, Change("token.issued", platform.id, {"jti": claims.jti, "scope": " ".join(scopes)}))
    body = {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": int((claims.exp - claims.iat).total_seconds()),
        "scope": " ".join(scopes),
    }
    return Response(orjson.dumps(body), media_type="application/json", headers=_NO_STORE)


async def revoke_endpoint(request: Request) -> Response:
    """RFC 7009. A platform client revokes its own tokens and its sessions' client tokens;
    a bearer token may revoke itself. Unknown or invalid tokens still answer 200 (§2.2)."""
    runtime: Runtime = request.app.state.runtime
    origin = request.headers.get("origin")
    if origin is not None and not await runtime.origins.any_allows(origin):
        return Response(status_code=403, headers={"Vary": "Origin"})
    response = await _revoke(request, runtime)
    return add_cors_headers(response, origin) if origin is not None else response


async def _revoke(request: Request, runtime: Runtime) -> Response:
    throttled = await _throttled(request, runtime)
    if throttled is not None:
        return throttled
    try:
        fields = await _form(request)
        token = fields.get("token")
        if not token:
            raise OAuthError("invalid_request", "token is required.")
        subject = await _revoking_subject(request, fields, runtime)
    except OAuthError as exc:
        return oauth_error_response(exc)
    try:
        claims = await runtime.tokens.verify(token)
    except InvalidToken:
        return Response(status_code=200, headers=_NO_STORE)
    if claims.sub == subject and await runtime.tokens.revoke(token, subject=subject):
        kind = ActorKind.ONBOARDING_CLIENT if claims.sid else ActorKind.PLATFORM_TOKEN
        actor = Actor(kind, claims.sub, token_id=claims.jti, session_id=claims.sid)
        await audit.record(actor, Change("token.revoked", claims.sid or claims.sub, {"jti": claims.jti}))
    return Response(status_code=200, headers=_NO_STORE)


async def _revoking_subject(request: Request, fields: dict[str, str], runtime: Runtime) -> str:
    """The platform on whose behalf the revocation is asked."""
    if _basic_credentials(request) or "client_id" in fields:
        return (await _client(request, fields)).id
    try:
        own = bearer_token(request)
    except Unauthorized as exc:
        raise OAuthError("invalid_client", exc.description, 401) from None
    if own is None:
        raise OAuthError("invalid_client", "Authenticate with client credentials or a bearer token.", 401)
    if own != fields["token"]:
        raise OAuthError("invalid_client", "A bearer token may revoke only itself.", 401)
    try:
        return (await runtime.tokens.verify(own)).sub
    except InvalidToken:
        raise OAuthError("invalid_client", "The bearer token is invalid or expired.", 401) from None


async def jwks_endpoint(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    return Response(
        orjson.dumps(runtime.tokens.keys.public_jwks()),
        media_type="application/jwk-set+json",
        headers={"Cache-Control": "public, max-age=300"},
    )
