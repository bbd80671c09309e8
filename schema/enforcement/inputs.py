from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.file_uploads import Upload

from schema.enforcement.types import BlacklistScope, EnforcementAction
from schema.performers.inputs import IdentityKeyInput


@strawberry.input
class ApplyEnforcementInput:
    subject_id: strawberry.ID = strawberry.field(description="Performer, OperatorOrganization, Agency or Avatar")
    action: EnforcementAction
    reason: str = strawberry.field(description="internal note for compliance staff")
    public_reason: str | None = strawberry.field(
        description="what the subject may be told; defaults to a generic sentence", default=strawberry.UNSET
    )
    until: datetime | None = strawberry.field(
        description="LIMIT_TRAFFIC, LIMIT_FUNCTIONS and SUSPEND_RELEASE may be temporary",
        default=strawberry.UNSET,
    )
    ban_reregistration: bool | None = strawberry.field(
        description="only with CANCEL_ACCOUNT: blacklist the subject's identity keys", default=False
    )
    blacklist_scope: BlacklistScope | None = strawberry.field(default=BlacklistScope.PLATFORM)
    blacklist_until: datetime | None = strawberry.field(description="null: permanent", default=strawberry.UNSET)
    external_ref: str | None = strawberry.field(description="the platform's case number", default=strawberry.UNSET)


@strawberry.input
class LiftEnforcementInput:
    enforcement_id: strawberry.ID
    reason: str


@strawberry.input(description="At least one key is required.")
class BlacklistEntryInput:
    reason: str
    scope: BlacklistScope
    document: IdentityKeyInput | None = strawberry.field(default=strawberry.UNSET)
    credit_code: str | None = strawberry.field(default=strawberry.UNSET)
    phone: str | None = strawberry.field(default=strawberry.UNSET)
    device_id: str | None = strawberry.field(default=strawberry.UNSET)
    avatar_image: Upload | None = strawberry.field(default=strawberry.UNSET)
    avatar_id: strawberry.ID | None = strawberry.field(default=strawberry.UNSET)
    until: datetime | None = strawberry.field(description="null: permanent", default=strawberry.UNSET)
    external_ref: str | None = strawberry.field(default=strawberry.UNSET)


@strawberry.input
class RemoveBlacklistEntryInput:
    entry_id: strawberry.ID
    reason: str


@strawberry.input
class ScreeningInput:
    document: IdentityKeyInput | None = strawberry.field(default=strawberry.UNSET)
    credit_code: str | None = strawberry.field(default=strawberry.UNSET)
    phone: str | None = strawberry.field(default=strawberry.UNSET)
    device_id: str | None = strawberry.field(default=strawberry.UNSET)
    avatar_image: Upload | None = strawberry.field(default=strawberry.UNSET)
