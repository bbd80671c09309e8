"""The blacklist's lookup digest: written with every key, filled in by the migration for stored keys,
and never trusted alone (a digest collision must not match another value)."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from tortoise import Tortoise
from tortoise.migrations.api import migrate

from registry.db import tortoise_config
from registry.enforcement.models import BlacklistEntry, BlacklistKey, value_digest
from registry.enforcement.screening import Decision, MatchKey, SubjectKeys, document_value, index_values, screen
from registry.ids import new_id
from tests.conftest import PG_SKIP, PG_URL, _admin, _with_database, make_platform
from tests.factories import resident_id, years_ago


def test_the_digest_is_the_first_64_bits_of_the_hex_digest() -> None:
    assert value_digest("i1:" + "ff" * 32) == -1
    assert value_digest("i1:00000000000000ff" + "0" * 48) == 255
    assert value_digest("phash:8000000000000000") == -(2**63)
    other = value_digest("not a blind index")  # never written by the registry: still a stable bigint
    assert other == value_digest("not a blind index") and -(2**63) <= other < 2**63


@pytest.mark.usefixtures("db")
async def test_every_written_key_carries_the_digest_of_its_value() -> None:
    key = BlacklistKey(entry_id="ble_x", kind="DOCUMENT", value="i1:" + "ab" * 32)
    assert key.digest == value_digest(key.value)
    await key.save()
    assert (await BlacklistKey.get(id=key.id)).digest == value_digest("i1:" + "ab" * 32)


@pytest.mark.usefixtures("db")
async def test_a_key_with_the_same_digest_but_another_value_does_not_match() -> None:
    platform = await make_platform()
    number = resident_id(years_ago(40))
    keys = SubjectKeys(documents=[document_value("RESIDENT_ID_CARD", number)])
    (kind, value), *_ = index_values(keys)
    entry = await BlacklistEntry.create(id=new_id("ble"), platform_id=platform.id, scope="PLATFORM", reason="t")
    impostor = value[:-1] + ("0" if value[-1] != "0" else "1")  # same first 64 bits, another value
    await BlacklistKey.create(entry_id=entry.id, kind=kind.value, value=impostor, digest=value_digest(value))
    assert (await screen(platform.id, keys)).decision is Decision.CLEAR
    await BlacklistKey.create(entry_id=entry.id, kind=kind.value, value=value)
    found = await screen(platform.id, keys)
    assert found.decision is Decision.BLOCK and [m.key for m in found.matches] == [MatchKey.DOCUMENT]


async def _migrate_with_stored_keys(url: str) -> None:
    """Migrate to before the digest, store keys the old way, then migrate to the latest."""
    values = ["i1:" + secrets.token_hex(32) for _ in range(3)] + ["phash:00000000000000ff"]
    try:
        await migrate(config=tortoise_config(url), target="livegate.0002_avatar_similarity")
        client = Tortoise.get_connection("default")
        postgres = client.capabilities.dialect == "postgres"
        insert = 'INSERT INTO "blacklist_key" ("entry_id", "kind", "value") VALUES ' + (
            "($1, $2, $3)" if postgres else "(?, ?, ?)"
        )
        await client.execute_many(insert, [["ble_old", "DOCUMENT", value] for value in values])
    finally:
        await Tortoise.close_connections()
    try:
        await migrate(config=tortoise_config(url))
        client = Tortoise.get_connection("default")
        rows = await client.execute_query_dict('SELECT "value", "digest" FROM "blacklist_key"')
    finally:
        await Tortoise.close_connections()
    assert {row["value"]: row["digest"] for row in rows} == {value: value_digest(value) for value in values}


async def test_the_migration_fills_the_digest_of_stored_keys_on_sqlite(tmp_path: Path) -> None:
    await _migrate_with_stored_keys(f"sqlite://{tmp_path / 'old.sqlite3'}")


async def test_the_migration_fills_the_digest_of_stored_keys_on_postgres() -> None:
    if not PG_URL:
        pytest.skip(PG_SKIP)
    name = f"livegate_migrate_{secrets.token_hex(4)}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        await _migrate_with_stored_keys(_with_database(PG_URL, name))
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
