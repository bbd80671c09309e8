"""Per-platform CORS origins and per-platform / per-session rate limits, through the real ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from tortoise.context import TortoiseContext

from gateway.app import create_app
from gateway.ratelimit import MemoryRateLimiter
from gateway.settings import Settings, load_settings
from registry.config import RegistryConfig
from registry.onboarding import services as onboarding
from registry.platforms import services as platforms
from tests.conftest import PlatformClient, get_token, gql, make_platform
from tests.factories import platform_actor

pytestmark = pytest.mark.usefixtures("db")

SHOP = "https://shop.example"
OTHER_SHOP = "https://other.example"


async def platform_with_origins(name: str, *origins: str) -> PlatformClient:
    created = await platforms.create_platform(name, allowed_origins=list(origins))
    return PlatformClient(created.platform.id, created.platform.client_id, created.client_secret)


def preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
    }


def as_browser(token: str, origin: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Origin": origin}


# -- CORS ----------------------------------------------------------------------------------------


@pytest.fixture
async def shop() -> PlatformClient:
    # Both platforms exist before the first request: the gateway caches origins for a short while.
    await platform_with_origins("other-shop", OTHER_SHOP)
    return await platform_with_origins("shop", SHOP)


@pytest.mark.parametrize("path", ["/graphql", "/oauth/revoke"])
async def test_a_preflight_from_an_allowed_origin_is_answered(
    client: httpx.AsyncClient, shop: PlatformClient, path: str
) -> None:
    response = await client.options(path, headers=preflight(SHOP))
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == SHOP
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = {h.strip() for h in response.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key", "apollo-require-preflight"} <= allowed
    assert int(response.headers["access-control-max-age"]) > 0
    assert "Origin" in response.headers["vary"]
    # Tokens travel in the Authorization header, never in cookies: no credentialed CORS.
    assert "access-control-allow-credentials" not in response.headers


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "https://shop.example.evil.example", "null", "http://shop.example"]
)
async def test_a_preflight_from_an_unknown_origin_is_403(
    client: httpx.AsyncClient, shop: PlatformClient, origin: str
) -> None:
    response = await client.options("/graphql", headers=preflight(origin))
    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers


async def test_a_request_from_the_platforms_origin_is_readable(client: httpx.AsyncClient, shop: PlatformClient) -> None:
    token = await get_token(client, shop)
    response = await client.post("/graphql", json={"query": "{ __typename }"}, headers=as_browser(token, SHOP))
    assert response.status_code == 200 and response.json() == {"data": {"__typename": "Query"}}
    assert response.headers["access-control-allow-origin"] == SHOP
    exposed = {h.strip() for h in response.headers["access-control-expose-headers"].split(",")}
    assert {"x-request-id", "retry-after", "idempotent-replayed"} <= exposed
    assert "Origin" in response.headers["vary"]


async def test_another_platforms_origin_with_this_token_is_403(client: httpx.AsyncClient, shop: PlatformClient) -> None:
    token = await get_token(client, shop)
    response = await client.post("/graphql", json={"query": "{ __typename }"}, headers=as_browser(token, OTHER_SHOP))
    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers
    assert "data" not in response.json()


async def test_a_platform_without_origins_is_not_callable_from_browsers(
    client: httpx.AsyncClient, shop: PlatformClient
) -> None:
    backend_only = await make_platform("backend-only")
    token = await get_token(client, backend_only)
    response = await client.post("/graphql", json={"query": "{ __typename }"}, headers=as_browser(token, SHOP))
    assert response.status_code == 403
    # Server-to-server calls send no Origin and are not affected.
    assert (await gql(client, "{ __typename }", token=token)).status_code == 200


async def test_revocation_from_the_platforms_origin_is_readable(
    client: httpx.AsyncClient, shop: PlatformClient
) -> None:
    token = await get_token(client, shop)
    response = await client.post("/oauth/revoke", data={"token": token}, headers=as_browser(token, SHOP))
    assert response.status_code == 200 and response.headers["access-control-allow-origin"] == SHOP
    refused = await client.post(
        "/oauth/revoke", data={"token": token}, headers=as_browser(token, "https://evil.example")
    )
    assert refused.status_code == 403


# -- rate limits ---------------------------------------------------------------------------------


class FrozenClock:
    """Rate-limit time that moves only when the test says so, so the 4th request is refused for sure."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def small_limits(tmp_path: Path, database_url: str, registry_config: RegistryConfig) -> Settings:
    return load_settings(
        {
            "LIVEGATE_DATA_DIR": str(tmp_path / "data"),
            "LIVEGATE_DATABASE_URL": database_url,
            "LIVEGATE_DATA_KEYS": registry_config.vault.keyring.format(),
            "LIVEGATE_INDEX_KEYS": registry_config.indexer.keyring.format(),
            "LIVEGATE_LIMITS_RATE_PER_S": "1",
            "LIVEGATE_LIMITS_RATE_BURST": "3",
        }
    )


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def limited_app(db: TortoiseContext, small_limits: Settings, clock: FrozenClock) -> Starlette:
    app = create_app(small_limits, manage_orm=False)
    app.state.runtime.rate_limiter = MemoryRateLimiter(clock=clock)
    return app


