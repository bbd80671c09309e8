"""The prepared-document path answers valid operations; everything else keeps Strawberry's full path."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from gateway.documents import PreparedDocuments
from gateway.runtime import Runtime, build_graphql_schema
from gateway.settings import load_settings
from tests.conftest import PlatformClient, get_token

pytestmark = pytest.mark.asyncio

TWO_OPERATIONS = "query A { __typename } query B { performers(first: 1) { edges { node { id } } } }"


def _runtime(app: Starlette) -> Runtime:
    runtime: Runtime = app.state.runtime
    return runtime


def _refuse_checked_path(app: Starlette, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the queries that reach `schema.execute` (the checked path) instead of running them there."""
    reached: list[str] = []
    schema = _runtime(app).schema
    original = schema.execute

    async def recording(query: str, *args: object, **kwargs: object) -> object:
        reached.append(query)
        return await original(query, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(schema, "execute", recording)
    return reached


async def test_valid_operations_skip_the_checked_path(
    app: Starlette, client: httpx.AsyncClient, platform: PlatformClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    reached = _refuse_checked_path(app, monkeypatch)
    token = await get_token(client, platform, "performers:read")
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(2):
        answer = await client.post("/graphql", json={"query": "{ __typename }"}, headers=headers)
        assert answer.json() == {"data": {"__typename": "Query"}}
    named = await client.post("/graphql", json={"query": TWO_OPERATIONS, "operationName": "B"}, headers=headers)
    assert named.json() == {"data": {"performers": {"edges": []}}}
    assert reached == []


async def test_permissions_still_apply_on_the_prepared_path(
    app: Starlette, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    reached = _refuse_checked_path(app, monkeypatch)
    answer = await client.post("/graphql", json={"query": "{ performers(first: 1) { edges { node { id } } } }"})
    body = answer.json()
    assert body["data"] == {"performers": None}
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert reached == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"query": "{ __typename } x"}, "GRAPHQL_PARSE_FAILED"),
        ({"query": "{ nope }"}, "GRAPHQL_VALIDATION_FAILED"),
        ({"query": TWO_OPERATIONS, "operationName": "C"}, "BAD_USER_INPUT"),
    ],
)
async def test_what_does_not_prepare_goes_to_the_checked_path(
    app: Starlette, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, body: dict[str, object], code: str
) -> None:
    reached = _refuse_checked_path(app, monkeypatch)
    for _ in range(2):  # the refusal is remembered, and the answer is the same every time
        answer = await client.post("/graphql", json=body)
        assert answer.status_code == 200
        assert answer.json()["errors"][0]["extensions"]["code"] == code
    assert reached == [body["query"], body["query"]]


async def test_limits_and_introspection_rules_hold_on_both_paths(tmp_path: Path) -> None:
    env = {"LIVEGATE_DATA_DIR": str(tmp_path), "LIVEGATE_EXPLORER": "0", "LIVEGATE_LIMITS_DEPTH": "3"}
    _, documents = build_graphql_schema(load_settings(env))
    assert documents.get("{ __typename }") is not None
    assert documents.get("{ __schema { queryType { name } } }") is None
    deep = "{ performers(first: 1) { edges { node { avatars(first: 1) { edges { node { id } } } } } } }"
    assert documents.get(deep) is None


async def test_the_cache_is_bounded(tmp_path: Path) -> None:
    schema, _ = build_graphql_schema(load_settings({"LIVEGATE_DATA_DIR": str(tmp_path)}))
    documents = PreparedDocuments(schema, [], maxsize=2)
    first = documents.get("{ a: __typename }")
    documents.get("{ b: __typename }")
    documents.get("{ c: __typename }")
    assert first is not None and documents.get("{ a: __typename }") is not first  # evicted, prepared again


async def test_the_operation_type_comes_from_the_prepared_document(tmp_path: Path) -> None:
    from graphql import OperationType

    _, documents = build_graphql_schema(load_settings({"LIVEGATE_DATA_DIR": str(tmp_path)}))
    mixed = (
        "query A { __typename } "
        'mutation B { revokeGuardianConsent(input: {performerId: "x", reason: "r"}) { problems { code } } }'
    )
    assert documents.operation_type(mixed, "A") is OperationType.QUERY
    assert documents.operation_type(mixed, "B") is OperationType.MUTATION
    assert documents.operation_type(mixed, None) is None  # two operations and no name: not known here
    assert documents.operation_type("{ __typename }", None) is OperationType.QUERY
    assert documents.operation_type("{ nope }", None) is None


async def test_a_document_nested_past_any_limit_is_refused_cleanly(client: httpx.AsyncClient) -> None:
    deep = "{ a" + " { a" * 4000 + " }" * 4001
    answer = await client.post("/graphql", json={"query": deep})
    assert answer.status_code == 200
    assert answer.json()["errors"][0]["extensions"]["code"] in {"GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED"}


async def test_a_failure_outside_the_resolvers_is_an_internal_error_not_a_500(
    app: Starlette, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    documents = _runtime(app).documents

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the executor broke")

    monkeypatch.setattr(documents, "execute", broken)
    answer = await client.post("/graphql", json={"query": "{ __typename }"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["errors"][0]["extensions"]["code"] == "INTERNAL" and "broke" not in answer.text


class _Context:
    """Stands in for the request context: weakly referable, so the test can see when it is freed."""

    principal = None


async def test_an_execution_leaves_no_reference_cycle(tmp_path: Path) -> None:
    """graphql-core's executor holds its own bound methods; left as is, every request's executor, context
    and HTTP request waited for the cycle collector (a collection every dozen requests)."""
    import gc
    import weakref

    _, documents = build_graphql_schema(load_settings({"LIVEGATE_DATA_DIR": str(tmp_path)}))
    query = "query($skip: Boolean!) { __typename a: __typename @skip(if: $skip) }"
    prepared = documents.get(query)
    assert prepared is not None and prepared.plans  # the compiled path, where the executor is ours
    context = _Context()
    freed = weakref.ref(context)
    gc.disable()
    try:
        result = await documents.execute(prepared, variables={"skip": False}, operation_name=None, context=context)
        assert result is not None and result.data == {"__typename": "Query", "a": "Query"}
        del context, result
        assert freed() is None  # by reference counting alone
    finally:
        gc.enable()
