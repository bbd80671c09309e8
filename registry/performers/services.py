"""Performers: registration, re-verification, guardian consent, training and agency links.

Every input problem is reported at once with its field path. Duplicates are settled by database
constraints (platform, role, person) and (platform, role, externalRef), so two concurrent
registrations of one identity cannot both land; a retry of the same registration returns the
existing performer with no problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from registry import audit, clock, config
from registry.actors import Actor
from registry.agencies.models import Agency
from registry.audit.services import Change
from registry.crypto import field_aad
from registry.db import unique_violation
from registry.enforcement import screening
from registry.enforcement.screening import Decision, MatchKey, SubjectKeys
from registry.identities.services import create_person, person_for, person_indexes, person_key
from registry.identity_provider import Verdict
from registry.ids import new_id
from registry.onboarding.models import OnboardingSession
from registry.pagination import Page, page
from registry.performers import registration_sql
from registry.performers.models import GuardianConsent, Performer, RefusedAttempt
from registry.performers.registration_sql import Holder, Known
from registry.problems import DomainError, Problem, ProblemCode, prefixed, problem
from registry.uploads import Upload, store_evidence
from registry.validators.age import age_on
from registry.validators.documents import (
    DocumentInput,
    DocumentType,
    VerifiedDocument,
    identity_key_number,
    mask_document_number,
    mask_name,
    validate_document,
)
from registry.validators.phones import mask_phone, parse_phone
from registry.validators.text import clean_external_ref, clean_text
from registry.verification import (
    REVERIFIABLE,
    Status,
    check_transition,
    effective_status,
    finding,
    reverify_deadline,
)

ROLES = ("ROOM_OPERATOR", "MARKETER")
RELATIONSHIPS = ("PARENT", "LEGAL_GUARDIAN")
ADULT = 18


@dataclass(frozen=True, slots=True)
class ConsentInput:
    guardian: DocumentInput
    relationship: str
    phone: str
    signed_at: datetime
    evidence: Upload | None = None


@dataclass(frozen=True, slots=True)
class RegisterInput:
    role: str
    document: DocumentInput
    phone: str
    external_ref: str | None = None
    device_id: str | None = None
    guardian_consent: ConsentInput | None = None
    agency_id: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    performer: Performer | None
    problems: list[Problem]


@dataclass(frozen=True, slots=True)
class _Consent:
    """A validated consent, ready to store."""

    document: VerifiedDocument
    relationship: str
    phone: str
    signed_at: datetime
    evidence_sha256: str | None
    person_id: str


# ---------------------------------------------------------------------------------------- reads


async def _session(actor: Actor) -> OnboardingSession | None:
    if actor.session_id is None:
        return None
    return await OnboardingSession.get_or_none(id=actor.session_id, platform_id=actor.platform_id)


async def get_performer(actor: Actor, performer_id: str) -> Performer | None:
    """The performer if the actor may see it: its own platform's, and for a client token only its own."""
    performer = await Performer.get_or_none(id=performer_id, platform_id=actor.platform_id)
    return performer if performer is not None and await may_see(actor, performer) else None


async def may_see(actor: Actor, performer: Performer) -> bool:
    """A platform token sees its platform's performers (the caller checked the platform); a client token its own."""
    if actor.session_id is None:
        return performer.platform_id == actor.platform_id
    session = await _session(actor)
    return session is not None and session.performer_id == performer.id


async def performer_by_ref(actor: Actor, role: str, external_ref: str) -> Performer | None:
    return await Performer.get_or_none(platform_id=actor.platform_id, role=role, external_ref=external_ref)


async def list_performers(actor: Actor, *, first: int, after: str | None, status: str | None) -> Page[Performer]:
    query = Performer.filter(platform_id=actor.platform_id)
    if status is not None:
        query = query.filter(verification_status=status)
    return await page(query, first=first, after=after)


async def performers_by_ids(platform_id: str, ids: Sequence[str]) -> dict[str, Performer]:
    return {p.id: p for p in await Performer.filter(platform_id=platform_id, id__in=list(ids))}


