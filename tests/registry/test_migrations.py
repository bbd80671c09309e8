"""Committed migrations describe exactly the models (nothing left for makemigrations)."""

from __future__ import annotations

from tortoise.cli.cli import tortoise_cli_context
from tortoise.migrations.autodetector import MigrationAutodetector

from registry.db import MIGRATIONS_CONFIG


async def test_models_and_migrations_agree() -> None:
    async with tortoise_cli_context(MIGRATIONS_CONFIG) as ctx:
        changes = await MigrationAutodetector(ctx.apps, MIGRATIONS_CONFIG["apps"]).changes()
    assert changes == [], "run `tortoise -c registry.db.MIGRATIONS_CONFIG makemigrations` and commit the file"
