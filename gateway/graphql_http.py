"""GraphQL over HTTP: a thin endpoint around `schema.execute`.

Written out rather than taken from `strawberry.asgi.GraphQL` because the contract needs rules that
view does not have (no execution over GET, batches of queries only, CSRF on multipart, our error
codes and masking) and because the thin path is measurably faster (notes/stack-bench.md).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import strawberry
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError, OperationType, parse
from graphql.error import GraphQLSyntaxError
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType as ServedOperation

from gateway.documents import PreparedDocuments
from gateway.errors import http_error
from registry.problems import DomainError
from schema.context import Context

log = logging.getLogger("livegate.graphql")

JSON = "application/json"
_CSRF_HEADERS = ("apollo-require-preflight", "graphql-require-preflight", "x-apollo-operation-name")
_SERVED = frozenset({ServedOperation.QUERY, ServedOperation.MUTATION})
INTERNAL_MESSAGE = "Internal error. Quote the X-Request-Id response header when you report it."


@dataclass(frozen=True, slots=True)
class GraphQLRequest:
    query: str
    variables: dict[str, Any] | None
    operation_name: str | None


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _one(raw: object) -> GraphQLRequest:
    if not isinstance(raw, dict):
        raise BadRequest(400, "A GraphQL request is a JSON object with a query.")
    query, variables, name = raw.get("query"), raw.get("variables"), raw.get("operationName")
    if not isinstance(query, str) or not query.strip():
        raise BadRequest(400, "The request has no GraphQL query.")
    if variables is not None and not isinstance(variables, dict):
        raise BadRequest(400, "`variables` must be a JSON object.")
    if name is not None and not isinstance(name, str):
        raise BadRequest(400, "`operationName` must be a string.")
    return GraphQLRequest(query, variables, name)


def _place_files(operations: Any, files_map: object, files: Mapping[str, UploadFile]) -> Any:
    """Put uploaded files where the multipart `map` says (GraphQL multipart request spec)."""
    if not isinstance(files_map, dict):
        raise BadRequest(400, "The multipart `map` must be a JSON object.")
    for part, paths in files_map.items():
        upload = files.get(part)
        if upload is None or not isinstance(paths, list):
            raise BadRequest(400, f"The multipart `map` names a missing file part {part!r}.")
        for path in paths:
            _place(operations, path, upload)
    return operations


def _place(target: Any, path: object, upload: UploadFile) -> None:
    keys = path.split(".") if isinstance(path, str) else []
    if not keys:
        raise BadRequest(400, "A multipart `map` path must be a dotted string such as variables.image.")
    try:
        for key in keys[:-1]:
            target = target[int(key)] if isinstance(target, list) else target[key]
        last = keys[-1]
        if isinstance(target, list):
            target[int(last)] = upload
        elif isinstance(target, dict) and last in target:
            target[last] = upload
        else:
            raise KeyError(last)
    except (KeyError, IndexError, ValueError, TypeError):
        raise BadRequest(400, f"The multipart `map` path {path!r} does not lead to a null variable.") from None


async def read_requests(request: Request, *, max_files: int) -> tuple[list[GraphQLRequest], bool]:
    """The operations of the request, and whether it was a batch."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == JSON:
        try:
            payload = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            raise BadRequest(400, "The body is not valid JSON.") from None
    elif content_type == "multipart/form-data":
        payload = await _read_multipart(request, max_files=max_files)
    else:
        raise BadRequest(415, "Send GraphQL as application/json (or multipart/form-data for uploads).")
    if isinstance(payload, list):
        if not payload:
            raise BadRequest(400, "The batch is empty.")
        return [_one(item) for item in payload], True
    return [_one(payload)], False


async def _read_multipart(request: Request, *, max_files: int) -> Any:
    # A form post is a "simple" CORS request; a custom header forces a preflight (CVE-2024-47082).
    if not any(request.headers.get(name) for name in _CSRF_HEADERS):
        raise BadRequest(400, "Multipart requests must carry the header Apollo-Require-Preflight: true.")
    try:
        form = await request.form(max_files=max_files, max_fields=max_files + 2)
    except Exception:  # multipart parser errors have no common base class
        raise BadRequest(400, "The multipart body could not be parsed.") from None
    operations, files_map = form.get("operations"), form.get("map", "{}")
    if not isinstance(operations, str) or not isinstance(files_map, str):
        raise BadRequest(400, "A multipart request needs the form fields `operations` and `map`.")
    try:
        parsed, mapping = orjson.loads(operations), orjson.loads(files_map)
    except orjson.JSONDecodeError:
        raise BadRequest(400, "The multipart `operations` or `map` field is not valid JSON.") from None
    files = {key: value for key, value in form.multi_items() if isinstance(value, UploadFile)}
    return _place_files(parsed, mapping, files)


