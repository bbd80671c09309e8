"""Unified Social Credit Code (统一社会信用代码, GB 32100-2015), see notes/regulation.md §4.7.

Layout: 1 registration authority, 2 organisation type, 3-8 GB/T 2260 division, 9-17 GB 11714
organisation code (8 body characters + its check), 18 overall check.

The overall check (position 18) is enforced strictly. The inner organisation-code check
(position 17) is only reported through `CreditCode.inner_check_ok`: codes assigned to individual
businesses by registration authorities do not always follow GB 11714, so the caller routes a
failure to manual review instead of rejecting it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from registry.problems import Problem, ProblemCode, problem

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
LENGTH = 18

# Precomputed once: these run on every supplier / organisation row, bulk imports included.
_VALUE: dict[str, int] = {c: i for i, c in enumerate(ALPHABET)}
_WEIGHTS: tuple[int, ...] = tuple(pow(3, i, 31) for i in range(LENGTH - 1))
# GB 11714 values its characters as base-36 digits (A=10 ... Z=35), not by the USCC alphabet.
_ORG_VALUE: dict[str, int] = {c: int(c, 36) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
_ORG_WEIGHTS: tuple[int, ...] = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_CHECK: dict[int, str] = {**{v: str(v) for v in range(1, 10)}, 10: "X", 11: "0"}

# Hyphen-like characters people paste from documents; NFKC already maps the full-width ones.
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
_STRIP = str.maketrans("", "", _DASHES)
# Longer raw input cannot be a code even after normalisation; don't spend NFKC on it.
_MAX_RAW = 64
_MAX_LISTED = 3
_MISTYPED = {"O": "0", "I": "1"}


@dataclass(frozen=True, slots=True)
class CreditCode:
    code: str
    authority: str
    org_type: str
    division: str
    org_code: str
    inner_check_ok: bool

    @property
    def is_individual_business(self) -> bool:
        """Type 92 (个体工商户) takes the individual-business display branch (G-10)."""
        return self.code.startswith("92")


def normalize_credit_code(raw: str) -> str:
    """NFKC (full-width input), drop whitespace and hyphens anywhere, upper-case."""
    text = unicodedata.normalize("NFKC", raw).translate(_STRIP)
    return "".join(text.split()).upper()


def uscc_check_char(first17: str) -> str:
    """Position-18 check character for the first 17 characters; ValueError if they can't be a code."""
    if len(first17) != LENGTH - 1:
        raise ValueError("expected 17 characters")
    try:
        total = sum(_VALUE[c] * w for c, w in zip(first17, _WEIGHTS, strict=True))
    except KeyError as exc:
        raise ValueError(f"character {exc.args[0]!r} is not in the credit-code alphabet") from None
    return ALPHABET[(31 - total % 31) % 31]


def org_code_check_char(body8: str) -> str:
    """GB 11714 check character for an 8-character organisation-code body; ValueError if malformed."""
    if len(body8) != len(_ORG_WEIGHTS):
        raise ValueError("expected 8 characters")
    try:
        total = sum(_ORG_VALUE[c] * w for c, w in zip(body8, _ORG_WEIGHTS, strict=True))
    except KeyError as exc:
        raise ValueError(f"character {exc.args[0]!r} is not a digit or capital letter") from None
    return _ORG_CHECK[11 - total % 11]


def validate_credit_code(raw: str) -> tuple[CreditCode | None, list[Problem]]:
    """Parse a credit code; problems carry no field path (the caller prefixes it)."""
    if len(raw) > _MAX_RAW:
        return None, [_length_problem(len(raw))]
    code = normalize_credit_code(raw)
    problems = _shape_problems(code)
    if problems:
        return None, problems
    if uscc_check_char(code[:17]) != code[17]:
        return None, [
            problem(
                ProblemCode.INVALID_CREDIT_CODE,
                "The credit code fails its check character (position 18), so one of its characters "
                "is probably mistyped. Copy it again from the business licence.",
            )
        ]
    return _parsed(code), []


def _parsed(code: str) -> CreditCode:
    return CreditCode(
        code=code,
        authority=code[0],
        org_type=code[1],
        division=code[2:8],
        org_code=code[8:17],
        inner_check_ok=org_code_check_char(code[8:16]) == code[16],
    )


def _shape_problems(code: str) -> list[Problem]:
    problems: list[Problem] = []
    if len(code) != LENGTH:
        problems.append(_length_problem(len(code)))
    bad = [(i, c) for i, c in enumerate(code, start=1) if c not in _VALUE]
    if bad:
        problems.append(_alphabet_problem(bad))
    return problems


def _length_problem(length: int) -> Problem:
    return problem(
        ProblemCode.INVALID_CREDIT_CODE,
        f"A unified social credit code has 18 characters; this one has {length}. "
        "Copy it again from the business licence.",
    )


def _alphabet_problem(bad: list[tuple[int, str]]) -> Problem:
    listed = ", ".join(f"{_show(c)} at position {i}" for i, c in bad[:_MAX_LISTED])
    more = f" and {len(bad) - _MAX_LISTED} more" if len(bad) > _MAX_LISTED else ""
    hints = sorted({f"the letter {c} is probably the digit {_MISTYPED[c]}" for _, c in bad if c in _MISTYPED})
    hint = f" ({'; '.join(hints)})" if hints else ""
    return problem(
        ProblemCode.INVALID_CREDIT_CODE,
        f"The credit code contains {listed}{more}{hint}. It uses only digits and capital letters; "
        "the letters I, O, S, V and Z never occur.",
    )


def _show(char: str) -> str:
    # Quote printable characters; name the code point of invisible ones so the message stays readable.
    return f"'{char}'" if char.isprintable() else f"U+{ord(char):04X}"
