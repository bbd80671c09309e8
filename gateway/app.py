"""The ASGI application: routes, middleware and the lifespan that owns the ORM and Redis."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from graphql import OperationType
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from tortoise.connection import get_connection
from tortoise.contrib.starlette import RegisterTortoise

from gateway import explorer, invalidation
from gateway.auth.http import Unauthorized, authenticate, unauthorized_response
from gateway.auth.oauth import jwks_endpoint, revoke_endpoint, token_endpoint
from gateway.avatars_http import avatar_image
from gateway.cors import add_cors_headers, preflight
from gateway.errors import http_error
from gateway.graphql_http import (
    BadRequest,
    GraphQLRequest,
    bad_request_response,
    check_batch,
    execute,
    json_response,
    read_requests,
)
from gateway.idempotency import is_mutation, run_once
from gateway.middleware import BodyLimitMiddleware, EndpointShortcut, RequestIdMiddleware
from gateway.providers import identity_callback
from gateway.ratelimit import retry_after_header
from gateway.runtime import Runtime, build_runtime
from gateway.settings import Settings
from registry import config as registry_config
from registry.avatars import similarity
from registry.db import tortoise_config
from registry.identity_http import HttpProvider
from schema.context import Context, Principal

log = logging.getLogger("livegate")


async def graphql_get(request: Request) -> Response:
    # Identity numbers must never reach URLs or access logs: nothing is executed over GET.
    runtime: Runtime = request.app.state.runtime
    wants_page = "text/html" in request.headers.get("accept", "")
    if runtime.settings.explorer and wants_page and not request.query_params:
        if explorer.assets_present(runtime.settings.data_dir):
            headers = {"Content-Security-Policy": explorer.LOCAL_PAGE_CSP}
            return HTMLResponse(explorer.render_page(local=True), headers=headers)
        log.warning("explorer assets missing (run `livegate explorer fetch-assets`): serving the CDN page")
        return HTMLResponse(explorer.render_page(local=False))
    return http_error(405, "GraphQL operations are accepted over POST only.", headers={"Allow": "POST"})


async def graphql_post(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    origin = request.headers.get("origin")
    request.state.principal = None
    response = await _graphql(request, runtime, origin)
    # Every answer an allowed browser origin gets is readable by it: errors and 429s included.
    if origin is not None and await _origin_allowed(runtime, request.state.principal, origin):
        return add_cors_headers(response, origin)
    return response


async def _graphql(request: Request, runtime: Runtime, origin: str | None) -> Response:
    limits = runtime.settings.limits
    try:
        principal = request.state.principal = await authenticate(request, runtime.tokens)
        if origin is not None and not await _origin_allowed(runtime, principal, origin):
            return http_error(403, f"The origin {origin} is not allowed for this platform.", headers={"Vary": "Origin"})
        refused = await _rate_limited(runtime, _bucket(request, principal))
        if refused is not None:
            return refused
        operations, is_batch = await read_requests(request, max_files=10)
        if is_batch:
            check_batch(operations, max_batch=limits.batch)
    except Unauthorized as exc:
        return unauthorized_response(exc)
    except BadRequest as exc:
        return bad_request_response(exc)
    context = Context(
        request_id=request.state.request_id,
        principal=principal,
        page_limit=limits.page,
        file_limit=limits.file_bytes,
        import_limit=limits.import_rows,
        client_tokens=runtime.client_tokens,
        request=request,
    )

    async def run() -> Response:
        results = [await execute(runtime.schema, runtime.documents, op, context) for op in operations]
        return json_response(results if is_batch else results[0])

    mutation = not is_batch and _is_mutation(runtime, operations[0])
    key = request.headers.get("idempotency-key")
    if key is not None and principal is not None and mutation:
        subject = principal.session_id or principal.platform_id
        response = await run_once(runtime.idempotency, subject, key, operations, run)
    else:
        response = await run()
    if mutation:
        await invalidation.changed(runtime.redis)  # after commit: cached answers computed meanwhile go stale
    return response


def _is_mutation(runtime: Runtime, operation: GraphQLRequest) -> bool:
    known = runtime.documents.operation_type(operation.query, operation.operation_name)
    if known is not None:
        return known is OperationType.MUTATION
    return "mutation" in operation.query and is_mutation(operation)  # parsed only when not prepared


async def _origin_allowed(runtime: Runtime, principal: Principal | None, origin: str) -> bool:
    if principal is None:
        return await runtime.origins.any_allows(origin)
    return await runtime.origins.platform_allows(principal.platform_id, origin)


def _bucket(request: Request, principal: Principal | None) -> str:
    if principal is None:
        return f"anon:{request.client.host if request.client else 'unknown'}"
    return f"session:{principal.session_id}" if principal.session_id else f"platform:{principal.platform_id}"


async def _rate_limited(runtime: Runtime, bucket: str) -> Response | None:
    limits = runtime.settings.limits
    decision = await runtime.rate_limiter.take(bucket, rate_per_s=limits.rate_per_s, burst=limits.rate_burst)
    if decision.allowed:
        return None
    return http_error(
        429, "Too many requests; slow down and retry after the time given.", code="RATE_LIMITED",
        headers={"Retry-After": retry_after_header(decision)},
    )  # fmt: skip


async def _warm_avatar_index() -> None:
    # The first near-duplicate lookup would otherwise load every stored hash (about 0.2 s at 1M avatars).
    try:
        await similarity.warm()
    except Exception:  # the lookups load it themselves; a slow first one is no reason not to start
        log.warning("the avatar index could not be loaded at startup", exc_info=True)


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    checks: dict[str, str] = {}
    try:
        await get_connection("default").execute_query("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # any driver failure means "not ready", never a 500
        checks["database"] = type(exc).__name__
    if runtime.redis is not None:
        try:
            await runtime.redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:  # same: report, do not raise
            checks["redis"] = type(exc).__name__
    ready = all(value == "ok" for value in checks.values())
    return json_response({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)


def create_app(settings: Settings, *, runtime: Runtime | None = None, manage_orm: bool = True) -> Starlette:
    """Build the gateway. Tests pass `manage_orm=False` and run it inside their own ORM context."""
    runtime = runtime or build_runtime(settings)
    registry_config.configure(runtime.registry)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if manage_orm:
                await stack.enter_async_context(RegisterTortoise(app, config=tortoise_config(settings.database_url)))
                await _warm_avatar_index()
            if runtime.redis is not None:
                stack.push_async_callback(runtime.redis.aclose)
            await stack.enter_async_context(invalidation.listening(runtime.redis))
            provider = runtime.registry.identity_provider
            if isinstance(provider, HttpProvider):
                stack.push_async_callback(provider.aclose)
            yield

    app = Starlette(
        routes=[
            Route("/graphql", graphql_post, methods=["POST"]),
            Route("/graphql", graphql_get, methods=["GET"]),
            Route("/graphql", preflight, methods=["OPTIONS"]),
            Route("/oauth/revoke", preflight, methods=["OPTIONS"]),
            Route("/oauth/token", token_endpoint, methods=["POST"]),
            Route("/oauth/revoke", revoke_endpoint, methods=["POST"]),
            Route("/.well-known/jwks.json", jwks_endpoint, methods=["GET"]),
            Route("/providers/identity/callback", identity_callback, methods=["POST"]),
            Route("/avatars/{avatar_id}/image", avatar_image, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Mount("/_explorer", app=explorer.static_app(settings.data_dir)),
        ],
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(BodyLimitMiddleware, max_bytes=settings.limits.body_bytes),
            Middleware(EndpointShortcut, method="POST", path="/graphql", endpoint=graphql_post),  # as routed below
        ],
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    return app
