"""The one statement of an uncached eligibility check agrees with the registry's own reads."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tortoise.context import TortoiseContext

from registry import clock
from registry.enforcement.screening import Scope, blacklist_standing
from registry.enforcement.status import in_force
from registry.performers import eligibility_reads
from registry.performers.models import Performer
from tests.conftest import make_platform
from tests.factories import make_performer, resident_id, years_ago
from tests.registry.agencies.helpers import make_agency
from tests.registry.enforcement.helpers import add_entry, doc_key

pytestmark = pytest.mark.asyncio


async def _compare(platform_id: str, performer: Performer) -> eligibility_reads.Loaded:
    now = clock.now()
    loaded = await eligibility_reads.performer_with_measures(platform_id, performer.id, now)
    assert loaded is not None
    subjects = [s for s in (performer.id, performer.agency_id) if s]
    assert loaded.standing == await blacklist_standing(platform_id, subjects)
    expected = await in_force(subjects, now=now)
    assert sorted(m.id for m in loaded.measures) == sorted(m.id for found in expected.values() for m in found)
    return loaded


async def test_standing_of_the_performer_and_its_agency(db: TortoiseContext) -> None:
    platform, listing = await make_platform(), await make_platform()
    number = resident_id(years_ago(31))
    performer = await make_performer(platform.id, number=number)
    agency = await make_agency(platform.id)
    await Performer.filter(id=performer.id).update(agency_id=agency.id)
    performer = await Performer.get(id=performer.id)
    assert (await _compare(platform.id, performer)).standing.listed == set()

    until = clock.now() + timedelta(days=3)
    await add_entry(listing.id, Scope.JOINT, document=doc_key(number), until=until)
    loaded = await _compare(platform.id, performer)
    assert loaded.standing.listed == {performer.id} and loaded.standing.changes_at == until

    await add_entry(platform.id, credit_code=agency.credit_code)  # no end: bars for good
    loaded = await _compare(platform.id, performer)
    assert loaded.standing.listed == {performer.id, agency.id} and loaded.standing.changes_at == until


async def test_an_unknown_performer_or_another_platform_reads_nothing(db: TortoiseContext) -> None:
    platform, other = await make_platform(), await make_platform()
    performer = await make_performer(platform.id)
    now = clock.now()
    assert await eligibility_reads.performer_with_measures(other.id, performer.id, now) is None
    assert await eligibility_reads.performer_with_measures(platform.id, "per_unknown", now) is None
