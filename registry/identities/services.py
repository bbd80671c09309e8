"""Persons: one identity per document key across every platform."""

from __future__ import annotations

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from registry import config
from registry.enforcement.screening import document_value
from registry.identities.models import Person
from registry.ids import new_id
from registry.validators.documents import VerifiedDocument

_KIND = "person"


def person_key(document: VerifiedDocument) -> str:
    return document_value(document.type.value, document.key_number)


async def find_person(key: str) -> Person | None:
    return await Person.filter(document_index__in=config.current().indexer.candidates(_KIND, key)).first()


async def person_for(document: VerifiedDocument) -> Person:
    """The person holding this document, created on first sight (concurrent creators agree)."""
    key = person_key(document)
    found = await find_person(key)
    if found is not None:
        return found
    try:
        async with in_transaction():
            return await Person.create(id=new_id("psn"), document_index=config.current().indexer.index(_KIND, key))
    except IntegrityError:
        found = await find_person(key)
        if found is None:
            raise
        return found
