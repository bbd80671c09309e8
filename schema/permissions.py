"""Scope checks declared on each operation (permission classes, never ad-hoc checks in resolvers)."""

from __future__ import annotations

from functools import cache
from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from schema.context import Context, Principal

FORBIDDEN = {"code": "FORBIDDEN"}


class ScopePermission(BasePermission):
    scopes: frozenset[str] = frozenset()
    client: bool = False  # an onboarding client token may call it (object checks happen in the registry)
    message = "Forbidden."
    error_extensions = FORBIDDEN

    def has_permission(self, source: Any, info: Info[Context, Any], **kwargs: Any) -> bool:
        return allowed(info.context.principal, self.scopes, client=self.client)


def allowed(principal: Principal | None, scopes: frozenset[str], *, client: bool = False) -> bool:
    if principal is None:
        return False
    if principal.is_onboarding_client:
        return client
    return not scopes or bool(scopes & principal.scopes)


@cache
def needs(*scopes: str, client: bool = False) -> type[BasePermission]:
    """A permission class for "any of these scopes" (plus, optionally, an onboarding client token)."""
    wanted = " or ".join(scopes) if scopes else "a platform token"
    suffix = " or an onboarding client token" if client else ""
    attrs = {
        "scopes": frozenset(scopes),
        "client": client,
        "message": f"This field needs a bearer token with {wanted}{suffix}.",
    }
    return type(f"Needs_{'_'.join(s.replace(':', '_') for s in scopes) or 'platform'}", (ScopePermission,), attrs)


def client_only() -> type[BasePermission]:
    return _ClientOnly


class _ClientOnly(BasePermission):
    message = "This field needs an onboarding client token."
    error_extensions = FORBIDDEN

    def has_permission(self, source: Any, info: Info[Context, Any], **kwargs: Any) -> bool:
        principal = info.context.principal
        return principal is not None and principal.is_onboarding_client
