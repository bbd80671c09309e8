"""Account status derived from the measures in force (DESIGN §2, Enforcement and blacklist).

Nothing is stored as "the status": a temporary measure ends by itself when `until` passes, and a
lifted one is recorded but no longer counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum

from tortoise.expressions import Q

from registry import clock
from registry.enforcement.models import Enforcement


class Action(StrEnum):
    WARN = "WARN"
    LIMIT_TRAFFIC = "LIMIT_TRAFFIC"
    LIMIT_FUNCTIONS = "LIMIT_FUNCTIONS"
    SUSPEND_RELEASE = "SUSPEND_RELEASE"
    CANCEL_ACCOUNT = "CANCEL_ACCOUNT"


class AccountStatus(StrEnum):
    ACTIVE = "ACTIVE"
    WARNED = "WARNED"
    LIMITED = "LIMITED"
    SUSPENDED = "SUSPENDED"
    CANCELLED = "CANCELLED"


STATUS_OF = {
    Action.WARN: AccountStatus.WARNED,
    Action.LIMIT_TRAFFIC: AccountStatus.LIMITED,
    Action.LIMIT_FUNCTIONS: AccountStatus.LIMITED,
    Action.SUSPEND_RELEASE: AccountStatus.SUSPENDED,
    Action.CANCEL_ACCOUNT: AccountStatus.CANCELLED,
}
_RANK = [
    AccountStatus.ACTIVE,
    AccountStatus.WARNED,
    AccountStatus.LIMITED,
    AccountStatus.SUSPENDED,
    AccountStatus.CANCELLED,
]
# The action table of DESIGN §2: which measures block going live, may carry `until`, can be lifted.
BLOCKING = frozenset({Action.LIMIT_FUNCTIONS, Action.SUSPEND_RELEASE, Action.CANCEL_ACCOUNT})
TEMPORARY_ALLOWED = frozenset({Action.LIMIT_TRAFFIC, Action.LIMIT_FUNCTIONS, Action.SUSPEND_RELEASE})
LIFTABLE = frozenset(Action) - {Action.CANCEL_ACCOUNT}


def _in_force_filter(now: datetime) -> Q:
    return Q(lifted_at__isnull=True) & (Q(until__isnull=True) | Q(until__gt=now))


def is_in_force(measure: Enforcement, now: datetime) -> bool:
    """The same test as `in_force`, for one loaded measure."""
    return measure.lifted_at is None and (measure.until is None or measure.until > now)


async def in_force(subject_ids: Sequence[str], *, now: datetime | None = None) -> dict[str, list[Enforcement]]:
    """The measures in force for each subject (one query for all of them)."""
    found: dict[str, list[Enforcement]] = {subject_id: [] for subject_id in subject_ids}
    if not subject_ids:
        return found
    rows = await Enforcement.filter(_in_force_filter(now or clock.now()), subject_id__in=list(subject_ids)).order_by(
        "since", "id"
    )
    for row in rows:
        found[row.subject_id].append(row)
    return found


def account_status(measures: Iterable[Enforcement]) -> AccountStatus:
    worst = AccountStatus.ACTIVE
    for measure in measures:
        status = STATUS_OF[Action(measure.action)]
        if _RANK.index(status) > _RANK.index(worst):
            worst = status
    return worst


def blocking_actions(measures: Iterable[Enforcement]) -> set[Action]:
    return {Action(m.action) for m in measures} & BLOCKING
