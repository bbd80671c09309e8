"""The eligibility cache: reused while valid, forgotten on any write, and on time boundaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tortoise.context import TortoiseContext

from registry import clock
from registry.performers import eligibility
from registry.performers import services as performers
from registry.performers.eligibility import Reason
from registry.performers.eligibility_cache import TimedCache
from tests.conftest import make_platform
from tests.factories import make_performer, platform_actor


def test_an_answer_computed_during_a_write_is_not_kept() -> None:
    cache: TimedCache[str] = TimedCache()
    now = datetime.now(UTC)
    epoch = cache.epoch
    cache.bump()  # a write committed while the answer was being computed
    cache.put(("k",), "stale", epoch=epoch, valid_until=now + timedelta(minutes=1))
    assert cache.get(("k",), now) is None
    cache.put(("k",), "fresh", epoch=cache.epoch, valid_until=now + timedelta(minutes=1))
    assert cache.get(("k",), now) == "fresh"
    assert cache.get(("k",), now + timedelta(minutes=1)) is None  # past its time boundary


def test_the_cache_is_bounded() -> None:
    cache: TimedCache[int] = TimedCache(max_entries=3)
    later = datetime.now(UTC) + timedelta(minutes=1)
    for n in range(5):
        cache.put((str(n),), n, epoch=0, valid_until=later)
    assert len(cache) == 3 and cache.get(("0",), datetime.now(UTC)) is None


async def test_answers_are_reused_then_a_service_write_invalidates(
    db: TortoiseContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = await make_platform()
    performer = await make_performer(platform.id, trained=False)
    actor = platform_actor(platform.id)
    first = await eligibility.live_eligibility(actor, performer.id)
    assert first is not None and first.reasons == [Reason.TRAINING_MISSING]

    async def no_database(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached answer must not read the database")

    monkeypatch.setattr(eligibility, "_evaluate", no_database)
    again = await eligibility.live_eligibility(actor, performer.id)
    assert again is not None and again.reasons == first.reasons and again.checked_at >= first.checked_at
    monkeypatch.undo()
    await performers.record_training(actor, performer.id, datetime.now(UTC), "Law 101")
    assert (await eligibility.live_eligibility(actor, performer.id)).reasons == []  # type: ignore[union-attr]


async def test_time_alone_ends_a_cached_answer(db: TortoiseContext, monkeypatch: pytest.MonkeyPatch) -> None:
    platform = await make_platform()
    performer = await make_performer(platform.id)
    actor = platform_actor(platform.id)
    assert (await eligibility.live_eligibility(actor, performer.id)).reasons == []  # type: ignore[union-attr]
    assert performer.reverify_by is not None
    overdue = performer.reverify_by + timedelta(seconds=1)
    monkeypatch.setattr(clock, "now", lambda: overdue)
    result = await eligibility.live_eligibility(actor, performer.id)
    assert result is not None and Reason.VERIFICATION_EXPIRED in result.reasons
