"""Compiled coercion of a prepared operation's variables: graphql-core's own result, sooner, or none at all.

graphql-core coerces variables generically: it first walks every value to measure its nesting
(`input_is_nested_too_deeply`), then asks of every value whether its type is non-null, a list, an input
object or a leaf. For a prepared operation the types are known in advance, so each variable gets closures
built once from the schema's input types. They answer only for input graphql-core would accept, with
the very same values (the scalars' and enums' own coercion functions, the same defaults, `out_name` and
`out_type`). On anything else (a value of another Python type, an unknown or missing field, a null where
none is allowed, a scalar refusing its value, any exception) they raise, and the caller lets graphql-core
coerce the request itself, so every error keeps graphql-core's wording and every oddity its semantics.

Mirrors graphql-core 3.3.2: `coerce_variable_values` (graphql/execution/values.py) and
`coerce_input_value` (graphql/utilities/coerce_input_value.py).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLError,
    GraphQLFloat,
    GraphQLID,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    Undefined,
    VariableDefinitionNode,
    is_required_input_field,
)
from graphql.execution.get_variable_signature import GraphQLVariableSignature, get_variable_signature
from graphql.execution.values import VariableValues, VariableValueSource, maybe_use_default_value
from graphql.language.parser import MAX_NESTING_DEPTH
from graphql.pyutils import is_iterable
from graphql.utilities.coerce_input_value import coerce_default_value
from strawberry.schema.schema_converter import CustomGraphQLEnumType

# Coerces a value known to be neither None nor Undefined; raises when unsure.
Coerce = Callable[[Any], Any]
CoerceVariables = Callable[[Mapping[str, Any]], VariableValues]

# graphql-core's own scalars never answer Undefined, so their results need no check.
_PLAIN_SCALARS = frozenset(
    t.coerce_input_value for t in (GraphQLString, GraphQLID, GraphQLInt, GraphQLFloat, GraphQLBoolean)
)
_REQUIRED = object()  # a missing field refuses the object
_BROKEN = object()  # a missing field takes a default that does not coerce: graphql-core raises


class GiveUp(Exception):
    """The compiled coercer is not sure: graphql-core must coerce this request."""


def compile_variables(schema: GraphQLSchema, definitions: Collection[VariableDefinitionNode]) -> CoerceVariables | None:
    """The coercer of an operation's variables, or None when graphql-core must always coerce them.

    None for a type that nests without bound (a recursive input type) or deeper than graphql-core's
    MAX_NESTING_DEPTH: only then can its pre-walk refuse a value this coercer would take.
    """
    compiler = _Compiler()
    entries: list[tuple[GraphQLVariableSignature, VariableDefinitionNode, Coerce, bool]] = []
    for node in definitions:
        signature = get_variable_signature(schema, node)
        if isinstance(signature, GraphQLError) or compiler.depth(signature.type) > MAX_NESTING_DEPTH:
            return None
        nullable = not isinstance(signature.type, GraphQLNonNull)
        inner = signature.type if nullable else signature.type.of_type  # type: ignore[union-attr]
        entries.append((signature, node, compiler.coercer(inner), nullable))

    def coerce_variables(inputs: Mapping[str, Any]) -> VariableValues:
        sources: dict[str, VariableValueSource] = {}
        coerced: dict[str, Any] = {}
        for signature, node, coerce, nullable in entries:
            name = signature.name
            if node.default_value:
                # A fresh signature, as graphql-core makes one per request: it memoizes the coerced default.
                signature = _signature(schema, node)
            value = inputs.get(name, Undefined)
            if value is Undefined:
                sources[name] = VariableValueSource(signature)
                if node.default_value:
                    maybe_use_default_value(coerced, name, signature, _give_up)
                    continue
                if nullable:
                    continue  # omitted, as graphql-core omits it
                raise GiveUp
            sources[name] = VariableValueSource(signature, value)
            if value is None:
                if not nullable:
                    raise GiveUp
                coerced[name] = None
            else:
                coerced[name] = coerce(value)
        return VariableValues(sources, coerced)

    return coerce_variables


def _signature(schema: GraphQLSchema, node: VariableDefinitionNode) -> GraphQLVariableSignature:
    signature = get_variable_signature(schema, node)
    if isinstance(signature, GraphQLError):
        raise GiveUp  # it did not fail when compiled: cannot happen
    return signature


def _give_up(error: GraphQLError, path: list[str | int]) -> None:
    raise GiveUp


class _Compiler:
    """Builds the coercers of the input types met, once per type and operation."""

    def __init__(self) -> None:
        self._objects: dict[str, Coerce] = {}
        self._depths: dict[str, float] = {}

    def depth(self, type_: GraphQLInputType) -> float:
        """How many list and object levels graphql-core's pre-walk can descend; infinite when recursive."""
        if isinstance(type_, GraphQLNonNull):
            return self.depth(type_.of_type)
        if isinstance(type_, GraphQLList):
            return 1 + self.depth(type_.of_type)
        if isinstance(type_, GraphQLInputObjectType):
            known = self._depths.get(type_.name)
            if known is None:
                self._depths[type_.name] = float("inf")  # met again while measuring: recursive
                known = 1 + max((self.depth(f.type) for f in type_.fields.values()), default=0)
                self._depths[type_.name] = known
            return known
        return 0

    def coercer(self, type_: GraphQLInputType) -> Coerce:
        """The coercer of a nullable type's present (neither None nor Undefined) values."""
        if isinstance(type_, GraphQLList):
            return self._list(type_.of_type)
        if isinstance(type_, GraphQLInputObjectType):
            found = self._objects.get(type_.name)
            if found is None:
                found = self._objects[type_.name] = self._object(type_)
            return found
        if isinstance(type_, GraphQLEnumType):
            return _enum(type_)
        if isinstance(type_, GraphQLScalarType):
            return _scalar(type_)
        raise TypeError(f"not an input type: {type_}")  # validation refused it already

    def _item(self, type_: GraphQLInputType) -> tuple[Coerce, bool]:
        if isinstance(type_, GraphQLNonNull):
            return self.coercer(type_.of_type), False  # type: ignore[arg-type]
        return self.coercer(type_), True

    def _list(self, item_type: GraphQLInputType) -> Coerce:
        coerce, nullable = self._item(item_type)

        def coerce_list(value: Any) -> list[Any]:
            if type(value) is list:
                result = []
                append = result.append
                for item in value:
                    if item is None or item is Undefined:
                        if not nullable:
                            raise GiveUp
                        append(None)
                    else:
                        append(coerce(item))
                return result
            if is_iterable(value):
                raise GiveUp  # a tuple, a generator...: graphql-core iterates it
            return [coerce(value)]  # a non-list value is a list of one

        return coerce_list

    def _object(self, type_: GraphQLInputObjectType) -> Coerce:
        table: list[tuple[str, str, Coerce, bool, Any]] = []
        for name, field in type_.fields.items():
            coerce, nullable = self._item(field.type)
            table.append((name, field.out_name or name, coerce, nullable, _default(field)))
        names = frozenset(type_.fields)
        one_of = type_.is_one_of
        # The default out_type returns its argument: no call.
        out_type = None if type_.out_type is GraphQLInputObjectType.out_type else type_.out_type

        def coerce_object(value: Any) -> Any:
            if type(value) is not dict or not names.issuperset(value):
                raise GiveUp  # not a dict, or an unknown field
            result: dict[str, Any] = {}
            for name, out_name, coerce, nullable, default in table:
                item = value.get(name, Undefined)
                if item is Undefined:
                    if default is _REQUIRED or default is _BROKEN:
                        raise GiveUp
                    if default is not Undefined:
                        result[out_name] = default
                elif item is None:
                    if not nullable:
                        raise GiveUp
                    result[out_name] = None
                else:
                    result[out_name] = coerce(item)
            if one_of and (
                len(result) != 1
                or sum(v is not Undefined for v in value.values()) != 1
                or next(iter(result.values())) is None
            ):
                raise GiveUp
            if out_type is None:
                return result
            return _defined(out_type(result))

        return coerce_object


