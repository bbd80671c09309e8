from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.file_uploads import Upload

from schema.common.errors import not_implemented
from schema.permissions import needs

if TYPE_CHECKING:
    from schema.avatars.types import Avatar, SimilarAvatarsResult


@strawberry.type
class AvatarsQueries:
    @strawberry.field(
        description="[avatars:read, or its onboarding client token]",
        permission_classes=[needs("avatars:read", client=True)],
    )
    async def avatar(
        self, info: strawberry.Info, id: strawberry.ID
    ) -> Annotated[Avatar, strawberry.lazy("schema.avatars.types")] | None:
        raise not_implemented("avatar")

    @strawberry.field(description="[avatars:read]", permission_classes=[needs("avatars:read")])
    async def similar_avatars(
        self, info: strawberry.Info, image: Upload, max_distance: int | None = 10, first: int | None = 20
    ) -> Annotated[SimilarAvatarsResult, strawberry.lazy("schema.avatars.types")] | None:
        raise not_implemented("similarAvatars")
