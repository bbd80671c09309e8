"""apply_answer: the provider's late answer moves a PENDING performer, once, and only from PENDING."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from datetime import timedelta

import pytest
from tortoise.context import TortoiseContext

from registry import clock, config
from registry.actors import ActorKind
from registry.audit.models import AuditEvent
from registry.audit.services import verify_chain
from registry.identity_callbacks import Outcome, apply_answer
from registry.identity_callbacks_models import ProviderEvent
from registry.identity_provider import Verdict
from registry.performers.models import Performer
from registry.performers.services import status_of
from registry.verification import Status, reverify_deadline
from tests.conftest import make_platform
from tests.factories import make_performer
from tests.registry.identity.helpers import FixedProvider


def _provider(verdict: Verdict) -> None:
    config.configure(dataclasses.replace(config.current(), identity_provider=FixedProvider(verdict)))


async def _pending(platform_id: str | None = None) -> Performer:
    _provider(Verdict.PENDING)
    performer = await make_performer(platform_id or (await make_platform()).id)
    assert performer.verification_status == "PENDING" and performer.pending_since is not None
    return performer


async def _answers(performer_id: str) -> list[AuditEvent]:
    return await AuditEvent.filter(subject_id=performer_id, action="performer.provider_answer").order_by("seq")


async def test_verified_moves_pending_to_verified(db: TortoiseContext) -> None:
    performer = await _pending()
    result = await apply_answer(performer.id, Verdict.VERIFIED, event_id="evt-1", reference="ref-9")
    assert (result.outcome, result.status, result.problem) == (Outcome.APPLIED, Status.VERIFIED, None)
    stored = await Performer.get(id=performer.id)
    assert stored.verification_status == "VERIFIED" and stored.findings == []
    assert stored.pending_since is None and stored.verified_at is not None
    assert abs(stored.verified_at - clock.now()) < timedelta(seconds=5)
    assert stored.reverify_by == reverify_deadline(stored.verified_at)
    event = await ProviderEvent.get(event_id="evt-1")
    assert (event.subject_id, event.verdict) == (performer.id, "VERIFIED")


async def test_the_answer_is_audited_on_the_performers_platform(db: TortoiseContext) -> None:
    performer = await _pending()
    await apply_answer(performer.id, Verdict.VERIFIED, event_id="evt-1", reference="ref-9")
    [event] = await _answers(performer.id)
    assert (event.platform_id, event.actor_kind) == (performer.platform_id, ActorKind.PROVIDER_CALLBACK.value)
    data = json.loads(event.canonical)["data"]
    assert data == {"event": "evt-1", "verdict": "VERIFIED", "outcome": "applied", "status": "VERIFIED",
                    "reference": "ref-9"}  # fmt: skip
    assert (await verify_chain(performer.platform_id)).ok


@pytest.mark.parametrize("verdict", [Verdict.MISMATCH, Verdict.REJECTED])
async def test_mismatch_and_rejected_move_pending_to_rejected(db: TortoiseContext, verdict: Verdict) -> None:
    performer = await _pending()
    result = await apply_answer(performer.id, verdict, event_id="evt-1")
    assert (result.outcome, result.status) == (Outcome.APPLIED, Status.REJECTED)
    stored = await Performer.get(id=performer.id)
    assert stored.verification_status == "REJECTED" and stored.pending_since is None
    assert stored.verified_at is None and stored.reverify_by is None
    assert [f["code"] for f in stored.findings] == ["IDENTITY_MISMATCH"]


async def test_a_pending_answer_changes_nothing(db: TortoiseContext) -> None:
    performer = await _pending()
    result = await apply_answer(performer.id, Verdict.PENDING, event_id="evt-1")
    assert (result.outcome, result.status) == (Outcome.PENDING, Status.PENDING)
    stored = await Performer.get(id=performer.id)
    assert (stored.verification_status, stored.pending_since) == ("PENDING", performer.pending_since)
    later = await apply_answer(performer.id, Verdict.VERIFIED, event_id="evt-2")
    assert later.outcome is Outcome.APPLIED


async def test_a_replayed_event_has_no_effect(db: TortoiseContext) -> None:
    performer = await _pending()
    await apply_answer(performer.id, Verdict.VERIFIED, event_id="evt-1")
    first = await Performer.get(id=performer.id)
    for verdict in (Verdict.VERIFIED, Verdict.MISMATCH):  # even a replay that was tampered with
        result = await apply_answer(performer.id, verdict, event_id="evt-1")
        assert (result.outcome, result.status) == (Outcome.DUPLICATE, Status.VERIFIED)
    stored = await Performer.get(id=performer.id)
    assert (stored.verification_status, stored.verified_at) == ("VERIFIED", first.verified_at)
    assert len(await _answers(performer.id)) == 1
    assert await ProviderEvent.filter(event_id="evt-1").count() == 1


async def test_the_same_answer_twice_is_already_applied(db: TortoiseContext) -> None:
    performer = await _pending()
    await apply_answer(performer.id, Verdict.MISMATCH, event_id="evt-1")
    for verdict in (Verdict.MISMATCH, Verdict.REJECTED):  # both mean REJECTED
        result = await apply_answer(performer.id, verdict, event_id=f"evt-{verdict.value}")
        assert (result.outcome, result.status, result.problem) == (Outcome.ALREADY_APPLIED, Status.REJECTED, None)
    assert len((await Performer.get(id=performer.id)).findings) == 1


async def test_a_different_late_answer_is_an_invalid_transition_logged_not_raised(
    db: TortoiseContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "livegate.identity")
    performer = await _pending()
    await apply_answer(performer.id, Verdict.VERIFIED, event_id="evt-1")
    result = await apply_answer(performer.id, Verdict.MISMATCH, event_id="evt-2")
    assert (result.outcome, result.status) == (Outcome.IGNORED, Status.VERIFIED)
    assert result.problem is not None and result.problem.code == "INVALID_TRANSITION"
    assert (await Performer.get(id=performer.id)).verification_status == "VERIFIED"
    assert "evt-2" in caplog.text and "not applied" in caplog.text
    outcomes = [json.loads(e.canonical)["data"]["outcome"] for e in await _answers(performer.id)]
    assert outcomes == ["applied", "ignored"]  # compliance staff see the contradicting answer


async def test_a_record_decided_at_registration_is_left_alone(db: TortoiseContext) -> None:
    _provider(Verdict.VERIFIED)
    performer = await make_performer((await make_platform()).id)
    result = await apply_answer(performer.id, Verdict.REJECTED, event_id="evt-1")
    assert result.outcome is Outcome.IGNORED
    assert (await Performer.get(id=performer.id)).verification_status == "VERIFIED"


@pytest.mark.parametrize("subject_id", ["per_doesnotexist", "org_abc", "", "plt_x"])
async def test_an_unknown_subject_is_not_found_and_not_remembered(db: TortoiseContext, subject_id: str) -> None:
    result = await apply_answer(subject_id, Verdict.VERIFIED, event_id="evt-1")
    assert result == type(result)(Outcome.NOT_FOUND)
    # Not stored: a provider that called back before the registration committed can retry.
    assert not await ProviderEvent.exists(event_id="evt-1")


async def test_past_the_pending_limit_it_reads_review_and_the_answer_is_ignored(db: TortoiseContext) -> None:
    performer = await _pending()
    limit = config.current().provider_pending_limit_s
    await Performer.filter(id=performer.id).update(pending_since=clock.now() - timedelta(seconds=limit + 1))
    stored = await Performer.get(id=performer.id)
    assert stored.verification_status == "PENDING" and status_of(stored) is Status.REVIEW
    result = await apply_answer(performer.id, Verdict.VERIFIED, event_id="evt-1")
    assert (result.outcome, result.status) == (Outcome.IGNORED, Status.REVIEW)
    assert (await Performer.get(id=performer.id)).verification_status == "PENDING"


async def test_just_inside_the_pending_limit_the_answer_applies(db: TortoiseContext) -> None:
    performer = await _pending()
    limit = config.current().provider_pending_limit_s
    await Performer.filter(id=performer.id).update(pending_since=clock.now() - timedelta(seconds=limit - 60))
    assert (await apply_answer(performer.id, Verdict.VERIFIED, event_id="evt-1")).outcome is Outcome.APPLIED


async def test_concurrent_deliveries_of_one_event_apply_once(db: TortoiseContext) -> None:
    performer = await _pending()
    results = await asyncio.gather(*(apply_answer(performer.id, Verdict.VERIFIED, event_id="evt-1") for _ in range(5)))
    assert sorted(r.outcome for r in results) == [Outcome.APPLIED] + [Outcome.DUPLICATE] * 4
    assert len(await _answers(performer.id)) == 1
    assert (await verify_chain(performer.platform_id)).ok


async def test_answers_for_performers_of_two_platforms_stay_on_their_chains(db: TortoiseContext) -> None:
    first, second = await _pending(), await _pending()
    await apply_answer(first.id, Verdict.VERIFIED, event_id="evt-a")
    await apply_answer(second.id, Verdict.MISMATCH, event_id="evt-b")
    assert {e.platform_id for e in await _answers(first.id)} == {first.platform_id}
    assert {e.platform_id for e in await _answers(second.id)} == {second.platform_id}
    assert first.platform_id != second.platform_id
