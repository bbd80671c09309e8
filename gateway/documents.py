"""Prepared documents: each query text parsed and validated once, then run by graphql-core directly.

Strawberry's `schema.execute` wraps every request in its extension hooks (operation, parsing,
validation, execution), and on a cached small query those hooks cost more than the execution itself
(notes/stack-bench.md: 130 µs against 29 µs for graphql-core with a cached document). A query text that
passed the schema's complete validation, with the same rules its extensions add (operation limits,
no introspection outside the explorer), is kept here and executed without the hooks; resolvers,
permission classes and field extensions run exactly as before. Anything else (a document that does
not parse or validate, a subscription, an ambiguous operation) goes to `schema.execute` every time, so
every error keeps the wording and codes it has there. The cache is a bounded LRU.

Variables are coerced by a coercer compiled once per operation (gateway/coercion.py) and the executor is
built with them, as graphql-core's `Executor.build` builds it; whenever that coercer is unsure, or on a
graphql-core other than the one it mirrors, graphql-core's `execute` runs exactly as before.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import graphql
import strawberry
from graphql import (
    ASTValidationRule,
    DocumentNode,
    ExecutionResult,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLResolveInfoHelpers,
    OperationDefinitionNode,
    OperationType,
    default_field_resolver,
    default_type_resolver,
    parse,
    specified_rules,
    validate,
)
from graphql import execute as graphql_execute
from graphql.execution import Executor
from graphql.execution.collect_fields import FragmentDetails
from graphql.execution.incremental import IncrementalExecutor
from graphql.execution.values import VariableValues
from strawberry.execution import optimized_is_awaitable
from strawberry.schema._graphql_core import execution_context_class_kwargs
from strawberry.utils.await_maybe import await_maybe

from gateway.coercion import CoerceVariables, compile_variables
from gateway.completion import Completions, completing, root_field

_SERVED = frozenset({OperationType.QUERY, OperationType.MUTATION})
# Parsing stops early on absurd documents; the limits rule measures the real ones.
_MAX_TOKENS = 20_000
# The executor is built here as graphql-core 3.3.2's Executor.build builds it (graphql/execution/executor.py);
# another version may build it otherwise, so it only runs graphql-core's own `execute`.
COMPILED_COERCION = graphql.version == "3.3.2"


@dataclass(frozen=True, slots=True)
class _Plan:
    """What `Executor.build` finds in the document for one operation, found once, and its variables' coercer."""

    operation: OperationDefinitionNode
    fragment_definitions: dict[str, FragmentDefinitionNode]
    fragments: dict[str, FragmentDetails]
    coerce: CoerceVariables
    completions: Completions = field(default_factory=Completions)  # its selections' compiled completions


@dataclass(frozen=True, slots=True)
class Prepared:
    document: DocumentNode
    operations: dict[str | None, OperationType]  # by name; None: the only operation of the document
    plans: dict[str | None, _Plan]  # keyed as operations; missing: graphql-core's `execute` runs it


class PreparedDocuments:
    def __init__(
        self, schema: strawberry.Schema, extra_rules: Sequence[type[ASTValidationRule]], maxsize: int = 1024
    ) -> None:
        self._schema = schema
        self._rules = (*specified_rules, *extra_rules)
        self._maxsize = maxsize
        self._entries: OrderedDict[str, Prepared | None] = OrderedDict()
        self._executor_kwargs = execution_context_class_kwargs(schema.execution_context_class)
        self._executor_class: type[Executor] = self._executor_kwargs.get("executor_class") or IncrementalExecutor
        self._completing_class = completing(self._executor_class)  # for the operations with a plan
        # graphql-core's `execute` refuses such a schema; the built executor would not.
        graphql_schema = schema._schema
        self._compiled = COMPILED_COERCION and not (
            graphql_schema.get_directive("defer") or graphql_schema.get_directive("stream")
        )

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
        nodes: dict[str | None, OperationDefinitionNode] = {o.name.value: o for o in operations if o.name}
        if len(operations) == 1:
            nodes[None] = operations[0]
        by_name = {name: node.operation for name, node in nodes.items()}
        return Prepared(document, by_name, self._plans(document, nodes) if self._compiled else {})

    def _plans(
        self, document: DocumentNode, nodes: dict[str | None, OperationDefinitionNode]
    ) -> dict[str | None, _Plan]:
        definitions = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        if any(d.variable_definitions for d in definitions.values()):
            return {}  # experimental fragment variables: Executor.build checks their signatures
        fragments = {name: FragmentDetails(d) for name, d in definitions.items()}
        plans: dict[str | None, _Plan] = {}
        for name, node in nodes.items():
            if node.operation in _SERVED:
                coerce = compile_variables(self._schema._schema, node.variable_definitions or ())
                if coerce is not None:
                    root = root_field(self._schema._schema, node)
                    plans[name] = _Plan(node, definitions, fragments, coerce, Completions(root))
        return plans

    async def execute(
        self, prepared: Prepared, *, variables: dict[str, Any] | None, operation_name: str | None, context: Any
    ) -> ExecutionResult | None:
        """The result, or None when the named operation is not one this path serves (use the slow path)."""
        if prepared.operations.get(operation_name) not in _SERVED:
            return None
        plan = prepared.plans.get(operation_name)
        values = None if plan is None else _coerced(plan, variables)
        if plan is None or values is None:
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
        else:
            # Executor.build's own construction, with the same arguments `execute` above passes it.
            executor = self._completing_class(
                self._schema._schema,
                plan.fragment_definitions,
                plan.fragments,
                None,
                context,
                plan.operation,
                values,
                default_field_resolver,
                default_type_resolver,
                default_field_resolver,
                False,
                None,
                optimized_is_awaitable,
                None,
                hide_suggestions=False,
                abort_signal=None,
                hooks=None,
                operation_extensions=None,
            )
            executor.completions = plan.completions
            try:
                result = await await_maybe(executor.execute_operation())
            finally:
                executor.async_helpers = _FINISHED
        assert isinstance(result, ExecutionResult)  # no @defer or @stream in this schema
        return result


def _finished(*_: object) -> Any:
    raise RuntimeError("this execution has finished")


# An executor holds its own bound methods (`async_helpers`), a reference cycle that kept every request's
# executor, context and HTTP request alive until the cycle collector ran: about 80 objects a request, and
# a collection every dozen requests. Resolve infos keep the helpers they were given.
_FINISHED = GraphQLResolveInfoHelpers(gather=_finished, track=_finished)


def _coerced(plan: _Plan, variables: dict[str, Any] | None) -> VariableValues | None:
    """The variables coerced by the compiled coercer; None when graphql-core must coerce (and word) them."""
    try:
        return plan.coerce(variables or {})
    except Exception:  # GiveUp, or whatever a scalar or out_type raised: graphql-core coerces them again
        return None
