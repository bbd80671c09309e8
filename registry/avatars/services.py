"""Virtual avatars: registration, drivers, transfer, retirement, likeness consent, similarity search.

An avatar is always answerable to one responsible operator in good standing (a ROOM_OPERATOR
performer or an operator organization) and performed live only by authorized drivers. Its image is
normalized (registry.avatars.images), stored content-addressed, screened against AVATAR_IMAGE
blacklist keys and compared with every ACTIVE avatar on every platform: a near-duplicate answerable
to another identity is AVATAR_CONFLICT, without ever showing the other avatar.

Identity: a performer operator is its person ("person:<Person id>", the same across platforms); an
organization is its credit code ("credit:<blind index>", so one company on two platforms is one
identity). Conflict checks and the inserts or transfers they guard run under one advisory lock on
PostgreSQL, so two processes cannot both register near-copies for different identities.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Final

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from registry import audit, clock, config
from registry.actors import Actor
from registry.audit.services import Change
from registry.avatars import phash as phashes
from registry.avatars import similarity
from registry.avatars.images import NormalizedImage, normalize_image_async
from registry.avatars.models import Avatar, AvatarDriver, AvatarTransfer, Likeness
from registry.crypto import field_aad
from registry.db import unique_violation
from registry.enforcement import screening
from registry.enforcement.models import Enforcement
from registry.enforcement.screening import Decision, SubjectKeys, blacklisted_subjects
from registry.enforcement.status import blocking_actions, in_force
from registry.identities.services import person_for, person_key
from registry.ids import new_id, prefix_of
from registry.pagination import Page, page
from registry.performers import organizations
from registry.performers import services as performers
from registry.performers.eligibility import in_good_standing
from registry.performers.models import OperatorOrganization, Performer
from registry.problems import DomainError, Problem, ProblemCode, prefixed, problem
from registry.uploads import Upload, store_evidence
from registry.validators.age import age_on
from registry.validators.documents import DocumentInput, VerifiedDocument, mask_name, validate_document
from registry.validators.text import clean_external_ref, clean_text
from registry.verification import Status, effective_status


class AvatarStatus(StrEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    RETIRED = "RETIRED"


class AvatarKind(StrEnum):
    ORIGINAL = "ORIGINAL"
    REAL_PERSON_LIKENESS = "REAL_PERSON_LIKENESS"
    LICENSED_CHARACTER = "LICENSED_CHARACTER"


CONFLICT_DISTANCE: Final = screening.AVATAR_DISTANCE
MAX_SIMILAR_DISTANCE: Final = 12
MAX_SIMILAR_FIRST: Final = 100
NAME_MAX: Final = 100
LABEL_MAX: Final = 20
REASON_MAX: Final = 500
ADULT: Final = 18
# One PostgreSQL advisory lock serializes "check for near-duplicates, then insert or transfer": near
# copies share no exact key to lock on. The critical section is a few indexed reads and one insert.
_REGISTRATION_LOCK: Final = 0x6C76_6176_6174_6172  # "lvavatar"
_LOCK_SQL: Final = "SELECT pg_advisory_xact_lock($1)"

Operator = Performer | OperatorOrganization


@dataclass(frozen=True, slots=True)
class LikenessInput:
    rights_holder: DocumentInput
    portrait: bool
    voice: bool
    signed_at: datetime
    valid_until: date | None = None
    evidence: Upload | None = None


@dataclass(frozen=True, slots=True)
class RegisterInput:
    name: str
    operator_id: str
    image: Upload
    kind: str = AvatarKind.ORIGINAL.value
    likeness: LikenessInput | None = None
    label: str = "虚拟形象"
    external_ref: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    avatar: Avatar | None
    problems: list[Problem]


@dataclass(frozen=True, slots=True)
class SimilarMatch:
    avatar: Avatar
    distance: int


@dataclass(frozen=True, slots=True)
class Similar:
    matches: list[SimilarMatch]
    problems: list[Problem]


@dataclass(frozen=True, slots=True)
class _Answerable:
    """A responsible operator in good standing and every form of its identity."""

    record: Operator
    identity: str  # what is stored on the avatar
    identities: frozenset[str]  # the same identity under every blind-index key (key rotation)


@dataclass(frozen=True, slots=True)
class _Consent:
    holder: VerifiedDocument
    person_id: str
    data: LikenessInput


@dataclass(frozen=True, slots=True)
class _Checked:
    name: str
    label: str
    kind: AvatarKind
    external_ref: str | None
    operator: _Answerable
    image: NormalizedImage
    consent: _Consent | None


# ---------------------------------------------------------------------------------------- reads


async def get_avatar(actor: Actor, avatar_id: str) -> Avatar | None:
    """The avatar if the actor may see it: its platform's, and for a client token only those it registered."""
    query = Avatar.filter(id=avatar_id, platform_id=actor.platform_id)
    if actor.session_id is not None:
        query = query.filter(session_id=actor.session_id)
    return await query.first()


