"""Scale-out: two gateway processes on one PostgreSQL and one Redis behave as one gateway.

A token issued by one is revoked through the other; an Idempotency-Key is settled once across both; a
write through one ends the other's cached eligibility answers; one platform's rate bucket is shared.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from registry.migrate import apply_migrations, orm
from registry.platforms import services as platforms
from tests.conftest import PG_SKIP, PG_URL, REDIS_SKIP, REDIS_URL, _admin, _with_database

pytestmark = pytest.mark.skipif(not (PG_URL and REDIS_URL), reason=f"{PG_SKIP}; {REDIS_SKIP}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[str], dict[str, str]]]:
    assert PG_URL and REDIS_URL
    name = f"livegate_cluster_{secrets.token_hex(4)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    database_url = _with_database(PG_URL, name)
    data_dir = tmp_path_factory.mktemp("cluster")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEGATE_")} | {
        "LIVEGATE_DATA_DIR": str(data_dir),
        "LIVEGATE_DATABASE_URL": database_url,
        "LIVEGATE_REDIS_URL": REDIS_URL,
        "LIVEGATE_LIMITS_RATE_PER_S": "0.001",
        "LIVEGATE_LIMITS_RATE_BURST": "20",
    }
    asyncio.run(apply_migrations(database_url))
    asyncio.run(_fresh_address_buckets())
    credentials = asyncio.run(_platform(database_url))
    processes, urls = [], []
    try:
        for _ in range(2):
            port = _free_port()
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "uvicorn", "--factory", "gateway.asgi:app_factory", "--port", str(port)],
                    env=env,
                    cwd=Path(__file__).resolve().parents[2],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        _wait_ready(urls)
        yield urls, credentials
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _fresh_address_buckets() -> None:
    """This module's slow refill (one token per 1,000 s) outlives a run: earlier runs on this Redis must not
    have spent the buckets of 127.0.0.1 that every run shares (a platform's own bucket is new each run)."""
    assert REDIS_URL
    client = aioredis.from_url(REDIS_URL)
    try:
        await client.delete("livegate:rl:oauth:127.0.0.1", "livegate:rl:anon:127.0.0.1")
    finally:
        await client.aclose()


async def _platform(database_url: str) -> dict[str, str]:
    async with orm(database_url):
        created = await platforms.create_platform(f"cluster-{secrets.token_hex(3)}")
    return {"client_id": created.platform.client_id, "client_secret": created.client_secret}


def _wait_ready(urls: list[str]) -> None:
    deadline = time.monotonic() + 30
    for url in urls:
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not become ready")
            time.sleep(0.2)


def _token(url: str, credentials: dict[str, str]) -> str:
    response = httpx.post(f"{url}/oauth/token", data={"grant_type": "client_credentials", **credentials})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _typename(url: str, token: str) -> httpx.Response:
    return httpx.post(f"{url}/graphql", json={"query": "{ __typename }"}, headers={"Authorization": f"Bearer {token}"})


def test_a_token_revoked_on_one_process_is_refused_by_the_other(cluster: tuple[list[str], dict[str, str]]) -> None:
    (one, two), credentials = cluster
    token = _token(one, credentials)
    assert _typename(two, token).status_code == 200
    assert httpx.post(f"{two}/oauth/revoke", data={"token": token, **credentials}).status_code == 200
    assert _typename(one, token).status_code == 401


def test_an_idempotency_key_is_settled_once_across_processes(cluster: tuple[list[str], dict[str, str]]) -> None:
    (one, two), credentials = cluster
    token = _token(one, credentials)
    body = {"query": 'mutation { startOnboarding(input: {role: MARKETER, externalRef: "twin"}) { session { id } } }'}
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": secrets.token_hex(8)}
    first = httpx.post(f"{one}/graphql", json=body, headers=headers)
    second = httpx.post(f"{two}/graphql", json=body, headers=headers)
    assert second.headers.get("idempotent-replayed") == "true"
    assert first.content == second.content


def _graphql(url: str, token: str, query: str) -> dict[str, Any]:
    response = httpx.post(f"{url}/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


def test_a_write_through_one_process_ends_the_others_cached_answer(cluster: tuple[list[str], dict[str, str]]) -> None:
    # Before the rate-bucket test, which spends the platform's bucket: this one needs at most 13 requests.
    (one, two), credentials = cluster
    token = _token(one, credentials)
    registered = _graphql(one, token, """mutation { registerPerformer(input: {role: MARKETER, externalRef: "cached",
        document: {type: RESIDENT_ID_CARD, number: "11010519491231002X", fullName: "欧阳娜"}, phone: "13900139000"})
        { performer { id } problems { code } } }""")  # fmt: skip
    performer_id = registered["registerPerformer"]["performer"]["id"]
    check = f'{{ liveEligibility(performerId: "{performer_id}") {{ allowed reasons }} }}'
    assert _graphql(two, token, check)["liveEligibility"] == {"allowed": False, "reasons": ["TRAINING_MISSING"]}

    trained = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    recorded = _graphql(one, token, f"""mutation {{ recordTraining(input: {{performerId: "{performer_id}",
        completedAt: "{trained}", course: "rules"}}) {{ problems {{ code }} }} }}""")  # fmt: skip
    assert recorded == {"recordTraining": {"problems": []}}

    # The other process hears of the write on Redis's channel a moment later; its cache keeps answers a minute.
    answers = []
    for _ in range(10):
        answers.append(_graphql(two, token, check)["liveEligibility"])
        if answers[-1]["allowed"]:
            break
        time.sleep(0.05)
    assert answers[-1] == {"allowed": True, "reasons": []}, answers


def test_the_rate_bucket_is_shared(cluster: tuple[list[str], dict[str, str]]) -> None:
    (one, two), credentials = cluster
    token = _token(one, credentials)
    statuses = [_typename(url, token).status_code for url in [one, two] * 15]
    assert 429 in statuses and statuses.count(200) <= 20
