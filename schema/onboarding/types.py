from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from registry.onboarding import models
from registry.onboarding import services as onboarding
from schema.common.enums import GraphQLEnum
from schema.common.types import Node, Problem
from schema.performers.types import PerformerRole
from schema.permissions import needs

if TYPE_CHECKING:
    from schema.performers.types import Performer


@strawberry.enum
class OnboardingStatus(GraphQLEnum):
    OPEN = "OPEN"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


@strawberry.type(description="A session started for an existing (role, externalRef) is bound to that performer.")
class OnboardingSession(Node):
    id: strawberry.ID
    role: PerformerRole
    external_ref: str
    status: OnboardingStatus
    client_token: str | None = strawberry.field(
        description="only in the startOnboarding answer: a bearer JWT for the applicant's own client; it can register that one performer (role and externalRef fixed by the session), reverify it, record its guardian consent, register its avatars, and read them back; nothing else"
    )
    expires_at: datetime
    created_at: datetime
    performer_id: strawberry.Private[str | None]

    @classmethod
    def from_record(cls, record: models.OnboardingSession, *, client_token: str | None = None) -> OnboardingSession:
        return cls(
            id=strawberry.ID(record.id),
            role=PerformerRole(record.role),
            external_ref=record.external_ref,
            status=OnboardingStatus(onboarding.status_of(record).value),
            client_token=client_token,
            expires_at=record.expires_at,
            created_at=record.created_at,
            performer_id=record.performer_id,
        )

    @strawberry.field(permission_classes=[needs("performers:read", client=True)])
    async def performer(
        self, info: strawberry.Info
    ) -> Annotated[Performer, strawberry.lazy("schema.performers.types")] | None:
        from schema.performers.queries import performer_node

        return await performer_node(info, self.performer_id) if self.performer_id else None


@strawberry.type
class StartOnboardingPayload:
    session: OnboardingSession | None
    problems: list[Problem]


@strawberry.type
class CancelOnboardingPayload:
    session: OnboardingSession | None
    problems: list[Problem]
