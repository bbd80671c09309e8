"""The measures in force on a subject, as every subject type shows them (accountStatus, restrictions)."""

from __future__ import annotations

from typing import Any

from strawberry.types import Info

from registry.enforcement.status import AccountStatus, account_status
from schema.common.loaders import measures_in_force
from schema.context import Context
from schema.enforcement.types import Enforcement


async def account_status_of(info: Info[Context, Any], subject_id: str) -> AccountStatus:
    return account_status(await measures_in_force(info).load(subject_id))


async def restrictions_of(info: Info[Context, Any], subject_id: str) -> list[Enforcement]:
    return [Enforcement.from_record(m) for m in await measures_in_force(info).load(subject_id)]
