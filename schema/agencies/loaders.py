from __future__ import annotations

from typing import Any

from strawberry.dataloader import DataLoader
from strawberry.types import Info

from registry.agencies import agreements
from registry.agencies import services as agencies
from registry.agencies.models import Agency, Agreement
from schema.common.convert import actor
from schema.common.loaders import loader
from schema.context import Context


def agencies_by_id(info: Info[Context, Any]) -> DataLoader[str, Agency | None]:
    async def load(ids: list[str]) -> list[Agency | None]:
        found = await agencies.agencies_by_ids(actor(info), ids)
        return [found.get(i) for i in ids]

    return loader(info, "agencies_by_id", load)


def agreements_of_party(info: Info[Context, Any]) -> DataLoader[str, list[Agreement]]:
    async def load(ids: list[str]) -> list[list[Agreement]]:
        found = await agreements.agreements_of_parties(actor(info), ids)
        return [found[i] for i in ids]

    return loader(info, "agreements_of_party", load)


def agreements_of_agency(info: Info[Context, Any]) -> DataLoader[str, list[Agreement]]:
    async def load(ids: list[str]) -> list[list[Agreement]]:
        found = await agreements.agreements_of_agencies(actor(info), ids)
        return [found[i] for i in ids]

    return loader(info, "agreements_of_agency", load)


def parties_by_id(info: Info[Context, Any]) -> DataLoader[str, agreements.Party | None]:
    async def load(ids: list[str]) -> list[agreements.Party | None]:
        found = await agreements.parties_by_ids(actor(info), ids)
        return [found.get(i) for i in ids]

    return loader(info, "agreement_parties_by_id", load)
