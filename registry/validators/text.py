"""Free text (names, addresses, labels) and platform account ids.

Names and addresses are shown to consumers and staff and go into logs, so invisible characters
are refused rather than kept: bidi overrides and zero-width characters let two different-looking
strings compare equal (or equal-looking strings differ), and line breaks forge log lines.
"""

from __future__ import annotations

import re
import unicodedata

from registry.problems import Problem, ProblemCode, problem

EXTERNAL_REF_MAX = 128

# Cc control, Cf format (bidi overrides, zero-width characters, BOM), Cs lone surrogates (they
# can't be stored as UTF-8), Zl/Zp line and paragraph separators. Private-use (Co) and unassigned
# (Cn) characters stay allowed: rare characters in Chinese names live there in older systems and
# in newer Unicode versions than this Python knows.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_EXTERNAL_REF = re.compile(r"[\x21-\x7e]+")
# Cleaning can only shrink text so far (whitespace runs, NFC composition); longer raw input is
# refused before any work is spent on it.
_RAW_FACTOR = 4
_RAW_SLACK = 256


def clean_text(raw: str, *, min_len: int = 1, max_len: int) -> tuple[str | None, list[Problem]]:
    """NFC, trimmed, inner whitespace runs collapsed to one space; problems carry no field path."""
    if not 1 <= min_len <= max_len:
        raise ValueError("need 1 <= min_len <= max_len")
    if len(raw) > max_len * _RAW_FACTOR + _RAW_SLACK:
        return None, [_too_long(max_len)]
    text = unicodedata.normalize("NFC", raw).strip()
    bad = _first_forbidden(text)
    if bad is not None:
        return None, [_forbidden(bad)]
    text = " ".join(text.split())
    if not text:
        return None, [problem(ProblemCode.INVALID_INPUT, "The text is empty; enter a value.")]
    if len(text) < min_len:
        return None, [problem(ProblemCode.INVALID_INPUT, f"Enter at least {min_len} characters.")]
    if len(text) > max_len:
        return None, [_too_long(max_len, len(text))]
    return text, []


def clean_external_ref(raw: str | None) -> tuple[str | None, list[Problem]]:
    """A platform account id kept exactly as sent: 1 to 128 printable ASCII characters, no spaces."""
    if raw is None:
        return None, []
    if not raw:
        return None, [_ref_problem("The external reference is empty; send the platform account id or omit it.")]
    if len(raw) > EXTERNAL_REF_MAX:
        return None, [_ref_problem(f"The external reference is longer than {EXTERNAL_REF_MAX} characters.")]
    if not _EXTERNAL_REF.fullmatch(raw):
        # Not trimmed or repaired: two ids differing only in a space must not silently become one.
        return None, [
            _ref_problem(
                "The external reference may contain only printable ASCII characters "
                "(letters, digits, punctuation) and no spaces."
            )
        ]
    return raw, []


_COLLAPSIBLE = frozenset("\t\n\r")


def _first_forbidden(text: str) -> str | None:
    if text.isprintable():  # fast path: every forbidden category is non-printable
        return None
    # Tabs and line breaks are whitespace (collapsed below): multi-line addresses arrive from CSV files.
    return next((c for c in text if c not in _COLLAPSIBLE and unicodedata.category(c) in _FORBIDDEN_CATEGORIES), None)


def _forbidden(char: str) -> Problem:
    name = unicodedata.name(char, "")
    label = f"U+{ord(char):04X} {name}".rstrip()
    message = f"The text contains an invisible control or formatting character ({label}); remove it."
    return problem(ProblemCode.INVALID_INPUT, message)


def _too_long(max_len: int, length: int | None = None) -> Problem:
    got = f" (it has {length})" if length is not None else ""
    return problem(ProblemCode.LIMIT_EXCEEDED, f"The text may have at most {max_len} characters{got}.")


def _ref_problem(message: str) -> Problem:
    return problem(ProblemCode.INVALID_INPUT, message)
