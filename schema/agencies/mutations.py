from __future__ import annotations

import strawberry

from registry.agencies import agreements
from registry.agencies import services as agencies
from registry.organizations import CompanyInput
from schema.agencies.inputs import RecordAgreementInput, RegisterAgencyInput, TerminateAgreementInput
from schema.agencies.types import (
    Agency,
    Agreement,
    RecordAgreementPayload,
    RegisterAgencyPayload,
    TerminateAgreementPayload,
)
from schema.common.convert import actor, attempt, opt, problems_out
from schema.common.inputs import document_input, read_upload
from schema.permissions import needs


def _agreement(outcome: agreements.AgreementOutcome) -> Agreement | None:
    return Agreement.from_record(outcome.agreement) if outcome.agreement is not None else None


@strawberry.type
class AgenciesMutations:
    @strawberry.field(description="[performers:write]", permission_classes=[needs("performers:write")])
    async def register_agency(self, info: strawberry.Info, input: RegisterAgencyInput) -> RegisterAgencyPayload:
        representative = opt(input.legal_representative)
        data = CompanyInput(
            name=input.name,
            credit_code=input.credit_code,
            address=input.address,
            contact_phone=input.contact_phone,
            representative=document_input(representative) if representative else None,
            external_ref=opt(input.external_ref),
        )
        outcome, problems = await attempt(info, lambda: agencies.register_agency(actor(info), data))
        if outcome is None:
            return RegisterAgencyPayload(agency=None, problems=problems)
        return RegisterAgencyPayload(
            agency=Agency.from_record(outcome.agency) if outcome.agency else None,
            problems=problems_out(info, outcome.problems),
        )

    @strawberry.field(description="[performers:write]", permission_classes=[needs("performers:write")])
    async def record_agreement(self, info: strawberry.Info, input: RecordAgreementInput) -> RecordAgreementPayload:
        async def work() -> agreements.AgreementOutcome:
            data = agreements.AgreementInput(
                agency_id=input.agency_id,
                party_id=input.party_id,
                signed_at=input.signed_at,
                information_security=input.information_security,
                commodity_quality_audit=input.commodity_quality_audit,
                consumer_protection=input.consumer_protection,
                valid_until=opt(input.valid_until),
                marketer_management=input.marketer_management,
                content_management=input.content_management,
                document=await read_upload(info, input.document, "input", "document"),
            )
            return await agreements.record_agreement(actor(info), data)

        outcome, problems = await attempt(info, work)
        if outcome is None:
            return RecordAgreementPayload(agreement=None, problems=problems)
        return RecordAgreementPayload(agreement=_agreement(outcome), problems=problems_out(info, outcome.problems))

    @strawberry.field(description="[performers:write]", permission_classes=[needs("performers:write")])
    async def terminate_agreement(
        self, info: strawberry.Info, input: TerminateAgreementInput
    ) -> TerminateAgreementPayload:
        outcome, problems = await attempt(
            info, lambda: agreements.terminate_agreement(actor(info), input.agreement_id, input.reason)
        )
        if outcome is None:
            return TerminateAgreementPayload(agreement=None, problems=problems)
        return TerminateAgreementPayload(agreement=_agreement(outcome), problems=problems_out(info, outcome.problems))