def check_batch(requests: list[GraphQLRequest], *, max_batch: int) -> None:
    """Batches may hold only queries: a mutation's effects must never depend on a neighbour's timing."""
    if len(requests) > max_batch:
        raise BadRequest(400, f"A batch may hold at most {max_batch} operations.")
    for item in requests:
        try:
            document = parse(item.query, max_tokens=20_000)
        except GraphQLSyntaxError:
            continue  # reported per operation with GRAPHQL_PARSE_FAILED
        for definition in document.definitions:
            operation = getattr(definition, "operation", None)
            if operation is not None and operation is not OperationType.QUERY:
                raise BadRequest(400, "A batch may hold queries only; send each mutation on its own.")


async def execute(
    schema: strawberry.Schema, documents: PreparedDocuments, item: GraphQLRequest, context: Context
) -> dict[str, Any]:
    result: ExecutionResult | GraphQLExecutionResult | None = None
    prepared = documents.get(item.query)
    if prepared is not None:
        try:
            result = await documents.execute(
                prepared, variables=item.variables, operation_name=item.operation_name, context=context
            )
        except Exception as exc:  # as schema.execute does: an INTERNAL error in the body, never a 500
            result = GraphQLExecutionResult(None, [GraphQLError(str(exc), original_error=exc)])
    if result is None:
        try:
            result = await _checked(schema, item, context)
        except CannotGetOperationTypeError as exc:
            return _request_error(exc.as_http_error_reason(), "BAD_USER_INPUT")
        except InvalidOperationTypeError:
            return _request_error("Only queries and mutations are served here.", "BAD_USER_INPUT")
    body: dict[str, Any] = {}
    if result.errors:
        body["errors"] = [format_error(error, context.request_id) for error in result.errors]
    if result.data is not None or not result.errors or _reached_execution(result.errors):
        body["data"] = result.data
    return body


async def _checked(schema: strawberry.Schema, item: GraphQLRequest, context: Context) -> ExecutionResult:
    """Strawberry's own path, with every extension: for whatever the prepared path does not take."""
    return await schema.execute(
        item.query,
        variable_values=item.variables,
        context_value=context,
        operation_name=item.operation_name,
        allowed_operation_types=_SERVED,
    )


def _request_error(message: str, code: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


def _reached_execution(errors: list[GraphQLError]) -> bool:
    return any(error.path for error in errors)


def format_error(error: GraphQLError, request_id: str) -> dict[str, Any]:
    code = (error.extensions or {}).get("code")
    if code is None and isinstance(error.original_error, DomainError):
        # A query argument the registry refused (e.g. a cursor it never issued): the caller's input.
        message = " ".join(p.message for p in error.original_error.problems)
        return {"message": message, "path": error.path, "extensions": {"code": "BAD_USER_INPUT"}}
    if code is None and isinstance(error, GraphQLSyntaxError):
        code = "GRAPHQL_PARSE_FAILED"
    if code is None and not error.path and (error.original_error is None or error.message.startswith("Variable '$")):
        # Raised by graphql-core before any resolver ran: variables that do not coerce.
        code = "BAD_USER_INPUT"
    if code is None:
        log.error("unexpected error in %s (request %s)", error.path, request_id, exc_info=error.original_error)
        formatted: dict[str, Any] = {"message": INTERNAL_MESSAGE, "extensions": {"code": "INTERNAL"}}
        if error.path:
            formatted["path"] = error.path
        return formatted
    formatted = error.formatted
    formatted["extensions"] = {**(error.extensions or {}), "code": code}
    return dict(formatted)


def json_response(body: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=JSON, headers=dict(headers or {}))


def bad_request_response(exc: BadRequest) -> Response:
    return http_error(exc.status, exc.message)