def birth_date(performer: Performer) -> date:
    aad = field_aad("performer", "birth_date_enc", performer.id)
    return date.fromisoformat(config.current().vault.decrypt(performer.birth_date_enc, aad=aad))


def age_of(performer: Performer, today: date | None = None) -> int:
    return age_on(birth_date(performer), today or clock.today_in_shanghai(), config.current().age_rule)


def status_of(performer: Performer) -> Status:
    return effective_status(
        performer.verification_status, reverify_by=performer.reverify_by, pending_since=performer.pending_since
    )


async def consent_in_force(performer_id: str) -> GuardianConsent | None:
    return (
        await GuardianConsent.filter(performer_id=performer_id, revoked_at__isnull=True)
        .order_by("-recorded_at", "-id")
        .first()
    )


async def consents_in_force(performer_ids: Sequence[str]) -> dict[str, GuardianConsent]:
    rows = await GuardianConsent.filter(performer_id__in=list(performer_ids), revoked_at__isnull=True).order_by(
        "recorded_at", "id"
    )
    return {row.performer_id: row for row in rows}  # later rows win: the newest is in force


# ----------------------------------------------------------------------------------- validation


def _document(
    doc: DocumentInput, today: date, *path: str
) -> tuple[VerifiedDocument | None, list[Problem], list[Problem]]:
    verified, problems, findings = validate_document(doc, today=today)
    return verified, prefixed(problems, *path), prefixed(findings, *path)


def _clean_device(device_id: str | None) -> tuple[str | None, list[Problem]]:
    if device_id is None:
        return None, []
    cleaned, problems = clean_text(device_id, max_len=128)
    return cleaned, prefixed(problems, "input", "deviceId")


async def _consent(
    platform_id: str, data: ConsentInput, applicant: VerifiedDocument | None, today: date, *path: str
) -> tuple[_Consent | None, list[Problem]]:
    """Validate a guardian consent: the guardian's document, age, identity, blacklist and evidence."""
    guardian, problems, _ = _document(data.guardian, today, *path, "guardian")
    phone, phone_problems = parse_phone(data.phone)
    problems += prefixed(phone_problems, *path, "phone")
    if data.relationship not in RELATIONSHIPS:
        problems.append(problem(ProblemCode.INVALID_INPUT, "Choose PARENT or LEGAL_GUARDIAN.", *path, "relationship"))
    if data.signed_at > clock.now():
        message = "The consent cannot be signed in the future."
        problems.append(problem(ProblemCode.INVALID_INPUT, message, *path, "signedAt"))
    if guardian is not None:
        problems += await _guardian_problems(platform_id, guardian, applicant, today, *path, "guardian")
    if problems or guardian is None or phone is None:
        return None, problems
    evidence, evidence_problems = await store_evidence(data.evidence, *path, "evidence")
    if evidence_problems:
        return None, evidence_problems
    person = await person_for(guardian)
    return _Consent(guardian, data.relationship, phone, data.signed_at, evidence, person.id), []


async def _guardian_problems(
    platform_id: str, guardian: VerifiedDocument, applicant: VerifiedDocument | None, today: date, *path: str
) -> list[Problem]:
    problems = []
    if age_on(guardian.birth_date, today, config.current().age_rule) < ADULT:
        problems.append(problem(ProblemCode.GUARDIAN_NOT_ELIGIBLE, "The guardian must be 18 or older.", *path))
    if applicant is not None and person_key(guardian) == person_key(applicant):
        message = "The guardian must be another person than the applicant."
        problems.append(problem(ProblemCode.GUARDIAN_NOT_ELIGIBLE, message, *path))
    result = await screening.screen(platform_id, SubjectKeys(documents=[person_key(guardian)]))
    if result.decision is Decision.BLOCK:
        problems.append(problem(ProblemCode.BLACKLISTED, "The guardian's document is on a blacklist.", *path))
    return problems


async def _agency_problems(platform_id: str, agency_id: str | None, *path: str) -> list[Problem]:
    if agency_id is None or await Agency.exists(id=agency_id, platform_id=platform_id):
        return []
    return [problem(ProblemCode.NOT_FOUND, "No such agency on this platform.", *path)]