@pytest.fixture
async def limited(limited_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=limited_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://livegate.test") as http:
        yield http


async def burst(client: httpx.AsyncClient, token: str | None, count: int = 3) -> None:
    for _ in range(count):
        assert (await gql(client, "{ __typename }", token=token)).status_code == 200


def assert_rate_limited(response: httpx.Response) -> None:
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"  # one token at 1/s
    assert response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


async def session_token(app: Starlette, platform_id: str, ref: str) -> str:
    """A session's client token, issued the way startOnboarding issues it (no HTTP: no rate-limit cost)."""
    session = await onboarding.start_session(platform_actor(platform_id), "MARKETER", ref, 1800)
    token, _ = app.state.runtime.client_tokens.issue(platform_id, session.id, session.expires_at)
    return str(token)


async def test_the_fourth_request_of_a_platform_is_429_until_a_token_refills(
    limited: httpx.AsyncClient, platform: PlatformClient, clock: FrozenClock
) -> None:
    token = await get_token(limited, platform)
    await burst(limited, token)
    assert_rate_limited(await gql(limited, "{ __typename }", token=token))
    clock.now += 1.0  # Retry-After honoured: exactly one more request
    assert (await gql(limited, "{ __typename }", token=token)).status_code == 200
    assert_rate_limited(await gql(limited, "{ __typename }", token=token))


async def test_platforms_have_separate_buckets(limited: httpx.AsyncClient, platform: PlatformClient) -> None:
    other = await make_platform("other")
    mine, theirs = await get_token(limited, platform), await get_token(limited, other)
    await burst(limited, mine)
    assert_rate_limited(await gql(limited, "{ __typename }", token=mine))
    await burst(limited, theirs)
    assert_rate_limited(await gql(limited, "{ __typename }", token=theirs))


async def test_every_token_of_a_platform_shares_its_bucket(
    limited: httpx.AsyncClient, platform: PlatformClient
) -> None:
    first, second = await get_token(limited, platform), await get_token(limited, platform, scope="performers:read")
    await burst(limited, first)
    assert_rate_limited(await gql(limited, "{ __typename }", token=second))


async def test_onboarding_sessions_have_their_own_buckets(
    limited_app: Starlette, limited: httpx.AsyncClient, platform: PlatformClient
) -> None:
    token = await get_token(limited, platform)
    first_session = await session_token(limited_app, platform.id, "acct-1")
    second_session = await session_token(limited_app, platform.id, "acct-2")
    await burst(limited, token)
    assert_rate_limited(await gql(limited, "{ __typename }", token=token))
    # The platform's bucket is empty; each session still has its own.
    await burst(limited, first_session)
    assert_rate_limited(await gql(limited, "{ onboardingSession { id } }", token=first_session))
    await burst(limited, second_session)
    assert_rate_limited(await gql(limited, "{ __typename }", token=second_session))


async def test_anonymous_callers_do_not_drain_a_platforms_bucket(
    limited: httpx.AsyncClient, platform: PlatformClient
) -> None:
    token = await get_token(limited, platform)
    await burst(limited, None)
    assert_rate_limited(await gql(limited, "{ __typename }"))
    await burst(limited, token)


async def test_the_token_endpoint_is_throttled(limited: httpx.AsyncClient, platform: PlatformClient) -> None:
    for _ in range(3):
        await get_token(limited, platform)
    form = {"grant_type": "client_credentials", "client_id": platform.client_id, "client_secret": "wrong"}
    response = await limited.post("/oauth/token", data=form)
    assert response.status_code == 429 and response.headers["retry-after"] == "1"
    assert response.json()["error"] == "slow_down"


async def test_a_rate_limited_browser_can_read_the_429(limited: httpx.AsyncClient) -> None:
    """Retry-After is in Access-Control-Expose-Headers, so the 429 itself must carry the CORS headers."""
    shop = await platform_with_origins("shop", SHOP)
    token = await get_token(limited, shop)
    for _ in range(3):
        assert (
            await limited.post("/graphql", json={"query": "{ __typename }"}, headers=as_browser(token, SHOP))
        ).status_code == 200
    response = await limited.post("/graphql", json={"query": "{ __typename }"}, headers=as_browser(token, SHOP))
    assert_rate_limited(response)
    assert response.headers.get("access-control-allow-origin") == SHOP
    assert "retry-after" in response.headers.get("access-control-expose-headers", "")
