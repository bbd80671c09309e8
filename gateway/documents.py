"""Prepared documents: each query text parsed and validated once, then run by graphql-core directly.

Strawberry's `schema.execute` wraps every request in its extension hooks (operation, parsing,
validation, execution), and on a cached small query those hooks cost more than the execution itself
(notes/stack-bench.md: 130 µs against 29 µs for graphql-core with a cached document). A query text that
passed the schema's complete validation, with the same rules its extensions add (operation limits,
no introspection outside the explorer), is kept here and executed without the hooks; resolvers,
permission classes and field extensions run exactly as before. Anything else (a document that does
not parse or validate, a subscription, an ambiguous operation) goes to `schema.execute` every time, so
every error keeps the wording and codes it has there. The cache is a bounded LRU.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import strawberry
from graphql import (
    ASTValidationRule,
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    parse,
    specified_rules,
    validate,
)
from graphql import execute as graphql_execute
from strawberry.execution import optimized_is_awaitable
from strawberry.schema._graphql_core import execution_context_class_kwargs
from strawberry.utils.await_maybe import await_maybe

_SERVED = frozenset({OperationType.QUERY, OperationType.MUTATION})
# Parsing stops early on absurd documents; the limits rule measures the real ones.
_MAX_TOKENS = 20_000


@dataclass(frozen=True, slots=True)
class Prepared:
    document: DocumentNode
    operations: dict[str | None, OperationType]  # by name; None: the only operation of the document


class PreparedDocuments:
    def __init__(
        self, schema: strawberry.Schema, extra_rules: Sequence[type[ASTValidationRule]], maxsize: int = 1024
    ) -> None:
        self._schema = schema
        self._rules = (*specified_rules, *extra_rules)
        self._maxsize = maxsize
        self._entries: OrderedDict[str, Prepared | None] = OrderedDict()
        self._executor_kwargs = execution_context_class_kwargs(schema.execution_context_class)

    def get(self, query: str) -> Prepared | None:
        """The prepared document of a query text, or None when only `schema.execute` may run it."""
        try:
            found = self._entries[query]
        except KeyError:
            found = self._prepare(query)
            self._entries[query] = found
            if len(self._entries) > self._maxsize:
                self._entries.popitem(last=False)
            return found
        self._entries.move_to_end(query)
        return found

    def operation_type(self, query: str, operation_name: str | None) -> OperationType | None:
        """The type of the operation a request runs, when its document is prepared; else None (unknown)."""
        prepared = self.get(query)
        return None if prepared is None else prepared.operations.get(operation_name)

    def _prepare(self, query: str) -> Prepared | None:
        try:
            document = parse(query, max_tokens=_MAX_TOKENS)
            if validate(self._schema._schema, document, self._rules):
                return None
        except (GraphQLError, RecursionError):  # the checked path words the refusal
            return None
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        by_name: dict[str | None, OperationType] = {o.name.value: o.operation for o in operations if o.name}
        if len(operations) == 1:
            by_name[None] = operations[0].operation
        return Prepared(document, by_name)

    async def execute(
        self, prepared: Prepared, *, variables: dict[str, Any] | None, operation_name: str | None, context: Any
    ) -> ExecutionResult | None:
        """The result, or None when the named operation is not one this path serves (use the slow path)."""
        if prepared.operations.get(operation_name) not in _SERVED:
            return None
        result = await await_maybe(
            graphql_execute(
                self._schema._schema,
                prepared.document,
                context_value=context,
                variable_values=variables,
                operation_name=operation_name,
                is_awaitable=optimized_is_awaitable,
                **self._executor_kwargs,
                operation_extensions=None,
            )
        )
        assert isinstance(result, ExecutionResult)  # no @defer or @stream in this schema
        return result
