"""Shared fixtures: every database test runs on SQLite and, when configured, on PostgreSQL.

PostgreSQL tests use their own fresh database per run (created from LIVEGATE_TEST_POSTGRES_URL's
server, migrated with the real migrations, dropped afterwards) and are reported skipped, with the
reason, when that variable is unset. SQLite tests copy a migrated template file per test.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
import pytest_asyncio
from redis.asyncio import Redis
from starlette.applications import Starlette
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.context import TortoiseContext
from tortoise.contrib.test import truncate_all_models

from gateway.app import create_app
from gateway.settings import Settings, load_settings
from registry.avatars.storage import LocalBlobStore
from registry.config import RegistryConfig, configure
from registry.crypto import BlindIndexer, Keyring, Vault
from registry.db import tortoise_config
from registry.enforcement import screening
from registry.performers.eligibility_cache import CACHE
from registry.platforms import services as platforms

PG_URL = os.environ.get("LIVEGATE_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("LIVEGATE_TEST_REDIS_URL")
PG_SKIP = "PostgreSQL tests need LIVEGATE_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test)"
REDIS_SKIP = "Redis tests need LIVEGATE_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0)"


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


async def _admin(sql: str) -> None:
    assert PG_URL is not None
    conn = await asyncpg.connect(PG_URL.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _create_schema(url: str) -> None:
    # Test databases are built from the models (tests/registry/test_migrations.py keeps the committed
    # migrations equal to them and applies them to fresh databases).
    context = TortoiseContext()
    async with context:
        await context.init(config=tortoise_config(url))
        await context.generate_schemas(safe=False)
        client = context.connections.get("default")
        if client.capabilities.dialect == "postgres":  # what the models cannot declare (migration 0006)
            for routine in screening.ROUTINES:
                await client.execute_script(routine)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    if not PG_URL:
        yield None
        return
    name = f"livegate_test_{secrets.token_hex(4)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = _with_database(PG_URL, name)
    try:
        asyncio.run(_create_schema(url))
        yield url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "livegate.sqlite3"
    asyncio.run(_create_schema(f"sqlite://{path}"))
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "livegate.sqlite3"
        shutil.copy(sqlite_template, path)
        return f"sqlite://{path}"
    url = request.getfixturevalue("postgres_url")
    if url is None:
        pytest.skip(PG_SKIP)
    return url


@pytest_asyncio.fixture
async def db(database_url: str) -> AsyncIterator[TortoiseContext]:
    # Tortoise caches each model's INSERT/UPDATE SQL by connection name, not dialect; a production
    # process never switches dialect, but this test process alternates SQLite and PostgreSQL.
    EXECUTOR_CACHE.clear()
    context = TortoiseContext()
    async with context:
        await context.init(config=tortoise_config(database_url), _enable_global_fallback=True)
        if database_url.startswith("postgres"):
            await truncate_all_models()
        yield context


@pytest.fixture
def redis_url() -> str:
    if not REDIS_URL:
        pytest.skip(REDIS_SKIP)
    return REDIS_URL


async def drop_keys(client: Redis, prefix: str) -> None:
    """Delete what a test wrote under its own random prefix of a shared Redis."""
    keys = [key async for key in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)


@pytest.fixture(autouse=True)
def registry_config(tmp_path: Path) -> RegistryConfig:
    """Fresh keys and blob storage for every test; the app fixture uses the same keys."""
    config = RegistryConfig(
        vault=Vault(Keyring.generate("t1")),
        indexer=BlindIndexer(Keyring.generate("i1")),
        blobs=LocalBlobStore(tmp_path / "blobs"),
    )
    configure(config)
    CACHE.bump()  # each test has its own database: nothing cached by another test may answer
    return config


@pytest.fixture
def settings(tmp_path: Path, database_url: str, registry_config: RegistryConfig) -> Settings:
    return load_settings(
        {
            "LIVEGATE_DATA_DIR": str(tmp_path / "data"),
            "LIVEGATE_DATABASE_URL": database_url,
            "LIVEGATE_DATA_KEYS": registry_config.vault.keyring.format(),
            "LIVEGATE_INDEX_KEYS": registry_config.indexer.keyring.format(),
        }
    )


@pytest.fixture
def app(db: TortoiseContext, settings: Settings) -> Starlette:
    return create_app(settings, manage_orm=False)


@pytest_asyncio.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://livegate.test") as http:
        yield http


@dataclass(frozen=True, slots=True)
class PlatformClient:
    id: str
    client_id: str
    client_secret: str


async def make_platform(name: str | None = None, scopes: str | None = None) -> PlatformClient:
    created = await platforms.create_platform(name or f"p-{secrets.token_hex(3)}", scopes=scopes)
    return PlatformClient(created.platform.id, created.platform.client_id, created.client_secret)


@pytest_asyncio.fixture
async def platform(db: TortoiseContext) -> PlatformClient:
    return await make_platform("acme")


async def get_token(client: httpx.AsyncClient, platform: PlatformClient, scope: str | None = None) -> str:
    form = {
        "grant_type": "client_credentials",
        "client_id": platform.client_id,
        "client_secret": platform.client_secret,
    }
    if scope is not None:
        form["scope"] = scope
    response = await client.post("/oauth/token", data=form)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def gql(
    client: httpx.AsyncClient, query: str, variables: dict[str, object] | None = None, *, token: str | None = None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)


@pytest.fixture
def uncached_eligibility(monkeypatch: pytest.MonkeyPatch) -> None:
    """For tests that write the database directly (to simulate time or another service): writes through
    the services invalidate cached eligibility themselves, direct writes do not."""
    monkeypatch.setattr(CACHE, "_max", 0)
