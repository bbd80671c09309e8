from __future__ import annotations

import base64
import binascii

import strawberry

from registry.audit import services as audit
from registry.audit.models import AuditEvent as AuditEventRecord
from schema.audit.types import (
    ActorKind,
    AuditChainCheck,
    AuditEvent,
    AuditEventConnection,
    AuditEventEdge,
)
from schema.common.convert import actor, opt, page_size
from schema.common.errors import CodedError, limit_exceeded
from schema.common.types import PageInfo
from schema.permissions import needs

MAX_CHAIN_CHECK = 100_000


def _cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def _seq(cursor: str) -> int:
    try:
        kind, _, value = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition(":")
        if kind == "seq":
            return int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise CodedError("The cursor is not one this API returned.", "BAD_USER_INPUT")


def _event(record: AuditEventRecord) -> AuditEvent:
    return AuditEvent(
        id=strawberry.ID(record.id),
        at=record.at,
        actor_kind=ActorKind(record.actor_kind),
        token_id=record.token_id,
        action=record.action,
        subject_id=strawberry.ID(record.subject_id) if record.subject_id else None,
        canonical=record.canonical,
        hash=record.hash,
        prev_hash=record.prev_hash,
    )


@strawberry.type
class AuditQueries:
    @strawberry.field(description="[audit:read]", permission_classes=[needs("audit:read")])
    async def audit_events(
        self,
        info: strawberry.Info,
        subject_id: strawberry.ID | None = strawberry.UNSET,
        first: int | None = 50,
        after: str | None = strawberry.UNSET,
    ) -> AuditEventConnection | None:
        cursor = opt(after)
        rows, has_next = await audit.list_events(
            actor(info).platform_id,
            subject_id=opt(subject_id),
            first=page_size(info, first),
            after_seq=_seq(cursor) if cursor else None,
        )
        edges = [AuditEventEdge(node=_event(r), cursor=_cursor(r.seq)) for r in rows]
        end = edges[-1].cursor if edges else None
        return AuditEventConnection(edges=edges, page_info=PageInfo(has_next_page=has_next, end_cursor=end))

    @strawberry.field(description="[audit:read]", permission_classes=[needs("audit:read")])
    async def verify_audit_chain(
        self,
        info: strawberry.Info,
        after: strawberry.ID | None = strawberry.UNSET,
        limit: int | None = 100000,
    ) -> AuditChainCheck | None:
        if limit is None or not 1 <= limit <= MAX_CHAIN_CHECK:
            raise limit_exceeded(f"`limit` must be between 1 and {MAX_CHAIN_CHECK}.")
        check = await audit.verify_chain(actor(info).platform_id, after=opt(after), limit=limit)
        broken = strawberry.ID(check.first_broken_id) if check.first_broken_id else None
        return AuditChainCheck(ok=check.ok, checked=check.checked, first_broken_id=broken)
