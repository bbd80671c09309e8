"""Schema migrations (Tortoise's built-in framework; the files live in registry/migrations)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tortoise import Tortoise
from tortoise.migrations.api import migrate

from registry.db import tortoise_config


async def apply_migrations(database_url: str) -> None:
    try:
        await migrate(config=tortoise_config(database_url))
    finally:
        await Tortoise.close_connections()


@asynccontextmanager
async def orm(database_url: str) -> AsyncIterator[None]:
    """The ORM for a command-line task (the web app uses its lifespan instead)."""
    await Tortoise.init(config=tortoise_config(database_url), _enable_global_fallback=True)
    try:
        yield
    finally:
        await Tortoise.close_connections()
