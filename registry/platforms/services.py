"""Platforms (tenants) and their OAuth clients."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import anyio
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from registry import audit
from registry.actors import Actor
from registry.audit.services import Change
from registry.db import unique_violation
from registry.ids import new_id
from registry.platforms.models import Platform
from registry.platforms.scopes import DEFAULT_SCOPES, parse_scopes
from registry.platforms.secrets import hash_secret, new_secret, verify_secret
from registry.problems import DomainError, ProblemCode, problem
from registry.validators.text import clean_text

MINIMUM_AGES = range(16, 19)
# A well-formed hash of a random secret, so unknown client ids cost as much as wrong secrets.
_DUMMY_HASH = hash_secret(new_secret())


@dataclass(frozen=True, slots=True)
class NewClient:
    platform: Platform
    client_secret: str  # shown once; only its hash is stored


def _scopes(text: str | None) -> str:
    if text is None:
        return " ".join(DEFAULT_SCOPES)
    known, unknown = parse_scopes(text)
    if unknown:
        raise DomainError(problem(ProblemCode.INVALID_INPUT, f"unknown scope {unknown[0]!r}", "scopes"))
    if not known:
        raise DomainError(problem(ProblemCode.INVALID_INPUT, "at least one scope is needed", "scopes"))
    return " ".join(known)


def _minimum_age(value: int) -> int:
    if value not in MINIMUM_AGES:
        raise DomainError(problem(ProblemCode.INVALID_INPUT, "the minimum age must be 16, 17 or 18", "minimumAge"))
    return value


def _origins(values: Sequence[str]) -> list[str]:
    cleaned = []
    for value in values:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path not in {"", "/"} or parts.query:
            raise DomainError(
                problem(ProblemCode.INVALID_INPUT, f"{value!r} is not an origin like https://shop.example", "origins")
            )
        cleaned.append(f"{parts.scheme}://{parts.netloc.lower()}")
    return sorted(set(cleaned))


async def create_platform(
    name: str, *, scopes: str | None = None, minimum_age: int = 16, allowed_origins: Sequence[str] = ()
) -> NewClient:
    clean_name, problems = clean_text(name, max_len=100)
    if clean_name is None:
        raise DomainError(p.at("name") for p in problems)
    secret = new_secret()
    secret_hash = await anyio.to_thread.run_sync(hash_secret, secret)
    platform = Platform(
        id=new_id("plt"),
        name=clean_name,
        client_id=new_id("lgc"),
        client_secret_hash=secret_hash,
        scopes=_scopes(scopes),
        minimum_age=_minimum_age(minimum_age),
        allowed_origins=_origins(allowed_origins),
    )
    try:
        async with in_transaction():
            await platform.save(force_create=True)
            await audit.services.create_chain(platform.id)
            await audit.services.record(
                Actor.cli(platform.id), Change("platform.created", platform.id, _public(platform))
            )
    except IntegrityError as exc:
        if unique_violation(exc) is None:
            raise
        raise DomainError(
            problem(ProblemCode.INVALID_INPUT, f"a platform named {clean_name!r} exists", "name")
        ) from None
    return NewClient(platform, secret)


async def update_platform(
    platform_id: str,
    *,
    scopes: str | None = None,
    minimum_age: int | None = None,
    allowed_origins: Sequence[str] | None = None,
) -> Platform:
    async with in_transaction():
        platform = await Platform.select_for_update().get_or_none(id=platform_id)
        if platform is None:
            raise DomainError(problem(ProblemCode.NOT_FOUND, f"no platform {platform_id}", "platformId"))
        if scopes is not None:
            platform.scopes = _scopes(scopes)
        if minimum_age is not None:
            platform.minimum_age = _minimum_age(minimum_age)
        if allowed_origins is not None:
            platform.allowed_origins = _origins(allowed_origins)
        await platform.save()
        await audit.services.record(Actor.cli(platform.id), Change("platform.updated", platform.id, _public(platform)))
    return platform


async def authenticate_client(client_id: str, client_secret: str) -> Platform | None:
    """The platform whose client this is, or None; takes the same slow path either way."""
    platform = await Platform.get_or_none(client_id=client_id) if len(client_id) <= 40 else None
    stored = platform.client_secret_hash if platform else _DUMMY_HASH
    ok = await anyio.to_thread.run_sync(verify_secret, client_secret[:256], stored)
    return platform if ok and platform else None


async def get_platform(platform_id: str) -> Platform | None:
    return await Platform.get_or_none(id=platform_id)


async def find_by_name(name: str) -> Platform | None:
    return await Platform.get_or_none(name=name)


def _public(platform: Platform) -> dict[str, object]:
    return {
        "name": platform.name,
        "scopes": platform.scopes,
        "minimumAge": platform.minimum_age,
        "allowedOrigins": list(platform.allowed_origins),
    }
