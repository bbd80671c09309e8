"""importSuppliers in the registry: each row on its own, valid rows written set-based in one go.

Runs on SQLite and, with LIVEGATE_TEST_POSTGRES_URL set, on PostgreSQL, where one bad row must not
abort the batch's transaction.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from registry.audit.models import AuditEvent
from registry.audit.services import verify_chain
from registry.identities.models import IdentityKey
from registry.problems import ProblemCode
from registry.suppliers import services as suppliers
from registry.suppliers.checks import SupplierInput
from registry.suppliers.models import Supplier
from registry.verification import Status
from tests.conftest import make_platform
from tests.factories import credit_code, platform_actor
from tests.registry.suppliers.helpers import blacklist, license_, person, supplier

pytestmark = pytest.mark.usefixtures("db")


async def run(platform_id: str, rows: list[SupplierInput], limit: int = 1000) -> suppliers.ImportResult:
    return await suppliers.import_suppliers(platform_actor(platform_id), rows, limit=limit)


def batch(size: int, prefix: str = "R") -> list[SupplierInput]:
    rows = []
    for i in range(size):
        if i % 10 == 3:
            rows.append(person(f"{prefix}-{i:04d}", name="赵六"))
        elif i % 10 == 5:
            rows.append(supplier(f"{prefix}-{i:04d}", categories=["FOOD"], licenses=[license_(number=f"JY{i:014d}")]))
        else:
            rows.append(supplier(f"{prefix}-{i:04d}"))
    return rows


async def test_a_1000_row_batch_with_3_bad_rows_lands_997_and_again_is_unchanged() -> None:
    platform = await make_platform()
    rows = batch(1000)
    rows[17] = replace(rows[17], credit_code="914403001922038217")  # overall check fails
    rows[500] = replace(rows[500], contact_phone="12345")
    rows[999] = replace(rows[999], categories=[])
    result = await run(platform.id, rows)
    assert (result.created, result.updated, result.unchanged, result.problems) == (997, 0, 0, [])
    assert [(r.row, r.external_ref) for r in result.rejected] == [(17, "R-0017"), (500, "R-0500"), (999, "R-0999")]
    assert [[(p.code, p.field) for p in r.problems] for r in result.rejected] == [
        [(ProblemCode.INVALID_CREDIT_CODE, ("input", "rows", "17", "creditCode"))],
        [(ProblemCode.INVALID_INPUT, ("input", "rows", "500", "contactPhone"))],
        [(ProblemCode.INVALID_INPUT, ("input", "rows", "999", "categories"))],
    ]
    assert await Supplier.filter(platform_id=platform.id).count() == 997
    assert await AuditEvent.filter(platform_id=platform.id, action="supplier.created").count() == 997
    assert await IdentityKey.filter(platform_id=platform.id).count() == 900 + 2 * 100 - 3  # persons: document and name

    again = await run(platform.id, rows)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 997)
    assert [r.row for r in again.rejected] == [17, 500, 999]
    assert await AuditEvent.filter(platform_id=platform.id, action__startswith="supplier").count() == 997
    assert (await verify_chain(platform.id)).ok


async def test_created_updated_and_unchanged_are_counted_by_content() -> None:
    platform = await make_platform()
    rows = batch(20)
    await run(platform.id, rows[:10])
    rows[2] = replace(rows[2], name="深圳市改名科技有限公司")
    result = await run(platform.id, rows)
    assert (result.created, result.updated, result.unchanged, result.rejected) == (10, 1, 9, [])
    assert await AuditEvent.filter(platform_id=platform.id, action="supplier.updated").count() == 1
    stored = await suppliers.supplier_by_ref(platform_actor(platform.id), rows[2].external_ref)
    assert stored is not None and stored.name == "深圳市改名科技有限公司"


async def test_more_rows_than_the_limit_write_nothing() -> None:
    platform = await make_platform()
    result = await run(platform.id, batch(11), limit=10)
    assert (result.created, result.rejected) == (0, [])
    assert [(p.code, p.field) for p in result.problems] == [(ProblemCode.LIMIT_EXCEEDED, ("input", "rows"))]
    assert await Supplier.filter(platform_id=platform.id).count() == 0


async def test_a_repeated_external_ref_rejects_the_later_rows() -> None:
    platform = await make_platform()
    rows = [supplier("A"), supplier("B"), supplier("A"), supplier("A", code="bad")]
    result = await run(platform.id, rows)
    assert result.created == 2
    assert [(r.row, [(p.code, p.field) for p in r.problems]) for r in result.rejected] == [
        (2, [(ProblemCode.INVALID_INPUT, ("input", "rows", "2", "externalRef"))]),
        (3, [(ProblemCode.INVALID_CREDIT_CODE, ("input", "rows", "3", "creditCode")),
             (ProblemCode.INVALID_INPUT, ("input", "rows", "3", "externalRef"))]),
    ]  # fmt: skip
    stored = await suppliers.supplier_by_ref(platform_actor(platform.id), "A")
    assert stored is not None and stored.credit_code == rows[0].credit_code


async def test_a_blacklisted_row_is_rejected_and_the_others_land() -> None:
    platform = await make_platform()
    banned = credit_code()
    await blacklist(platform.id, "CREDIT_CODE", banned)
    rows = [supplier("A"), supplier("B", code=banned), supplier("C")]
    result = await run(platform.id, rows)
    assert result.created == 2
    assert [(r.row, [(p.code, p.field) for p in r.problems]) for r in result.rejected] == [
        (1, [(ProblemCode.BLACKLISTED, ("input", "rows", "1", "creditCode"))])
    ]
    assert await Supplier.filter(platform_id=platform.id, external_ref="B").count() == 0


async def test_non_compliant_rows_are_stored_not_verified() -> None:
    platform = await make_platform()
    result = await run(platform.id, [supplier("F", categories=["FOOD"]), supplier("G")])
    assert (result.created, result.rejected) == (2, [])
    actor = platform_actor(platform.id)
    food = await suppliers.supplier_by_ref(actor, "F")
    assert food is not None and suppliers.status_of(food) is Status.REJECTED
    assert [p.code for p in suppliers.findings_of(food)] == [ProblemCode.LICENSE_REQUIRED]


async def test_an_empty_import_is_fine() -> None:
    platform = await make_platform()
    result = await run(platform.id, [])
    assert (result.created, result.updated, result.unchanged, result.rejected, result.problems) == (0, 0, 0, [], [])


async def test_concurrent_imports_of_the_same_new_rows_store_each_once(database_url: str) -> None:
    # The later insert fails on the unique (platform, externalRef) and its whole write is retried, which
    # then finds the rows stored; on PostgreSQL the insert is a COPY, whose error must come back as
    # Tortoise's IntegrityError for that retry to happen.
    if not database_url.startswith("postgres"):
        pytest.skip("SQLite runs one transaction at a time: the imports cannot overlap")
    platform = await make_platform()
    rows = batch(200)
    first, second = await asyncio.gather(run(platform.id, rows), run(platform.id, rows))
    assert sorted([first.created, second.created]) == [0, 200]
    assert sorted([first.unchanged, second.unchanged]) == [0, 200]
    assert first.rejected == second.rejected == []
    assert await Supplier.filter(platform_id=platform.id).count() == 200
    assert await AuditEvent.filter(platform_id=platform.id, action="supplier.created").count() == 200
    assert await IdentityKey.filter(platform_id=platform.id).count() == 180 + 2 * 20
    assert (await verify_chain(platform.id)).ok
