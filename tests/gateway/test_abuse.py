"""Abusive requests: each refused with a clear error, in bounded time, and never a 5xx.

The time bound (2 s) is generous on purpose: it is not a performance assertion, it catches a limit
that is computed by expanding the document (a fragment spread 2^20 times would take minutes).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import httpx
import orjson
import pytest

from registry.performers import services as performer_services
from tests.conftest import PlatformClient, get_token
from tests.factories import document, years_ago

pytestmark = pytest.mark.usefixtures("db")

BOUND_S = 2.0
MiB = 1024 * 1024
INTERNAL_MESSAGE = "Internal error. Quote the X-Request-Id response header when you report it."


async def timed(request: Awaitable[httpx.Response]) -> httpx.Response:
    started = time.perf_counter()
    response = await request
    elapsed = time.perf_counter() - started
    assert elapsed < BOUND_S, f"took {elapsed:.2f} s"
    assert response.status_code < 500, response.text
    return response


async def post(client: httpx.AsyncClient, body: Any, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await timed(client.post("/graphql", json=body, headers=headers))


def codes(response: httpx.Response) -> list[str]:
    return [error["extensions"]["code"] for error in response.json()["errors"]]


def limits_hit(response: httpx.Response) -> set[str]:
    return {error["extensions"]["limit"] for error in response.json()["errors"] if "limit" in error["extensions"]}


def assert_refused_before_execution(response: httpx.Response, code: str) -> None:
    body = response.json()
    assert response.status_code == 200 and "data" not in body, body
    assert code in codes(response), body
    assert all(error["message"] for error in body["errors"])


@pytest.fixture
async def token(client: httpx.AsyncClient, platform: PlatformClient) -> str:
    return await get_token(client, platform)


# -- document limits -----------------------------------------------------------------------------


def nested_performers(levels: int) -> str:
    """performers -> edges -> node -> avatars -> edges -> node -> operator -> ... on Performer -> avatars ..."""
    head, tail, depth = "performers { edges { node {", "} } }", 3
    while depth < levels:
        head += " avatars { edges { node { operator { ... on Performer {"
        tail = "} } } } }" + tail
        depth += 4
    return "{ " + head + " id " + tail + " }"


async def test_fifty_levels_of_real_types_are_refused(client: httpx.AsyncClient, token: str) -> None:
    response = await post(client, {"query": nested_performers(50)}, token)
    assert_refused_before_execution(response, "LIMIT_EXCEEDED")
    assert "depth" in limits_hit(response)


async def test_fifty_levels_of_introspection_are_refused(client: httpx.AsyncClient) -> None:
    query = '{ __type(name: "Query") { ' + "ofType { " * 49 + "name" + " }" * 49 + " } }"
    response = await post(client, {"query": query})
    assert_refused_before_execution(response, "LIMIT_EXCEEDED")
    assert "depth" in limits_hit(response)


async def test_depth_hidden_in_fragments_is_counted(client: httpx.AsyncClient, token: str) -> None:
    # Each fragment is shallow; only the expanded document is deep.
    fragments = [
        f"fragment L{i} on Performer {{ avatars {{ edges {{ node {{ operator {{ ...L{i + 1} }} }} }} }} }}"
        for i in range(12)
    ]
    fragments.append("fragment L12 on Performer { id }")
    query = "{ performers { edges { node { ...L0 } } } } " + " ".join(fragments)
    response = await post(client, {"query": query}, token)
    assert_refused_before_execution(response, "LIMIT_EXCEEDED")
    assert "depth" in limits_hit(response)


async def test_a_thousand_aliases_through_fragments_are_refused(client: httpx.AsyncClient) -> None:
    aliases = " ".join(f"a{i}: __typename" for i in range(1000))
    query = f"query {{ ...Many }} fragment Many on Query {{ {aliases} }}"
    response = await post(client, {"query": query})
    assert_refused_before_execution(response, "LIMIT_EXCEEDED")
    assert "aliases" in limits_hit(response)


async def test_aliases_multiplied_by_nested_spreads_are_refused(client: httpx.AsyncClient) -> None:
    # 10 aliases, spread 10 times, spread 10 times: 1,000 aliases from a 60-token document.
    ten = " ".join(f"{c}: __typename" for c in "abcdefghij")
    query = (
        f"query {{ ...F2 }} fragment F0 on Query {{ {ten} }} "
        f"fragment F1 on Query {{ {' '.join(['...F0'] * 10)} }} "
        f"fragment F2 on Query {{ {' '.join(['...F1'] * 10)} }}"
    )
    response = await post(client, {"query": query})
    assert_refused_before_execution(response, "LIMIT_EXCEEDED")
    assert "aliases" in limits_hit(response)


async def test_circular_fragments_are_refused(client: httpx.AsyncClient) -> None:
    query = (
        "query { ...A } fragment A on Query { __typename ...B } "
        "fragment B on Query { __typename ...C } fragment C on Query { ...A }"
    )
    response = await post(client, {"query": query})
    assert_refused_before_execution(response, "GRAPHQL_VALIDATION_FAILED")
    assert any("within itself" in error["message"] for error in response.json()["errors"])


async def test_a_token_bomb_is_measured_without_expansion(client: httpx.AsyncClient) -> None:
    # F20 expands to 2^20 spreads of F0: about two million tokens, from a document of a few hundred.
    fragments = ["fragment F0 on Query { __typename }"]
    fragments += [f"fragment F{i} on Query {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, 21)]
    response = await post(client, {"query": "query { ...F20 } " + " ".join(fragments)})
    assert_refused_before_execution(response, "LIMIT_EXCEEDED")
    assert "tokens" in limits_hit(response)


async def test_a_wide_flat_document_is_refused_by_its_tokens(client: httpx.AsyncClient) -> None:
    response = await post(client, {"query": "{ " + "__typename " * 2500 + "}"})
    assert_refused_before_execution(response, "LIMIT_EXCEEDED")
    assert "tokens" in limits_hit(response)


async def test_a_document_at_the_limits_still_runs(client: httpx.AsyncClient) -> None:
    aliases = " ".join(f"a{i}: __typename" for i in range(30))
    response = await post(client, {"query": f"{{ ...F }} fragment F on Query {{ {aliases} }}"})
    assert response.json()["data"]["a29"] == "Query"


async def test_first_above_one_hundred_is_refused(client: httpx.AsyncClient, token: str) -> None:
    response = await post(client, {"query": "{ performers(first: 101) { edges { cursor } } }"}, token)
    body = response.json()
    assert body["data"] == {"performers": None}
    assert codes(response) == ["LIMIT_EXCEEDED"] and body["errors"][0]["path"] == ["performers"]
    at_limit = await post(client, {"query": "{ performers(first: 100) { edges { cursor } } }"}, token)
    assert at_limit.json() == {"data": {"performers": {"edges": []}}}


# -- transport limits ----------------------------------------------------------------------------


async def test_a_fifty_operation_batch_is_refused(client: httpx.AsyncClient) -> None:
    response = await post(client, [{"query": "{ __typename }"}] * 50)
    assert response.status_code == 400
    assert "at most 10" in response.json()["errors"][0]["message"]


def padded_body(size: int) -> bytes:
    """A valid `{ __typename }` request of exactly `size` bytes."""
    envelope = orjson.dumps({"query": "{ __typename }", "extensions": {"pad": ""}})
    body = envelope.replace(b'"pad":""', b'"pad":"' + b"x" * (size - len(envelope)) + b'"')
    assert len(body) == size
    return body


async def test_a_body_over_twenty_mib_is_refused_with_413(client: httpx.AsyncClient) -> None:
    body = padded_body(20 * MiB + 1)
    response = await timed(client.post("/graphql", content=body, headers={"content-type": "application/json"}))
    assert response.status_code == 413


async def test_a_streamed_body_over_twenty_mib_is_refused_with_413(client: httpx.AsyncClient) -> None:
    body = padded_body(20 * MiB + 1)

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit must count what arrives
        for start in range(0, len(body), MiB):
            yield body[start : start + MiB]

    response = await timed(client.post("/graphql", content=chunks(), headers={"content-type": "application/json"}))
    assert response.status_code == 413


async def test_the_413_is_a_json_error_with_a_request_id_and_no_error_log(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    body = padded_body(20 * MiB + 1)
    with caplog.at_level(logging.ERROR):
        response = await timed(client.post("/graphql", content=body, headers={"content-type": "application/json"}))
    assert response.status_code == 413
    # The same JSON shape as every other refusal at the edge, findable by its request id...
    assert response.headers.get("content-type") == "application/json", response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"
    assert response.headers.get("x-request-id")
    # ...and a client's oversized body is not a server error in the logs (anyone could flood them).
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR] == []


async def test_a_body_of_exactly_twenty_mib_is_read(client: httpx.AsyncClient) -> None:
    body = padded_body(20 * MiB)
    response = await timed(client.post("/graphql", content=body, headers={"content-type": "application/json"}))
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_a_multipart_request_without_the_csrf_header_is_refused(client: httpx.AsyncClient) -> None:
    data = {"operations": '{"query": "{ __typename }"}', "map": "{}"}
    files = {"0": ("a.png", b"\x89PNG\r\n", "image/png")}
    response = await timed(client.post("/graphql", data=data, files=files))
    assert response.status_code == 400
    assert "Apollo-Require-Preflight" in response.json()["errors"][0]["message"]


async def test_an_upload_over_the_file_limit_is_refused(client: httpx.AsyncClient, token: str) -> None:
    query = (
        'mutation($f: Upload) { registerPerformer(input: {role: MARKETER, phone: "13800138000", '
        'document: {type: RESIDENT_ID_CARD, number: $n, fullName: "张三"}, '
        'guardianConsent: {guardian: {type: RESIDENT_ID_CARD, number: $g, fullName: "李四"}, '
        'relationship: PARENT, phone: "13900139000", signedAt: "2026-01-01T00:00:00+00:00", evidence: $f}}) '
        "{ performer { id } problems { code field } } }"
    )
    query = query.replace("mutation($f: Upload)", "mutation($f: Upload, $n: String!, $g: String!)")
    variables = {"f": None, "n": document(years_ago(17)).number, "g": document(years_ago(45)).number}
    response = await timed(
        client.post(
            "/graphql",
            data={
                "operations": orjson.dumps({"query": query, "variables": variables}).decode(),
                "map": '{"0": ["variables.f"]}',
            },
            files={"0": ("consent.png", b"\0" * (8 * MiB + 1), "image/png")},
            headers={"Authorization": f"Bearer {token}", "Apollo-Require-Preflight": "true"},
        )
    )
    if response.status_code == 413:
        return
    payload = response.json()["data"]["registerPerformer"]
    assert payload["performer"] is None
    assert {"code": "LIMIT_EXCEEDED", "field": ["input", "guardianConsent", "evidence"]} in payload["problems"]


# -- malformed requests --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{ __typename }", "not valid JSON"),
        (b'"{ __typename }"', "JSON object"),
        (b"42", "JSON object"),
        (b'{"query": "{ __typename }", "variables": "x"}', "`variables`"),
        (b'{"query": "{ __typename }", "variables": [1]}', "`variables`"),
        (b'{"query": "{ __typename }", "operationName": 1}', "`operationName`"),
        (b'{"variables": {}}', "no GraphQL query"),
    ],
)
async def test_a_malformed_body_is_a_400(client: httpx.AsyncClient, content: bytes, message: str) -> None:
    response = await timed(client.post("/graphql", content=content, headers={"content-type": "application/json"}))
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert message in error["message"] and error["extensions"]["code"] == "BAD_REQUEST"


async def test_an_unknown_operation_name_is_bad_user_input(client: httpx.AsyncClient) -> None:
    response = await post(client, {"query": "query A { __typename }", "operationName": "B"})
    body = response.json()
    assert response.status_code == 200 and "data" not in body
    assert codes(response) == ["BAD_USER_INPUT"] and "B" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"query": "{ __typename"}, "GRAPHQL_PARSE_FAILED"),
        ({"query": "{ performers { nope } }"}, "GRAPHQL_VALIDATION_FAILED"),
        (
            {"query": "query($s: VerificationStatus) { performers(status: $s) { __typename } }", "variables": {"s": 1}},
            "BAD_USER_INPUT",
        ),
        (
            {
                "query": 'mutation($d: Date!) { registerPerformer(input: {role: MARKETER, phone: "x", document: '
                '{type: RESIDENT_ID_CARD, number: "x", fullName: "x", birthDate: $d}}) { problems { code } } }',
                "variables": {"d": "2009-02-30"},
            },
            "BAD_USER_INPUT",
        ),
        ({"query": "subscription { __typename }"}, "BAD_USER_INPUT"),
    ],
)
async def test_top_level_errors_carry_the_codes_of_http_md(
    client: httpx.AsyncClient, body: dict[str, Any], code: str
) -> None:
    response = await post(client, body)
    assert_refused_before_execution(response, code)


# -- error masking -------------------------------------------------------------------------------


async def test_an_unexpected_resolver_failure_is_masked(
    client: httpx.AsyncClient, token: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "database password is hunter2 for 110105199001011234"

    async def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError(secret)

    monkeypatch.setattr(performer_services, "list_performers", boom)
    with caplog.at_level(logging.ERROR):
        response = await post(client, {"query": "{ performers { edges { cursor } } }"}, token)
    request_id = response.headers["x-request-id"]
    assert response.json() == {
        "data": {"performers": None},
        "errors": [{"message": INTERNAL_MESSAGE, "extensions": {"code": "INTERNAL"}, "path": ["performers"]}],
    }
    assert secret not in response.text and "RuntimeError" not in response.text
    # ...but it is in the log, under the request id the client was given.
    assert any(request_id in record.getMessage() and record.exc_info for record in caplog.records)
    assert secret in caplog.text


async def test_an_unexpected_failure_outside_graphql_is_a_bare_500(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway import app as app_module

    async def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(app_module, "read_requests", boom)
    response = await client.post("/graphql", json={"query": "{ __typename }"})
    request_id = response.headers["x-request-id"]
    assert response.status_code == 500 and "secret" not in response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "INTERNAL"
    assert request_id in response.json()["errors"][0]["message"]
