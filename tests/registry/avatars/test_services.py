"""Avatar registration rules, drivers, transfer, retirement, likeness consent and audit, on the registry."""

from __future__ import annotations

import json
from datetime import timedelta
from io import BytesIO

import pytest
from PIL import ExifTags, Image
from tortoise.context import TortoiseContext

from registry import clock, config
from registry.audit.models import AuditEvent
from registry.avatars import services as avatars
from registry.avatars.images import normalize_image
from registry.avatars.models import Avatar, AvatarDriver, AvatarTransfer, Likeness
from registry.avatars.phash import hamming
from registry.crypto import field_aad
from registry.enforcement.models import BlacklistEntry, BlacklistKey, Enforcement
from registry.enforcement.screening import SubjectKeys, document_value, index_values
from registry.enforcement.status import in_force
from registry.ids import new_id
from registry.onboarding.models import OnboardingSession
from registry.performers.eligibility import Reason, live_eligibility
from registry.performers.models import OperatorOrganization, Performer
from registry.problems import DomainError
from registry.uploads import Upload
from tests.conftest import make_platform
from tests.factories import (
    credit_code,
    document,
    make_organization,
    make_performer,
    platform_actor,
    resident_id,
    years_ago,
)
from tests.registry.avatars.helpers import (
    blacklist_image,
    client_actor,
    codes,
    encode,
    likeness,
    make_avatar,
    near_copies,
    photo,
    register,
    registration,
    room_operator,
    unrelated_images,
    upload,
)

# ----------------------------------------------------------------------------------------- helpers


async def suspend(platform_id: str, subject_id: str, action: str = "SUSPEND_RELEASE") -> Enforcement:
    return await Enforcement.create(
        id=new_id("enf"),
        platform_id=platform_id,
        subject_id=subject_id,
        action=action,
        reason="test",
        public_reason="test",
        since=clock.now() - timedelta(minutes=1),
    )


async def blacklist_document(platform_id: str, number: str) -> None:
    entry = await BlacklistEntry.create(id=new_id("ble"), platform_id=platform_id, scope="PLATFORM", reason="test")
    keys = SubjectKeys(documents=[document_value("RESIDENT_ID_CARD", number)])
    await BlacklistKey.bulk_create(
        [BlacklistKey(entry_id=entry.id, kind=kind.value, value=value) for kind, value in index_values(keys)]
    )


async def actions(subject_id: str) -> list[str]:
    return [e.action for e in await AuditEvent.filter(subject_id=subject_id).order_by("seq")]


# ------------------------------------------------------------------------------------ registration


async def test_register_an_original_avatar(db: TortoiseContext) -> None:
    platform = await make_platform()
    operator = await room_operator(platform.id)
    outcome = await register(platform.id, operator.id, encode(photo(1, 300)), external_ref="av-1", label="AI主播")

    avatar = outcome.avatar
    assert outcome.problems == [] and avatar is not None
    assert avatar.id.startswith("ava_") and avatar.platform_id == platform.id
    assert (avatar.status, avatar.kind, avatar.label, avatar.name) == ("ACTIVE", "ORIGINAL", "AI主播", "小星")
    assert (avatar.width, avatar.height, avatar.content_type) == (300, 300, "image/jpeg")
    assert avatar.identity == f"person:{operator.person_id}" and avatar.session_id is None
    stored = await config.current().blobs.get(avatar.image_sha256)
    assert stored is not None and Image.open(BytesIO(stored)).size == (300, 300)
    assert await avatars.read_image(avatar) == stored
    assert len(avatars.perceptual_hash(avatar)) == 16
    assert await actions(avatar.id) == ["avatar.registered"]


async def test_every_input_problem_is_reported_at_once(db: TortoiseContext) -> None:
    platform = await make_platform()
    outcome = await avatars.register_avatar(
        platform_actor(platform.id),
        registration("per_missing", b"not an image", name=" ", label="x" * 21, external_ref="has space", kind="ROBOT"),
    )
    assert outcome.avatar is None
    assert set(codes(outcome)) == {
        ("INVALID_INPUT", ("input", "name")),
        ("LIMIT_EXCEEDED", ("input", "label")),
        ("INVALID_INPUT", ("input", "externalRef")),
        ("INVALID_INPUT", ("input", "kind")),
        ("NOT_FOUND", ("input", "operatorId")),
        ("INVALID_IMAGE", ("input", "image")),
    }
    assert await Avatar.all().count() == 0


