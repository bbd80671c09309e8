"""Performers and onboarding through the real HTTP endpoint."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import PlatformClient, get_token, gql, make_platform
from tests.factories import resident_id, years_ago

pytestmark = pytest.mark.usefixtures("db")

REGISTER = """
mutation($input: RegisterPerformerInput!) {
  registerPerformer(input: $input) {
    performer { id role fullNameMasked documentNumberMasked phoneMasked age isMinor verificationStatus
                externalRef accountStatus guardianConsent { relationship guardianNameMasked } }
    problems { code message field }
  }
}"""


def registration(number: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "role": "MARKETER",
        "document": {"type": "RESIDENT_ID_CARD", "number": number or resident_id(years_ago(30)), "fullName": "张三"},
        "phone": "138 0013 8000",
        **extra,
    }


async def register(client: httpx.AsyncClient, token: str, data: dict[str, Any]) -> dict[str, Any]:
    response = await gql(client, REGISTER, {"input": data}, token=token)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["registerPerformer"]


async def test_register_and_read_back_masked(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    token = await get_token(client, platform)
    number = resident_id(years_ago(30, days=1))  # full years are reached the day after the anniversary
    result = await register(client, token, registration(number, externalRef="acct-9"))
    performer = result["performer"]
    assert result["problems"] == [] and performer["verificationStatus"] == "VERIFIED"
    assert performer["documentNumberMasked"] == number[:3] + "*" * 11 + number[-4:]
    assert performer["fullNameMasked"] == "张*" and performer["phoneMasked"] == "+86 138****8000"
    assert performer["age"] == 30 and performer["isMinor"] is False and performer["accountStatus"] == "ACTIVE"
    by_ref = await gql(client, '{ performerByRef(role: MARKETER, externalRef: "acct-9") { id } }', token=token)
    assert by_ref.json()["data"]["performerByRef"]["id"] == performer["id"]
    node = await gql(
        client,
        "query($id: ID!) { node(id: $id) { id ... on Performer { role } } }",
        {"id": performer["id"]},
        token=token,
    )
    assert node.json()["data"]["node"] == {"id": performer["id"], "role": "MARKETER"}


async def test_problems_carry_field_paths(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    token = await get_token(client, platform)
    result = await register(client, token, registration("11010519491231002Y", phone="1"))
    assert result["performer"] is None
    assert {(p["code"], tuple(p["field"])) for p in result["problems"]} == {
        ("INVALID_DOCUMENT", ("input", "document", "number")),
        ("INVALID_INPUT", ("input", "phone")),
    }


async def test_another_platform_sees_nothing(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    token = await get_token(client, platform)
    performer = (await register(client, token, registration()))["performer"]
    other = await make_platform("other")
    other_token = await get_token(client, other)
    for query in (
        "query($id: ID!) { performer(id: $id) { id } }",
        "query($id: ID!) { node(id: $id) { id } }",
        "query($id: ID!) { liveEligibility(performerId: $id) { allowed } }",
    ):
        data = (await gql(client, query, {"id": performer["id"]}, token=other_token)).json()["data"]
        assert list(data.values()) == [None]
    training = """mutation($id: ID!) {
      recordTraining(input: {performerId: $id, completedAt: "2026-01-01T00:00:00+00:00", course: "c"}) {
        performer { id } problems { code field } } }"""
    answer = (await gql(client, training, {"id": performer["id"]}, token=other_token)).json()["data"]["recordTraining"]
    assert answer == {"performer": None, "problems": [{"code": "NOT_FOUND", "field": ["input", "performerId"]}]}


async def test_the_performers_connection_pages(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    token = await get_token(client, platform)
    for _ in range(5):
        await register(client, token, registration())
    query = """query($after: String) {
      performers(first: 2, after: $after) { edges { node { id } cursor } pageInfo { hasNextPage endCursor } } }"""
    seen: list[str] = []
    after = None
    while True:
        page = (await gql(client, query, {"after": after}, token=token)).json()["data"]["performers"]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 5
    too_many = await gql(client, "{ performers(first: 101) { edges { cursor } } }", token=token)
    assert too_many.json()["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"


async def test_eligibility_read_scope_reads_nothing_personal(
    client: httpx.AsyncClient, platform: PlatformClient
) -> None:
    writer = await get_token(client, platform)
    performer = (await register(client, writer, registration()))["performer"]
    reader = await get_token(client, platform, scope="eligibility:read")
    answer = await gql(
        client,
        "query($id: ID!) { liveEligibility(performerId: $id) { allowed reasons } }",
        {"id": performer["id"]},
        token=reader,
    )
    assert answer.json()["data"]["liveEligibility"] == {"allowed": False, "reasons": ["TRAINING_MISSING"]}
    personal = await gql(client, "query($id: ID!) { performer(id: $id) { id } }", {"id": performer["id"]}, token=reader)
    assert personal.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


START = """mutation($ref: String!) { startOnboarding(input: {role: MARKETER, externalRef: $ref, ttlSeconds: 600}) {
  session { id status clientToken expiresAt externalRef } problems { code } } }"""


async def start_session(client: httpx.AsyncClient, token: str, ref: str = "app-user-1") -> dict[str, Any]:
    body = (await gql(client, START, {"ref": ref}, token=token)).json()
    assert "errors" not in body, body
    return body["data"]["startOnboarding"]["session"]


async def test_an_onboarding_client_registers_its_one_performer(
    client: httpx.AsyncClient, platform: PlatformClient
) -> None:
    token = await get_token(client, platform)
    session = await start_session(client, token)
    client_token = session["clientToken"]
    assert session["status"] == "OPEN" and client_token
    wrong_role = await register(client, client_token, registration(role="ROOM_OPERATOR"))
    assert [p["code"] for p in wrong_role["problems"]] == ["INVALID_INPUT"]
    result = await register(client, client_token, registration())
    assert result["problems"] == [] and result["performer"]["externalRef"] == "app-user-1"
    own = await gql(client, "{ onboardingSession { status performer { id } } }", token=client_token)
    assert own.json()["data"]["onboardingSession"] == {
        "status": "COMPLETED",
        "performer": {"id": result["performer"]["id"]},
    }
    forbidden = await gql(client, "{ performers(first: 1) { edges { cursor } } }", token=client_token)
    assert forbidden.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    restrictions = await gql(
        client,
        "query($id: ID!) { performer(id: $id) { id restrictions { id } } }",
        {"id": result["performer"]["id"]},
        token=client_token,
    )
    assert restrictions.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_client_is_told_not_eligible_and_never_why(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    token = await get_token(client, platform)
    number = resident_id(years_ago(30))
    await register(client, token, registration(number, externalRef="taken"))
    client_token = (await start_session(client, token, "new-account"))["clientToken"]
    result = await register(client, client_token, registration(number))
    assert result["performer"] is None
    assert [p["code"] for p in result["problems"]] == ["NOT_ELIGIBLE"]
    assert "registered" not in result["problems"][0]["message"] and "blacklist" not in result["problems"][0]["message"]


async def test_cancelling_a_session_revokes_its_token(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    token = await get_token(client, platform)
    session = await start_session(client, token)
    cancel = "mutation($id: ID!) { cancelOnboarding(input: {sessionId: $id}) { session { status } problems { code } } }"
    answer = (await gql(client, cancel, {"id": session["id"]}, token=token)).json()["data"]["cancelOnboarding"]
    assert answer == {"session": {"status": "CANCELLED"}, "problems": []}
    refused = await gql(client, "{ onboardingSession { status } }", token=session["clientToken"])
    assert refused.status_code == 401
    bad_ttl = await gql(
        client,
        'mutation { startOnboarding(input: {role: MARKETER, externalRef: "x", ttlSeconds: 5}) '
        "{ problems { code field } } }",
        token=token,
    )
    assert bad_ttl.json()["data"]["startOnboarding"]["problems"] == [
        {"code": "LIMIT_EXCEEDED", "field": ["input", "ttlSeconds"]}
    ]


async def test_audit_events_and_chain(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    token = await get_token(client, platform)
    performer = (await register(client, token, registration()))["performer"]
    events = await gql(
        client,
        "query($id: ID) { auditEvents(subjectId: $id) { edges { node { action actorKind tokenId canonical } } } }",
        {"id": performer["id"]},
        token=token,
    )
    nodes = [edge["node"] for edge in events.json()["data"]["auditEvents"]["edges"]]
    assert [n["action"] for n in nodes] == ["performer.registered"]
    assert nodes[0]["actorKind"] == "PLATFORM_TOKEN" and nodes[0]["tokenId"]
    check = (await gql(client, "{ verifyAuditChain { ok checked firstBrokenId } }", token=token)).json()["data"]
    assert check["verifyAuditChain"]["ok"] is True and check["verifyAuditChain"]["checked"] >= 3
