"""Committed migrations describe exactly the models and apply to an empty database."""

from __future__ import annotations

import re
import secrets
import sqlite3
from pathlib import Path

import asyncpg
import pytest
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.cli.cli import tortoise_cli_context
from tortoise.context import TortoiseContext
from tortoise.migrations.autodetector import MigrationAutodetector

from registry.db import MIGRATIONS_CONFIG, tortoise_config
from registry.enforcement import screening
from registry.migrate import apply_migrations
from tests.conftest import PG_SKIP, PG_URL, _admin, _create_schema, _with_database


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


_PG_INDEXES = (
    "SELECT tablename AS t, regexp_replace(indexdef, 'INDEX \\S+ ON', 'INDEX ON') AS d FROM pg_indexes "
    "WHERE schemaname = 'public' AND tablename NOT LIKE 'tortoise%'"
)


def _sqlite_indexes(path: Path) -> set[tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT tbl_name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
        return {(table, re.sub(r'INDEX (IF NOT EXISTS )?"?\w+"? ON', "INDEX ON", sql)) for table, sql in rows}


async def test_migrated_sqlite_has_every_index_of_the_models(tmp_path: Path) -> None:
    # The autodetector compares migration state with the models; this compares what the SQL really built.
    await apply_migrations(f"sqlite://{tmp_path / 'migrated.sqlite3'}")
    await _create_schema(f"sqlite://{tmp_path / 'models.sqlite3'}")
    migrated, models = _sqlite_indexes(tmp_path / "migrated.sqlite3"), _sqlite_indexes(tmp_path / "models.sqlite3")
    assert models - migrated == set() and migrated - models == set()


# Functions too: test databases install screening.ROUTINES, migrated ones have what the migrations made.
_PG_FUNCTIONS = (
    "SELECT p.proname AS t, pg_get_functiondef(p.oid) AS d FROM pg_proc p "
    "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'"
)


async def test_migrated_postgres_has_every_index_and_function_of_the_models() -> None:
    if not PG_URL:
        pytest.skip(PG_SKIP)
    found: list[set[tuple[str, str]]] = []
    for build in (apply_migrations, _create_schema):
        name = f"livegate_indexes_{secrets.token_hex(4)}"
        await _admin(f'CREATE DATABASE "{name}"')
        try:
            url = _with_database(PG_URL, name)
            await build(url)
            conn = await asyncpg.connect("postgresql://" + url.split("://", 1)[1])
            try:
                rows = [*await conn.fetch(_PG_INDEXES), *await conn.fetch(_PG_FUNCTIONS)]
                found.append({(row["t"], row["d"]) for row in rows})
            finally:
                await conn.close()
        finally:
            await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    migrated, models = found
    assert models - migrated == set() and migrated - models == set()
    assert any(table == screening.LOCKED_LISTED for table, _ in models)
