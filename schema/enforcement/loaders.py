from __future__ import annotations

from typing import Any

from strawberry.dataloader import DataLoader
from strawberry.types import Info

from registry.enforcement import services as enforcement
from registry.enforcement.screening import MatchKey
from schema.common.loaders import loader
from schema.context import Context


async def _kinds(entry_ids: list[str]) -> list[list[MatchKey]]:
    found = await enforcement.entry_kinds(entry_ids)
    return [found[entry_id] for entry_id in entry_ids]


def entry_kinds(info: Info[Context, Any]) -> DataLoader[str, list[MatchKey]]:
    return loader(info, "blacklist_entry_kinds", _kinds)