def _age_problems(minimum_age: int, document: VerifiedDocument, today: date) -> tuple[int, list[Problem]]:
    age = age_on(document.birth_date, today, config.current().age_rule)
    if age < minimum_age:
        message = f"The applicant has not reached the minimum age of {minimum_age} for live marketing."
        return age, [problem(ProblemCode.UNDER_MINIMUM_AGE, message, "input", "document", "birthDate")]
    return age, []


async def _refuse_minor(platform_id: str, document: VerifiedDocument) -> None:
    # Minimum-necessary: only a keyed hash of the identity, to notice repeated attempts.
    index = config.current().indexer.index("refused", person_key(document))
    await RefusedAttempt.create(platform_id=platform_id, document_index=index, reason="UNDER_MINIMUM_AGE")


# --------------------------------------------------------------------------------- registration


@dataclass(frozen=True, slots=True)
class _Checked:
    known: Known  # what the database knew of the applicant when the input was checked
    keys: SubjectKeys  # the applicant's identity keys
    indexed: list[tuple[MatchKey, str]]  # their blind indexes (screening.index_values)
    role: str
    document: VerifiedDocument
    findings: list[Problem]
    phone: str
    external_ref: str | None
    device_id: str | None
    consent: _Consent | None
    agency_id: str | None


async def _check_registration(actor: Actor, data: RegisterInput) -> tuple[_Checked | None, list[Problem]]:
    today = clock.today_in_shanghai()
    problems: list[Problem] = []
    role, external_ref = data.role, data.external_ref
    session = await _session(actor)
    if actor.session_id is not None:
        if session is None or session.status != "OPEN" or session.expires_at <= clock.now():
            return None, [problem(ProblemCode.NOT_ELIGIBLE, "This onboarding session is no longer open.")]
        if role != session.role:
            problems.append(
                problem(ProblemCode.INVALID_INPUT, "The role is fixed by the onboarding session.", "input", "role")
            )
        if external_ref not in (None, session.external_ref):
            message = "The externalRef is fixed by the onboarding session."
            problems.append(problem(ProblemCode.INVALID_INPUT, message, "input", "externalRef"))
        external_ref = session.external_ref
    if role not in ROLES:
        problems.append(problem(ProblemCode.INVALID_INPUT, "Choose ROOM_OPERATOR or MARKETER.", "input", "role"))
    document, doc_problems, findings = _document(data.document, today, "input", "document")
    problems += doc_problems
    phone, phone_problems = parse_phone(data.phone)
    problems += prefixed(phone_problems, "input", "phone")
    ref, ref_problems = clean_external_ref(external_ref)
    problems += prefixed(ref_problems, "input", "externalRef")
    device, device_problems = _clean_device(data.device_id)
    problems += device_problems
    problems += await _agency_problems(actor.platform_id, data.agency_id, "input", "agencyId")
    if document is None:
        return None, problems
    # The blacklist listings come with what the database knows of the applicant, in one read (PostgreSQL).
    keys = _subject_keys(document, phone, device)
    indexed = sorted(set(screening.index_values(keys)))
    screened = [value for _, value in indexed]
    known = await registration_sql.known(actor.platform_id, role, person_indexes(document), ref, screened)
    age, age_problems = _age_problems(known.minimum_age, document, today)
    if age_problems:
        await _refuse_minor(actor.platform_id, document)
        return None, problems + age_problems
    consent = None
    if age < ADULT and data.guardian_consent is None:
        message = "Applicants aged 16 or 17 need their guardian's consent."
        problems.append(problem(ProblemCode.GUARDIAN_CONSENT_REQUIRED, message, "input", "guardianConsent"))
    elif age < ADULT and data.guardian_consent is not None and not problems:
        consent, consent_problems = await _consent(
            actor.platform_id, data.guardian_consent, document, today, "input", "guardianConsent"
        )
        problems += consent_problems
    if problems or phone is None:
        return None, problems
    return _Checked(known, keys, indexed, role, document, findings, phone, ref, device, consent, data.agency_id), []


