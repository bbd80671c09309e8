"""Identity-document checks (regulation.md §4; DESIGN §2 "Identity documents").

A passing check proves only that a document is well formed; whether it belongs to the person is
for the identity provider. Field paths in problems are relative to IdentityDocumentInput.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

import pycountry

from registry.problems import Problem, ProblemCode, problem

__all__ = [
    "DocumentInput",
    "DocumentType",
    "VerifiedDocument",
    "convert_legacy_resident_id",
    "icao_check_digit",
    "identity_key_number",
    "mask_document_number",
    "mask_name",
    "mod11_2_check",
    "normalize_number",
    "validate_document",
]


class DocumentType(StrEnum):
    RESIDENT_ID_CARD = "RESIDENT_ID_CARD"
    HMT_RESIDENCE_PERMIT = "HMT_RESIDENCE_PERMIT"
    HKMO_TRAVEL_PERMIT = "HKMO_TRAVEL_PERMIT"
    TW_TRAVEL_PERMIT = "TW_TRAVEL_PERMIT"
    FOREIGN_PERMANENT_RESIDENT = "FOREIGN_PERMANENT_RESIDENT"
    PASSPORT = "PASSPORT"


@dataclass(frozen=True, slots=True)
class DocumentInput:
    type: DocumentType
    number: str
    full_name: str
    birth_date: date | None = None
    nationality: str | None = None
    mrz: str | None = None
    expires_on: date | None = None


@dataclass(frozen=True, slots=True)
class VerifiedDocument:
    type: DocumentType
    number: str  # normalized
    key_number: str  # what identity matching uses; see identity_key_number
    full_name: str  # NFKC, trimmed, inner whitespace collapsed
    birth_date: date
    nationality: str | None
    expires_on: date | None
    sex: str | None  # "M" / "F" where the document encodes it


# ---------------------------------------------------------------- lookup tables (built once)

_MOD11_2_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))  # 7 9 10 5 8 4 2 1 6 3 ...
_MOD11_2_CHARS = "10X98765432"
_ICAO_VALUES = {c: i for i, c in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")} | {"<": 0}
_ICAO_WEIGHTS = (7, 3, 1)

_PROVINCES = frozenset(
    str(code)
    for low, high in ((11, 15), (21, 23), (31, 37), (41, 46), (50, 54), (61, 65))
    for code in range(low, high + 1)
)
_HMT_PREFIXES = frozenset({"810000", "820000", "830000"})
# Travel-permit numbers carry no birth date, so the applicant must type it.
_BIRTH_DATE_REQUIRED = frozenset({DocumentType.HKMO_TRAVEL_PERMIT, DocumentType.TW_TRAVEL_PERMIT})

# ICAO 9303 codes that are not ISO 3166-1 countries (Germany's "D", British subclasses, UN, stateless).
_ICAO_SPECIAL_CODES = frozenset(
    {"D", "GBD", "GBN", "GBO", "GBP", "GBS", "UNO", "UNA", "UNK", "XXA", "XXB", "XXC", "XXX"}
)
_NATIONALITIES = frozenset(c.alpha_3 for c in pycountry.countries) | _ICAO_SPECIAL_CODES
_NUMERIC_NATIONALITIES = {c.numeric: c.alpha_3 for c in pycountry.countries}

# [0-9], never \d: \d also matches other scripts' digits (e.g. Arabic-Indic), which NFKC keeps.
_GB11643 = re.compile(r"[0-9]{17}[0-9X]")
_LEGACY_RESIDENT = re.compile(r"[0-9]{15}")
_FPR_LEGACY = re.compile(r"[A-Z]{3}[0-9]{12}")
_HKMO = re.compile(r"[HM](?:[0-9]{8}|[0-9]{10})")
_TW = re.compile(r"[0-9]{8}(?:[0-9]{2})?")
_PASSPORT_NUMBER = re.compile(r"[A-Z0-9]{1,9}")
_MRZ_LINE = re.compile(r"[A-Z0-9<]{44}")
_YYMMDD = re.compile(r"[0-9]{6}")
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212]+")
# Han ideographs plus the middle dots that join transliterated names ("阿沛·阿旺晋美").
_HAN_NAME = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f·・]+")

_NAME_MAX = 100
_NUMBER = ("number",)
_MRZ = "machine-readable zone"


# ---------------------------------------------------------------- public helpers


def normalize_number(raw: str) -> str:
    """NFKC (full-width to ASCII), drop whitespace and hyphens, upper-case (a trailing x)."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw)).upper()


