"""Agencies: registration, screening, re-verification and review (registry services)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tortoise.context import TortoiseContext

from registry import clock, config, reviews
from registry.agencies import services as agencies
from registry.agencies.models import Agency
from registry.audit.models import AuditEvent
from registry.audit.services import verify_chain
from registry.crypto import field_aad
from registry.enforcement.models import Enforcement
from registry.identities.models import IdentityKey
from registry.organizations import CompanyInput
from registry.performers.organizations import ReverifyCompanyInput, reverify_organization
from registry.problems import DomainError, Problem, ProblemCode
from registry.verification import Status
from tests.conftest import make_platform
from tests.factories import credit_code, document, platform_actor, years_ago
from tests.registry.agencies.helpers import agency_input, blacklist_credit_code, code_failing_inner_check, make_agency


def codes(problems: list[Problem]) -> list[tuple[str, tuple[str, ...] | None]]:
    return [(p.code.value, p.field) for p in problems]


async def test_a_clean_agency_is_verified_with_an_audit_event(db: TortoiseContext) -> None:
    platform = await make_platform()
    outcome = await agencies.register_agency(platform_actor(platform.id), agency_input(external_ref="mcn-1"))
    agency = outcome.agency
    assert outcome.problems == [] and agency is not None
    assert agency.id.startswith("agy_") and agency.verification_status == "VERIFIED"
    assert agency.verified_at is not None and agency.reverify_by == clock.add_months(agency.verified_at, 6)
    assert agency.representative_name_masked == "赵*"
    name = config.current().vault.decrypt(
        agency.representative_name_enc, aad=field_aad("agency", "representative_name_enc", agency.id)
    )
    assert name == "赵六"
    assert await IdentityKey.filter(subject_id=agency.id, kind="CREDIT_CODE").exists()
    event = await AuditEvent.get(platform_id=platform.id, action="agency.registered")
    assert event.subject_id == agency.id and "赵六" not in event.canonical
    assert (await verify_chain(platform.id)).ok


async def test_the_legal_representative_is_optional(db: TortoiseContext) -> None:
    platform = await make_platform()
    outcome = await agencies.register_agency(platform_actor(platform.id), agency_input(representative=False))
    assert outcome.agency is not None and outcome.agency.representative_name_enc is None
    assert outcome.agency.verification_status == "VERIFIED"


async def test_every_input_problem_is_reported_and_nothing_is_stored(db: TortoiseContext) -> None:
    platform = await make_platform()
    bad = CompanyInput(
        name=" ",
        credit_code="91440300MA5XXXXXX0",
        address="x",
        contact_phone="12",
        representative=document(years_ago(15)),
        external_ref="has space",
    )
    outcome = await agencies.register_agency(platform_actor(platform.id), bad)
    fields = {p.field for p in outcome.problems}
    assert outcome.agency is None
    assert {
        ("input", "name"),
        ("input", "creditCode"),
        ("input", "address"),
        ("input", "contactPhone"),
        ("input", "externalRef"),
        ("input", "legalRepresentative"),
    } <= fields
    assert ProblemCode.INVALID_CREDIT_CODE in {p.code for p in outcome.problems}
    assert not await Agency.exists(platform_id=platform.id)


async def test_a_failing_inner_check_goes_to_review_and_an_approval_verifies(db: TortoiseContext) -> None:
    platform = await make_platform()
    actor = platform_actor(platform.id)
    outcome = await agencies.register_agency(actor, agency_input(code_failing_inner_check()))
    agency = outcome.agency
    assert agency is not None and agency.verification_status == "REVIEW"
    assert [f["code"] for f in agency.findings] == ["INVALID_CREDIT_CODE"] and agency.reverify_by is None
    decided = await reviews.decide_review(actor, agency.id, reviews.ReviewDecision.APPROVE, "paper licence checked")
    assert isinstance(decided, Agency) and decided.verification_status == "VERIFIED" and decided.reverify_by


async def test_duplicates_retries_and_external_refs(db: TortoiseContext) -> None:
    platform, other = await make_platform(), await make_platform()
    actor = platform_actor(platform.id)
    code = credit_code()
    first = await make_agency(platform.id, code, external_ref="mcn-1")

    retry = await agencies.register_agency(actor, agency_input(code, external_ref="mcn-1"))
    assert retry.agency is not None and retry.agency.id == first.id and retry.problems == []
    assert await AuditEvent.filter(platform_id=platform.id, action="agency.registered").count() == 1

    again = await agencies.register_agency(actor, agency_input(code, external_ref="mcn-2"))
    assert codes(again.problems) == [("ALREADY_REGISTERED", ("input", "creditCode"))]

    taken_ref = await agencies.register_agency(actor, agency_input(credit_code(), external_ref="mcn-1"))
    assert codes(taken_ref.problems) == [("DUPLICATE_EXTERNAL_REF", ("input", "externalRef"))]

    elsewhere = await make_agency(other.id, code, external_ref="mcn-1")  # tenants are independent
    assert elsewhere.id != first.id


async def test_a_blacklisted_credit_code_is_refused(db: TortoiseContext) -> None:
    platform, other = await make_platform(), await make_platform()
    listed, joint = credit_code(), credit_code()
    await blacklist_credit_code(platform.id, listed)
    await blacklist_credit_code(other.id, joint, scope="JOINT")

    for code in (listed, joint):
        outcome = await agencies.register_agency(platform_actor(platform.id), agency_input(code))
        assert codes(outcome.problems) == [("BLACKLISTED", ("input",))]
        assert not await Agency.exists(credit_code=code)

    # Another platform's PLATFORM-scope entry does not reach here.
    await blacklist_credit_code(other.id, code := credit_code())
    assert (await agencies.register_agency(platform_actor(platform.id), agency_input(code))).agency is not None


async def test_standing_follows_verification_measures_and_blacklist(db: TortoiseContext) -> None:
    platform = await make_platform()
    agency = await make_agency(platform.id)
    assert await agencies.in_good_standing(agency)

    await blacklist_credit_code(platform.id, agency.credit_code)  # listed after registration
    assert not await agencies.in_good_standing(agency)

    other = await make_agency(platform.id)
    await Enforcement.create(
        id="enf_test", platform_id=platform.id, subject_id=other.id, action="SUSPEND_RELEASE",
        reason="r", public_reason="p", since=clock.now(),
    )  # fmt: skip
    assert not await agencies.in_good_standing(other)

    overdue = await make_agency(platform.id)
    overdue.reverify_by = clock.now() - timedelta(seconds=1)
    assert agencies.status_of(overdue) is Status.EXPIRED and not await agencies.in_good_standing(overdue)


async def test_six_monthly_reverification_through_reverify_organization(db: TortoiseContext) -> None:
    platform, other = await make_platform(), await make_platform()
    actor = platform_actor(platform.id)
    agency = await make_agency(platform.id)
    await Agency.filter(id=agency.id).update(reverify_by=clock.now() - timedelta(days=1))
    assert agencies.status_of(await Agency.get(id=agency.id)) is Status.EXPIRED

    change = ReverifyCompanyInput(address="杭州市西湖区新地址路9号", contact_phone=None, representative=None)
    record, problems = await reverify_organization(actor, agency.id, change)
    assert problems == [] and isinstance(record, Agency)
    fresh = await Agency.get(id=agency.id)
    assert agencies.status_of(fresh) is Status.VERIFIED and fresh.address == "杭州市西湖区新地址路9号"
    assert fresh.reverify_by is not None and fresh.reverify_by > clock.now() + timedelta(days=150)
    assert await AuditEvent.exists(platform_id=platform.id, action="agency.reverified", subject_id=agency.id)

    with pytest.raises(DomainError) as refused:
        await reverify_organization(platform_actor(other.id), agency.id, change)
    assert codes(refused.value.problems) == [("NOT_FOUND", ("input", "organizationId"))]


async def test_agencies_are_read_per_platform(db: TortoiseContext) -> None:
    platform, other = await make_platform(), await make_platform()
    agency = await make_agency(platform.id)
    assert await agencies.get_agency(platform_actor(platform.id), agency.id) is not None
    assert await agencies.get_agency(platform_actor(other.id), agency.id) is None
    assert await agencies.agencies_by_ids(platform_actor(other.id), [agency.id]) == {}
