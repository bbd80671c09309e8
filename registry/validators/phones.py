"""Phone numbers: parse to E.164, mask for display, tell mobiles apart.

Numbering plans come from the phonenumbers library (libphonenumber metadata), never from
hand-written patterns: plans change (new mobile prefixes) and the library is kept current.
Numbers without a country code are read as mainland China numbers.

Bulk imports parse a number per row, and phonenumbers' general parser costs tens of microseconds
each. The two shapes nearly every mainland number has (an 11-digit mobile, or 0 + area code +
subscriber) are matched directly against the library's own CN patterns; anything else, and any
number those patterns do not accept, goes through phonenumbers as before. The answer is the same
either way (tests/registry/validators/test_phones.py compares both paths).
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from phonenumbers import (
    NumberParseException,
    PhoneMetadata,
    PhoneNumber,
    PhoneNumberDesc,
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

# The fast path: plain ASCII digits and separators only (no '+', nothing for NFKC or the character
# checks to change or refuse), then the national number matched against the CN metadata.
_PLAIN = re.compile(r"[0-9 \-().]+")
_PLAIN_SEPARATORS = " -()."
_MOBILE_LENGTH = 11
_FIXED_LINE_LENGTHS = range(10, 13)  # 0 + the national number's 9 to 11 digits


def parse_phone(raw: str, *, mobile_only: bool = False) -> tuple[str | None, list[Problem]]:
    """The number in E.164 (e.g. "+8613800138000"); problems carry no field path."""
    if len(raw) > MAX_INPUT:
        return None, [_too_long()]
    text = unicodedata.normalize("NFKC", raw).strip()  # full-width digits, ideographic spaces
    if len(text) > MAX_INPUT:
        return None, [_too_long()]
    if _PLAIN.fullmatch(text):
        fast = _mainland(_digits(text), mobile_only=mobile_only)
        if fast is not None:
            return fast, []
    refused = _character_problem(text)
    if refused is not None:
        return None, [refused]
    number = _parse(text)
    if number is None or not phonenumbers.is_valid_number(number):
        return None, [_invalid(number)]
    if mobile_only and phonenumbers.number_type(number) not in _MOBILE_TYPES:
        return None, [_invalid_input("This is not a mobile phone number. Enter a mobile number.")]
    return phonenumbers.format_number(number, PhoneNumberFormat.E164), []


class _Type:
    """One number type of a plan, tested as phonenumbers tests it: possible lengths, then the pattern."""

    def __init__(self, desc: PhoneNumberDesc) -> None:
        self.lengths = frozenset(desc.possible_length or ())
        self.pattern = re.compile(desc.national_number_pattern)

    def matches(self, national: str) -> bool:
        return (not self.lengths or len(national) in self.lengths) and self.pattern.fullmatch(national) is not None


class _Plan:
    """The parts of the CN numbering plan (phonenumbers' metadata) the fast path matches against."""

    def __init__(self, metadata: PhoneMetadata) -> None:
        self.country_code = metadata.country_code
        self.general = _Type(metadata.general_desc)
        self.fixed_line = _Type(metadata.fixed_line)
        self.mobile = _Type(metadata.mobile)
        # phonenumbers classifies a number by these before it tries mobile.
        self.before_mobile = [
            _Type(desc)
            for desc in (
                metadata.premium_rate,
                metadata.toll_free,
                metadata.shared_cost,
                metadata.voip,
                metadata.personal_number,
                metadata.pager,
                metadata.uan,
                metadata.voicemail,
                metadata.fixed_line,
            )
            if desc is not None and desc.national_number_pattern
        ]
        # The national prefix (0) and the carrier prefixes (1[12]xx, 179xx) phonenumbers strips, and
        # the international prefixes (00, carrier + 00) it reads a country code after.
        self.prefix = re.compile(metadata.national_prefix_for_parsing)
        self.international = re.compile(metadata.international_prefix)


_CN = _Plan(PhoneMetadata.metadata_for_region(DEFAULT_REGION))
# A mainland number in E.164 whose national number is a valid mobile or fixed line has 9 to 11 digits
# (country codes are prefix-free: nothing else starts +86).
_MAINLAND_E164 = re.compile(rf"\+{_CN.country_code}[1-9][0-9]{{8,10}}")


def _digits(text: str) -> str:
    for separator in _PLAIN_SEPARATORS:  # cheaper than str.translate for these few, mostly absent
        if separator in text:
            text = text.replace(separator, "")
    return text


def _mainland(digits: str, *, mobile_only: bool) -> str | None:
    """E.164 of an ordinary mainland number, or None to leave the number to phonenumbers.

    A mobile is its 11 digits; a landline is 0 + area code + subscriber, whose national number is
    what follows the 0. None whenever phonenumbers might read the digits another way: an IDD or
    carrier prefix, a national number that is not a valid fixed line or mobile, or (for
    `mobile_only`) a number that some other type of the plan also matches.
    """
    if _CN.international.match(digits):
        return None
    if len(digits) == _MOBILE_LENGTH and digits[0] == "1":
        national = digits
        if _CN.prefix.match(national) or not _CN.mobile.matches(national):
            return None
        if mobile_only and any(kind.matches(national) for kind in _CN.before_mobile):
            return None
    elif len(digits) in _FIXED_LINE_LENGTHS and digits[0] == "0" and digits[1] != "0":
        national = digits[1:]
        if mobile_only or _CN.prefix.match(national) or not _CN.fixed_line.matches(national):
            return None
    else:
        return None
    if not _CN.general.matches(national):
        return None
    return f"+{_CN.country_code}{national}"


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
    if _MAINLAND_E164.fullmatch(e164):  # what parse_phone's fast path gives: no need to parse it again
        return f"+{_CN.country_code} {_mask_digits(e164[3:])}"
    return _mask_parsed(e164)


def _mask_parsed(e164: str) -> str:
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
