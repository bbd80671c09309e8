from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from schema.common.errors import not_implemented
from schema.permissions import needs

if TYPE_CHECKING:
    from schema.audit.types import AuditChainCheck, AuditEventConnection


@strawberry.type
class AuditQueries:
    @strawberry.field(description="[audit:read]", permission_classes=[needs("audit:read")])
    async def audit_events(
        self,
        info: strawberry.Info,
        subject_id: strawberry.ID | None = strawberry.UNSET,
        first: int | None = 50,
        after: str | None = strawberry.UNSET,
    ) -> Annotated[AuditEventConnection, strawberry.lazy("schema.audit.types")] | None:
        raise not_implemented("auditEvents")

    @strawberry.field(description="[audit:read]", permission_classes=[needs("audit:read")])
    async def verify_audit_chain(
        self,
        info: strawberry.Info,
        after: strawberry.ID | None = strawberry.UNSET,
        limit: int | None = 100000,
    ) -> Annotated[AuditChainCheck, strawberry.lazy("schema.audit.types")] | None:
        raise not_implemented("verifyAuditChain")