def _subject_keys(document: VerifiedDocument, phone: str | None, device_id: str | None) -> SubjectKeys:
    return SubjectKeys(
        documents=[person_key(document)],
        phones=[phone] if phone else [],
        devices=[device_id] if device_id else [],
        names=[(document.full_name, document.birth_date)],
    )


async def register_performer(actor: Actor, data: RegisterInput) -> Outcome:
    checked, problems = await _check_registration(actor, data)
    if checked is None:
        return Outcome(None, problems)
    earlier = await _earlier_registration(checked, checked.known.person_id, checked.known.holders)
    if earlier is not None:
        return earlier
    keys, indexed = checked.keys, checked.indexed
    result = await screening.screen(actor.platform_id, keys, indexed=indexed, listings=checked.known.listings)
    if result.decision is Decision.BLOCK:
        return Outcome(
            None, [problem(ProblemCode.BLACKLISTED, "This identity is on a blacklist.", "input", "document")]
        )
    findings = [finding(p.code, p.message, *(p.field or ())) for p in checked.findings]
    findings += [_review_finding(m) for m in result.review_matches]
    performer_id = new_id("per")
    answer = await config.current().identity_provider.check(performer_id, checked.document)
    status, findings = initial_status(answer.verdict, findings)
    fields = {
        "id": performer_id,
        "platform_id": actor.platform_id,
        "role": checked.role,
        "external_ref": checked.external_ref,
        "agency_id": checked.agency_id,
        **_document_fields(performer_id, checked.document, checked.phone),
        **_status_fields(status, findings),
    }
    try:
        if checked.consent is None and registration_sql.available():
            performer = await _write_at_once(actor, checked, keys, indexed, fields)
        else:
            # The person is created only now, for an applicant the blacklist did not stop.
            person_id = checked.known.person_id or (await create_person(checked.document)).id
            performer = await _insert(actor, checked, keys, {**fields, "person_id": person_id})
    except IntegrityError as exc:
        if unique_violation(exc) is None:
            raise
        return await _after_conflict(actor, checked)
    return Outcome(performer, [])


def _duplicate_ref() -> Problem:
    message = "This externalRef is already used by another performer of this role."
    return problem(ProblemCode.DUPLICATE_EXTERNAL_REF, message, "input", "externalRef")


async def _earlier_registration(checked: _Checked, person_id: str | None, holders: list[Holder]) -> Outcome | None:
    """The answer when this identity or this externalRef is already registered in this role."""
    # The identity's registration answers first: the same externalRef makes it a safe retry.
    existing = next((h for h in holders if h.person_id == person_id), None) if person_id else None
    if existing is not None and existing.external_ref == checked.external_ref:
        return Outcome(await Performer.get(id=existing.performer_id), [])
    if existing is not None:
        message = "This person already has a performer of this role on this platform."
        return Outcome(None, [problem(ProblemCode.ALREADY_REGISTERED, message, "input", "document")])
    if not holders:
        return None
    # The externalRef's holder is another person (a concurrent twin of this person matched above).
    return Outcome(None, [_duplicate_ref()])


async def _after_conflict(actor: Actor, checked: _Checked) -> Outcome:
    """A concurrent registration won the race: answer as if it had landed first."""
    indexes = person_indexes(checked.document)
    known = await registration_sql.known(actor.platform_id, checked.role, indexes, checked.external_ref)
    return await _earlier_registration(checked, known.person_id, known.holders) or Outcome(None, [_duplicate_ref()])


def _review_finding(match: screening.Match) -> dict[str, object]:
    message = (
        f"A {match.key.value.replace('_', ' ').lower()} matches a blacklist entry; a compliance officer will review."
    )
    return finding(ProblemCode.BLACKLISTED, message, entryId=match.entry_id, key=match.key.value)


