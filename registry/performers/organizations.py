"""Operator organizations: room operators that are companies (unified social credit code)."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.models import Model
from tortoise.transactions import in_transaction

from registry import audit, clock
from registry.actors import Actor
from registry.agencies.models import Agency
from registry.audit.services import Change
from registry.enforcement import screening
from registry.organizations import (
    CompanyInput,
    CompanyKind,
    blocked,
    check_representative,
    company_keys,
    register_company,
    representative_fields,
    status_after_screening,
    status_fields,
)
from registry.pagination import Page, page
from registry.performers.models import OperatorOrganization
from registry.problems import DomainError, Problem, ProblemCode, prefixed, problem
from registry.validators.documents import DocumentInput
from registry.validators.phones import parse_phone
from registry.validators.text import clean_text
from registry.verification import REVERIFIABLE, check_transition, effective_status


@dataclass(frozen=True, slots=True)
class OrgOutcome:
    organization: OperatorOrganization | None
    problems: list[Problem]


async def get_organization(actor: Actor, organization_id: str) -> OperatorOrganization | None:
    if actor.session_id is not None:
        return None  # onboarding clients read only their own performer
    return await OperatorOrganization.get_or_none(id=organization_id, platform_id=actor.platform_id)


async def list_organizations(actor: Actor, *, first: int, after: str | None) -> Page[OperatorOrganization]:
    return await page(OperatorOrganization.filter(platform_id=actor.platform_id), first=first, after=after)


ORGANIZATION = CompanyKind(OperatorOrganization, "org", "organization.registered", "organization")


async def register_organization(actor: Actor, data: CompanyInput) -> OrgOutcome:
    organization, problems = await register_company(actor, ORGANIZATION, data)
    return OrgOutcome(organization, problems)


# --------------------------------------------------------------------------- re-verification


@dataclass(frozen=True, slots=True)
class ReverifyCompanyInput:
    address: str | None
    contact_phone: str | None
    representative: DocumentInput | None


async def reverify_organization(
    actor: Actor, subject_id: str, data: ReverifyCompanyInput
) -> tuple[Model | None, list[Problem]]:
    """Re-verify an operator organization or an agency: same credit code, fresh six months."""
    model: type[OperatorOrganization] | type[Agency]
    model = OperatorOrganization if subject_id.startswith("org_") else Agency
    table = model._meta.db_table
    problems, changes = _reverify_changes(data)
    representative = None
    if data.representative is not None:
        representative, rep_problems = check_representative(data.representative, "input", "legalRepresentative")
        problems += rep_problems
    if problems:
        return None, problems
    async with in_transaction():
        record = await model.select_for_update().get_or_none(id=subject_id, platform_id=actor.platform_id)
        if record is None or actor.session_id is not None:
            raise DomainError(
                problem(
                    ProblemCode.NOT_FOUND, "No such organization or agency on this platform.", "input", "organizationId"
                )
            )
        current = effective_status(record.verification_status, reverify_by=record.reverify_by)
        check_transition(current, REVERIFIABLE, "The organization's verification")
        keys = company_keys(record.credit_code, representative)
        result = await screening.screen(actor.platform_id, keys, subject_id=record.id)
        if blocked(result):
            return None, blocked(result)
        status, findings = status_after_screening(result, [])
        for name, value in {**changes, **await representative_fields(table, record.id, representative),
                            **status_fields(status, findings)}.items():  # fmt: skip
            setattr(record, name, value)
        await record.save()
        await screening.store_subject_keys(record.id, actor.platform_id, keys)
        action = "organization.reverified" if model is OperatorOrganization else "agency.reverified"
        await audit.services.record(actor, Change(action, record.id, {"status": status.value, "at": clock.now()}))
    return record, []


def _reverify_changes(data: ReverifyCompanyInput) -> tuple[list[Problem], dict[str, object]]:
    problems: list[Problem] = []
    changes: dict[str, object] = {}
    if data.address is not None:
        address, p = clean_text(data.address, min_len=5, max_len=300)
        problems += prefixed(p, "input", "address")
        changes["address"] = address
    if data.contact_phone is not None:
        phone, p = parse_phone(data.contact_phone)
        problems += prefixed(p, "input", "contactPhone")
        changes["contact_phone"] = phone
    return problems, changes
