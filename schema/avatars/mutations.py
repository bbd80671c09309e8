from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from schema.avatars.inputs import (
    AvatarDriverInput,
    RegisterAvatarInput,
    RetireAvatarInput,
    RevokeLikenessConsentInput,
    TransferAvatarInput,
)
from schema.common.errors import not_implemented
from schema.permissions import needs

if TYPE_CHECKING:
    from schema.avatars.types import (
        AuthorizeDriverPayload,
        RegisterAvatarPayload,
        RetireAvatarPayload,
        RevokeDriverPayload,
        RevokeLikenessConsentPayload,
        TransferAvatarPayload,
    )


@strawberry.type
class AvatarsMutations:
    @strawberry.field(
        description="[avatars:write or its onboarding client token]",
        permission_classes=[needs("avatars:write", client=True)],
    )
    async def register_avatar(
        self, info: strawberry.Info, input: RegisterAvatarInput
    ) -> Annotated[RegisterAvatarPayload, strawberry.lazy("schema.avatars.types")]:
        raise not_implemented("registerAvatar")

    @strawberry.field(description="[avatars:write]", permission_classes=[needs("avatars:write")])
    async def authorize_driver(
        self, info: strawberry.Info, input: AvatarDriverInput
    ) -> Annotated[AuthorizeDriverPayload, strawberry.lazy("schema.avatars.types")]:
        raise not_implemented("authorizeDriver")

    @strawberry.field(description="[avatars:write]", permission_classes=[needs("avatars:write")])
    async def revoke_driver(
        self, info: strawberry.Info, input: AvatarDriverInput
    ) -> Annotated[RevokeDriverPayload, strawberry.lazy("schema.avatars.types")]:
        raise not_implemented("revokeDriver")

    @strawberry.field(description="[avatars:write]", permission_classes=[needs("avatars:write")])
    async def transfer_avatar(
        self, info: strawberry.Info, input: TransferAvatarInput
    ) -> Annotated[TransferAvatarPayload, strawberry.lazy("schema.avatars.types")]:
        raise not_implemented("transferAvatar")

    @strawberry.field(description="[avatars:write]", permission_classes=[needs("avatars:write")])
    async def retire_avatar(
        self, info: strawberry.Info, input: RetireAvatarInput
    ) -> Annotated[RetireAvatarPayload, strawberry.lazy("schema.avatars.types")]:
        raise not_implemented("retireAvatar")

    @strawberry.field(description="[avatars:write]", permission_classes=[needs("avatars:write")])
    async def revoke_likeness_consent(
        self, info: strawberry.Info, input: RevokeLikenessConsentInput
    ) -> Annotated[RevokeLikenessConsentPayload, strawberry.lazy("schema.avatars.types")]:
        raise not_implemented("revokeLikenessConsent")
