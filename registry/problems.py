"""Domain problems: what the registry reports about bad or refused input.

Every mutation payload carries `problems: [Problem!]!`; the registry builds them here and the
schema layer only translates. A `field` path is relative to where the validator looked; callers
prefix it with `Problem.at(...)` so the client gets e.g. ("input", "document", "number").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum


class ProblemCode(StrEnum):
    INVALID_INPUT = "INVALID_INPUT"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    INVALID_DOCUMENT = "INVALID_DOCUMENT"
    DOCUMENT_EXPIRED = "DOCUMENT_EXPIRED"
    IDENTITY_MISMATCH = "IDENTITY_MISMATCH"
    UNDER_MINIMUM_AGE = "UNDER_MINIMUM_AGE"
    GUARDIAN_CONSENT_REQUIRED = "GUARDIAN_CONSENT_REQUIRED"
    GUARDIAN_NOT_ELIGIBLE = "GUARDIAN_NOT_ELIGIBLE"
    BLACKLISTED = "BLACKLISTED"
    ALREADY_REGISTERED = "ALREADY_REGISTERED"
    DUPLICATE_EXTERNAL_REF = "DUPLICATE_EXTERNAL_REF"
    NOT_ELIGIBLE = "NOT_ELIGIBLE"
    NOT_FOUND = "NOT_FOUND"
    OPERATOR_NOT_ELIGIBLE = "OPERATOR_NOT_ELIGIBLE"
    DRIVER_NOT_ELIGIBLE = "DRIVER_NOT_ELIGIBLE"
    RIGHTS_HOLDER_NOT_ELIGIBLE = "RIGHTS_HOLDER_NOT_ELIGIBLE"
    AGENCY_NOT_ELIGIBLE = "AGENCY_NOT_ELIGIBLE"
    AVATAR_CONFLICT = "AVATAR_CONFLICT"
    LIKENESS_CONSENT_REQUIRED = "LIKENESS_CONSENT_REQUIRED"
    INVALID_IMAGE = "INVALID_IMAGE"
    INVALID_CREDIT_CODE = "INVALID_CREDIT_CODE"
    LICENSE_REQUIRED = "LICENSE_REQUIRED"
    LICENSE_EXPIRED = "LICENSE_EXPIRED"
    INVALID_TRANSITION = "INVALID_TRANSITION"


@dataclass(frozen=True, slots=True)
class Problem:
    code: ProblemCode
    message: str
    field: tuple[str, ...] | None = None

    def at(self, *prefix: str) -> Problem:
        """The same problem with `prefix` put in front of its field path."""
        return replace(self, field=(*prefix, *(self.field or ())))


def prefixed(problems: Iterable[Problem], *prefix: str) -> list[Problem]:
    return [p.at(*prefix) for p in problems]


class DomainError(Exception):
    """Raised by registry services when input is refused; carries every problem found."""

    def __init__(self, problems: Problem | Iterable[Problem]) -> None:
        self.problems: list[Problem] = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__("; ".join(f"{p.code}: {p.message}" for p in self.problems))


def problem(code: ProblemCode, message: str, *field: str) -> Problem:
    return Problem(code, message, tuple(field) or None)


_HIDDEN_FROM_CLIENTS = frozenset({ProblemCode.BLACKLISTED, ProblemCode.ALREADY_REGISTERED})
NOT_ELIGIBLE_MESSAGE = "This registration cannot be completed. Please contact the platform's support."


def for_onboarding_client(problems: Iterable[Problem]) -> list[Problem]:
    """What an applicant's own client is told: never which of blacklisting or a duplicate it was."""
    shown: list[Problem] = []
    for p in problems:
        shown.append(
            Problem(ProblemCode.NOT_ELIGIBLE, NOT_ELIGIBLE_MESSAGE, None) if p.code in _HIDDEN_FROM_CLIENTS else p
        )
    return list(dict.fromkeys(shown))