async def list_operator_avatars(actor: Actor, operator_id: str, *, first: int, after: str | None) -> Page[Avatar]:
    query = Avatar.filter(platform_id=actor.platform_id, operator_id=operator_id)
    if actor.session_id is not None:
        query = query.filter(session_id=actor.session_id)
    return await page(query, first=first, after=after)


async def read_image(avatar: Avatar) -> bytes | None:
    """The stored normalized image (None only if the blob store lost it)."""
    return await config.current().blobs.get(avatar.image_sha256)


async def drivers_of(platform_id: str, avatar_ids: Sequence[str]) -> dict[str, list[Performer]]:
    """The performers currently authorized to drive each avatar, in order of authorization."""
    rows = await AvatarDriver.filter(avatar_id__in=list(avatar_ids), revoked_at__isnull=True).order_by(
        "authorized_at", "id"
    )
    found = await performers.performers_by_ids(platform_id, sorted({r.performer_id for r in rows}))
    drivers: dict[str, list[Performer]] = {avatar_id: [] for avatar_id in avatar_ids}
    for row in rows:
        if row.performer_id in found:
            drivers[row.avatar_id].append(found[row.performer_id])
    return drivers


async def likenesses_of(avatar_ids: Sequence[str]) -> dict[str, Likeness]:
    return {row.avatar_id: row for row in await Likeness.filter(avatar_id__in=list(avatar_ids))}


async def operators_by_ids(actor: Actor, operator_ids: Sequence[str]) -> dict[str, Operator]:
    """The operators the actor may see; a client token sees only its own performer."""
    ids = list(operator_ids)
    if actor.session_id is not None:
        own = [await performers.get_performer(actor, operator_id) for operator_id in ids]
        return {record.id: record for record in own if record is not None}
    found: dict[str, Operator] = dict(await performers.performers_by_ids(actor.platform_id, ids))
    for organization in await OperatorOrganization.filter(platform_id=actor.platform_id, id__in=ids):
        found[organization.id] = organization
    return found


def perceptual_hash(avatar: Avatar) -> str:
    return phashes.hash_hex(phashes.to_unsigned64(avatar.phash))


def status_of(avatar: Avatar, measures: Sequence[Enforcement], likeness: Likeness | None, today: date) -> AvatarStatus:
    """The status as of now: a blocking measure or a lapsed likeness consent suspends an ACTIVE avatar."""
    stored = AvatarStatus(avatar.status)
    if stored is not AvatarStatus.ACTIVE:
        return stored
    lapsed = likeness is not None and likeness.valid_until is not None and likeness.valid_until < today
    return AvatarStatus.SUSPENDED if blocking_actions(measures) or lapsed else stored


# ---------------------------------------------------------------------------- operators, drivers


async def _find_operator(actor: Actor, operator_id: str) -> Operator | None:
    # get_performer limits a client token to its own performer; get_organization shows it none.
    if prefix_of(operator_id) == "per":
        return await performers.get_performer(actor, operator_id)
    if prefix_of(operator_id) == "org":
        return await organizations.get_organization(actor, operator_id)
    return None


def _verification(record: Operator) -> Status:
    if isinstance(record, Performer):
        return performers.status_of(record)
    return effective_status(record.verification_status, reverify_by=record.reverify_by)


async def _in_good_standing(record: Operator) -> bool:
    """Verified and not overdue, no blocking measure in force, not blacklisted: evaluated now."""
    measures = (await in_force([record.id]))[record.id]
    listed = await blacklisted_subjects(record.platform_id, [record.id])
    return in_good_standing(_verification(record), measures, record.id in listed)


def _identities(record: Operator) -> tuple[str, frozenset[str]]:
    if isinstance(record, Performer):
        identity = f"person:{record.person_id}"
        return identity, frozenset({identity})
    indexer = config.current().indexer
    kind = screening.MatchKey.CREDIT_CODE.value
    every = frozenset(f"credit:{value}" for value in indexer.candidates(kind, record.credit_code))
    return f"credit:{indexer.index(kind, record.credit_code)}", every


