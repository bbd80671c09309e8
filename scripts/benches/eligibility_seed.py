"""Set-based seeding for the eligibility benchmark: verified performers and blacklist entries by COPY.

Rows are built in Python the way the registry would write them (ids from registry.ids, blind indexes
from the registry's indexer, `birth_date_enc` sealed by the registry's vault under the keys the gateway
is given) and sent with asyncpg COPY: registering a million performers through the services would
take hours. Only `birth_date_enc` must decrypt (eligibility reads the age); the other ciphertext
columns hold a constant placeholder. Each performer gets its person row and its DOCUMENT identity
key, which is what blacklist matching joins on.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import asyncpg

from registry import clock, config
from registry.crypto import field_aad
from registry.enforcement.models import value_digest
from registry.enforcement.screening import SubjectKeys, document_value, index_values
from registry.ids import new_id
from registry.validators.documents import DocumentType, mask_document_number, mod11_2_check
from registry.verification import Status, reverify_deadline

CHUNK = 50_000
PLACEHOLDER = "v1.bench.not-personal-data"  # never decrypted by liveEligibility
RIC = DocumentType.RESIDENT_ID_CARD.value
PERFORMER_COLUMNS = (
    "id", "platform_id", "role", "external_ref", "person_id", "document_type", "document_number_enc",
    "full_name_enc", "birth_date_enc", "phone_enc", "name_masked", "number_masked", "phone_masked",
    "verification_status", "findings", "verified_at", "reverify_by", "pending_since", "training_completed_at",
    "agency_id", "created_at", "updated_at",
)  # fmt: skip
PERSON_COLUMNS = ("id", "document_index", "created_at")
IDENTITY_KEY_COLUMNS = ("subject_id", "platform_id", "kind", "value", "created_at")
ENTRY_COLUMNS = ("id", "platform_id", "scope", "reason", "created_at")
BLACKLIST_KEY_COLUMNS = ("entry_id", "kind", "value", "digest")


def resident_number(n: int, *, region: str = "110105", first_birth: date = date(1975, 1, 1)) -> str:
    """The n-th of a family of distinct valid resident numbers: 100 per birth date, adults born 1975-2002."""
    birth = first_birth + timedelta(days=n // 100)
    body = f"{region}{birth:%Y%m%d}{n % 100:03d}"
    return body + mod11_2_check(body)


def birth_of(number: str) -> date:
    return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


@dataclass(frozen=True, slots=True)
class _Rows:
    performers: list[tuple[object, ...]]
    persons: list[tuple[object, ...]]
    keys: list[tuple[object, ...]]


def _performer_rows(platform_id: str, numbers: range, now: datetime) -> _Rows:
    registry = config.current()
    verified, reverify_by, trained = now, reverify_deadline(now), now - timedelta(days=1)
    rows = _Rows([], [], [])
    for n in numbers:
        number = resident_number(n)
        performer_id, person_id = new_id("per"), new_id("psn")
        key = document_value(RIC, number)
        birth = registry.vault.encrypt(
            birth_of(number).isoformat(), aad=field_aad("performer", "birth_date_enc", performer_id)
        )
        rows.performers.append(
            (
                performer_id, platform_id, "MARKETER" if n % 4 else "ROOM_OPERATOR", f"bench-{n}", person_id, RIC,
                PLACEHOLDER, PLACEHOLDER, birth, PLACEHOLDER, "张*", mask_document_number(number),
                "+86 138****8000", Status.VERIFIED.value, "[]", verified, reverify_by, None, trained, None, now, now,
            )
        )  # fmt: skip
        rows.persons.append((person_id, registry.indexer.index("person", key), now))
        rows.keys.extend(
            (performer_id, platform_id, kind.value, value, now)
            for kind, value in index_values(SubjectKeys(documents=[key]))
        )
    return rows


def _chunks(start: int, stop: int) -> Iterator[range]:
    for low in range(start, stop, CHUNK):
        yield range(low, min(low + CHUNK, stop))


async def seed_performers(conn: asyncpg.Connection, platform_id: str, start: int, stop: int) -> list[str]:
    """Performers number `start` to `stop - 1` (numbers keep identities distinct across calls); their ids."""
    ids: list[str] = []
    now = clock.now()
    for numbers in _chunks(start, stop):
        rows = _performer_rows(platform_id, numbers, now)
        async with conn.transaction():
            await conn.copy_records_to_table("person", records=rows.persons, columns=PERSON_COLUMNS)
            await conn.copy_records_to_table("performer", records=rows.performers, columns=PERFORMER_COLUMNS)
            await conn.copy_records_to_table("identity_key", records=rows.keys, columns=IDENTITY_KEY_COLUMNS)
        ids += [row[0] for row in rows.performers]  # type: ignore[misc]
    return ids


async def seed_blacklist(conn: asyncpg.Connection, platform_id: str, entries: int, listed: list[int]) -> None:
    """`entries` DOCUMENT entries in force: one for each performer number in `listed`, the rest for
    identities nobody registered; a third JOINT, written by another platform."""
    now = clock.now()
    other = new_id("plt")
    strangers = (resident_number(n, region="440300") for n in range(entries - len(listed)))
    numbers = [resident_number(n) for n in listed] + list(strangers)
    entry_rows, key_rows = [], []
    for n, number in enumerate(numbers):
        entry_id = new_id("ble")
        joint = n % 3 == 0
        entry_rows.append((entry_id, other if joint else platform_id, "JOINT" if joint else "PLATFORM", "bench", now))
        keys = index_values(SubjectKeys(documents=[document_value(RIC, number)]))
        key_rows += [(entry_id, kind.value, value, value_digest(value)) for kind, value in keys]
    async with conn.transaction():
        await conn.copy_records_to_table("blacklist_entry", records=entry_rows, columns=ENTRY_COLUMNS)
        await conn.copy_records_to_table("blacklist_key", records=key_rows, columns=BLACKLIST_KEY_COLUMNS)


SEEDED = ("person", "performer", "identity_key", "blacklist_entry", "blacklist_key")


async def settle(conn: asyncpg.Connection) -> None:
    """What a production database has done long before its rows are read: VACUUM ANALYZE (statistics,
    hint bits, the visibility map) and a checkpoint. Without it the first round measured the bulk load's
    aftermath: the first read of each copied row writes its hint bits, and the load's WAL was flushed."""
    for table in SEEDED:
        await conn.execute(f'VACUUM ANALYZE "{table}"')
    with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
        await conn.execute("CHECKPOINT")


def listed_sample(count: int, population: int, rng: random.Random) -> list[int]:
    return rng.sample(range(population), min(count, population))