@pytest.mark.parametrize(("label", "accepted"), [("象", True), ("虚" * 20, True), ("虚" * 21, False), ("", False)])
async def test_label_is_one_to_twenty_characters(db: TortoiseContext, label: str, accepted: bool) -> None:
    platform = await make_platform()
    operator = await room_operator(platform.id)
    outcome = await register(platform.id, operator.id, label=label)
    assert (outcome.avatar is not None) is accepted, outcome.problems
    if not accepted:
        assert [p.field for p in outcome.problems] == [("input", "label")]


async def test_retry_with_the_same_external_ref_returns_the_avatar(db: TortoiseContext) -> None:
    platform = await make_platform()
    operator = await room_operator(platform.id)
    first = await make_avatar(platform.id, operator.id, external_ref="av-1")
    again = await register(platform.id, operator.id, external_ref="av-1")
    assert again.avatar is not None and again.avatar.id == first.id and again.problems == []
    other_image = await register(platform.id, operator.id, encode(photo(2)), external_ref="av-1")
    assert codes(other_image) == [("DUPLICATE_EXTERNAL_REF", ("input", "externalRef"))]
    assert await Avatar.all().count() == 1


# --------------------------------------------------------------------------------------- operators


async def test_the_operator_must_be_a_room_operator_or_an_organization(db: TortoiseContext) -> None:
    platform, other = await make_platform(), await make_platform()
    marketer = await make_performer(platform.id, role="MARKETER")
    refused = await register(platform.id, marketer.id)
    assert codes(refused) == [("OPERATOR_NOT_ELIGIBLE", ("input", "operatorId"))]

    foreign = await room_operator(other.id)
    assert codes(await register(platform.id, foreign.id)) == [("NOT_FOUND", ("input", "operatorId"))]
    foreign_org = await make_organization(other.id)
    assert codes(await register(platform.id, foreign_org.id)) == [("NOT_FOUND", ("input", "operatorId"))]

    organization = await make_organization(platform.id)
    avatar = await make_avatar(platform.id, organization.id)
    assert avatar.operator_id == organization.id and avatar.identity.startswith("credit:")


@pytest.mark.parametrize("trouble", ["suspended", "cancelled", "function-limited", "overdue", "review", "blacklisted"])
async def test_an_operator_not_in_good_standing_is_refused(db: TortoiseContext, trouble: str) -> None:
    platform = await make_platform()
    number = resident_id(years_ago(33))
    operator = await room_operator(platform.id, number=number)
    if trouble in {"suspended", "cancelled", "function-limited"}:
        action = {"suspended": "SUSPEND_RELEASE", "cancelled": "CANCEL_ACCOUNT"}.get(trouble, "LIMIT_FUNCTIONS")
        await suspend(platform.id, operator.id, action)
    elif trouble == "overdue":
        await Performer.filter(id=operator.id).update(reverify_by=clock.now() - timedelta(days=1))
    elif trouble == "review":
        await Performer.filter(id=operator.id).update(verification_status="REVIEW")
    else:
        await blacklist_document(platform.id, number)
    assert codes(await register(platform.id, operator.id)) == [("OPERATOR_NOT_ELIGIBLE", ("input", "operatorId"))]


async def test_warnings_and_traffic_limits_do_not_block_an_operator(db: TortoiseContext) -> None:
    platform = await make_platform()
    organization = await make_organization(platform.id)
    await suspend(platform.id, organization.id, "WARN")
    await suspend(platform.id, organization.id, "LIMIT_TRAFFIC")
    assert (await register(platform.id, organization.id)).avatar is not None
    await OperatorOrganization.filter(id=organization.id).update(reverify_by=clock.now() - timedelta(seconds=1))
    refused = await register(platform.id, organization.id, encode(photo(2)))
    assert codes(refused) == [("OPERATOR_NOT_ELIGIBLE", ("input", "operatorId"))]


# ---------------------------------------------------------------------------------------- likeness


async def test_real_person_likeness_needs_a_consent(db: TortoiseContext) -> None:
    platform = await make_platform()
    operator = await room_operator(platform.id)
    missing = await register(platform.id, operator.id, kind="REAL_PERSON_LIKENESS")
    assert codes(missing) == [("LIKENESS_CONSENT_REQUIRED", ("input", "likeness"))]
    stray = await register(platform.id, operator.id, likeness=likeness())
    assert codes(stray) == [("INVALID_INPUT", ("input", "likeness"))]


