from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from schema.common.errors import not_implemented
from schema.onboarding.inputs import CancelOnboardingInput, StartOnboardingInput
from schema.permissions import needs

if TYPE_CHECKING:
    from schema.onboarding.types import CancelOnboardingPayload, StartOnboardingPayload


@strawberry.type
class OnboardingMutations:
    @strawberry.field(description="[onboarding:write]", permission_classes=[needs("onboarding:write")])
    async def start_onboarding(
        self, info: strawberry.Info, input: StartOnboardingInput
    ) -> Annotated[StartOnboardingPayload, strawberry.lazy("schema.onboarding.types")]:
        raise not_implemented("startOnboarding")

    @strawberry.field(description="[onboarding:write]", permission_classes=[needs("onboarding:write")])
    async def cancel_onboarding(
        self, info: strawberry.Info, input: CancelOnboardingInput
    ) -> Annotated[CancelOnboardingPayload, strawberry.lazy("schema.onboarding.types")]:
        raise not_implemented("cancelOnboarding")
