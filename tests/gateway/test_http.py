"""The HTTP edge through the real ASGI app: health, OAuth, GraphQL transport rules and error codes."""

from __future__ import annotations

import base64

import httpx
import pytest
from starlette.applications import Starlette

from tests.conftest import PlatformClient, get_token, gql

pytestmark = pytest.mark.usefixtures("db")


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok"}
    assert ready.headers["x-request-id"]


async def test_client_credentials_in_the_form(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": platform.client_id,
        "client_secret": platform.client_secret,
    }
    response = await client.post("/oauth/token", data=form)
    body = response.json()
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert "blacklist:joint" not in body["scope"].split() and "performers:write" in body["scope"].split()


async def test_client_credentials_with_basic_and_a_scope_subset(
    client: httpx.AsyncClient, platform: PlatformClient
) -> None:
    basic = base64.b64encode(f"{platform.client_id}:{platform.client_secret}".encode()).decode()
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "eligibility:read performers:read"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200
    assert response.json()["scope"] == "performers:read eligibility:read"


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({}, 400, "invalid_request"),
        ({"grant_type": "client_credentials", "client_secret": "wrong"}, 401, "invalid_client"),
        ({"grant_type": "client_credentials", "scope": "blacklist:joint"}, 400, "invalid_scope"),
        ({"grant_type": "client_credentials", "scope": "root"}, 400, "invalid_scope"),
    ],
)
async def test_token_errors_follow_rfc_6749(
    client: httpx.AsyncClient, platform: PlatformClient, form: dict[str, str], status: int, error: str
) -> None:
    base = {"client_id": platform.client_id, "client_secret": platform.client_secret}
    response = await client.post("/oauth/token", data=base | form)
    assert (response.status_code, response.json()["error"]) == (status, error)
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer") or response.headers["www-authenticate"]


async def test_token_endpoint_needs_a_form(client: httpx.AsyncClient) -> None:
    response = await client.post("/oauth/token", json={"grant_type": "client_credentials"})
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


async def test_jwks_lists_public_keys_only(client: httpx.AsyncClient) -> None:
    keys = (await client.get("/.well-known/jwks.json")).json()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "EC" and "d" not in keys[0] and keys[0]["kid"]


async def test_a_token_runs_a_query_and_a_bad_one_is_401(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    token = await get_token(client, platform)
    response = await gql(client, "{ __typename }", token=token)
    assert response.json() == {"data": {"__typename": "Query"}}
    refused = await gql(client, "{ __typename }", token=token[:-3] + "abc")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith('Bearer realm="livegate", error="invalid_token"')


async def test_revoked_tokens_stop_working(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    token = await get_token(client, platform)
    form = {"token": token, "client_id": platform.client_id, "client_secret": platform.client_secret}
    assert (await client.post("/oauth/revoke", data=form)).status_code == 200
    assert (await gql(client, "{ __typename }", token=token)).status_code == 401
    # RFC 7009 §2.2: an unknown token is not an error
    assert (await client.post("/oauth/revoke", data=form | {"token": "nonsense"})).status_code == 200


async def test_a_token_in_the_url_is_refused(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    token = await get_token(client, platform)
    response = await client.post(f"/graphql?access_token={token}", json={"query": "{ __typename }"})
    assert response.status_code == 400


async def test_nothing_is_executed_over_get(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", params={"query": "{ __typename }"})
    assert response.status_code == 405 and response.headers["allow"] == "POST"


async def test_the_explorer_page_is_served_to_browsers(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200 and "graphiql" in response.text.lower()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"query": "{ __typename } x"}, "GRAPHQL_PARSE_FAILED"),
        ({"query": "{ nope }"}, "GRAPHQL_VALIDATION_FAILED"),
        (
            {"query": "query($d: Date!) { performers(first: 1) { __typename } x: __typename }", "variables": {"d": 1}},
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            {
                "query": "query($s: VerificationStatus) { performers(status: $s) { __typename } }",
                "variables": {"s": "SLEEPING"},
            },
            "BAD_USER_INPUT",
        ),
    ],
)
async def test_top_level_error_codes(client: httpx.AsyncClient, body: dict[str, object], code: str) -> None:
    response = await client.post("/graphql", json=body)
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == code


async def test_an_aware_datetime_is_required(client: httpx.AsyncClient) -> None:
    query = "query($a: ID) { auditEvents(subjectId: $a) { __typename } }"
    assert (await client.post("/graphql", json={"query": query})).status_code == 200
    naive = await client.post(
        "/graphql",
        json={
            "query": (
                "mutation($t: DateTime!) { recordTraining(input: "
                '{performerId: "x", completedAt: $t, course: "c"}) { problems { code } } }'
            ),
            "variables": {"t": "2026-01-01T08:00:00"},
        },
    )
    assert naive.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        (b"{not json", {"content-type": "application/json"}, 400),
        (b'{"query": 1}', {"content-type": "application/json"}, 400),
        (b'{"query": "{ __typename }", "variables": []}', {"content-type": "application/json"}, 400),
        (b"query=%7B__typename%7D", {"content-type": "application/x-www-form-urlencoded"}, 415),
        (b"{ __typename }", {"content-type": "text/plain"}, 415),
        (b"[]", {"content-type": "application/json"}, 400),
    ],
)
async def test_malformed_requests_get_a_4xx(
    client: httpx.AsyncClient, content: bytes, headers: dict[str, str], status: int
) -> None:
    response = await client.post("/graphql", content=content, headers=headers)
    assert response.status_code == status
    assert response.json()["errors"][0]["message"]


