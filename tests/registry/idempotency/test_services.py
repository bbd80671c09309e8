from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from tortoise.context import TortoiseContext
from tortoise.transactions import in_transaction

from registry.idempotency.models import IdempotencyRecord, RecordState
from registry.idempotency.services import (
    Begin,
    DatabaseIdempotencyStore,
    IdempotencyStore,
    InvalidIdempotencyKey,
    Outcome,
)

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
FP_A = hashlib.sha256(b"operations A").hexdigest()
FP_B = hashlib.sha256(b"operations B").hexdigest()
SUBJECT = "plt_acme"
KEY = "c0ffee-1"
CONCURRENT_SKIP = "SQLite serializes all work of a process on one connection; concurrency is tested on PostgreSQL"


@pytest.fixture
def store(db: TortoiseContext) -> DatabaseIdempotencyStore:
    return DatabaseIdempotencyStore()


async def _finish(store: IdempotencyStore, fingerprint: str = FP_A, *, subject: str = SUBJECT) -> None:
    await store.complete(
        subject, KEY, fingerprint, status=200, body=b'{"data":{"ok":true}}', headers={"content-type": "json"}
    )


async def test_first_request_starts_and_a_repeat_replays_its_response(store: DatabaseIdempotencyStore) -> None:
    assert await store.begin(SUBJECT, KEY, FP_A, now=T0) == Begin(Outcome.STARTED)
    await _finish(store)

    replay = await store.begin(SUBJECT, KEY, FP_A, now=T0 + timedelta(hours=1))
    assert replay == Begin(Outcome.REPLAY, 200, b'{"data":{"ok":true}}', {"content-type": "json"})
    assert await IdempotencyRecord.filter(subject=SUBJECT, key=KEY).count() == 1


async def test_the_same_key_for_another_request_is_a_mismatch(store: DatabaseIdempotencyStore) -> None:
    await store.begin(SUBJECT, KEY, FP_A, now=T0)
    assert (await store.begin(SUBJECT, KEY, FP_B, now=T0)).outcome is Outcome.MISMATCH
    await _finish(store)
    assert (await store.begin(SUBJECT, KEY, FP_B, now=T0)).outcome is Outcome.MISMATCH
    assert (await IdempotencyRecord.get(subject=SUBJECT, key=KEY)).fingerprint == FP_A


async def test_a_running_request_makes_a_repeat_wait(store: DatabaseIdempotencyStore) -> None:
    await store.begin(SUBJECT, KEY, FP_A, now=T0)
    assert (await store.begin(SUBJECT, KEY, FP_A, now=T0 + timedelta(seconds=119))).outcome is Outcome.IN_PROGRESS


async def test_subjects_do_not_share_keys(store: DatabaseIdempotencyStore) -> None:
    await store.begin(SUBJECT, KEY, FP_A, now=T0)
    await _finish(store)
    assert (await store.begin("ses_other", KEY, FP_B, now=T0)).outcome is Outcome.STARTED
    assert (await store.begin(SUBJECT, KEY, FP_A, now=T0)).outcome is Outcome.REPLAY


async def test_a_record_expires_after_a_day(store: DatabaseIdempotencyStore) -> None:
    await store.begin(SUBJECT, KEY, FP_A, now=T0)
    await _finish(store)
    just_before = T0 + timedelta(hours=24) - timedelta(seconds=1)
    assert (await store.begin(SUBJECT, KEY, FP_A, now=just_before)).outcome is Outcome.REPLAY

    # Expired: the key is free again, even for another request.
    later = T0 + timedelta(hours=24)
    assert await store.begin(SUBJECT, KEY, FP_B, now=later) == Begin(Outcome.STARTED)
    record = await IdempotencyRecord.get(subject=SUBJECT, key=KEY)
    assert (record.fingerprint, record.state, record.response) == (FP_B, RecordState.RUNNING, None)
    assert record.expires_at == later + timedelta(hours=24)


async def test_a_stale_running_record_is_taken_over_exactly_once(store: DatabaseIdempotencyStore) -> None:
    await store.begin(SUBJECT, KEY, FP_A, now=T0)
    stale = T0 + timedelta(seconds=120)
    assert (await store.begin(SUBJECT, KEY, FP_A, now=stale)).outcome is Outcome.STARTED
    # The taker's attempt is fresh, so a second late arrival waits for it.
    assert (await store.begin(SUBJECT, KEY, FP_A, now=stale)).outcome is Outcome.IN_PROGRESS
    assert (await store.begin(SUBJECT, KEY, FP_B, now=stale)).outcome is Outcome.MISMATCH

    await _finish(store)
    assert (await store.begin(SUBJECT, KEY, FP_A, now=stale + timedelta(hours=1))).outcome is Outcome.REPLAY
    record = await IdempotencyRecord.get(subject=SUBJECT, key=KEY)
    assert record.expires_at == T0 + timedelta(hours=24)  # the window still counts from the first request


