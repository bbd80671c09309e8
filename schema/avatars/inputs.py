from __future__ import annotations

from datetime import date, datetime

import strawberry
from strawberry.file_uploads import Upload

from schema.avatars.types import AvatarKind
from schema.performers.inputs import IdentityDocumentInput

UPLOAD_NEEDED = "Send the image as a multipart upload."


@strawberry.input
class LikenessInput:
    rights_holder: IdentityDocumentInput = strawberry.field(
        description="the real person whose portrait or voice is reproduced"
    )
    portrait: bool = strawberry.field(description="consent covers the portrait")
    voice: bool = strawberry.field(description="consent covers the voice")
    signed_at: datetime
    valid_until: date | None = strawberry.field(default=strawberry.UNSET)
    evidence: Upload | None = strawberry.field(default=strawberry.UNSET)


@strawberry.input
class RegisterAvatarInput:
    name: str
    operator_id: strawberry.ID = strawberry.field(
        description="the ROOM_OPERATOR Performer or OperatorOrganization answerable for it"
    )
    image: Upload
    kind: AvatarKind = strawberry.field(default=AvatarKind.ORIGINAL)
    likeness: LikenessInput | None = strawberry.field(
        description="required for REAL_PERSON_LIKENESS", default=strawberry.UNSET
    )
    label: str = strawberry.field(
        default="虚拟形象",
        description="the prominent on-screen label shown while it is live; 1 to 20 characters",
    )
    external_ref: str | None = strawberry.field(default=strawberry.UNSET)


@strawberry.input
class AvatarDriverInput:
    avatar_id: strawberry.ID
    performer_id: strawberry.ID


@strawberry.input
class TransferAvatarInput:
    avatar_id: strawberry.ID
    operator_id: strawberry.ID
    reason: str


@strawberry.input
class RetireAvatarInput:
    avatar_id: strawberry.ID
    reason: str


@strawberry.input
class RevokeLikenessConsentInput:
    avatar_id: strawberry.ID
    reason: str
