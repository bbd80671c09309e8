from __future__ import annotations

import strawberry

from registry.onboarding import services as onboarding
from schema.common.convert import actor
from schema.common.nodes import register_node
from schema.onboarding.types import OnboardingSession
from schema.permissions import client_only


@register_node("onb", "OnboardingSession", "onboarding:write", client=True)
async def session_node(info: strawberry.Info, node_id: str) -> OnboardingSession | None:
    record = await onboarding.get_session(actor(info), node_id)
    return OnboardingSession.from_record(record) if record else None


@strawberry.type
class OnboardingQueries:
    @strawberry.field(description="[an onboarding client token: its own session]", permission_classes=[client_only()])
    async def onboarding_session(self, info: strawberry.Info) -> OnboardingSession | None:
        session_id = info.context.principal.session_id if info.context.principal else None
        return await session_node(info, session_id) if session_id else None
