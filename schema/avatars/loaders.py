from __future__ import annotations

from typing import Any

from strawberry.dataloader import DataLoader
from strawberry.types import Info

from registry.avatars import services as avatars
from registry.avatars.models import Avatar, Likeness
from registry.pagination import Page
from registry.performers.models import Performer
from schema.common.convert import actor
from schema.common.loaders import loader
from schema.context import Context


def drivers_of(info: Info[Context, Any]) -> DataLoader[str, list[Performer]]:
    platform_id = actor(info).platform_id

    async def load(avatar_ids: list[str]) -> list[list[Performer]]:
        found = await avatars.drivers_of(platform_id, avatar_ids)
        return [found[avatar_id] for avatar_id in avatar_ids]

    return loader(info, "avatar_drivers", load)


def likeness_of(info: Info[Context, Any]) -> DataLoader[str, Likeness | None]:
    async def load(avatar_ids: list[str]) -> list[Likeness | None]:
        found = await avatars.likenesses_of(avatar_ids)
        return [found.get(avatar_id) for avatar_id in avatar_ids]

    return loader(info, "avatar_likeness", load)


def operators(info: Info[Context, Any]) -> DataLoader[str, avatars.Operator | None]:
    who = actor(info)

    async def load(operator_ids: list[str]) -> list[avatars.Operator | None]:
        found = await avatars.operators_by_ids(who, operator_ids)
        return [found.get(operator_id) for operator_id in operator_ids]

    return loader(info, "avatar_operators", load)


def first_avatar_pages(info: Info[Context, Any]) -> DataLoader[tuple[str, int], Page[Avatar]]:
    """First pages of operators' avatars, keyed by (operator id, page size), one query per page size."""

    async def load(keys: list[tuple[str, int]]) -> list[Page[Avatar]]:
        by_size: dict[int, list[str]] = {}
        for operator_id, size in keys:
            by_size.setdefault(size, []).append(operator_id)
        pages: dict[tuple[str, int], Page[Avatar]] = {}
        for size, operator_ids in by_size.items():
            found = await avatars.first_pages_of_operators(actor(info), operator_ids, size)
            pages.update({(operator_id, size): page for operator_id, page in found.items()})
        return [pages[key] for key in keys]

    return loader(info, "first_avatar_pages", load)
