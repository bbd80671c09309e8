"""Database wiring: the Tortoise configuration and the mapping of driver errors to domain terms."""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from tortoise.exceptions import IntegrityError

APP = "livegate"
MODEL_MODULES = [
    "registry.platforms.models",
    "registry.audit.models",
    "registry.identities.models",
    "registry.onboarding.models",
    "registry.performers.models",
    "registry.agencies.models",
    "registry.avatars.models",
    "registry.enforcement.models",
    "registry.suppliers.models",
    "registry.idempotency.models",
    "registry.identity_callbacks_models",
]


def tortoise_config(database_url: str) -> dict[str, Any]:
    return {
        "connections": {"default": database_url},
        "apps": {
            APP: {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": "registry.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


# For `tortoise -c registry.db.MIGRATIONS_CONFIG makemigrations`: the autodetector needs models, not data.
MIGRATIONS_CONFIG = tortoise_config("sqlite://:memory:")

_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (.+)")


def unique_violation(exc: IntegrityError) -> str | None:
    """The violated unique constraint (PostgreSQL) or its columns (SQLite); None for other integrity errors."""
    cause = exc.args[0] if exc.args else None
    if getattr(cause, "sqlstate", None) == "23505":
        return str(getattr(cause, "constraint_name", "") or "unique")
    if isinstance(cause, sqlite3.IntegrityError):
        match = _SQLITE_UNIQUE.search(str(cause))
        return match.group(1) if match else None
    match = _SQLITE_UNIQUE.search(str(exc))
    return match.group(1) if match else None
