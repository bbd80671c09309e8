from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from schema.agencies.inputs import RecordAgreementInput, RegisterAgencyInput, TerminateAgreementInput
from schema.common.errors import not_implemented
from schema.permissions import needs

if TYPE_CHECKING:
    from schema.agencies.types import RecordAgreementPayload, RegisterAgencyPayload, TerminateAgreementPayload


@strawberry.type
class AgenciesMutations:
    @strawberry.field(description="[performers:write]", permission_classes=[needs("performers:write")])
    async def register_agency(
        self, info: strawberry.Info, input: RegisterAgencyInput
    ) -> Annotated[RegisterAgencyPayload, strawberry.lazy("schema.agencies.types")]:
        raise not_implemented("registerAgency")

    @strawberry.field(description="[performers:write]", permission_classes=[needs("performers:write")])
    async def record_agreement(
        self, info: strawberry.Info, input: RecordAgreementInput
    ) -> Annotated[RecordAgreementPayload, strawberry.lazy("schema.agencies.types")]:
        raise not_implemented("recordAgreement")

    @strawberry.field(description="[performers:write]", permission_classes=[needs("performers:write")])
    async def terminate_agreement(
        self, info: strawberry.Info, input: TerminateAgreementInput
    ) -> Annotated[TerminateAgreementPayload, strawberry.lazy("schema.agencies.types")]:
        raise not_implemented("terminateAgreement")
