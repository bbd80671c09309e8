from __future__ import annotations

import strawberry

from schema.performers.types import PerformerRole


@strawberry.input
class StartOnboardingInput:
    role: PerformerRole
    external_ref: str
    ttl_seconds: int | None = strawberry.field(description="300 to 86400", default=1800)


@strawberry.input
class CancelOnboardingInput:
    session_id: strawberry.ID
