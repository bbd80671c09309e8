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

from registry.actors import Actor
from registry.agencies.models import Agency
from registry.enforcement.screening import blacklisted_subjects
from registry.enforcement.status import in_force
from registry.organizations import (
    CompanyInput,
    CompanyKind,
    register_company,
)
from registry.performers import eligibility
from registry.problems import Problem
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


AGENCY = CompanyKind(Agency, "agy", "agency.registered", "agency")


async def register_agency(actor: Actor, data: CompanyInput) -> AgencyOutcome:
    agency, problems = await register_company(actor, AGENCY, data)
    return AgencyOutcome(agency, problems)
