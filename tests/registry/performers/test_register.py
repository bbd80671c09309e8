"""Performer registration: every problem at once, age and consent, duplicates, privacy at rest."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from tortoise.context import TortoiseContext

from registry import clock
from registry.audit.models import AuditEvent
from registry.identities.models import IdentityKey
from registry.performers import services as performers
from registry.performers.models import GuardianConsent, Performer, RefusedAttempt
from registry.performers.services import ConsentInput, RegisterInput
from registry.platforms.services import update_platform
from registry.problems import ProblemCode
from registry.validators.documents import DocumentInput, DocumentType
from tests.conftest import make_platform
from tests.factories import document, platform_actor, resident_id, years_ago


def consent(guardian_birth: date | None = None, *, number: str | None = None) -> ConsentInput:
    birth = guardian_birth or years_ago(45)
    return ConsentInput(
        guardian=DocumentInput(DocumentType.RESIDENT_ID_CARD, number or resident_id(birth), "李四"),
        relationship="PARENT",
        phone="13900139000",
        signed_at=datetime.now(UTC) - timedelta(hours=1),
    )


def register_input(birth: date | None = None, **overrides: object) -> RegisterInput:
    values: dict[str, object] = {"role": "MARKETER", "document": document(birth), "phone": "13800138000"}
    values.update(overrides)
    return RegisterInput(**values)  # type: ignore[arg-type]


def codes(outcome: performers.Outcome) -> list[tuple[str, tuple[str, ...] | None]]:
    return [(p.code.value, p.field) for p in outcome.problems]


async def test_an_adult_is_verified_masked_and_audited(db: TortoiseContext) -> None:
    platform = await make_platform()
    number = resident_id(date(1990, 5, 17))
    outcome = await performers.register_performer(
        platform_actor(platform.id),
        register_input(document=document(date(1990, 5, 17), number=number), external_ref="u-1"),
    )
    performer = outcome.performer
    assert outcome.problems == [] and performer is not None
    assert performer.verification_status == "VERIFIED" and performer.verified_at is not None
    assert performer.reverify_by == clock.add_months(performer.verified_at, 6)
    assert performer.number_masked == number[:3] + "*" * 11 + number[-4:]
    assert performer.name_masked == "张*" and performer.phone_masked == "+86 138****8000"
    assert number not in performer.document_number_enc and "张三" not in performer.full_name_enc
    event = await AuditEvent.get(subject_id=performer.id, action="performer.registered")
    assert number not in event.canonical and "张三" not in event.canonical and "13800138000" not in event.canonical
    kinds = {k.kind for k in await IdentityKey.filter(subject_id=performer.id)}
    assert kinds == {"DOCUMENT", "PHONE", "NAME_AND_BIRTHDATE"}


async def test_every_problem_is_reported_at_once(db: TortoiseContext) -> None:
    platform = await make_platform()
    bad = register_input(
        document=DocumentInput(DocumentType.RESIDENT_ID_CARD, "11010519491231002Y", "张三"),
        phone="12345",
        external_ref="has space",
        device_id="\x00",
    )
    outcome = await performers.register_performer(platform_actor(platform.id), bad)
    assert outcome.performer is None
    assert set(codes(outcome)) == {
        ("INVALID_DOCUMENT", ("input", "document", "number")),
        ("INVALID_INPUT", ("input", "phone")),
        ("INVALID_INPUT", ("input", "externalRef")),
        ("INVALID_INPUT", ("input", "deviceId")),
    }
    assert await Performer.all().count() == 0


async def test_under_sixteen_is_refused_and_only_a_keyed_hash_is_kept(db: TortoiseContext) -> None:
    platform = await make_platform()
    number = resident_id(years_ago(15, days=-30))
    outcome = await performers.register_performer(
        platform_actor(platform.id), register_input(document=document(years_ago(15), number=number))
    )
    assert codes(outcome) == [("UNDER_MINIMUM_AGE", ("input", "document", "birthDate"))]
    assert await Performer.all().count() == 0
    attempt = await RefusedAttempt.get()
    assert number not in attempt.document_index and attempt.reason == "UNDER_MINIMUM_AGE"


async def test_sixteen_and_seventeen_need_a_guardian(db: TortoiseContext) -> None:
    platform = await make_platform()
    actor = platform_actor(platform.id)
    birth = years_ago(16, days=1)
    missing = await performers.register_performer(actor, register_input(birth))
    assert codes(missing) == [("GUARDIAN_CONSENT_REQUIRED", ("input", "guardianConsent"))]
    minor_guardian = await performers.register_performer(
        actor, register_input(birth, guardian_consent=consent(years_ago(17)))
    )
    assert codes(minor_guardian) == [("GUARDIAN_NOT_ELIGIBLE", ("input", "guardianConsent", "guardian"))]
    own = register_input(birth)
    same_person = await performers.register_performer(
        actor, register_input(birth, document=own.document, guardian_consent=consent(number=own.document.number))
    )
    assert ("GUARDIAN_NOT_ELIGIBLE", ("input", "guardianConsent", "guardian")) in codes(same_person)
    ok = await performers.register_performer(actor, register_input(birth, guardian_consent=consent()))
    assert ok.problems == [] and ok.performer is not None
    stored = await GuardianConsent.get(performer_id=ok.performer.id)
    assert stored.guardian_name_masked == "李*" and stored.revoked_at is None


async def test_a_platform_may_raise_its_minimum_age(db: TortoiseContext) -> None:
    platform = await make_platform()
    await update_platform(platform.id, minimum_age=18)
    outcome = await performers.register_performer(
        platform_actor(platform.id), register_input(years_ago(17, days=100), guardian_consent=consent())
    )
    assert codes(outcome) == [("UNDER_MINIMUM_AGE", ("input", "document", "birthDate"))]


async def test_first_generation_numbers_are_expired_documents(db: TortoiseContext) -> None:
    platform = await make_platform()
    legacy = DocumentInput(DocumentType.RESIDENT_ID_CARD, "610104620927690", "张三")
    outcome = await performers.register_performer(platform_actor(platform.id), register_input(document=legacy))
    assert [p.code for p in outcome.problems] == [ProblemCode.DOCUMENT_EXPIRED]


async def test_duplicates_retries_and_external_refs(db: TortoiseContext) -> None:
    platform = await make_platform()
    actor = platform_actor(platform.id)
    first = await performers.register_performer(actor, register_input(years_ago(30), external_ref="acct-1"))
    assert first.performer is not None
    same = register_input(document=first_document(first), external_ref="acct-1")
    retry = await performers.register_performer(actor, same)
    assert retry.problems == [] and retry.performer is not None and retry.performer.id == first.performer.id
    other_ref = await performers.register_performer(
        actor, register_input(document=same.document, external_ref="acct-2")
    )
    assert [p.code for p in other_ref.problems] == [ProblemCode.ALREADY_REGISTERED]
    other_person = await performers.register_performer(actor, register_input(years_ago(31), external_ref="acct-1"))
    assert [p.code for p in other_person.problems] == [ProblemCode.DUPLICATE_EXTERNAL_REF]
    operator = await performers.register_performer(
        actor, register_input(document=same.document, role="ROOM_OPERATOR", external_ref="acct-1")
    )
    assert operator.problems == [] and operator.performer is not None  # one person may hold both roles
    assert operator.performer.person_id == first.performer.person_id


def first_document(outcome: performers.Outcome) -> DocumentInput:
    assert outcome.performer is not None
    stored = performers._stored_document(outcome.performer)
    return DocumentInput(stored.type, stored.number, stored.full_name)


async def test_concurrent_registrations_of_one_identity_land_once(db: TortoiseContext, database_url: str) -> None:
    if not database_url.startswith("postgres"):
        pytest.skip("SQLite serializes a process's transactions; the race needs PostgreSQL")
    platform = await make_platform()
    actor = platform_actor(platform.id)
    data = register_input(years_ago(25), external_ref="same-acct")
    outcomes = await asyncio.gather(*(performers.register_performer(actor, data) for _ in range(20)))
    assert await Performer.filter(platform_id=platform.id).count() == 1
    ids = {o.performer.id for o in outcomes if o.performer is not None}
    assert len(ids) == 1 and all(o.problems == [] for o in outcomes), [o.problems for o in outcomes if o.problems]


async def test_no_raw_personal_data_in_the_database_file(db: TortoiseContext, database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("reads the SQLite file itself")
    platform = await make_platform()
    number = resident_id(date(1988, 3, 4))
    name, phone = "欧阳明月", "13912345678"
    data = register_input(document=document(date(1988, 3, 4), name=name, number=number), phone=phone)
    outcome = await performers.register_performer(platform_actor(platform.id), data)
    assert outcome.performer is not None
    await db.db().execute_script("PRAGMA wal_checkpoint(FULL)")
    path = Path(database_url.removeprefix("sqlite://"))
    raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    for secret in (number, name, phone, "+86" + phone, "1988-03-04"):
        assert secret.encode() not in raw, secret


async def test_age_follows_the_shanghai_calendar(db: TortoiseContext, monkeypatch: pytest.MonkeyPatch) -> None:
    platform = await make_platform()
    # Born 2010-11-30: 16th anniversary 2026-11-30, reached (DAY_AFTER) on 2026-12-01 in Shanghai.
    birth = date(2010, 11, 30)
    before = datetime(2026, 11, 30, 15, 59, tzinfo=UTC)  # 23:59 on Nov 30 in Shanghai
    after = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 00:00 on Dec 1 in Shanghai
    monkeypatch.setattr(clock, "now", lambda: before)
    refused = await performers.register_performer(
        platform_actor(platform.id), register_input(birth, guardian_consent=consent())
    )
    assert [p.code for p in refused.problems] == [ProblemCode.UNDER_MINIMUM_AGE]
    monkeypatch.setattr(clock, "now", lambda: after)
    accepted = await performers.register_performer(
        platform_actor(platform.id), register_input(birth, guardian_consent=consent())
    )
    assert accepted.problems == [] and accepted.performer is not None
    assert performers.age_of(accepted.performer) == 16
