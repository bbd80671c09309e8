"""Supplier services on SQLite and PostgreSQL: upserts, compliance judged on read, screening, reviews, tenancy."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from registry import clock, config, reviews
from registry.audit.models import AuditEvent
from registry.audit.services import verify_chain
from registry.enforcement.screening import document_value, name_value
from registry.identities.models import IdentityKey
from registry.identities.services import person_key
from registry.pagination import encode_cursor
from registry.problems import ProblemCode
from registry.reviews import ReviewDecision
from registry.suppliers import services as suppliers
from registry.suppliers.checks import SupplierInput, check_supplier
from registry.suppliers.models import Supplier
from registry.verification import Status
from tests.conftest import make_platform
from tests.factories import credit_code, platform_actor
from tests.registry.suppliers.helpers import (
    at_shanghai_noon,
    blacklist,
    code_failing_inner_check,
    license_,
    person,
    supplier,
)

pytestmark = pytest.mark.usefixtures("db")


async def upsert(platform_id: str, data: SupplierInput) -> Supplier:
    outcome = await suppliers.upsert_supplier(platform_actor(platform_id), data)
    assert outcome.problems == []
    assert outcome.supplier is not None
    return outcome.supplier


async def events(platform_id: str, action: str) -> int:
    return await AuditEvent.filter(platform_id=platform_id, action=action).count()


async def test_upsert_creates_a_verified_supplier_and_a_resend_changes_nothing() -> None:
    platform = await make_platform()
    data = supplier("S-1", categories=["GENERAL"])
    first = await upsert(platform.id, data)
    view = suppliers.view(first)
    assert (view.status, view.findings, view.contact_phone) == (Status.VERIFIED, [], "+8675588886666")
    assert view.name == "深圳市示例科技有限公司"
    again = await upsert(platform.id, data)
    assert (again.id, again.updated_at) == (first.id, first.updated_at)
    assert await Supplier.filter(platform_id=platform.id).count() == 1
    assert await events(platform.id, "supplier.created") == 1
    assert await events(platform.id, "supplier.updated") == 0


async def test_a_change_updates_the_same_record_with_an_audit_event() -> None:
    platform = await make_platform()
    first = await upsert(platform.id, supplier("S-1"))
    second = await upsert(platform.id, supplier("S-1", address="广东省深圳市福田区深南大道1号"))
    assert second.id == first.id
    assert second.address == "广东省深圳市福田区深南大道1号"
    assert await events(platform.id, "supplier.updated") == 1
    assert (await verify_chain(platform.id)).ok


async def test_malformed_input_stores_nothing() -> None:
    platform = await make_platform()
    outcome = await suppliers.upsert_supplier(platform_actor(platform.id), supplier("S-1", code="914403001922038217"))
    assert outcome.supplier is None
    assert [(p.code, p.field) for p in outcome.problems] == [(ProblemCode.INVALID_CREDIT_CODE, ("input", "creditCode"))]
    assert await Supplier.filter(platform_id=platform.id).count() == 0
    assert await AuditEvent.filter(platform_id=platform.id, action__startswith="supplier").count() == 0


async def test_a_missing_license_is_stored_but_not_verified() -> None:
    platform = await make_platform()
    record = await upsert(platform.id, supplier("S-1", categories=["GENERAL", "FOOD"]))
    view = suppliers.view(record)
    assert view.status is Status.REJECTED
    assert [(p.code, p.field) for p in view.findings] == [(ProblemCode.LICENSE_REQUIRED, ("input", "licenses"))]
    fixed = await upsert(platform.id, supplier("S-1", categories=["GENERAL", "FOOD"], licenses=[license_()]))
    assert suppliers.view(fixed).status is Status.VERIFIED


async def test_a_license_expiring_tonight_is_not_verified_tomorrow_without_a_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    platform = await make_platform()
    today = clock.today_in_shanghai()
    record = await upsert(
        platform.id, supplier("S-1", categories=["COSMETICS"], licenses=[license_("COSMETICS_PRODUCTION", until=today)])
    )
    actor = platform_actor(platform.id)

    async def listed(status: Status) -> list[str]:
        found = await suppliers.list_suppliers(actor, first=10, after=None, status=status.value)
        return [r.id for r in found.rows]

    assert suppliers.view(record).status is Status.VERIFIED
    assert await listed(Status.VERIFIED) == [record.id]
    tomorrow = at_shanghai_noon(today + timedelta(days=1))
    monkeypatch.setattr(clock, "now", lambda: tomorrow)
    stored = await Supplier.get(id=record.id)
    assert stored.updated_at == record.updated_at
    view = suppliers.view(stored)
    assert view.status is Status.EXPIRED
    assert [p.code for p in view.findings] == [ProblemCode.LICENSE_EXPIRED]
    assert [lic.expired for lic in view.licenses] == [True]
    assert await listed(Status.VERIFIED) == []
    assert await listed(Status.EXPIRED) == [record.id]


async def test_a_natural_persons_document_and_contact_are_encrypted_at_rest() -> None:
    platform = await make_platform()
    data = person("P-1", name="李四")
    record = await upsert(platform.id, data)
    assert data.identity is not None
    number = data.identity.number
    stored = await Supplier.filter(id=record.id).values()
    text = " ".join(str(v) for v in stored[0].values())
    assert number not in text and "李四" not in text and "13800138000" not in text
    assert stored[0]["name"] is None and stored[0]["address"] is None and stored[0]["contact_phone"] is None
    view = suppliers.view(record)
    assert (view.name, view.address, view.contact_phone) == ("李四", supplier().address, "+8613800138000")
    assert view.document_type == "RESIDENT_ID_CARD"
    assert view.document_number_masked == number[:3] + "*" * 11 + number[-4:]
    assert view.credit_code is None


async def test_a_blacklisted_credit_code_is_refused_and_nothing_is_stored() -> None:
    platform = await make_platform()
    code = credit_code()
    await blacklist(platform.id, "CREDIT_CODE", code)
    outcome = await suppliers.upsert_supplier(platform_actor(platform.id), supplier("S-1", code=code))
    assert [(p.code, p.field) for p in outcome.problems] == [(ProblemCode.BLACKLISTED, ("input", "creditCode"))]
    assert await Supplier.filter(platform_id=platform.id).count() == 0


async def test_a_joint_entry_of_another_platform_blocks_a_natural_person() -> None:
    platform, other = await make_platform(), await make_platform()
    data = person("P-1")
    checked, _ = check_supplier(data, clock.today_in_shanghai())
    assert checked is not None and checked.document is not None
    await blacklist(other.id, "DOCUMENT", person_key(checked.document), scope="JOINT")
    outcome = await suppliers.upsert_supplier(platform_actor(platform.id), data)
    assert [(p.code, p.field) for p in outcome.problems] == [(ProblemCode.BLACKLISTED, ("input", "identity"))]


async def test_a_fuzzy_match_sends_to_review_and_an_approval_is_remembered() -> None:
    platform = await make_platform()
    data = person("P-1", name="王五")
    checked, _ = check_supplier(data, clock.today_in_shanghai())
    assert checked is not None and checked.document is not None
    entry = await blacklist(platform.id, "NAME_AND_BIRTHDATE", name_value("王五", checked.document.birth_date))
    record = await upsert(platform.id, data)
    view = suppliers.view(record)
    assert view.status is Status.REVIEW
    assert [p.code for p in view.findings] == [ProblemCode.BLACKLISTED]
    assert record.findings[0]["entryId"] == entry
    actor = platform_actor(platform.id)
    decided = await reviews.decide_review(
        actor, record.id, ReviewDecision.APPROVE, "different person, checked by phone"
    )
    assert suppliers.view(decided).status is Status.VERIFIED  # type: ignore[arg-type]
    changed = await upsert(platform.id, replace(data, address="广东省广州市天河区体育西路1号"))
    assert suppliers.view(changed).status is Status.VERIFIED


async def test_a_failing_inner_check_goes_to_review_and_stays_there_until_decided() -> None:
    platform = await make_platform()
    actor = platform_actor(platform.id)
    data = supplier("S-1", code=code_failing_inner_check(11))
    record = await upsert(platform.id, data)
    assert suppliers.view(record).status is Status.REVIEW
    # A change while in review keeps it there, with the reason: only decideReview leaves REVIEW.
    changed = await upsert(platform.id, replace(data, credit_code=credit_code()))
    assert suppliers.view(changed).status is Status.REVIEW
    assert [p.code for p in suppliers.view(changed).findings] == [ProblemCode.INVALID_CREDIT_CODE]
    rejected = await reviews.decide_review(actor, record.id, ReviewDecision.REJECT, "not a registered company")
    assert suppliers.view(rejected).status is Status.REJECTED  # type: ignore[arg-type]
    resent = await upsert(platform.id, replace(data, credit_code=changed.credit_code))
    assert suppliers.view(resent).status is Status.REJECTED  # the same content again: nothing re-evaluated
    corrected = await upsert(platform.id, replace(data, credit_code=credit_code(), name="深圳市更正科技有限公司"))
    assert suppliers.view(corrected).status is Status.VERIFIED  # re-verification from REJECTED


async def test_screening_keys_are_stored_and_replaced_on_change() -> None:
    platform = await make_platform()
    first_code, second_code = credit_code(), credit_code()
    record = await upsert(platform.id, supplier("S-1", code=first_code))
    indexer = config.current().indexer
    keys = await IdentityKey.filter(subject_id=record.id).values_list("kind", "value")
    assert keys == [("CREDIT_CODE", indexer.index("CREDIT_CODE", first_code))]
    await upsert(platform.id, supplier("S-1", code=second_code))
    keys = await IdentityKey.filter(subject_id=record.id).values_list("kind", "value")
    assert keys == [("CREDIT_CODE", indexer.index("CREDIT_CODE", second_code))]


async def test_natural_person_keys_are_document_and_name() -> None:
    platform = await make_platform()
    data = person("P-1")
    record = await upsert(platform.id, data)
    checked, _ = check_supplier(data, clock.today_in_shanghai())
    assert checked is not None and checked.document is not None
    kinds = sorted(await IdentityKey.filter(subject_id=record.id).values_list("kind", flat=True))
    assert kinds == ["DOCUMENT", "NAME_AND_BIRTHDATE"]
    stored = await IdentityKey.get(subject_id=record.id, kind="DOCUMENT")
    assert stored.value == config.current().indexer.index(
        "DOCUMENT", document_value("RESIDENT_ID_CARD", checked.document.key_number)
    )


async def test_another_platforms_supplier_does_not_exist() -> None:
    platform, other = await make_platform(), await make_platform()
    record = await upsert(platform.id, supplier("S-1"))
    stranger = platform_actor(other.id)
    assert await suppliers.get_supplier(stranger, record.id) is None
    assert await suppliers.supplier_by_ref(stranger, "S-1") is None
    assert (await suppliers.list_suppliers(stranger, first=10, after=None)).rows == []
    # The same externalRef on another platform is another supplier.
    theirs = await upsert(other.id, supplier("S-1"))
    assert theirs.id != record.id


async def test_list_filters_by_status_and_category_and_pages() -> None:
    platform = await make_platform()
    actor = platform_actor(platform.id)
    general = [await upsert(platform.id, supplier(f"G-{i}")) for i in range(3)]
    food = await upsert(platform.id, supplier("F-1", categories=["FOOD", "GENERAL"], licenses=[license_()]))
    no_license = await upsert(platform.id, supplier("D-1", categories=["MEDICAL_DEVICE"]))
    lapsed = await upsert(
        platform.id,
        supplier("C-1", categories=["COSMETICS"], licenses=[license_("COSMETICS_PRODUCTION", until=date(2020, 1, 1))]),
    )

    async def ids(**filters: str) -> list[str]:
        return [r.id for r in (await suppliers.list_suppliers(actor, first=50, after=None, **filters)).rows]

    assert await ids(category="FOOD") == [food.id]
    assert await ids(category="GENERAL") == [*(g.id for g in general), food.id]
    assert await ids(status="VERIFIED") == [*(g.id for g in general), food.id]
    assert await ids(status="REJECTED") == [no_license.id]
    assert await ids(status="EXPIRED") == [lapsed.id]
    assert await ids(status="REVIEW") == []
    first = await suppliers.list_suppliers(actor, first=4, after=None)
    assert first.has_next and len(first.rows) == 4
    rest = await suppliers.list_suppliers(
        actor, first=4, after=encode_cursor(first.rows[-1].created_at, first.rows[-1].id)
    )
    assert [r.id for r in first.rows + rest.rows] == await ids()
    assert not rest.has_next


async def test_an_onboarding_client_reads_no_supplier() -> None:
    platform = await make_platform()
    record = await upsert(platform.id, supplier("S-1"))
    client = replace(platform_actor(platform.id), session_id="ses_x")
    assert await suppliers.get_supplier(client, record.id) is None
    assert await suppliers.supplier_by_ref(client, "S-1") is None


async def test_an_update_keeping_the_credit_code_keeps_its_keys() -> None:
    platform = await make_platform()
    record = await upsert(platform.id, supplier("S-1"))
    before = await IdentityKey.filter(subject_id=record.id).values_list("id", flat=True)
    await upsert(platform.id, supplier("S-1", code=record.credit_code, address="广东省深圳市福田区深南大道1号"))
    assert await IdentityKey.filter(subject_id=record.id).values_list("id", flat=True) == before