def _default(field: Any) -> Any:
    """What a missing field coerces to, as graphql-core would answer it (the same, memoized object)."""
    if is_required_input_field(field):
        return _REQUIRED
    try:
        return coerce_default_value(field)
    except Exception:  # an invalid default: graphql-core raises it on every use, let it
        return _BROKEN


def _enum(type_: GraphQLEnumType) -> Coerce:
    table = _enum_table(type_)
    if table is None:
        return _refusing_undefined(type_.coerce_input_value)

    def coerce_enum(value: Any) -> Any:
        if type(value) is not str:
            raise GiveUp
        return table[value]  # KeyError: an unknown name, graphql-core words it

    return coerce_enum


def _enum_table(type_: GraphQLEnumType) -> dict[str, Any] | None:
    """Name -> the type's own coercion of it, for the enum classes whose answer depends on the name only.

    graphql-core's answers `values[name].value`, Strawberry's the Python enum member of that value (a
    singleton): the same object for the same name, so it can be looked up instead of computed.
    """
    if type(type_) not in (GraphQLEnumType, CustomGraphQLEnumType):
        return None
    try:
        table = {name: type_.coerce_input_value(name) for name in type_.values}
    except Exception:  # then coerce per value, as graphql-core does
        return None
    return None if any(v is Undefined for v in table.values()) else table


def _scalar(type_: GraphQLScalarType) -> Coerce:
    parse = type_.coerce_input_value
    return parse if parse in _PLAIN_SCALARS else _refusing_undefined(parse)


def _refusing_undefined(parse: Coerce) -> Coerce:
    """A type's own coercion, refusing where it answers Undefined."""

    def coerce(value: Any) -> Any:
        return _defined(parse(value))

    return coerce


def _defined(value: Any) -> Any:
    if value is Undefined:
        raise GiveUp  # graphql-core treats Undefined as a refusal
    return value
