"""One Redis command for the same check of many concurrent requests.

redis-py spends about 100 µs of CPU on each command (its retry, timeout and observability layers), more
than half of what a cached liveEligibility answer costs the gateway. Every authenticated request checks
its token's revocation and takes from its rate-limit bucket, and every mutation publishes an invalidation
(gateway/invalidation.py), so these go through a Strawberry DataLoader without a cache: the calls made in
one turn of the event loop are sent together, as one command, in the next turn. Each call still reaches
Redis after its request arrived, and gets its own answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from strawberry.dataloader import DataLoader

K = TypeVar("K")
T = TypeVar("T")

MAX_BATCH = 128  # a Lua script holds Redis while it runs: bound the work of one call


class Batched(Generic[K, T]):
    """`load(key)` answers from `load_many(keys)`, one call per turn of the running event loop."""

    def __init__(self, load_many: Callable[[list[K]], Awaitable[Sequence[T]]]) -> None:
        self._load_many = load_many
        self._loader: DataLoader[K, T] | None = None

    def load(self, key: K) -> Awaitable[T]:
        loop = asyncio.get_running_loop()
        loader = self._loader
        if loader is None or loader.loop is not loop:  # a client outlives the loops of tests and CLIs
            loader = self._loader = DataLoader(self._load_many, max_batch_size=MAX_BATCH, cache=False, loop=loop)
        return loader.load(key)
