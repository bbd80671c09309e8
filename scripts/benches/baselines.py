"""The bare apps the gateway is measured against, each started with `uvicorn --factory`.

scripts.benches.baselines:strawberry_app    strawberry.asgi.GraphQL with ParserCache and ValidationCache:
                                            `{ hello }`, and `insertRow` (one INSERT through an asyncpg
                                            pool) when BENCH_DATABASE_URL is set
scripts.benches.baselines:graphql_core_app  a Starlette endpoint executing a cached parsed and validated
                                            document with graphql.execute, answered with orjson
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from inspect import isawaitable
from typing import Any

import asyncpg
import orjson
import strawberry
from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
    execute,
    parse,
    validate,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache

CACHE_SIZE = 1024  # as the gateway's (gateway/runtime.py)
INSERT_TABLE = "bench_insert_row"
CREATE_INSERT_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {INSERT_TABLE} "
    "(id bigserial PRIMARY KEY, key varchar(64) NOT NULL UNIQUE, name varchar(200) NOT NULL, "
    "created_at timestamptz NOT NULL DEFAULT now())"
)

INSERT_ROW = f"INSERT INTO {INSERT_TABLE} (key, name) VALUES ($1, $2) RETURNING id, key"


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "world"


@strawberry.type
class Row:
    id: int
    key: str


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def insert_row(self, info: strawberry.Info, key: str, name: str) -> Row:
        pool: asyncpg.Pool = info.context["request"].app.state.pool
        row = await pool.fetchrow(
            f"INSERT INTO {INSERT_TABLE} (key, name) VALUES ($1, $2) RETURNING id, key", key, name
        )
        assert row is not None
        return Row(id=row["id"], key=row["key"])


def strawberry_app() -> Starlette:
    schema = strawberry.Schema(
        query=Query,
        mutation=Mutation,
        extensions=[lambda: ParserCache(maxsize=CACHE_SIZE), lambda: ValidationCache(maxsize=CACHE_SIZE)],
    )
    url = os.environ.get("BENCH_DATABASE_URL")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if url is None:
            yield
            return
        size = int(os.environ.get("BENCH_POOL_SIZE", "5"))
        async with asyncpg.create_pool(url, min_size=1, max_size=size) as pool:
            app.state.pool = pool
            yield

    return Starlette(routes=[Route("/graphql", GraphQL(schema, graphql_ide=None))], lifespan=lifespan)


def _hello_schema() -> GraphQLSchema:
    hello = GraphQLField(GraphQLString, resolve=lambda *_: "world")
    return GraphQLSchema(query=GraphQLObjectType("Query", {"hello": hello}))


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def graphql_core_app() -> Starlette:
    schema = _hello_schema()
    documents: dict[str, DocumentNode] = {}  # query text -> parsed and validated document

    async def endpoint(request: Request) -> Response:
        payload = orjson.loads(await request.body())
        query = payload["query"]
        document = documents.get(query)
        if document is None:
            document = parse(query)
            errors = validate(schema, document)
            if errors:
                return _json({"errors": [e.formatted for e in errors]}, status=400)
            if len(documents) < CACHE_SIZE:
                documents[query] = document
        result = execute(
            schema, document, variable_values=payload.get("variables"), operation_name=payload.get("operationName")
        )
        if isawaitable(result):
            result = await result
        assert isinstance(result, ExecutionResult)
        body: dict[str, Any] = {"data": result.data}
        if result.errors:
            body["errors"] = [e.formatted for e in result.errors]
        return _json(body)

    return Starlette(routes=[Route("/graphql", endpoint, methods=["POST"])])