async def test_likeness_consent_is_stored_encrypted_and_masked(db: TortoiseContext) -> None:
    platform = await make_platform()
    operator = await room_operator(platform.id)
    holder = document(years_ago(40), name="周八")
    evidence = Upload(encode(photo(7, 200), "JPEG"), "image/jpeg")
    consent = likeness(
        holder, voice=True, valid_until=clock.today_in_shanghai() + timedelta(days=365), evidence=evidence
    )
    avatar = await make_avatar(platform.id, operator.id, kind="REAL_PERSON_LIKENESS", likeness=consent)

    record = await Likeness.get(avatar_id=avatar.id)
    assert (record.portrait, record.voice, record.revoked_at) == (True, True, None)
    assert record.rights_holder_name_masked != "周八" and "周" in record.rights_holder_name_masked
    assert holder.number not in record.rights_holder_number_enc
    vault = config.current().vault
    aad = field_aad("likeness", "rights_holder_number_enc", record.id)
    assert vault.decrypt(record.rights_holder_number_enc, aad=aad) == holder.number
    assert record.evidence_sha256 is not None and await config.current().blobs.exists(record.evidence_sha256)
    [event] = await AuditEvent.filter(subject_id=avatar.id)
    assert holder.number not in event.canonical and "周八" not in event.canonical
    assert json.loads(event.canonical)["data"]["likeness"] == record.id


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("minor", {("RIGHTS_HOLDER_NOT_ELIGIBLE", ("input", "likeness", "rightsHolder"))}),
        (
            "bad-document",
            {
                ("INVALID_DOCUMENT", ("input", "likeness", "rightsHolder", "number")),
                ("RIGHTS_HOLDER_NOT_ELIGIBLE", ("input", "likeness", "rightsHolder")),
            },
        ),
        ("no-portrait-no-voice", {("LIKENESS_CONSENT_REQUIRED", ("input", "likeness"))}),
        ("expired", {("LIKENESS_CONSENT_REQUIRED", ("input", "likeness", "validUntil"))}),
        ("future", {("INVALID_INPUT", ("input", "likeness", "signedAt"))}),
        ("blacklisted", {("BLACKLISTED", ("input", "likeness", "rightsHolder"))}),
    ],
)
async def test_likeness_problems(db: TortoiseContext, case: str, expected: set[tuple[str, tuple[str, ...]]]) -> None:
    platform = await make_platform()
    operator = await room_operator(platform.id)
    holder = document(years_ago(17) if case == "minor" else years_ago(30), name="周八")
    changes: dict[str, object] = {}
    if case == "bad-document":
        holder = document(name="周八", number=holder.number[:-1] + ("0" if holder.number[-1] != "0" else "1"))
    elif case == "no-portrait-no-voice":
        changes = {"portrait": False, "voice": False}
    elif case == "expired":
        changes = {"valid_until": clock.today_in_shanghai() - timedelta(days=1)}
    elif case == "future":
        changes = {"signed_at": clock.now() + timedelta(hours=1)}
    elif case == "blacklisted":
        await blacklist_document(platform.id, holder.number)
    outcome = await register(
        platform.id, operator.id, kind="REAL_PERSON_LIKENESS", likeness=likeness(holder, **changes)
    )
    assert outcome.avatar is None and set(codes(outcome)) == expected


async def test_revoking_the_likeness_consent_suspends_the_avatar(db: TortoiseContext) -> None:
    platform = await make_platform()
    actor = platform_actor(platform.id)
    operator = await room_operator(platform.id)
    avatar = await make_avatar(platform.id, operator.id, kind="REAL_PERSON_LIKENESS", likeness=likeness())
    outcome = await avatars.revoke_likeness_consent(actor, avatar.id, "the rights holder withdrew")
    assert outcome.avatar is not None and outcome.avatar.status == "SUSPENDED"
    record = await Likeness.get(avatar_id=avatar.id)
    assert record.revoked_at is not None and record.revoke_reason == "the rights holder withdrew"
    with pytest.raises(DomainError) as again:
        await avatars.revoke_likeness_consent(actor, avatar.id, "again")
    assert again.value.problems[0].code.value == "INVALID_TRANSITION"

    original = await make_avatar(platform.id, operator.id, encode(photo(2)))
    with pytest.raises(DomainError) as none:
        await avatars.revoke_likeness_consent(actor, original.id, "no consent to revoke")
    assert none.value.problems[0].code.value == "INVALID_TRANSITION"
    assert await actions(avatar.id) == ["avatar.registered", "avatar.likeness_revoked"]


