"""Set-based writes for the import path: one statement per kind of change, whatever the row count.

Tortoise's `bulk_create` builds and validates a model instance per row, which costs more than all
the rest of an import together; here the rows go to the driver as they are, through the caller's
transaction connection. On PostgreSQL, new rows go in with binary COPY, and changed rows as arrays
expanded by `unnest` (one round trip each): asyncpg checks every element of an array parameter
against three abstract base classes, which made encoding a 1,000-row insert cost five times what
COPY costs (scripts/bench.py import). SQLite gets `executemany`. The callers hold validated values;
nothing here checks them again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from operator import itemgetter
from typing import Any

import orjson
from tortoise.backends.base.client import BaseDBAsyncClient

from registry import sql
from registry.enforcement.models import BlacklistKey
from registry.identities.models import IdentityKey
from registry.suppliers.models import Supplier

Row = Mapping[str, Any]
Columns = tuple[tuple[str, str], ...]

# (column, PostgreSQL type of the values sent); JSON travels as text and is cast on the way in.
SUPPLIER_COLUMNS: Columns = (
    ("id", "text"),
    ("platform_id", "text"),
    ("external_ref", "text"),
    ("kind", "text"),
    ("name", "text"),
    ("name_enc", "text"),
    ("credit_code", "text"),
    ("document_type", "text"),
    ("document_number_enc", "text"),
    ("full_name_enc", "text"),
    ("birth_date_enc", "text"),
    ("document_masked", "text"),
    ("address", "text"),
    ("address_enc", "text"),
    ("contact_phone", "text"),
    ("contact_phone_enc", "text"),
    ("categories", "text"),
    ("licenses", "jsonb"),
    ("licenses_missing", "boolean"),
    ("license_expires_on", "date"),
    ("verification_status", "text"),
    ("findings", "jsonb"),
    ("content_hash", "text"),
)
# What an update leaves alone: the row's identity.
_FIXED = frozenset({"id", "platform_id", "external_ref"})
_UPDATED: Columns = tuple(c for c in SUPPLIER_COLUMNS if c[0] not in _FIXED)
_KEY_COLUMNS: Columns = (("subject_id", "text"), ("platform_id", "text"), ("kind", "text"), ("value", "text"))
# Well under SQLite's bound-parameter limit.
_SQLITE_CHUNK = 500
_EXISTING = '"id", "external_ref", "kind", "credit_code", "content_hash", "verification_status", "findings"'


def _postgres(conn: BaseDBAsyncClient) -> bool:
    return conn.capabilities.dialect == "postgres"


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


def _by_column(rows: Sequence[Row], columns: Columns) -> list[list[Any]]:
    """Column-wise values for unnest: one list per column."""
    out = []
    for name, kind in columns:
        values = [row[name] for row in rows]
        out.append([_json(v) for v in values] if kind == "jsonb" else values)
    return out


def _by_row(rows: Sequence[Row], columns: Columns, *extra: Any) -> list[list[Any]]:
    """Row-wise values for executemany; SQLite stores JSON as text."""
    return [[_json(row[n]) if kind == "jsonb" else row[n] for n, kind in columns] + list(extra) for row in rows]


def _unnest(columns: Columns) -> str:
    arrays = ", ".join(f"${i}::{'text' if kind == 'jsonb' else kind}[]" for i, (_, kind) in enumerate(columns, 1))
    return f"unnest({arrays}) AS t({_quoted([name for name, _ in columns])})"


def _from_t(name: str, kind: str) -> str:
    return f't."{name}"::jsonb' if kind == "jsonb" else f't."{name}"'


# The statements below are built only from the model's table and column names; every value is bound.


@cache
def _pg_insert(table: str, columns: Columns, stamps: tuple[str, ...], tail: str) -> str:
    stamp = f"${len(columns) + 1}::timestamptz"
    names = [name for name, _ in columns] + list(stamps)
    select = ", ".join([_from_t(n, k) for n, k in columns] + [stamp] * len(stamps))
    return f'INSERT INTO "{table}" ({_quoted(names)}) SELECT {select} FROM {_unnest(columns)}{tail}'  # noqa: S608


@cache
def _sqlite_insert(table: str, columns: Columns, stamps: tuple[str, ...], tail: str) -> str:
    names = [name for name, _ in columns] + list(stamps)
    return f'INSERT INTO "{table}" ({_quoted(names)}) VALUES ({_marks(len(names))}){tail}'  # noqa: S608


@cache
def _pg_update(table: str) -> str:
    stamp = f"${len(_UPDATED) + 2}::timestamptz"
    sets = ", ".join(f'"{n}" = {_from_t(n, k)}' for n, k in _UPDATED)
    source = _unnest((("id", "text"), *_UPDATED))
    return f'UPDATE "{table}" AS s SET {sets}, "updated_at" = {stamp} FROM {source} WHERE s."id" = t."id"'  # noqa: S608


@cache
def _sqlite_update(table: str) -> str:
    sets = ", ".join(f'"{n}" = ?' for n, _ in _UPDATED)
    return f'UPDATE "{table}" SET {sets}, "updated_at" = ? WHERE "id" = ?'  # noqa: S608


@cache
def _pg_existing(table: str) -> str:
    # One index probe per externalRef (a LATERAL lookup on the unique key), whatever the planner knows
    # about the table: a plain `= ANY($2)` compares every row with the whole list while the table has
    # no statistics yet, as during a first large import. Rows are locked in the order of $2.
    columns = ", ".join(f"s.{c}" for c in _EXISTING.split(", "))
    where = '"platform_id" = $1 AND "external_ref" = r.ref'
    lookup = f'SELECT {_EXISTING} FROM "{table}" WHERE {where} FOR UPDATE'  # noqa: S608
    return f"SELECT {columns} FROM unnest($2::text[]) AS r(ref) CROSS JOIN LATERAL ({lookup}) AS s"  # noqa: S608


@cache
def _sqlite_existing(table: str, count: int) -> str:
    where = f'"platform_id" = ? AND "external_ref" IN ({_marks(count)})'
    return f'SELECT {_EXISTING} FROM "{table}" WHERE {where}'  # noqa: S608


def _marks(count: int) -> str:
    return ", ".join("?" * count)


def _records(columns: Columns, rows: Sequence[Row], stamps: Mapping[str, datetime]) -> list[tuple[Any, ...]]:
    """Row tuples for COPY: the rows' `columns` (JSON encoded where the column is jsonb), then the stamps."""
    values = itemgetter(*(name for name, _ in columns))
    as_json = [i for i, (_, kind) in enumerate(columns) if kind == "jsonb"]
    fixed = tuple(stamps.values())
    records = []
    for row in rows:
        record = [*values(row), *fixed]
        for i in as_json:
            record[i] = _json(record[i])
        records.append(tuple(record))
    return records


