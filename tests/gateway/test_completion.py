"""Compiled completions answer exactly as graphql-core does, errors included, or are not used at all."""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import Enum
from types import SimpleNamespace
from typing import Any

import pytest
import strawberry
from graphql import ExecutionResult
from graphql import execute as graphql_execute
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strawberry.execution import optimized_is_awaitable
from strawberry.schema._graphql_core import execution_context_class_kwargs
from strawberry.types.field import StrawberryField

from gateway.completion import Completions
from gateway.documents import PreparedDocuments


@strawberry.enum
class Color(Enum):
    RED = "RED"
    BLUE = "BLUE"


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Leaf(Named):
    size: int | None
    tags: list[str] | None
    colors: list[Color]
    at: datetime | None


@strawberry.type
class Box:
    label: str
    leaf: Leaf | None
    leaves: list[Leaf | None]
    strict: Leaf

    @strawberry.field
    def shout(self) -> str:
        return self.label.upper()


class _Shouting(StrawberryField):
    """A field class that reads its value its own way: the program must not read it as a plain field."""

    def get_result(self, source: Any, info: Any, args: list[Any], kwargs: Any) -> Any:
        return str(super().get_result(source, info, args, kwargs)).upper()


@strawberry.type
class Loud:
    word: str = _Shouting()


@strawberry.type
class Query:
    @strawberry.field
    def loud(self) -> Loud:
        return Loud(word="hi")

    @strawberry.field
    def box(self, info: strawberry.Info) -> Box | None:
        return info.context["box"]  # type: ignore[no-any-return]

    @strawberry.field
    def strict_box(self, info: strawberry.Info) -> Box:
        return info.context["box"]  # type: ignore[no-any-return]

    @strawberry.field
    async def later_box(self, info: strawberry.Info) -> Box | None:
        return info.context["box"]  # type: ignore[no-any-return]

    @strawberry.field
    def box_labelled(self, info: strawberry.Info, label: str, times: int = 1) -> Box | None:
        box = info.context["box"]
        return Box(label=label * times, leaf=None, leaves=[], strict=box.strict) if isinstance(box, Box) else box

    @strawberry.field
    def failing(self) -> Box | None:
        raise ValueError("no box today")

    @strawberry.field
    async def strict_failing(self) -> Box:
        raise ValueError("no box at all")


@strawberry.type
class Mutation:
    @strawberry.mutation
    def relabel(self, info: strawberry.Info, label: str) -> Box:
        box = info.context["box"]
        if isinstance(box, Box):
            box.label = label
        return box  # type: ignore[no-any-return]


SCHEMA = strawberry.Schema(query=Query, mutation=Mutation)
LEAF = "name size tags colors at __typename"
PLAIN = f"{{ box {{ label leaf {{ {LEAF} }} leaves {{ {LEAF} }} strict {{ name }} }} }}"
QUERIES = [
    PLAIN,
    f"{{ strictBox {{ label t: __typename leaf {{ n: name s: size }} leaves {{ name }} strict {{ {LEAF} }} }} }}",
    "{ box { label shout leaf { name } } }",  # a resolver: Box is graphql-core's, Leaf is compiled
    "{ box { ...F } } fragment F on Box { label leaf { name } }",
    "query ($x: Boolean!) { box { label @include(if: $x) leaf { name } } }",
    "{ box { label label leaf { name } } }",  # a repeated field: merged by graphql-core
]
# Operations of one root field run without graphql-core's root collection; these add what QUERIES lack.
ROOT_QUERIES = [
    f"{{ laterBox {{ label leaf {{ {LEAF} }} leaves {{ name }} }} }}",  # an async resolver
    "query ($l: String!) { b: boxLabelled(label: $l, times: 2) { label strict { name } } }",  # arguments
    '{ boxLabelled(label: "x") { label shout } }',
    "{ failing { label } }",
    "{ strictFailing { label } }",  # an error nulls the whole data
    "{ __typename }",
    "mutation ($l: String!) { relabel(label: $l) { label leaf { name } } }",
]


# -- values, as specs: each run builds its own objects (an awaitable can be awaited only once) -----------


