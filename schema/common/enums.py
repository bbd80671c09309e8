"""Base class for the schema's enums.

The schema is built with `sort_schema=True`, and graphql-core's lexicographic sort copies enum types
without Strawberry's serializer, so plain `Enum` members no longer serialize (defaults in the SDL, and
resolver results). Members that are also `str` are found by value, which keeps both working and lets
registry `StrEnum` values be returned directly.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from strawberry.types.enum import EnumValueDefinition


class GraphQLEnum(StrEnum):
    def __new__(cls, value: Any) -> GraphQLEnum:
        raw = value.value if isinstance(value, EnumValueDefinition) else value
        member = str.__new__(cls, raw)
        # Strawberry reads the description from the definition, then stores the plain value.
        member._value_ = value
        return member


# Note: enum inputs may reach resolvers as plain strings (the sorted schema used for the SDL export copies
# enum types without Strawberry's conversion). Members are `str`, so compare and convert with `str(value)`
# or `SomeEnum(value)`; never rely on `.value` of an input.
