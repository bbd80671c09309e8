"""The identity provider's late answer, applied to a performer it left PENDING.

Replay-safe: every callback names an event id, stored under a unique constraint in the same
transaction as its effect, so a replayed event changes nothing. Idempotent: an answer the record
already holds is a no-op. Only PENDING moves (DESIGN.md §2: PENDING -> VERIFIED, REVIEW, REJECTED);
a contradicting late answer is INVALID_TRANSITION, logged and audited but not refused to the provider,
which could do nothing about it but retry. A PENDING past the pending limit already reads as REVIEW,
so from then on only `decideReview` decides.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from registry import audit, clock
from registry.actors import Actor, ActorKind
from registry.audit.services import Change
from registry.db import unique_violation
from registry.identity_callbacks_models import ProviderEvent
from registry.identity_provider import Verdict
from registry.ids import prefix_of
from registry.performers.models import Performer
from registry.performers.services import initial_status, status_of
from registry.problems import Problem, ProblemCode, problem
from registry.verification import Status, reverify_deadline

log = logging.getLogger("livegate.identity")

EVENT_ID_MAX = 128

_TARGET = {
    Verdict.VERIFIED: Status.VERIFIED,
    Verdict.REJECTED: Status.REJECTED,
    Verdict.MISMATCH: Status.REJECTED,
    Verdict.PENDING: Status.PENDING,
}


class Outcome(StrEnum):
    APPLIED = "applied"  # the record left PENDING
    PENDING = "pending"  # the provider is still checking: nothing changed
    ALREADY_APPLIED = "already_applied"  # the record already holds this answer
    IGNORED = "ignored"  # a late answer that contradicts the record (INVALID_TRANSITION)
    DUPLICATE = "duplicate"  # this event was received before
    NOT_FOUND = "not_found"


@dataclass(frozen=True, slots=True)
class ApplyResult:
    outcome: Outcome
    status: Status | None = None  # the record's status afterwards
    problem: Problem | None = None  # why an IGNORED answer was not applied


async def apply_answer(
    subject_id: str, verdict: Verdict, *, event_id: str, reference: str | None = None
) -> ApplyResult:
    """Apply the provider's answer for `subject_id` (a performer id, global across platforms)."""
    if prefix_of(subject_id) != "per":
        return ApplyResult(Outcome.NOT_FOUND)
    async with in_transaction():
        performer = await Performer.select_for_update().get_or_none(id=subject_id)
        if performer is None:
            return ApplyResult(Outcome.NOT_FOUND)
        if not await _first_receipt(event_id, subject_id, verdict):
            return ApplyResult(Outcome.DUPLICATE, status_of(performer))
        result = await _apply(performer, verdict)
        data = {
            "event": event_id,
            "verdict": verdict.value,
            "outcome": result.outcome.value,
            "status": performer.verification_status,
            "reference": reference,
        }
        actor = Actor(ActorKind.PROVIDER_CALLBACK, performer.platform_id)
        await audit.services.record(actor, Change("performer.provider_answer", performer.id, data))
    if result.problem is not None:
        log.warning("identity provider event %s for %s not applied: %s", event_id, subject_id, result.problem.message)
    return result


async def _first_receipt(event_id: str, subject_id: str, verdict: Verdict) -> bool:
    """Store the event; False when it was stored before (a replay)."""
    try:
        async with in_transaction():  # a savepoint: PostgreSQL aborts the outer transaction otherwise
            await ProviderEvent.create(event_id=event_id, subject_id=subject_id, verdict=verdict.value)
    except IntegrityError as exc:
        if unique_violation(exc) is None:
            raise
        return False
    return True


async def _apply(performer: Performer, verdict: Verdict) -> ApplyResult:
    current, target = status_of(performer), _TARGET[verdict]
    if current is not Status.PENDING:
        if current is target:
            return ApplyResult(Outcome.ALREADY_APPLIED, current)
        message = f"The performer is {current.value}; the provider's late {verdict.value} answer was not applied."
        return ApplyResult(Outcome.IGNORED, current, problem(ProblemCode.INVALID_TRANSITION, message))
    if target is Status.PENDING:
        return ApplyResult(Outcome.PENDING, current)
    # The registration rule: the verdict's status, or REVIEW when the record already has findings.
    status, findings = initial_status(verdict, list(performer.findings))
    now = clock.now()
    performer.verification_status = status.value
    performer.findings = findings
    performer.pending_since = None
    if status is Status.VERIFIED:
        performer.verified_at, performer.reverify_by = now, reverify_deadline(now)
    await performer.save(
        update_fields=["verification_status", "findings", "verified_at", "reverify_by", "pending_since", "updated_at"]
    )
    return ApplyResult(Outcome.APPLIED, status)
