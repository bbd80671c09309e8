"""Re-verification, guardian consent, training, reviews and the live-eligibility reasons they drive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tortoise.context import TortoiseContext

from registry import clock
from registry.enforcement.models import BlacklistEntry, BlacklistKey, Enforcement
from registry.enforcement.screening import SubjectKeys, index_values
from registry.identities.services import person_key
from registry.ids import new_id
from registry.performers import services as performers
from registry.performers.eligibility import Reason, live_eligibility
from registry.performers.models import Performer
from registry.platforms.services import update_platform
from registry.problems import DomainError, ProblemCode
from registry.reviews import ReviewDecision, decide_review
from registry.validators.documents import DocumentInput, DocumentType
from tests.conftest import make_platform
from tests.factories import document, make_performer, platform_actor, resident_id, years_ago
from tests.registry.performers.test_register import consent


async def reasons(platform_id: str, performer_id: str, avatar_id: str | None = None) -> list[Reason]:
    result = await live_eligibility(platform_actor(platform_id), performer_id, avatar_id)
    assert result is not None
    return result.reasons


async def test_a_verified_trained_adult_may_go_live(db: TortoiseContext) -> None:
    platform = await make_platform()
    performer = await make_performer(platform.id)
    result = await live_eligibility(platform_actor(platform.id), performer.id)
    assert result is not None and result.allowed and result.reasons == []
    other = await make_platform()
    assert await live_eligibility(platform_actor(other.id), performer.id) is None


async def test_training_is_needed_within_a_year(db: TortoiseContext) -> None:
    platform = await make_platform()
    performer = await make_performer(platform.id, trained=False)
    assert await reasons(platform.id, performer.id) == [Reason.TRAINING_MISSING]
    old = datetime.now(UTC) - timedelta(days=366)
    await performers.record_training(platform_actor(platform.id), performer.id, old, "Course 2025")
    assert await reasons(platform.id, performer.id) == [Reason.TRAINING_MISSING]
    await performers.record_training(platform_actor(platform.id), performer.id, datetime.now(UTC), "Course 2026")
    assert await reasons(platform.id, performer.id) == []
    future = await performers.record_training(
        platform_actor(platform.id), performer.id, datetime.now(UTC) + timedelta(days=1), "x"
    )
    assert [p.code for p in future.problems] == [ProblemCode.INVALID_INPUT]


async def test_verification_expires_after_six_months(db: TortoiseContext, monkeypatch: pytest.MonkeyPatch) -> None:
    platform = await make_platform()
    performer = await make_performer(platform.id)
    assert performer.reverify_by is not None
    later = performer.reverify_by + timedelta(seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    found = await reasons(platform.id, performer.id)
    assert Reason.VERIFICATION_EXPIRED in found and Reason.NOT_VERIFIED not in found
    stored = performers._stored_document(performer)
    outcome = await performers.reverify_performer(
        platform_actor(platform.id), performer.id, DocumentInput(stored.type, stored.number, stored.full_name)
    )
    assert outcome.problems == [] and outcome.performer is not None
    assert outcome.performer.reverify_by == clock.add_months(later, 6)
    assert Reason.VERIFICATION_EXPIRED not in await reasons(platform.id, performer.id)


async def test_reverification_must_present_the_same_person(db: TortoiseContext) -> None:
    platform = await make_platform()
    performer = await make_performer(platform.id)
    outcome = await performers.reverify_performer(platform_actor(platform.id), performer.id, document(years_ago(33)))
    assert [(p.code, p.field) for p in outcome.problems] == [(ProblemCode.IDENTITY_MISMATCH, ("input", "document"))]
    other = await make_platform()
    with pytest.raises(DomainError) as missing:
        await performers.reverify_performer(platform_actor(other.id), performer.id, document())
    assert missing.value.problems[0].code is ProblemCode.NOT_FOUND


async def test_a_renewed_passport_goes_to_review_and_a_review_blocks_reverification(db: TortoiseContext) -> None:
    platform = await make_platform()
    first = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<"
    old = DocumentInput(
        DocumentType.PASSPORT, "E12345678", "ANNA MARIA ERIKSSON", nationality="CHN", mrz=_mrz(first, "E12345678")
    )
    outcome = await performers.register_performer(
        platform_actor(platform.id), performers.RegisterInput(role="MARKETER", document=old, phone="13800138000")
    )
    assert outcome.performer is not None, outcome.problems
    renewed = DocumentInput(
        DocumentType.PASSPORT, "E87654321", "ANNA MARIA ERIKSSON", nationality="CHN", mrz=_mrz(first, "E87654321")
    )
    result = await performers.reverify_performer(platform_actor(platform.id), outcome.performer.id, renewed)
    assert result.performer is not None and result.performer.verification_status == "REVIEW"
    with pytest.raises(DomainError) as stuck:
        await performers.reverify_performer(platform_actor(platform.id), outcome.performer.id, renewed)
    assert stuck.value.problems[0].code is ProblemCode.INVALID_TRANSITION
    approved = await decide_review(platform_actor(platform.id), outcome.performer.id, ReviewDecision.APPROVE, "renewed")
    assert isinstance(approved, Performer) and approved.verification_status == "VERIFIED" and approved.findings == []


def _mrz(line1: str, number: str) -> str:
    from registry.validators.documents import icao_check_digit

    birth, expiry = "900101", "350101"
    personal = "<" * 14
    doc = f"{number}{icao_check_digit(number)}CHN{birth}{icao_check_digit(birth)}F{expiry}{icao_check_digit(expiry)}"
    body = doc + personal + icao_check_digit(personal)
    composite = body[0:10] + body[13:20] + body[21:43]
    return f"{line1.replace('UTO', 'CHN')}\n{body}{icao_check_digit(composite)}"


async def test_guardian_consent_revoked_and_recorded_again(db: TortoiseContext) -> None:
    platform = await make_platform()
    minor = await make_performer(platform.id, birth=years_ago(17, days=30))
    actor = platform_actor(platform.id)
    assert await reasons(platform.id, minor.id) == []
    await performers.revoke_guardian_consent(actor, minor.id, "the parent withdrew it")
    assert await reasons(platform.id, minor.id) == [Reason.GUARDIAN_CONSENT_MISSING]
    with pytest.raises(DomainError):
        await performers.revoke_guardian_consent(actor, minor.id, "again")
    outcome = await performers.record_guardian_consent(actor, minor.id, consent())
    assert outcome.problems == []
    assert await reasons(platform.id, minor.id) == []
    adult = await make_performer(platform.id)
    refused = await performers.record_guardian_consent(actor, adult.id, consent())
    assert [p.code for p in refused.problems] == [ProblemCode.INVALID_INPUT]


async def test_a_raised_minimum_age_applies_to_existing_performers(db: TortoiseContext) -> None:
    platform = await make_platform()
    minor = await make_performer(platform.id, birth=years_ago(17, days=30))
    await update_platform(platform.id, minimum_age=18)
    assert await reasons(platform.id, minor.id) == [Reason.UNDER_MINIMUM_AGE]


@pytest.mark.usefixtures("uncached_eligibility")
async def test_measures_in_force_block_or_not(db: TortoiseContext) -> None:
    platform = await make_platform()
    performer = await make_performer(platform.id)
    now = datetime.now(UTC)

    async def measure(action: str, until: datetime | None = None) -> Enforcement:
        return await Enforcement.create(
            id=new_id("enf"), platform_id=platform.id, subject_id=performer.id, action=action,
            reason="r", public_reason="p", since=now, until=until,
        )  # fmt: skip

    await measure("WARN")
    await measure("LIMIT_TRAFFIC")
    assert await reasons(platform.id, performer.id) == []
    await measure("LIMIT_FUNCTIONS", until=now - timedelta(seconds=1))  # already over
    assert await reasons(platform.id, performer.id) == []
    suspended = await measure("SUSPEND_RELEASE", until=now + timedelta(days=1))
    await measure("LIMIT_FUNCTIONS")
    assert await reasons(platform.id, performer.id) == [Reason.FUNCTION_LIMITED, Reason.ACCOUNT_SUSPENDED]
    suspended.lifted_at = now
    await suspended.save()
    await measure("CANCEL_ACCOUNT")
    assert await reasons(platform.id, performer.id) == [Reason.FUNCTION_LIMITED, Reason.ACCOUNT_CANCELLED]


@pytest.mark.usefixtures("uncached_eligibility")
async def test_a_joint_blacklist_entry_bars_existing_performers_everywhere(db: TortoiseContext) -> None:
    one, two = await make_platform(), await make_platform()
    number = resident_id(years_ago(28))
    on_one = await make_performer(one.id, number=number)
    on_two = await make_performer(two.id, number=number)
    entry = await BlacklistEntry.create(id=new_id("ble"), platform_id=one.id, scope="PLATFORM", reason="fraud")
    stored = performers._stored_document(on_one)
    for kind, value in index_values(SubjectKeys(documents=[person_key(stored)])):
        await BlacklistKey.create(entry_id=entry.id, kind=kind.value, value=value)
    assert await reasons(one.id, on_one.id) == [Reason.BLACKLISTED]
    assert await reasons(two.id, on_two.id) == []  # a PLATFORM entry stays on its platform
    entry.scope = "JOINT"
    await entry.save()
    assert await reasons(two.id, on_two.id) == [Reason.BLACKLISTED]
    entry.until = datetime.now(UTC) - timedelta(seconds=1)
    await entry.save()
    assert await reasons(two.id, on_two.id) == [] and await reasons(one.id, on_one.id) == []
