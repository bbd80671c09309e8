"""`node(id:)`: every id resolves through the registry of its prefix, scoped like the typed query.

Each domain registers its prefixes with the scopes that read that type; another platform's object
and an unknown prefix are both simply null.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from strawberry.types import Info

from registry.ids import prefix_of
from schema.common.errors import forbidden
from schema.context import Context
from schema.permissions import allowed

Loader = Callable[[Info[Context, Any], str], Awaitable[object | None]]


@dataclass(frozen=True, slots=True)
class NodeKind:
    type_name: str
    scopes: frozenset[str]
    client: bool
    load: Loader


NODE_KINDS: dict[str, NodeKind] = {}


def register_node(prefix: str, type_name: str, *scopes: str, client: bool = False) -> Callable[[Loader], Loader]:
    def decorate(load: Loader) -> Loader:
        NODE_KINDS[prefix] = NodeKind(type_name, frozenset(scopes), client, load)
        return load

    return decorate


async def resolve_node(info: Info[Context, Any], node_id: str) -> object | None:
    kind = NODE_KINDS.get(prefix_of(node_id))
    if kind is None:
        return None
    if not allowed(info.context.principal, kind.scopes, client=kind.client):
        wanted = " or ".join(sorted(kind.scopes))
        raise forbidden(f"Reading a {kind.type_name} needs the scope {wanted}.")
    return await kind.load(info, node_id)
