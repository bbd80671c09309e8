"""Schema extensions: request limits on the fragment-expanded document, and error codes.

Limits are one validation rule that walks each operation with its fragments expanded, so a
fragment spread cannot hide depth, aliases or tokens (the classic limiter bypass). Fragment
sizes are memoized, so a "billion laughs" document is measured without being expanded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)
from graphql.language import Lexer, Source, TokenKind
from strawberry.extensions import SchemaExtension

PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
LIMIT_EXCEEDED = "LIMIT_EXCEEDED"


@dataclass(frozen=True, slots=True)
class OperationLimits:
    depth: int = 12
    aliases: int = 30
    tokens: int = 2000


@dataclass(slots=True)
class _Size:
    depth: int = 0
    aliases: int = 0
    tokens: int = 0


def _count_tokens(source: str, start: int, end: int) -> int:
    lexer = Lexer(Source(source[start:end]))
    count = 0
    while lexer.advance().kind is not TokenKind.EOF:
        count += 1
    return count


class _Measure:
    """Sizes of selection sets with fragments expanded; each fragment is measured once."""

    def __init__(self, document: DocumentNode, source: str, cap: int) -> None:
        self._fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self._source = source
        self._cap = cap  # stop growing numbers past any limit: the verdict is already known
        self._memo: dict[str, _Size] = {}
        self._visiting: set[str] = set()

    def fragment(self, name: str) -> _Size:
        if name in self._memo:
            return self._memo[name]
        node = self._fragments.get(name)
        if node is None or name in self._visiting:
            return _Size()  # unknown or circular: other validation rules report those
        self._visiting.add(name)
        size = self.selection_set(node.selection_set)
        self._visiting.discard(name)
        size.tokens = min(self._cap, size.tokens)
        self._memo[name] = size
        return size

    def own_tokens(self, node: FieldNode | OperationDefinitionNode | InlineFragmentNode | FragmentSpreadNode) -> int:
        """Tokens of the node's own text (a spread with its directives), without its selection set."""
        loc = node.loc
        if loc is None:
            return 1
        selection_set = getattr(node, "selection_set", None)
        end = selection_set.loc.start if selection_set and selection_set.loc else loc.end
        return _count_tokens(self._source, loc.start, end)

    def selection_set(self, selection_set: SelectionSetNode | None) -> _Size:
        total = _Size(tokens=2 if selection_set else 0)  # the braces
        if selection_set is None:
            return total
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                child = self.selection_set(selection.selection_set)
                total.depth = max(total.depth, child.depth + 1)
                total.aliases += child.aliases + (1 if selection.alias else 0)
                total.tokens += child.tokens + self.own_tokens(selection)
            elif isinstance(selection, InlineFragmentNode):
                child = self.selection_set(selection.selection_set)
                total.depth = max(total.depth, child.depth)
                total.aliases += child.aliases
                total.tokens += child.tokens + self.own_tokens(selection)
            elif isinstance(selection, FragmentSpreadNode):
                child = self.fragment(selection.name.value)
                total.depth = max(total.depth, child.depth)
                total.aliases += child.aliases
                total.tokens += child.tokens + self.own_tokens(selection)
            total.aliases = min(self._cap, total.aliases)
            total.tokens = min(self._cap, total.tokens)
        return total


def limits_rule(limits: OperationLimits) -> type[ValidationRule]:
    class LimitsRule(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            document = context.document
            source = document.loc.source.body if document.loc else ""
            measure = _Measure(document, source, cap=10 * max(limits.tokens, limits.aliases, limits.depth))
            for definition in document.definitions:
                if isinstance(definition, OperationDefinitionNode):
                    for error in _check(measure, definition, limits):
                        context.report_error(error)

    return LimitsRule


def _check(measure: _Measure, operation: OperationDefinitionNode, limits: OperationLimits) -> Iterator[GraphQLError]:
    size = measure.selection_set(operation.selection_set)
    tokens = size.tokens + measure.own_tokens(operation)
    name = f"Operation {operation.name.value}" if operation.name else "The operation"
    for what, value, limit, phrase in (
        ("depth", size.depth, limits.depth, "levels deep"),
        ("aliases", size.aliases, limits.aliases, "aliases"),
        ("tokens", tokens, limits.tokens, "tokens"),
    ):
        if value > limit:
            shown = f"{value}" if value < measure._cap else f"more than {limit}"
            verb = "is" if what == "depth" else "has"
            yield GraphQLError(
                f"{name} {verb} {shown} {phrase} with its fragments expanded; the limit is {limit}.",
                extensions={"code": LIMIT_EXCEEDED, "limit": what, "max": limit},
            )


class ErrorCodes(SchemaExtension):
    """Tags parse and validation errors with the top-level codes of contract/HTTP.md."""

    def on_parse(self) -> Iterator[None]:
        yield
        self._tag(PARSE_FAILED)

    def on_validate(self) -> Iterator[None]:
        yield
        self._tag(VALIDATION_FAILED)

    def _tag(self, code: str) -> None:
        for error in self.execution_context.pre_execution_errors or ():
            if not (error.extensions or {}).get("code"):
                error.extensions = {**(error.extensions or {}), "code": code}
