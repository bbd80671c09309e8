"""Phone numbers: parsing to E.164 (mainland default), refusals, masking, mobile detection."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.problems import ProblemCode
from registry.validators import phones
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


@given(national=st.from_regex(r"[1-9][0-9]{8,10}", fullmatch=True))
def test_masking_a_mainland_number_needs_no_parse(national: str) -> None:
    assert mask_phone(f"+86{national}") == phones._mask_parsed(f"+86{national}")


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


# ------------------------------------------------------------------ the mainland fast path


def _both_paths(raws: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[list[object], list[object]]:
    fast = [(parse_phone(raw), parse_phone(raw, mobile_only=True)) for raw in raws]
    with monkeypatch.context() as patched:
        patched.setattr(phones, "_mainland", lambda digits, *, mobile_only: None)
        slow = [(parse_phone(raw), parse_phone(raw, mobile_only=True)) for raw in raws]
    return fast, slow


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


def _separated(rng: random.Random, digits: str) -> str:
    return "".join(c + (rng.choice(" -().") if rng.random() < 0.2 else "") for c in digits)


def test_fast_path_equals_phonenumbers_for_every_mobile_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(5)
    raws = [f"{prefix:03d}{_digits(rng, 8)}" for prefix in range(1000) for _ in range(4)]
    raws += [_separated(rng, raw) for raw in raws[::3]]
    fast, slow = _both_paths(raws, monkeypatch)
    assert fast == slow


def test_fast_path_equals_phonenumbers_for_landlines(monkeypatch: pytest.MonkeyPatch) -> None:
    # 0 + every 1- to 4-digit area prefix, national numbers of 5 to 12 digits (valid and not).
    rng = random.Random(6)
    raws = []
    for prefix in range(1, 10_000, 3):
        for length in range(5, 13):
            area = str(prefix)
            raws.append("0" + area + _digits(rng, max(0, length - len(area))))
    raws += [_separated(rng, raw) for raw in raws[::5]]
    fast, slow = _both_paths(raws, monkeypatch)
    assert fast == slow


def test_fast_path_equals_phonenumbers_for_prefixes_it_must_leave_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    # IDD (00), carrier selection (1[12]xx, 179xx), country code without +, odd lengths.
    rng = random.Random(7)
    heads = ["", "0", "00", "86", "086", "0086", "11", "12", "179", "17951", "12593", "10", "01", "1"]
    raws = [head + _digits(rng, rng.randint(1, 14)) for head in heads for _ in range(400)]
    raws += [_separated(rng, raw) for raw in raws[::4]]
    fast, slow = _both_paths(raws, monkeypatch)
    assert fast == slow


@given(st.from_regex(r"[0-9 \-().]{1,32}", fullmatch=True))
def test_fast_path_equals_phonenumbers_for_any_plain_input(raw: str) -> None:
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(phones, "_mainland", lambda digits, *, mobile_only: None)
        slow = (parse_phone(raw), parse_phone(raw, mobile_only=True))
    assert (parse_phone(raw), parse_phone(raw, mobile_only=True)) == slow


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("13800138000", MOBILE),
        ("138-0013-8000", MOBILE),
        ("(0755) 1234 5678", "+8675512345678"),
        ("010-12345678", "+861012345678"),
        ("0571-46953889", "+8657146953889"),
    ],
)
def test_ordinary_mainland_numbers_take_the_fast_path(raw: str, e164: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The fast path answers them by itself, and as phonenumbers does.
    assert phones._mainland(phones._digits(raw), mobile_only=False) == e164
    fast, slow = _both_paths([raw], monkeypatch)
    assert fast == slow and fast[0][0] == (e164, [])