async def test_status_follows_measures_and_lapsed_consent(db: TortoiseContext) -> None:
    platform = await make_platform()
    operator = await room_operator(platform.id)
    today = clock.today_in_shanghai()
    consent = likeness(valid_until=today)
    avatar = await make_avatar(platform.id, operator.id, kind="REAL_PERSON_LIKENESS", likeness=consent)
    record = await Likeness.get(avatar_id=avatar.id)
    assert avatars.status_of(avatar, [], record, today) is avatars.AvatarStatus.ACTIVE
    assert avatars.status_of(avatar, [], record, today + timedelta(days=1)) is avatars.AvatarStatus.SUSPENDED
    await suspend(platform.id, avatar.id)
    measures = (await in_force([avatar.id]))[avatar.id]
    assert avatars.status_of(avatar, measures, record, today) is avatars.AvatarStatus.SUSPENDED


# ----------------------------------------------------------------------------------------- conflict


async def test_near_copies_of_another_identitys_avatar_conflict(db: TortoiseContext) -> None:
    platform, other = await make_platform(), await make_platform()
    original = photo(42, 256)
    owner = await room_operator(platform.id)
    await make_avatar(platform.id, owner.id, encode(original))
    copier = await room_operator(other.id)
    for what, data in near_copies(original).items():
        outcome = await register(other.id, copier.id, data)
        assert codes(outcome) == [("AVATAR_CONFLICT", ("input", "image"))], what
        assert "ava_" not in outcome.problems[0].message  # the other platform's avatar is never shown
    assert await Avatar.filter(platform_id=other.id).count() == 0


async def test_the_same_identity_on_two_platforms_is_no_conflict(db: TortoiseContext) -> None:
    platform, other = await make_platform(), await make_platform()
    number, code = resident_id(years_ago(31)), credit_code()
    image, company_image = photo(43), photo(44)
    await make_avatar(platform.id, (await room_operator(platform.id, number=number)).id, encode(image))
    await make_avatar(platform.id, (await make_organization(platform.id, code=code)).id, encode(company_image))

    same_person = await room_operator(other.id, number=number)
    same_company = await make_organization(other.id, code=code)
    assert (await register(other.id, same_person.id, encode(image, "JPEG"))).avatar is not None
    assert (await register(other.id, same_company.id, encode(company_image, "JPEG"))).avatar is not None
    # The person and the company are different identities from each other.
    crossed = await register(other.id, same_company.id, encode(image, "WEBP"))
    assert codes(crossed) == [("AVATAR_CONFLICT", ("input", "image"))]


async def test_only_active_avatars_block_a_near_copy(db: TortoiseContext) -> None:
    platform = await make_platform()
    actor = platform_actor(platform.id)
    first, second = await room_operator(platform.id), await room_operator(platform.id)
    retired = await make_avatar(platform.id, first.id, encode(photo(45)))
    assert (await avatars.retire_avatar(actor, retired.id, "end of campaign")).avatar is not None
    assert (await register(platform.id, second.id, encode(photo(45), "JPEG"))).avatar is not None

    suspended = await make_avatar(
        platform.id, first.id, encode(photo(46)), kind="REAL_PERSON_LIKENESS", likeness=likeness()
    )
    await avatars.revoke_likeness_consent(actor, suspended.id, "withdrawn")
    assert (await register(platform.id, second.id, encode(photo(46), "JPEG"))).avatar is not None


async def test_two_hundred_unrelated_images_never_conflict(db: TortoiseContext) -> None:
    images = unrelated_images(200)
    hashes = [h for _, h in images]
    closest = min(hamming(a, b) for i, a in enumerate(hashes) for b in hashes[i + 1 :])
    assert closest > avatars.CONFLICT_DISTANCE
    platform, other = await make_platform(), await make_platform()
    operators = [await room_operator(platform.id), await room_operator(other.id)]
    for index, (data, _) in enumerate(images):
        operator = operators[index % 2]
        outcome = await register(operator.platform_id, operator.id, data)
        assert outcome.problems == [], index
    assert await Avatar.all().count() == 200


