"""The mix of checks `scripts/bench.py eligibility` sends: the same at every size, whatever the throughput."""

from __future__ import annotations

import random
from collections import Counter

import orjson

from scripts.benches.eligibility import CACHED, COMPUTED, EligibilityRequests


def performer_of(request: bytes) -> str:
    body = request.split(b"\r\n\r\n", 1)[1]
    return str(orjson.loads(body)["variables"]["id"])


def sent(requests: EligibilityRequests, count: int) -> list[tuple[str, str]]:
    return [(performer_of(requests()), requests.kind()) for _ in range(count)]


def test_the_hot_sample_is_asked_once_each_first_then_a_fixed_share_goes_to_new_performers() -> None:
    hot = [f"per_hot{n}" for n in range(100)]
    fresh = [f"per_new{n}" for n in range(5_000)]
    requests = EligibilityRequests(8000, "token", hot, fresh, 0.05, random.Random(1))

    first = sent(requests, len(hot))
    assert first == [(pid, COMPUTED) for pid in hot]

    rest = sent(requests, 40_000)
    new = [pid for pid, _ in rest if pid.startswith("per_new")]
    assert 0.045 < len(new) / len(rest) < 0.055
    assert len(set(new)) == len(new)  # each asked once
    kinds = Counter(kind for _, kind in rest)
    assert kinds[COMPUTED] == len(new)  # every hot performer's answer is in the cache by now
    assert kinds[CACHED] == len(rest) - len(new)
    assert requests.fresh_sent == len(new) and requests.cacheable == kinds[CACHED]
    assert not requests.fresh_ran_out


def test_running_out_of_new_performers_is_reported() -> None:
    requests = EligibilityRequests(8000, "token", ["per_a"], ["per_b", "per_c"], 0.5, random.Random(2))
    asked = [pid for pid, _ in sent(requests, 200)]
    assert asked.count("per_b") == asked.count("per_c") == 1
    assert requests.fresh_ran_out


def test_no_share_asks_only_the_hot_sample() -> None:
    requests = EligibilityRequests(8000, "token", ["per_a", "per_b"], ["per_c"], 0.0, random.Random(3))
    assert {pid for pid, _ in sent(requests, 500)} == {"per_a", "per_b"}
    assert not requests.fresh_ran_out
