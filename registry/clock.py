"""Time as the rules see it: instants in UTC, calendar dates in Asia/Shanghai."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    return datetime.now(UTC)


def today_in_shanghai(at: datetime | None = None) -> date:
    return (at or now()).astimezone(SHANGHAI).date()


def add_months(moment: datetime, months: int) -> datetime:
    """The same wall-clock instant `months` calendar months later (day clamped to the month's end)."""
    local = moment.astimezone(SHANGHAI)
    month_index = local.month - 1 + months
    year, month = local.year + month_index // 12, month_index % 12 + 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day).astimezone(UTC)
