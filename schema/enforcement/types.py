from __future__ import annotations

from datetime import datetime

import strawberry

from registry.enforcement import models
from schema.common.enums import GraphQLEnum
from schema.common.types import Node, Problem


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


@strawberry.type
class Enforcement(Node):
    id: strawberry.ID
    subject: Node | None
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
            id=strawberry.ID(record.id),
            subject=None,
            action=EnforcementAction(record.action),
            reason=record.reason,
            public_reason=record.public_reason,
            since=record.since,
            until=record.until,
            lifted_at=record.lifted_at,
            lift_reason=record.lift_reason,
            external_ref=record.external_ref,
        )


@strawberry.type
class ApplyEnforcementPayload:
    enforcement: Enforcement | None
    subject: Node | None = strawberry.field(
        description="the Performer, OperatorOrganization, Agency or Avatar acted on"
    )
    blacklist_entry: BlacklistEntry | None
    problems: list[Problem]


@strawberry.type
class LiftEnforcementPayload:
    enforcement: Enforcement | None
    problems: list[Problem]


@strawberry.type
class BlacklistEntry(Node):
    id: strawberry.ID
    scope: BlacklistScope
    reason: str
    keys: list[MatchKey] = strawberry.field(description="which kinds of identity keys it holds (never the raw values)")
    created_at: datetime
    until: datetime | None
    removed_at: datetime | None
    removed_reason: str | None
    external_ref: str | None


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
