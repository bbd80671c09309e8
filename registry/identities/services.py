"""Persons: one identity per document key across every platform."""

from __future__ import annotations

from datetime import datetime
from typing import Final, NamedTuple

from registry import clock, config, sql
from registry.enforcement.screening import document_value
from registry.identities.models import Person
from registry.ids import new_id
from registry.validators.documents import VerifiedDocument

_KIND = "person"
_FIND: Final = 'SELECT "id", "document_index", "created_at" FROM "person" WHERE "document_index" = $1'
_INSERT: Final = (
    'INSERT INTO "person" ("id", "document_index", "created_at") VALUES ($1, $2, $3) '
    'ON CONFLICT ("document_index") DO NOTHING RETURNING "id"'
)


def person_key(document: VerifiedDocument) -> str:
    return document_value(document.type.value, document.key_number)


async def find_person(key: str) -> Person | None:
    # One blind index per index key in use: usually one statement, two while index keys rotate.
    for index in config.current().indexer.candidates(_KIND, key):
        rows = await sql.fetch(_FIND, [index])
        if rows:
            return Person._init_from_db(**rows[0])
    return None


def person_indexes(document: VerifiedDocument) -> list[str]:
    """The blind indexes a person holding this document may be stored under (one per index key in use)."""
    return config.current().indexer.candidates(_KIND, person_key(document))


async def person_for(document: VerifiedDocument) -> Person:
    """The person holding this document, created on first sight (concurrent creators agree)."""
    found = await find_person(person_key(document))
    return found if found is not None else await create_person(document)


class NewPerson(NamedTuple):
    """A person's row, not yet stored: a plain tuple (a model instance cost a registration 2% of its CPU)."""

    id: str
    document_index: str  # under the current index key
    created_at: datetime


def new_person(document: VerifiedDocument) -> NewPerson:
    """A person for this document, not yet stored."""
    index = config.current().indexer.index(_KIND, person_key(document))
    return NewPerson(new_id("psn"), index, clock.now())


async def create_person(document: VerifiedDocument) -> Person:
    """The person holding this document, for a caller that found none: created, or a concurrent creator's.

    One statement creates it: ON CONFLICT lets a concurrent creator win without an error, so no
    savepoint or transaction of its own is needed, and the caller's transaction, if any, is joined.
    """
    person = new_person(document)
    if await sql.fetch(_INSERT, list(person)):
        return Person._init_from_db(**person._asdict())
    found = await find_person(person_key(document))
    if found is None:
        raise LookupError("a person's creation conflicted with a row that is gone")  # cannot happen: never deleted
    return found
