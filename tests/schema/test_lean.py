"""Lean resolvers answer exactly as Strawberry's own resolver chain, and refuse fields they cannot serve."""

from __future__ import annotations

from dataclasses import MISSING
from datetime import UTC, date, datetime
from typing import Any, ClassVar

import pytest
import strawberry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types.arguments import convert_argument
from strawberry.types.base import StrawberryList, StrawberryOptional, has_object_definition
from strawberry.types.enum import has_enum_definition
from strawberry.types.lazy_type import LazyType

from registry.performers.eligibility_cache import CACHE
from schema import lean
from schema.build import build_schema
from schema.context import Context, Principal
from schema.permissions import needs
from tests.conftest import PlatformClient
from tests.factories import make_performer, resident_id, years_ago

ELIGIBILITY = (
    "query($id: ID!, $avatar: ID) { liveEligibility(performerId: $id, avatarId: $avatar) { allowed reasons } }"
)
OMITTED = "query($id: ID!) { liveEligibility(performerId: $id) { allowed reasons } }"


def test_live_eligibility_and_register_performer_are_served_lean() -> None:
    schema = build_schema()
    assert lean.install(schema) == ["Query.liveEligibility", "Mutation.registerPerformer"]  # again: harmless
    for root, name in (
        (schema._schema.query_type, "liveEligibility"),
        (schema._schema.mutation_type, "registerPerformer"),
    ):
        resolver = root.fields[name].resolve
        assert resolver is not None and resolver.__module__ == "schema.lean"


def _principal(platform_id: str, scopes: str, session: str | None = None) -> Principal:
    return Principal(platform_id=platform_id, scopes=frozenset(scopes.split()), token_id="t", session_id=session)


async def _both(query: str, variables: dict[str, Any], principal: Principal | None) -> list[dict[str, Any]]:
    """The answer of the lean schema and of Strawberry's own chain (a schema built without `install`)."""
    answers = []
    for schema in (build_schema(), _strawberry_schema()):
        CACHE.bump()  # each computes its answer
        result = await schema.execute(query, variable_values=variables, context_value=Context("r", principal))
        errors = [(e.message, e.path, e.extensions) for e in result.errors or []]
        answers.append({"data": result.data, "errors": errors})
    return answers


def _strawberry_schema() -> strawberry.Schema:
    install = lean.install
    lean.install = lambda schema: []  # type: ignore[assignment]
    try:
        return build_schema()
    finally:
        lean.install = install


@pytest.mark.usefixtures("db")
async def test_lean_and_strawberry_answers_are_identical(platform: PlatformClient) -> None:
    performer = await make_performer(platform.id, birth=years_ago(17))
    untrained = await make_performer(platform.id, trained=False)
    cases: list[tuple[str, dict[str, Any], Principal | None]] = [
        (ELIGIBILITY, {"id": performer.id}, _principal(platform.id, "eligibility:read")),
        (ELIGIBILITY, {"id": untrained.id, "avatar": None}, _principal(platform.id, "performers:read")),
        (ELIGIBILITY, {"id": untrained.id, "avatar": "ava_unknown"}, _principal(platform.id, "eligibility:read")),
        (OMITTED, {"id": "per_unknown"}, _principal(platform.id, "eligibility:read")),
        (OMITTED, {"id": performer.id}, _principal("plt_other", "eligibility:read")),
        (OMITTED, {"id": performer.id}, _principal(platform.id, "performers:write")),  # wrong scope
        (OMITTED, {"id": performer.id}, _principal(platform.id, "onboarding:client", session="ses_1")),
        (OMITTED, {"id": performer.id}, None),  # no token
    ]
    for query, variables, principal in cases:
        lean_answer, strawberry_answer = await _both(query, variables, principal)
        assert lean_answer == strawberry_answer, (variables, principal)
    refused = (await _both(OMITTED, {"id": performer.id}, None))[0]
    assert refused["data"] == {"liveEligibility": None}
    assert refused["errors"][0][2] == {"code": "FORBIDDEN"}
    answered = (await _both(OMITTED, {"id": untrained.id}, _principal(platform.id, "eligibility:read")))[0]
    assert answered["data"] == {"liveEligibility": {"allowed": False, "reasons": ["TRAINING_MISSING"]}}


# -- fields the lean path refuses ------------------------------------------------------------------


@strawberry.input
class Filter:
    name: str


class Refuses(BasePermission):
    message = "no"

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return False


def _schema_with(field: Any) -> strawberry.Schema:
    @strawberry.type
    class Query:
        probe: str | None = field

    return strawberry.Schema(query=Query)


def _probe(self: Any) -> str | None:
    return "x"


@strawberry.input
class Built:
    name: str

    @classmethod
    def from_input(cls, value: Any, context: Any) -> Built:  # how Strawberry lets an input build itself
        return cls(name=value["name"])


Built.__strawberry_definition__.from_input = Built.from_input  # type: ignore[attr-defined]


def _probe_with_maybe(self: Any, value: strawberry.Maybe[str]) -> str | None:
    return "x"


