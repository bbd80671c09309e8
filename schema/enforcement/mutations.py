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

if TYPE_CHECKING:
    from schema.enforcement.types import (
        AddBlacklistEntryPayload,
        ApplyEnforcementPayload,
        LiftEnforcementPayload,
        RemoveBlacklistEntryPayload,
    )


@strawberry.type
class EnforcementMutations:
    @strawberry.field(description="[enforcement:write; blacklist:joint for a JOINT ban]")
    async def apply_enforcement(
        self, info: strawberry.Info, input: ApplyEnforcementInput
    ) -> Annotated[ApplyEnforcementPayload, strawberry.lazy("schema.enforcement.types")]:
        raise not_implemented("applyEnforcement")

    @strawberry.field(description="[enforcement:write]")
    async def lift_enforcement(
        self, info: strawberry.Info, input: LiftEnforcementInput
    ) -> Annotated[LiftEnforcementPayload, strawberry.lazy("schema.enforcement.types")]:
        raise not_implemented("liftEnforcement")

    @strawberry.field(description="[blacklist:write; blacklist:joint for JOINT]")
    async def add_blacklist_entry(
        self, info: strawberry.Info, input: BlacklistEntryInput
    ) -> Annotated[AddBlacklistEntryPayload, strawberry.lazy("schema.enforcement.types")]:
        raise not_implemented("addBlacklistEntry")

    @strawberry.field(description="[blacklist:write; only the listing platform]")
    async def remove_blacklist_entry(
        self, info: strawberry.Info, input: RemoveBlacklistEntryInput
    ) -> Annotated[RemoveBlacklistEntryPayload, strawberry.lazy("schema.enforcement.types")]:
        raise not_implemented("removeBlacklistEntry")
