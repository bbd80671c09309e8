"""The scope catalogue of contract/HTTP.md."""

from __future__ import annotations

PLATFORM_SCOPES: tuple[str, ...] = (
    "performers:read",
    "performers:write",
    "eligibility:read",
    "suppliers:read",
    "suppliers:write",
    "avatars:read",
    "avatars:write",
    "enforcement:write",
    "blacklist:read",
    "blacklist:write",
    "blacklist:joint",
    "reviews:write",
    "audit:read",
    "onboarding:write",
)
ONBOARDING_CLIENT_SCOPE = "onboarding:client"
# Joint punishment reaches every tenant, so it is never part of a default grant.
EXPLICIT_ONLY = frozenset({"blacklist:joint"})
DEFAULT_SCOPES: tuple[str, ...] = tuple(s for s in PLATFORM_SCOPES if s not in EXPLICIT_ONLY)


def parse_scopes(text: str) -> tuple[list[str], list[str]]:
    """Split an OAuth scope string; returns (known scopes in catalogue order, unknown ones)."""
    asked = set(text.split())
    unknown = sorted(asked.difference(PLATFORM_SCOPES))
    return [s for s in PLATFORM_SCOPES if s in asked], unknown
