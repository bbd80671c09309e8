"""Committed migrations describe exactly the models and apply to an empty database."""

from __future__ import annotations

import secrets
import sqlite3
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


async def test_heads_learn_the_link_before_them(tmp_path: Path) -> None:
    # 0004 fills audit_head.prev_hash from each chain's newest event; an empty chain keeps genesis.
    from tortoise import Tortoise
    from tortoise.migrations.api import migrate

    from registry.audit.models import GENESIS_HASH

    path = tmp_path / "old.sqlite3"
    url = f"sqlite://{path}"
    try:
        await migrate(config=tortoise_config(url), target="livegate.0003_blacklist_index")
    finally:
        await Tortoise.close_connections()
    with sqlite3.connect(path) as conn:
        conn.executemany('INSERT INTO "audit_head" ("platform_id", "seq", "hash") VALUES (?, ?, ?)',
                         [("plt_a", 2, "b" * 64), ("plt_b", 0, GENESIS_HASH)])  # fmt: skip
        conn.executemany(
            'INSERT INTO "audit_event" ("id", "platform_id", "seq", "at", "actor_kind", "action", "canonical", "hash", '
            "\"prev_hash\") VALUES (?, 'plt_a', ?, '2026-01-01 00:00:00+00:00', 'SYSTEM', 'a', '{}', ?, ?)",
            [("aud_1", 1, "a" * 64, GENESIS_HASH), ("aud_2", 2, "b" * 64, "a" * 64)],
        )
    await apply_migrations(url)
    with sqlite3.connect(path) as conn:
        heads = dict(conn.execute('SELECT "platform_id", "prev_hash" FROM "audit_head"').fetchall())
    assert heads == {"plt_a": "a" * 64, "plt_b": GENESIS_HASH}