def _probe_with_global_id(self: Any, value: strawberry.relay.GlobalID) -> str | None:
    return "x"


def _probe_with_built(self: Any, value: Built) -> str | None:
    return value.name


@pytest.mark.parametrize(
    ("field", "why"),
    [
        (strawberry.field(resolver=_probe_with_maybe, metadata=lean.LEAN), "Maybe and GlobalID"),
        (strawberry.field(resolver=_probe_with_global_id, metadata=lean.LEAN), "Maybe and GlobalID"),
        (strawberry.field(resolver=_probe_with_built, metadata=lean.LEAN), "builds its own value"),
        (
            strawberry.field(
                resolver=_probe,
                metadata=lean.LEAN,
                extensions=[PermissionExtension([Refuses()], fail_silently=True)],
            ),
            "permission classes that raise",
        ),
    ],
)
def test_fields_the_lean_path_cannot_serve_fail_the_build(field: Any, why: str) -> None:
    with pytest.raises(lean.NotLean, match=why):
        lean.install(_schema_with(field))


async def test_a_lean_field_refuses_as_its_permission_class_does() -> None:
    field = strawberry.field(resolver=_probe, metadata=lean.LEAN, permission_classes=[needs("performers:read")])
    schema = _schema_with(field)
    assert lean.install(schema) == ["Query.probe"]
    refused = await schema.execute("{ probe }", context_value=Context("r", None))
    assert refused.data == {"probe": None}
    assert refused.errors is not None and refused.errors[0].extensions == {"code": "FORBIDDEN"}
    assert refused.errors[0].message == "This field needs a bearer token with performers:read."
    allowed = await schema.execute("{ probe }", context_value=Context("r", _principal("plt_1", "performers:read")))
    assert allowed.data == {"probe": "x"} and not allowed.errors


class Recording(BasePermission):
    message = "no"
    seen: ClassVar[list[dict[str, Any]]] = []

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        Recording.seen.append(kwargs)
        return True


class Awaits(BasePermission):
    message = "no"

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> Any:
        async def later() -> bool:
            return True

        return later()  # a plain def returning a coroutine: it must not pass as "allowed"


def _probe_with_arguments(self: Any, some_name: str, other_name: int | None = strawberry.UNSET) -> str | None:
    return f"{some_name}:{other_name}"


@pytest.mark.parametrize("permission", [Recording, Awaits])
async def test_permission_classes_see_what_strawberry_gives_them(permission: type[BasePermission]) -> None:
    answers = []
    for lean_path in (True, False):
        field = strawberry.field(resolver=_probe_with_arguments, metadata=lean.LEAN, permission_classes=[permission])
        schema = _schema_with(field)
        if lean_path:
            lean.install(schema)
        Recording.seen = []
        result = await schema.execute('{ probe(someName: "a") }', context_value=Context("r", None))
        errors = [(e.message, e.extensions) for e in result.errors or []]
        answers.append((result.data, errors, Recording.seen))
    assert answers[0] == answers[1]
    if permission is Recording:
        assert answers[0][2] == [{"some_name": "a"}] and answers[0][0] == {"probe": "a:"}  # UNSET prints empty
    else:
        assert answers[0][0] == {"probe": None} and answers[0][1]


# -- input objects and async resolvers ------------------------------------------------------------


@strawberry.input
class Window:
    names: list[Filter]
    first: int | None = strawberry.UNSET
    tags: list[str | None] | None = None


async def _probe_window(self: Any, window: Window, label: str | None = None) -> str | None:
    return f"{[f.name for f in window.names]}:{window.first}:{window.tags}:{label}"


@pytest.mark.parametrize("permission", [Recording, Awaits])
async def test_async_resolvers_with_inputs_answer_as_strawberry(permission: type[BasePermission]) -> None:
    # An async resolver's checks may be awaited (PermissionExtension.resolve_async): Awaits allows here.
    query = '{ probe(window: {names: [{name: "a"}, {name: "b"}], tags: ["t", null]}, label: "l") }'
    answers = []
    for lean_path in (True, False):
        field = strawberry.field(resolver=_probe_window, metadata=lean.LEAN, permission_classes=[permission])
        schema = _schema_with(field)
        if lean_path:
            assert lean.install(schema) == ["Query.probe"]
        Recording.seen = []
        result = await schema.execute(query, context_value=Context("r", None))
        errors = [(e.message, e.extensions) for e in result.errors or []]
        answers.append((result.data, errors, Recording.seen))
    assert answers[0] == answers[1]
    assert answers[0][0] == {"probe": "['a', 'b']::['t', None]:l"}  # UNSET prints empty
    if permission is Recording:
        assert answers[0][2] == [
            {"window": Window(names=[Filter(name="a"), Filter(name="b")], tags=["t", None]), "label": "l"}
        ]


REGISTER = """mutation($input: RegisterPerformerInput!) {
  registerPerformer(input: $input) {
    performer { id role verificationStatus fullNameMasked documentNumberMasked externalRef age }
    problems { code message field }
  }
}"""


