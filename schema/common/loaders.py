"""Per-request DataLoaders (fresh for every request: no cross-request or cross-tenant caching)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader
from strawberry.types import Info

from registry.enforcement.models import Enforcement
from registry.enforcement.status import in_force
from schema.context import Context

K = TypeVar("K")
V = TypeVar("V")


def loader(info: Info[Context, Any], name: str, load: Callable[[list[K]], Awaitable[Sequence[V]]]) -> DataLoader[K, V]:
    loaders = info.context.loaders
    if name not in loaders:
        loaders[name] = DataLoader(load_fn=load)
    return loaders[name]  # type: ignore[no-any-return]


async def _measures(subject_ids: list[str]) -> list[list[Enforcement]]:
    found = await in_force(subject_ids)
    return [found[subject_id] for subject_id in subject_ids]


def measures_in_force(info: Info[Context, Any]) -> DataLoader[str, list[Enforcement]]:
    return loader(info, "measures_in_force", _measures)
