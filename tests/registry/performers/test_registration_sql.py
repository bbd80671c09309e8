"""Registration's own statements (registry/performers/registration_sql.py): what an adult's registration
writes in one statement on PostgreSQL equals what the ORM path writes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from tortoise.context import TortoiseContext
from tortoise.exceptions import IntegrityError

from registry import sql
from registry.actors import Actor, ActorKind
from registry.audit.models import AuditEvent, AuditHead
from registry.audit.services import CHAIN_WRITERS, chain_gate, verify_chain
from registry.enforcement import screening
from registry.enforcement.screening import SubjectKeys
from registry.identities.models import IdentityKey, Person
from registry.identities.services import create_person, person_indexes
from registry.onboarding import services as onboarding
from registry.onboarding.models import OnboardingSession
from registry.performers import registration_sql
from registry.performers import services as performers
from registry.performers.models import Performer
from registry.performers.services import RegisterInput
from registry.validators.documents import validate_document
from tests.conftest import make_platform
from tests.factories import document, platform_actor, years_ago
from tests.registry.enforcement.helpers import add_entry


def _needs_the_one_statement_write(database_url: str) -> None:
    if not database_url.startswith("postgres"):
        pytest.skip("the one-statement write is PostgreSQL's")


def adult(ref: str, years: int = 33) -> RegisterInput:
    return RegisterInput(role="MARKETER", document=document(years_ago(years)), phone="13800138000", external_ref=ref)


async def test_the_write_stores_what_the_orm_path_stores(db: TortoiseContext, database_url: str) -> None:
    # SQLite takes the ORM path, PostgreSQL the one statement: the same rows and the same audit event.
    platform = await make_platform()
    outcome = await performers.register_performer(platform_actor(platform.id), adult("acct-1"))
    performer = outcome.performer
    assert outcome.problems == [] and performer is not None
    stored = await Performer.get(id=performer.id)
    for name in registration_sql.COLUMNS:
        assert getattr(stored, name) == getattr(performer, name), name
    assert await Person.exists(id=performer.person_id)
    kinds = sorted(k.kind for k in await IdentityKey.filter(subject_id=performer.id, platform_id=platform.id))
    assert kinds == ["DOCUMENT", "NAME_AND_BIRTHDATE", "PHONE"]
    event = await AuditEvent.get(subject_id=performer.id)
    data = json.loads(event.canonical)
    assert (event.action, event.seq, data["seq"], data["data"]["status"]) == ("performer.registered", 2, 2, "VERIFIED")
    head = await AuditHead.get(platform_id=platform.id)
    assert (head.seq, head.hash, head.prev_hash) == (2, event.hash, event.prev_hash)
    assert await verify_chain(platform.id) == (True, 2, None)
    assert registration_sql.available() is database_url.startswith("postgres")


async def test_a_client_registration_completes_its_onboarding_session(db: TortoiseContext) -> None:
    platform = await make_platform()
    started = await onboarding.start_session(platform_actor(platform.id), "MARKETER", "acct-7", 600)
    client = Actor(ActorKind.ONBOARDING_CLIENT, platform.id, token_id="client-jti", session_id=started.id)
    outcome = await performers.register_performer(client, adult("acct-7"))
    assert outcome.problems == [] and outcome.performer is not None
    session = await OnboardingSession.get(id=started.id)
    assert (session.status, session.performer_id) == ("COMPLETED", outcome.performer.id)


async def test_a_platform_without_an_audit_chain_stores_no_performer(db: TortoiseContext) -> None:
    platform = await make_platform()
    await AuditHead.filter(platform_id=platform.id).delete()
    with pytest.raises((IntegrityError, LookupError)):  # the one statement fails; the ORM path raises
        await performers.register_performer(platform_actor(platform.id), adult("acct-2"))
    assert not await Performer.exists(platform_id=platform.id)
    assert not await IdentityKey.exists(platform_id=platform.id)


async def test_twins_of_one_external_ref_land_once(db: TortoiseContext, database_url: str) -> None:
    # Two people, one externalRef, at once: their identity locks differ, so the unique key settles it,
    # and the loser's write waits for the winner's without holding the audit chain's head.
    if not database_url.startswith("postgres"):
        pytest.skip("SQLite serializes a process's transactions; the race needs PostgreSQL")
    platform = await make_platform()
    actor = platform_actor(platform.id)
    outcomes = await asyncio.wait_for(
        asyncio.gather(*(performers.register_performer(actor, adult("shared", 25 + n)) for n in range(8))), 10
    )
    landed = [o for o in outcomes if o.performer is not None]
    assert len(landed) == 1 and await Performer.filter(platform_id=platform.id).count() == 1
    assert all([p.code.value for p in o.problems] == ["DUPLICATE_EXTERNAL_REF"] for o in outcomes if o not in landed)
    assert await verify_chain(platform.id) == (True, 2, None)


async def test_a_person_created_meanwhile_is_the_one_registered(
    db: TortoiseContext, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Guardians and legal representatives get their person without identity locks: when one is created
    # between the registration's read and its write, the write fails on the person and tries again with it.
    _needs_the_one_statement_write(database_url)
    platform = await make_platform()
    data = adult("acct-9", 47)
    verified = validate_document(data.document, today=years_ago(0))[0]
    assert verified is not None
    real_write, meanwhile = registration_sql.write, []

    async def create_then_write(*args: Any) -> str | None:
        meanwhile.append(await create_person(verified))  # as a guardian's consent would, after the read
        return await real_write(*args)

    monkeypatch.setattr(registration_sql, "write", create_then_write)
    outcome = await performers.register_performer(platform_actor(platform.id), data)
    assert outcome.problems == [] and outcome.performer is not None and len(meanwhile) == 1
    assert outcome.performer.person_id == meanwhile[0].id
    assert (await Performer.get(id=outcome.performer.id)).person_id == meanwhile[0].id
    assert await Person.filter(document_index=meanwhile[0].document_index).count() == 1
    assert await verify_chain(platform.id) == (True, 2, None)


async def test_the_first_read_brings_the_blacklist_listings(db: TortoiseContext, database_url: str) -> None:
    # On PostgreSQL the screening's listings come with the applicant's read; SQLite leaves them to screening.
    platform, elsewhere = await make_platform(), await make_platform()
    listed = await add_entry(platform.id, phone="13800138000")
    await add_entry(elsewhere.id, phone="13800138000")  # another platform's own entry: not seen here
    outcome = await performers.register_performer(platform_actor(platform.id), adult("acct-11"))
    assert outcome.performer is not None and outcome.performer.verification_status == "REVIEW"
    assert [(f["code"], f["entryId"]) for f in outcome.performer.findings] == [("BLACKLISTED", listed.id)]
    verified = validate_document(adult("acct-12", 52).document, today=years_ago(0))[0]
    assert verified is not None
    screened = [value for _, value in screening.index_values(SubjectKeys(phones=["+8613800138000"]))]
    known = await registration_sql.known(platform.id, "MARKETER", person_indexes(verified), "acct-12", screened)
    if database_url.startswith("postgres"):
        assert known.listings is not None and [row.entry_id for row in known.listings] == [listed.id]
    else:
        assert known.listings is None
    assert known.person_id is None and known.holders == []


async def test_an_adults_registration_is_two_statements(
    db: TortoiseContext, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The read (with the blacklist listings) and the write; a known person adds the read of its performers.
    _needs_the_one_statement_write(database_url)
    platform = await make_platform()
    statements: list[str] = []
    real_fetch = sql.fetch

    async def counting(query: str, values: Any) -> list[dict[str, Any]]:
        statements.append(query)
        return await real_fetch(query, values)

    monkeypatch.setattr(sql, "fetch", counting)
    data = adult("acct-21", 38)
    first = await performers.register_performer(platform_actor(platform.id), data)
    assert first.performer is not None and len(statements) == 2
    statements.clear()
    data = RegisterInput(role="ROOM_OPERATOR", document=data.document, phone="13800138000")
    second = await performers.register_performer(platform_actor(platform.id), data)
    assert second.performer is not None and second.performer.person_id == first.performer.person_id
    assert len(statements) == 3


async def test_the_write_waits_for_a_place_at_the_platforms_chain(
    db: TortoiseContext, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # At most CHAIN_WRITERS writes of a platform go to the database at once; the others wait their turn here.
    _needs_the_one_statement_write(database_url)
    platform = await make_platform()
    actor = platform_actor(platform.id)
    gate = chain_gate(platform.id)
    for _ in range(CHAIN_WRITERS):
        await gate.acquire()
    waiting = asyncio.create_task(performers.register_performer(actor, adult("gate-0", 30)))
    await asyncio.sleep(0.3)
    assert not waiting.done() and not await Performer.filter(platform_id=platform.id).exists()
    gate.release()
    first = await asyncio.wait_for(waiting, 10)
    assert first.performer is not None
    for _ in range(CHAIN_WRITERS - 1):
        gate.release()

    in_flight, most = 0, 0
    real_fetch = sql.fetch

    async def counting(query: str, values: Any) -> list[dict[str, Any]]:
        nonlocal in_flight, most
        if query is not registration_sql._WRITE_SQL:
            return await real_fetch(query, values)
        in_flight += 1
        most = max(most, in_flight)
        try:
            return await real_fetch(query, values)
        finally:
            in_flight -= 1

    monkeypatch.setattr(sql, "fetch", counting)
    outcomes = await asyncio.gather(
        *(performers.register_performer(actor, adult(f"gate-{i}", 20 + i)) for i in range(1, 13))
    )
    assert all(outcome.performer is not None for outcome in outcomes)
    assert 1 <= most <= CHAIN_WRITERS
    assert (await verify_chain(platform.id)).ok