async def _answerable(actor: Actor, operator_id: str, *field: str) -> tuple[_Answerable | None, list[Problem]]:
    record = await _find_operator(actor, operator_id)
    if record is None:
        message = "No such room operator or operator organization on this platform."
        return None, [problem(ProblemCode.NOT_FOUND, message, *field)]
    if isinstance(record, Performer) and record.role != "ROOM_OPERATOR":
        message = "The responsible operator must be a ROOM_OPERATOR performer or an operator organization."
        return None, [problem(ProblemCode.OPERATOR_NOT_ELIGIBLE, message, *field)]
    if not await _in_good_standing(record):
        message = (
            "The responsible operator is not in good standing: it must be verified and not overdue for "
            "re-verification, and not suspended, cancelled, function-limited or blacklisted."
        )
        return None, [problem(ProblemCode.OPERATOR_NOT_ELIGIBLE, message, *field)]
    return _Answerable(record, *_identities(record)), []


async def _driver_problems(performer: Performer, *field: str) -> list[Problem]:
    reasons = []
    if performer.role != "MARKETER":
        reasons.append("be a MARKETER")
    if performers.status_of(performer) is not Status.VERIFIED:
        reasons.append("be verified and not overdue for re-verification")
    if performers.age_of(performer) < ADULT:
        reasons.append("be 18 or older")
    measures = (await in_force([performer.id]))[performer.id]
    if blocking_actions(measures) or await blacklisted_subjects(performer.platform_id, [performer.id]):
        reasons.append("not be suspended, cancelled, function-limited or blacklisted")
    if not reasons:
        return []
    return [problem(ProblemCode.DRIVER_NOT_ELIGIBLE, f"A driver must {'; '.join(reasons)}.", *field)]


# ----------------------------------------------------------------------------------- validation


def _kind(data: RegisterInput) -> tuple[AvatarKind | None, list[Problem]]:
    if data.kind not in AvatarKind.__members__:
        choices = ", ".join(AvatarKind)
        return None, [problem(ProblemCode.INVALID_INPUT, f"Choose one of {choices}.", "input", "kind")]
    kind = AvatarKind(data.kind)
    if kind is AvatarKind.REAL_PERSON_LIKENESS and data.likeness is None:
        message = "An avatar that reproduces a real person needs that person's consent (likeness)."
        return kind, [problem(ProblemCode.LIKENESS_CONSENT_REQUIRED, message, "input", "likeness")]
    if kind is not AvatarKind.REAL_PERSON_LIKENESS and data.likeness is not None:
        message = "A likeness consent belongs only to a REAL_PERSON_LIKENESS avatar."
        return kind, [problem(ProblemCode.INVALID_INPUT, message, "input", "likeness")]
    return kind, []


def _consent_terms(data: LikenessInput, today: date, *path: str) -> list[Problem]:
    problems = []
    if not (data.portrait or data.voice):
        message = "The consent must cover the portrait, the voice or both."
        problems.append(problem(ProblemCode.LIKENESS_CONSENT_REQUIRED, message, *path))
    if data.signed_at > clock.now():
        problems.append(
            problem(ProblemCode.INVALID_INPUT, "The consent cannot be signed in the future.", *path, "signedAt")
        )
    if data.valid_until is not None and data.valid_until < today:
        message = "The consent has already expired."
        problems.append(problem(ProblemCode.LIKENESS_CONSENT_REQUIRED, message, *path, "validUntil"))
    elif data.valid_until is not None and data.valid_until < clock.today_in_shanghai(data.signed_at):
        message = "The consent cannot end before it was signed."
        problems.append(problem(ProblemCode.INVALID_INPUT, message, *path, "validUntil"))
    return problems


