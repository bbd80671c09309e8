from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from schema.common.errors import not_implemented
from schema.performers.types import PerformerRole, VerificationStatus
from schema.permissions import needs

if TYPE_CHECKING:
    from schema.performers.types import LiveEligibility, OperatorOrganization, Performer, PerformerConnection


@strawberry.type
class PerformersQueries:
    @strawberry.field(
        description="[performers:read, or its onboarding client token]",
        permission_classes=[needs("performers:read", client=True)],
    )
    async def performer(
        self, info: strawberry.Info, id: strawberry.ID
    ) -> Annotated[Performer, strawberry.lazy("schema.performers.types")] | None:
        raise not_implemented("performer")

    @strawberry.field(description="[performers:read]", permission_classes=[needs("performers:read")])
    async def performer_by_ref(
        self, info: strawberry.Info, role: PerformerRole, external_ref: str
    ) -> Annotated[Performer, strawberry.lazy("schema.performers.types")] | None:
        raise not_implemented("performerByRef")

    @strawberry.field(description="[performers:read]", permission_classes=[needs("performers:read")])
    async def performers(
        self,
        info: strawberry.Info,
        first: int | None = 20,
        after: str | None = strawberry.UNSET,
        status: VerificationStatus | None = strawberry.UNSET,
    ) -> Annotated[PerformerConnection, strawberry.lazy("schema.performers.types")] | None:
        raise not_implemented("performers")

    @strawberry.field(description="[performers:read]", permission_classes=[needs("performers:read")])
    async def operator_organization(
        self, info: strawberry.Info, id: strawberry.ID
    ) -> Annotated[OperatorOrganization, strawberry.lazy("schema.performers.types")] | None:
        raise not_implemented("operatorOrganization")

    @strawberry.field(
        description="[eligibility:read or performers:read]; null: unknown performer",
        permission_classes=[needs("eligibility:read", "performers:read")],
    )
    async def live_eligibility(
        self,
        info: strawberry.Info,
        performer_id: strawberry.ID,
        avatar_id: strawberry.ID | None = strawberry.UNSET,
    ) -> Annotated[LiveEligibility, strawberry.lazy("schema.performers.types")] | None:
        raise not_implemented("liveEligibility")
