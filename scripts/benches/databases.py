"""Throwaway PostgreSQL databases for the benches: created on a server, dropped afterwards (also on Ctrl-C)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg


def asyncpg_url(url: str) -> str:
    """asyncpg wants postgresql://; Tortoise URLs say postgres://."""
    return "postgresql://" + url.split("://", 1)[1]


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


async def admin(server_url: str, sql: str) -> None:
    conn = await asyncpg.connect(asyncpg_url(server_url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@asynccontextmanager
async def throwaway_database(server_url: str, template: str | None = None) -> AsyncIterator[str]:
    """A new database (a copy of `template`'s, when given: nobody may be connected to it); dropped after."""
    name = f"livegate_bench_{secrets.token_hex(4)}"
    copy = f' TEMPLATE "{urlsplit(template).path.lstrip("/")}"' if template else ""
    await admin(server_url, f'CREATE DATABASE "{name}"{copy}')
    try:
        yield with_database(server_url, name)
    finally:
        await admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        print(f"dropped database {name}", flush=True)
