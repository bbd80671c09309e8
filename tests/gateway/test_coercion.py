"""The compiled variable coercion answers exactly what graphql-core answers, or leaves the request to it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC
from typing import Any

import graphql
import httpx
import pytest
from graphql import (
    GraphQLArgument,
    GraphQLDefaultInput,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    Undefined,
    VariableDefinitionNode,
    get_variable_values,
    parse,
    parse_const_value,
    print_ast,
)
from graphql import execute as graphql_execute
from graphql.execution.values import VariableValues
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from gateway import documents as documents_module
from gateway.coercion import compile_variables
from gateway.documents import PreparedDocuments
from gateway.runtime import build_graphql_schema
from gateway.settings import load_settings
from schema.build import build_schema
from scripts.import_suppliers import MUTATION
from tests.conftest import PlatformClient, get_token, gql

HYPOTHESIS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> PreparedDocuments:
    """The served schema and its prepared-document path, as gateway.runtime builds them."""
    settings_ = load_settings({"LIVEGATE_DATA_DIR": str(tmp_path_factory.mktemp("data"))})
    return build_graphql_schema(settings_)[1]


@pytest.fixture(scope="module")
def served(documents: PreparedDocuments) -> GraphQLSchema:
    return documents._schema._schema


def _definitions(variables: str) -> tuple[VariableDefinitionNode, ...]:
    operation = parse(f"query ({variables}) {{ __typename }}").definitions[0]
    return tuple(operation.variable_definitions)  # type: ignore[attr-defined]


def _fast(schema: GraphQLSchema, definitions: tuple[VariableDefinitionNode, ...], inputs: Any) -> VariableValues | None:
    coerce = compile_variables(schema, definitions)
    assert coerce is not None
    try:
        return coerce(inputs)
    except Exception:  # gave up: the gateway runs graphql-core
        return None


def _strict(value: Any) -> Any:
    """A value with its Python types and key order spelled out, so 1 and True or 1 and 1.0 differ."""
    if isinstance(value, dict):
        return ("dict", tuple((key, _strict(item)) for key, item in value.items()))
    if isinstance(value, list):
        return ("list", tuple(_strict(item) for item in value))
    return (type(value), value)


def _signature(source: Any) -> tuple[Any, ...]:
    signature = source.signature
    default = None if signature.default is None else print_ast(signature.default.literal)
    return (signature.name, str(signature.type), default, signature.default_value)


def _assert_same(fast: VariableValues, core: VariableValues | list[GraphQLError]) -> None:
    assert isinstance(core, VariableValues), core
    assert list(fast.sources) == list(core.sources)
    for name, source in fast.sources.items():
        assert _signature(source) == _signature(core.sources[name])
        assert source.value is core.sources[name].value  # the raw input, untouched
    assert _strict(fast.coerced) == _strict(core.coerced)


def _check(schema: GraphQLSchema, variables: str, inputs: dict[str, Any], *, valid: bool) -> None:
    definitions = _definitions(variables)
    fast = _fast(schema, definitions, inputs)
    core = get_variable_values(schema, definitions, inputs)
    if valid:
        assert fast is not None, (variables, inputs, core)
    if fast is not None:  # it only ever answers for input graphql-core accepts, with the same values
        _assert_same(fast, core)


# Values for the served schema's input types: valid ones, and noisy ones (any JSON anywhere, unknown and
# missing fields) that graphql-core may or may not accept.

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
_SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "String": st.text(max_size=6),
    "ID": st.text(max_size=6) | st.integers(),
    "Int": st.integers(-(2**31), 2**31 - 1),
    "Float": st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**31), 2**31 - 1),
    "Boolean": st.booleans(),
    "Date": st.dates().map(lambda d: d.isoformat()),
    "DateTime": st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
    "Upload": st.text(max_size=6),
}


def _values(type_: GraphQLInputType, noisy: bool) -> st.SearchStrategy[Any]:
    if isinstance(type_, GraphQLNonNull):
        strategy = _present(type_.of_type, noisy)
    else:
        strategy = st.none() | _present(type_, noisy)
    return st.one_of(strategy, _JSON) if noisy else strategy


def _present(type_: GraphQLInputType, noisy: bool) -> st.SearchStrategy[Any]:
    if isinstance(type_, GraphQLList):
        item = type_.of_type
        lists = st.lists(_values(item, noisy), max_size=3)
        named = item.of_type if isinstance(item, GraphQLNonNull) else item
        if isinstance(named, GraphQLList):
            return lists
        return lists | _present(named, noisy)  # a single value stands for a list of one
    if isinstance(type_, GraphQLInputObjectType):
        fields = type_.fields.items()
        required = {n: _values(f.type, noisy) for n, f in fields if graphql.is_required_input_field(f)}
        optional = {n: _values(f.type, noisy) for n, f in fields if not graphql.is_required_input_field(f)}
        if noisy:  # any field may be missing, and an unknown one may come along
            optional = {**optional, **required, "unknownField": _JSON}
            required = {}
        return st.fixed_dictionaries(required, optional=optional)
    if isinstance(type_, GraphQLEnumType):
        names = st.sampled_from(sorted(type_.values))
        return names | st.text(max_size=4) if noisy else names
    assert isinstance(type_, GraphQLScalarType)
    return _SCALARS[type_.name]  # a new scalar in an input needs its values here


def _shapes(schema: GraphQLSchema) -> Iterator[str]:
    """A variable of every input type, as operations declare them, and the list shapes the contract uses."""
    inputs = GraphQLInputObjectType | GraphQLEnumType | GraphQLScalarType
    for name, type_ in sorted(schema.type_map.items()):
        if isinstance(type_, inputs) and not name.startswith("__"):
            yield f"$v: {name}!, $n: {name}"
    yield "$rows: [SupplierInput!]!"
    yield "$ids: [ID!], $nested: [[Int]]"
    yield "$first: Int, $after: String, $status: VerificationStatus, $category: ProductCategory"


# The same types as the served schema's (gateway.runtime adds only extensions), for parametrizing.
TYPES = build_schema()._schema
SHAPES = list(_shapes(TYPES))


@pytest.mark.parametrize("variables", SHAPES)
@HYPOTHESIS
@given(data=st.data())
def test_valid_values_coerce_as_graphql_core_does(served: GraphQLSchema, variables: str, data: st.DataObject) -> None:
    definitions = _definitions(variables)
    inputs = {}
    for node in definitions:
        value = data.draw(
            _values(graphql.type_from_ast(served, node.type), noisy=False), label=node.variable.name.value
        )
        if value is not None or data.draw(st.booleans(), label="explicit null"):
            inputs[node.variable.name.value] = value  # else omitted
    _check(served, variables, inputs, valid=True)


@pytest.mark.parametrize("variables", SHAPES)
@HYPOTHESIS
@given(data=st.data())
def test_noisy_values_coerce_as_graphql_core_does_or_go_to_it(
    served: GraphQLSchema, variables: str, data: st.DataObject
) -> None:
    inputs = {
        node.variable.name.value: data.draw(_values(graphql.type_from_ast(served, node.type), noisy=True))
        for node in _definitions(variables)
    }
    _check(served, variables, inputs, valid=False)


ROW = {
    "externalRef": "r-1",
    "kind": "NATURAL_PERSON",
    "name": "黄芳娜",
    "address": "上海市浦东新区科技园路375号",
    "contactPhone": "13978106871",
    "categories": ["GENERAL", "FOOD"],
    "identity": {
        "type": "PASSPORT",
        "number": "E12345678",
        "fullName": "Huang Fangna",
        "birthDate": "1990-02-03",
        "expiresOn": None,
        "nationality": "CHN",
        "mrz": "P<CHN...",
    },
    "licenses": [
        {"type": "FOOD_BUSINESS", "number": "JY1", "validUntil": "2030-01-01"},
        {"type": "DRUG_BUSINESS", "number": "x"},
    ],
}


@pytest.mark.parametrize(
    ("variables", "inputs"),
    [
        ("$rows: [SupplierInput!]!", {"rows": [ROW]}),
        ("$rows: [SupplierInput!]!", {"rows": ROW}),  # a single row stands for a list of one
        ("$rows: [SupplierInput!]!", {"rows": [{**ROW, "identity": None, "creditCode": "91440300MA5DXXXX1X"}]}),
        ("$rows: [SupplierInput!]!", {"rows": [{k: v for k, v in ROW.items() if k != "licenses"}]}),  # the default
        ("$rows: [SupplierInput!]!", {"rows": [{**ROW, "licenses": None}]}),  # explicit null, not the default
        ("$rows: [SupplierInput!]!", {"rows": []}),
        ("$s: SupplierInput", {}),  # a nullable variable left out is left out
        ("$s: SupplierInput", {"s": None}),
        ("$first: Int = 10, $status: VerificationStatus = PENDING", {}),  # operation defaults
        ("$first: Int = 10, $status: VerificationStatus = PENDING", {"first": None, "status": "VERIFIED"}),
        ('$k: [ProductCategory!] = [FOOD, DRUG], $l: [String] = "one"', {}),
        (
            '$s: SupplierInput = {externalRef: "x", kind: ENTERPRISE, name: "n", address: "a", contactPhone: "p", '
            "categories: GENERAL}",
            {},
        ),
        ("$d: Date, $t: DateTime, $id: ID", {"d": "2024-02-29", "t": "2026-11-29T08:00:00+08:00", "id": 7}),
        ("$i: Int, $b: Boolean, $f: [Float]", {"i": 2**31 - 1, "b": False, "f": [1, 2.5]}),
    ],
)
def test_the_contracts_shapes_coerce_as_graphql_core_does(
    served: GraphQLSchema, variables: str, inputs: dict[str, Any]
) -> None:
    _check(served, variables, inputs, valid=True)


def test_a_missing_field_takes_graphql_cores_own_default_object(served: GraphQLSchema) -> None:
    definitions = _definitions("$rows: [SupplierInput!]!")
    inputs = {"rows": [{k: v for k, v in ROW.items() if k != "licenses"}]}
    fast = _fast(served, definitions, inputs)
    core = get_variable_values(served, definitions, inputs)
    assert fast is not None and isinstance(core, VariableValues)
    assert fast.coerced["rows"][0]["licenses"] is core.coerced["rows"][0]["licenses"]


@pytest.mark.parametrize(
    ("variables", "inputs"),
    [
        ("$rows: [SupplierInput!]!", {"rows": ({**ROW},)}),  # a tuple: graphql-core iterates it, left to it
        ("$rows: [SupplierInput!]!", {"rows": [{**ROW, "kind": "BANK"}]}),  # unknown enum name
        ("$rows: [SupplierInput!]!", {"rows": [{**ROW, "kind": 1}]}),
        ("$rows: [SupplierInput!]!", {"rows": [{**ROW, "name": 5}]}),  # a number for a String
        ("$rows: [SupplierInput!]!", {"rows": [{**ROW, "name": None}]}),  # null for non-null
        ("$rows: [SupplierInput!]!", {"rows": [{**ROW, "extra": 1}]}),  # unknown field
        ("$rows: [SupplierInput!]!", {"rows": [{k: v for k, v in ROW.items() if k != "name"}]}),  # missing field
        ("$rows: [SupplierInput!]!", {"rows": [None]}),
        ("$rows: [SupplierInput!]!", {"rows": ["row"]}),
        ("$rows: [SupplierInput!]!", {"rows": [{**ROW, "identity": {**ROW["identity"], "birthDate": "1990-13-01"}}]}),
        ("$rows: [SupplierInput!]!", {}),
        ("$rows: [SupplierInput!]!", {"rows": None}),
        ("$t: DateTime", {"t": "2026-11-29T08:00:00"}),  # no offset
        ("$i: Int", {"i": 2**31}),
        ("$i: Int", {"i": True}),
        ("$first: Int = 10", {"first": "10"}),
    ],
)
def test_invalid_values_go_to_graphql_core(served: GraphQLSchema, variables: str, inputs: dict[str, Any]) -> None:
    definitions = _definitions(variables)
    assert _fast(served, definitions, inputs) is None
    refused = isinstance(get_variable_values(served, definitions, inputs), list)
    assert refused or isinstance(inputs.get("rows"), tuple)


def _deep_list(depth: int, leaf: Any = "x") -> Any:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def _deep_dict(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("variables", "inputs"),
    [
        ("$v: String", {"v": _deep_list(100_000)}),
        ("$v: [String]", {"v": _deep_list(100_000)}),
        ("$v: [[Int]]", {"v": _deep_list(100_000, 1)}),
        ("$rows: [SupplierInput!]!", {"rows": _deep_list(100_000)}),
        ("$rows: [SupplierInput!]!", {"rows": [{**ROW, "name": _deep_list(100_000)}]}),
        ("$rows: [SupplierInput!]!", {"rows": [{**ROW, "identity": _deep_dict(100_000)}]}),
        ("$rows: [SupplierInput!]!", {"rows": [{**ROW, "licenses": _deep_list(100_000)}]}),
    ],
)
def test_deep_nesting_gets_graphql_cores_answer(served: GraphQLSchema, variables: str, inputs: dict[str, Any]) -> None:
    definitions = _definitions(variables)
    assert _fast(served, definitions, inputs) is None
    core = get_variable_values(served, definitions, inputs)
    assert isinstance(core, list) and core  # a refusal in words, no RecursionError


# Through the prepared-document path: for refused variables the answer is graphql-core's own.


def _errors(result: Any) -> list[dict[str, Any]]:
    return [error.formatted for error in result.errors or ()]


@HYPOTHESIS
@given(rows=_values(TYPES.type_map["ImportSuppliersInput"].fields["rows"].type, noisy=True))  # type: ignore[union-attr]
def test_refused_rows_get_graphql_cores_errors_on_the_prepared_path(documents: PreparedDocuments, rows: Any) -> None:
    _assert_refusals_match(documents, {"rows": rows})


@pytest.mark.parametrize(
    "inputs",
    [
        {"rows": [{**ROW, "kind": "BANK"}]},
        {"rows": [{**ROW, "name": 5}, {**ROW, "extra": 1}]},
        {"rows": _deep_list(100_000)},
        {"rows": _deep_list(300, ROW)},
        {"rows": [{**ROW, "name": _deep_list(100_000)}]},
        {},
    ],
)
def test_refusals_on_the_prepared_path_are_graphql_cores(documents: PreparedDocuments, inputs: dict[str, Any]) -> None:
    _assert_refusals_match(documents, inputs)


def _assert_refusals_match(documents: PreparedDocuments, inputs: dict[str, Any]) -> None:
    prepared = documents.get(MUTATION)
    assert prepared is not None and "ImportSuppliers" in prepared.plans
    schema = documents._schema._schema
    core = get_variable_values(schema, prepared.plans["ImportSuppliers"].operation.variable_definitions, inputs)
    if not isinstance(core, list):
        return  # accepted: running it needs a database (the HTTP tests run it)
    fast = asyncio.run(documents.execute(prepared, variables=inputs, operation_name="ImportSuppliers", context=None))
    expected = graphql_execute(schema, parse(MUTATION), variable_values=inputs, operation_name="ImportSuppliers")
    assert fast is not None and fast.data is None and _errors(fast) == _errors(expected)  # type: ignore[arg-type]


def test_the_import_mutation_is_compiled_on_the_audited_graphql_core(documents: PreparedDocuments) -> None:
    # Executor.build and the coercion were read for this graphql-core; another needs the same reading
    # (gateway/coercion.py, PreparedDocuments.execute) before COMPILED_COERCION admits it.
    assert documents_module.COMPILED_COERCION, f"graphql-core {graphql.version}: re-audit the compiled coercion"
    prepared = documents.get(MUTATION)
    assert prepared is not None and set(prepared.plans) == {"ImportSuppliers", None}


# graphql-core features the served schema does not use: out_name, out_type, field defaults given as
# literals, @oneOf, an enum of plain values, a scalar answering Undefined, a recursive input type.


def _odd(value: Any) -> Any:
    if value == 13:
        return Undefined  # graphql-core takes this for a refusal
    return GraphQLInt.coerce_input_value(value)


ODD = GraphQLScalarType("Odd", coerce_input_value=_odd)
COLOR = GraphQLEnumType("Color", {"RED": 0, "GREEN": None, "BLUE": [1]})
POINT = GraphQLInputObjectType(
    "Point",
    {
        "x": GraphQLInputField(GraphQLNonNull(GraphQLInt), out_name="x_"),
        "y": GraphQLInputField(GraphQLNonNull(GraphQLInt), default=GraphQLDefaultInput(literal=parse_const_value("3"))),
        "c": GraphQLInputField(COLOR, default=GraphQLDefaultInput(value="RED")),
        "o": GraphQLInputField(ODD),
    },
    out_type=lambda fields: ("point", tuple(sorted(fields.items(), key=str))),
)
PICK = GraphQLInputObjectType(
    "Pick", {"a": GraphQLInputField(GraphQLString), "p": GraphQLInputField(POINT)}, is_one_of=True
)
CHAIN: GraphQLInputObjectType = GraphQLInputObjectType(
    "Chain", lambda: {"next": GraphQLInputField(CHAIN), "v": GraphQLInputField(GraphQLInt)}
)
SYNTHETIC = GraphQLSchema(
    GraphQLObjectType(
        "Query",
        {
            "f": GraphQLField(
                GraphQLString,
                {
                    "pick": GraphQLArgument(PICK),
                    "points": GraphQLArgument(GraphQLList(POINT)),
                    "chain": GraphQLArgument(CHAIN),
                },
            )
        },
    )
)
_SCALARS["Odd"] = st.integers(-20, 20)


@HYPOTHESIS
@given(data=st.data(), noisy=st.booleans())
def test_graphql_core_features_the_schema_does_not_use_yet(data: st.DataObject, noisy: bool) -> None:
    variables = "$pick: Pick, $points: [Point!]!, $color: Color = GREEN"
    inputs = {
        "pick": data.draw(_values(PICK, noisy)),
        "points": data.draw(_values(GraphQLNonNull(GraphQLList(GraphQLNonNull(POINT))), noisy)),
    }
    definitions = _definitions(variables)
    fast = _fast(SYNTHETIC, definitions, inputs)
    if fast is not None:
        _assert_same(fast, get_variable_values(SYNTHETIC, definitions, inputs))


@pytest.mark.parametrize(
    ("inputs", "answers"),
    [
        ({"pick": {"a": "x"}, "points": [{"x": 1}, {"x": 2, "y": 5, "c": "BLUE", "o": 1}]}, True),
        ({"pick": {"p": {"x": 1}}, "points": {"x": 1}}, True),
        ({"pick": {"a": "x", "p": None}, "points": []}, False),  # @oneOf: exactly one field
        ({"pick": {"a": None}, "points": []}, False),  # @oneOf: not null
        ({"points": [{"x": 1, "o": 13}]}, False),  # the scalar answered Undefined
        ({"points": [{"x": 1, "c": 0}]}, False),
    ],
)
def test_synthetic_cases(inputs: dict[str, Any], answers: bool) -> None:
    definitions = _definitions("$pick: Pick, $points: [Point!]!, $color: Color = GREEN")
    fast = _fast(SYNTHETIC, definitions, inputs)
    core = get_variable_values(SYNTHETIC, definitions, inputs)
    assert (fast is not None) is answers
    if fast is not None:
        _assert_same(fast, core)


def test_a_recursive_input_type_is_left_to_graphql_core() -> None:
    # Its values nest without bound: graphql-core's pre-walk refuses past MAX_NESTING_DEPTH.
    assert compile_variables(SYNTHETIC, _definitions("$chain: Chain")) is None
    assert compile_variables(SYNTHETIC, _definitions("$ok: [Point], $chain: [Chain!]")) is None
    assert compile_variables(SYNTHETIC, _definitions("$ok: [Point]")) is not None


# Over HTTP, through the ASGI app.


async def test_a_bad_row_answers_graphql_cores_bad_user_input_over_http(
    app: Starlette, client: httpx.AsyncClient, platform: PlatformClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = await get_token(client, platform, "suppliers:write")
    seen: list[VariableValues | None] = []
    compiled = documents_module._coerced

    def recording(plan: Any, variables: dict[str, Any] | None) -> VariableValues | None:
        seen.append(compiled(plan, variables))
        return seen[-1]

    monkeypatch.setattr(documents_module, "_coerced", recording)
    refused = [
        {"rows": [{**ROW, "kind": 7}, {**ROW, "name": ["x"]}]},
        {"rows": [{k: v for k, v in ROW.items() if k != "contactPhone"}]},
        {"rows": _deep_list(500, ROW)},  # deeper than graphql-core's MAX_NESTING_DEPTH, within the JSON parser's
    ]
    answers = [await gql(client, MUTATION, variables, token=token) for variables in refused]
    assert seen == [None, None, None]  # all left to graphql-core
    for answer in answers:
        assert answer.status_code == 200
        errors = answer.json()["errors"]
        assert "data" not in answer.json() and {e["extensions"]["code"] for e in errors} == {"BAD_USER_INPUT"}
    assert answers[0].json()["errors"][0]["message"].startswith("Variable '$rows' has invalid value at [0].kind: ")
    # graphql-core's depth pre-walk follows the type: a deep value where a row is expected is just not a row.
    assert (
        answers[2]
        .json()["errors"][0]["message"]
        .startswith("Variable '$rows' has invalid value at [0]: Expected value of type 'SupplierInput' to be an object")
    )

    # The same answers as graphql-core's own coercion gives (the path before the compiled one).
    monkeypatch.setattr(documents_module, "_coerced", lambda plan, variables: None)
    for variables, answer in zip(refused, answers, strict=True):
        assert (await gql(client, MUTATION, variables, token=token)).json() == answer.json()

    # A valid row takes the compiled path and is written.
    monkeypatch.setattr(documents_module, "_coerced", recording)
    written = await gql(
        client, MUTATION, {"rows": [{**ROW, "identity": {**ROW["identity"], "type": "RESIDENT_ID_CARD"}}]}, token=token
    )
    assert seen[-1] is not None
    assert "errors" not in written.json(), written.text
