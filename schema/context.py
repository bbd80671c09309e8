"""The per-request context every resolver receives as `info.context`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from registry.actors import Actor, ActorKind
from registry.platforms.scopes import ONBOARDING_CLIENT_SCOPE


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: a platform's service token or an onboarding client token."""

    platform_id: str
    scopes: frozenset[str]
    token_id: str
    session_id: str | None = None

    @property
    def is_onboarding_client(self) -> bool:
        return self.session_id is not None and ONBOARDING_CLIENT_SCOPE in self.scopes

    @property
    def actor(self) -> Actor:
        kind = ActorKind.ONBOARDING_CLIENT if self.is_onboarding_client else ActorKind.PLATFORM_TOKEN
        return Actor(kind, self.platform_id, token_id=self.token_id, session_id=self.session_id)


class ClientTokens(Protocol):
    """Issues and revokes onboarding client tokens (the gateway holds the signing keys)."""

    def issue(self, platform_id: str, session_id: str, expires_at: datetime) -> tuple[str, str]: ...

    async def revoke(self, token_id: str, expires_at: datetime) -> None: ...


@dataclass(slots=True)
class Context:
    request_id: str
    principal: Principal | None
    page_limit: int = 100
    file_limit: int = 8 * 1024 * 1024
    import_limit: int = 1000
    # Per-request DataLoaders and memo, created fresh for every request.
    loaders: dict[str, Any] = field(default_factory=dict)
    client_tokens: ClientTokens | None = None
    request: Any = None
    response: Any = None
