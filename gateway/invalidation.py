"""Cache invalidation across gateway processes: after a write, every process's caches must forget.

The writing process bumps its own caches after the mutation has committed; with Redis, it also
publishes on a channel every process listens to. Messages carry nothing but the fact of a change, so the
mutations that end in one turn of the event loop share one message (gateway/batching.py), published
after all of them committed and before any of them answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis

from gateway.batching import Batched
from registry.performers.eligibility_cache import CACHE

CHANNEL = "livegate:invalidate"
log = logging.getLogger("livegate.invalidation")


async def _publish(clients: list[aioredis.Redis]) -> list[None]:
    for client in dict.fromkeys(clients):  # one message per client, however many writes it stands for
        await client.publish(CHANNEL, b"1")
    return [None] * len(clients)


_PUBLISHES: Batched[aioredis.Redis, None] = Batched(_publish)


async def changed(client: aioredis.Redis | None) -> None:
    CACHE.bump()
    if client is not None:
        try:
            await _PUBLISHES.load(client)
        except aioredis.RedisError:
            log.warning("could not publish a cache invalidation; other processes catch up within a minute")


async def _listen(client: aioredis.Redis) -> None:
    while True:
        try:
            async with client.pubsub() as pubsub:
                await pubsub.subscribe(CHANNEL)
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        CACHE.bump()
        except aioredis.RedisError:
            CACHE.bump()  # we may have missed messages: forget everything, then reconnect
            await asyncio.sleep(1)


@asynccontextmanager
async def listening(client: aioredis.Redis | None) -> AsyncIterator[None]:
    if client is None:
        yield
        return
    task = asyncio.create_task(_listen(client))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
