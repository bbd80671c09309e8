"""Phone numbers: parse to E.164, mask for display, tell mobiles apart.

Numbering plans come from the phonenumbers library (libphonenumber metadata), never from
hand-written patterns: plans change (new mobile prefixes) and the library is kept current.
Numbers without a country code are read as mainland China numbers.
"""

from __future__ import annotations

import unicodedata

import phonenumbers
from phonenumbers import (
    NumberParseException,
    PhoneNumber,
    PhoneNumberFormat,
    PhoneNumberType,
    ValidationResult,
)

from registry.problems import Problem, ProblemCode, problem

DEFAULT_REGION = "CN"
MAX_INPUT = 32

# Separators people type between digit groups; letters are refused on purpose, because
# phonenumbers would read "1-800-FLOWERS" style vanity letters as digits.
_SEPARATORS = frozenset(" -().")
_DIGITS = frozenset("0123456789")
# FIXED_LINE_OR_MOBILE: plans such as +1 do not tell the two apart, so such numbers may be mobiles.
_MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
# Long national numbers show 3 + 4 digits (the mainland 138****8000 convention); shorter ones
# would then hide too few, so they show 1 + 2.
_LONG_NATIONAL = 11
_HINT = "Enter a mainland number such as 138 0013 8000, or + and the country code for other numbers."


def parse_phone(raw: str, *, mobile_only: bool = False) -> tuple[str | None, list[Problem]]:
    """The number in E.164 (e.g. "+8613800138000"); problems carry no field path."""
    if len(raw) > MAX_INPUT:
        return None, [_too_long()]
    text = unicodedata.normalize("NFKC", raw).strip()  # full-width digits, ideographic spaces
    if len(text) > MAX_INPUT:
        return None, [_too_long()]
    refused = _character_problem(text)
    if refused is not None:
        return None, [refused]
    number = _parse(text)
    if number is None or not phonenumbers.is_valid_number(number):
        return None, [_invalid(number)]
    if mobile_only and phonenumbers.number_type(number) not in _MOBILE_TYPES:
        return None, [_invalid_input("This is not a mobile phone number. Enter a mobile number.")]
    return phonenumbers.format_number(number, PhoneNumberFormat.E164), []


def is_mobile(e164: str) -> bool:
    """True for a valid mobile number (or one its numbering plan can't tell from a fixed line)."""
    number = _parse_e164(e164)
    return (
        number is not None
        and phonenumbers.is_valid_number(number)
        and phonenumbers.number_type(number) in _MOBILE_TYPES
    )


def mask_phone(e164: str) -> str:
    """Mask for display: "+8613800138000" -> "+86 138****8000"; "****" if the value is not E.164."""
    number = _parse_e164(e164)
    if number is None:
        # Display path: never fail and never leak a value we cannot split safely.
        return "****"
    national = phonenumbers.national_significant_number(number)
    return f"+{number.country_code} {_mask_digits(national)}"


def _mask_digits(digits: str) -> str:
    head, tail = (3, 4) if len(digits) >= _LONG_NATIONAL else (1, 2)
    if len(digits) <= head + tail:
        return "*" * len(digits)
    return digits[:head] + "*" * (len(digits) - head - tail) + digits[-tail:]


def _character_problem(text: str) -> Problem | None:
    if not text:
        return _invalid_input(f"The phone number is empty. {_HINT}")
    if any(not c.isprintable() for c in text):
        return _invalid_input("The phone number contains an invisible or control character; remove it.")
    if any(c.isalpha() for c in text):
        return _invalid_input("A phone number has only digits; remove the letters (extensions are not supported).")
    stray = next((c for c in text if c not in _DIGITS and c not in _SEPARATORS and c != "+"), None)
    if stray is not None:
        return _invalid_input(f"'{stray}' does not belong in a phone number. {_HINT}")
    if text.count("+") > 1 or ("+" in text and _first_digit(text) < text.index("+")):
        return _invalid_input(f"A '+' may only come once, before the country code. {_HINT}")
    return None


def _first_digit(text: str) -> int:
    return next((i for i, c in enumerate(text) if c in _DIGITS), len(text))


def _parse(text: str) -> PhoneNumber | None:
    try:
        return phonenumbers.parse(text, DEFAULT_REGION)
    except NumberParseException:
        return None


def _parse_e164(e164: str) -> PhoneNumber | None:
    if not e164.startswith("+") or len(e164) > MAX_INPUT:
        return None
    try:
        return phonenumbers.parse(e164, None)
    except NumberParseException:
        return None


def _invalid(number: PhoneNumber | None) -> Problem:
    reason = phonenumbers.is_possible_number_with_reason(number) if number is not None else None
    if reason == ValidationResult.TOO_SHORT:
        return _invalid_input(f"The phone number has too few digits. {_HINT}")
    if reason == ValidationResult.TOO_LONG:
        return _invalid_input(f"The phone number has too many digits. {_HINT}")
    return _invalid_input(f"This is not a valid phone number. {_HINT}")


def _too_long() -> Problem:
    return _invalid_input(f"The phone number is longer than {MAX_INPUT} characters. {_HINT}")


def _invalid_input(message: str) -> Problem:
    return problem(ProblemCode.INVALID_INPUT, message)
