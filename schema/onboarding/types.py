from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from schema.common.enums import GraphQLEnum
from schema.common.types import Node, Problem
from schema.performers.types import PerformerRole

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
    performer: Annotated[Performer, strawberry.lazy("schema.performers.types")] | None
    created_at: datetime


@strawberry.type
class StartOnboardingPayload:
    session: OnboardingSession | None
    problems: list[Problem]


@strawberry.type
class CancelOnboardingPayload:
    session: OnboardingSession | None
    problems: list[Problem]
