from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from schema.common.errors import not_implemented
from schema.permissions import needs

if TYPE_CHECKING:
    from schema.agencies.types import Agency


@strawberry.type
class AgenciesQueries:
    @strawberry.field(description="[performers:read]", permission_classes=[needs("performers:read")])
    async def agency(
        self, info: strawberry.Info, id: strawberry.ID
    ) -> Annotated[Agency, strawberry.lazy("schema.agencies.types")] | None:
        raise not_implemented("agency")