class _Later:
    """An awaitable that, unlike a coroutine, may be left unawaited (as graphql-core leaves a nulled one)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Any:
        return self.value
        yield  # a generator: `await` runs it


def _build(spec: Any) -> Any:
    if isinstance(spec, tuple) and spec and spec[0] == "awaitable":
        return _Later(_build(spec[1]))
    if isinstance(spec, tuple) and spec and spec[0] == "generator":
        return (_build(item) for item in spec[1])
    if isinstance(spec, tuple) and spec and spec[0] == "namespace":  # the right fields, the wrong type
        return SimpleNamespace(**{k: _build(v) for k, v in spec[1].items()})
    if isinstance(spec, dict) and "_type" in spec:
        kind = spec["_type"]
        return kind(**{k: _build(v) for k, v in spec.items() if k != "_type"})
    if isinstance(spec, list):
        return [_build(item) for item in spec]
    return spec


_WRONG = st.sampled_from([3.5, "x", [], {}, object(), ValueError("boom")])
_AT = datetime(2026, 11, 29, 12, 30, tzinfo=UTC)


def _maybe(values: st.SearchStrategy[Any], wrong: bool = True) -> st.SearchStrategy[Any]:
    """Mostly good values (an object's program runs only when all of them are), sometimes null or wrong."""
    options = [values] * 8 + [st.none()]
    if wrong:
        options += [_WRONG, values.map(lambda v: ("awaitable", v))]
    return st.one_of(*options)


def _list_of(items: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    lists = st.lists(items, max_size=4)
    return st.one_of(lists, lists, lists.map(tuple), lists.map(lambda v: ("generator", v)))


_LEAF = st.fixed_dictionaries(
    {
        "_type": st.just(Leaf),
        "name": _maybe(st.text(max_size=3)),
        "size": _maybe(st.integers(-5, 5) | st.just(2**40)),
        "tags": _maybe(_list_of(_maybe(st.text(max_size=2), wrong=False))),
        "colors": _maybe(_list_of(_maybe(st.sampled_from(Color)))),
        "at": _maybe(st.just(_AT)),
    }
)
_LEAVES = st.one_of(_LEAF, _LEAF, _LEAF, st.none(), _LEAF.map(lambda d: ("namespace", d)))
_BOX = st.fixed_dictionaries(
    {
        "_type": st.just(Box),
        "label": _maybe(st.text(max_size=3)),
        "leaf": _maybe(_LEAVES, wrong=False),
        "leaves": _maybe(_list_of(_LEAVES)),
        "strict": _maybe(_LEAVES),
    }
)


# -- running -----------------------------------------------------------------------------------------


def _graphql_cores(query: str, box: Any, variables: dict[str, Any]) -> ExecutionResult:
    prepared = PreparedDocuments(SCHEMA, ()).get(query)
    assert prepared is not None
    result = graphql_execute(
        SCHEMA._schema,
        prepared.document,
        context_value={"box": box},
        variable_values=variables,
        is_awaitable=optimized_is_awaitable,
        **execution_context_class_kwargs(SCHEMA.execution_context_class),
    )
    return asyncio.get_event_loop().run_until_complete(result) if optimized_is_awaitable(result) else result


def _compiled(documents: PreparedDocuments, query: str, box: Any, variables: dict[str, Any]) -> ExecutionResult:
    prepared = documents.get(query)
    assert prepared is not None and prepared.plans  # the compiled path, not graphql-core's execute
    run = documents.execute(prepared, variables=variables, operation_name=None, context={"box": box})
    result = asyncio.get_event_loop().run_until_complete(run)
    assert result is not None
    return result


def _answer(result: ExecutionResult) -> tuple[Any, list[dict[str, Any]]]:
    return result.data, [error.formatted for error in result.errors or ()]


def _same_answer(documents: PreparedDocuments, query: str, spec: Any) -> None:
    variables = {"x": True} if "$x" in query else {"l": "new"} if "$l" in query else {}
    with _abandoned_coroutines_freed_here():
        expected = _answer(_graphql_cores(query, _build(spec), variables))
        assert _answer(_compiled(documents, query, _build(spec), variables)) == expected


@contextmanager
def _abandoned_coroutines_freed_here() -> Iterator[None]:
    """graphql-core closes, unawaited, the coroutines of the siblings it nulls after an error; they are
    freed with the error's traceback, by the cycle collector. Left to it, they warn in whatever frame the
    collector happens to interrupt, in this test or a later one. With the collector paused, everything
    made here stays young, and one collection of the youngest generation frees it, warnings ignored."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            gc.collect(0)
        if enabled:
            gc.enable()


@pytest.fixture(scope="module")
def loop() -> Any:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    loop.close()


# graphql-core closes the coroutines of the siblings it nulls after an error (executor.py), which warns.
@pytest.mark.filterwarnings("ignore:coroutine 'Executor\\.:RuntimeWarning")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=st.one_of(_BOX, _BOX, _BOX, st.none()), which=st.sampled_from(range(len(QUERIES))))
def test_answers_and_errors_are_graphql_cores(loop: Any, spec: Any, which: int) -> None:
    _same_answer(DOCUMENTS, QUERIES[which], spec)


@pytest.mark.filterwarnings("ignore:coroutine 'Executor\\.:RuntimeWarning")
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=st.one_of(_BOX, _BOX, _BOX, st.none()), which=st.sampled_from(range(len(ROOT_QUERIES))))
def test_root_fields_answer_as_graphql_core(loop: Any, spec: Any, which: int) -> None:
    _same_answer(DOCUMENTS, ROOT_QUERIES[which], spec)


DOCUMENTS = PreparedDocuments(SCHEMA, ())

# Values graphql-core completes without an error: the programs answer all of them.
_GOOD_LEAF = st.builds(
    Leaf,
    name=st.text(max_size=3),
    size=st.none() | st.integers(-(2**31), 2**31 - 1),
    tags=st.none() | st.lists(st.text(max_size=2), max_size=4) | st.lists(st.text(max_size=2), max_size=4).map(tuple),
    colors=st.lists(st.sampled_from(Color), max_size=4),
    at=st.none() | st.datetimes(timezones=st.just(UTC)),
)
_GOOD_BOX = st.builds(
    Box,
    label=st.text(max_size=3),
    leaf=st.none() | _GOOD_LEAF,
    leaves=st.lists(st.none() | _GOOD_LEAF, max_size=4),
    strict=_GOOD_LEAF,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(box=_GOOD_BOX, which=st.sampled_from([0, 1]))
def test_good_values_are_answered_by_the_programs_alone(
    loop: Any, monkeypatch: pytest.MonkeyPatch, box: Box, which: int
) -> None:
    calls = _count_graphql_core_completions(monkeypatch)
    expected = _answer(_graphql_cores(QUERIES[which], box, {}))
    calls.clear()
    assert _answer(_compiled(DOCUMENTS, QUERIES[which], box, {})) == expected
    assert calls == []


def _count_graphql_core_completions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The object types graphql-core's own `complete_object_value` completes from now on."""
    calls: list[str] = []
    base = DOCUMENTS._completing_class.__mro__[1]
    original: Callable[..., Any] = base.complete_object_value

    def counting(self: Any, return_type: Any, *args: Any) -> Any:
        calls.append(return_type.name)
        return original(self, return_type, *args)

    monkeypatch.setattr(base, "complete_object_value", counting)
    return calls


def _leaf(**changes: Any) -> dict[str, Any]:
    return {"_type": Leaf, "name": "a", "size": 1, "tags": ["t"], "colors": [Color.RED], "at": _AT, **changes}


def _box(**changes: Any) -> dict[str, Any]:
    return {"_type": Box, "label": "b", "leaf": _leaf(), "leaves": [_leaf(), None], "strict": _leaf(), **changes}


@pytest.mark.parametrize(
    "spec",
    [
        _box(),
        _box(leaves=[_leaf(), None, _leaf(tags=None), _leaf(colors=[Color.BLUE, Color.RED, Color.RED])]),
        _box(label=None),  # null for a non-null field: the box is null, and the error says why
        _box(strict=None),
        _box(leaf=_leaf(colors=["GREEN"])),  # an enum refuses the value
        _box(leaf=_leaf(size=2**40)),  # Int refuses it
        _box(leaves=("generator", [_leaf()])),  # another iterable
        _box(leaf=("namespace", _leaf())),  # another type
        _box(label=("awaitable", "late")),
        _box(leaf=_leaf(name=ValueError("boom"))),
    ],
)
def test_published_cases(loop: Any, spec: dict[str, Any]) -> None:
    for query in QUERIES:
        _same_answer(PreparedDocuments(SCHEMA, ()), query, spec)


def _programs(documents: PreparedDocuments, query: str) -> dict[str, bool]:
    """Which selections got a program, by the type they complete."""
    prepared = documents.get(query)
    assert prepared is not None
    completions: Completions = prepared.plans[None].completions
    return {name: program is not None for (name, _), program in completions._programs.items()}


def test_plain_selections_are_compiled_and_the_others_are_not(loop: Any) -> None:
    documents = PreparedDocuments(SCHEMA, ())
    for query in QUERIES:
        _compiled(documents, query, _build(_box()), {"x": True} if "$x" in query else {})
    assert _programs(documents, QUERIES[0]) == {"Box": True}  # nested selections are part of its program
    assert _programs(documents, QUERIES[1]) == {"Box": True}
    assert _programs(documents, QUERIES[2]) == {"Box": False, "Leaf": True}
    assert _programs(documents, QUERIES[3]) == {"Box": False, "Leaf": True}  # the fragment's own fields
    assert _programs(documents, QUERIES[4]) == {"Box": False, "Leaf": True}
    assert _programs(documents, QUERIES[5]) == {"Box": False, "Leaf": True}


def test_a_failed_program_leaves_the_answer_to_graphql_core(loop: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_graphql_core_completions(monkeypatch)
    assert _compiled(DOCUMENTS, PLAIN, _build(_box()), {}).errors is None
    assert calls == []  # every object of the answer came from the program
    answer = _compiled(DOCUMENTS, PLAIN, _build(_box(strict=_leaf(name=None))), {})
    assert answer.data == {"box": None} and answer.errors is not None
    assert calls[0] == "Box"  # graphql-core completed the box again, and found the null


def _count_root_collections(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many root fields graphql-core's own `execute_fields` has run from now on."""
    calls: list[int] = []
    base = DOCUMENTS._completing_class.__mro__[1]
    original: Callable[..., Any] = base.execute_fields

    def counting(self: Any, parent_type: Any, source: Any, path: Any, grouped_field_set: Any, *args: Any) -> Any:
        if path is None:
            calls.append(len(grouped_field_set))
        return original(self, parent_type, source, path, grouped_field_set, *args)

    monkeypatch.setattr(base, "execute_fields", counting)
    return calls


def test_one_root_field_runs_without_graphql_cores_root_collection(loop: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_root_collections(monkeypatch)
    box = _box()
    for query in [*QUERIES[:3], *ROOT_QUERIES[:3], *ROOT_QUERIES[5:]]:
        assert _compiled(DOCUMENTS, query, _build(box), {"l": "n"}).errors is None
    assert calls == []
    more = [
        "{ box { label } strictBox { label } }",  # two root fields
        "query ($x: Boolean!) { box @include(if: $x) { label } }",  # collected with the variables
        "{ ...Q } fragment Q on Query { box { label } }",
    ]
    for query in more:
        answer = _compiled(DOCUMENTS, query, _build(box), {"x": True})
        assert answer.errors is None and answer.data is not None and answer.data["box"] == {"label": "b"}
    assert calls == [2, 1, 1]


def test_a_field_class_of_its_own_is_left_to_graphql_core(loop: Any) -> None:
    documents = PreparedDocuments(SCHEMA, ())
    assert _compiled(documents, "{ loud { word } }", None, {}).data == {"loud": {"word": "HI"}}
    assert _programs(documents, "{ loud { word } }") == {"Loud": False}
