"""A process-local cache of eligibility answers, invalidated by writes and by time.

liveEligibility is the hottest read. An answer stays valid until either
- any write happens (the gateway bumps the epoch after every mutation; with Redis, every process
  hears the bump through pub/sub), or
- time alone could change it: the next midnight in Shanghai (age, agreement dates), a
  re-verification deadline, a training anniversary, the end of a temporary measure, the pending
  limit — and at most MAX_AGE after it was computed (blacklist expiries and writes by other tools).
An answer computed while a write was in flight is stored under the epoch read *before* computing,
so the write's bump makes it stale at once.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

MAX_AGE = timedelta(seconds=60)
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class _Entry(Generic[V]):
    value: V
    epoch: int
    valid_until: datetime


class TimedCache(Generic[V]):
    def __init__(self, max_entries: int = 100_000) -> None:
        self._entries: OrderedDict[tuple[str, ...], _Entry[V]] = OrderedDict()
        self._max = max_entries
        self.epoch = 0

    def bump(self) -> None:
        self.epoch += 1

    def get(self, key: tuple[str, ...], now: datetime) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.epoch != self.epoch or entry.valid_until <= now:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry.value

    def put(self, key: tuple[str, ...], value: V, *, epoch: int, valid_until: datetime) -> None:
        if epoch != self.epoch:
            return  # a write landed while this was computed
        self._entries[key] = _Entry(value, epoch, valid_until)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


# One per process. Every audited change bumps it (registry/audit/services.py, inside the writing
# transaction) and the gateway bumps it again after each mutation has committed, and on Redis
# invalidations from other processes.
CACHE: TimedCache[object] = TimedCache()
