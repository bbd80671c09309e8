"""Unified Social Credit Code: published specimens (notes/regulation.md §4.7) and properties."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from registry.problems import ProblemCode
from registry.validators.uscc import (
    ALPHABET,
    CreditCode,
    normalize_credit_code,
    org_code_check_char,
    uscc_check_char,
    validate_credit_code,
)

PUBLISHED = [
    "914403001922038216",  # Huawei Technologies
    "9144030071526726XG",  # Tencent Technology (Shenzhen): inner check is X
    "91440300708461136T",  # Shenzhen Tencent Computer Systems
    "91110108551385082Q",  # Xiaomi
]


def complete(first16: str) -> str:
    """A code with both check characters right, from positions 1-16."""
    first17 = first16 + org_code_check_char(first16[8:16])
    return first17 + uscc_check_char(first17)


def assert_refused(raw: str) -> str:
    """All messages of the refusal (a wrong length and bad characters are both reported)."""
    parsed, problems = validate_credit_code(raw)
    assert parsed is None
    assert problems
    assert all(p.code == ProblemCode.INVALID_CREDIT_CODE and p.field is None for p in problems)
    return " ".join(p.message for p in problems)


@pytest.mark.parametrize("code", PUBLISHED)
def test_published_codes_pass_both_checks(code: str) -> None:
    parsed, problems = validate_credit_code(code)
    assert problems == []
    assert parsed is not None
    assert parsed.code == code
    assert parsed.inner_check_ok
    assert not parsed.is_individual_business


def test_fields_of_huawei() -> None:
    parsed, _ = validate_credit_code("914403001922038216")
    assert parsed == CreditCode(
        code="914403001922038216",
        authority="9",
        org_type="1",
        division="440300",
        org_code="192203821",
        inner_check_ok=True,
    )


def test_check_characters_of_worked_examples() -> None:
    assert org_code_check_char("19220382") == "1"
    assert uscc_check_char("91440300192203821") == "6"
    assert org_code_check_char("71526726") == "X"  # 11 - 1 = 10 -> X
    assert uscc_check_char("9144030071526726X") == "G"


def test_org_code_check_maps_eleven_to_zero() -> None:
    body = next(f"{n:08d}" for n in range(10_000) if org_code_check_char(f"{n:08d}") == "0")
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    assert sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11 == 0


def reference_check(first17: str) -> str:
    """Straight from the notes: published weights, C18 = 31 - (sum mod 31), 31 -> 0."""
    weights = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    c18 = 31 - sum(ALPHABET.index(c) * w for c, w in zip(first17, weights, strict=True)) % 31
    return ALPHABET[0 if c18 == 31 else c18]


def test_overall_check_maps_thirty_one_to_zero() -> None:
    first17 = next(c for n in range(1000) if reference_check(c := f"91440300{n:09d}") == "0")
    assert uscc_check_char(first17) == "0"
    parsed, problems = validate_credit_code(first17 + "0")
    assert problems == []
    assert parsed is not None


def test_inner_check_failure_is_not_a_problem() -> None:
    # Huawei with position 17 changed from 1 to 2 and position 18 recomputed.
    first17 = "91440300192203822"
    code = first17 + uscc_check_char(first17)
    parsed, problems = validate_credit_code(code)
    assert problems == []
    assert parsed is not None
    assert not parsed.inner_check_ok


def test_overall_check_failure_is_refused() -> None:
    message = assert_refused("914403001922038217")
    assert "position 18" in message
    assert "914403001922038217" not in message


@pytest.mark.parametrize("letter", list("IOSVZ"))
def test_forbidden_letters_name_position_and_character(letter: str) -> None:
    raw = "9144030019220382" + letter + "6"
    message = assert_refused(raw)
    assert f"'{letter}' at position 17" in message
    assert "I, O, S, V and Z" in message


def test_letter_o_gets_a_hint() -> None:
    assert "digit 0" in assert_refused("91440300192203821O")


def test_many_bad_characters_are_summarised() -> None:
    message = assert_refused("ZZZZZZZZZZZZZZZZZZ")
    assert "and 15 more" in message


def test_invisible_character_is_shown_as_code_point() -> None:
    assert "U+0000" in assert_refused("91440300192203821\x00")


@pytest.mark.parametrize(
    "raw",
    [
        "9144030071526726xg",
        "９１４４０３００７１５２６７２６ＸＧ",  # full-width
        " 9144 0300 7152 6726 XG ",
        "9144-0300-7152-6726-XG",
        "914403007152\u30006726XG",  # ideographic space
        "91440300－71526726ＸＧ",  # full-width hyphen-minus
        "91440300\u201371526726XG",  # en dash
    ],
)
def test_lower_case_full_width_and_separators_are_normalised(raw: str) -> None:
    parsed, problems = validate_credit_code(raw)
    assert problems == []
    assert parsed is not None
    assert parsed.code == "9144030071526726XG"


def test_normalize_credit_code() -> None:
    assert normalize_credit_code(" ９１4403-00 1922038216\n") == "914403001922038216"


@pytest.mark.parametrize("raw", ["", "91440300192203821", "9144030019220382166", "9" * 65, "\u3000"])
def test_wrong_length_is_refused(raw: str) -> None:
    assert "18 characters" in assert_refused(raw)


def test_wrong_length_and_bad_character_both_reported() -> None:
    _, problems = validate_credit_code("9144O")
    assert len(problems) == 2
    assert "18 characters" in problems[0].message
    assert "'O' at position 5" in problems[1].message


def test_individual_business_code() -> None:
    code = complete("92440300MA5F1234")
    parsed, problems = validate_credit_code(code)
    assert problems == []
    assert parsed is not None
    assert parsed.is_individual_business
    assert parsed.authority == "9"
    assert parsed.org_type == "2"
    assert parsed.inner_check_ok


def test_individual_business_with_non_gb11714_org_code_is_accepted_for_review() -> None:
    first17 = "92440300L12345678"
    assert org_code_check_char("L1234567") != "8"
    code = first17 + uscc_check_char(first17)
    parsed, problems = validate_credit_code(code)
    assert problems == []
    assert parsed is not None
    assert parsed.is_individual_business
    assert not parsed.inner_check_ok


def test_credit_code_is_frozen() -> None:
    parsed, _ = validate_credit_code(PUBLISHED[0])
    assert parsed is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.code = "x"  # type: ignore[misc]


@pytest.mark.parametrize("bad", ["", "9144030019220382", "91440300192203821O", "914403001922038216"])
def test_uscc_check_char_rejects_malformed_input(bad: str) -> None:
    with pytest.raises(ValueError):
        uscc_check_char(bad)


@pytest.mark.parametrize("bad", ["", "1922038", "192203821", "1922038a", "1922038-"])
def test_org_code_check_char_rejects_malformed_input(bad: str) -> None:
    with pytest.raises(ValueError):
        org_code_check_char(bad)


alphabet_chars = st.sampled_from(ALPHABET)
first16s = st.text(alphabet=ALPHABET, min_size=16, max_size=16)
first17s = st.text(alphabet=ALPHABET, min_size=17, max_size=17)


@given(first16s)
def test_generated_codes_pass(first16: str) -> None:
    parsed, problems = validate_credit_code(complete(first16))
    assert problems == []
    assert parsed is not None
    assert parsed.inner_check_ok


@given(first17s)
def test_check_char_matches_published_weights(first17: str) -> None:
    assert uscc_check_char(first17) == reference_check(first17)


@given(first17s)
def test_any_overall_check_passes_whatever_the_inner_check(first17: str) -> None:
    parsed, problems = validate_credit_code(first17 + uscc_check_char(first17))
    assert problems == []
    assert parsed is not None


@given(first17s, st.integers(0, 17), alphabet_chars)
def test_single_substitution_within_alphabet_fails(first17: str, position: int, new: str) -> None:
    code = first17 + uscc_check_char(first17)
    assume(code[position] != new)
    assert_refused(code[:position] + new + code[position + 1 :])


@given(first17s, st.integers(0, 17), st.characters())
def test_any_single_character_change_fails(first17: str, position: int, new: str) -> None:
    code = first17 + uscc_check_char(first17)
    # Lower case / full-width forms of the same character are the same code by design.
    assume(normalize_credit_code(new) != code[position])
    assert_refused(code[:position] + new + code[position + 1 :])


@given(st.text(max_size=40))
def test_arbitrary_text_never_raises(raw: str) -> None:
    parsed, problems = validate_credit_code(raw)
    assert (parsed is None) == bool(problems)