def mod11_2_check(body17: str) -> str:
    """ISO 7064 MOD 11-2 check character for the first 17 digits of a GB 11643 number."""
    if not (len(body17) == 17 and body17.isascii() and body17.isdigit()):
        raise ValueError("body17 must be exactly 17 ASCII digits")
    total = sum(int(c) * w for c, w in zip(body17, _MOD11_2_WEIGHTS, strict=True))
    return _MOD11_2_CHARS[total % 11]


def icao_check_digit(s: str) -> str:
    """ICAO 9303 check digit: 0-9, A-Z = 10-35, '<' = 0; weights 7 3 1; sum mod 10."""
    try:
        total = sum(_ICAO_VALUES[c] * _ICAO_WEIGHTS[i % 3] for i, c in enumerate(s))
    except KeyError as exc:
        raise ValueError(f"not an MRZ character: {exc.args[0]!r}") from None
    return str(total % 10)


def convert_legacy_resident_id(number15: str) -> str:
    """The 18-digit form of a first-generation 15-digit number: insert "19", append the check."""
    if not _LEGACY_RESIDENT.fullmatch(number15):
        raise ValueError("number15 must be exactly 15 ASCII digits")
    body = f"{number15[:6]}19{number15[6:]}"
    return body + mod11_2_check(body)


# ---------------------------------------------------------------- number checks per type


@dataclass(frozen=True, slots=True)
class _Facts:
    """What a number (or MRZ) encodes; None where it encodes nothing or could not be read."""

    birth_date: date | None = None
    sex: str | None = None
    nationality: str | None = None
    expires_on: date | None = None


_NO_FACTS = _Facts()

# A number check appends hard problems and soft findings, and returns what it could read.
_NumberCheck = Callable[[str, date, list[Problem], list[Problem]], _Facts]


def _bad_number(message: str) -> Problem:
    return problem(ProblemCode.INVALID_DOCUMENT, message, *_NUMBER)


