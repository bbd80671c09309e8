"""What operator organizations and agencies share: validation of the company fields, screening,
status and re-verification. Each keeps its own table; the rules are the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from registry import audit, clock, config
from registry.actors import Actor
from registry.audit.services import Change
from registry.crypto import field_aad
from registry.db import unique_violation
from registry.enforcement import screening
from registry.enforcement.screening import Decision, Screening, SubjectKeys
from registry.identities.services import person_for, person_key
from registry.ids import new_id
from registry.problems import Problem, ProblemCode, prefixed, problem
from registry.validators.age import age_on
from registry.validators.documents import DocumentInput, VerifiedDocument, mask_name, validate_document
from registry.validators.phones import parse_phone
from registry.validators.text import clean_external_ref, clean_text
from registry.validators.uscc import validate_credit_code
from registry.verification import Status, finding, reverify_deadline

ADULT = 18


@dataclass(frozen=True, slots=True)
class CompanyInput:
    name: str
    credit_code: str
    address: str
    contact_phone: str
    representative: DocumentInput | None
    external_ref: str | None


@dataclass(frozen=True, slots=True)
class CheckedCompany:
    name: str
    credit_code: str
    address: str
    contact_phone: str
    representative: VerifiedDocument | None
    external_ref: str | None
    findings: list[dict[str, object]]


def check_representative(doc: DocumentInput, *path: str) -> tuple[VerifiedDocument | None, list[Problem]]:
    today = clock.today_in_shanghai()
    verified, problems, _ = validate_document(doc, today=today)
    problems = prefixed(problems, *path)
    if verified is not None and age_on(verified.birth_date, today, config.current().age_rule) < ADULT:
        problems.append(problem(ProblemCode.INVALID_DOCUMENT, "A legal representative must be 18 or older.", *path))
    return (verified if not problems else None), problems


def check_company(data: CompanyInput, *, representative_field: str) -> tuple[CheckedCompany | None, list[Problem]]:
    problems: list[Problem] = []
    name, p = clean_text(data.name, max_len=200)
    problems += prefixed(p, "input", "name")
    code, p = validate_credit_code(data.credit_code)
    problems += prefixed(p, "input", "creditCode")
    address, p = clean_text(data.address, min_len=5, max_len=300)
    problems += prefixed(p, "input", "address")
    phone, p = parse_phone(data.contact_phone)
    problems += prefixed(p, "input", "contactPhone")
    ref, p = clean_external_ref(data.external_ref)
    problems += prefixed(p, "input", "externalRef")
    representative = None
    if data.representative is not None:
        representative, p = check_representative(data.representative, "input", representative_field)
        problems += p
    if problems or name is None or code is None or address is None or phone is None:
        return None, problems
    findings = []
    if not code.inner_check_ok:
        message = "The organization code inside the credit code fails its own check; a compliance officer confirms it."
        findings.append(finding(ProblemCode.INVALID_CREDIT_CODE, message, "input", "creditCode"))
    return CheckedCompany(name, code.code, address, phone, representative, ref, findings), []


def company_keys(credit_code: str, representative: VerifiedDocument | None) -> SubjectKeys:
    documents = [person_key(representative)] if representative is not None else []
    return SubjectKeys(credit_codes=[credit_code], documents=documents)


def review_finding(match: screening.Match) -> dict[str, object]:
    what = match.key.value.replace("_", " ").lower()
    message = f"A {what} matches a blacklist entry; a compliance officer will review."
    return finding(ProblemCode.BLACKLISTED, message, entryId=match.entry_id, key=match.key.value)


def blocked(result: Screening) -> list[Problem]:
    if result.decision is Decision.BLOCK:
        return [problem(ProblemCode.BLACKLISTED, "This organization or its representative is on a blacklist.", "input")]
    return []


def status_after_screening(
    result: Screening, findings: list[dict[str, object]]
) -> tuple[Status, list[dict[str, object]]]:
    stored = findings + [review_finding(m) for m in result.review_matches]
    return (Status.REVIEW if stored else Status.VERIFIED), stored


def status_fields(status: Status, findings: list[dict[str, object]]) -> dict[str, object]:
    now = clock.now()
    verified = status is Status.VERIFIED
    return {
        "verification_status": status.value,
        "findings": findings,
        "verified_at": now if verified else None,
        "reverify_by": reverify_deadline(now) if verified else None,
    }


async def representative_fields(table: str, record_id: str, document: VerifiedDocument | None) -> dict[str, object]:
    if document is None:
        return {}
    vault = config.current().vault
    person = await person_for(document)
    return {
        "representative_document_type": document.type.value,
        "representative_number_enc": vault.encrypt(
            document.number, aad=field_aad(table, "representative_number_enc", record_id)
        ),
        "representative_name_enc": vault.encrypt(
            document.full_name, aad=field_aad(table, "representative_name_enc", record_id)
        ),
        "representative_name_masked": mask_name(document.full_name),
        "representative_person_id": person.id,
    }


# ------------------------------------------------------------------------------ registration


@dataclass(frozen=True, slots=True)
class CompanyKind:
    """What differs between operator organizations and agencies when they register."""

    model: type[Any]  # OperatorOrganization or Agency
    prefix: str
    action: str  # the audit action
    noun: str  # for messages: "organization", "agency"


async def register_company(actor: Actor, kind: CompanyKind, data: CompanyInput) -> tuple[Any | None, list[Problem]]:
    """Register once per (platform, credit code); a retry with the same externalRef returns the record."""
    checked, problems = check_company(data, representative_field="legalRepresentative")
    if checked is None:
        return None, problems
    earlier = await _earlier(actor, kind, checked)
    if earlier is not None:
        return earlier
    keys = company_keys(checked.credit_code, checked.representative)
    result = await screening.screen(actor.platform_id, keys)
    if blocked(result):
        return None, blocked(result)
    status, findings = status_after_screening(result, checked.findings)
    try:
        return await _insert_company(actor, kind, checked, keys, status, findings), []
    except IntegrityError as exc:
        if unique_violation(exc) is None:
            raise
        return await _earlier(actor, kind, checked) or (None, [_duplicate_ref(kind)])


async def _earlier(actor: Actor, kind: CompanyKind, checked: CheckedCompany) -> tuple[Any | None, list[Problem]] | None:
    existing = await kind.model.get_or_none(platform_id=actor.platform_id, credit_code=checked.credit_code)
    if existing is not None:
        if existing.external_ref == checked.external_ref:
            return existing, []  # a safe retry of the same registration
        message = f"This credit code already has an {kind.noun} on this platform."
        return None, [problem(ProblemCode.ALREADY_REGISTERED, message, "input", "creditCode")]
    if checked.external_ref is not None and await kind.model.exists(
        platform_id=actor.platform_id, external_ref=checked.external_ref
    ):
        return None, [_duplicate_ref(kind)]
    return None


def _duplicate_ref(kind: CompanyKind) -> Problem:
    message = f"This externalRef is already used by another {kind.noun}."
    return problem(ProblemCode.DUPLICATE_EXTERNAL_REF, message, "input", "externalRef")


async def _insert_company(
    actor: Actor, kind: CompanyKind, checked: CheckedCompany, keys: SubjectKeys, status: Status,
    findings: list[dict[str, object]],
) -> Any:  # fmt: skip
    record_id = new_id(kind.prefix)
    async with in_transaction():
        record = await kind.model.create(
            id=record_id,
            platform_id=actor.platform_id,
            external_ref=checked.external_ref,
            name=checked.name,
            credit_code=checked.credit_code,
            address=checked.address,
            contact_phone=checked.contact_phone,
            **await representative_fields(kind.model._meta.db_table, record_id, checked.representative),
            **status_fields(status, findings),
        )
        await screening.store_subject_keys(record.id, actor.platform_id, keys)
        data = {
            "creditCode": checked.credit_code,
            "status": status.value,
            "externalRef": checked.external_ref,
            "findings": [str(f["code"]) for f in findings],
        }
        await audit.services.record(actor, Change(kind.action, record.id, data))
    return record
