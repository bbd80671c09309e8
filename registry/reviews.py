"""A compliance officer's decision on a record in REVIEW (decideReview).

An approval also remembers the fuzzy blacklist matches that caused the review, so the same match
does not send the same subject to REVIEW again.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise.models import Model
from tortoise.transactions import in_transaction

from registry import audit, clock
from registry.actors import Actor
from registry.agencies.models import Agency
from registry.audit.services import Change
from registry.enforcement.models import ReviewApproval
from registry.ids import prefix_of
from registry.performers.models import OperatorOrganization, Performer
from registry.problems import DomainError, ProblemCode, problem
from registry.suppliers.models import Supplier
from registry.validators.text import clean_text
from registry.verification import DECIDABLE, Status, check_transition, effective_status, reverify_deadline

REVIEWABLE: dict[str, type[Model]] = {"per": Performer, "org": OperatorOrganization, "agy": Agency, "sup": Supplier}


class ReviewDecision(StrEnum):
    APPROVE = "APPROVE"
    REJECT = "REJECT"


async def decide_review(actor: Actor, subject_id: str, decision: ReviewDecision, reason: str) -> Model:
    cleaned, problems = clean_text(reason, max_len=1000)
    if cleaned is None:
        raise DomainError(p.at("input", "reason") for p in problems)
    model = REVIEWABLE.get(prefix_of(subject_id))
    if model is None or actor.session_id is not None:
        raise DomainError(problem(ProblemCode.NOT_FOUND, "No record in review has this id.", "input", "subjectId"))
    async with in_transaction():
        record = await model.select_for_update().get_or_none(id=subject_id, platform_id=actor.platform_id)
        if record is None:
            raise DomainError(problem(ProblemCode.NOT_FOUND, "No record in review has this id.", "input", "subjectId"))
        current = effective_status(
            record.verification_status,  # type: ignore[attr-defined]
            reverify_by=getattr(record, "reverify_by", None),
            pending_since=getattr(record, "pending_since", None),
        )
        check_transition(current, DECIDABLE, "This record")
        if decision is ReviewDecision.APPROVE:
            await _remember_approvals(actor, record)
            _approve(record)
        else:
            record.verification_status = Status.REJECTED.value  # type: ignore[attr-defined]
        await record.save()
        data = {"decision": decision.value, "status": record.verification_status}  # type: ignore[attr-defined]
        await audit.services.record(actor, Change("review.decided", subject_id, data))
    return record


def _approve(record: Model) -> None:
    now = clock.now()
    record.verification_status = Status.VERIFIED.value  # type: ignore[attr-defined]
    record.findings = []  # type: ignore[attr-defined]
    if hasattr(record, "verified_at"):
        record.verified_at = now  # type: ignore[attr-defined]
        record.reverify_by = reverify_deadline(now)  # type: ignore[attr-defined]
    if hasattr(record, "pending_since"):
        record.pending_since = None  # type: ignore[attr-defined]


async def _remember_approvals(actor: Actor, record: Model) -> None:
    for found in record.findings:  # type: ignore[attr-defined]
        if found.get("entryId") and found.get("key"):
            await ReviewApproval.get_or_create(
                subject_id=record.pk, entry_id=found["entryId"], kind=found["key"],
                defaults={"platform_id": actor.platform_id},
            )  # fmt: skip