async def test_batches_hold_queries_only(client: httpx.AsyncClient) -> None:
    ok = await client.post("/graphql", json=[{"query": "{ __typename }"}, {"query": "{ a: __typename }"}])
    assert ok.json() == [{"data": {"__typename": "Query"}}, {"data": {"a": "Query"}}]
    mixed = await client.post("/graphql", json=[{"query": "{ __typename }"}, {"query": "mutation { __typename }"}])
    assert mixed.status_code == 400
    too_many = await client.post("/graphql", json=[{"query": "{ __typename }"}] * 11)
    assert too_many.status_code == 400


async def test_multipart_without_the_csrf_header_is_refused(client: httpx.AsyncClient) -> None:
    files = {"0": ("a.png", b"\x89PNG", "image/png")}
    data = {"operations": '{"query": "{ __typename }"}', "map": "{}"}
    refused = await client.post("/graphql", data=data, files=files)
    assert refused.status_code == 400 and "Apollo-Require-Preflight" in refused.text
    allowed = await client.post("/graphql", data=data, files=files, headers={"Apollo-Require-Preflight": "true"})
    assert allowed.json() == {"data": {"__typename": "Query"}}


async def test_a_cursor_we_never_issued_is_bad_user_input(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    token = await get_token(client, platform)
    response = await gql(client, '{ performers(first: 2, after: "not-a-cursor") { edges { cursor } } }', token=token)
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "cursor" in error["message"]


async def test_graphql_is_served_under_a_root_path_and_other_paths_keep_the_router(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    """POST /graphql takes a shortcut past the router (gateway/middleware.py); nothing else changes."""
    transport = httpx.ASGITransport(app=app, root_path="/gateway")
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as prefixed:
        answer = await prefixed.post("/gateway/graphql", json={"query": "{ __typename }"})
    assert answer.json() == {"data": {"__typename": "Query"}} and answer.headers["x-request-id"]
    slash = await client.post("/graphql/", json={"query": "{ __typename }"}, follow_redirects=False)
    assert slash.status_code == 307 and slash.headers["location"].endswith("/graphql")
    assert (await client.put("/graphql", json={"query": "{ __typename }"})).status_code == 405


async def test_an_unexpected_failure_of_the_endpoint_is_a_json_500_with_the_request_id(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway import app as gateway_app

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("broken")

    monkeypatch.setattr(gateway_app, "read_requests", broken)
    answer = await client.post("/graphql", json={"query": "{ __typename }"})
    assert answer.status_code == 500
    assert answer.headers["x-request-id"] in answer.json()["errors"][0]["message"]
    assert "broken" not in answer.text


async def test_a_percent_encoded_token_parameter_is_refused_too(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql?%61ccess%5Ftoken=abc", json={"query": "{ __typename }"})
    assert response.status_code == 400
