from __future__ import annotations

import strawberry

from registry.onboarding import services as onboarding
from schema.common.convert import actor, attempt
from schema.common.errors import CodedError
from schema.onboarding.inputs import CancelOnboardingInput, StartOnboardingInput
from schema.onboarding.types import CancelOnboardingPayload, OnboardingSession, StartOnboardingPayload
from schema.permissions import needs


@strawberry.type
class OnboardingMutations:
    @strawberry.field(description="[onboarding:write]", permission_classes=[needs("onboarding:write")])
    async def start_onboarding(self, info: strawberry.Info, input: StartOnboardingInput) -> StartOnboardingPayload:
        tokens = info.context.client_tokens
        if tokens is None:
            raise CodedError("Onboarding client tokens are not available in this process.", "INTERNAL")
        ttl = input.ttl_seconds if input.ttl_seconds is not None else 1800
        session, problems = await attempt(
            info, lambda: onboarding.start_session(actor(info), str(input.role), input.external_ref, ttl)
        )
        if session is None:
            return StartOnboardingPayload(session=None, problems=problems)
        token, token_id = tokens.issue(session.platform_id, session.id, session.expires_at)
        await onboarding.attach_token(session, token_id)
        return StartOnboardingPayload(session=OnboardingSession.from_record(session, client_token=token), problems=[])

    @strawberry.field(description="[onboarding:write]", permission_classes=[needs("onboarding:write")])
    async def cancel_onboarding(self, info: strawberry.Info, input: CancelOnboardingInput) -> CancelOnboardingPayload:
        session, problems = await attempt(info, lambda: onboarding.cancel_session(actor(info), input.session_id))
        if session is None:
            return CancelOnboardingPayload(session=None, problems=problems)
        if session.token_id and info.context.client_tokens is not None:
            await info.context.client_tokens.revoke(session.token_id, session.expires_at)
        return CancelOnboardingPayload(session=OnboardingSession.from_record(session), problems=[])
