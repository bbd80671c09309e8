from __future__ import annotations

from typing import cast

import strawberry

from registry.actors import Actor
from registry.performers import eligibility, organizations
from registry.performers import services as performers
from schema.common.convert import actor, opt, page_size
from schema.common.nodes import register_node
from schema.lean import LEAN
from schema.performers.types import (
    EligibilityReason,
    LiveEligibility,
    OperatorOrganization,
    Performer,
    PerformerConnection,
    PerformerRole,
    VerificationStatus,
)
from schema.permissions import needs


@register_node("per", "Performer", "performers:read", client=True)
async def performer_node(info: strawberry.Info, node_id: str) -> Performer | None:
    record = await performers.get_performer(actor(info), node_id)
    return Performer.from_record(record) if record else None


@register_node("org", "OperatorOrganization", "performers:read")
async def organization_node(info: strawberry.Info, node_id: str) -> OperatorOrganization | None:
    record = await organizations.get_organization(actor(info), node_id)
    return OperatorOrganization.from_record(record) if record else None


@strawberry.type
class PerformersQueries:
    @strawberry.field(
        description="[performers:read, or its onboarding client token]",
        permission_classes=[needs("performers:read", client=True)],
    )
    async def performer(self, info: strawberry.Info, id: strawberry.ID) -> Performer | None:
        return await performer_node(info, id)

    @strawberry.field(description="[performers:read]", permission_classes=[needs("performers:read")])
    async def performer_by_ref(self, info: strawberry.Info, role: PerformerRole, external_ref: str) -> Performer | None:
        record = await performers.performer_by_ref(actor(info), str(role), external_ref)
        return Performer.from_record(record) if record else None

    @strawberry.field(description="[performers:read]", permission_classes=[needs("performers:read")])
    async def performers(
        self,
        info: strawberry.Info,
        first: int | None = 20,
        after: str | None = strawberry.UNSET,
        status: VerificationStatus | None = strawberry.UNSET,
    ) -> PerformerConnection | None:
        found = await performers.list_performers(
            actor(info), first=page_size(info, first), after=opt(after), status=opt(status)
        )
        return PerformerConnection.from_page(found)

    @strawberry.field(description="[performers:read]", permission_classes=[needs("performers:read")])
    async def operator_organization(self, info: strawberry.Info, id: strawberry.ID) -> OperatorOrganization | None:
        return await organization_node(info, id)

    @strawberry.field(
        description="[eligibility:read or performers:read]; null: unknown performer",
        permission_classes=[needs("eligibility:read", "performers:read")],
        metadata=LEAN,  # asked before every live session: served without Strawberry's per-call wrapping
    )
    def live_eligibility(
        self,
        info: strawberry.Info,
        performer_id: strawberry.ID,
        avatar_id: strawberry.ID | None = strawberry.UNSET,
    ) -> LiveEligibility | None:
        # A plain function, so that an answer from the cache (most calls) is completed without creating and
        # awaiting a coroutine; otherwise it hands graphql-core the computation to await.
        who, avatar = actor(info), opt(avatar_id)
        cached = eligibility.cached_eligibility(who, performer_id, avatar)
        if cached is not None:
            return _eligibility_out(cached)
        return cast("LiveEligibility | None", _computed_eligibility(who, performer_id, avatar))


async def _computed_eligibility(who: Actor, performer_id: str, avatar_id: str | None) -> LiveEligibility | None:
    result = await eligibility.live_eligibility(who, performer_id, avatar_id)
    return None if result is None else _eligibility_out(result)


def _eligibility_out(result: eligibility.Eligibility) -> LiveEligibility:
    reasons = [EligibilityReason(r.value) for r in result.reasons]
    return LiveEligibility(allowed=result.allowed, reasons=reasons, checked_at=result.checked_at)