async def test_an_image_like_a_blacklisted_one_is_refused(db: TortoiseContext) -> None:
    platform = await make_platform()
    operator = await room_operator(platform.id)
    banned = photo(47)
    await blacklist_image(platform.id, normalize_image(encode(banned), None).phash)
    outcome = await register(platform.id, operator.id, encode(banned, "JPEG", quality=60))
    assert codes(outcome) == [("BLACKLISTED", ("input", "image"))]


async def test_stored_images_carry_no_metadata(db: TortoiseContext) -> None:
    platform = await make_platform()
    operator = await room_operator(platform.id)
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SecretCam"
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (31.0, 14.0, 5.5),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (121.0, 28.0, 9.0),
    }
    data = encode(photo(48, 300).resize((300, 200)), "JPEG", exif=exif, comment=b"SECRET-COMMENT")
    assert Image.open(BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)

    avatar = await make_avatar(platform.id, operator.id, data)
    stored = await avatars.read_image(avatar)
    assert stored is not None
    out = Image.open(BytesIO(stored))
    assert out.size == (200, 300) == (avatar.width, avatar.height)  # orientation 6 applied
    assert not out.getexif() and "exif" not in out.info and "comment" not in out.info
    assert b"SecretCam" not in stored and b"SECRET" not in stored and b"Exif" not in stored


# ------------------------------------------------------------------------------------------ drivers


async def test_drivers_are_authorized_and_revoked_explicitly(db: TortoiseContext) -> None:
    platform = await make_platform()
    actor = platform_actor(platform.id)
    operator = await room_operator(platform.id)
    avatar = await make_avatar(platform.id, operator.id)
    marketer = await make_performer(platform.id, role="MARKETER")

    before = await live_eligibility(actor, marketer.id, avatar.id)
    assert before is not None and before.reasons == [Reason.AVATAR_DRIVER_NOT_AUTHORIZED]
    outcome = await avatars.authorize_driver(actor, avatar.id, marketer.id)
    assert outcome.problems == [] and outcome.avatar is not None
    assert (await avatars.authorize_driver(actor, avatar.id, marketer.id)).problems == []  # again: no-op
    assert await AvatarDriver.filter(avatar_id=avatar.id).count() == 1
    assert [p.id for p in (await avatars.drivers_of(platform.id, [avatar.id]))[avatar.id]] == [marketer.id]
    allowed = await live_eligibility(actor, marketer.id, avatar.id)
    assert allowed is not None and allowed.allowed

    assert (await avatars.revoke_driver(actor, avatar.id, marketer.id)).problems == []
    with pytest.raises(DomainError) as again:
        await avatars.revoke_driver(actor, avatar.id, marketer.id)
    assert [(p.code.value, p.field) for p in again.value.problems] == [("INVALID_TRANSITION", ("input", "performerId"))]
    assert (await avatars.drivers_of(platform.id, [avatar.id]))[avatar.id] == []
    assert await actions(avatar.id) == ["avatar.registered", "avatar.driver_authorized", "avatar.driver_revoked"]


@pytest.mark.parametrize("trouble", ["room-operator", "minor", "suspended", "unverified", "blacklisted"])
async def test_a_driver_must_be_an_adult_verified_marketer_in_good_standing(db: TortoiseContext, trouble: str) -> None:
    platform = await make_platform()
    operator = await room_operator(platform.id)
    avatar = await make_avatar(platform.id, operator.id)
    number = resident_id(years_ago(17 if trouble == "minor" else 25))
    role = "ROOM_OPERATOR" if trouble == "room-operator" else "MARKETER"
    performer = await make_performer(
        platform.id, role=role, birth=years_ago(17 if trouble == "minor" else 25), number=number
    )
    if trouble == "suspended":
        await suspend(platform.id, performer.id)
    elif trouble == "unverified":
        await Performer.filter(id=performer.id).update(verification_status="REJECTED")
    elif trouble == "blacklisted":
        await blacklist_document(platform.id, number)
    outcome = await avatars.authorize_driver(platform_actor(platform.id), avatar.id, performer.id)
    assert codes(outcome) == [("DRIVER_NOT_ELIGIBLE", ("input", "performerId"))]
    assert await AvatarDriver.all().count() == 0


