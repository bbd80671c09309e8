from __future__ import annotations

from typing import Any

from strawberry.dataloader import DataLoader
from strawberry.types import Info

from registry.performers import services as performers
from registry.performers.models import GuardianConsent
from schema.common.loaders import loader
from schema.context import Context


async def _consents(performer_ids: list[str]) -> list[GuardianConsent | None]:
    found = await performers.consents_in_force(performer_ids)
    return [found.get(performer_id) for performer_id in performer_ids]


def consents_in_force(info: Info[Context, Any]) -> DataLoader[str, GuardianConsent | None]:
    return loader(info, "consents_in_force", _consents)
