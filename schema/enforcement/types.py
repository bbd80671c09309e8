from __future__ import annotations

from datetime import datetime

import strawberry

from registry.enforcement import models
from schema.common.enums import GraphQLEnum
from schema.common.nodes import resolve_node
from schema.common.types import Node, Problem
from schema.enforcement.loaders import entry_kinds


@strawberry.enum
class EnforcementAction(GraphQLEnum):
    WARN = strawberry.enum_value("WARN", description="account WARNED; does not block going live")
    LIMIT_TRAFFIC = strawberry.enum_value("LIMIT_TRAFFIC", description="account LIMITED; does not block going live")
    LIMIT_FUNCTIONS = strawberry.enum_value(
        "LIMIT_FUNCTIONS", description="account LIMITED; blocks going live (FUNCTION_LIMITED)"
    )
    SUSPEND_RELEASE = strawberry.enum_value(
        "SUSPEND_RELEASE",
        description="account SUSPENDED (an avatar: SUSPENDED); blocks going live; may end at `until`",
    )
    CANCEL_ACCOUNT = strawberry.enum_value("CANCEL_ACCOUNT", description="account CANCELLED; final, cannot be lifted")


@strawberry.enum
class BlacklistScope(GraphQLEnum):
    PLATFORM = strawberry.enum_value("PLATFORM", description="blocks re-registration on the platform that listed it")
    JOINT = strawberry.enum_value(
        "JOINT",
        description="joint punishment: blocks on every platform served by this gateway (scope blacklist:joint)",
    )


async def _subject(info: strawberry.Info, subject_id: str | None) -> Node | None:
    """The subject through `node`: its own type's read scope applies (FORBIDDEN nulls only this field)."""
    return await resolve_node(info, subject_id) if subject_id else None  # type: ignore[return-value]


@strawberry.type
class Enforcement(Node):
    record: strawberry.Private[models.Enforcement]
    id: strawberry.ID
    action: EnforcementAction
    reason: str
    public_reason: str
    since: datetime
    until: datetime | None
    lifted_at: datetime | None
    lift_reason: str | None
    external_ref: str | None

    @classmethod
    def from_record(cls, record: models.Enforcement) -> Enforcement:
        return cls(
            record=record,
            id=strawberry.ID(record.id),
            action=EnforcementAction(record.action),
            reason=record.reason,
            public_reason=record.public_reason,
            since=record.since,
            until=record.until,
            lifted_at=record.lifted_at,
            lift_reason=record.lift_reason,
            external_ref=record.external_ref,
        )

    @strawberry.field
    async def subject(self, info: strawberry.Info) -> Node | None:
        return await _subject(info, self.record.subject_id)


@strawberry.type
class ApplyEnforcementPayload:
    subject_id: strawberry.Private[str | None]
    enforcement: Enforcement | None
    blacklist_entry: BlacklistEntry | None
    problems: list[Problem]

    @strawberry.field(description="the Performer, OperatorOrganization, Agency or Avatar acted on")
    async def subject(self, info: strawberry.Info) -> Node | None:
        return await _subject(info, self.subject_id)


@strawberry.type
class LiftEnforcementPayload:
    enforcement: Enforcement | None
    problems: list[Problem]


@strawberry.type
class BlacklistEntry(Node):
    id: strawberry.ID
    scope: BlacklistScope
    reason: str
    created_at: datetime
    until: datetime | None
    removed_at: datetime | None
    removed_reason: str | None
    external_ref: str | None

    @classmethod
    def from_record(cls, record: models.BlacklistEntry) -> BlacklistEntry:
        return cls(
            id=strawberry.ID(record.id),
            scope=BlacklistScope(record.scope),
            reason=record.reason,
            created_at=record.created_at,
            until=record.until,
            removed_at=record.removed_at,
            removed_reason=record.removed_reason,
            external_ref=record.external_ref,
        )

    @strawberry.field(description="which kinds of identity keys it holds (never the raw values)")
    async def keys(self, info: strawberry.Info) -> list[MatchKey]:
        return [MatchKey(kind) for kind in await entry_kinds(info).load(str(self.id))]


@strawberry.type
class AddBlacklistEntryPayload:
    entry: BlacklistEntry | None
    problems: list[Problem]


@strawberry.type
class RemoveBlacklistEntryPayload:
    entry: BlacklistEntry | None
    problems: list[Problem]


@strawberry.enum
class MatchKey(GraphQLEnum):
    DOCUMENT = "DOCUMENT"
    CREDIT_CODE = "CREDIT_CODE"
    PHONE = "PHONE"
    DEVICE = "DEVICE"
    NAME_AND_BIRTHDATE = "NAME_AND_BIRTHDATE"
    AVATAR_IMAGE = "AVATAR_IMAGE"


@strawberry.enum
class ScreeningDecision(GraphQLEnum):
    CLEAR = "CLEAR"
    REVIEW = "REVIEW"
    BLOCK = "BLOCK"


@strawberry.type
class ScreeningMatch:
    key: MatchKey
    scope: BlacklistScope
    score: float = strawberry.field(description="1.0 exact")
    entry_id: strawberry.ID | None = strawberry.field(description="null when the entry belongs to another platform")


@strawberry.type
class ScreeningResult:
    decision: ScreeningDecision | None = strawberry.field(description="null exactly when problems is not empty")
    matches: list[ScreeningMatch]
    problems: list[Problem]
