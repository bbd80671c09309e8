"""Idempotency-Key through HTTP (contract/HTTP.md, Requests) on mutations that work now.

startOnboarding creates a new session on every execution, so counting sessions shows whether a
request ran twice; registerPerformer is naturally retry-safe, so there audit events are counted.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from registry.audit.models import AuditEvent
from registry.onboarding.models import OnboardingSession
from registry.performers.models import Performer
from tests.conftest import PlatformClient, get_token, make_platform
from tests.factories import image_bytes, resident_id, years_ago

pytestmark = pytest.mark.usefixtures("db")

START = (
    "mutation($input: StartOnboardingInput!) { startOnboarding(input: $input) "
    "{ session { id externalRef clientToken } problems { code } } }"
)
REGISTER = (
    "mutation($input: RegisterPerformerInput!) { registerPerformer(input: $input) "
    "{ performer { id } problems { code field } } }"
)


async def mutate(
    client: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any], key: str | None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)


def start(ref: str = "acct-1") -> dict[str, Any]:
    return {"input": {"role": "MARKETER", "externalRef": ref}}


async def counts() -> tuple[int, int]:
    return await OnboardingSession.all().count(), await AuditEvent.all().count()


@pytest.fixture
async def token(client: httpx.AsyncClient, platform: PlatformClient) -> str:
    return await get_token(client, platform)


async def test_the_same_key_and_body_replay_the_first_response(client: httpx.AsyncClient, token: str) -> None:
    first = await mutate(client, token, START, start(), "key-1")
    assert first.status_code == 200 and "idempotent-replayed" not in first.headers
    assert first.json()["data"]["startOnboarding"]["problems"] == []
    before = await counts()
    again = await mutate(client, token, START, start(), "key-1")
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content  # byte for byte, the same session and client token
    assert again.headers["content-type"] == first.headers["content-type"]
    assert await counts() == before == (1, before[1])  # nothing ran: no session, no audit event


async def test_the_same_key_with_another_body_is_422(client: httpx.AsyncClient, token: str) -> None:
    await mutate(client, token, START, start("acct-1"), "key-1")
    before = await counts()
    refused = await mutate(client, token, START, start("acct-2"), "key-1")
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["extensions"]["code"] == "UNPROCESSABLE"
    assert await counts() == before


async def test_an_operation_name_is_part_of_the_body(client: httpx.AsyncClient, token: str) -> None:
    named = START.replace("mutation(", "mutation Start(")
    first = await client.post(
        "/graphql",
        json={"query": named, "variables": start(), "operationName": "Start"},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "key-1"},
    )
    assert first.status_code == 200
    unnamed = await client.post(
        "/graphql",
        json={"query": named, "variables": start()},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "key-1"},
    )
    assert unnamed.status_code == 422


async def test_another_platform_has_its_own_keys(
    client: httpx.AsyncClient, platform: PlatformClient, token: str
) -> None:
    other = await make_platform("other")
    other_token = await get_token(client, other)
    mine = await mutate(client, token, START, start(), "shared-key")
    theirs = await mutate(client, other_token, START, start(), "shared-key")
    assert theirs.status_code == 200 and "idempotent-replayed" not in theirs.headers
    assert theirs.content != mine.content
    assert await OnboardingSession.filter(platform_id=other.id).count() == 1
    assert await OnboardingSession.filter(platform_id=platform.id).count() == 1


async def test_an_onboarding_session_has_its_own_keys(client: httpx.AsyncClient, token: str) -> None:
    """The client token's subject is its session, not its platform."""
    started = (await mutate(client, token, START, start("acct-9"), None)).json()["data"]["startOnboarding"]
    client_token = started["session"]["clientToken"]
    data = {"input": registration(resident_id(years_ago(30)), externalRef="acct-9")}
    by_client = await mutate(client, client_token, REGISTER, data, "key-1")
    assert by_client.json()["data"]["registerPerformer"]["problems"] == []
    by_platform = await mutate(client, token, REGISTER, data, "key-1")
    assert by_platform.status_code == 200 and "idempotent-replayed" not in by_platform.headers
    again = await mutate(client, client_token, REGISTER, data, "key-1")
    assert again.headers["idempotent-replayed"] == "true" and again.content == by_client.content


async def test_keys_on_queries_are_ignored(client: httpx.AsyncClient, token: str) -> None:
    query = {"query": "{ performers { edges { cursor } } }"}
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "key-1"}
    for _ in range(2):
        response = await client.post("/graphql", json=query, headers=headers)
        assert response.status_code == 200 and "idempotent-replayed" not in response.headers
    # The query did not use up the key: a mutation with it runs.
    mutation = await mutate(client, token, START, start(), "key-1")
    assert mutation.status_code == 200 and "idempotent-replayed" not in mutation.headers
    assert await OnboardingSession.all().count() == 1


async def test_batches_of_queries_ignore_the_key(client: httpx.AsyncClient, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "key-1"}
    batch = [{"query": "{ __typename }"}, {"query": "{ a: __typename }"}]
    for _ in range(2):
        response = await client.post("/graphql", json=batch, headers=headers)
        assert response.status_code == 200 and "idempotent-replayed" not in response.headers


