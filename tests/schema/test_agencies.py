"""Agencies and agreements through GraphQL over HTTP: scopes, tenancy, uploads and live eligibility."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from tortoise.context import TortoiseContext

from registry import clock
from registry.agencies.models import Agency
from registry.enforcement.models import Enforcement
from tests.conftest import get_token, gql, make_platform
from tests.factories import credit_code, make_organization, make_performer, resident_id, years_ago
from tests.registry.agencies.helpers import blacklist_credit_code, code_failing_inner_check, make_agency

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

AGENCY_FIELDS = """
  id externalRef name creditCode address contactPhone verificationStatus verifiedAt reverifyBy
  findings { code field } accountStatus restrictions { action publicReason }
  agreements { id complete } createdAt updatedAt
"""
AGREEMENT_FIELDS = """
  id signedAt validUntil informationSecurity commodityQualityAudit consumerProtection
  marketerManagement contentManagement complete documentSha256 createdAt terminatedAt
  agency { id }
  party { __typename ... on Performer { id role } ... on OperatorOrganization { id creditCode } }
"""
REGISTER = f"""mutation($input: RegisterAgencyInput!) {{
  registerAgency(input: $input) {{ agency {{ {AGENCY_FIELDS} }} problems {{ code field }} }}
}}"""
RECORD = f"""mutation($input: RecordAgreementInput!) {{
  recordAgreement(input: $input) {{ agreement {{ {AGREEMENT_FIELDS} }} problems {{ code field }} }}
}}"""
TERMINATE = """mutation($input: TerminateAgreementInput!) {
  terminateAgreement(input: $input) { agreement { id complete terminatedAt } problems { code field } }
}"""
AGENCY = f"query($id: ID!) {{ agency(id: $id) {{ {AGENCY_FIELDS} }} }}"
ELIGIBILITY = "query($id: ID!) { liveEligibility(performerId: $id) { allowed reasons } }"
SET_AGENCY = """mutation($input: SetPerformerAgencyInput!) {
  setPerformerAgency(input: $input) { performer { id agency { id } } problems { code field } }
}"""
PERFORMER = f"""query($id: ID!) {{
  performer(id: $id) {{ id agency {{ id name }} agreements {{ {AGREEMENT_FIELDS} }} }}
}}"""


def agency_input(code: str | None = None, **changes: object) -> dict[str, object]:
    return {
        "name": "杭州示例网红经纪有限公司",
        "creditCode": code or credit_code(),
        "address": "杭州市余杭区示例街道88号",
        "contactPhone": "0571-87654321",
        "legalRepresentative": {
            "type": "RESIDENT_ID_CARD",
            "number": resident_id(years_ago(40)),
            "fullName": "赵六",
        },
        **changes,
    }


def agreement_input(agency_id: str, party_id: str, **changes: object) -> dict[str, object]:
    return {
        "agencyId": agency_id,
        "partyId": party_id,
        "signedAt": (datetime.now(UTC) - timedelta(days=3)).isoformat(),
        "informationSecurity": True,
        "commodityQualityAudit": True,
        "consumerProtection": True,
        **changes,
    }


async def call(
    client: httpx.AsyncClient, token: str, query: str, **variables: object
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    response = await gql(client, query, variables, token=token)
    assert response.status_code == 200, response.text
    body = response.json()
    return body.get("data") or {}, body.get("errors") or []


async def register(client: httpx.AsyncClient, token: str, **changes: object) -> dict[str, Any]:
    data, errors = await call(client, token, REGISTER, input=agency_input(**changes))  # type: ignore[arg-type]
    assert errors == [] and data["registerAgency"]["problems"] == [], (errors, data)
    return data["registerAgency"]["agency"]  # type: ignore[no-any-return]


async def record(
    client: httpx.AsyncClient, token: str, agency_id: str, party_id: str, **changes: object
) -> dict[str, Any]:
    data, errors = await call(client, token, RECORD, input=agreement_input(agency_id, party_id, **changes))
    assert errors == [], errors
    return data["recordAgreement"]  # type: ignore[no-any-return]


async def reasons(client: httpx.AsyncClient, token: str, performer_id: str) -> list[str]:
    data, errors = await call(client, token, ELIGIBILITY, id=performer_id)
    assert errors == [], errors
    return data["liveEligibility"]["reasons"]  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------------- agencies


async def test_register_and_read_an_agency(db: TortoiseContext, client: httpx.AsyncClient) -> None:
    platform, other = await make_platform(), await make_platform()
    token = await get_token(client, platform)
    agency = await register(client, token, externalRef="mcn-7")
    assert agency["id"].startswith("agy_") and agency["externalRef"] == "mcn-7"
    assert agency["verificationStatus"] == "VERIFIED" and agency["accountStatus"] == "ACTIVE"
    assert agency["findings"] == [] and agency["restrictions"] == [] and agency["agreements"] == []
    assert agency["reverifyBy"] is not None

    data, errors = await call(client, token, AGENCY, id=agency["id"])
    assert errors == [] and data["agency"]["creditCode"] == agency["creditCode"]
    node, errors = await call(client, token, "query($id: ID!) { node(id: $id) { __typename id } }", id=agency["id"])
    assert errors == [] and node["node"] == {"__typename": "Agency", "id": agency["id"]}

    foreign = await get_token(client, other)
    data, errors = await call(client, foreign, AGENCY, id=agency["id"])
    assert errors == [] and data["agency"] is None
    data, errors = await call(client, foreign, "query($id: ID!) { node(id: $id) { id } }", id=agency["id"])
    assert errors == [] and data["node"] is None

    narrow = await get_token(client, platform, "eligibility:read")
    data, errors = await call(client, narrow, AGENCY, id=agency["id"])
    assert data["agency"] is None and errors[0]["extensions"]["code"] == "FORBIDDEN"
    read_only = await get_token(client, platform, "performers:read")
    data, errors = await call(client, read_only, REGISTER, input=agency_input())
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert await Agency.filter(platform_id=platform.id).count() == 1


async def test_registration_problems_retries_and_blacklist(db: TortoiseContext, client: httpx.AsyncClient) -> None:
    platform = await make_platform()
    token = await get_token(client, platform)
    code = credit_code()
    first = await register(client, token, creditCode=code, externalRef="a")
    again = await register(client, token, creditCode=code, externalRef="a")
    assert again["id"] == first["id"]

    data, _ = await call(client, token, REGISTER, input=agency_input(code, externalRef="b"))
    assert data["registerAgency"] == {
        "agency": None,
        "problems": [{"code": "ALREADY_REGISTERED", "field": ["input", "creditCode"]}],
    }
    data, _ = await call(client, token, REGISTER, input=agency_input(externalRef="a"))
    assert data["registerAgency"]["problems"] == [{"code": "DUPLICATE_EXTERNAL_REF", "field": ["input", "externalRef"]}]
    data, _ = await call(client, token, REGISTER, input=agency_input("91440300MA5XXXXXX0", contactPhone="1"))
    assert {tuple(p["field"]) for p in data["registerAgency"]["problems"]} == {
        ("input", "creditCode"),
        ("input", "contactPhone"),
    }

    listed = credit_code()
    await blacklist_credit_code(platform.id, listed)
    data, _ = await call(client, token, REGISTER, input=agency_input(listed))
    assert data["registerAgency"] == {"agency": None, "problems": [{"code": "BLACKLISTED", "field": ["input"]}]}


async def test_review_and_reverification_of_an_agency(db: TortoiseContext, client: httpx.AsyncClient) -> None:
    platform = await make_platform()
    token = await get_token(client, platform)
    data, _ = await call(
        client, token, REGISTER, input=agency_input(code_failing_inner_check(), legalRepresentative=None)
    )
    agency = data["registerAgency"]["agency"]
    assert agency["verificationStatus"] == "REVIEW"
    assert agency["findings"] == [{"code": "INVALID_CREDIT_CODE", "field": ["input", "creditCode"]}]

    decide = """mutation($input: DecideReviewInput!) {
      decideReview(input: $input) { subject { __typename ... on Agency { verificationStatus } } problems { code } }
    }"""
    data, errors = await call(
        client, token, decide, input={"subjectId": agency["id"], "decision": "APPROVE", "reason": "licence seen"}
    )
    assert errors == [] and data["decideReview"]["subject"] == {
        "__typename": "Agency",
        "verificationStatus": "VERIFIED",
    }

    await Agency.filter(id=agency["id"]).update(reverify_by=clock.now() - timedelta(days=1))
    read, _ = await call(client, token, AGENCY, id=agency["id"])
    assert read["agency"]["verificationStatus"] == "EXPIRED"
    reverify = """mutation($input: ReverifyOrganizationInput!) {
      reverifyOrganization(input: $input) {
        organization { __typename ... on Agency { verificationStatus contactPhone } } problems { code field }
      }
    }"""
    data, errors = await call(
        client, token, reverify, input={"organizationId": agency["id"], "contactPhone": "0571-11112222"}
    )
    assert errors == [] and data["reverifyOrganization"]["organization"]["__typename"] == "Agency"
    assert data["reverifyOrganization"]["organization"]["verificationStatus"] == "VERIFIED"


@pytest.mark.usefixtures("uncached_eligibility")
async def test_enforcement_applies_to_agencies(db: TortoiseContext, client: httpx.AsyncClient) -> None:
    platform = await make_platform()
    token = await get_token(client, platform)
    agency = await make_agency(platform.id)
    marketer = await make_performer(platform.id)
    await call(client, token, SET_AGENCY, input={"performerId": marketer.id, "agencyId": agency.id})
    await record(client, token, agency.id, marketer.id)
    assert await reasons(client, token, marketer.id) == []

    await Enforcement.create(
        id="enf_x", platform_id=platform.id, subject_id=agency.id, action="SUSPEND_RELEASE", reason="staff only",
        public_reason="suspended", since=clock.now(),
    )  # fmt: skip
    data, errors = await call(client, token, AGENCY, id=agency.id)
    assert errors == [] and data["agency"]["accountStatus"] == "SUSPENDED"
    assert data["agency"]["restrictions"] == [{"action": "SUSPEND_RELEASE", "publicReason": "suspended"}]
    assert await reasons(client, token, marketer.id) == ["AGENCY_NOT_ELIGIBLE"]


# ----------------------------------------------------------------------------------- agreements


async def test_record_an_agreement_with_its_signed_document(db: TortoiseContext, client: httpx.AsyncClient) -> None:
    platform = await make_platform()
    token = await get_token(client, platform)
    agency, marketer = await make_agency(platform.id), await make_performer(platform.id)
    operations = {
        "query": RECORD,
        "variables": {"input": {**agreement_input(agency.id, marketer.id), "document": None}},
    }
    response = await client.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.input.document"]})},
        files={"0": ("agreement.pdf", PDF, "application/pdf")},
        headers={"Authorization": f"Bearer {token}", "Apollo-Require-Preflight": "true"},
    )
    body = response.json()
    assert "errors" not in body, body
    agreement = body["data"]["recordAgreement"]["agreement"]
    assert agreement["documentSha256"] == hashlib.sha256(PDF).hexdigest()
    assert agreement["complete"] is True and agreement["agency"] == {"id": agency.id}
    assert agreement["party"] == {"__typename": "Performer", "id": marketer.id, "role": "MARKETER"}
    assert agreement["marketerManagement"] is False and agreement["validUntil"] is None

    node, errors = await call(client, token, "query($id: ID!) { node(id: $id) { __typename id } }", id=agreement["id"])
    assert errors == [] and node["node"] == {"__typename": "Agreement", "id": agreement["id"]}

    junk = {"query": RECORD, "variables": {"input": {**agreement_input(agency.id, marketer.id), "document": None}}}
    response = await client.post(
        "/graphql",
        data={"operations": json.dumps(junk), "map": json.dumps({"0": ["variables.input.document"]})},
        files={"0": ("agreement.exe", b"MZ\x90\x00", "application/octet-stream")},
        headers={"Authorization": f"Bearer {token}", "Apollo-Require-Preflight": "true"},
    )
    assert response.json()["data"]["recordAgreement"]["problems"] == [
        {"code": "INVALID_INPUT", "field": ["input", "document"]}
    ]


async def test_an_organization_party_owes_five_duties(db: TortoiseContext, client: httpx.AsyncClient) -> None:
    platform = await make_platform()
    token = await get_token(client, platform)
    agency, organization = await make_agency(platform.id), await make_organization(platform.id)
    three = (await record(client, token, agency.id, organization.id))["agreement"]
    assert three["complete"] is False
    assert three["party"] == {
        "__typename": "OperatorOrganization",
        "id": organization.id,
        "creditCode": organization.credit_code,
    }
    five = await record(
        client, token, agency.id, organization.id, marketerManagement=True, contentManagement=True,
        validUntil=(clock.today_in_shanghai() + timedelta(days=365)).isoformat(),
    )  # fmt: skip
    assert five["agreement"]["complete"] is True
    query = "query($id: ID!) { operatorOrganization(id: $id) { agreements { id complete } } }"
    data, errors = await call(client, token, query, id=organization.id)
    assert errors == [] and data["operatorOrganization"]["agreements"] == [
        {"id": five["agreement"]["id"], "complete": True},
        {"id": three["id"], "complete": False},  # superseded
    ]


async def test_another_platforms_ids_are_not_found(db: TortoiseContext, client: httpx.AsyncClient) -> None:
    platform, other = await make_platform(), await make_platform()
    token = await get_token(client, platform)
    agency, marketer = await make_agency(platform.id), await make_performer(platform.id)
    foreign_agency, foreign_marketer = await make_agency(other.id), await make_performer(other.id)

    refused = await record(client, token, foreign_agency.id, foreign_marketer.id)
    assert refused == {
        "agreement": None,
        "problems": [
            {"code": "NOT_FOUND", "field": ["input", "agencyId"]},
            {"code": "NOT_FOUND", "field": ["input", "partyId"]},
        ],
    }
    mine = (await record(client, token, agency.id, marketer.id))["agreement"]
    foreign = await get_token(client, other)
    data, _ = await call(client, foreign, TERMINATE, input={"agreementId": mine["id"], "reason": "ended"})
    assert data["terminateAgreement"]["problems"] == [{"code": "NOT_FOUND", "field": ["input", "agreementId"]}]
    data, _ = await call(client, foreign, "query($id: ID!) { node(id: $id) { id } }", id=mine["id"])
    assert data["node"] is None
    data, _ = await call(client, foreign, SET_AGENCY, input={"performerId": foreign_marketer.id, "agencyId": agency.id})
    assert data["setPerformerAgency"]["problems"] == [{"code": "NOT_FOUND", "field": ["input", "agencyId"]}]


async def test_dates_and_terminations(db: TortoiseContext, client: httpx.AsyncClient) -> None:
    platform = await make_platform()
    token = await get_token(client, platform)
    agency, marketer = await make_agency(platform.id), await make_performer(platform.id)
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    refused = await record(client, token, agency.id, marketer.id, signedAt=future, validUntil="2020-01-01")
    assert refused["problems"] == [{"code": "INVALID_INPUT", "field": ["input", "signedAt"]}]
    refused = await record(client, token, agency.id, marketer.id, validUntil="2020-01-01")
    assert refused["problems"] == [{"code": "INVALID_INPUT", "field": ["input", "validUntil"]}]

    signed = (await record(client, token, agency.id, marketer.id))["agreement"]
    data, _ = await call(client, token, TERMINATE, input={"agreementId": signed["id"], "reason": "ended"})
    ended = data["terminateAgreement"]
    assert ended["problems"] == [] and ended["agreement"]["complete"] is False and ended["agreement"]["terminatedAt"]
    data, _ = await call(client, token, TERMINATE, input={"agreementId": signed["id"], "reason": "ended"})
    assert data["terminateAgreement"] == {
        "agreement": None,
        "problems": [{"code": "INVALID_TRANSITION", "field": ["input", "agreementId"]}],
    }


async def test_live_eligibility_follows_the_agreement(db: TortoiseContext, client: httpx.AsyncClient) -> None:
    platform = await make_platform()
    token = await get_token(client, platform)
    starter = await get_token(client, platform, "eligibility:read")
    agency, marketer = await make_agency(platform.id), await make_performer(platform.id)
    assert await reasons(client, starter, marketer.id) == []

    data, errors = await call(client, token, SET_AGENCY, input={"performerId": marketer.id, "agencyId": agency.id})
    assert errors == [] and data["setPerformerAgency"]["performer"]["agency"] == {"id": agency.id}
    assert await reasons(client, starter, marketer.id) == ["AGENCY_AGREEMENT_MISSING"]

    incomplete = (await record(client, token, agency.id, marketer.id, consumerProtection=False))["agreement"]
    assert incomplete["complete"] is False
    assert await reasons(client, starter, marketer.id) == ["AGENCY_AGREEMENT_MISSING"]

    complete = (await record(client, token, agency.id, marketer.id))["agreement"]
    assert complete["complete"] is True
    data, _ = await call(client, starter, ELIGIBILITY, id=marketer.id)
    assert data["liveEligibility"] == {"allowed": True, "reasons": []}

    data, errors = await call(client, token, PERFORMER, id=marketer.id)
    assert errors == [] and data["performer"]["agency"]["id"] == agency.id
    assert [(a["id"], a["complete"]) for a in data["performer"]["agreements"]] == [
        (complete["id"], True),
        (incomplete["id"], False),  # superseded
    ]

    await call(client, token, TERMINATE, input={"agreementId": complete["id"], "reason": "cooperation ended"})
    assert await reasons(client, starter, marketer.id) == ["AGENCY_AGREEMENT_MISSING"]

    data, _ = await call(client, token, SET_AGENCY, input={"performerId": marketer.id, "agencyId": None})
    assert data["setPerformerAgency"]["performer"]["agency"] is None
    assert await reasons(client, starter, marketer.id) == []


async def test_expiry_brings_the_reason_back(db: TortoiseContext, client: httpx.AsyncClient) -> None:
    platform = await make_platform()
    token = await get_token(client, platform)
    agency, marketer = await make_agency(platform.id), await make_performer(platform.id)
    await call(client, token, SET_AGENCY, input={"performerId": marketer.id, "agencyId": agency.id})
    yesterday = (clock.today_in_shanghai() - timedelta(days=1)).isoformat()
    long_ago = (datetime.now(UTC) - timedelta(days=400)).isoformat()
    expired = await record(client, token, agency.id, marketer.id, signedAt=long_ago, validUntil=yesterday)
    assert expired["agreement"]["complete"] is False
    assert await reasons(client, token, marketer.id) == ["AGENCY_AGREEMENT_MISSING"]


async def test_a_performer_registered_with_an_agency_id(db: TortoiseContext, client: httpx.AsyncClient) -> None:
    platform = await make_platform()
    token = await get_token(client, platform)
    agency = await make_agency(platform.id)
    query = """mutation($input: RegisterPerformerInput!) {
      registerPerformer(input: $input) { performer { id agency { id } } problems { code field } }
    }"""
    document = {"type": "RESIDENT_ID_CARD", "number": resident_id(years_ago(25)), "fullName": "孙七"}
    data, errors = await call(
        client, token, query, input={"role": "MARKETER", "document": document, "phone": "13800138002",
                                     "agencyId": agency.id},
    )  # fmt: skip
    assert errors == [] and data["registerPerformer"]["performer"]["agency"] == {"id": agency.id}
    performer_id = data["registerPerformer"]["performer"]["id"]
    assert "AGENCY_AGREEMENT_MISSING" in await reasons(client, token, performer_id)
    await record(client, token, agency.id, performer_id)
    assert "AGENCY_AGREEMENT_MISSING" not in await reasons(client, token, performer_id)
