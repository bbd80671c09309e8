from __future__ import annotations

import strawberry

from registry.avatars import services as avatars
from registry.avatars.services import LikenessInput as LikenessData
from registry.avatars.services import Outcome, RegisterInput
from registry.problems import DomainError, ProblemCode, problem
from schema.avatars.inputs import (
    UPLOAD_NEEDED,
    AvatarDriverInput,
    LikenessInput,
    RegisterAvatarInput,
    RetireAvatarInput,
    RevokeLikenessConsentInput,
    TransferAvatarInput,
)
from schema.avatars.types import (
    AuthorizeDriverPayload,
    Avatar,
    RegisterAvatarPayload,
    RetireAvatarPayload,
    RevokeDriverPayload,
    RevokeLikenessConsentPayload,
    TransferAvatarPayload,
)
from schema.common.convert import actor, attempt, opt, problems_out
from schema.common.inputs import document_input, read_upload
from schema.common.types import Problem
from schema.permissions import needs


async def _likeness(info: strawberry.Info, likeness: LikenessInput) -> LikenessData:
    return LikenessData(
        rights_holder=document_input(likeness.rights_holder),
        portrait=likeness.portrait,
        voice=likeness.voice,
        signed_at=likeness.signed_at,
        valid_until=opt(likeness.valid_until),
        evidence=await read_upload(info, likeness.evidence, "input", "likeness", "evidence"),
    )


def _answer(
    info: strawberry.Info, outcome: Outcome | None, problems: list[Problem]
) -> tuple[Avatar | None, list[Problem]]:
    """The payload's (avatar, problems) from a registry outcome, or from the problems a DomainError carried."""
    if outcome is None:
        return None, problems
    avatar = Avatar.from_record(outcome.avatar) if outcome.avatar is not None else None
    return avatar, problems_out(info, outcome.problems)


@strawberry.type
class AvatarsMutations:
    @strawberry.field(
        description="[avatars:write or its onboarding client token]",
        permission_classes=[needs("avatars:write", client=True)],
    )
    async def register_avatar(self, info: strawberry.Info, input: RegisterAvatarInput) -> RegisterAvatarPayload:
        async def work() -> Outcome:
            image = await read_upload(info, input.image, "input", "image")
            likeness = opt(input.likeness)
            if image is None:
                raise DomainError(problem(ProblemCode.INVALID_INPUT, UPLOAD_NEEDED, "input", "image"))
            data = RegisterInput(
                name=input.name,
                operator_id=input.operator_id,
                image=image,
                kind=input.kind.value,
                likeness=await _likeness(info, likeness) if likeness is not None else None,
                label=input.label,
                external_ref=opt(input.external_ref),
            )
            return await avatars.register_avatar(actor(info), data)

        avatar, problems = _answer(info, *await attempt(info, work))
        return RegisterAvatarPayload(avatar=avatar, problems=problems)

    @strawberry.field(description="[avatars:write]", permission_classes=[needs("avatars:write")])
    async def authorize_driver(self, info: strawberry.Info, input: AvatarDriverInput) -> AuthorizeDriverPayload:
        outcome = await attempt(
            info, lambda: avatars.authorize_driver(actor(info), input.avatar_id, input.performer_id)
        )
        avatar, problems = _answer(info, *outcome)
        return AuthorizeDriverPayload(avatar=avatar, problems=problems)

    @strawberry.field(description="[avatars:write]", permission_classes=[needs("avatars:write")])
    async def revoke_driver(self, info: strawberry.Info, input: AvatarDriverInput) -> RevokeDriverPayload:
        outcome = await attempt(info, lambda: avatars.revoke_driver(actor(info), input.avatar_id, input.performer_id))
        avatar, problems = _answer(info, *outcome)
        return RevokeDriverPayload(avatar=avatar, problems=problems)

    @strawberry.field(description="[avatars:write]", permission_classes=[needs("avatars:write")])
    async def transfer_avatar(self, info: strawberry.Info, input: TransferAvatarInput) -> TransferAvatarPayload:
        outcome = await attempt(
            info, lambda: avatars.transfer_avatar(actor(info), input.avatar_id, input.operator_id, input.reason)
        )
        avatar, problems = _answer(info, *outcome)
        return TransferAvatarPayload(avatar=avatar, problems=problems)

    @strawberry.field(description="[avatars:write]", permission_classes=[needs("avatars:write")])
    async def retire_avatar(self, info: strawberry.Info, input: RetireAvatarInput) -> RetireAvatarPayload:
        outcome = await attempt(info, lambda: avatars.retire_avatar(actor(info), input.avatar_id, input.reason))
        avatar, problems = _answer(info, *outcome)
        return RetireAvatarPayload(avatar=avatar, problems=problems)

    @strawberry.field(description="[avatars:write]", permission_classes=[needs("avatars:write")])
    async def revoke_likeness_consent(
        self, info: strawberry.Info, input: RevokeLikenessConsentInput
    ) -> RevokeLikenessConsentPayload:
        outcome = await attempt(
            info, lambda: avatars.revoke_likeness_consent(actor(info), input.avatar_id, input.reason)
        )
        avatar, problems = _answer(info, *outcome)
        return RevokeLikenessConsentPayload(avatar=avatar, problems=problems)
