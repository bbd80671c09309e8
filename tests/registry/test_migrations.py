"""Committed migrations describe exactly the models and apply to an empty database."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.cli.cli import tortoise_cli_context
from tortoise.context import TortoiseContext
from tortoise.migrations.autodetector import MigrationAutodetector

from registry.db import MIGRATIONS_CONFIG, tortoise_config
from registry.migrate import apply_migrations
from tests.conftest import PG_SKIP, PG_URL, _admin, _with_database


async def test_models_and_migrations_agree() -> None:
    async with tortoise_cli_context(MIGRATIONS_CONFIG) as ctx:
        changes = await MigrationAutodetector(ctx.apps, MIGRATIONS_CONFIG["apps"]).changes()
    assert changes == [], "run `tortoise -c registry.db.MIGRATIONS_CONFIG makemigrations` and commit the file"


async def _tables(url: str) -> int:
    EXECUTOR_CACHE.clear()
    context = TortoiseContext()
    async with context:
        await context.init(config=tortoise_config(url))
        from registry.platforms.models import Platform

        return await Platform.all().count()


async def test_migrations_apply_to_an_empty_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'fresh.sqlite3'}"
    await apply_migrations(url)
    await apply_migrations(url)  # a second run has nothing to do
    assert await _tables(url) == 0


async def test_migrations_apply_to_an_empty_postgres_database() -> None:
    if not PG_URL:
        pytest.skip(PG_SKIP)
    name = f"livegate_migrate_{secrets.token_hex(4)}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        url = _with_database(PG_URL, name)
        await apply_migrations(url)
        assert await _tables(url) == 0
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