async def test_a_takeover_loses_to_a_concurrent_taker(store: DatabaseIdempotencyStore) -> None:
    await store.begin(SUBJECT, KEY, FP_A, now=T0)
    seen = await IdempotencyRecord.get(subject=SUBJECT, key=KEY)
    assert (await store.begin(SUBJECT, KEY, FP_A, now=T0 + timedelta(minutes=5))).outcome is Outcome.STARTED
    # A second taker that read the row before the first one's UPDATE matches nothing.
    assert await store._settle(seen, FP_A, T0 + timedelta(minutes=5)) is None


async def test_the_first_stored_response_is_kept(store: DatabaseIdempotencyStore) -> None:
    await store.begin(SUBJECT, KEY, FP_A, now=T0)
    await _finish(store)
    await store.complete(SUBJECT, KEY, FP_A, status=500, body=b"late", headers={})
    assert (await store.begin(SUBJECT, KEY, FP_A, now=T0)).status == 200


async def test_abandon_lets_a_retry_run(store: DatabaseIdempotencyStore) -> None:
    await store.begin(SUBJECT, KEY, FP_A, now=T0)
    await store.abandon(SUBJECT, KEY, FP_B)  # not this request's record: kept
    assert (await store.begin(SUBJECT, KEY, FP_A, now=T0)).outcome is Outcome.IN_PROGRESS

    await store.abandon(SUBJECT, KEY, FP_A)
    assert (await store.begin(SUBJECT, KEY, FP_A, now=T0)).outcome is Outcome.STARTED
    await _finish(store)
    await store.abandon(SUBJECT, KEY, FP_A)  # a finished request is never forgotten
    assert (await store.begin(SUBJECT, KEY, FP_A, now=T0)).outcome is Outcome.REPLAY


async def test_purge_removes_only_expired_records(store: DatabaseIdempotencyStore) -> None:
    await store.begin(SUBJECT, "old", FP_A, now=T0)
    await store.begin(SUBJECT, "new", FP_A, now=T0 + timedelta(hours=12))
    assert await store.purge_expired(T0 + timedelta(hours=24)) == 1
    assert await IdempotencyRecord.filter(subject=SUBJECT).values_list("key", flat=True) == ["new"]
    assert await store.purge_expired() == 1  # the real clock is long past T0


async def test_a_duplicate_inside_a_transaction_leaves_it_usable(store: DatabaseIdempotencyStore) -> None:
    # PostgreSQL aborts a transaction on a failed INSERT unless a savepoint confines it.
    await store.begin(SUBJECT, KEY, FP_A, now=T0)
    async with in_transaction():
        assert (await store.begin(SUBJECT, KEY, FP_A, now=T0)).outcome is Outcome.IN_PROGRESS
        assert await IdempotencyRecord.filter(subject=SUBJECT).count() == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "clé", "tab\there", "line\n"])
async def test_keys_are_printable_ascii_up_to_255(store: DatabaseIdempotencyStore, key: str) -> None:
    with pytest.raises(InvalidIdempotencyKey):
        await store.begin(SUBJECT, key, FP_A)


async def test_the_longest_key_and_odd_characters_work(store: DatabaseIdempotencyStore) -> None:
    for key in ["~" * 255, " !\"%_'\\;--", "a"]:
        assert (await store.begin(SUBJECT, key, FP_A, now=T0)).outcome is Outcome.STARTED
        assert (await store.begin(SUBJECT, key, FP_A, now=T0)).outcome is Outcome.IN_PROGRESS


async def test_callers_pass_a_subject_a_sha256_and_an_aware_now(store: DatabaseIdempotencyStore) -> None:
    with pytest.raises(ValueError, match="fingerprint"):
        await store.begin(SUBJECT, KEY, "not-a-digest")
    with pytest.raises(ValueError, match="subject"):
        await store.begin("", KEY, FP_A)
    with pytest.raises(ValueError, match="aware"):
        await store.begin(SUBJECT, KEY, FP_A, now=datetime(2026, 11, 1))


async def _warm_pool() -> None:
    # A cold pool opens connections one at a time, which lets the first task finish before the others
    # start; with open connections the racers really interleave (a takeover without its condition fails).
    await asyncio.gather(*(IdempotencyRecord.all().count() for _ in range(5)))


async def test_concurrent_first_requests_start_once(store: DatabaseIdempotencyStore, database_url: str) -> None:
    if not database_url.startswith("postgres"):
        pytest.skip(CONCURRENT_SKIP)
    await _warm_pool()
    for n in range(5):
        results = await asyncio.gather(*(store.begin(SUBJECT, f"race-{n}", FP_A) for _ in range(2)))
        assert sorted(r.outcome for r in results) == [Outcome.IN_PROGRESS, Outcome.STARTED]


async def test_concurrent_takeovers_start_once(store: DatabaseIdempotencyStore, database_url: str) -> None:
    if not database_url.startswith("postgres"):
        pytest.skip(CONCURRENT_SKIP)
    await _warm_pool()
    for n in range(5):
        key = f"stale-{n}"
        await store.begin(SUBJECT, key, FP_A, now=T0)
        results = await asyncio.gather(
            *(store.begin(SUBJECT, key, FP_A, now=T0 + timedelta(minutes=5)) for _ in range(4))
        )
        assert sorted(r.outcome for r in results) == [Outcome.IN_PROGRESS] * 3 + [Outcome.STARTED]