def initial_status(verdict: Verdict, findings: list[dict[str, object]]) -> tuple[Status, list[dict[str, object]]]:
    if verdict is Verdict.MISMATCH:
        message = "The identity provider says the name and number do not belong together."
        return Status.REJECTED, [*findings, finding(ProblemCode.IDENTITY_MISMATCH, message)]
    if verdict is Verdict.REJECTED:
        return Status.REJECTED, [*findings, finding(ProblemCode.IDENTITY_MISMATCH, "The identity provider refused.")]
    if findings:
        return Status.REVIEW, findings
    return (Status.PENDING, findings) if verdict is Verdict.PENDING else (Status.VERIFIED, findings)


def _encrypt(table: str, record_id: str, **values: str) -> dict[str, str]:
    vault = config.current().vault
    return {name: vault.encrypt(value, aad=field_aad(table, name, record_id)) for name, value in values.items()}


def _document_fields(performer_id: str, document: VerifiedDocument, phone: str) -> dict[str, object]:
    return {
        "document_type": document.type.value,
        "name_masked": mask_name(document.full_name),
        "number_masked": mask_document_number(document.number),
        "phone_masked": mask_phone(phone),
        **_encrypt(
            "performer",
            performer_id,
            document_number_enc=document.number,
            full_name_enc=document.full_name,
            birth_date_enc=document.birth_date.isoformat(),
            phone_enc=phone,
        ),
    }


def _status_fields(status: Status, findings: list[dict[str, object]]) -> dict[str, object]:
    now = clock.now()
    verified = status is Status.VERIFIED
    return {
        "verification_status": status.value,
        "findings": findings,
        "verified_at": now if verified else None,
        "reverify_by": reverify_deadline(now) if verified else None,
        "pending_since": now if status is Status.PENDING else None,
    }


async def _insert(actor: Actor, checked: _Checked, keys: SubjectKeys, fields: dict[str, object]) -> Performer:
    """The ORM path: SQLite, a caller's transaction, or a minor's registration with the consent."""
    async with in_transaction():
        performer = await Performer.create(**fields)
        await screening.store_subject_keys(performer.id, actor.platform_id, keys)
        if actor.session_id is not None:
            await OnboardingSession.filter(id=actor.session_id).update(status="COMPLETED", performer_id=performer.id)
        changes = [Change("performer.registered", performer.id, _audit_data(performer, keys))]
        if checked.consent is not None:
            consent = await _insert_consent(actor, performer, checked.consent)
            changes.append(Change("guardian_consent.recorded", performer.id, {"consent": consent.id}))
        await audit.services.record_many(actor, changes)
    return performer


async def _write_at_once(
    actor: Actor, checked: _Checked, keys: SubjectKeys, values: list[tuple[MatchKey, str]], fields: dict[str, object]
) -> Performer:
    """What `_insert` does, identity locks included, in one statement (registration_sql.write)."""
    strong = screening.strong_values(values)
    now = clock.now()
    row = {**fields, "person_id": checked.known.person_id, "training_completed_at": None, "created_at": now,
           "updated_at": now}  # fmt: skip
    performer = Performer.construct(_saved_in_db=True, **row)
    data = _audit_data(performer, keys)  # holds no person id
    link = audit.services.prepare_link(actor, Change("performer.registered", performer.id, data))
    kinds = [(k.value, v) for k, v in values]
    person_id = await registration_sql.write(row, checked.document, strong, kinds, actor.session_id, link)
    if person_id is None:
        raise DomainError(problem(ProblemCode.BLACKLISTED, "This identity is on a blacklist.", "input"))
    performer.person_id = person_id
    return performer


def _audit_data(performer: Performer, keys: SubjectKeys) -> dict[str, object]:
    indexer = config.current().indexer
    return {
        "role": performer.role,
        "status": performer.verification_status,
        "documentType": performer.document_type,
        "documentIndex": [indexer.index("DOCUMENT", v) for v in keys.documents],
        "externalRef": performer.external_ref,
        "findings": [f["code"] for f in performer.findings],
    }


