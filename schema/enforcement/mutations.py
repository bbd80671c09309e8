from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from schema.common.errors import not_implemented
from schema.enforcement.inputs import (
    ApplyEnforcementInput,
    BlacklistEntryInput,
    LiftEnforcementInput,
    RemoveBlacklistEntryInput,
)
from schema.permissions import needs

if TYPE_CHECKING:
    from schema.enforcement.types import (
        AddBlacklistEntryPayload,
        ApplyEnforcementPayload,
        LiftEnforcementPayload,
        RemoveBlacklistEntryPayload,
    )


@strawberry.type
class EnforcementMutations:
    @strawberry.field(
        description="[enforcement:write; blacklist:joint for a JOINT ban]",
        permission_classes=[needs("enforcement:write")],
    )
    async def apply_enforcement(
        self, info: strawberry.Info, input: ApplyEnforcementInput
    ) -> Annotated[ApplyEnforcementPayload, strawberry.lazy("schema.enforcement.types")]:
        raise not_implemented("applyEnforcement")

    @strawberry.field(description="[enforcement:write]", permission_classes=[needs("enforcement:write")])
    async def lift_enforcement(
        self, info: strawberry.Info, input: LiftEnforcementInput
    ) -> Annotated[LiftEnforcementPayload, strawberry.lazy("schema.enforcement.types")]:
        raise not_implemented("liftEnforcement")

    @strawberry.field(
        description="[blacklist:write; blacklist:joint for JOINT]", permission_classes=[needs("blacklist:write")]
    )
    async def add_blacklist_entry(
        self, info: strawberry.Info, input: BlacklistEntryInput
    ) -> Annotated[AddBlacklistEntryPayload, strawberry.lazy("schema.enforcement.types")]:
        raise not_implemented("addBlacklistEntry")

    @strawberry.field(
        description="[blacklist:write; only the listing platform]", permission_classes=[needs("blacklist:write")]
    )
    async def remove_blacklist_entry(
        self, info: strawberry.Info, input: RemoveBlacklistEntryInput
    ) -> Annotated[RemoveBlacklistEntryPayload, strawberry.lazy("schema.enforcement.types")]:
        raise not_implemented("removeBlacklistEntry")