async def test_drivers_and_avatars_of_another_platform_are_not_found(db: TortoiseContext) -> None:
    platform, other = await make_platform(), await make_platform()
    avatar = await make_avatar(platform.id, (await room_operator(platform.id)).id)
    foreign_marketer = await make_performer(other.id, role="MARKETER")
    with pytest.raises(DomainError) as caught:
        await avatars.authorize_driver(platform_actor(platform.id), avatar.id, foreign_marketer.id)
    assert [(p.code.value, p.field) for p in caught.value.problems] == [("NOT_FOUND", ("input", "performerId"))]
    with pytest.raises(DomainError) as caught:
        await avatars.authorize_driver(platform_actor(other.id), avatar.id, foreign_marketer.id)
    assert [(p.code.value, p.field) for p in caught.value.problems] == [("NOT_FOUND", ("input", "avatarId"))]
    for change in (avatars.retire_avatar, avatars.revoke_likeness_consent):
        refused = await change(platform_actor(other.id), avatar.id, "not mine")
        assert codes(refused) == [("NOT_FOUND", ("input", "avatarId"))]
    assert await avatars.get_avatar(platform_actor(other.id), avatar.id) is None


# ------------------------------------------------------------------------------- transfer, retire


async def test_transfer_to_an_operator_in_good_standing(db: TortoiseContext) -> None:
    platform = await make_platform()
    actor = platform_actor(platform.id)
    person = await room_operator(platform.id)
    avatar = await make_avatar(platform.id, person.id)
    organization = await make_organization(platform.id)

    moved = await avatars.transfer_avatar(actor, avatar.id, organization.id, "sold to the agency")
    assert moved.problems == [] and moved.avatar is not None
    assert moved.avatar.operator_id == organization.id and moved.avatar.identity.startswith("credit:")
    [history] = await AvatarTransfer.filter(avatar_id=avatar.id)
    assert (history.from_operator_id, history.to_operator_id, history.reason) == (
        person.id,
        organization.id,
        "sold to the agency",
    )
    assert (await avatars.transfer_avatar(actor, avatar.id, organization.id, "retry")).problems == []
    assert await AvatarTransfer.filter(avatar_id=avatar.id).count() == 1

    await suspend(platform.id, person.id)
    back = await avatars.transfer_avatar(actor, avatar.id, person.id, "back")
    assert codes(back) == [("OPERATOR_NOT_ELIGIBLE", ("input", "operatorId"))]
    marketer = await make_performer(platform.id, role="MARKETER")
    assert codes(await avatars.transfer_avatar(actor, avatar.id, marketer.id, "x")) == [
        ("OPERATOR_NOT_ELIGIBLE", ("input", "operatorId"))
    ]
    assert codes(await avatars.transfer_avatar(actor, "ava_missing", organization.id, " ")) == [
        ("NOT_FOUND", ("input", "avatarId")),
        ("INVALID_INPUT", ("input", "reason")),
    ]
    assert await actions(avatar.id) == ["avatar.registered", "avatar.transferred"]


async def test_a_transfer_may_not_split_near_copies_between_identities(db: TortoiseContext) -> None:
    platform = await make_platform()
    actor = platform_actor(platform.id)
    owner = await room_operator(platform.id)
    first = await make_avatar(platform.id, owner.id, encode(photo(49)))
    await make_avatar(platform.id, owner.id, encode(photo(49), "JPEG"), name="小星二号")  # same identity: fine
    stranger = await room_operator(platform.id)
    refused = await avatars.transfer_avatar(actor, first.id, stranger.id, "give away one of the pair")
    assert codes(refused) == [("AVATAR_CONFLICT", ("input", "operatorId"))]
    assert (await Avatar.get(id=first.id)).operator_id == owner.id


async def test_retiring_is_final(db: TortoiseContext) -> None:
    platform = await make_platform()
    actor = platform_actor(platform.id)
    operator = await room_operator(platform.id)
    avatar = await make_avatar(platform.id, operator.id)
    marketer = await make_performer(platform.id, role="MARKETER")
    await avatars.authorize_driver(actor, avatar.id, marketer.id)

    retired = await avatars.retire_avatar(actor, avatar.id, "campaign over")
    assert retired.avatar is not None and retired.avatar.status == "RETIRED" and retired.avatar.retired_at
    assert await AvatarDriver.filter(avatar_id=avatar.id, revoked_at__isnull=True).count() == 0
    eligibility = await live_eligibility(actor, marketer.id, avatar.id)
    assert eligibility is not None and Reason.AVATAR_NOT_ACTIVE in eligibility.reasons
    for attempt in (
        avatars.retire_avatar(actor, avatar.id, "again"),
        avatars.authorize_driver(actor, avatar.id, marketer.id),
        avatars.transfer_avatar(actor, avatar.id, operator.id, "again"),
    ):
        with pytest.raises(DomainError) as caught:
            await attempt
        assert caught.value.problems[0].code.value == "INVALID_TRANSITION"
    audit_data = json.loads((await AuditEvent.filter(action="avatar.retired").get()).canonical)["data"]
    assert audit_data == {"status": "RETIRED", "driversRevoked": 1}


