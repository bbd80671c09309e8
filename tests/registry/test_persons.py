"""One person per document key, across platforms and concurrent creators."""

from __future__ import annotations

import asyncio

import pytest
from tortoise.context import TortoiseContext
from tortoise.transactions import in_transaction

from registry import clock
from registry.identities import services as identities
from registry.identities.models import Person
from registry.identities.services import find_person, person_for
from registry.validators.documents import VerifiedDocument, validate_document
from tests.factories import document, years_ago

pytestmark = pytest.mark.asyncio


def _verified() -> VerifiedDocument:
    verified, problems, _ = validate_document(document(years_ago(30)), today=clock.today_in_shanghai())
    assert verified is not None, problems
    return verified


async def test_the_same_document_is_the_same_person(db: TortoiseContext) -> None:
    held = _verified()
    first = await person_for(held)
    again = await person_for(held)
    assert again.id == first.id and await Person.filter(id=first.id).count() == 1
    assert (await person_for(_verified())).id != first.id


async def test_concurrent_creators_agree_on_one_person(db: TortoiseContext) -> None:
    held = _verified()
    people = await asyncio.gather(*(person_for(held) for _ in range(20)))
    assert len({p.id for p in people}) == 1
    assert await Person.all().count() == 1


async def test_a_lost_race_inside_a_transaction_does_not_abort_it(
    db: TortoiseContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = _verified()
    existing = await person_for(held)
    looks = []

    async def raced(key: str) -> Person | None:
        looks.append(key)
        return None if len(looks) == 1 else await find_person(key)  # the first look misses the winner's row

    monkeypatch.setattr(identities, "find_person", raced)
    async with in_transaction():
        assert (await person_for(held)).id == existing.id  # the insert conflicted, then found the winner
        created = await person_for(_verified())  # the transaction is still usable afterwards
    assert len(looks) == 3 and await Person.exists(id=created.id)
