"""Keyset pagination on (created_at, id): stable under inserts, unlike offsets."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

from registry.problems import DomainError, ProblemCode, problem

M = TypeVar("M", bound=Model)


@dataclass(frozen=True, slots=True)
class Page(Generic[M]):
    rows: list[M]
    has_next: bool


def encode_cursor(created_at: datetime, record_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{record_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, record_id = raw.split("|", 1)
        return datetime.fromisoformat(stamp), record_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise DomainError(
            problem(ProblemCode.INVALID_INPUT, "The cursor is not one this API returned.", "after")
        ) from None


async def page(query: QuerySet[M], *, first: int, after: str | None) -> Page[M]:
    if after:
        created_at, record_id = decode_cursor(after)
        query = query.filter(Q(created_at__gt=created_at) | Q(created_at=created_at, id__gt=record_id))
    rows = await query.order_by("created_at", "id").limit(first + 1)
    return Page(rows[:first], len(rows) > first)