async def _insert_consent(actor: Actor, performer: Performer, consent: _Consent) -> GuardianConsent:
    consent_id = new_id("gcs")
    await screening.store_subject_keys(
        consent_id, actor.platform_id, SubjectKeys(documents=[person_key(consent.document)])
    )
    return await GuardianConsent.create(
        id=consent_id,
        performer_id=performer.id,
        platform_id=actor.platform_id,
        relationship=consent.relationship,
        guardian_document_type=consent.document.type.value,
        guardian_name_masked=mask_name(consent.document.full_name),
        guardian_person_id=consent.person_id,
        guardian_verification_status=Status.VERIFIED.value,
        signed_at=consent.signed_at,
        evidence_sha256=consent.evidence_sha256,
        **_encrypt(
            "guardian_consent",
            consent_id,
            guardian_number_enc=consent.document.number,
            guardian_name_enc=consent.document.full_name,
            guardian_birth_date_enc=consent.document.birth_date.isoformat(),
            phone_enc=consent.phone,
        ),
    )


# ------------------------------------------------------------------------------- re-verification


def _not_found(*field: str) -> DomainError:
    return DomainError(problem(ProblemCode.NOT_FOUND, "No such performer on this platform.", *field))


async def _performer_for_update(actor: Actor, performer_id: str) -> Performer:
    if await get_performer(actor, performer_id) is None:
        raise _not_found("input", "performerId")
    return await Performer.select_for_update().get(id=performer_id)


def _same_person(performer: Performer, document: VerifiedDocument, person_id: str | None) -> bool | None:
    """True: the same identity key. None: a renewed passport with the same name and birth date (REVIEW)."""
    if person_id == performer.person_id:
        return True
    vault = config.current().vault
    if document.type is DocumentType.PASSPORT and performer.document_type == DocumentType.PASSPORT.value:
        name = vault.decrypt(performer.full_name_enc, aad=field_aad("performer", "full_name_enc", performer.id))
        if name.casefold() == document.full_name.casefold() and birth_date(performer) == document.birth_date:
            return None
    return False


async def reverify_performer(actor: Actor, performer_id: str, document_input: DocumentInput) -> Outcome:
    today = clock.today_in_shanghai()
    document, problems, findings = _document(document_input, today, "input", "document")
    if document is None:
        return Outcome(None, problems)
    person = await person_for(document)
    if await get_performer(actor, performer_id) is None:
        raise _not_found("input", "performerId")
    # Ask the provider before taking the row lock: an http verifier may take its whole timeout.
    answer = await config.current().identity_provider.check(performer_id, document)
    async with in_transaction():
        performer = await _performer_for_update(actor, performer_id)
        check_transition(status_of(performer), REVERIFIABLE, "The performer's verification")
        same = _same_person(performer, document, person.id)
        if same is False:
            message = "The new document does not belong to the same person."
            return Outcome(None, [problem(ProblemCode.IDENTITY_MISMATCH, message, "input", "document")])
        phone = config.current().vault.decrypt(
            performer.phone_enc, aad=field_aad("performer", "phone_enc", performer.id)
        )
        keys = SubjectKeys(documents=[person_key(document)], names=[(document.full_name, document.birth_date)])
        result = await screening.screen(actor.platform_id, keys, subject_id=performer.id)
        if result.decision is Decision.BLOCK:
            return Outcome(
                None, [problem(ProblemCode.BLACKLISTED, "This identity is on a blacklist.", "input", "document")]
            )
        stored = [finding(p.code, p.message, *(p.field or ())) for p in findings]
        stored += [_review_finding(m) for m in result.review_matches]
        if same is None:
            message = "A renewed passport with the same name and birth date: a compliance officer confirms it."
            stored.append(finding(ProblemCode.IDENTITY_MISMATCH, message, "input", "document"))
        status, stored = initial_status(answer.verdict, stored)
        for name, value in {
            **_document_fields(performer.id, document, phone),
            **_status_fields(status, stored),
        }.items():
            setattr(performer, name, value)
        await performer.save()
        await screening.store_subject_keys(performer.id, actor.platform_id, keys)
        data = {"status": status.value, "documentType": document.type.value, "samePerson": same is True}
        await audit.services.record(actor, Change("performer.reverified", performer.id, data))
    return Outcome(performer, [])


# -------------------------------------------------------------------------------- guardian consent


