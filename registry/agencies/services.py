"""Marketer service agencies (MCN): registration, reads and standing (DESIGN §2, regulation G-14..G-16).

An agency is a company like an operator organization: the same field validation, screening of its
credit code and (optional) legal representative, VERIFIED when screening passes, REVIEW when the
inner organization-code check fails, six-monthly re-verification through `reverify_organization`.
Uniqueness per (platform, credit code) and (platform, externalRef) is settled by the database; a
retry of the same registration returns the existing agency.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from registry import audit
from registry.actors import Actor
from registry.agencies.models import Agency
from registry.audit.services import Change
from registry.db import unique_violation
from registry.enforcement import screening
from registry.enforcement.screening import blacklisted_subjects
from registry.enforcement.status import in_force
from registry.ids import new_id
from registry.organizations import (
    CheckedCompany,
    CompanyInput,
    blocked,
    check_company,
    company_keys,
    representative_fields,
    status_after_screening,
    status_fields,
)
from registry.performers import eligibility
from registry.problems import Problem, ProblemCode, problem
from registry.verification import Status, effective_status


@dataclass(frozen=True, slots=True)
class AgencyOutcome:
    agency: Agency | None
    problems: list[Problem]


# ---------------------------------------------------------------------------------------- reads


async def get_agency(actor: Actor, agency_id: str) -> Agency | None:
    if actor.session_id is not None:
        return None  # onboarding clients read only their own performer
    return await Agency.get_or_none(id=agency_id, platform_id=actor.platform_id)


async def agencies_by_ids(actor: Actor, agency_ids: Sequence[str]) -> dict[str, Agency]:
    if actor.session_id is not None:
        return {}
    return {a.id: a for a in await Agency.filter(platform_id=actor.platform_id, id__in=list(agency_ids))}


def status_of(agency: Agency) -> Status:
    return effective_status(agency.verification_status, reverify_by=agency.reverify_by)


async def in_good_standing(agency: Agency) -> bool:
    """VERIFIED and not overdue, no blocking measure in force, not blacklisted: evaluated now."""
    measures = await in_force([agency.id])
    listed = await blacklisted_subjects(agency.platform_id, [agency.id])
    return eligibility.in_good_standing(status_of(agency), measures[agency.id], agency.id in listed)


# --------------------------------------------------------------------------------- registration


async def register_agency(actor: Actor, data: CompanyInput) -> AgencyOutcome:
    checked, problems = check_company(data, representative_field="legalRepresentative")
    if checked is None:
        return AgencyOutcome(None, problems)
    existing = await Agency.get_or_none(platform_id=actor.platform_id, credit_code=checked.credit_code)
    if existing is not None:
        return _same_registration(existing, checked)
    if checked.external_ref is not None and await Agency.exists(
        platform_id=actor.platform_id, external_ref=checked.external_ref
    ):
        return AgencyOutcome(None, [_duplicate_ref()])
    keys = company_keys(checked.credit_code, checked.representative)
    result = await screening.screen(actor.platform_id, keys)
    if blocked(result):
        return AgencyOutcome(None, blocked(result))
    status, findings = status_after_screening(result, checked.findings)
    try:
        agency = await _insert(actor, checked, keys, status, findings)
    except IntegrityError as exc:
        if unique_violation(exc) is None:
            raise
        raced = await Agency.get_or_none(platform_id=actor.platform_id, credit_code=checked.credit_code)
        return _same_registration(raced, checked) if raced else AgencyOutcome(None, [_duplicate_ref()])
    return AgencyOutcome(agency, [])


async def _insert(
    actor: Actor, checked: CheckedCompany, keys: screening.SubjectKeys, status: Status,
    findings: list[dict[str, object]],
) -> Agency:  # fmt: skip
    agency_id = new_id("agy")
    async with in_transaction():
        agency = await Agency.create(
            id=agency_id,
            platform_id=actor.platform_id,
            external_ref=checked.external_ref,
            name=checked.name,
            credit_code=checked.credit_code,
            address=checked.address,
            contact_phone=checked.contact_phone,
            **await representative_fields("agency", agency_id, checked.representative),
            **status_fields(status, findings),
        )
        await screening.store_subject_keys(agency.id, actor.platform_id, keys)
        data = {
            "creditCode": checked.credit_code,
            "status": status.value,
            "externalRef": checked.external_ref,
            "findings": [str(f["code"]) for f in findings],
        }
        await audit.services.record(actor, Change("agency.registered", agency.id, data))
    return agency


def _same_registration(existing: Agency, checked: CheckedCompany) -> AgencyOutcome:
    if existing.external_ref == checked.external_ref:
        return AgencyOutcome(existing, [])  # a safe retry of the same registration
    message = "This credit code already has an agency on this platform."
    return AgencyOutcome(None, [problem(ProblemCode.ALREADY_REGISTERED, message, "input", "creditCode")])


def _duplicate_ref() -> Problem:
    message = "This externalRef is already used by another agency."
    return problem(ProblemCode.DUPLICATE_EXTERNAL_REF, message, "input", "externalRef")
