"""Lean resolvers answer exactly as Strawberry's own resolver chain, and refuse fields they cannot serve."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
import strawberry
from strawberry.permission import BasePermission, PermissionExtension

from registry.performers.eligibility_cache import CACHE
from schema import lean
from schema.build import build_schema
from schema.context import Context, Principal
from schema.permissions import needs
from tests.conftest import PlatformClient
from tests.factories import make_performer, years_ago

ELIGIBILITY = (
    "query($id: ID!, $avatar: ID) { liveEligibility(performerId: $id, avatarId: $avatar) { allowed reasons } }"
)
OMITTED = "query($id: ID!) { liveEligibility(performerId: $id) { allowed reasons } }"


def test_live_eligibility_is_served_lean() -> None:
    schema = build_schema()
    assert lean.install(schema) == ["Query.liveEligibility"]  # installing again is harmless
    resolver = schema._schema.query_type.fields["liveEligibility"].resolve
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


def _probe_with_input(self: Any, value: Filter) -> str | None:
    return value.name


async def _probe_async(self: Any) -> str | None:
    return "x"


def _probe(self: Any) -> str | None:
    return "x"


@pytest.mark.parametrize(
    ("field", "why"),
    [
        (strawberry.field(resolver=_probe_with_input, metadata=lean.LEAN), "not a plain scalar"),
        (strawberry.field(resolver=_probe_async, metadata=lean.LEAN), r"plain \(def\) resolver"),
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
