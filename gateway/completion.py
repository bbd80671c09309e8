"""Object values of prepared operations completed by programs compiled once per selection.

graphql-core completes every field of an object through the same general path: the field's definition
looked up by name, a resolve info built, the resolver called with it, the result run through
`complete_value`'s chain of type tests. For the payload of liveEligibility (three plain fields) that was
about as much CPU as the rest of the request served from the eligibility cache (scripts/bench.py
eligibility). Most payloads are plain Strawberry fields (no resolver, no extension: an attribute read),
so a selection of such fields is compiled once, per operation of a prepared document, into a function
that reads the attributes and coerces the leaves directly.

Exactly or not at all: a selection is compiled only when it holds nothing but plain fields (and
`__typename`), without aliases repeated, fragments, directives or arguments, of object, list, scalar and
enum types; anything else is left to graphql-core. A compiled program meets only values graphql-core
would complete without an error; at the first value it would not (a null for a non-null field, a value a
scalar refuses, an awaitable, an exception, an iterable other than a list or tuple, an object of another
type) it stops, and graphql-core completes the object again from the start and words the error itself.
Plain fields only read attributes, so reading them again changes nothing.

An operation of one root field without directives (a liveEligibility check, a mutation as integrators send
them) is also run without graphql-core's collection and dispatch of root fields: the field is collected
once, when the operation is prepared, and executed as `execute_field` executes it, errors handled by
graphql-core's own `handle_field_error`.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLSchema,
    OperationDefinitionNode,
    SelectionSetNode,
    get_argument_values,
    is_leaf_type,
)
from graphql.execution import ExecutionResult, Executor
from graphql.execution.collect_fields import FieldDetails, FieldDetailsList
from graphql.pyutils import Path, Undefined
from strawberry.execution import optimized_is_awaitable
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

Program = Callable[[Any], dict[str, Any]]
Complete = Callable[[Any], Any]


class _Stop(Exception):
    """A value graphql-core would not complete without an error: it completes the object instead."""


@dataclass(frozen=True, slots=True)
class RootField:
    """An operation's only root field, as graphql-core's `collect_fields` collects it (whatever the variables)."""

    parent_type: GraphQLObjectType
    key: str
    field: GraphQLField
    node: FieldNode
    details: FieldDetailsList
    path: Path


def root_field(schema: GraphQLSchema, operation: OperationDefinitionNode) -> RootField | None:
    """The operation's one root field, or None when collecting its root fields takes graphql-core."""
    parent_type = schema.get_root_type(operation.operation)
    selections = operation.selection_set.selections
    if parent_type is None or operation.directives or len(selections) != 1:
        return None  # (operation directives: @experimental_disableErrorPropagation, read by the executor)
    node = selections[0]
    if not isinstance(node, FieldNode) or node.directives:
        return None  # a fragment, or @skip / @include: collected with the variables
    field = schema.get_field(parent_type, node.name.value)
    if field is None:
        return None
    key = (node.alias or node.name).value
    return RootField(parent_type, key, field, node, [FieldDetails(node, None)], Path(None, key, parent_type.name))


class Completions:
    """The programs of one prepared operation, by selection (the field node that holds it), and its root field
    when it has only one."""

    __slots__ = ("_programs", "root")

    def __init__(self, root: RootField | None = None) -> None:
        # Keyed by node identity: the nodes live as long as the prepared document that holds this.
        self._programs: dict[tuple[str, int], Program | None] = {}
        self.root = root

    def program(self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList) -> Program | None:
        if len(field_details_list) != 1 or field_details_list[0].fragment_variable_values is not None:
            return None  # merged fields, or fragment variables: graphql-core's to complete
        node = field_details_list[0].node
        key = (object_type.name, id(node))
        try:
            return self._programs[key]
        except KeyError:
            program = self._programs[key] = compile_object(object_type, node.selection_set)
            return program


def completing(executor_class: type[Executor]) -> type[Executor]:
    """`executor_class` completing objects with the programs of the `completions` it is given."""

    class CompletingExecutor(executor_class):  # type: ignore[misc,valid-type]
        completions: Completions

        def complete_object_value(
            self,
            return_type: GraphQLObjectType,
            field_details_list: FieldDetailsList,
            info: GraphQLResolveInfo,
            path: Path,
            result: Any,
            position_context: Any,
        ) -> Any:
            program = self.completions.program(return_type, field_details_list)
            if program is not None:
                try:
                    return program(result)
                except Exception:  # noqa: S110 (graphql-core completes it again and reports what went wrong)
                    pass
            return super().complete_object_value(return_type, field_details_list, info, path, result, position_context)

        def execute_operation(self, serially: bool | None = None) -> Any:
            root = self.completions.root
            if root is None or self.abort_signal is not None or self.middleware_manager is not None:
                return super().execute_operation(serially)
            # As `execute_operation` runs its collected root fields, for one field.
            try:
                data = self.execute_root_field(root)
            except GraphQLError as error:  # a non-null field's error nulls the whole data
                self.collected_errors.add(error, None)
                return self.build_response(None)
            if self.is_awaitable(data):
                return self.await_root_field(data)
            return self.build_response(data)

        async def await_root_field(self, data: Any) -> ExecutionResult:
            try:
                completed = await data
            except GraphQLError as error:
                self.collected_errors.add(error, None)
                return self.build_response(None)
            except Exception:
                await self.cancel_incremental_work()
                self.run_async_work_finished_hook()
                raise
            return self.build_response(completed)

        def execute_root_field(self, root: RootField) -> Any:
            # As `execute_fields` and `execute_field` run a field (its objects are completed by the programs).
            field, details, path = root.field, root.details, root.path
            info = self.build_resolve_info(field, [root.node], root.parent_type, path)
            try:
                args = (
                    get_argument_values(field, root.node, self.variable_values, None, self.hide_suggestions)
                    if field.args or root.node.arguments
                    else {}
                )
                result = (field.resolve or self.field_resolver)(self.root_value, info, **args)
                if self.is_awaitable(result):
                    completed = self.complete_awaitable_value(field.type, details, info, path, result, None)
                else:
                    completed = self.complete_value(field.type, details, info, path, result, None)
                    if self.is_awaitable(completed):
                        completed = self.await_completed(completed, root)
            except Exception as raw_error:
                self.handle_field_error(raw_error, field.type, details, path)
                completed = None
            if self.is_awaitable(completed):
                return _keyed(root.key, completed)
            return {root.key: completed}

        async def await_completed(self, completed: Any, root: RootField) -> Any:
            try:
                return await completed
            except Exception as raw_error:
                self.handle_field_error(raw_error, root.field.type, root.details, root.path)
                return None

    CompletingExecutor.__name__ = CompletingExecutor.__qualname__ = f"Completing{executor_class.__name__}"
    return CompletingExecutor


