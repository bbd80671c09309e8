from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from registry import clock
from registry.avatars import models
from registry.avatars import services as avatars
from registry.performers import models as performer_models
from schema.avatars.loaders import drivers_of, first_avatar_pages, likeness_of, operators
from schema.common.convert import actor, connection, page_size
from schema.common.enums import GraphQLEnum
from schema.common.errors import forbidden
from schema.common.loaders import measures_in_force
from schema.common.types import Node, PageInfo, Problem
from schema.permissions import allowed, needs

if TYPE_CHECKING:
    from schema.performers.types import Performer, ResponsibleOperator

AVATARS_READ = frozenset({"avatars:read"})


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

    @classmethod
    def from_record(cls, record: models.Likeness) -> Likeness:
        return cls(
            rights_holder_name_masked=record.rights_holder_name_masked,
            portrait=record.portrait,
            voice=record.voice,
            signed_at=record.signed_at,
            valid_until=record.valid_until,
            revoked_at=record.revoked_at,
        )


@strawberry.type
class Avatar(Node):
    record: strawberry.Private[models.Avatar]
    id: strawberry.ID
    external_ref: str | None
    name: str
    kind: AvatarKind
    label: str
    image_url: str = strawberry.field(description="GET with a bearer token; serves the normalized image")
    width: int
    height: int
    sha256: str = strawberry.field(description="of the normalized image")
    perceptual_hash: str = strawberry.field(description="64-bit, 16 hex digits")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_record(cls, record: models.Avatar) -> Avatar:
        return cls(
            record=record,
            id=strawberry.ID(record.id),
            external_ref=record.external_ref,
            name=record.name,
            kind=AvatarKind(record.kind),
            label=record.label,
            image_url=f"/avatars/{record.id}/image",
            width=record.width,
            height=record.height,
            sha256=record.image_sha256,
            perceptual_hash=avatars.perceptual_hash(record),
            created_at=record.created_at,
            updated_at=record.updated_at,
        )

    @strawberry.field
    async def status(self, info: strawberry.Info) -> AvatarStatus:
        measures = await measures_in_force(info).load(self.record.id)
        likeness = await likeness_of(info).load(self.record.id)
        return AvatarStatus(avatars.status_of(self.record, measures, likeness, clock.today_in_shanghai()).value)

    @strawberry.field
    async def likeness(self, info: strawberry.Info) -> Likeness | None:
        record = await likeness_of(info).load(self.record.id)
        return Likeness.from_record(record) if record else None

    # An onboarding client sees the operator only when it is its own performer (the registry decides).
    @strawberry.field(permission_classes=[needs("performers:read", client=True)])
    async def operator(
        self, info: strawberry.Info
    ) -> Annotated[ResponsibleOperator, strawberry.lazy("schema.performers.types")] | None:
        from schema.performers.types import OperatorOrganization, Performer

        record = await operators(info).load(self.record.operator_id)
        if isinstance(record, performer_models.Performer):
            return Performer.from_record(record)
        return OperatorOrganization.from_record(record) if record is not None else None

    @strawberry.field(
        description="verified people authorized to perform it live", permission_classes=[needs("performers:read")]
    )
    async def drivers(
        self, info: strawberry.Info
    ) -> list[Annotated[Performer, strawberry.lazy("schema.performers.types")]] | None:
        from schema.performers.types import Performer

        return [Performer.from_record(p) for p in await drivers_of(info).load(self.record.id)]


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
        """The avatars an operator is answerable for; a client token sees only those its session registered."""
        if not allowed(info.context.principal, AVATARS_READ, client=True):
            raise forbidden("Reading avatars needs the scope avatars:read.")
        size = page_size(info, first)
        if after is None:  # the usual nested case: batched over every operator of the request
            found = await first_avatar_pages(info).load((operator_id, size))
        else:
            found = await avatars.list_operator_avatars(actor(info), operator_id, first=size, after=after)
        return connection(found, Avatar.from_record, AvatarEdge, cls)


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


def avatar_or_none(record: models.Avatar | None) -> Avatar | None:
    return Avatar.from_record(record) if record is not None else None
