"""Lean resolvers for the hottest fields: Strawberry's declaration, graphql-core's calling convention.

On every call Strawberry wraps a resolver in a new Info, converts its arguments by name (a camelCase
conversion per argument, per input field, resolving each field's annotation again) and chains its field
extensions through `functools.partial`. liveEligibility is asked before every live session and mostly
answered from a cache, and that chain cost more than the answer (scripts/bench.py eligibility); for
registerPerformer the conversion of its input alone was a tenth of the gateway's CPU (scripts/bench.py
eligibility register). A field declared with `metadata=LEAN` keeps its Strawberry declaration (type,
arguments, description, permission classes) and `install` gives graphql-core a resolver that converts
the arguments as Strawberry's `convert_argument` does, with the work on types done once, runs the same
permission checks and calls the same function.

It only takes fields it serves exactly as Strawberry would, and refuses the others when the schema is
built: arguments made of scalars, enums, lists and plain input types (no Maybe, GlobalID or custom
`from_input`), permission classes as the only extension, checks that raise (no `fail_silently`) and are
synchronous for a plain (def) resolver, and no field exception handlers.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import MISSING
from typing import Any, Final, NamedTuple

import strawberry
from graphql import GraphQLObjectType, GraphQLResolveInfo
from strawberry.exceptions import PermissionReturnedAwaitableInSyncContextError, PermissionReturnedNonBooleanError
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.relay.types import GlobalID
from strawberry.scalars import is_scalar
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types import Info
from strawberry.types.base import (
    StrawberryList,
    StrawberryMaybe,
    StrawberryOptional,
    StrawberryType,
    has_object_definition,
)
from strawberry.types.enum import StrawberryEnumDefinition, has_enum_definition
from strawberry.types.field import StrawberryField
from strawberry.types.lazy_type import LazyType
from strawberry.types.unset import UNSET
from strawberry.utils.await_maybe import await_maybe

LEAN: Final = {"livegate.lean": True}
Converter = Callable[[Any], Any]


class NotLean(TypeError):
    """A field marked lean that the lean resolver could not serve exactly as Strawberry does."""


def install(schema: strawberry.Schema) -> list[str]:
    """Give every field marked LEAN its lean resolver; the names of the fields, as Type.field."""
    installed = []
    for root in (schema._schema.query_type, schema._schema.mutation_type):
        if root is None:
            continue
        installed += [_install(schema, root, name) for name in _lean_fields(root)]
    return installed


def _lean_fields(root: GraphQLObjectType) -> list[str]:
    return [name for name, field in root.fields.items() if _definition(field.extensions).metadata.get("livegate.lean")]


def _definition(extensions: dict[str, Any]) -> StrawberryField:
    return extensions[GraphQLCoreConverter.DEFINITION_BACKREF]


def _install(schema: strawberry.Schema, root: GraphQLObjectType, name: str) -> str:
    field = root.fields[name]
    definition = _definition(field.extensions)
    where = f"{root.name}.{name}"
    if schema.schema_converter._get_field_exception_handlers(definition):
        raise NotLean(f"{where}: field exception handlers are not served by the lean path")
    field.resolve = _resolver(definition, _permissions(definition, where), _arguments(schema, definition, where), where)
    return where


def _permissions(definition: StrawberryField, where: str) -> list[BasePermission]:
    permissions: list[BasePermission] = []
    for extension in definition.extensions:
        if not isinstance(extension, PermissionExtension) or extension.fail_silently:
            raise NotLean(f"{where}: only permission classes that raise may extend a lean field")
        permissions += extension.permissions
    if definition.base_resolver is None:
        raise NotLean(f"{where}: a lean field needs a resolver")
    return permissions


def _arguments(schema: strawberry.Schema, definition: StrawberryField, where: str) -> dict[str, _Argument]:
    """GraphQL argument name -> its Python parameter name and converter (None: passed unconverted)."""
    converters: dict[type, Converter] = {}
    return {
        schema.config.name_converter.from_argument(argument): _Argument(
            argument.python_name, _converter(schema, argument.type, f"{where}({argument.python_name})", converters)
        )
        for argument in definition.arguments
    }


class _Argument(NamedTuple):
    python_name: str
    convert: Converter | None


def _converter(schema: strawberry.Schema, kind: Any, where: str, built: dict[type, Converter]) -> Converter | None:
    """Strawberry's `convert_argument` for values of `kind`, with the work on types done now; None where it
    returns the value unchanged (scalars and enums)."""
    if isinstance(kind, StrawberryMaybe) or kind is GlobalID:
        raise NotLean(f"{where}: Maybe and GlobalID arguments are not served by the lean path")
    if isinstance(kind, StrawberryOptional):
        return _converter(schema, kind.of_type, where, built)
    if isinstance(kind, LazyType):
        return _converter(schema, kind.resolve_type(), where, built)
    if _is_leaf(schema, kind):
        return None
    if isinstance(kind, StrawberryList):
        return _list_converter(_converter(schema, kind.of_type, where, built))
    if has_object_definition(kind) and kind.__strawberry_definition__.is_input:
        return built.get(kind) or _input_converter(schema, kind, where, built)
    raise NotLean(f"{where}: {kind!r} is not a scalar, enum, list or plain input type")


def _is_leaf(schema: strawberry.Schema, kind: Any) -> bool:
    if isinstance(kind, StrawberryEnumDefinition) or has_enum_definition(kind):
        return True
    return not isinstance(kind, StrawberryType) and is_scalar(kind, schema.schema_converter.scalar_registry)


def _list_converter(item: Converter | None) -> Converter:
    def convert(value: Any) -> Any:
        if value is None or value is UNSET:
            return value
        if item is None:  # the items stay; the list is copied (graphql-core shares defaults between requests)
            return list(value)
        return [item(x) for x in value]

    return convert


def _input_converter(schema: strawberry.Schema, kind: type, where: str, built: dict[type, Converter]) -> Converter:
    definition = kind.__strawberry_definition__  # type: ignore[attr-defined]
    if definition.from_input is not None:
        raise NotLean(f"{where}: {kind.__name__} builds its own value (from_input)")
    # Fields without a default start as None (Strawberry's implicit default); graphql-core has checked
    # that the required ones are present.
    implicit = {
        f.python_name: None for f in definition.fields if f.default_value is MISSING and f.default_factory is MISSING
    }
    fields: list[tuple[str, str, Converter | None]] = []

    def convert(value: Any) -> Any:
        if value is None or value is UNSET:
            return value
        kwargs = dict(implicit)
        for graphql_name, python_name, field_converter in fields:
            if graphql_name in value:
                given = value[graphql_name]
                kwargs[python_name] = given if field_converter is None else field_converter(given)
        return kind(**kwargs)

    built[kind] = convert  # before its fields: an input type may hold itself
    for field in definition.fields:
        field_where = f"{where}.{field.python_name}"
        field_type = field.resolve_type(type_definition=definition)
        converter = _converter(schema, field_type, field_where, built)
        fields.append((schema.config.name_converter.from_field(field), field.python_name, converter))
    return convert


def _keyword_arguments(names: dict[str, _Argument], arguments: dict[str, Any]) -> dict[str, Any]:
    kwargs = {}
    for name, value in arguments.items():
        argument = names[name]
        kwargs[argument.python_name] = value if argument.convert is None else argument.convert(value)
    return kwargs


def _resolver(
    definition: StrawberryField, permissions: list[BasePermission], names: dict[str, _Argument], where: str
) -> Callable[..., Any]:
    resolver = definition.base_resolver
    assert resolver is not None  # checked by _permissions
    function = resolver.wrapped_func
    takes_self = resolver.self_parameter is not None
    info_name = resolver.info_parameter.name if resolver.info_parameter else None
    if resolver.root_parameter is not None or resolver.parent_parameter is not None:
        raise NotLean(f"{where}: root and parent parameters are not served by the lean path")

    def call(source: Any, info: Info, kwargs: dict[str, Any]) -> Any:
        if info_name is not None:
            kwargs[info_name] = info
        return function(source, **kwargs) if takes_self else function(**kwargs)

    def resolve(source: Any, raw: GraphQLResolveInfo, **arguments: Any) -> Any:
        info = Info(_raw_info=raw, _field=definition)
        kwargs = _keyword_arguments(names, arguments)
        for permission in permissions:  # as PermissionExtension.resolve: the first refusal raises
            allowed = permission.has_permission(source, info, **kwargs)
            if inspect.isawaitable(allowed):  # would be truthy whatever it resolves to: refused, never trusted
                if inspect.iscoroutine(allowed):
                    allowed.close()
                raise PermissionReturnedAwaitableInSyncContextError(permission)
            if not isinstance(allowed, bool):
                raise PermissionReturnedNonBooleanError(permission, allowed)
            if not allowed:
                permission.on_unauthorized()
        return call(source, info, kwargs)

    async def resolve_async(source: Any, raw: GraphQLResolveInfo, **arguments: Any) -> Any:
        info = Info(_raw_info=raw, _field=definition)
        kwargs = _keyword_arguments(names, arguments)
        for permission in permissions:  # as PermissionExtension.resolve_async: checks may be awaited
            allowed = await await_maybe(permission.has_permission(source, info, **kwargs))
            if not isinstance(allowed, bool):
                if inspect.iscoroutine(allowed):
                    allowed.close()
                raise PermissionReturnedNonBooleanError(permission, allowed)
            if not allowed:
                permission.on_unauthorized()
        return await call(source, info, kwargs)

    return resolve_async if resolver.is_async else resolve
