"""Time as the rules see it: instants in UTC, calendar dates in Asia/Shanghai."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    return datetime.now(UTC)


def today_in_shanghai(at: datetime | None = None) -> date:
    return (at or now()).astimezone(SHANGHAI).date()
