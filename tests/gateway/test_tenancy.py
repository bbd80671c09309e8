"""Every id argument of the contract: another platform's id does not exist for the caller.

Queries answer null, mutations NOT_FOUND with the field path of the id. The objects belong to
platform A; platform B asks with a token holding every scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from registry.agencies import agreements
from registry.audit.models import AuditEvent
from registry.onboarding import services as onboarding
from registry.platforms.scopes import PLATFORM_SCOPES
from tests.conftest import get_token, gql, make_platform
from tests.factories import make_organization, make_performer, platform_actor
from tests.registry.agencies.helpers import agreement, make_agency
from tests.registry.avatars.helpers import make_avatar, room_operator

pytestmark = pytest.mark.usefixtures("db")


@dataclass(frozen=True, slots=True)
class Owned:
    performer: str
    operator: str
    organization: str
    agency: str
    agreement: str
    avatar: str
    session: str
    event: str


async def _owned(platform_id: str) -> Owned:
    actor = platform_actor(platform_id)
    marketer = await make_performer(platform_id)
    operator = await room_operator(platform_id)
    organization = await make_organization(platform_id)
    agency = await make_agency(platform_id)
    signed = await agreements.record_agreement(actor, agreement(agency.id, marketer.id))
    assert signed.agreement is not None
    avatar = await make_avatar(platform_id, operator.id)
    session = await onboarding.start_session(actor, "MARKETER", "tenant-test", 600)
    event = await AuditEvent.filter(platform_id=platform_id).order_by("-seq").first()
    assert event is not None
    return Owned(
        marketer.id, operator.id, organization.id, agency.id, signed.agreement.id, avatar.id, session.id, event.id
    )


NULL_QUERIES: list[tuple[str, str, str]] = [
    ("node", "query($id: ID!) { node(id: $id) { id } }", "performer"),
    ("node", "query($id: ID!) { node(id: $id) { id } }", "avatar"),
    ("node", "query($id: ID!) { node(id: $id) { id } }", "agreement"),
    ("performer", "query($id: ID!) { performer(id: $id) { id } }", "performer"),
    ("operatorOrganization", "query($id: ID!) { operatorOrganization(id: $id) { id } }", "organization"),
    ("agency", "query($id: ID!) { agency(id: $id) { id } }", "agency"),
    ("liveEligibility", "query($id: ID!) { liveEligibility(performerId: $id) { allowed } }", "performer"),
    ("avatar", "query($id: ID!) { avatar(id: $id) { id } }", "avatar"),
]

DOCUMENT = '{type: RESIDENT_ID_CARD, number: "11010519491231002X", fullName: "张三"}'
AT = '"2026-01-01T00:00:00+00:00"'
# (operation, its input object, whose id $id is, the field path NOT_FOUND must name)
MUTATIONS: list[tuple[str, str, str, list[str]]] = [
    ("cancelOnboarding", "{sessionId: $id}", "session", ["input", "sessionId"]),
    ("reverifyPerformer", f"{{performerId: $id, document: {DOCUMENT}}}", "performer", ["input", "performerId"]),
    ("revokeGuardianConsent", '{performerId: $id, reason: "r"}', "performer", ["input", "performerId"]),
    ("recordTraining", f'{{performerId: $id, completedAt: {AT}, course: "c"}}', "performer", ["input", "performerId"]),
    ("setPerformerAgency", "{performerId: $id}", "performer", ["input", "performerId"]),
    ("reverifyOrganization", "{organizationId: $id}", "organization", ["input", "organizationId"]),
    ("decideReview", '{subjectId: $id, decision: APPROVE, reason: "r"}', "performer", ["input", "subjectId"]),
    ("terminateAgreement", '{agreementId: $id, reason: "r"}', "agreement", ["input", "agreementId"]),
    ("authorizeDriver", "{avatarId: $id, performerId: $id}", "avatar", ["input", "avatarId"]),
    ("revokeDriver", "{avatarId: $id, performerId: $id}", "avatar", ["input", "avatarId"]),
    ("transferAvatar", '{avatarId: $id, operatorId: $id, reason: "r"}', "avatar", ["input", "avatarId"]),
    ("retireAvatar", '{avatarId: $id, reason: "r"}', "avatar", ["input", "avatarId"]),
    ("revokeLikenessConsent", '{avatarId: $id, reason: "r"}', "avatar", ["input", "avatarId"]),
    ("applyEnforcement", '{subjectId: $id, action: WARN, reason: "r"}', "performer", ["input", "subjectId"]),
]


@pytest.fixture
async def two(client: httpx.AsyncClient) -> tuple[Owned, str]:
    owner = await make_platform("owner")
    intruder = await make_platform("intruder", scopes=" ".join(PLATFORM_SCOPES))
    return await _owned(owner.id), await get_token(client, intruder)


@pytest.mark.parametrize(("operation", "query", "kind"), NULL_QUERIES)
async def test_queries_answer_null(
    client: httpx.AsyncClient, two: tuple[Owned, str], operation: str, query: str, kind: str
) -> None:
    owned, token = two
    body = (await gql(client, query, {"id": getattr(owned, kind)}, token=token)).json()
    assert body == {"data": {operation: None}}


@pytest.mark.parametrize(("operation", "call", "kind", "field"), MUTATIONS)
async def test_mutations_answer_not_found(
    client: httpx.AsyncClient, two: tuple[Owned, str], operation: str, call: str, kind: str, field: list[str]
) -> None:
    owned, token = two
    query = f"mutation($id: ID!) {{ {operation}(input: {call}) {{ problems {{ code field }} }} }}"
    body: dict[str, Any] = (await gql(client, query, {"id": getattr(owned, kind)}, token=token)).json()
    assert "errors" not in body, body
    assert {"code": "NOT_FOUND", "field": field} in body["data"][operation]["problems"]


async def test_audit_reads_stay_on_the_own_chain(client: httpx.AsyncClient, two: tuple[Owned, str]) -> None:
    owned, token = two
    events = await gql(
        client,
        "query($id: ID) { auditEvents(subjectId: $id) { edges { cursor } } }",
        {"id": owned.performer},
        token=token,
    )
    assert events.json()["data"]["auditEvents"]["edges"] == []
    check = await gql(
        client, "query($id: ID) { verifyAuditChain(after: $id) { ok checked } }", {"id": owned.event}, token=token
    )
    assert check.json()["data"]["verifyAuditChain"] == {"ok": False, "checked": 0}
