from __future__ import annotations

import strawberry

from schema.common.nodes import resolve_node
from schema.common.types import Node
from schema.permissions import needs


@strawberry.type
class CommonQueries:
    @strawberry.field(description="[the read scope of that type]", permission_classes=[needs()])
    async def node(self, info: strawberry.Info, id: strawberry.ID) -> Node | None:
        return await resolve_node(info, id)  # type: ignore[return-value]
