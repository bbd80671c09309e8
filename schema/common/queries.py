from __future__ import annotations

import strawberry

from schema.common.errors import not_implemented
from schema.common.types import Node
from schema.permissions import needs


@strawberry.type
class CommonQueries:
    @strawberry.field(description="[the read scope of that type]", permission_classes=[needs()])
    async def node(self, info: strawberry.Info, id: strawberry.ID) -> Node | None:
        raise not_implemented("node")
