"""Who acts: every registry write names its actor, and the audit trail records it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ActorKind(StrEnum):
    PLATFORM_TOKEN = "PLATFORM_TOKEN"
    ONBOARDING_CLIENT = "ONBOARDING_CLIENT"
    PROVIDER_CALLBACK = "PROVIDER_CALLBACK"
    SYSTEM = "SYSTEM"
    CLI = "CLI"


@dataclass(frozen=True, slots=True)
class Actor:
    kind: ActorKind
    platform_id: str
    token_id: str | None = None  # the acting token's jti
    session_id: str | None = None  # set for onboarding client tokens

    @classmethod
    def cli(cls, platform_id: str) -> Actor:
        return cls(ActorKind.CLI, platform_id)

    @classmethod
    def system(cls, platform_id: str) -> Actor:
        return cls(ActorKind.SYSTEM, platform_id)