async def _consent(
    platform_id: str, data: LikenessInput, today: date, *path: str
) -> tuple[_Consent | None, list[Problem]]:
    """The rights holder: a valid document of an adult who is not blacklisted, and consent terms."""
    holder, document_problems, _ = validate_document(data.rights_holder, today=today)
    problems = prefixed(document_problems, *path, "rightsHolder")
    if document_problems:
        message = "The rights holder's identity document did not pass its checks."
        problems.append(problem(ProblemCode.RIGHTS_HOLDER_NOT_ELIGIBLE, message, *path, "rightsHolder"))
    problems += _consent_terms(data, today, *path)
    if holder is not None:
        if age_on(holder.birth_date, today, config.current().age_rule) < ADULT:
            message = "The rights holder must be 18 or older."
            problems.append(problem(ProblemCode.RIGHTS_HOLDER_NOT_ELIGIBLE, message, *path, "rightsHolder"))
        result = await screening.screen(platform_id, SubjectKeys(documents=[person_key(holder)]))
        if result.decision is Decision.BLOCK:
            message = "The rights holder's document is on a blacklist."
            problems.append(problem(ProblemCode.BLACKLISTED, message, *path, "rightsHolder"))
    if problems or holder is None:
        return None, problems
    return _Consent(holder, (await person_for(holder)).id, data), []


async def _image(upload: Upload, *field: str) -> tuple[NormalizedImage | None, list[Problem]]:
    try:
        return await normalize_image_async(upload.data, upload.content_type), []
    except DomainError as exc:
        return None, prefixed(exc.problems, *field)


async def _check_registration(actor: Actor, data: RegisterInput) -> tuple[_Checked | None, list[Problem]]:
    problems: list[Problem] = []
    name, p = clean_text(data.name, max_len=NAME_MAX)
    problems += prefixed(p, "input", "name")
    label, p = clean_text(data.label, max_len=LABEL_MAX)
    problems += prefixed(p, "input", "label")
    ref, p = clean_external_ref(data.external_ref)
    problems += prefixed(p, "input", "externalRef")
    kind, p = _kind(data)
    problems += p
    operator, p = await _answerable(actor, data.operator_id, "input", "operatorId")
    problems += p
    consent = None
    if kind is AvatarKind.REAL_PERSON_LIKENESS and data.likeness is not None:
        consent, p = await _consent(actor.platform_id, data.likeness, clock.today_in_shanghai(), "input", "likeness")
        problems += p
    image, p = await _image(data.image, "input", "image")
    problems += p
    if problems or name is None or label is None or kind is None or operator is None or image is None:
        return None, problems
    return _Checked(name, label, kind, ref, operator, image, consent), []


# --------------------------------------------------------------------------------- registration


async def register_avatar(actor: Actor, data: RegisterInput) -> Outcome:
    checked, problems = await _check_registration(actor, data)
    if checked is None:
        return Outcome(None, problems)
    existing = await _same_registration(actor, checked)
    if existing is not None:
        return existing
    result = await screening.screen(actor.platform_id, SubjectKeys(avatar_hashes=[checked.image.phash]))
    if result.decision is not Decision.CLEAR:
        # An avatar has no REVIEW state: a resemblance to a banned image is refused, not parked.
        message = "The image resembles an image on a blacklist."
        return Outcome(None, [problem(ProblemCode.BLACKLISTED, message, "input", "image")])
    evidence = None
    if checked.consent is not None:
        evidence, problems = await store_evidence(checked.consent.data.evidence, "input", "likeness", "evidence")
        if problems:
            return Outcome(None, problems)
    await config.current().blobs.put(checked.image.data, checked.image.content_type)
    try:
        return await _insert(actor, checked, evidence)
    except IntegrityError as exc:
        if unique_violation(exc) is None:
            raise
        # A concurrent registration with the same externalRef won the race: answer as if it came first.
        return await _same_registration(actor, checked) or Outcome(None, [_duplicate_ref()])


async def _same_registration(actor: Actor, checked: _Checked) -> Outcome | None:
    """A retry with the same externalRef returns the avatar it registered; another use is a duplicate."""
    if checked.external_ref is None:
        return None
    existing = await Avatar.get_or_none(platform_id=actor.platform_id, external_ref=checked.external_ref)
    if existing is None:
        return None
    same = (
        existing.image_sha256 == checked.image.sha256
        and existing.operator_id == checked.operator.record.id
        and existing.session_id == actor.session_id
    )
    return Outcome(existing, []) if same else Outcome(None, [_duplicate_ref()])


def _duplicate_ref() -> Problem:
    message = "This externalRef is already used by another avatar."
    return problem(ProblemCode.DUPLICATE_EXTERNAL_REF, message, "input", "externalRef")


def _conflict(*field: str) -> Problem:
    message = "The image is a near-duplicate of an avatar answerable to another person or organization."
    return problem(ProblemCode.AVATAR_CONFLICT, message, *field)


