"""Composes the per-domain query and mutation classes into the served schema."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from schema import lean
from schema.agencies.mutations import AgenciesMutations
from schema.agencies.queries import AgenciesQueries
from schema.audit.queries import AuditQueries
from schema.avatars.mutations import AvatarsMutations
from schema.avatars.queries import AvatarsQueries
from schema.common.queries import CommonQueries
from schema.common.scalars import AwareDateTime
from schema.enforcement.mutations import EnforcementMutations
from schema.enforcement.queries import EnforcementQueries
from schema.onboarding.mutations import OnboardingMutations
from schema.onboarding.queries import OnboardingQueries
from schema.performers.mutations import PerformersMutations
from schema.performers.queries import PerformersQueries
from schema.suppliers.mutations import SuppliersMutations
from schema.suppliers.queries import SuppliersQueries

Query = merge_types(
    "Query",
    (
        CommonQueries,
        PerformersQueries,
        AgenciesQueries,
        OnboardingQueries,
        SuppliersQueries,
        AvatarsQueries,
        EnforcementQueries,
        AuditQueries,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        OnboardingMutations,
        PerformersMutations,
        AgenciesMutations,
        SuppliersMutations,
        AvatarsMutations,
        EnforcementMutations,
    ),
)

ExtensionFactory = type[SchemaExtension] | Callable[[], SchemaExtension]


class Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        # The gateway logs what it masks, with the request id; expected errors are not log noise.
        return None


def build_schema(
    extensions: Sequence[ExtensionFactory] = (), *, sort_schema: bool = False, **kwargs: Any
) -> strawberry.Schema:
    # The served schema is not sorted: Strawberry 0.341's lexicographic sort rebuilds the types, and its
    # union resolvers then reject their own members (UnallowedReturnTypeForUnion). The exported SDL is
    # sorted, so it stays stable and diffable.
    config = StrawberryConfig(
        sort_schema=sort_schema, disable_field_suggestions=True, scalar_map={datetime: AwareDateTime}
    )
    schema = Schema(query=Query, mutation=Mutation, extensions=list(extensions), config=config, **kwargs)
    lean.install(schema)
    return schema


def export_sdl() -> str:
    return build_schema(sort_schema=True).as_str() + "\n"