# ------------------------------------------------------------------------------------ similarity


async def test_similar_avatars_returns_the_callers_own_closest_first(db: TortoiseContext) -> None:
    platform, other = await make_platform(), await make_platform()
    image = photo(50)
    operator = await room_operator(platform.id)
    exact = await make_avatar(platform.id, operator.id, encode(image))
    near = await make_avatar(platform.id, operator.id, near_copies(image)["cropped"], name="近似")
    await make_avatar(platform.id, operator.id, encode(photo(51)), name="无关")
    await make_avatar(other.id, (await room_operator(other.id, number=None)).id, encode(photo(52)))

    found = await avatars.similar_avatars(platform_actor(platform.id), upload(encode(image)), max_distance=12, first=5)
    assert found.problems == []
    assert [m.avatar.id for m in found.matches] == [exact.id, near.id]
    assert found.matches[0].distance == 0 < found.matches[1].distance <= 12
    one = await avatars.similar_avatars(platform_actor(platform.id), upload(encode(image)), max_distance=12, first=1)
    assert [m.avatar.id for m in one.matches] == [exact.id]
    elsewhere = await avatars.similar_avatars(platform_actor(other.id), upload(encode(image)), max_distance=12, first=5)
    assert elsewhere.matches == []


@pytest.mark.parametrize(
    ("max_distance", "first", "data", "expected"),
    [
        (13, 20, None, [("LIMIT_EXCEEDED", ("maxDistance",))]),
        (10, 101, None, [("LIMIT_EXCEEDED", ("first",))]),
        (-1, 0, None, [("INVALID_INPUT", ("maxDistance",)), ("INVALID_INPUT", ("first",))]),
        (10, 20, b"GIF89a", [("INVALID_IMAGE", ("image",))]),
    ],
)
async def test_similar_avatars_limits(
    db: TortoiseContext, max_distance: int, first: int, data: bytes | None, expected: list[tuple[str, tuple[str, ...]]]
) -> None:
    platform = await make_platform()
    result = await avatars.similar_avatars(
        platform_actor(platform.id), upload(data or encode(photo(53))), max_distance=max_distance, first=first
    )
    assert result.matches == [] and [(p.code.value, p.field) for p in result.problems] == expected


# ------------------------------------------------------------------------------- onboarding client


async def test_an_onboarding_client_registers_avatars_for_its_own_performer(db: TortoiseContext) -> None:
    platform = await make_platform()
    operator = await room_operator(platform.id)
    session = await OnboardingSession.create(
        id=new_id("obs"),
        platform_id=platform.id,
        role="ROOM_OPERATOR",
        external_ref="app-1",
        status="COMPLETED",
        performer_id=operator.id,
        expires_at=clock.now() + timedelta(hours=1),
    )
    client = client_actor(platform.id, session.id)
    other_operator = await room_operator(platform.id)
    refused = await avatars.register_avatar(client, registration(other_operator.id))
    assert codes(refused) == [("NOT_FOUND", ("input", "operatorId"))]

    outcome = await avatars.register_avatar(client, registration(operator.id))
    assert outcome.avatar is not None and outcome.avatar.session_id == session.id
    by_platform = await make_avatar(platform.id, operator.id, encode(photo(54)))
    assert await avatars.get_avatar(client, outcome.avatar.id) is not None
    assert await avatars.get_avatar(client, by_platform.id) is None
    page = await avatars.list_operator_avatars(client, operator.id, first=10, after=None)
    assert [a.id for a in page.rows] == [outcome.avatar.id]
    seen = await avatars.operators_by_ids(client, [operator.id, other_operator.id])
    assert list(seen) == [operator.id]
    refused = await avatars.retire_avatar(client, outcome.avatar.id, "clients cannot")
    assert codes(refused) == [("NOT_FOUND", ("input", "avatarId"))]
