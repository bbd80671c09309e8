"""Every operation of the contract, table-driven: refused (FORBIDDEN) without its scope, allowed with it.

The table is read from the contract itself: the operations are the fields of `type Query` and
`type Mutation`, the scope of each is the bracketed comment after it, and each request is built
generically from the contract's types (a minimal literal for every required argument and required
input field; Upload through a multipart request). Resolvers still being written answer other
errors (NOT_IMPLEMENTED, problems): that is fine here, only FORBIDDEN is judged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    build_schema,
    get_named_type,
)
from graphql.pyutils import Undefined
from starlette.applications import Starlette

from registry.onboarding import services as onboarding
from registry.platforms.scopes import DEFAULT_SCOPES, PLATFORM_SCOPES
from schema import build as _schema_build  # noqa: F401  (importing it registers every domain's node kinds)
from schema.common.nodes import NODE_KINDS
from tests.conftest import PlatformClient, get_token, gql
from tests.factories import image_bytes, make_performer, platform_actor

pytestmark = pytest.mark.usefixtures("db")

CONTRACT = Path(__file__).resolve().parents[3] / "shared" / "contract" / "schema.graphql"
SKIP_REASON = f"the contract is not next to this checkout ({CONTRACT})"
# Operations whose bracket names no platform scope; each has its own test below.
SPECIAL = {"node": "the read scope of the type", "onboardingSession": "an onboarding client token only"}
SCALAR_LITERALS = {
    "ID": '"x"',
    "String": '"x"',
    "Int": "1",
    "Float": "1.0",
    "Boolean": "false",
    "Date": '"2000-01-01"',
    "DateTime": '"2026-01-01T00:00:00+00:00"',
}
_OPERATION_LINE = re.compile(r"^\s+(\w+)\s*[(:].*#\s*\[([^\]]*)\]")
_SCOPE = re.compile(r"[a-z]+:[a-z]+")


@dataclass(frozen=True, slots=True)
class Operation:
    kind: str  # "query" or "mutation"
    name: str
    scopes: frozenset[str]  # any one of them allows the operation
    client: bool  # an onboarding client token may call it too


def _bracket_scopes(text: str) -> frozenset[str]:
    # "[enforcement:write; blacklist:joint for a JOINT ban]": the part before ";" is the operation's
    # scope, what follows is a further rule inside it.
    return frozenset(s for s in _SCOPE.findall(text.split(";")[0]) if s in PLATFORM_SCOPES)


def _block(lines: list[str], type_name: str) -> list[str]:
    start = lines.index(f"type {type_name} {{") + 1
    return lines[start : lines.index("}", start)]


@cache
def contract_operations() -> tuple[Operation, ...]:
    if not CONTRACT.exists():
        return ()
    lines = CONTRACT.read_text().splitlines()
    found = []
    for kind, type_name in (("query", "Query"), ("mutation", "Mutation")):
        for line in _block(lines, type_name):
            match = _OPERATION_LINE.match(line)
            assert match, f"no bracketed scope on the contract line {line!r}"
            bracket = match.group(2)
            found.append(
                Operation(kind, match.group(1), _bracket_scopes(bracket), "onboarding client token" in bracket)
            )
    return tuple(found)


@cache
def contract_schema() -> GraphQLSchema:
    return build_schema(CONTRACT.read_text())


# -- request builder -----------------------------------------------------------------------------


def required(value: GraphQLArgument | GraphQLInputField) -> bool:
    """Non-null without a default (graphql-core 3.3 keeps SDL defaults in `default`)."""
    return isinstance(value.type, GraphQLNonNull) and value.default is None and value.default_value is Undefined


@dataclass(slots=True)
class Request:
    """One operation as a GraphQL document; Upload arguments become variables sent as files."""

    uploads: list[str]

    def literal(self, type_: GraphQLInputType) -> str:
        if isinstance(type_, GraphQLNonNull):
            return self.literal(type_.of_type)
        if isinstance(type_, GraphQLList):
            return "[]"
        if isinstance(type_, GraphQLEnumType):
            return next(iter(type_.values))
        if isinstance(type_, GraphQLInputObjectType):
            fields = [f"{name}: {self.literal(field.type)}" for name, field in type_.fields.items() if required(field)]
            return "{" + ", ".join(fields) + "}"
        assert isinstance(type_, GraphQLScalarType)
        if type_.name == "Upload":
            self.uploads.append(f"upload{len(self.uploads)}")
            return f"${self.uploads[-1]}"
        return SCALAR_LITERALS[type_.name]

    def arguments(self, field: GraphQLField) -> str:
        given = [f"{name}: {self.literal(arg.type)}" for name, arg in field.args.items() if required(arg)]
        return f"({', '.join(given)})" if given else ""


def selection(field: GraphQLField) -> str:
    named = get_named_type(field.type)
    if isinstance(named, GraphQLObjectType) and "problems" in named.fields:
        return "{ __typename problems { code } }"
    return "{ __typename }"


def document(operation: Operation) -> tuple[str, list[str]]:
    schema = contract_schema()
    root = schema.query_type if operation.kind == "query" else schema.mutation_type
    assert root is not None
    field = root.fields[operation.name]
    request = Request(uploads=[])
    call = f"{operation.name}{request.arguments(field)} {selection(field)}"
    variables = f"({', '.join(f'${name}: Upload!' for name in request.uploads)})" if request.uploads else ""
    return f"{operation.kind} Check{variables} {{ {call} }}", request.uploads


async def send(client: httpx.AsyncClient, operation: Operation, token: str) -> dict[str, Any]:
    query, uploads = document(operation)
    headers = {"Authorization": f"Bearer {token}"}
    if not uploads:
        response = await client.post("/graphql", json={"query": query}, headers=headers)
    else:
        operations = {"query": query, "variables": dict.fromkeys(uploads)}
        files_map = {str(i): [f"variables.{name}"] for i, name in enumerate(uploads)}
        files = {str(i): ("a.png", tiny_png(), "image/png") for i in range(len(uploads))}
        response = await client.post(
            "/graphql",
            data={"operations": orjson.dumps(operations).decode(), "map": orjson.dumps(files_map).decode()},
            files=files,
            headers={**headers, "Apollo-Require-Preflight": "true"},
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@cache
def tiny_png() -> bytes:
    return image_bytes(seed=3, size=48)


def forbidden_paths(body: dict[str, Any]) -> list[list[Any]]:
    return [error.get("path") for error in body.get("errors", []) if error["extensions"]["code"] == "FORBIDDEN"]


def assert_forbidden_at(body: dict[str, Any], name: str) -> None:
    assert forbidden_paths(body) == [[name]], body
    data = body.get("data")
    assert data is None or data.get(name) is None, body  # a non-null payload nulls the whole data


def assert_not_forbidden(body: dict[str, Any]) -> None:
    assert forbidden_paths(body) == [], body


# -- the table -----------------------------------------------------------------------------------


def _table() -> list[Any]:
    ops = [op for op in contract_operations() if op.name not in SPECIAL]
    if not ops:
        return [pytest.param(None, marks=pytest.mark.skip(reason=SKIP_REASON), id="no-contract")]
    return [pytest.param(op, id=f"{op.kind}.{op.name}") for op in ops]


def test_every_operation_has_a_scope_or_its_own_test() -> None:
    if not CONTRACT.exists():
        pytest.skip(SKIP_REASON)
    unscoped = {op.name for op in contract_operations() if not op.scopes}
    assert unscoped == set(SPECIAL)
    assert len(contract_operations()) > 40  # the whole Query and Mutation, not a truncated read


@pytest.mark.parametrize("operation", _table())
async def test_an_operation_needs_its_scope(
    client: httpx.AsyncClient, platform: PlatformClient, operation: Operation
) -> None:
    others = [scope for scope in DEFAULT_SCOPES if scope not in operation.scopes]
    without = await send(client, operation, await get_token(client, platform, scope=" ".join(others)))
    assert_forbidden_at(without, operation.name)
    for scope in sorted(operation.scopes):  # each scope of an "a or b" alone is enough
        assert_not_forbidden(await send(client, operation, await get_token(client, platform, scope=scope)))


@pytest.mark.parametrize("operation", _table())
async def test_an_onboarding_client_token_reaches_only_its_operations(
    app: Starlette, client: httpx.AsyncClient, platform: PlatformClient, operation: Operation
) -> None:
    session = await onboarding.start_session(platform_actor(platform.id), "MARKETER", "u-1", 1800)
    token, _ = app.state.runtime.client_tokens.issue(platform.id, session.id, session.expires_at)
    body = await send(client, operation, token)
    if operation.client:
        assert_not_forbidden(body)
    else:
        assert_forbidden_at(body, operation.name)


# -- node, onboardingSession and eligibility:read ------------------------------------------------


def _node_prefix(type_name: str) -> str | None:
    return next((prefix for prefix, kind in NODE_KINDS.items() if kind.type_name == type_name), None)


@pytest.mark.parametrize(("type_name", "scope"), [("Performer", "performers:read"), ("Supplier", "suppliers:read")])
async def test_node_needs_the_read_scope_of_the_type(
    client: httpx.AsyncClient, platform: PlatformClient, type_name: str, scope: str
) -> None:
    prefix = _node_prefix(type_name)
    if prefix is None:
        pytest.xfail(f"no node kind is registered for {type_name}: node(id:) cannot resolve one yet")
    query = f'{{ node(id: "{prefix}_x") {{ __typename }} }}'
    others = " ".join(s for s in DEFAULT_SCOPES if s != scope)
    without = (await gql(client, query, token=await get_token(client, platform, scope=others))).json()
    assert_forbidden_at(without, "node")
    allowed = (await gql(client, query, token=await get_token(client, platform, scope=scope))).json()
    assert allowed == {"data": {"node": None}}  # unknown id: simply null


@pytest.mark.parametrize("prefix", sorted(NODE_KINDS))
async def test_node_of_every_registered_kind_is_scoped(
    client: httpx.AsyncClient, platform: PlatformClient, prefix: str
) -> None:
    kind = NODE_KINDS[prefix]
    query = f'{{ node(id: "{prefix}_x") {{ __typename }} }}'
    others = " ".join(s for s in DEFAULT_SCOPES if s not in kind.scopes)
    without = (await gql(client, query, token=await get_token(client, platform, scope=others))).json()
    assert_forbidden_at(without, "node")
    for scope in sorted(kind.scopes):
        allowed = (await gql(client, query, token=await get_token(client, platform, scope=scope))).json()
        assert_not_forbidden(allowed)


async def test_node_with_an_unknown_prefix_is_null(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    token = await get_token(client, platform, scope="eligibility:read")
    assert (await gql(client, '{ node(id: "zzz_x") { id } }', token=token)).json() == {"data": {"node": None}}


async def test_onboarding_session_is_for_client_tokens_only(
    app: Starlette, client: httpx.AsyncClient, platform: PlatformClient
) -> None:
    query = "{ onboardingSession { __typename id } }"
    every_scope = await get_token(client, platform)
    assert_forbidden_at((await gql(client, query, token=every_scope)).json(), "onboardingSession")
    session = await onboarding.start_session(platform_actor(platform.id), "MARKETER", "u-1", 1800)
    client_token, _ = app.state.runtime.client_tokens.issue(platform.id, session.id, session.expires_at)
    answer = (await gql(client, query, token=client_token)).json()
    assert answer == {"data": {"onboardingSession": {"__typename": "OnboardingSession", "id": session.id}}}


async def test_eligibility_read_sees_eligibility_and_nothing_personal(
    client: httpx.AsyncClient, platform: PlatformClient
) -> None:
    performer = await make_performer(platform.id)
    token = await get_token(client, platform, scope="eligibility:read")
    eligibility = await gql(
        client,
        "query($p: ID!) { liveEligibility(performerId: $p) { allowed reasons } }",
        {"p": performer.id},
        token=token,
    )
    assert eligibility.json() == {"data": {"liveEligibility": {"allowed": True, "reasons": []}}}
    for query, name in (
        ("query($p: ID!) { performer(id: $p) { fullNameMasked } }", "performer"),
        ("query($p: ID!) { node(id: $p) { id } }", "node"),
        ("{ performers { edges { node { id } } } }", "performers"),
        ('{ performerByRef(role: MARKETER, externalRef: "x") { id } }', "performerByRef"),
        ("{ auditEvents { edges { node { canonical } } } }", "auditEvents"),
    ):
        assert_forbidden_at((await gql(client, query, {"p": performer.id}, token=token)).json(), name)