def _registration(number: str, **changes: Any) -> dict[str, Any]:
    document = {"type": "RESIDENT_ID_CARD", "number": number, "fullName": "张三"}
    return {"role": "MARKETER", "document": document, "phone": "13800138000", "externalRef": "acct-1", **changes}


@pytest.mark.usefixtures("db")
async def test_register_performer_answers_as_strawberry_does(platform: PlatformClient) -> None:
    # The second schema registers the same identity again: a safe retry, answered with the same performer.
    adult, minor = resident_id(years_ago(30)), resident_id(years_ago(17))
    consent = {
        "guardian": {"type": "RESIDENT_ID_CARD", "number": resident_id(years_ago(45)), "fullName": "张大"},
        "relationship": "PARENT",
        "phone": "13900139000",
        "signedAt": "2026-01-02T03:04:05+08:00",
    }
    writer = _principal(platform.id, "performers:write")
    cases: list[tuple[dict[str, Any], Principal | None]] = [
        (_registration(adult), writer),
        (_registration(adult, externalRef="acct-2"), writer),  # ALREADY_REGISTERED
        (_registration("110101199001011234", phone="12"), writer),  # every problem at once
        (_registration(minor, externalRef="acct-3"), writer),  # GUARDIAN_CONSENT_REQUIRED
        (_registration(minor, externalRef="acct-3", guardianConsent=consent), writer),
        (_registration(adult, deviceId=" d-1 ", agencyId="agy_unknown"), writer),
        (_registration(adult), _principal(platform.id, "performers:read")),  # wrong scope
        (_registration(adult), None),  # no token
    ]
    for variables, principal in cases:
        lean_answer, strawberry_answer = await _both(REGISTER, {"input": variables}, principal)
        assert lean_answer == strawberry_answer, (variables, principal)
    first = (await _both(REGISTER, {"input": _registration(adult)}, writer))[0]
    assert first["data"]["registerPerformer"]["performer"]["verificationStatus"] == "VERIFIED", first
    refused = (await _both(REGISTER, {"input": _registration(adult)}, None))[0]
    assert refused["data"] is None and refused["errors"][0][2] == {"code": "FORBIDDEN"}


# -- the converters, against Strawberry's convert_argument -------------------------------------------

_SENTINEL_UPLOAD = object()


def _values(schema: strawberry.Schema, kind: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values graphql-core hands a resolver for arguments of `kind` (parsed scalars, enum members)."""
    if isinstance(kind, StrawberryOptional):
        return st.none() | _values(schema, kind.of_type, depth)
    if isinstance(kind, LazyType):
        return _values(schema, kind.resolve_type(), depth)
    if isinstance(kind, StrawberryList):
        return st.lists(_values(schema, kind.of_type, depth + 1), max_size=2 if depth < 2 else 0)
    if has_enum_definition(kind):
        return st.sampled_from(list(kind))
    if has_object_definition(kind):
        definition = kind.__strawberry_definition__
        required, optional = {}, {}
        for field in definition.fields:
            name = schema.config.name_converter.from_field(field)
            values = _values(schema, field.resolve_type(type_definition=definition), depth + 1)
            nullable = isinstance(field.type, StrawberryOptional)
            (optional if nullable or field.default_value is not MISSING else required)[name] = values
        return st.fixed_dictionaries(required, optional=optional)
    return _SCALAR_VALUES.get(kind, st.just(_SENTINEL_UPLOAD))


_SCALAR_VALUES: dict[Any, st.SearchStrategy[Any]] = {
    str: st.text(max_size=4),
    strawberry.ID: st.text(max_size=4),
    int: st.integers(),
    float: st.floats(allow_nan=False),
    bool: st.booleans(),
    date: st.dates(),
    datetime: st.datetimes(timezones=st.just(UTC)),
}


def _compiled_arguments() -> list[tuple[strawberry.Schema, str, Any, Any]]:
    schema = build_schema()
    found = []
    for root in (schema._schema.query_type, schema._schema.mutation_type):
        for name, field in root.fields.items():
            definition = lean._definition(field.extensions)
            try:
                compiled = lean._arguments(schema, definition, name)
            except lean.NotLean:
                continue  # served by Strawberry's own chain
            for argument in definition.arguments:
                graphql_name = schema.config.name_converter.from_argument(argument)
                found.append((schema, f"{name}({graphql_name})", argument.type, compiled[graphql_name].convert))
    return found


@pytest.mark.parametrize(
    ("schema", "where", "kind", "convert"), _compiled_arguments(), ids=lambda v: v if isinstance(v, str) else ""
)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_compiled_conversion_equals_strawberrys(
    schema: strawberry.Schema, where: str, kind: Any, convert: lean.Converter | None, data: st.DataObject
) -> None:
    value = data.draw(_values(schema, kind))
    expected = convert_argument(value, kind, schema.schema_converter.scalar_registry, schema.config)
    assert (value if convert is None else convert(value)) == expected, where
