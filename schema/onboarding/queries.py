from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from schema.common.errors import not_implemented
from schema.permissions import client_only

if TYPE_CHECKING:
    from schema.onboarding.types import OnboardingSession


@strawberry.type
class OnboardingQueries:
    @strawberry.field(description="[an onboarding client token: its own session]", permission_classes=[client_only()])
    async def onboarding_session(
        self, info: strawberry.Info
    ) -> Annotated[OnboardingSession, strawberry.lazy("schema.onboarding.types")] | None:
        raise not_implemented("onboardingSession")
