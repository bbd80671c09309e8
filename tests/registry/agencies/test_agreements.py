"""Agreements: completeness, expiry, superseding, termination, tenancy, documents and eligibility."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from tortoise.context import TortoiseContext

from registry import clock, config
from registry.agencies import agreements
from registry.agencies.models import Agency, Agreement
from registry.audit.models import AuditEvent
from registry.audit.services import verify_chain
from registry.enforcement.models import Enforcement
from registry.performers import eligibility
from registry.performers import services as performers
from registry.problems import Problem
from registry.uploads import Upload
from tests.conftest import make_platform
from tests.factories import document, image_bytes, make_organization, make_performer, platform_actor
from tests.registry.agencies.helpers import agreement, blacklist_credit_code, code_failing_inner_check, make_agency

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def codes(problems: list[Problem]) -> list[tuple[str, tuple[str, ...] | None]]:
    return [(p.code.value, p.field) for p in problems]


async def _record(platform_id: str, **kwargs: object) -> Agreement:
    data = agreement(**kwargs)  # type: ignore[arg-type]
    outcome = await agreements.record_agreement(platform_actor(platform_id), data)
    assert outcome.agreement is not None, outcome.problems
    return outcome.agreement


async def _reasons(platform_id: str, performer_id: str) -> list[str]:
    result = await eligibility.live_eligibility(platform_actor(platform_id), performer_id)
    assert result is not None
    return [r.value for r in result.reasons]


# ------------------------------------------------------------------------------------ completeness


async def test_a_marketer_needs_three_duties(db: TortoiseContext) -> None:
    platform = await make_platform()
    agency, marketer = await make_agency(platform.id), await make_performer(platform.id)
    incomplete = await _record(platform.id, agency_id=agency.id, party_id=marketer.id, consumer_protection=False)
    assert incomplete.party_role == "MARKETER" and not agreements.is_complete(incomplete)

    complete = await _record(platform.id, agency_id=agency.id, party_id=marketer.id)
    assert agreements.is_complete(complete)
    assert not complete.marketer_management and not complete.content_management


async def test_a_room_operator_person_or_organization_needs_five_duties(db: TortoiseContext) -> None:
    platform = await make_platform()
    agency = await make_agency(platform.id)
    operator = await make_performer(platform.id, role="ROOM_OPERATOR")
    organization = await make_organization(platform.id)
    for party_id in (operator.id, organization.id):
        three = await _record(platform.id, agency_id=agency.id, party_id=party_id)
        assert three.party_role == "ROOM_OPERATOR" and not agreements.is_complete(three)
        four = await _record(platform.id, agency_id=agency.id, party_id=party_id, room_operator=True,
                             content_management=False)  # fmt: skip
        assert not agreements.is_complete(four)
        five = await _record(platform.id, agency_id=agency.id, party_id=party_id, room_operator=True)
        assert agreements.is_complete(five)


async def test_an_expired_agreement_is_not_complete(db: TortoiseContext) -> None:
    platform = await make_platform()
    agency, marketer = await make_agency(platform.id), await make_performer(platform.id)
    today = clock.today_in_shanghai()
    lasts_today = await _record(platform.id, agency_id=agency.id, party_id=marketer.id, valid_until=today)
    assert agreements.is_complete(lasts_today)
    assert not agreements.is_complete(lasts_today, today + timedelta(days=1))  # read-time: expiry needs no job

    expired = await _record(platform.id, agency_id=agency.id, party_id=marketer.id, days_ago=400,
                            valid_until=today - timedelta(days=1))  # fmt: skip
    assert not agreements.is_complete(expired)


# ------------------------------------------------------------------------------------- superseding


async def test_a_later_agreement_supersedes_the_earlier_one(db: TortoiseContext) -> None:
    platform = await make_platform()
    agency, marketer = await make_agency(platform.id), await make_performer(platform.id)
    first = await _record(platform.id, agency_id=agency.id, party_id=marketer.id, days_ago=30)
    second = await _record(platform.id, agency_id=agency.id, party_id=marketer.id, days_ago=5)

    first = await Agreement.get(id=first.id)
    assert first.superseded_at is not None and not agreements.is_complete(first)
    assert second.superseded_at is None and agreements.is_complete(second)
    event = await AuditEvent.get(platform_id=platform.id, action="agreement.superseded")
    assert event.subject_id == first.id and second.id in event.canonical

    # Backfilling an older paper does not displace the agreement in force: it lands superseded.
    backfilled = await _record(platform.id, agency_id=agency.id, party_id=marketer.id, days_ago=60)
    assert backfilled.superseded_at is not None and not agreements.is_complete(backfilled)
    assert (await Agreement.get(id=second.id)).superseded_at is None

    # Another agency's agreement with the same performer is a different pair.
    other = await make_agency(platform.id)
    await _record(platform.id, agency_id=other.id, party_id=marketer.id, days_ago=1)
    assert (await Agreement.get(id=second.id)).superseded_at is None


async def test_an_incomplete_later_agreement_still_supersedes(db: TortoiseContext) -> None:
    platform = await make_platform()
    agency, marketer = await make_agency(platform.id), await make_performer(platform.id)
    await performers.set_performer_agency(platform_actor(platform.id), marketer.id, agency.id)
    await _record(platform.id, agency_id=agency.id, party_id=marketer.id, days_ago=30)
    assert await _reasons(platform.id, marketer.id) == []
    await _record(platform.id, agency_id=agency.id, party_id=marketer.id, information_security=False)
    assert await _reasons(platform.id, marketer.id) == ["AGENCY_AGREEMENT_MISSING"]


# ------------------------------------------------------------------------------------- termination


async def test_termination_ends_an_agreement_once(db: TortoiseContext) -> None:
    platform, other = await make_platform(), await make_platform()
    actor = platform_actor(platform.id)
    agency, marketer = await make_agency(platform.id), await make_performer(platform.id)
    signed = await _record(platform.id, agency_id=agency.id, party_id=marketer.id)

    blank = await agreements.terminate_agreement(actor, signed.id, "   ")
    assert codes(blank.problems) == [("INVALID_INPUT", ("input", "reason"))]
    foreign = await agreements.terminate_agreement(platform_actor(other.id), signed.id, "ended")
    assert codes(foreign.problems) == [("NOT_FOUND", ("input", "agreementId"))]

    ended = await agreements.terminate_agreement(actor, signed.id, "cooperation ended by 张三")
    assert ended.agreement is not None and ended.agreement.terminated_at is not None
    assert not agreements.is_complete(ended.agreement)
    event = await AuditEvent.get(platform_id=platform.id, action="agreement.terminated")
    assert event.subject_id == signed.id and "张三" not in event.canonical

    twice = await agreements.terminate_agreement(actor, signed.id, "again")
    assert codes(twice.problems) == [("INVALID_TRANSITION", ("input", "agreementId"))]


async def test_a_superseded_agreement_cannot_be_terminated(db: TortoiseContext) -> None:
    platform = await make_platform()
    agency, marketer = await make_agency(platform.id), await make_performer(platform.id)
    old = await _record(platform.id, agency_id=agency.id, party_id=marketer.id, days_ago=30)
    await _record(platform.id, agency_id=agency.id, party_id=marketer.id)
    refused = await agreements.terminate_agreement(platform_actor(platform.id), old.id, "ended")
    assert codes(refused.problems) == [("INVALID_TRANSITION", ("input", "agreementId"))]


async def test_a_terminated_agreement_is_not_superseded_later(db: TortoiseContext) -> None:
    platform = await make_platform()
    agency, marketer = await make_agency(platform.id), await make_performer(platform.id)
    old = await _record(platform.id, agency_id=agency.id, party_id=marketer.id, days_ago=30)
    await agreements.terminate_agreement(platform_actor(platform.id), old.id, "ended")
    renewed = await _record(platform.id, agency_id=agency.id, party_id=marketer.id)
    assert (await Agreement.get(id=old.id)).superseded_at is None and agreements.is_complete(renewed)


# ------------------------------------------------------------------------------ validation, tenancy


async def test_another_platforms_ids_are_not_found(db: TortoiseContext) -> None:
    platform, other = await make_platform(), await make_platform()
    agency, marketer = await make_agency(platform.id), await make_performer(platform.id)
    foreign_agency, foreign_marketer = await make_agency(other.id), await make_performer(other.id)
    foreign_org = await make_organization(other.id)
    actor = platform_actor(platform.id)

    both = await agreements.record_agreement(actor, agreement(foreign_agency.id, foreign_marketer.id))
    assert codes(both.problems) == [("NOT_FOUND", ("input", "agencyId")), ("NOT_FOUND", ("input", "partyId"))]
    party = await agreements.record_agreement(actor, agreement(agency.id, foreign_org.id))
    assert codes(party.problems) == [("NOT_FOUND", ("input", "partyId"))]
    unknown = await agreements.record_agreement(actor, agreement(agency.id, agency.id))  # an agency is no party
    assert codes(unknown.problems) == [("NOT_FOUND", ("input", "partyId"))]
    ok = await agreements.record_agreement(actor, agreement(agency.id, marketer.id))
    assert ok.agreement is not None
    assert await agreements.get_agreement(platform_actor(other.id), ok.agreement.id) is None
    assert await Agreement.filter(platform_id=platform.id).count() == 1


async def test_dates_are_checked_with_every_other_problem(db: TortoiseContext) -> None:
    platform = await make_platform()
    agency, marketer = await make_agency(platform.id), await make_performer(platform.id)
    actor = platform_actor(platform.id)
    future = datetime.now(UTC) + timedelta(hours=1)
    ahead = await agreements.record_agreement(actor, agreement(agency.id, "per_missing", signed_at=future))
    assert codes(ahead.problems) == [("INVALID_INPUT", ("input", "signedAt")), ("NOT_FOUND", ("input", "partyId"))]

    # Signed at 23:30 Beijing time on the 10th: the agreement may end on the 10th, not on the 9th.
    signed = datetime(2025, 3, 10, 15, 30, tzinfo=UTC)
    before = await agreements.record_agreement(
        actor, agreement(agency.id, marketer.id, signed_at=signed, valid_until=signed.date() - timedelta(days=1))
    )
    assert codes(before.problems) == [("INVALID_INPUT", ("input", "validUntil"))]
    same_day = await agreements.record_agreement(
        actor, agreement(agency.id, marketer.id, signed_at=signed, valid_until=signed.date())
    )
    assert same_day.agreement is not None

    naive = await agreements.record_agreement(actor, agreement(agency.id, marketer.id, signed_at=datetime(2025, 1, 1)))
    assert codes(naive.problems) == [("INVALID_INPUT", ("input", "signedAt"))]


async def test_only_an_agency_in_good_standing_can_sign(db: TortoiseContext) -> None:
    platform = await make_platform()
    actor = platform_actor(platform.id)
    marketer = await make_performer(platform.id)
    in_review = await make_agency(platform.id, code_failing_inner_check())
    listed = await make_agency(platform.id)
    await blacklist_credit_code(platform.id, listed.credit_code)
    for agency in (in_review, listed):
        refused = await agreements.record_agreement(actor, agreement(agency.id, marketer.id))
        assert codes(refused.problems) == [("AGENCY_NOT_ELIGIBLE", ("input", "agencyId"))]


async def test_the_signed_document_is_stored_by_content(db: TortoiseContext) -> None:
    platform = await make_platform()
    agency, marketer = await make_agency(platform.id), await make_performer(platform.id)
    actor = platform_actor(platform.id)
    blobs = config.current().blobs

    pdf = await _record(platform.id, agency_id=agency.id, party_id=marketer.id,
                        document=Upload(PDF, "application/pdf", "agreement.pdf"))  # fmt: skip
    assert pdf.document_sha256 == hashlib.sha256(PDF).hexdigest() and await blobs.get(pdf.document_sha256) == PDF

    scan = await _record(platform.id, agency_id=agency.id, party_id=marketer.id,
                         document=Upload(image_bytes(3, fmt="JPEG"), "image/jpeg"))  # fmt: skip
    assert scan.document_sha256 is not None and await blobs.exists(scan.document_sha256)

    junk = await agreements.record_agreement(
        actor, agreement(agency.id, marketer.id, document=Upload(b"PK\x03\x04 a zip", "application/zip"))
    )
    assert codes(junk.problems) == [("INVALID_INPUT", ("input", "document"))]
    huge = await agreements.record_agreement(
        actor, agreement(agency.id, marketer.id, document=Upload(PDF + b"0" * (8 * 1024 * 1024), "application/pdf"))
    )
    assert codes(huge.problems) == [("LIMIT_EXCEEDED", ("input", "document"))]
    assert await Agreement.filter(party_id=marketer.id).count() == 2


async def test_every_change_is_audited_on_an_intact_chain(db: TortoiseContext) -> None:
    platform = await make_platform()
    agency, marketer = await make_agency(platform.id), await make_performer(platform.id)
    first = await _record(platform.id, agency_id=agency.id, party_id=marketer.id, days_ago=20)
    second = await _record(platform.id, agency_id=agency.id, party_id=marketer.id)
    await agreements.terminate_agreement(platform_actor(platform.id), second.id, "ended")
    events = await AuditEvent.filter(platform_id=platform.id, action__startswith="agreement.").order_by("seq")
    assert [(e.action, e.subject_id) for e in events] == [
        ("agreement.recorded", first.id),
        ("agreement.recorded", second.id),
        ("agreement.superseded", first.id),
        ("agreement.terminated", second.id),
    ]
    assert (await verify_chain(platform.id)).ok


# -------------------------------------------------------------------------------------- eligibility


@pytest.mark.usefixtures("uncached_eligibility")
async def test_a_linked_performer_needs_a_complete_agreement_with_that_agency(db: TortoiseContext) -> None:
    platform = await make_platform()
    actor = platform_actor(platform.id)
    agency, elsewhere = await make_agency(platform.id), await make_agency(platform.id)
    marketer = await make_performer(platform.id)
    assert await _reasons(platform.id, marketer.id) == []

    await performers.set_performer_agency(actor, marketer.id, agency.id)
    assert await _reasons(platform.id, marketer.id) == ["AGENCY_AGREEMENT_MISSING"]
    await _record(platform.id, agency_id=elsewhere.id, party_id=marketer.id)  # the wrong agency
    await _record(platform.id, agency_id=agency.id, party_id=marketer.id, commodity_quality_audit=False)
    assert await _reasons(platform.id, marketer.id) == ["AGENCY_AGREEMENT_MISSING"]

    signed = await _record(platform.id, agency_id=agency.id, party_id=marketer.id)
    assert await _reasons(platform.id, marketer.id) == []

    # Expiry brings the reason back by itself (the clock is simulated by moving validUntil).
    await Agreement.filter(id=signed.id).update(valid_until=clock.today_in_shanghai() - timedelta(days=1))
    assert await _reasons(platform.id, marketer.id) == ["AGENCY_AGREEMENT_MISSING"]
    await Agreement.filter(id=signed.id).update(valid_until=None)
    assert await _reasons(platform.id, marketer.id) == []

    await agreements.terminate_agreement(actor, signed.id, "ended")
    assert await _reasons(platform.id, marketer.id) == ["AGENCY_AGREEMENT_MISSING"]

    await performers.set_performer_agency(actor, marketer.id, None)  # unlinked: no agency, no duty
    assert await _reasons(platform.id, marketer.id) == []


@pytest.mark.usefixtures("uncached_eligibility")
async def test_the_agency_must_stay_in_good_standing(db: TortoiseContext) -> None:
    platform = await make_platform()
    actor = platform_actor(platform.id)
    agency, marketer = await make_agency(platform.id), await make_performer(platform.id)
    await performers.set_performer_agency(actor, marketer.id, agency.id)
    await _record(platform.id, agency_id=agency.id, party_id=marketer.id)
    assert await _reasons(platform.id, marketer.id) == []

    measure = await Enforcement.create(
        id="enf_agency", platform_id=platform.id, subject_id=agency.id, action="SUSPEND_RELEASE",
        reason="staff", public_reason="suspended", since=clock.now(), until=clock.now() + timedelta(days=1),
    )  # fmt: skip
    assert await _reasons(platform.id, marketer.id) == ["AGENCY_NOT_ELIGIBLE"]
    await Enforcement.filter(id=measure.id).update(until=clock.now() - timedelta(seconds=1))
    assert await _reasons(platform.id, marketer.id) == []

    await Agency.filter(id=agency.id).update(reverify_by=clock.now() - timedelta(seconds=1))
    assert await _reasons(platform.id, marketer.id) == ["AGENCY_NOT_ELIGIBLE"]
    await Agency.filter(id=agency.id).update(reverify_by=clock.now() + timedelta(days=30))

    await blacklist_credit_code(platform.id, agency.credit_code)
    assert await _reasons(platform.id, marketer.id) == ["AGENCY_NOT_ELIGIBLE"]


async def test_a_performer_registered_with_an_agency_starts_without_agreement(db: TortoiseContext) -> None:
    platform = await make_platform()
    actor = platform_actor(platform.id)
    agency = await make_agency(platform.id)
    data = performers.RegisterInput(role="MARKETER", document=document(), phone="13800138001", agency_id=agency.id)
    outcome = await performers.register_performer(actor, data)
    assert outcome.performer is not None
    await performers.record_training(actor, outcome.performer.id, clock.now(), "law")
    assert await _reasons(platform.id, outcome.performer.id) == ["AGENCY_AGREEMENT_MISSING"]
    await _record(platform.id, agency_id=agency.id, party_id=outcome.performer.id)
    assert await _reasons(platform.id, outcome.performer.id) == []