def _date_or_none(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _birth_from_yyyymmdd(digits: str, today: date) -> date | None:
    born = _date_or_none(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    return born if born is not None and born <= today else None


def _birth_from_yymmdd(digits: str, today: date) -> date | None:
    """The century that gives a real birth date not in the future (2000s first)."""
    if not _YYMMDD.fullmatch(digits):
        return None
    for century in (2000, 1900):
        born = _date_or_none(century + int(digits[:2]), int(digits[2:4]), int(digits[4:]))
        if born is not None and born <= today:
            return born
    return None


def _expiry_from_yymmdd(digits: str) -> date | None:
    if not _YYMMDD.fullmatch(digits):
        return None
    return _date_or_none(2000 + int(digits[:2]), int(digits[2:4]), int(digits[4:]))


def _sex(sequence_digit: str) -> str:
    return "M" if int(sequence_digit) % 2 else "F"


def _check_gb11643(
    number: str, today: date, problems: list[Problem], noun: str, prefix_fault: Callable[[str], str | None]
) -> _Facts:
    """The shared GB 11643 layout: prefix, YYYYMMDD at 7-14, sequence, MOD 11-2 check."""
    if not _GB11643.fullmatch(number):
        problems.append(
            _bad_number(
                f"A {noun} number has 18 characters: 17 digits followed by a digit or X. "
                "Please re-enter it exactly as printed."
            )
        )
        return _NO_FACTS
    if fault := prefix_fault(number):
        problems.append(_bad_number(fault))
    birth = _birth_from_yyyymmdd(number[6:14], today)
    if birth is None:
        problems.append(
            _bad_number(
                f"The birth date inside this {noun} number (digits 7 to 14) is not a real date in the past; "
                "please check the number."
            )
        )
    if mod11_2_check(number[:17]) != number[17]:
        problems.append(
            _bad_number(
                f"The check character of this {noun} number is wrong; please re-enter the number exactly as printed."
            )
        )
    return _Facts(birth_date=birth, sex=_sex(number[16]))


def _resident_prefix_fault(number: str) -> str | None:
    if number[:2] in _PROVINCES:
        return None
    # The two mistakes people actually make: picking the wrong type for a permit or PR card.
    if number[:6] in _HMT_PREFIXES:
        hint = " If it is a residence permit for Hong Kong, Macao or Taiwan residents, choose that type."
    elif number.startswith("9"):
        hint = " If it is a foreign permanent resident ID card, choose that type."
    else:
        hint = " Please check the number."
    return "The first two digits of this resident ID number are not a mainland province code." + hint


def _hmt_prefix_fault(number: str) -> str | None:
    if number[:6] in _HMT_PREFIXES:
        return None
    return (
        "A residence permit number for Hong Kong, Macao or Taiwan residents starts with "
        "810000, 820000 or 830000; please check the number."
    )


def _fpr_prefix_fault(number: str) -> str | None:
    if not number.startswith("9"):
        return "An 18-digit foreign permanent resident ID number starts with 9; please check the number."
    if number[3:6] not in _NUMERIC_NATIONALITIES:
        return (
            "Digits 4 to 6 of this foreign permanent resident ID number are not a known country code; "
            "please check the number."
        )
    return None


def _check_resident(number: str, today: date, problems: list[Problem], findings: list[Problem]) -> _Facts:
    if _LEGACY_RESIDENT.fullmatch(number):
        problems.append(
            problem(
                ProblemCode.DOCUMENT_EXPIRED,
                "This is a 15-digit first-generation resident ID number; those cards stopped being valid "
                "on 2013-01-01. Please present the current 18-digit card.",
                *_NUMBER,
            )
        )
        return _NO_FACTS
    return _check_gb11643(number, today, problems, "resident ID", _resident_prefix_fault)


def _check_hmt_permit(number: str, today: date, problems: list[Problem], findings: list[Problem]) -> _Facts:
    return _check_gb11643(number, today, problems, "residence permit", _hmt_prefix_fault)


def _check_foreign_resident(number: str, today: date, problems: list[Problem], findings: list[Problem]) -> _Facts:
    if _FPR_LEGACY.fullmatch(number):
        return _check_foreign_resident_legacy(number, today, problems, findings)
    if not _GB11643.fullmatch(number):
        problems.append(
            _bad_number(
                "A foreign permanent resident ID number is 18 digits starting with 9, or on cards issued "
                "before December 2023, 3 letters followed by 12 digits. Please re-enter it as printed."
            )
        )
        return _NO_FACTS
    facts = _check_gb11643(number, today, problems, "foreign permanent resident ID", _fpr_prefix_fault)
    return replace(facts, nationality=_NUMERIC_NATIONALITIES.get(number[3:6]))


def _check_foreign_resident_legacy(
    number: str, today: date, problems: list[Problem], findings: list[Problem]
) -> _Facts:
    """Alpha-3 + 4-digit locality + YYMMDD + sequence + 7-3-1 check (layout not yet official)."""
    nationality = number[:3] if number[:3] in _NATIONALITIES else None
    if nationality is None:
        problems.append(
            _bad_number(
                "The first three letters of this foreign permanent resident ID number are not a known "
                "country code; please check the number."
            )
        )
    birth = _birth_from_yymmdd(number[7:13], today)
    if birth is None:
        problems.append(
            _bad_number(
                "The birth date inside this foreign permanent resident ID number (characters 8 to 13) "
                "is not a real date in the past; please check the number."
            )
        )
    # regulation.md §4.4: the check method is unconfirmed by the NIA, so a failure goes to review.
    if icao_check_digit(number[:14]) != number[14]:
        findings.append(
            _bad_number(
                "The last digit of this older foreign permanent resident ID number does not match the "
                "check we know of; staff will confirm the number by hand."
            )
        )
    return _Facts(birth_date=birth, sex=_sex(number[13]), nationality=nationality)


def _pattern_check(pattern: re.Pattern[str], message: str) -> _NumberCheck:
    def check(number: str, today: date, problems: list[Problem], findings: list[Problem]) -> _Facts:
        if not pattern.fullmatch(number):
            problems.append(_bad_number(message))
        return _NO_FACTS

    return check


_NUMBER_CHECKS: dict[DocumentType, _NumberCheck] = {
    DocumentType.RESIDENT_ID_CARD: _check_resident,
    DocumentType.HMT_RESIDENCE_PERMIT: _check_hmt_permit,
    DocumentType.FOREIGN_PERMANENT_RESIDENT: _check_foreign_resident,
    DocumentType.HKMO_TRAVEL_PERMIT: _pattern_check(
        _HKMO,
        "A travel permit number for Hong Kong and Macao residents is H or M followed by 8 or 10 digits; "
        "please re-enter it as printed.",
    ),
    DocumentType.TW_TRAVEL_PERMIT: _pattern_check(
        _TW,
        "A travel permit number for Taiwan residents is 8 digits, or 10 with the issue count; "
        "please re-enter it as printed.",
    ),
    DocumentType.PASSPORT: _pattern_check(
        _PASSPORT_NUMBER, "A passport number is 1 to 9 letters and digits; please re-enter it as printed."
    ),
}


def _check_number(
    type: DocumentType, number: str, today: date, problems: list[Problem], findings: list[Problem]
) -> _Facts:
    if not number:
        problems.append(problem(ProblemCode.INVALID_INPUT, "Enter the document number.", *_NUMBER))
        return _NO_FACTS
    return _NUMBER_CHECKS[type](number, today, problems, findings)


# ---------------------------------------------------------------- passport MRZ (ICAO 9303 TD3)

# (what the digit protects, slices of line 2 it covers, position of the check digit)
_TD3_CHECKS: tuple[tuple[str, tuple[slice, ...], int], ...] = (
    ("document number", (slice(0, 9),), 9),
    ("birth date", (slice(13, 19),), 19),
    ("expiry date", (slice(21, 27),), 27),
    ("personal number", (slice(28, 42),), 42),
    ("final (composite)", (slice(0, 10), slice(13, 20), slice(21, 43)), 43),
)


def _bad_mrz(message: str) -> Problem:
    return problem(ProblemCode.INVALID_DOCUMENT, message, "mrz")


def _mrz_lines(mrz: str) -> tuple[str, str] | None:
    lines = [line.strip() for line in unicodedata.normalize("NFKC", mrz).upper().strip().split("\n")]
    if len(lines) != 2 or not all(_MRZ_LINE.fullmatch(line) for line in lines):
        return None
    return lines[0], lines[1]


def _td3_check_passes(line2: str, covered: tuple[slice, ...], position: int) -> bool:
    expected = icao_check_digit("".join(line2[part] for part in covered))
    # An empty personal-number field may carry '<' instead of 0 as its check digit (ICAO 9303-4).
    empty_optional = position == 42 and line2[28:42] == "<" * 14 and line2[42] == "<"
    return line2[position] == expected or empty_optional


def _check_mrz(mrz: str | None, number: str, today: date, problems: list[Problem]) -> _Facts:
    if mrz is None or not mrz.strip():
        problems.append(
            problem(
                ProblemCode.INVALID_INPUT,
                "Enter the two machine-readable lines at the bottom of the passport's photo page.",
                "mrz",
            )
        )
        return _NO_FACTS
    lines = _mrz_lines(mrz)
    if lines is None:
        problems.append(
            _bad_mrz(
                "The machine-readable zone must be two lines of 44 characters (A-Z, 0-9 and <); "
                "please copy both lines exactly as printed."
            )
        )
        return _NO_FACTS
    line1, line2 = lines
    if not line1.startswith("P"):
        problems.append(
            _bad_mrz("The first machine-readable line of a passport starts with P; please check the lines.")
        )
    for what, covered, position in _TD3_CHECKS:
        if not _td3_check_passes(line2, covered, position):
            problems.append(
                _bad_mrz(f"The {what} check digit in the {_MRZ} is wrong; please copy both lines exactly as printed.")
            )
    if line2[:9].rstrip("<") != number:
        problems.append(
            problem(
                ProblemCode.INVALID_DOCUMENT,
                f"The passport number does not match the one in the {_MRZ}; please check both.",
                *_NUMBER,
            )
        )
    return _read_td3_fields(line2, today, problems)


def _read_td3_fields(line2: str, today: date, problems: list[Problem]) -> _Facts:
    nationality = line2[10:13].rstrip("<")
    if nationality not in _NATIONALITIES:
        problems.append(
            _bad_mrz(f"The nationality code in the {_MRZ} is not a known country code; please check the lines.")
        )
    birth = _birth_from_yymmdd(line2[13:19], today)
    if birth is None:
        problems.append(
            _bad_mrz(f"The birth date in the {_MRZ} is not a real date in the past; please check the lines.")
        )
    expiry = _expiry_from_yymmdd(line2[21:27])
    if expiry is None:
        problems.append(_bad_mrz(f"The expiry date in the {_MRZ} is not a real date; please check the lines."))
    if line2[20] not in "MFX<":
        problems.append(_bad_mrz(f"The sex field in the {_MRZ} must be M, F, X or <; please check the lines."))
    return _Facts(
        birth_date=birth,
        sex=line2[20] if line2[20] in "MF" else None,
        nationality=nationality if nationality in _NATIONALITIES else None,
        expires_on=expiry,
    )


# ---------------------------------------------------------------- the other fields


def _normalize_name(raw: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", raw).split())


def _check_name(name: str, problems: list[Problem]) -> None:
    if not name:
        message = "Enter the full name exactly as printed on the document."
    elif len(name) > _NAME_MAX:
        message = f"The full name is longer than {_NAME_MAX} characters; enter it as printed on the document."
    elif any(unicodedata.category(c).startswith("C") for c in name):
        message = "The full name contains invisible or control characters; please type it again."
    else:
        return
    problems.append(problem(ProblemCode.INVALID_INPUT, message, "fullName"))


def _normalize_nationality(raw: str | None) -> str | None:
    if raw is None:
        return None
    return unicodedata.normalize("NFKC", raw).strip().upper() or None


def _check_nationality(nationality: str | None, *, required: bool, problems: list[Problem]) -> None:
    if nationality is None and required:
        message = "Enter the nationality code printed on the passport, for example CHN."
    elif nationality is not None and nationality not in _NATIONALITIES:
        message = "The nationality is not a known ISO 3166-1 alpha-3 country code (for example CHN or USA)."
    else:
        return
    problems.append(problem(ProblemCode.INVALID_INPUT, message, "nationality"))


def _mismatch(field: str, what: str, source: str) -> Problem:
    return problem(
        ProblemCode.INVALID_DOCUMENT,
        f"The {what} does not match the one in the {source}; please check both.",
        field,
    )


def _check_birth_date(
    doc: DocumentInput, encoded: date | None, source: str, today: date, problems: list[Problem]
) -> None:
    given = doc.birth_date
    if given is None and doc.type in _BIRTH_DATE_REQUIRED:
        message = "Enter the birth date printed on the permit; its number does not contain one."
        problems.append(problem(ProblemCode.INVALID_INPUT, message, "birthDate"))
    elif given is not None and given > today:
        message = "The birth date lies in the future; please check it."
        problems.append(problem(ProblemCode.INVALID_DOCUMENT, message, "birthDate"))
    elif given is not None and encoded is not None and given != encoded:
        problems.append(_mismatch("birthDate", "birth date", source))


def _check_expiry(given: date | None, encoded: date | None, source: str, today: date, problems: list[Problem]) -> None:
    if given is not None and encoded is not None and given != encoded:
        problems.append(_mismatch("expiresOn", "expiry date", source))
    # Only a passport's MRZ encodes an expiry. Both dates are tested; one both carry is reported once.
    for expiry, field in ((given, "expiresOn"), (None if encoded == given else encoded, "mrz")):
        if expiry is not None and expiry < today:
            message = f"This document expired on {expiry.isoformat()}; please present a valid document."
            problems.append(problem(ProblemCode.DOCUMENT_EXPIRED, message, field))


def _key_number(type: DocumentType, number: str, nationality: str | None) -> str:
    # Passport numbers are unique only within the issuing state.
    if type == DocumentType.PASSPORT:
        return f"{nationality or 'PASSPORT'}:{number}"
    return number


# ---------------------------------------------------------------- entry points


def validate_document(
    doc: DocumentInput, *, today: date
) -> tuple[VerifiedDocument | None, list[Problem], list[Problem]]:
    """(result, problems, findings): every hard problem at once, and soft findings for REVIEW.

    The result is None when there is any problem; findings alone still give a result.
    """
    problems: list[Problem] = []
    findings: list[Problem] = []
    number = normalize_number(doc.number)
    facts = _check_number(doc.type, number, today, problems, findings)
    is_passport = doc.type == DocumentType.PASSPORT
    if is_passport:
        facts = _check_mrz(doc.mrz, number, today, problems)
    source = _MRZ if is_passport else "document number"
    full_name = _normalize_name(doc.full_name)
    _check_name(full_name, problems)
    nationality = _normalize_nationality(doc.nationality)
    _check_nationality(nationality, required=is_passport, problems=problems)
    if nationality in _NATIONALITIES and facts.nationality not in (None, nationality):
        problems.append(_mismatch("nationality", "nationality", source))
    _check_birth_date(doc, facts.birth_date, source, today, problems)
    _check_expiry(doc.expires_on, facts.expires_on, source, today, problems)
    if problems:
        return None, problems, findings
    birth_date = facts.birth_date or doc.birth_date
    assert birth_date is not None  # every type either encodes it or requires the input field
    nationality = facts.nationality or nationality
    verified = VerifiedDocument(
        type=doc.type,
        number=number,
        key_number=_key_number(doc.type, number, nationality),
        full_name=full_name,
        birth_date=birth_date,
        nationality=nationality,
        expires_on=doc.expires_on or facts.expires_on,
        sex=facts.sex,
    )
    return verified, problems, findings


def identity_key_number(
    type: DocumentType, number: str, *, nationality: str | None = None
) -> tuple[str | None, list[Problem]]:
    """The key a blacklist entry or screening query matches on, from type and number alone.

    Checks form and check digits only (no clock, no expiry; an unconfirmed legacy PR check digit
    does not refuse). A 15-digit resident number is accepted and keyed in its 18-digit form.
    `nationality` matters only for a passport: keyed "NAT:NUMBER" (as validate_document does) when
    given, else "PASSPORT:NUMBER", which matches only other keys made without a nationality.
    """
    problems: list[Problem] = []
    normalized = normalize_number(number)
    if type == DocumentType.RESIDENT_ID_CARD and _LEGACY_RESIDENT.fullmatch(normalized):
        normalized = convert_legacy_resident_id(normalized)
    # date.max: no birth date counts as "in the future" here, so only its existence is checked.
    _check_number(type, normalized, date.max, problems, [])
    nat = _normalize_nationality(nationality) if type == DocumentType.PASSPORT else None
    _check_nationality(nat, required=False, problems=problems)
    if problems:
        return None, problems
    return _key_number(type, normalized, nat), problems


# ---------------------------------------------------------------- masking for answers and UIs


def mask_document_number(number: str) -> str:
    """Keep the first 3 and last 4 characters ("110***********002X"); under 8, the first and last."""
    head, tail = (3, 4) if len(number) >= 8 else (1, 1)
    if len(number) <= head + tail:
        return "*" * len(number)
    return number[:head] + "*" * (len(number) - head - tail) + number[-tail:]


def mask_name(name: str) -> str:
    """Han names keep the first (and, from 3 characters, the last) character; others each initial."""
    name = _normalize_name(name)
    if _HAN_NAME.fullmatch(name):
        if len(name) <= 2:  # "张三" -> "张*", a single character -> "*"
            return name[:-1] + "*"
        return name[0] + "*" * (len(name) - 2) + name[-1]
    return " ".join(word[0] + "*" * (len(word) - 1) if len(word) > 1 else "*" for word in name.split())