async def _keyed(key: str, completed: Any) -> dict[str, Any]:
    return {key: await completed}


def compile_object(object_type: GraphQLObjectType, selection_set: SelectionSetNode | None) -> Program | None:
    """The program completing `selection_set` on a value of `object_type`, or None when it cannot be exact."""
    if selection_set is None or not _type_check_ignores_info(object_type):
        return None
    steps: list[tuple[str, Callable[[Any], Any], Complete]] = []
    for selection in selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.directives or selection.arguments:
            return None
        key = (selection.alias or selection.name).value
        if any(key == step[0] for step in steps):
            return None  # the same key twice: graphql-core merges the fields
        step = _step(object_type, selection, key)
        if step is None:
            return None
        steps.append(step)
    is_type_of = object_type.is_type_of

    def program(source: Any) -> dict[str, Any]:
        if is_type_of is not None and is_type_of(source, None) is not True:
            raise _Stop
        return {key: complete(read(source)) for key, read, complete in steps}

    return program


def _step(
    object_type: GraphQLObjectType, node: FieldNode, key: str
) -> tuple[str, Callable[[Any], Any], Complete] | None:
    name = node.name.value
    if name == "__typename":
        type_name = object_type.name
        return key, lambda _source: type_name, _same
    field = object_type.fields.get(name)
    definition = None if field is None else field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if (
        field is None
        or not getattr(field.resolve, "_is_default", False)  # Strawberry's resolver of a plain field
        or not isinstance(definition, StrawberryField)
        or type(definition).get_result is not StrawberryField.get_result  # a subclass may read otherwise
        or not definition.is_basic_field
    ):
        return None
    complete = _completer(field.type, node)
    if complete is None:
        return None
    return key, _reader(definition), complete


def _reader(definition: StrawberryField) -> Callable[[Any], Any]:
    """What Strawberry's resolver of a plain field returns: `default_resolver(source, python_name)`."""
    resolver, name = definition.default_resolver, definition.python_name
    if resolver is builtins.getattr:
        return attrgetter(name)
    return lambda source: resolver(source, name)


def _completer(return_type: GraphQLOutputType, node: FieldNode) -> Complete | None:
    """`complete_value` for the values it completes without an error; anything else raises _Stop."""
    if isinstance(return_type, GraphQLNonNull):
        inner = _completer(return_type.of_type, node)
        if inner is None:
            return None

        def non_null(value: Any) -> Any:
            completed = inner(value)
            if completed is None:
                raise _Stop
            return completed

        return non_null
    if isinstance(return_type, GraphQLList):
        item = _completer(return_type.of_type, node)
        if item is None:
            return None

        def list_(value: Any) -> Any:
            if _absent(value):
                return None
            if type(value) is not list and type(value) is not tuple:
                raise _Stop
            return [item(v) for v in value]

        return list_
    if is_leaf_type(return_type):
        coerce = return_type.coerce_output_value  # type: ignore[union-attr]

        def leaf(value: Any) -> Any:
            if _absent(value):
                return None
            coerced = coerce(value)
            if coerced is None or coerced is Undefined:
                raise _Stop
            return coerced

        return leaf
    if isinstance(return_type, GraphQLObjectType):
        program = compile_object(return_type, node.selection_set)
        if program is None:
            return None

        def object_(value: Any) -> Any:
            return None if _absent(value) else program(value)

        return object_
    return None  # an interface or a union: graphql-core resolves the runtime type


def _absent(value: Any) -> bool:
    """Null, or a value graphql-core does not complete as it is (an exception, an awaitable)."""
    if value is None or value is Undefined:
        return True
    if isinstance(value, Exception) or optimized_is_awaitable(value):
        raise _Stop
    return False


def _same(value: Any) -> Any:
    return value


def _type_check_ignores_info(object_type: GraphQLObjectType) -> bool:
    """No type check, or Strawberry's own, which does not read the resolve info (it is given None)."""
    check = object_type.is_type_of
    return check is None or (
        check.__module__ == GraphQLCoreConverter.__module__ and check.__qualname__.endswith(_STRAWBERRYS_CHECK)
    )


_STRAWBERRYS_CHECK = "._get_is_type_of.<locals>.is_type_of"  # GraphQLCoreConverter.from_object's, for interfaces
