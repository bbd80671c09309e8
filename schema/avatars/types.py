from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from schema.common.enums import GraphQLEnum
from schema.common.errors import not_implemented
from schema.common.types import Node, PageInfo, Problem

if TYPE_CHECKING:
    from schema.performers.types import Performer, ResponsibleOperator


@strawberry.enum
class AvatarStatus(GraphQLEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = strawberry.enum_value(
        "SUSPENDED", description="by enforcement, or because a likeness consent was revoked"
    )
    RETIRED = strawberry.enum_value("RETIRED", description="final")


@strawberry.enum
class AvatarKind(GraphQLEnum):
    ORIGINAL = strawberry.enum_value("ORIGINAL", description="a synthetic character that reproduces nobody")
    REAL_PERSON_LIKENESS = strawberry.enum_value(
        "REAL_PERSON_LIKENESS", description="reproduces a real person's portrait or voice: consent required"
    )
    LICENSED_CHARACTER = strawberry.enum_value("LICENSED_CHARACTER", description="a character used under license")


@strawberry.type
class Likeness:
    rights_holder_name_masked: str
    portrait: bool
    voice: bool
    signed_at: datetime
    valid_until: date | None
    revoked_at: datetime | None


@strawberry.type
class Avatar(Node):
    id: strawberry.ID
    external_ref: str | None
    name: str
    kind: AvatarKind
    label: str
    status: AvatarStatus
    operator: Annotated[ResponsibleOperator, strawberry.lazy("schema.performers.types")] | None
    drivers: list[Annotated[Performer, strawberry.lazy("schema.performers.types")]] | None = strawberry.field(
        description="verified people authorized to perform it live"
    )
    image_url: str = strawberry.field(description="GET with a bearer token; serves the normalized image")
    width: int
    height: int
    sha256: str = strawberry.field(description="of the normalized image")
    perceptual_hash: str = strawberry.field(description="64-bit, 16 hex digits")
    likeness: Likeness | None
    created_at: datetime
    updated_at: datetime


@strawberry.type
class AvatarEdge:
    node: Avatar
    cursor: str


@strawberry.type
class AvatarConnection:
    edges: list[AvatarEdge]
    page_info: PageInfo

    @classmethod
    async def of_operator(
        cls, info: strawberry.Info, operator_id: str, *, first: int | None, after: str | None
    ) -> AvatarConnection | None:
        raise not_implemented("avatars")


@strawberry.type
class RegisterAvatarPayload:
    avatar: Avatar | None
    problems: list[Problem]


@strawberry.type
class AuthorizeDriverPayload:
    avatar: Avatar | None
    problems: list[Problem]


@strawberry.type
class RevokeDriverPayload:
    avatar: Avatar | None
    problems: list[Problem]


@strawberry.type
class TransferAvatarPayload:
    avatar: Avatar | None
    problems: list[Problem]


@strawberry.type
class RetireAvatarPayload:
    avatar: Avatar | None
    problems: list[Problem]


@strawberry.type
class RevokeLikenessConsentPayload:
    avatar: Avatar | None
    problems: list[Problem]


@strawberry.type
class AvatarMatch:
    avatar: Avatar = strawberry.field(description="only the caller's own platform's avatars are returned")
    distance: int = strawberry.field(description="Hamming distance of the perceptual hashes")


@strawberry.type
class SimilarAvatarsResult:
    matches: list[AvatarMatch] = strawberry.field(description="closest first")
    problems: list[Problem] = strawberry.field(
        description="INVALID_IMAGE, LIMIT_EXCEEDED (maxDistance above 12, first above 100)"
    )
