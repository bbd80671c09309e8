from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from schema.common.errors import not_implemented
from schema.enforcement.inputs import ScreeningInput
from schema.permissions import needs

if TYPE_CHECKING:
    from schema.enforcement.types import ScreeningResult


@strawberry.type
class EnforcementQueries:
    @strawberry.field(description="[blacklist:read]", permission_classes=[needs("blacklist:read")])
    async def screen(
        self, info: strawberry.Info, input: ScreeningInput
    ) -> Annotated[ScreeningResult, strawberry.lazy("schema.enforcement.types")] | None:
        raise not_implemented("screen")
