from __future__ import annotations

import strawberry
from strawberry.file_uploads import Upload

from registry.avatars import services as avatars
from registry.problems import DomainError, ProblemCode, problem
from schema.avatars.inputs import UPLOAD_NEEDED
from schema.avatars.types import Avatar, AvatarMatch, SimilarAvatarsResult
from schema.common.convert import actor, attempt, problems_out
from schema.common.inputs import read_upload
from schema.common.nodes import register_node
from schema.permissions import needs


@register_node("ava", "Avatar", "avatars:read", client=True)
async def avatar_node(info: strawberry.Info, node_id: str) -> Avatar | None:
    record = await avatars.get_avatar(actor(info), node_id)
    return Avatar.from_record(record) if record else None


@strawberry.type
class AvatarsQueries:
    @strawberry.field(
        description="[avatars:read, or its onboarding client token]",
        permission_classes=[needs("avatars:read", client=True)],
    )
    async def avatar(self, info: strawberry.Info, id: strawberry.ID) -> Avatar | None:
        return await avatar_node(info, id)

    @strawberry.field(description="[avatars:read]", permission_classes=[needs("avatars:read")])
    async def similar_avatars(
        self, info: strawberry.Info, image: Upload, max_distance: int | None = 10, first: int | None = 20
    ) -> SimilarAvatarsResult | None:
        async def work() -> avatars.Similar:
            upload = await read_upload(info, image, "image")
            if upload is None:
                raise DomainError(problem(ProblemCode.INVALID_INPUT, UPLOAD_NEEDED, "image"))
            return await avatars.similar_avatars(
                actor(info),
                upload,
                max_distance=10 if max_distance is None else max_distance,
                first=20 if first is None else first,
            )

        result, problems = await attempt(info, work)
        if result is None:
            return SimilarAvatarsResult(matches=[], problems=problems)
        matches = [AvatarMatch(avatar=Avatar.from_record(m.avatar), distance=m.distance) for m in result.matches]
        return SimilarAvatarsResult(matches=matches, problems=problems_out(info, result.problems))