async def _lock_registrations(conn: BaseDBAsyncClient) -> None:
    if conn.capabilities.dialect == "postgres":
        await conn.execute_query(_LOCK_SQL, [_REGISTRATION_LOCK])


async def _conflicting(image_hash: int, identities: frozenset[str], *, exclude: str | None = None) -> bool:
    """Is an ACTIVE avatar of another identity, on any platform, within the conflict distance?"""
    near = [n.avatar_id for n in await similarity.within(image_hash, CONFLICT_DISTANCE) if n.avatar_id != exclude]
    if not near:
        return False
    others = Avatar.filter(id__in=near, status=AvatarStatus.ACTIVE.value).exclude(identity__in=list(identities))
    return await others.exists()


async def _insert(actor: Actor, checked: _Checked, evidence: str | None) -> Outcome:
    image = checked.image
    async with in_transaction() as conn:
        await _lock_registrations(conn)
        if await _conflicting(image.phash, checked.operator.identities):
            return Outcome(None, [_conflict("input", "image")])
        band0, band1, band2, band3 = phashes.bands(image.phash)
        avatar = await Avatar.create(
            id=new_id("ava"),
            platform_id=actor.platform_id,
            external_ref=checked.external_ref,
            name=checked.name,
            kind=checked.kind.value,
            label=checked.label,
            status=AvatarStatus.ACTIVE.value,
            operator_id=checked.operator.record.id,
            identity=checked.operator.identity,
            image_sha256=image.sha256,
            content_type=image.content_type,
            width=image.width,
            height=image.height,
            phash=phashes.to_signed64(image.phash),
            band0=band0,
            band1=band1,
            band2=band2,
            band3=band3,
            session_id=actor.session_id,
        )
        data: dict[str, object] = {
            "kind": avatar.kind,
            "status": avatar.status,
            "operator": avatar.operator_id,
            "identity": avatar.identity,
            "sha256": avatar.image_sha256,
            "perceptualHash": perceptual_hash(avatar),
            "externalRef": avatar.external_ref,
        }
        if checked.consent is not None:
            likeness = await _insert_likeness(actor, avatar, checked.consent, evidence)
            data |= {"likeness": likeness.id, "portrait": likeness.portrait, "voice": likeness.voice}
        await audit.services.record(actor, Change("avatar.registered", avatar.id, data))
    return Outcome(avatar, [])


async def _insert_likeness(actor: Actor, avatar: Avatar, consent: _Consent, evidence: str | None) -> Likeness:
    likeness_id = new_id("lik")
    vault = config.current().vault
    # The rights holder's keys are remembered like a guardian's, so a later ban finds this consent.
    await screening.store_subject_keys(
        likeness_id, actor.platform_id, SubjectKeys(documents=[person_key(consent.holder)])
    )
    return await Likeness.create(
        id=likeness_id,
        avatar_id=avatar.id,
        rights_holder_document_type=consent.holder.type.value,
        rights_holder_number_enc=vault.encrypt(
            consent.holder.number, aad=field_aad("likeness", "rights_holder_number_enc", likeness_id)
        ),
        rights_holder_name_enc=vault.encrypt(
            consent.holder.full_name, aad=field_aad("likeness", "rights_holder_name_enc", likeness_id)
        ),
        rights_holder_name_masked=mask_name(consent.holder.full_name),
        rights_holder_person_id=consent.person_id,
        portrait=consent.data.portrait,
        voice=consent.data.voice,
        signed_at=consent.data.signed_at,
        valid_until=consent.data.valid_until,
        evidence_sha256=evidence,
    )


# ---------------------------------------------------------------------------------- later changes


def _not_found(what: str, *field: str) -> Problem:
    return problem(ProblemCode.NOT_FOUND, f"No such {what} on this platform.", *field)


def _reason(reason: str) -> tuple[str | None, list[Problem]]:
    cleaned, problems = clean_text(reason, max_len=REASON_MAX)
    return cleaned, prefixed(problems, "input", "reason")


async def _avatar_for_update(actor: Actor, avatar_id: str) -> Avatar | None:
    """Locks the avatar row (inside a transaction); client tokens change nothing after registration."""
    if actor.session_id is not None:
        return None
    return await Avatar.select_for_update().get_or_none(id=avatar_id, platform_id=actor.platform_id)


def _check_not_retired(avatar: Avatar) -> None:
    if avatar.status == AvatarStatus.RETIRED.value:
        message = "The avatar is retired; that is final and nothing about it changes any more."
        raise DomainError(problem(ProblemCode.INVALID_TRANSITION, message, "input", "avatarId"))


