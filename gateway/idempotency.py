"""Idempotency-Key on mutation requests (contract/HTTP.md, Requests).

The fingerprint is a SHA-256 over the parsed operations, with each uploaded file replaced by the
SHA-256 of its content: a retry with a new multipart boundary is the same request, and no request
body (identity numbers) is ever stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from graphql import OperationDefinitionNode, OperationType, parse
from graphql.error import GraphQLSyntaxError
from starlette.datastructures import UploadFile
from starlette.responses import Response

from gateway.errors import http_error
from gateway.graphql_http import GraphQLRequest
from registry.idempotency.services import IdempotencyStore, InvalidIdempotencyKey, Outcome

REPLAYED = "Idempotent-Replayed"
_KEPT_HEADERS = ("content-type",)


async def _file_digest(upload: UploadFile) -> str:
    digest = hashlib.sha256()
    while chunk := await upload.read(1 << 16):
        digest.update(chunk)
    await upload.seek(0)  # the resolver reads it again
    return digest.hexdigest()


async def _canonical(value: Any) -> Any:
    if isinstance(value, UploadFile):
        return {"$file": await _file_digest(value)}
    if isinstance(value, dict):
        return {key: await _canonical(item) for key, item in value.items()}
    if isinstance(value, list):
        return [await _canonical(item) for item in value]
    return value


async def fingerprint(operations: list[GraphQLRequest]) -> str:
    plain = [[op.query, op.variables or {}, op.operation_name] for op in operations]
    try:
        # Without uploads the variables are parsed JSON, already canonical: hashed as they are, without
        # a walk through every value (a 1,000-row import holds tens of thousands). orjson refuses an
        # UploadFile, and a request with uploads takes the walk.
        return hashlib.sha256(orjson.dumps(plain, option=orjson.OPT_SORT_KEYS)).hexdigest()
    except orjson.JSONEncodeError:
        pass
    canonical = [[op.query, await _canonical(op.variables or {}), op.operation_name] for op in operations]
    return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()


def is_mutation(operation: GraphQLRequest) -> bool:
    try:
        document = parse(operation.query, max_tokens=20_000)
    except GraphQLSyntaxError:
        return False
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and (
            operation.operation_name is None or (definition.name and definition.name.value == operation.operation_name)
        ):
            return definition.operation is OperationType.MUTATION
    return False


async def run_once(
    store: IdempotencyStore,
    subject: str,
    key: str,
    operations: list[GraphQLRequest],
    execute: Callable[[], Awaitable[Response]],
) -> Response:
    """Execute the request once per (subject, key); replay, refuse or wait as the contract says."""
    digest = await fingerprint(operations)
    try:
        begin = await store.begin(subject, key, digest)
    except InvalidIdempotencyKey:
        return http_error(400, "Idempotency-Key must be 1 to 255 printable ASCII characters.")
    if begin.outcome is Outcome.REPLAY:
        headers = {**(begin.headers or {}), REPLAYED: "true"}
        return Response(begin.body or b"", status_code=begin.status or 200, headers=headers)
    if begin.outcome is Outcome.IN_PROGRESS:
        return http_error(409, "A request with this Idempotency-Key is still running; retry shortly.")
    if begin.outcome is Outcome.MISMATCH:
        return http_error(422, "This Idempotency-Key was used with a different request body.")
    try:
        response = await execute()
    except BaseException:
        await store.abandon(subject, key, digest)
        raise
    body = bytes(response.body)
    headers = {name: response.headers[name] for name in _KEPT_HEADERS if name in response.headers}
    await store.complete(subject, key, digest, status=response.status_code, body=body, headers=headers)
    return response
