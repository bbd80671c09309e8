from __future__ import annotations

import strawberry

from registry.agencies import agreements
from registry.agencies import services as agencies
from schema.agencies.types import Agency, Agreement
from schema.common.convert import actor
from schema.common.nodes import register_node
from schema.permissions import needs


@register_node("agy", "Agency", "performers:read")
async def agency_node(info: strawberry.Info, node_id: str) -> Agency | None:
    record = await agencies.get_agency(actor(info), node_id)
    return Agency.from_record(record) if record else None


@register_node("agr", "Agreement", "performers:read")
async def agreement_node(info: strawberry.Info, node_id: str) -> Agreement | None:
    record = await agreements.get_agreement(actor(info), node_id)
    return Agreement.from_record(record) if record else None


@strawberry.type
class AgenciesQueries:
    @strawberry.field(description="[performers:read]", permission_classes=[needs("performers:read")])
    async def agency(self, info: strawberry.Info, id: strawberry.ID) -> Agency | None:
        return await agency_node(info, id)
