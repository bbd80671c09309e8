from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from schema.common.errors import not_implemented
from schema.performers.inputs import (
    DecideReviewInput,
    RecordGuardianConsentInput,
    RecordTrainingInput,
    RegisterOperatorOrganizationInput,
    RegisterPerformerInput,
    ReverifyOrganizationInput,
    ReverifyPerformerInput,
    RevokeGuardianConsentInput,
    SetPerformerAgencyInput,
)
from schema.permissions import needs

if TYPE_CHECKING:
    from schema.performers.types import (
        DecideReviewPayload,
        RecordGuardianConsentPayload,
        RecordTrainingPayload,
        RegisterOperatorOrganizationPayload,
        RegisterPerformerPayload,
        ReverifyOrganizationPayload,
        ReverifyPerformerPayload,
        RevokeGuardianConsentPayload,
        SetPerformerAgencyPayload,
    )


@strawberry.type
class PerformersMutations:
    @strawberry.field(
        description="[performers:write or an onboarding client token] Registering the same identity again with the same (role, externalRef) returns the existing performer and no problem, so a client whose answer was lost can retry.",
        permission_classes=[needs("performers:write", client=True)],
    )
    async def register_performer(
        self, info: strawberry.Info, input: RegisterPerformerInput
    ) -> Annotated[RegisterPerformerPayload, strawberry.lazy("schema.performers.types")]:
        raise not_implemented("registerPerformer")

    @strawberry.field(
        description="[performers:write or its onboarding client token]",
        permission_classes=[needs("performers:write", client=True)],
    )
    async def reverify_performer(
        self, info: strawberry.Info, input: ReverifyPerformerInput
    ) -> Annotated[ReverifyPerformerPayload, strawberry.lazy("schema.performers.types")]:
        raise not_implemented("reverifyPerformer")

    @strawberry.field(
        description="[performers:write or its onboarding client token]",
        permission_classes=[needs("performers:write", client=True)],
    )
    async def record_guardian_consent(
        self, info: strawberry.Info, input: RecordGuardianConsentInput
    ) -> Annotated[RecordGuardianConsentPayload, strawberry.lazy("schema.performers.types")]:
        raise not_implemented("recordGuardianConsent")

    @strawberry.field(description="[performers:write]", permission_classes=[needs("performers:write")])
    async def revoke_guardian_consent(
        self, info: strawberry.Info, input: RevokeGuardianConsentInput
    ) -> Annotated[RevokeGuardianConsentPayload, strawberry.lazy("schema.performers.types")]:
        raise not_implemented("revokeGuardianConsent")

    @strawberry.field(description="[performers:write]", permission_classes=[needs("performers:write")])
    async def record_training(
        self, info: strawberry.Info, input: RecordTrainingInput
    ) -> Annotated[RecordTrainingPayload, strawberry.lazy("schema.performers.types")]:
        raise not_implemented("recordTraining")

    @strawberry.field(description="[performers:write]", permission_classes=[needs("performers:write")])
    async def set_performer_agency(
        self, info: strawberry.Info, input: SetPerformerAgencyInput
    ) -> Annotated[SetPerformerAgencyPayload, strawberry.lazy("schema.performers.types")]:
        raise not_implemented("setPerformerAgency")

    @strawberry.field(description="[performers:write]", permission_classes=[needs("performers:write")])
    async def register_operator_organization(
        self, info: strawberry.Info, input: RegisterOperatorOrganizationInput
    ) -> Annotated[RegisterOperatorOrganizationPayload, strawberry.lazy("schema.performers.types")]:
        raise not_implemented("registerOperatorOrganization")

    @strawberry.field(description="[performers:write]", permission_classes=[needs("performers:write")])
    async def reverify_organization(
        self, info: strawberry.Info, input: ReverifyOrganizationInput
    ) -> Annotated[ReverifyOrganizationPayload, strawberry.lazy("schema.performers.types")]:
        raise not_implemented("reverifyOrganization")

    @strawberry.field(description="[reviews:write]", permission_classes=[needs("reviews:write")])
    async def decide_review(
        self, info: strawberry.Info, input: DecideReviewInput
    ) -> Annotated[DecideReviewPayload, strawberry.lazy("schema.performers.types")]:
        raise not_implemented("decideReview")
