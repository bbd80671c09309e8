"""Full years of age for "年满N周岁" (regulation.md §5).

Civil Code Arts 201-202 count a period in years from the day after the start and end it on the
corresponding date, or on the month's last day when that date does not exist. So by default a
person reaches N full years on the day *after* the N-th anniversary; ON_BIRTHDAY is the less
conservative reading many commercial systems use.
"""

from __future__ import annotations

import calendar
from datetime import date
from enum import StrEnum

__all__ = ["AgeRule", "age_on", "anniversary", "has_reached"]


class AgeRule(StrEnum):
    DAY_AFTER = "DAY_AFTER"
    ON_BIRTHDAY = "ON_BIRTHDAY"


def anniversary(birth: date, years: int) -> date:
    """The `years`-th anniversary of `birth`; Feb 29 falls back to Feb 28 in a common year."""
    year = birth.year + years
    last_day = calendar.monthrange(year, birth.month)[1]
    return date(year, birth.month, min(birth.day, last_day))


def has_reached(birth: date, years: int, today: date, rule: AgeRule = AgeRule.DAY_AFTER) -> bool:
    """Whether someone born on `birth` has reached `years` full years on `today`."""
    anniv = anniversary(birth, years)
    return today > anniv if rule == AgeRule.DAY_AFTER else today >= anniv


def age_on(birth: date, today: date, rule: AgeRule = AgeRule.DAY_AFTER) -> int:
    """Full years on `today`: the largest N >= 0 with has_reached(birth, N, today, rule), else 0."""
    if today < birth:
        raise ValueError("today is before the birth date")
    # This year's anniversary decides between the two candidates; last year's has always passed.
    years = today.year - birth.year
    if not has_reached(birth, years, today, rule):
        years -= 1
    return max(years, 0)
