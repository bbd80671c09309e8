"""Verification status rules shared by performers, organizations, agencies and suppliers (DESIGN §2)."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from registry import clock, config
from registry.problems import DomainError, Problem, ProblemCode, problem

REVERIFY_MONTHS = 6


class Status(StrEnum):
    PENDING = "PENDING"
    VERIFIED = "VERIFIED"
    REVIEW = "REVIEW"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"


# Who may move a record where; anything else is INVALID_TRANSITION.
REVERIFIABLE = frozenset({Status.VERIFIED, Status.EXPIRED, Status.REJECTED})
DECIDABLE = frozenset({Status.REVIEW})


def effective_status(stored: str, *, reverify_by: datetime | None, pending_since: datetime | None = None,
                     now: datetime | None = None) -> Status:  # fmt: skip
    """The status as of now: time alone turns VERIFIED into EXPIRED and a long PENDING into REVIEW."""
    now = now or clock.now()
    status = Status(stored)
    if status is Status.VERIFIED and reverify_by is not None and reverify_by <= now:
        return Status.EXPIRED
    limit = timedelta(seconds=config.current().provider_pending_limit_s)
    if status is Status.PENDING and pending_since is not None and pending_since + limit <= now:
        return Status.REVIEW
    return status


def reverify_deadline(verified_at: datetime) -> datetime:
    return clock.add_months(verified_at, REVERIFY_MONTHS)


def check_transition(current: Status, allowed: frozenset[Status], what: str) -> None:
    if current not in allowed:
        states = ", ".join(sorted(s.value for s in allowed))
        raise DomainError(
            problem(ProblemCode.INVALID_TRANSITION, f"{what} is {current.value}; this is possible only from {states}.")
        )


def finding(code: ProblemCode, message: str, *field: str, **extra: str) -> dict[str, object]:
    """A stored finding: a problem plus private details (e.g. the blacklist entry behind a review)."""
    return {"code": code.value, "message": message, "field": list(field) or None, **extra}


def findings_as_problems(findings: list[dict[str, object]]) -> list[Problem]:
    return [
        Problem(ProblemCode(str(f["code"])), str(f["message"]), tuple(f["field"]) if f.get("field") else None)  # type: ignore[arg-type]
        for f in findings
    ]