async def _copy(
    conn: BaseDBAsyncClient, table: str, columns: Columns, rows: Sequence[Row], stamps: Mapping[str, datetime]
) -> None:
    names = [name for name, _ in columns] + list(stamps)
    await sql.copy_records(conn, table, names, _records(columns, rows, stamps))


async def insert_suppliers(conn: BaseDBAsyncClient, rows: Sequence[Row], at: datetime) -> None:
    """Insert new suppliers; a concurrent insert of the same (platform, externalRef) raises IntegrityError."""
    if not rows:
        return
    table, stamps = Supplier._meta.db_table, ("created_at", "updated_at")
    if _postgres(conn):
        await _copy(conn, table, SUPPLIER_COLUMNS, rows, {"created_at": at, "updated_at": at})
    else:
        sql = _sqlite_insert(table, SUPPLIER_COLUMNS, stamps, "")
        await conn.execute_many(sql, _by_row(rows, SUPPLIER_COLUMNS, at, at))


async def update_suppliers(conn: BaseDBAsyncClient, rows: Sequence[Row], at: datetime) -> None:
    """Rewrite every content and status column of existing suppliers (matched by id)."""
    if not rows:
        return
    table = Supplier._meta.db_table
    if _postgres(conn):
        await conn.execute_query(_pg_update(table), [*_by_column(rows, (("id", "text"), *_UPDATED)), at])
    else:
        values = [[*v, at, row["id"]] for v, row in zip(_by_row(rows, _UPDATED), rows, strict=True)]
        await conn.execute_many(_sqlite_update(table), values)


async def insert_identity_keys(
    conn: BaseDBAsyncClient, keys: Sequence[Row], at: datetime, *, new_subjects: bool = False
) -> None:
    """Store screening keys (subject_id, platform_id, kind, value); ones already stored are skipped.

    `new_subjects`: every subject was created in this transaction under a fresh random id, so none
    has a stored key to skip and the insert goes without the conflict check (cheaper per row).
    """
    if not keys:
        return
    table, stamps = IdentityKey._meta.db_table, ("created_at",)
    tail = "" if new_subjects else ' ON CONFLICT ("subject_id", "kind", "value") DO NOTHING'
    if _postgres(conn) and new_subjects:
        await _copy(conn, table, _KEY_COLUMNS, keys, {"created_at": at})
    elif _postgres(conn):
        await conn.execute_query(_pg_insert(table, _KEY_COLUMNS, stamps, tail), [*_by_column(keys, _KEY_COLUMNS), at])
    else:
        await conn.execute_many(_sqlite_insert(table, _KEY_COLUMNS, stamps, tail), _by_row(keys, _KEY_COLUMNS, at))


async def existing_suppliers(conn: BaseDBAsyncClient, platform_id: str, refs: Sequence[str]) -> list[dict[str, Any]]:
    """The platform's suppliers with these externalRefs, locked (PostgreSQL) in externalRef order, so two
    imports of overlapping batches never wait on each other in a cycle."""
    if not refs:
        return []
    table = Supplier._meta.db_table
    if _postgres(conn):
        rows = await conn.execute_query_dict(_pg_existing(table), [platform_id, sorted(refs)])
    else:
        rows = []
        for start in range(0, len(refs), _SQLITE_CHUNK):
            chunk = refs[start : start + _SQLITE_CHUNK]
            rows += await conn.execute_query_dict(_sqlite_existing(table, len(chunk)), [platform_id, *chunk])
    for row in rows:
        if isinstance(row["findings"], str | bytes):
            row["findings"] = orjson.loads(row["findings"])
    return rows


async def listed_values(conn: BaseDBAsyncClient, values: Sequence[str]) -> set[str]:
    """Which of these blind indexes some blacklist key holds at all (any entry, any platform): the batch's
    pre-check, so only rows with a listed key are screened one by one."""
    if not values:
        return set()
    table = BlacklistKey._meta.db_table
    if _postgres(conn):
        # One array parameter, one round trip (the ORM's IN list costs more to build than to run).
        sql = f'SELECT "value" FROM "{table}" WHERE "value" = ANY($1::text[])'  # noqa: S608
        return {row["value"] for row in await conn.execute_query_dict(sql, [list(values)])}
    found: set[str] = set()
    for start in range(0, len(values), _SQLITE_CHUNK):
        chunk = values[start : start + _SQLITE_CHUNK]
        sql = f'SELECT "value" FROM "{table}" WHERE "value" IN ({_marks(len(chunk))})'  # noqa: S608
        found.update(row["value"] for row in await conn.execute_query_dict(sql, list(chunk)))
    return found