async def _changeable_avatar(actor: Actor, avatar_id: str, problems: list[Problem]) -> Avatar | None:
    """The avatar locked for a change, or None with the reasons in `problems` (unknown first); a retired
    avatar refuses every change."""
    avatar = await _avatar_for_update(actor, avatar_id)
    if avatar is None:
        problems.insert(0, _not_found("avatar", "input", "avatarId"))
    if problems or avatar is None:
        return None
    _check_not_retired(avatar)
    return avatar


async def _avatar_and_performer(actor: Actor, avatar_id: str, performer_id: str) -> tuple[Avatar, Performer]:
    avatar = await _avatar_for_update(actor, avatar_id)
    performer = await Performer.get_or_none(id=performer_id, platform_id=actor.platform_id)
    problems = [] if avatar is not None else [_not_found("avatar", "input", "avatarId")]
    problems += [] if performer is not None else [_not_found("performer", "input", "performerId")]
    if avatar is None or performer is None:
        raise DomainError(problems)
    return avatar, performer


async def authorize_driver(actor: Actor, avatar_id: str, performer_id: str) -> Outcome:
    """Authorize a verified adult MARKETER of the platform in good standing; again is a no-op."""
    async with in_transaction():
        avatar, performer = await _avatar_and_performer(actor, avatar_id, performer_id)
        _check_not_retired(avatar)
        problems = await _driver_problems(performer, "input", "performerId")
        if problems:
            return Outcome(None, problems)
        if await AvatarDriver.exists(avatar_id=avatar.id, performer_id=performer.id, revoked_at__isnull=True):
            return Outcome(avatar, [])
        driver = await AvatarDriver.create(avatar_id=avatar.id, performer_id=performer.id)
        await avatar.save(update_fields=["updated_at"])
        data = {"performer": performer.id, "authorization": driver.id}
        await audit.services.record(actor, Change("avatar.driver_authorized", avatar.id, data))
    return Outcome(avatar, [])


async def revoke_driver(actor: Actor, avatar_id: str, performer_id: str) -> Outcome:
    async with in_transaction():
        avatar, performer = await _avatar_and_performer(actor, avatar_id, performer_id)
        revoked = await AvatarDriver.filter(
            avatar_id=avatar.id, performer_id=performer.id, revoked_at__isnull=True
        ).update(revoked_at=clock.now())
        if not revoked:
            message = "This performer is not an authorized driver of the avatar."
            raise DomainError(problem(ProblemCode.INVALID_TRANSITION, message, "input", "performerId"))
        await avatar.save(update_fields=["updated_at"])
        await audit.services.record(actor, Change("avatar.driver_revoked", avatar.id, {"performer": performer.id}))
    return Outcome(avatar, [])


async def transfer_avatar(actor: Actor, avatar_id: str, operator_id: str, reason: str) -> Outcome:
    """Make another operator in good standing answerable; its identity must not create a conflict."""
    cleaned, problems = _reason(reason)
    operator, operator_problems = await _answerable(actor, operator_id, "input", "operatorId")
    problems += operator_problems
    async with in_transaction() as conn:
        await _lock_registrations(conn)
        avatar = await _changeable_avatar(actor, avatar_id, problems)
        if avatar is None or operator is None or cleaned is None:
            return Outcome(None, problems)
        if avatar.operator_id == operator.record.id:
            return Outcome(avatar, [])  # already answerable: a retry changes nothing
        if await _conflicting(phashes.to_unsigned64(avatar.phash), operator.identities, exclude=avatar.id):
            return Outcome(None, [_conflict("input", "operatorId")])
        await AvatarTransfer.create(
            avatar_id=avatar.id, from_operator_id=avatar.operator_id, to_operator_id=operator.record.id, reason=cleaned
        )
        data = {"from": avatar.operator_id, "to": operator.record.id, "identity": operator.identity}
        avatar.operator_id, avatar.identity = operator.record.id, operator.identity
        await avatar.save(update_fields=["operator_id", "identity", "updated_at"])
        await audit.services.record(actor, Change("avatar.transferred", avatar.id, data))
    return Outcome(avatar, [])


