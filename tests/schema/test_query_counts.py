"""A page of performers costs a constant number of database queries, whatever the page size (DataLoaders)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from registry.enforcement.models import Enforcement
from registry.ids import new_id
from tests.conftest import PlatformClient, get_token, gql
from tests.factories import make_performer, years_ago

pytestmark = pytest.mark.usefixtures("db")

PAGE = """
query($first: Int) {
  performers(first: $first) {
    edges { node { id accountStatus restrictions { id } guardianConsent { id } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
AVATARS_PAGE = """
query($first: Int) {
  performers(first: $first) { edges { node { id avatars { edges { node { id } } } } } }
}"""
# Every query of the page on either backend, counted when this was pinned: the performers page, then one
# batched load each of the measures in force (accountStatus and restrictions share it) and of the consents.
PAGE_QUERIES = 3


class _Counter(logging.Handler):
    """Tortoise logs every statement it sends (execute_query, _insert, _many, _script) on tortoise.db_client."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.statements.append(record.getMessage())


@contextmanager
def counted() -> Iterator[list[str]]:
    logger = logging.getLogger("tortoise.db_client")
    counter, level = _Counter(), logger.level
    logger.addHandler(counter)
    logger.setLevel(logging.DEBUG)
    try:
        yield counter.statements
    finally:
        logger.removeHandler(counter)
        logger.setLevel(level)


async def _seed(platform_id: str, count: int) -> None:
    """Adults and minors (who carry a guardian consent), every third one with two measures in force."""
    now = datetime.now(UTC)
    for n in range(count):
        performer = await make_performer(platform_id, birth=years_ago(17 if n % 4 == 0 else 30))
        if n % 3 == 0:
            for action in ("WARN", "LIMIT_TRAFFIC"):
                await Enforcement.create(
                    id=new_id("enf"), platform_id=platform_id, subject_id=performer.id, action=action,
                    reason="r", public_reason="p", since=now,
                )  # fmt: skip


async def _page(client: httpx.AsyncClient, token: str, query: str, first: int) -> tuple[dict[str, Any], int]:
    with counted() as statements:
        response = await gql(client, query, {"first": first}, token=token)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]["performers"], len(statements)


async def test_a_page_costs_the_same_queries_whatever_its_size(
    client: httpx.AsyncClient, platform: PlatformClient
) -> None:
    await _seed(platform.id, 20)
    token = await get_token(client, platform)
    counts = {}
    for first in (1, 5, 20):
        page, counts[first] = await _page(client, token, PAGE, first)
        assert len(page["edges"]) == first
    assert counts == {1: PAGE_QUERIES, 5: PAGE_QUERIES, 20: PAGE_QUERIES}
    nodes = [edge["node"] for edge in page["edges"]]
    assert sum(len(n["restrictions"]) for n in nodes) == 2 * 7  # the loaders answered every performer
    assert sum(n["guardianConsent"] is not None for n in nodes) == 5
    assert {n["accountStatus"] for n in nodes} == {"ACTIVE", "LIMITED"}


async def test_avatars_of_a_page_cost_the_same_queries_whatever_its_size(
    client: httpx.AsyncClient, platform: PlatformClient
) -> None:
    await _seed(platform.id, 5)
    token = await get_token(client, platform)
    _, small = await _page(client, token, AVATARS_PAGE, 1)
    _, large = await _page(client, token, AVATARS_PAGE, 5)
    assert large == small
