"""Lean resolvers for the hottest fields: Strawberry's declaration, graphql-core's calling convention.

On every call Strawberry wraps a resolver in a new Info, converts its arguments by name (a camelCase
conversion per argument) and chains its field extensions through `functools.partial`. liveEligibility
is asked before every live session and mostly answered from a cache, and that chain cost more than
the answer (scripts/bench.py eligibility). A field declared with `metadata=LEAN` keeps its Strawberry
declaration (type, arguments, description, permission classes) and `install` gives graphql-core a
resolver that runs the same permission checks and calls the same function.

It only takes fields it serves exactly as Strawberry would, and refuses the others when the schema is
built: arguments that are plain scalars (which Strawberry passes through unconverted), permission
classes as the only extension, checks that are synchronous and raise (no `fail_silently`), and no
field exception handlers.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Final

import strawberry
from graphql import GraphQLObjectType, GraphQLResolveInfo
from strawberry.exceptions import PermissionReturnedAwaitableInSyncContextError, PermissionReturnedNonBooleanError
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types import Info
from strawberry.types.base import StrawberryMaybe, StrawberryOptional
from strawberry.types.field import StrawberryField

LEAN: Final = {"livegate.lean": True}
_SCALARS: Final = (str, int, float, bool, strawberry.ID)


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
    if definition.base_resolver is None or definition.base_resolver.is_async:
        raise NotLean(f"{where}: a lean field needs a plain (def) resolver")
    return permissions


def _arguments(schema: strawberry.Schema, definition: StrawberryField, where: str) -> dict[str, str]:
    """GraphQL argument name -> Python parameter name, for arguments Strawberry passes unconverted."""
    names = {}
    for argument in definition.arguments:
        kind = argument.type
        if isinstance(kind, StrawberryOptional) and not isinstance(kind, StrawberryMaybe):
            kind = kind.of_type
        if kind not in _SCALARS:
            raise NotLean(f"{where}: argument {argument.python_name} is not a plain scalar")
        names[schema.config.name_converter.from_argument(argument)] = argument.python_name
    return names


def _resolver(
    definition: StrawberryField, permissions: list[BasePermission], names: dict[str, str], where: str
) -> Callable[..., Any]:
    resolver = definition.base_resolver
    assert resolver is not None  # checked by _permissions
    function = resolver.wrapped_func
    takes_self = resolver.self_parameter is not None
    info_name = resolver.info_parameter.name if resolver.info_parameter else None
    if resolver.root_parameter is not None or resolver.parent_parameter is not None:
        raise NotLean(f"{where}: root and parent parameters are not served by the lean path")

    def resolve(source: Any, raw: GraphQLResolveInfo, **arguments: Any) -> Any:
        info = Info(_raw_info=raw, _field=definition)
        kwargs = {names[name]: value for name, value in arguments.items()}
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
        if info_name is not None:
            kwargs[info_name] = info
        return function(source, **kwargs) if takes_self else function(**kwargs)

    return resolve