@pytest.mark.parametrize("key", [b"", "ключ".encode(), b"k" * 256, b"tab\tkey"])
async def test_a_malformed_key_is_400(client: httpx.AsyncClient, token: str, key: bytes) -> None:
    headers = {b"Authorization": f"Bearer {token}".encode(), b"Idempotency-Key": key}
    response = await client.post("/graphql", json={"query": START, "variables": start()}, headers=headers)
    assert response.status_code == 400
    assert await OnboardingSession.all().count() == 0


async def test_a_failed_request_does_not_keep_its_key(client: httpx.AsyncClient, token: str) -> None:
    """A GraphQL error is a response like any other: replayed, not re-run."""
    bad = {"input": {"role": "MARKETER", "externalRef": "acct-1", "ttlSeconds": 5}}
    first = await mutate(client, token, START, bad, "key-1")
    assert first.json()["data"]["startOnboarding"]["problems"] == [{"code": "LIMIT_EXCEEDED"}]
    again = await mutate(client, token, START, bad, "key-1")
    assert again.headers["idempotent-replayed"] == "true" and again.content == first.content


# -- multipart -----------------------------------------------------------------------------------


def registration(number: str, **extra: Any) -> dict[str, Any]:
    return {
        "role": "MARKETER",
        "document": {"type": "RESIDENT_ID_CARD", "number": number, "fullName": "张三"},
        "phone": "13800138000",
        **extra,
    }


def minor_with_consent() -> dict[str, Any]:
    signed = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    consent = {
        "guardian": {"type": "RESIDENT_ID_CARD", "number": resident_id(years_ago(45)), "fullName": "李四"},
        "relationship": "PARENT",
        "phone": "13900139000",
        "signedAt": signed,
        "evidence": None,
    }
    return {"input": registration(resident_id(years_ago(17)), externalRef="minor-1", guardianConsent=consent)}


def multipart(boundary: str, variables: dict[str, Any], evidence: bytes) -> bytes:
    """A GraphQL multipart request written out by hand, so the boundary is ours to choose."""
    operations = orjson.dumps({"query": REGISTER, "variables": variables})
    files_map = orjson.dumps({"0": ["variables.input.guardianConsent.evidence"]})
    parts = [
        (b'name="operations"', b"", operations),
        (b'name="map"', b"", files_map),
        (b'name="0"; filename="consent.png"', b"Content-Type: image/png\r\n", evidence),
    ]
    body = b""
    for disposition, headers, content in parts:
        body += f"--{boundary}\r\n".encode() + b"Content-Disposition: form-data; " + disposition + b"\r\n"
        body += headers + b"\r\n" + content + b"\r\n"
    return body + f"--{boundary}--\r\n".encode()


async def post_multipart(
    client: httpx.AsyncClient, token: str, variables: dict[str, Any], evidence: bytes, key: str
) -> httpx.Response:
    boundary = f"----retry{secrets.token_hex(8)}"  # a new boundary on every send, as clients do
    headers = {
        "Authorization": f"Bearer {token}",
        "Idempotency-Key": key,
        "Apollo-Require-Preflight": "true",
        "Content-Type": f"multipart/form-data; boundary={boundary}",
    }
    return await client.post("/graphql", content=multipart(boundary, variables, evidence), headers=headers)


async def test_a_multipart_retry_with_another_boundary_is_the_same_request(
    client: httpx.AsyncClient, token: str
) -> None:
    variables, evidence = minor_with_consent(), image_bytes(seed=7, size=64)
    first = await post_multipart(client, token, variables, evidence, "key-1")
    payload = first.json()["data"]["registerPerformer"]
    assert payload["problems"] == [] and payload["performer"]["id"], payload
    events = await AuditEvent.all().count()
    again = await post_multipart(client, token, variables, evidence, "key-1")
    assert again.headers["idempotent-replayed"] == "true" and again.content == first.content
    assert await AuditEvent.all().count() == events
    # Another file under the same key is another request.
    other_file = await post_multipart(client, token, variables, image_bytes(seed=8, size=64), "key-1")
    assert other_file.status_code == 422
    assert await Performer.all().count() == 1


# -- concurrency ---------------------------------------------------------------------------------


async def test_concurrent_identical_requests_execute_once(
    client: httpx.AsyncClient, token: str, database_url: str
) -> None:
    if not database_url.startswith("postgres"):
        pytest.skip("SQLite serializes every write on one connection; the race needs PostgreSQL")
    responses = await asyncio.gather(*(mutate(client, token, START, start(), "race-key") for _ in range(5)))
    executed = [r for r in responses if r.status_code == 200 and "idempotent-replayed" not in r.headers]
    assert len(executed) == 1, [(r.status_code, r.headers.get("idempotent-replayed")) for r in responses]
    for other in responses:
        if other is not executed[0]:
            replayed = other.status_code == 200 and other.content == executed[0].content
            assert other.status_code == 409 or replayed, other.text
    assert await OnboardingSession.all().count() == 1
    # Once settled, every retry is the replay.
    settled = await mutate(client, token, START, start(), "race-key")
    assert settled.headers["idempotent-replayed"] == "true" and settled.content == executed[0].content
