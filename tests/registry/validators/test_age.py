from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.validators.age import AgeRule, age_on, anniversary, has_reached

DAY = timedelta(days=1)
LEAP_BIRTH = date(2008, 2, 29)


@pytest.mark.parametrize(
    ("birth", "years", "expected"),
    [
        (date(2010, 6, 15), 16, date(2026, 6, 15)),
        (date(2010, 12, 31), 16, date(2026, 12, 31)),
        (LEAP_BIRTH, 16, date(2024, 2, 29)),  # leap target year keeps Feb 29
        (LEAP_BIRTH, 18, date(2026, 2, 28)),  # common target year: month-end rule
        (LEAP_BIRTH, 17, date(2025, 2, 28)),
        (date(2084, 2, 29), 16, date(2100, 2, 28)),  # 2100 is not a leap year
        (date(2000, 2, 29), 0, date(2000, 2, 29)),
    ],
)
def test_anniversary(birth: date, years: int, expected: date) -> None:
    assert anniversary(birth, years) == expected


# regulation.md §5, checked there in python3.
@pytest.mark.parametrize(
    ("today", "age"),
    [
        (date(2024, 2, 28), 15),
        (date(2024, 2, 29), 15),
        (date(2024, 3, 1), 16),
        (date(2026, 2, 28), 17),
        (date(2026, 3, 1), 18),
    ],
)
def test_regulation_worked_examples_for_a_feb_29_birth(today: date, age: int) -> None:
    assert age_on(LEAP_BIRTH, today) == age


@pytest.mark.parametrize(
    ("birth", "years", "rule", "first_day"),
    [
        (date(2010, 6, 15), 16, AgeRule.DAY_AFTER, date(2026, 6, 16)),
        (date(2010, 6, 15), 16, AgeRule.ON_BIRTHDAY, date(2026, 6, 15)),
        (date(2008, 12, 31), 18, AgeRule.DAY_AFTER, date(2027, 1, 1)),  # crosses the year
        (date(2008, 12, 31), 18, AgeRule.ON_BIRTHDAY, date(2026, 12, 31)),
        (LEAP_BIRTH, 16, AgeRule.DAY_AFTER, date(2024, 3, 1)),
        (LEAP_BIRTH, 16, AgeRule.ON_BIRTHDAY, date(2024, 2, 29)),
        (LEAP_BIRTH, 18, AgeRule.DAY_AFTER, date(2026, 3, 1)),
        (LEAP_BIRTH, 18, AgeRule.ON_BIRTHDAY, date(2026, 2, 28)),
        (date(2084, 2, 29), 16, AgeRule.DAY_AFTER, date(2100, 3, 1)),
        (date(2084, 2, 29), 16, AgeRule.ON_BIRTHDAY, date(2100, 2, 28)),
    ],
)
def test_has_reached_flips_exactly_on_the_first_day(birth: date, years: int, rule: AgeRule, first_day: date) -> None:
    assert not has_reached(birth, years, first_day - DAY, rule)
    assert has_reached(birth, years, first_day, rule)
    assert has_reached(birth, years, first_day + DAY, rule)
    assert age_on(birth, first_day - DAY, rule) == years - 1
    assert age_on(birth, first_day, rule) == years


def test_day_after_is_the_default_rule() -> None:
    birthday = date(2026, 6, 15)
    assert not has_reached(date(2010, 6, 15), 16, birthday)
    assert age_on(date(2010, 6, 15), birthday) == 15


@pytest.mark.parametrize("rule", list(AgeRule))
def test_age_on_the_day_of_birth_is_zero(rule: AgeRule) -> None:
    assert age_on(LEAP_BIRTH, LEAP_BIRTH, rule) == 0
    assert age_on(LEAP_BIRTH, LEAP_BIRTH + DAY, rule) == 0


def test_age_before_birth_is_an_error() -> None:
    with pytest.raises(ValueError, match="before the birth date"):
        age_on(LEAP_BIRTH, LEAP_BIRTH - DAY)


@given(
    birth=st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)),
    days=st.integers(0, 120 * 366),
    rule=st.sampled_from(AgeRule),
)
def test_age_on_agrees_with_has_reached(birth: date, days: int, rule: AgeRule) -> None:
    today = birth + timedelta(days=days)
    age = age_on(birth, today, rule)
    assert age >= 0
    assert age == 0 or has_reached(birth, age, today, rule)
    assert not has_reached(birth, age + 1, today, rule)
