"""Translation helpers between registry results and GraphQL values."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import strawberry
from strawberry.types import Info

from registry.actors import Actor
from registry.pagination import Page, encode_cursor
from registry.problems import DomainError, for_onboarding_client
from registry.problems import Problem as RegistryProblem
from schema.common.errors import forbidden, limit_exceeded
from schema.common.types import PageInfo, Problem, ProblemCode
from schema.context import Context

T = TypeVar("T")
N = TypeVar("N")
E = TypeVar("E")
C = TypeVar("C")
Unset = type(strawberry.UNSET)


def opt(value: T | Unset | None) -> T | None:  # type: ignore[valid-type]
    """An optional GraphQL input as a plain Optional (UNSET means "not given")."""
    return None if value is strawberry.UNSET else value  # type: ignore[return-value]


def context(info: Info[Context, Any]) -> Context:
    return info.context


def actor(info: Info[Context, Any]) -> Actor:
    principal = info.context.principal
    if principal is None:
        raise forbidden("Send a bearer token.")
    return principal.actor


def is_client(info: Info[Context, Any]) -> bool:
    principal = info.context.principal
    return principal is not None and principal.is_onboarding_client


def problems_out(info: Info[Context, Any], problems: Iterable[RegistryProblem]) -> list[Problem]:
    """Registry problems as GraphQL problems; onboarding clients never learn BLACKLISTED or ALREADY_REGISTERED."""
    shown = for_onboarding_client(problems) if is_client(info) else list(problems)
    return [
        Problem(code=ProblemCode(p.code.value), message=p.message, field=list(p.field) if p.field else None)
        for p in shown
    ]


async def attempt(info: Info[Context, Any], work: Callable[[], Awaitable[T]]) -> tuple[T | None, list[Problem]]:
    """Run a registry call; a DomainError becomes the payload's problems."""
    try:
        return await work(), []
    except DomainError as exc:
        return None, problems_out(info, exc.problems)


def page_size(info: Info[Context, Any], first: int | None) -> int:
    limit = info.context.page_limit
    if first is None or first < 1 or first > limit:
        raise limit_exceeded(f"`first` must be between 1 and {limit}.")
    return first


def client_forbidden(info: Info[Context, Any]) -> None:
    """Edges an onboarding client token may not follow (anything but its own records)."""
    if is_client(info):
        raise forbidden("An onboarding client token cannot read this field.")


def connection(found: Page[Any], node: Callable[[Any], N], edge: Callable[..., E], conn: Callable[..., C]) -> C:
    """A Relay-style connection from a registry keyset page."""
    edges = [edge(node=node(row), cursor=encode_cursor(row.created_at, row.id)) for row in found.rows]
    end = encode_cursor(found.rows[-1].created_at, found.rows[-1].id) if found.rows else None
    return conn(edges=edges, page_info=PageInfo(has_next_page=found.has_next, end_cursor=end))
