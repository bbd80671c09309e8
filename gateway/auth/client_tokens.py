"""Onboarding client tokens: the same JWT form with scope onboarding:client and the session id."""

from __future__ import annotations

from datetime import datetime

from gateway.auth.tokens import TokenService
from registry import clock
from registry.platforms.scopes import ONBOARDING_CLIENT_SCOPE


class GatewayClientTokens:
    def __init__(self, tokens: TokenService) -> None:
        self._tokens = tokens

    def issue(self, platform_id: str, session_id: str, expires_at: datetime) -> tuple[str, str]:
        token, claims = self._tokens.issue(
            platform_id, [ONBOARDING_CLIENT_SCOPE], lifetime=expires_at - clock.now(), sid=session_id
        )
        return token, claims.jti

    async def revoke(self, token_id: str, expires_at: datetime) -> None:
        await self._tokens.revoke_jti(token_id, expires_at)