async def record_guardian_consent(actor: Actor, performer_id: str, data: ConsentInput) -> Outcome:
    performer = await get_performer(actor, performer_id)
    if performer is None:
        return Outcome(None, _not_found("input", "performerId").problems)
    today = clock.today_in_shanghai()
    if age_of(performer, today) >= ADULT:
        message = "The performer is 18 or older; no guardian consent is needed."
        return Outcome(None, [problem(ProblemCode.INVALID_INPUT, message, "input", "consent")])
    applicant_doc = _stored_document(performer)
    consent, problems = await _consent(actor.platform_id, data, applicant_doc, today, "input", "consent")
    if consent is None:
        return Outcome(None, problems)
    async with in_transaction():
        performer = await Performer.select_for_update().get(id=performer.id)
        now = clock.now()
        replaced = await GuardianConsent.filter(performer_id=performer.id, revoked_at__isnull=True).update(
            revoked_at=now, revoke_reason="replaced by a new consent"
        )
        stored = await _insert_consent(actor, performer, consent)
        await audit.services.record(
            actor, Change("guardian_consent.recorded", performer.id, {"consent": stored.id, "replaced": replaced})
        )
    return Outcome(performer, [])


def _stored_document(performer: Performer) -> VerifiedDocument:
    vault = config.current().vault

    def read(column: str) -> str:
        return vault.decrypt(getattr(performer, column), aad=field_aad("performer", column, performer.id))

    number = read("document_number_enc")
    return VerifiedDocument(
        type=DocumentType(performer.document_type),
        number=number,
        key_number=_key_number_of(performer, number),
        full_name=read("full_name_enc"),
        birth_date=birth_date(performer),
        nationality=None,
        expires_on=None,
        sex=None,
    )


def _key_number_of(performer: Performer, number: str) -> str:
    key, _ = identity_key_number(DocumentType(performer.document_type), number)
    return key or number


async def revoke_guardian_consent(actor: Actor, performer_id: str, reason: str) -> Outcome:
    cleaned, problems = clean_text(reason, max_len=500)
    if cleaned is None:
        return Outcome(None, prefixed(problems, "input", "reason"))
    async with in_transaction():
        performer = await _performer_for_update(actor, performer_id)
        consent = await consent_in_force(performer.id)
        if consent is None:
            raise DomainError(problem(ProblemCode.INVALID_TRANSITION, "No guardian consent is in force.", "input"))
        consent.revoked_at, consent.revoke_reason = clock.now(), cleaned
        await consent.save(update_fields=["revoked_at", "revoke_reason"])
        await audit.services.record(actor, Change("guardian_consent.revoked", performer.id, {"consent": consent.id}))
    return Outcome(performer, [])


# ------------------------------------------------------------------------------ training, agency


async def record_training(actor: Actor, performer_id: str, completed_at: datetime, course: str) -> Outcome:
    problems = []
    cleaned, course_problems = clean_text(course, max_len=200)
    problems += prefixed(course_problems, "input", "course")
    if completed_at > clock.now():
        problems.append(
            problem(ProblemCode.INVALID_INPUT, "Training cannot be completed in the future.", "input", "completedAt")
        )
    if problems:
        return Outcome(None, problems)
    async with in_transaction():
        performer = await _performer_for_update(actor, performer_id)
        latest = performer.training_completed_at
        if latest is None or completed_at > latest:
            performer.training_completed_at = completed_at
            await performer.save(update_fields=["training_completed_at", "updated_at"])
        data = {"completedAt": completed_at, "course": cleaned}
        await audit.services.record(actor, Change("performer.training_recorded", performer.id, data))
    return Outcome(performer, [])


async def set_performer_agency(actor: Actor, performer_id: str, agency_id: str | None) -> Outcome:
    problems = await _agency_problems(actor.platform_id, agency_id, "input", "agencyId")
    if problems:
        return Outcome(None, problems)
    async with in_transaction():
        performer = await _performer_for_update(actor, performer_id)
        performer.agency_id = agency_id
        await performer.save(update_fields=["agency_id", "updated_at"])
        await audit.services.record(actor, Change("performer.agency_set", performer.id, {"agency": agency_id}))
    return Outcome(performer, [])
