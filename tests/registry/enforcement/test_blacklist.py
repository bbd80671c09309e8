"""Blacklist entries and screening: every key type, both scopes, normalization, removal and expiry."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from registry import clock, reviews
from registry.enforcement import services as enforcement
from registry.enforcement.models import BlacklistKey
from registry.enforcement.screening import Decision, MatchKey, Scope, blacklist_standing, canonical_name
from registry.enforcement.services import KeysInput
from registry.organizations import CompanyInput
from registry.performers import organizations
from registry.performers import services as performers
from registry.performers.eligibility import Reason, live_eligibility
from registry.problems import DomainError, ProblemCode
from registry.uploads import Upload
from registry.validators.documents import DocumentType
from tests.conftest import make_platform
from tests.factories import credit_code, document, image_bytes, make_performer, resident_id, years_ago
from tests.registry.enforcement.helpers import (
    actor,
    add_entry,
    codes,
    doc_key,
    legacy_pair,
    make_avatar,
    register,
)

pytestmark = pytest.mark.usefixtures("db")


async def screen(platform_id: str, **keys: object) -> enforcement.ScreenAnswer:
    return await enforcement.screen(actor(platform_id), KeysInput(**keys))  # type: ignore[arg-type]


def fields(exc: pytest.ExceptionInfo[DomainError]) -> set[tuple[ProblemCode, tuple[str, ...] | None]]:
    return {(p.code, p.field) for p in exc.value.problems}


# ------------------------------------------------------------------------------------ document keys


async def test_a_document_entry_blocks_registration_and_holds_only_blind_indexes() -> None:
    platform = await make_platform()
    number = resident_id(years_ago(31))
    entry = await add_entry(platform.id, document=doc_key(number))
    assert entry.id.startswith("ble_") and entry.scope == "PLATFORM"
    for key in await BlacklistKey.filter(entry_id=entry.id):
        assert number not in key.value and key.value.startswith("i1:") and len(key.value) == 67
    outcome = await register(platform.id, number)
    assert outcome.performer is None and codes(outcome) == [ProblemCode.BLACKLISTED]
    assert (await register(platform.id)).performer is not None  # another person


async def test_a_legacy_15_digit_entry_matches_the_18_digit_card_and_back() -> None:
    platform = await make_platform()
    legacy, modern = legacy_pair(date(1972, 5, 17))
    await add_entry(platform.id, document=doc_key(legacy))
    assert codes(await register(platform.id, modern)) == [ProblemCode.BLACKLISTED]
    other_legacy, other_modern = legacy_pair(date(1969, 11, 2))
    await add_entry(platform.id, document=doc_key(other_modern))
    answer = await screen(platform.id, document=doc_key(f" {other_legacy[:6]}-{other_legacy[6:]} "))
    assert answer.decision is Decision.BLOCK and [m.key for m in answer.matches] == [MatchKey.DOCUMENT]


async def test_documents_are_matched_per_type() -> None:
    platform = await make_platform()
    await add_entry(
        platform.id,
        document=enforcement.DocumentKey(type=DocumentType.PASSPORT, number="E12345678", nationality="CHN"),
    )
    same = enforcement.DocumentKey(type=DocumentType.PASSPORT, number="e1234 5678", nationality="chn")
    assert (await screen(platform.id, document=same)).decision is Decision.BLOCK
    other_state = enforcement.DocumentKey(type=DocumentType.PASSPORT, number="E12345678", nationality="USA")
    assert (await screen(platform.id, document=other_state)).decision is Decision.CLEAR


async def test_malformed_keys_are_problems_never_a_clear() -> None:
    platform = await make_platform()
    answer = await screen(
        platform.id,
        document=doc_key("110105199001011234"),
        credit_code="91440300MA5XXXXXX0",
        phone="12345",
        device_id="\u202edev",
    )
    assert answer.decision is None and answer.matches == []
    assert {(p.code, p.field) for p in answer.problems} == {
        (ProblemCode.INVALID_DOCUMENT, ("input", "document", "number")),
        (ProblemCode.INVALID_CREDIT_CODE, ("input", "creditCode")),
        (ProblemCode.INVALID_INPUT, ("input", "phone")),
        (ProblemCode.INVALID_INPUT, ("input", "deviceId")),
    }
    nothing = await screen(platform.id)
    assert nothing.decision is None and [p.code for p in nothing.problems] == [ProblemCode.INVALID_INPUT]
    assert (await screen(platform.id, phone="13800138000")).decision is Decision.CLEAR


async def test_an_entry_needs_a_key_and_a_future_expiry() -> None:
    platform = await make_platform()
    with pytest.raises(DomainError) as refused:
        await add_entry(platform.id, until=clock.now() - timedelta(minutes=1))
    assert fields(refused) == {(ProblemCode.INVALID_INPUT, ("input",)), (ProblemCode.INVALID_INPUT, ("input", "until"))}
    with pytest.raises(DomainError) as bad_avatar:
        await add_entry(platform.id, avatar_id="ava_missing")
    assert fields(bad_avatar) == {(ProblemCode.NOT_FOUND, ("input", "avatarId"))}


# ----------------------------------------------------------------------------- credit codes, phones


async def test_a_credit_code_entry_blocks_organizations() -> None:
    platform = await make_platform()
    code = credit_code()
    await add_entry(platform.id, credit_code=code.lower())  # normalized like any credit code
    data = CompanyInput(
        name="广州示例电商有限公司",
        credit_code=code,
        address="广州市天河区示例路3号",
        contact_phone="020-12345678",
        representative=document(years_ago(50), name="孙八"),
        external_ref=None,
    )
    outcome = await organizations.register_organization(actor(platform.id), data)
    assert outcome.organization is None and [p.code for p in outcome.problems] == [ProblemCode.BLACKLISTED]


@pytest.mark.parametrize(
    ("listed", "presented"),
    [
        ("13800138000", "+86 138 0013 8000"),
        ("+8613800138000", "138-0013-8000"),
        ("１３８００１３８０００", "+8613800138000"),
    ],
)
async def test_phones_compare_in_e164(listed: str, presented: str) -> None:
    platform = await make_platform()
    await add_entry(platform.id, phone=listed)
    answer = await screen(platform.id, phone=presented)
    assert answer.decision is Decision.REVIEW and [m.key for m in answer.matches] == [MatchKey.PHONE]
    performer = (await register(platform.id, phone=presented)).performer
    assert performer is not None and performer.verification_status == "REVIEW"
    assert [f["key"] for f in performer.findings] == ["PHONE"]


async def test_a_device_entry_sends_to_review() -> None:
    platform = await make_platform()
    await add_entry(platform.id, device_id="  ios-7F3A  ")
    performer = (await register(platform.id, device_id="ios-7F3A")).performer
    assert performer is not None and performer.verification_status == "REVIEW"
    assert (await screen(platform.id, device_id="ios-7f3a")).decision is Decision.CLEAR  # ids are exact


# ------------------------------------------------------------------------------------------- names


def test_names_compare_across_scripts_width_and_spacing() -> None:
    for variant in ("張三", "ZHANG San", "zhang·san", "Ｚｈａｎｇ　Ｓａｎ", " zhangsan "):
        assert canonical_name(variant) == canonical_name("张三")
    assert canonical_name("劉德華") == canonical_name("刘德华") == canonical_name("Liu Dehua")
    # Surnames read differently from the character's common reading, and traditional forms pypinyin reads apart.
    assert canonical_name("单田芳") == canonical_name("Shan Tianfang") == canonical_name("單田芳")
    assert canonical_name("尉迟恭") == canonical_name("尉遲恭") == canonical_name("Yuchi Gong")
    assert canonical_name("张三") != canonical_name("张山峰")


@pytest.mark.parametrize("presented", ["张三", "張三", "Zhang San"])
async def test_name_and_birth_date_send_to_review(presented: str) -> None:
    platform = await make_platform()
    birth = years_ago(35, days=12)
    await add_entry(platform.id, document=doc_key(resident_id(birth), full_name="張 三"))  # birth from the number
    outcome = await register(platform.id, resident_id(birth), name=presented)  # another number
    assert outcome.performer is not None and outcome.performer.verification_status == "REVIEW"
    assert [f["key"] for f in outcome.performer.findings] == ["NAME_AND_BIRTHDATE"]
    other_day = await register(platform.id, resident_id(birth + timedelta(days=1)), name=presented)
    assert other_day.performer is not None and other_day.performer.verification_status == "VERIFIED"


async def test_a_name_needs_a_birth_date_that_agrees_with_the_number() -> None:
    platform = await make_platform()
    birth = years_ago(40)
    mismatch = await screen(
        platform.id, document=doc_key(resident_id(birth), full_name="张三", birth_date=birth - timedelta(days=1))
    )
    assert [(p.code, p.field) for p in mismatch.problems] == [
        (ProblemCode.INVALID_INPUT, ("input", "document", "birthDate"))
    ]
    permit = enforcement.DocumentKey(type=DocumentType.HKMO_TRAVEL_PERMIT, number="H12345678", full_name="陳大文")
    no_birth = await screen(platform.id, document=permit)
    assert [(p.code, p.field) for p in no_birth.problems] == [
        (ProblemCode.INVALID_INPUT, ("input", "document", "birthDate"))
    ]


# ------------------------------------------------------------------------------------------ avatars


async def test_an_image_entry_flags_near_duplicates() -> None:
    platform = await make_platform()
    image = image_bytes(21)
    await add_entry(platform.id, avatar_image=Upload(image, "image/png"))
    same_as_jpeg = image_bytes(21, fmt="JPEG")
    answer = await screen(platform.id, avatar_image=Upload(same_as_jpeg, "image/jpeg"))
    assert answer.decision is Decision.REVIEW and answer.matches[0].key is MatchKey.AVATAR_IMAGE
    assert 0.84 <= answer.matches[0].score <= 1.0
    assert (await screen(platform.id, avatar_image=Upload(image_bytes(99), None))).decision is Decision.CLEAR
    broken = await screen(platform.id, avatar_image=Upload(b"GIF89a...", "image/gif"))
    assert [(p.code, p.field) for p in broken.problems] == [(ProblemCode.INVALID_IMAGE, ("input", "avatarImage"))]


async def test_an_entry_from_an_avatar_of_the_platform() -> None:
    platform, other = await make_platform(), await make_platform()
    operator = await make_performer(platform.id, role="ROOM_OPERATOR")
    avatar = await make_avatar(platform.id, operator, seed=5)
    entry = await add_entry(platform.id, avatar_id=avatar.id)
    assert (await enforcement.entry_kinds([entry.id]))[entry.id] == [MatchKey.AVATAR_IMAGE]
    answer = await screen(platform.id, avatar_image=Upload(image_bytes(5), "image/png"))
    assert answer.matches[0].entry_id == entry.id and answer.matches[0].score == 1.0
    with pytest.raises(DomainError) as foreign:
        await add_entry(other.id, avatar_id=avatar.id)
    assert fields(foreign) == {(ProblemCode.NOT_FOUND, ("input", "avatarId"))}


# ------------------------------------------------------------------------------------------- scopes


async def test_a_platform_entry_stays_on_its_platform_a_joint_one_reaches_all() -> None:
    listing, other = await make_platform(), await make_platform()
    number, joint_number = resident_id(years_ago(29)), resident_id(years_ago(45))
    own = await add_entry(listing.id, document=doc_key(number))
    joint = await add_entry(listing.id, Scope.JOINT, document=doc_key(joint_number))
    assert (await screen(other.id, document=doc_key(number))).decision is Decision.CLEAR
    assert (await register(other.id, number)).performer is not None
    seen_by_other = await screen(other.id, document=doc_key(joint_number))
    assert seen_by_other.decision is Decision.BLOCK
    assert [(m.scope, m.entry_id) for m in seen_by_other.matches] == [(Scope.JOINT, None)]
    seen_by_lister = await screen(listing.id, document=doc_key(joint_number))
    assert [(m.scope, m.entry_id) for m in seen_by_lister.matches] == [(Scope.JOINT, joint.id)]
    assert await enforcement.get_entry(actor(other.id), joint.id) is None
    assert await enforcement.get_entry(actor(listing.id), own.id) is not None
    assert codes(await register(other.id, joint_number)) == [ProblemCode.BLACKLISTED]


async def test_only_the_listing_platform_removes_an_entry() -> None:
    listing, other = await make_platform(), await make_platform()
    number = resident_id(years_ago(52))
    entry = await add_entry(listing.id, Scope.JOINT, document=doc_key(number))
    with pytest.raises(DomainError) as foreign:
        await enforcement.remove_blacklist_entry(actor(other.id), entry.id, "not ours")
    assert fields(foreign) == {(ProblemCode.NOT_FOUND, ("input", "entryId"))}
    removed = await enforcement.remove_blacklist_entry(actor(listing.id), entry.id, "sentence served")
    assert removed.removed_at is not None and removed.removed_reason == "sentence served"
    assert (await register(other.id, number)).performer is not None
    with pytest.raises(DomainError) as twice:
        await enforcement.remove_blacklist_entry(actor(listing.id), entry.id, "again")
    assert [p.code for p in twice.value.problems] == [ProblemCode.INVALID_TRANSITION]


async def test_an_entry_expires_by_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    platform = await make_platform()
    number = resident_id(years_ago(37))
    until = clock.now() + timedelta(days=30)
    await add_entry(platform.id, document=doc_key(number), until=until)
    assert (await screen(platform.id, document=doc_key(number))).decision is Decision.BLOCK
    later = until + timedelta(seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert (await screen(platform.id, document=doc_key(number))).decision is Decision.CLEAR


# --------------------------------------------------------------------------------- existing accounts


async def test_a_new_joint_entry_bars_existing_accounts_at_once_and_removal_restores_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    listing, other = await make_platform(), await make_platform()
    number = resident_id(years_ago(26))
    performer = await make_performer(other.id, number=number)

    async def reasons() -> list[Reason]:
        result = await live_eligibility(actor(other.id), performer.id)
        assert result is not None
        return result.reasons

    assert await reasons() == []
    platform_only = await add_entry(listing.id, document=doc_key(number))
    assert await reasons() == []  # another platform's PLATFORM entry does not reach it
    until = clock.now() + timedelta(days=10)
    joint = await add_entry(listing.id, Scope.JOINT, document=doc_key(number), until=until)
    assert await reasons() == [Reason.BLACKLISTED]
    await enforcement.remove_blacklist_entry(actor(listing.id), joint.id, "lifted by the regulator")
    assert await reasons() == []
    await add_entry(listing.id, Scope.JOINT, document=doc_key(number), until=until)
    assert await reasons() == [Reason.BLACKLISTED]
    # A cache of the answer (the eligibility cache) learns when time alone lifts the bar.
    standing = await blacklist_standing(other.id, [performer.id])
    assert standing.listed == {performer.id} and standing.changes_at == until
    later = until + timedelta(seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert await reasons() == []
    assert platform_only.platform_id == listing.id


async def test_weak_matches_do_not_bar_existing_accounts() -> None:
    platform = await make_platform()
    performer = await make_performer(platform.id)
    await add_entry(platform.id, phone="13800138000")
    result = await live_eligibility(actor(platform.id), performer.id)
    assert result is not None and result.allowed


async def test_an_approved_fuzzy_match_is_not_raised_again() -> None:
    platform = await make_platform()
    birth = years_ago(30, days=40)
    await add_entry(platform.id, document=doc_key(resident_id(birth), full_name="王五"))
    approved_number, rejected_number = resident_id(birth), resident_id(birth)
    approved = (await register(platform.id, approved_number, name="王五")).performer
    rejected = (await register(platform.id, rejected_number, name="王五", role="ROOM_OPERATOR")).performer
    assert approved is not None and rejected is not None
    assert approved.verification_status == rejected.verification_status == "REVIEW"
    await reviews.decide_review(actor(platform.id), approved.id, reviews.ReviewDecision.APPROVE, "another person")
    await reviews.decide_review(actor(platform.id), rejected.id, reviews.ReviewDecision.REJECT, "unclear")
    for performer, number, status in ((approved, approved_number, "VERIFIED"), (rejected, rejected_number, "REVIEW")):
        presented = document(name="王五", number=number)
        again = await performers.reverify_performer(actor(platform.id), performer.id, presented)
        assert again.performer is not None and again.performer.verification_status == status
