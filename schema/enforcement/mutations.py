from __future__ import annotations

import strawberry

from registry.enforcement import services as enforcement
from registry.enforcement.screening import Scope
from registry.enforcement.services import ApplyInput, EntryInput, KeysInput
from registry.enforcement.status import Action
from schema.common.convert import actor, attempt, opt
from schema.common.errors import forbidden
from schema.common.inputs import read_upload
from schema.enforcement.inputs import (
    ApplyEnforcementInput,
    BlacklistEntryInput,
    LiftEnforcementInput,
    RemoveBlacklistEntryInput,
)
from schema.enforcement.queries import document_key
from schema.enforcement.types import (
    AddBlacklistEntryPayload,
    ApplyEnforcementPayload,
    BlacklistEntry,
    Enforcement,
    LiftEnforcementPayload,
    RemoveBlacklistEntryPayload,
)
from schema.permissions import allowed, needs

JOINT_SCOPE = frozenset({"blacklist:joint"})


def _scope(value: object) -> Scope:
    return Scope(str(value)) if value is not None else Scope.PLATFORM


def require_joint(info: strawberry.Info, scope: Scope) -> None:
    """Joint punishment reaches every platform: it needs the explicitly granted blacklist:joint scope."""
    if scope is Scope.JOINT and not allowed(info.context.principal, JOINT_SCOPE):
        raise forbidden("A JOINT blacklist entry needs a bearer token with the scope blacklist:joint.")


def _apply_input(input: ApplyEnforcementInput) -> ApplyInput:
    return ApplyInput(
        subject_id=input.subject_id,
        action=Action(str(input.action)),
        reason=input.reason,
        public_reason=opt(input.public_reason),
        until=opt(input.until),
        ban_reregistration=bool(opt(input.ban_reregistration)),
        blacklist_scope=_scope(opt(input.blacklist_scope)),
        blacklist_until=opt(input.blacklist_until),
        external_ref=opt(input.external_ref),
    )


async def _entry_input(info: strawberry.Info, input: BlacklistEntryInput) -> EntryInput:
    keys = KeysInput(
        document=document_key(opt(input.document)),
        credit_code=opt(input.credit_code),
        phone=opt(input.phone),
        device_id=opt(input.device_id),
        avatar_image=await read_upload(info, input.avatar_image, "input", "avatarImage"),
    )
    return EntryInput(
        keys=keys,
        reason=input.reason,
        scope=_scope(input.scope),
        avatar_id=opt(input.avatar_id),
        until=opt(input.until),
        external_ref=opt(input.external_ref),
    )


@strawberry.type
class EnforcementMutations:
    @strawberry.field(
        description="[enforcement:write; blacklist:joint for a JOINT ban]",
        permission_classes=[needs("enforcement:write")],
    )
    async def apply_enforcement(self, info: strawberry.Info, input: ApplyEnforcementInput) -> ApplyEnforcementPayload:
        data = _apply_input(input)
        if data.ban_reregistration:
            require_joint(info, data.blacklist_scope)
        applied, problems = await attempt(info, lambda: enforcement.apply_enforcement(actor(info), data))
        if applied is None:
            return ApplyEnforcementPayload(subject_id=None, enforcement=None, blacklist_entry=None, problems=problems)
        entry = applied.entry
        return ApplyEnforcementPayload(
            subject_id=applied.enforcement.subject_id,
            enforcement=Enforcement.from_record(applied.enforcement),
            blacklist_entry=BlacklistEntry.from_record(entry) if entry else None,
            problems=[],
        )

    @strawberry.field(description="[enforcement:write]", permission_classes=[needs("enforcement:write")])
    async def lift_enforcement(self, info: strawberry.Info, input: LiftEnforcementInput) -> LiftEnforcementPayload:
        measure, problems = await attempt(
            info, lambda: enforcement.lift_enforcement(actor(info), input.enforcement_id, input.reason)
        )
        return LiftEnforcementPayload(
            enforcement=Enforcement.from_record(measure) if measure else None, problems=problems
        )

    @strawberry.field(
        description="[blacklist:write; blacklist:joint for JOINT]", permission_classes=[needs("blacklist:write")]
    )
    async def add_blacklist_entry(self, info: strawberry.Info, input: BlacklistEntryInput) -> AddBlacklistEntryPayload:
        require_joint(info, _scope(input.scope))

        async def work() -> BlacklistEntry:
            data = await _entry_input(info, input)
            return BlacklistEntry.from_record(await enforcement.add_blacklist_entry(actor(info), data))

        entry, problems = await attempt(info, work)
        return AddBlacklistEntryPayload(entry=entry, problems=problems)

    @strawberry.field(
        description="[blacklist:write; only the listing platform]", permission_classes=[needs("blacklist:write")]
    )
    async def remove_blacklist_entry(
        self, info: strawberry.Info, input: RemoveBlacklistEntryInput
    ) -> RemoveBlacklistEntryPayload:
        entry, problems = await attempt(
            info, lambda: enforcement.remove_blacklist_entry(actor(info), input.entry_id, input.reason)
        )
        return RemoveBlacklistEntryPayload(
            entry=BlacklistEntry.from_record(entry) if entry else None, problems=problems
        )
