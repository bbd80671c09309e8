"""Scalars whose parsing is stricter than Strawberry's defaults."""

from __future__ import annotations

from datetime import datetime

import strawberry


def _parse_aware(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("DateTime must be an ISO 8601 string with an offset")
    parsed = datetime.fromisoformat(value)
    # A local time without offset is ambiguous (the client's clock zone is unknown): refuse it.
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError("DateTime needs an offset, e.g. 2026-11-29T08:00:00+08:00")
    return parsed


AwareDateTime = strawberry.scalar(
    name="DateTime",
    description="ISO 8601 instant with offset: 2026-11-29T08:00:00+00:00; input without offset is refused",
    serialize=lambda v: v.isoformat(),
    parse_value=_parse_aware,
)