async def retire_avatar(actor: Actor, avatar_id: str, reason: str) -> Outcome:
    """Final: the avatar never goes live again and its drivers' authorizations end."""
    cleaned, problems = _reason(reason)
    async with in_transaction():
        avatar = await _changeable_avatar(actor, avatar_id, problems)
        if avatar is None or cleaned is None:
            return Outcome(None, problems)
        now = clock.now()
        revoked = await AvatarDriver.filter(avatar_id=avatar.id, revoked_at__isnull=True).update(revoked_at=now)
        avatar.status, avatar.retired_at, avatar.retire_reason = AvatarStatus.RETIRED.value, now, cleaned
        await avatar.save(update_fields=["status", "retired_at", "retire_reason", "updated_at"])
        data = {"status": avatar.status, "driversRevoked": revoked}
        await audit.services.record(actor, Change("avatar.retired", avatar.id, data))
    return Outcome(avatar, [])


async def revoke_likeness_consent(actor: Actor, avatar_id: str, reason: str) -> Outcome:
    """The real person withdrew consent: the avatar is SUSPENDED at once (regulation G-28)."""
    cleaned, problems = _reason(reason)
    async with in_transaction():
        avatar = await _changeable_avatar(actor, avatar_id, problems)
        if avatar is None or cleaned is None:
            return Outcome(None, problems)
        likeness = await Likeness.select_for_update().get_or_none(avatar_id=avatar.id)
        if likeness is None or likeness.revoked_at is not None:
            message = "No likeness consent is in force for this avatar."
            raise DomainError(problem(ProblemCode.INVALID_TRANSITION, message, "input", "avatarId"))
        likeness.revoked_at, likeness.revoke_reason = clock.now(), cleaned
        await likeness.save(update_fields=["revoked_at", "revoke_reason"])
        avatar.status = AvatarStatus.SUSPENDED.value
        await avatar.save(update_fields=["status", "updated_at"])
        data = {"likeness": likeness.id, "status": avatar.status}
        await audit.services.record(actor, Change("avatar.likeness_revoked", avatar.id, data))
    return Outcome(avatar, [])


# ------------------------------------------------------------------------------------ similarity


def _search_limits(max_distance: int, first: int) -> list[Problem]:
    problems = []
    if max_distance < 0:
        problems.append(problem(ProblemCode.INVALID_INPUT, "maxDistance cannot be negative.", "maxDistance"))
    elif max_distance > MAX_SIMILAR_DISTANCE:
        message = f"maxDistance may be at most {MAX_SIMILAR_DISTANCE}."
        problems.append(problem(ProblemCode.LIMIT_EXCEEDED, message, "maxDistance"))
    if first < 1:
        problems.append(problem(ProblemCode.INVALID_INPUT, "first must be at least 1.", "first"))
    elif first > MAX_SIMILAR_FIRST:
        problems.append(problem(ProblemCode.LIMIT_EXCEEDED, f"first may be at most {MAX_SIMILAR_FIRST}.", "first"))
    return problems


async def similar_avatars(actor: Actor, upload: Upload, *, max_distance: int, first: int) -> Similar:
    """The caller's own avatars (any status) whose image is within `max_distance`, closest first."""
    problems = _search_limits(max_distance, first)
    image, image_problems = await _image(upload, "image")
    problems += image_problems
    if problems or image is None:
        return Similar([], problems)
    distance = {n.avatar_id: n.distance for n in await similarity.within(image.phash, max_distance)}
    if not distance:
        return Similar([], [])
    query = Avatar.filter(id__in=list(distance), platform_id=actor.platform_id)
    if actor.session_id is not None:
        query = query.filter(session_id=actor.session_id)
    rows = sorted(await query, key=lambda a: (distance[a.id], a.created_at, a.id))
    return Similar([SimilarMatch(a, distance[a.id]) for a in rows[:first]], [])


async def first_pages_of_operators(actor: Actor, operator_ids: Sequence[str], first: int) -> dict[str, Page[Avatar]]:
    """The first page of each operator's avatars in one query (a page of performers lists theirs)."""
    query = Avatar.filter(platform_id=actor.platform_id, operator_id__in=list(operator_ids))
    if actor.session_id is not None:
        query = query.filter(session_id=actor.session_id)
    grouped: dict[str, list[Avatar]] = {operator_id: [] for operator_id in operator_ids}
    for avatar in await query.order_by("operator_id", "created_at", "id"):
        grouped[avatar.operator_id].append(avatar)
    return {operator_id: Page(rows[:first], len(rows) > first) for operator_id, rows in grouped.items()}
