"""Builders for enforcement and blacklist tests: actors, avatars, registrations with every key."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from registry.actors import Actor
from registry.avatars import phash as phashes
from registry.avatars.images import normalize_image
from registry.avatars.models import Avatar, AvatarDriver
from registry.enforcement import services as enforcement
from registry.enforcement.models import BlacklistEntry
from registry.enforcement.screening import Scope
from registry.enforcement.services import ApplyInput, DocumentKey, EntryInput, KeysInput
from registry.enforcement.status import Action
from registry.ids import new_id
from registry.performers import services as performers
from registry.performers.models import Performer
from registry.performers.services import RegisterInput
from registry.problems import DomainError, ProblemCode
from registry.validators.documents import DocumentType, convert_legacy_resident_id
from tests.factories import document, image_bytes, platform_actor, resident_id, years_ago


def actor(platform_id: str) -> Actor:
    return platform_actor(platform_id)


def legacy_pair(birth: date | None = None) -> tuple[str, str]:
    """A first-generation 15-digit resident number and its 18-digit form."""
    full = resident_id(birth or date(1975, 3, 9))
    number15 = full[:6] + full[8:17]
    return number15, convert_legacy_resident_id(number15)


def doc_key(number: str, **extra: object) -> DocumentKey:
    return DocumentKey(type=DocumentType.RESIDENT_ID_CARD, number=number, **extra)  # type: ignore[arg-type]


async def register(
    platform_id: str,
    number: str | None = None,
    *,
    name: str = "张三",
    phone: str = "13800138000",
    device_id: str | None = None,
    role: str = "MARKETER",
    birth: date | None = None,
) -> performers.Outcome:
    data = RegisterInput(
        role=role,
        document=document(birth or years_ago(30), name=name, number=number),
        phone=phone,
        device_id=device_id,
    )
    try:
        return await performers.register_performer(actor(platform_id), data)
    except DomainError as exc:  # a ban committed during the registration (store_subject_keys)
        return performers.Outcome(None, exc.problems)


def codes(outcome: performers.Outcome) -> list[ProblemCode]:
    return [p.code for p in outcome.problems]


async def add_entry(
    platform_id: str,
    scope: Scope = Scope.PLATFORM,
    *,
    avatar_id: str | None = None,
    until: datetime | None = None,
    **keys: Any,
) -> BlacklistEntry:
    data = EntryInput(
        keys=KeysInput(**keys), reason="court ruling 2026-17", scope=scope, avatar_id=avatar_id, until=until
    )
    return await enforcement.add_blacklist_entry(actor(platform_id), data)


async def apply(platform_id: str, subject_id: str, action: Action, **extra: Any) -> enforcement.Applied:
    data = ApplyInput(subject_id=subject_id, action=action, reason="staff note: repeated false claims", **extra)
    return await enforcement.apply_enforcement(actor(platform_id), data)


async def make_avatar(
    platform_id: str, operator: Performer, *, seed: int = 7, driver: Performer | None = None
) -> Avatar:
    image = normalize_image(image_bytes(seed), "image/png")
    band0, band1, band2, band3 = phashes.bands(image.phash)
    avatar = await Avatar.create(
        id=new_id("ava"), platform_id=platform_id, name="小美", kind="ORIGINAL", label="虚拟形象", status="ACTIVE",
        operator_id=operator.id, identity=f"person:{operator.person_id}", image_sha256=image.sha256,
        content_type=image.content_type, width=image.width, height=image.height,
        phash=phashes.to_signed64(image.phash), band0=band0, band1=band1, band2=band2, band3=band3,
    )  # fmt: skip
    if driver is not None:
        await AvatarDriver.create(avatar_id=avatar.id, performer_id=driver.id)
    return avatar
