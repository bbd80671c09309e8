from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry

from registry import reviews
from registry.organizations import CompanyInput
from registry.performers import organizations
from registry.performers import services as performers
from registry.performers.services import ConsentInput, RegisterInput
from schema.common.convert import actor, attempt, opt, problems_out
from schema.common.inputs import document_input, read_upload
from schema.common.nodes import resolve_node
from schema.lean import LEAN
from schema.performers.inputs import (
    DecideReviewInput,
    GuardianConsentInput,
    RecordGuardianConsentInput,
    RecordTrainingInput,
    RegisterOperatorOrganizationInput,
    RegisterPerformerInput,
    ReverifyOrganizationInput,
    ReverifyPerformerInput,
    RevokeGuardianConsentInput,
    SetPerformerAgencyInput,
)
from schema.performers.types import (
    DecideReviewPayload,
    OperatorOrganization,
    Performer,
    RecordGuardianConsentPayload,
    RecordTrainingPayload,
    RegisterOperatorOrganizationPayload,
    RegisterPerformerPayload,
    ReverifyOrganizationPayload,
    ReverifyPerformerPayload,
    RevokeGuardianConsentPayload,
    SetPerformerAgencyPayload,
)
from schema.permissions import needs


async def _consent(info: strawberry.Info, consent: GuardianConsentInput, *path: str) -> ConsentInput:
    return ConsentInput(
        guardian=document_input(consent.guardian),
        relationship=str(consent.relationship),
        phone=consent.phone,
        signed_at=consent.signed_at,
        evidence=await read_upload(info, consent.evidence, *path, "evidence"),
    )


P = TypeVar("P")


async def _performer_payload(
    info: strawberry.Info, payload: Callable[..., P], work: Callable[[], Awaitable[performers.Outcome]]
) -> P:
    """Run a performer service and translate its outcome (or its DomainError) into the payload."""
    outcome, problems = await attempt(info, work)
    if outcome is None:
        return payload(performer=None, problems=problems)
    record = outcome.performer
    return payload(
        performer=Performer.from_record(record) if record is not None else None,
        problems=problems_out(info, outcome.problems),
    )


@strawberry.type
class PerformersMutations:
    @strawberry.field(
        description="[performers:write or an onboarding client token] Registering the same identity again with the same (role, externalRef) returns the existing performer and no problem, so a client whose answer was lost can retry.",
        permission_classes=[needs("performers:write", client=True)],
        metadata=LEAN,
    )
    async def register_performer(
        self, info: strawberry.Info, input: RegisterPerformerInput
    ) -> RegisterPerformerPayload:
        async def work() -> performers.Outcome:
            consent = opt(input.guardian_consent)
            data = RegisterInput(
                role=str(input.role),
                document=document_input(input.document),
                phone=input.phone,
                external_ref=opt(input.external_ref),
                device_id=opt(input.device_id),
                guardian_consent=await _consent(info, consent, "input", "guardianConsent") if consent else None,
                agency_id=opt(input.agency_id),
            )
            return await performers.register_performer(actor(info), data)

        return await _performer_payload(info, RegisterPerformerPayload, work)

    @strawberry.field(
        description="[performers:write or its onboarding client token]",
        permission_classes=[needs("performers:write", client=True)],
    )
    async def reverify_performer(
        self, info: strawberry.Info, input: ReverifyPerformerInput
    ) -> ReverifyPerformerPayload:
        return await _performer_payload(
            info,
            ReverifyPerformerPayload,
            lambda: performers.reverify_performer(actor(info), input.performer_id, document_input(input.document)),
        )

    @strawberry.field(
        description="[performers:write or its onboarding client token]",
        permission_classes=[needs("performers:write", client=True)],
    )
    async def record_guardian_consent(
        self, info: strawberry.Info, input: RecordGuardianConsentInput
    ) -> RecordGuardianConsentPayload:
        async def work() -> performers.Outcome:
            consent = await _consent(info, input.consent, "input", "consent")
            return await performers.record_guardian_consent(actor(info), input.performer_id, consent)

        return await _performer_payload(info, RecordGuardianConsentPayload, work)

    @strawberry.field(description="[performers:write]", permission_classes=[needs("performers:write")])
    async def revoke_guardian_consent(
        self, info: strawberry.Info, input: RevokeGuardianConsentInput
    ) -> RevokeGuardianConsentPayload:
        return await _performer_payload(
            info,
            RevokeGuardianConsentPayload,
            lambda: performers.revoke_guardian_consent(actor(info), input.performer_id, input.reason),
        )

    @strawberry.field(description="[performers:write]", permission_classes=[needs("performers:write")])
    async def record_training(self, info: strawberry.Info, input: RecordTrainingInput) -> RecordTrainingPayload:
        return await _performer_payload(
            info,
            RecordTrainingPayload,
            lambda: performers.record_training(actor(info), input.performer_id, input.completed_at, input.course),
        )

    @strawberry.field(description="[performers:write]", permission_classes=[needs("performers:write")])
    async def set_performer_agency(
        self, info: strawberry.Info, input: SetPerformerAgencyInput
    ) -> SetPerformerAgencyPayload:
        return await _performer_payload(
            info,
            SetPerformerAgencyPayload,
            lambda: performers.set_performer_agency(actor(info), input.performer_id, opt(input.agency_id)),
        )

    @strawberry.field(description="[performers:write]", permission_classes=[needs("performers:write")])
    async def register_operator_organization(
        self, info: strawberry.Info, input: RegisterOperatorOrganizationInput
    ) -> RegisterOperatorOrganizationPayload:
        data = CompanyInput(
            name=input.name,
            credit_code=input.credit_code,
            address=input.address,
            contact_phone=input.contact_phone,
            representative=document_input(input.legal_representative),
            external_ref=opt(input.external_ref),
        )
        outcome, problems = await attempt(info, lambda: organizations.register_organization(actor(info), data))
        if outcome is None:
            return RegisterOperatorOrganizationPayload(organization=None, problems=problems)
        record = outcome.organization
        return RegisterOperatorOrganizationPayload(
            organization=OperatorOrganization.from_record(record) if record else None,
            problems=problems_out(info, outcome.problems),
        )

    @strawberry.field(description="[performers:write]", permission_classes=[needs("performers:write")])
    async def reverify_organization(
        self, info: strawberry.Info, input: ReverifyOrganizationInput
    ) -> ReverifyOrganizationPayload:
        representative = opt(input.legal_representative)
        data = organizations.ReverifyCompanyInput(
            address=opt(input.address),
            contact_phone=opt(input.contact_phone),
            representative=document_input(representative) if representative else None,
        )
        result, problems = await attempt(
            info, lambda: organizations.reverify_organization(actor(info), input.organization_id, data)
        )
        if result is None:
            return ReverifyOrganizationPayload(organization=None, problems=problems)
        record, found = result
        if record is None:
            return ReverifyOrganizationPayload(organization=None, problems=problems_out(info, found))
        return ReverifyOrganizationPayload(organization=await resolve_node(info, record.pk), problems=[])  # type: ignore[arg-type]

    @strawberry.field(description="[reviews:write]", permission_classes=[needs("reviews:write")])
    async def decide_review(self, info: strawberry.Info, input: DecideReviewInput) -> DecideReviewPayload:
        decision = reviews.ReviewDecision(str(input.decision))
        record, problems = await attempt(
            info, lambda: reviews.decide_review(actor(info), input.subject_id, decision, input.reason)
        )
        if record is None:
            return DecideReviewPayload(subject=None, problems=problems)
        return DecideReviewPayload(subject=await resolve_node(info, record.pk), problems=[])  # type: ignore[arg-type]
