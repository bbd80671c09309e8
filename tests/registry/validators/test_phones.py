"""Phone numbers: parsing to E.164 (mainland default), refusals, masking, mobile detection."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.problems import ProblemCode
from registry.validators.phones import is_mobile, mask_phone, parse_phone

MOBILE = "+8613800138000"


def assert_refused(raw: str, *, mobile_only: bool = False) -> str:
    e164, problems = parse_phone(raw, mobile_only=mobile_only)
    assert e164 is None
    assert [(p.code, p.field) for p in problems] == [(ProblemCode.INVALID_INPUT, None)]
    return problems[0].message


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000",
        "+8613800138000",
        "+86 138 0013 8000",
        "(+86) 138 0013 8000",
        "0086 138 0013 8000",
        "008613800138000",
        "138-0013-8000",
        "138 0013 8000",
        "  13800138000  ",
        "１３８００１３８０００",  # full-width digits
        "＋８６　１３８　００１３　８０００",  # full-width plus and ideographic spaces
        "138\u00a00013\u00a08000",  # no-break spaces
    ],
)
def test_mainland_mobile_forms(raw: str) -> None:
    assert parse_phone(raw) == (MOBILE, [])
    assert parse_phone(raw, mobile_only=True) == (MOBILE, [])


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("010-12345678", "+861012345678"),
        ("(010) 12345678", "+861012345678"),
        ("0755-12345678", "+8675512345678"),
        ("+86 755 1234 5678", "+8675512345678"),
    ],
)
def test_landline_with_area_code(raw: str, e164: str) -> None:
    assert parse_phone(raw) == (e164, [])
    assert "mobile" in assert_refused(raw, mobile_only=True)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+852 9123 4567", "+85291234567"),
        ("+852 2123 4567", "+85221234567"),
        ("+1 650 253 0000", "+16502530000"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_foreign_numbers(raw: str, e164: str) -> None:
    assert parse_phone(raw) == (e164, [])


def test_hong_kong_mobile_passes_mobile_only() -> None:
    assert parse_phone("+852 9123 4567", mobile_only=True) == ("+85291234567", [])


@pytest.mark.parametrize(
    "raw",
    [
        "12345",
        "1380013800",  # one digit short
        "+86 138001380001",  # one digit long
        "+86 10 1234 567",
        "95588",  # service short code
        "+999 123 4567",  # no such country code
        "+",
        "000",
        "13800138000+",
        "++8613800138000",
        "138/0013/8000",
        "138#0013#8000",
    ],
)
def test_invalid_numbers_are_refused(raw: str) -> None:
    assert_refused(raw)


@pytest.mark.parametrize("raw", ["", "   ", "\u3000"])
def test_empty_is_refused(raw: str) -> None:
    assert "empty" in assert_refused(raw)


@pytest.mark.parametrize("raw", ["1-800-FLOWERS", "138OO138OOO", "13800138000 ext 12", "电话13800138000"])
def test_letters_are_refused(raw: str) -> None:
    assert "letters" in assert_refused(raw)


@pytest.mark.parametrize("raw", ["138\x000138000", "13800138000\u200b", "138\t0013\t8000", "\u202e13800138000"])
def test_control_and_invisible_characters_are_refused(raw: str) -> None:
    assert "invisible or control" in assert_refused(raw)


def test_over_long_input_is_refused() -> None:
    assert "32" in assert_refused("1" * 33)
    assert "32" in assert_refused("1 " * 17)


def test_too_many_digits_is_explained() -> None:
    assert "too many digits" in assert_refused("+86 138 0013 8000 1234")


@pytest.mark.parametrize(
    ("e164", "masked"),
    [
        (MOBILE, "+86 138****8000"),
        ("+8675512345678", "+86 755****5678"),
        ("+861012345678", "+86 1*******78"),  # 10 digits: 3 + 4 would hide only 3
        ("+85291234567", "+852 9*****67"),
        ("+16502530000", "+1 6*******00"),
    ],
)
def test_mask_phone(e164: str, masked: str) -> None:
    assert mask_phone(e164) == masked


@pytest.mark.parametrize("value", ["", "13800138000", "+", "+999123", "+86 abc", "+" + "1" * 40])
def test_mask_phone_never_leaks_or_fails_on_bad_values(value: str) -> None:
    assert mask_phone(value) == "****"


def test_is_mobile() -> None:
    assert is_mobile(MOBILE)
    assert is_mobile("+85291234567")
    assert is_mobile("+16502530000")  # +1 does not tell mobiles from fixed lines
    assert not is_mobile("+861012345678")
    assert not is_mobile("+85221234567")
    assert not is_mobile("13800138000")
    assert not is_mobile("+86138001380")
    assert not is_mobile("")


@given(st.text(max_size=40))
def test_arbitrary_text_never_raises(raw: str) -> None:
    e164, problems = parse_phone(raw)
    assert (e164 is None) == bool(problems)
    if e164 is not None:
        assert parse_phone(e164) == (e164, [])
        assert mask_phone(e164).startswith("+")


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_valid_mainland_mobiles_round_trip(national: str) -> None:
    e164, problems = parse_phone(national)
    if e164 is not None:  # not every 1xx prefix is allocated; the library decides
        assert e164 == "+86" + national
        assert parse_phone(e164, mobile_only=True) == (e164, [])
        masked = mask_phone(e164)
        assert masked == f"+86 {national[:3]}****{national[-4:]}"
    else:
        assert problems
