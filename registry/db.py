"""Database wiring: the Tortoise configuration and the mapping of driver errors to domain terms."""

from __future__ import annotations

import re
import sqlite3
from typing import Any

import asyncpg
from tortoise.backends.base.config_generator import expand_db_url
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


class PooledConnection(asyncpg.Connection):  # type: ignore[misc]
    """A pooled connection released without asyncpg's reset statement.

    asyncpg sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` each time a
    connection goes back to the pool, and Tortoise takes one from the pool for every statement outside
    a transaction: a second round trip per query. Nothing here holds session state (advisory locks are
    transaction-scoped, settings are SET LOCAL, no LISTEN, no cursors outside transactions), and an open
    transaction is still rolled back on release.
    """

    def get_reset_query(self) -> str:
        return ""


# Every statement runs as a prepared statement of asyncpg's cache. Under plan_cache_mode=auto, PostgreSQL
# plans a statement anew on every execution for as long as it guesses its generic plan dearer than the
# custom ones, which it does for `= ANY($n)` arrays and unions of key probes: planning then cost more
# than running (registerPerformer's reads: 130-190 µs of server CPU each, 45-100 with the generic plan;
# scripts/bench.py eligibility register). Our statements probe keys, whose best plan does not depend on
# the values. A cached plan is made again whenever the statistics of a table it reads change (ANALYZE;
# PostgreSQL's PREPARE), so a plan made while a table was young does not outlive its next autoanalyze
# (autovacuum's, on by default; a server run without it needs ANALYZE as its tables grow, as the benches do).
SERVER_SETTINGS: dict[str, str] = {"plan_cache_mode": "force_generic_plan"}


def _connection(database_url: str) -> dict[str, Any]:
    config = expand_db_url(database_url)
    if config["engine"] == "tortoise.backends.asyncpg":
        config["engine"] = "registry.pg"  # Tortoise's asyncpg client, with a lane for hot plain statements
        config["credentials"]["connection_class"] = PooledConnection
        config["credentials"]["server_settings"] = dict(SERVER_SETTINGS)
    return config


def tortoise_config(database_url: str) -> dict[str, Any]:
    return {
        "connections": {"default": _connection(database_url)},
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
