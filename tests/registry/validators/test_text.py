"""Free text and external references: normalisation, refused characters, lengths."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.problems import ProblemCode
from registry.validators.text import EXTERNAL_REF_MAX, clean_external_ref, clean_text


def refused(raw: str, code: ProblemCode = ProblemCode.INVALID_INPUT, **limits: int) -> str:
    limits.setdefault("max_len", 50)
    value, problems = clean_text(raw, **limits)
    assert value is None
    assert [(p.code, p.field) for p in problems] == [(code, None)]
    return problems[0].message


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  Acme Trading  ", "Acme Trading"),
        ("Acme   Trading", "Acme Trading"),
        ("深圳市\u3000南山区", "深圳市 南山区"),  # ideographic space
        ("Acme\u00a0\u00a0Trading", "Acme Trading"),  # no-break spaces
        ("Cafe\u0301", "Café"),  # NFC composes
        ("\nAcme Trading\r\n", "Acme Trading"),  # line breaks at the ends are only trimmed
        ("张三", "张三"),
        ("\ue000", "\ue000"),  # private use: rare name characters in older systems
    ],
)
def test_cleaning(raw: str, clean: str) -> None:
    assert clean_text(raw, max_len=50) == (clean, [])


def test_full_width_letters_are_kept() -> None:
    # NFC, not NFKC: full-width forms are legitimate in Chinese names and addresses.
    assert clean_text("ＡＢＣ公司", max_len=50) == ("ＡＢＣ公司", [])


@pytest.mark.parametrize(
    "raw",
    ["Acme\x00Trading", "Acme\x07", "Acme\x7f", "Acme\u200bTrading", "\u202eemcA", "\ufeffAcme"],
)
def test_control_and_format_characters_are_refused(raw: str) -> None:
    assert "U+" in refused(raw)


@pytest.mark.parametrize("raw", ["Ac\u0085me", "Acme\u2028Trading", "Acme\u2029Trading"])
def test_unusual_line_separators_are_refused(raw: str) -> None:
    assert "invisible" in refused(raw)


@pytest.mark.parametrize("raw", ["Acme\nTrading", "Acme\tTrading", "Acme\r\n  Trading"])
def test_tabs_and_line_breaks_collapse_to_one_space(raw: str) -> None:
    assert clean_text(raw, max_len=50) == ("Acme Trading", [])


def test_zero_width_joiner_is_refused() -> None:
    refused("Acme\u200dTrading")


def test_lone_surrogate_is_refused() -> None:
    refused("Acme\ud800")


@pytest.mark.parametrize("raw", ["", "   ", "\u3000\u00a0"])
def test_empty_is_refused(raw: str) -> None:
    assert "empty" in refused(raw)


def test_min_len() -> None:
    assert "at least 2" in refused("张", min_len=2)
    assert clean_text("张三", min_len=2, max_len=20) == ("张三", [])


def test_max_len_counts_characters_after_cleaning() -> None:
    assert clean_text("深" * 20, max_len=20) == ("深" * 20, [])
    assert clean_text(" a  b ", max_len=3) == ("a b", [])
    message = refused("深" * 21, ProblemCode.LIMIT_EXCEEDED, max_len=20)
    assert "20" in message
    assert "21" in message


def test_huge_input_is_refused_before_work() -> None:
    assert "20" in refused("x" * 1_000_000, ProblemCode.LIMIT_EXCEEDED, max_len=20)


@pytest.mark.parametrize(("min_len", "max_len"), [(0, 10), (5, 4)])
def test_bad_limits_are_a_programming_error(min_len: int, max_len: int) -> None:
    with pytest.raises(ValueError):
        clean_text("x", min_len=min_len, max_len=max_len)


@given(st.text(max_size=80))
def test_cleaned_text_is_stable(raw: str) -> None:
    value, problems = clean_text(raw, max_len=60)
    assert (value is None) == bool(problems)
    if value is not None:
        assert clean_text(value, max_len=60) == (value, [])
        assert value == value.strip()
        assert "  " not in value
        assert 1 <= len(value) <= 60


@pytest.mark.parametrize("raw", ["u_123", "douyin:88231", "a" * EXTERNAL_REF_MAX, "!", "~x-Y.z/1"])
def test_external_ref_accepted_as_is(raw: str) -> None:
    assert clean_external_ref(raw) == (raw, [])


def test_external_ref_none_stays_none() -> None:
    assert clean_external_ref(None) == (None, [])


@pytest.mark.parametrize(
    "raw",
    [
        "",
        " ",
        " u_123",
        "u 123",
        "u_123\n",
        "用户123",
        "ｕ_123",
        "u\x7f",
        "u\x00",
        "a" * (EXTERNAL_REF_MAX + 1),
    ],
)
def test_external_ref_refused(raw: str) -> None:
    value, problems = clean_external_ref(raw)
    assert value is None
    assert [(p.code, p.field) for p in problems] == [(ProblemCode.INVALID_INPUT, None)]
