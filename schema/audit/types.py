from __future__ import annotations

from datetime import datetime

import strawberry

from schema.common.enums import GraphQLEnum
from schema.common.types import Node, PageInfo


@strawberry.enum
class ActorKind(GraphQLEnum):
    PLATFORM_TOKEN = "PLATFORM_TOKEN"
    ONBOARDING_CLIENT = "ONBOARDING_CLIENT"
    PROVIDER_CALLBACK = "PROVIDER_CALLBACK"
    SYSTEM = "SYSTEM"
    CLI = "CLI"


@strawberry.type(
    description="""One hash chain per platform, starting from 64 zeros. `canonical` is the exact text that
was hashed: ids, blind indexes and statuses, never raw personal data."""
)
class AuditEvent(Node):
    id: strawberry.ID
    at: datetime
    actor_kind: ActorKind
    token_id: str | None = strawberry.field(description="the acting token's jti, where a token acted")
    action: str = strawberry.field(
        description="e.g. performer.registered, enforcement.applied (catalogue in the project docs)"
    )
    subject_id: strawberry.ID | None
    canonical: str
    hash: str = strawberry.field(description="sha256 hex over prevHash and canonical")
    prev_hash: str


@strawberry.type
class AuditEventEdge:
    node: AuditEvent
    cursor: str


@strawberry.type
class AuditEventConnection:
    edges: list[AuditEventEdge]
    page_info: PageInfo


@strawberry.type
class AuditChainCheck:
    ok: bool
    checked: int
    first_broken_id: strawberry.ID | None
