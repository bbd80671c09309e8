"""scripts/import_suppliers.py against the real app in-process (httpx ASGI transport), SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from gateway.app import create_app
from gateway.settings import Settings
from registry.audit.models import AuditEvent
from registry.suppliers.models import Supplier
from scripts import import_suppliers as script
from scripts.import_suppliers import ImportFailed, Options, run_import
from tests.conftest import PlatformClient, make_platform
from tests.scripts.helpers import company, natural_person, read_rejected, rows_of, write_csv, write_jsonl

BASE = "http://livegate.test"


def options(path: Path, platform: PlatformClient, **changes: Any) -> Options:
    defaults: dict[str, Any] = {"batch": 10, "progress": False}
    return Options(path, BASE, platform.client_id, platform.client_secret, **{**defaults, **changes})


async def no_sleep(seconds: float) -> None:
    return None


class Recording(httpx.AsyncBaseTransport):
    """The app's transport, with a hook that may answer instead of it (faults) and a log of requests."""

    def __init__(self, app: Starlette, fault: Callable[[httpx.Request, int], httpx.Response | None] | None = None):
        self.inner = httpx.ASGITransport(app=app)
        self.fault = fault
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.fault is not None:
            answer = self.fault(request, len([r for r in self.requests if r.url.path == request.url.path]))
            if answer is not None:
                return answer
        return await self.inner.handle_async_request(request)

    def graphql(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == "/graphql"]


class ServerLike(httpx.AsyncBaseTransport):
    """The app in-process, but like a real server: a client that goes away (killed, cancelled) does
    not cancel the request it sent; the server finishes it. `drain` waits for those requests."""

    def __init__(self, app: Starlette) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.running: set[asyncio.Task[httpx.Response]] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        task = asyncio.create_task(self.inner.handle_async_request(request))
        self.running.add(task)
        task.add_done_callback(self.running.discard)
        return await asyncio.shield(task)

    async def drain(self) -> None:
        await asyncio.gather(*self.running, return_exceptions=True)


async def table(platform_id: str) -> list[tuple[Any, ...]]:
    """The platform's suppliers without ids and timestamps: what two runs must agree on."""
    rows = await Supplier.filter(platform_id=platform_id).order_by("external_ref").values_list(
        "external_ref", "kind", "name", "credit_code", "address", "contact_phone", "categories", "licenses",
        "document_type", "document_masked", "verification_status", "content_hash",
    )  # fmt: skip
    return [tuple(json.dumps(v) if isinstance(v, list) else v for v in row) for row in rows]


async def test_a_csv_imports_with_rejections_and_line_numbers(
    app: Starlette, platform: PlatformClient, tmp_path: Path
) -> None:
    person = natural_person("P-2", document_number="110105199003071234")  # fails its check digit
    rows = [
        company("C-1", address="广东省深圳市南山区\n科技园科苑路15号"),  # a quoted line break: 2 lines
        person,
        company("C-3", credit_code="914403001922038217"),
        company("C-4", kind="SHOP"),  # refused before sending: an unknown enum would spoil the batch
        company("C-5", licenses="[not json"),
        company("C-6", categories="GENERAL;FOOD", licenses=""),  # stored, not verified
    ]
    path = write_csv(tmp_path / "suppliers.csv", rows)
    summary = await run_import(options(path, platform), transport=httpx.ASGITransport(app=app))
    assert summary.line() == "created=2 updated=0 unchanged=0 rejected=4"
    rejected = read_rejected(tmp_path / "suppliers.csv.rejected.csv")
    assert [(r["line"], r["external_ref"]) for r in rejected] == [
        ("4", "P-2"),
        ("5", "C-3"),
        ("6", "C-4"),
        ("7", "C-5"),
    ]
    by_ref = {r["external_ref"]: r for r in rejected}
    assert by_ref["C-3"]["problems"].startswith("INVALID_CREDIT_CODE creditCode: ")
    assert by_ref["C-4"]["problems"].startswith("INVALID_INPUT kind: ")
    assert by_ref["C-5"]["problems"].startswith("INVALID_INPUT licenses: ")
    assert "identity.number" in by_ref["P-2"]["problems"]
    text = (tmp_path / "suppliers.csv.rejected.csv").read_text(encoding="utf-8-sig")
    assert "110105199003071234" not in text
    stored = await Supplier.get(external_ref="C-1")
    assert stored.address == "广东省深圳市南山区 科技园科苑路15号"


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig", "utf-8"])
async def test_chinese_names_in_any_csv_encoding_are_detected(
    app: Starlette, platform: PlatformClient, tmp_path: Path, encoding: str
) -> None:
    rows = [
        company("C-1", name="北京市朝阳区张三烧烤店有限公司"),
        natural_person("P-1", name="欧阳娜娜"),
        company("C-2", name="𠀋記茶莊有限公司"),
    ]
    if encoding == "gb18030":
        assert "北京".encode("gb18030") != "北京".encode()  # what Excel in China writes
    path = write_csv(tmp_path / "suppliers.csv", rows, encoding=encoding)
    summary = await run_import(options(path, platform), transport=httpx.ASGITransport(app=app))
    assert summary.line() == "created=3 updated=0 unchanged=0 rejected=0"
    names = {s.external_ref: s.name for s in await Supplier.all()}
    assert names["C-1"] == "北京市朝阳区张三烧烤店有限公司"
    assert names["C-2"] == "𠀋記茶莊有限公司"  # a character outside GBK, inside GB18030


async def test_an_explicit_encoding_wins(app: Starlette, platform: PlatformClient, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "suppliers.csv", [company("C-1", name="上海测试有限公司")], encoding="gbk")
    summary = await run_import(options(path, platform, encoding="gbk"), transport=httpx.ASGITransport(app=app))
    assert summary.created == 1
    assert (await Supplier.get(external_ref="C-1")).name == "上海测试有限公司"


async def test_json_lines(app: Starlette, platform: PlatformClient, tmp_path: Path) -> None:
    person = natural_person("P-1")
    rows: list[dict[str, Any]] = [
        {**company("C-1"), "categories": ["GENERAL"], "licenses": []},
        {"externalRef": "C-2", "kind": "ENTERPRISE", "name": "杭州示例有限公司",
         "creditCode": company("x")["credit_code"], "address": "浙江省杭州市西湖区文三路1号",
         "contactPhone": "0571-8765 4321", "categories": ["GENERAL"]},
        {**person, "identity": {"type": "RESIDENT_ID_CARD", "number": person["document_number"], "fullName": "王小明"}},
    ]  # fmt: skip
    del rows[2]["document_type"], rows[2]["document_number"]
    path = write_jsonl(tmp_path / "suppliers.jsonl", rows)
    with path.open("a", encoding="utf-8") as f:
        f.write("\n[1, 2]\n{broken\n")
    summary = await run_import(options(path, platform), transport=httpx.ASGITransport(app=app))
    assert summary.line() == "created=3 updated=0 unchanged=0 rejected=2"
    assert [r["line"] for r in read_rejected(tmp_path / "suppliers.jsonl.rejected.csv")] == ["5", "6"]


async def test_a_second_run_is_unchanged_and_a_clean_run_leaves_no_rejected_file(
    app: Starlette, platform: PlatformClient, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "s.csv", [company("C-1"), company("C-2", credit_code="x")])
    first = await run_import(options(path, platform), transport=httpx.ASGITransport(app=app))
    assert first.line() == "created=1 updated=0 unchanged=0 rejected=1"
    path = write_csv(
        tmp_path / "s.csv", [company("C-1", credit_code=(await Supplier.get(external_ref="C-1")).credit_code)]
    )
    second = await run_import(options(path, platform), transport=httpx.ASGITransport(app=app))
    assert second.line() == "created=0 updated=0 unchanged=1 rejected=0"
    assert not (tmp_path / "s.csv.rejected.csv").exists()


async def test_a_rerun_sends_the_same_keys_and_a_touched_file_new_ones(
    app: Starlette, platform: PlatformClient, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "s.csv", rows_of(25))

    async def keys() -> list[str]:
        transport = Recording(app)
        await run_import(options(path, platform), transport=transport)
        return [r.headers["Idempotency-Key"] for r in transport.graphql()]

    first, second = await keys(), await keys()
    assert first == second and len(set(first)) == 3
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert set(await keys()).isdisjoint(first)


class Killed(Exception):
    pass


@pytest.mark.parametrize("concurrency", [1, 3])
async def test_killed_mid_file_and_rerun_equals_a_clean_run(app: Starlette, tmp_path: Path, concurrency: int) -> None:
    clean, killed = await make_platform("clean"), await make_platform("killed")
    rows = rows_of(95)
    rows[40] = company("S00040", credit_code="bad")
    rows[60] = dict(rows[11])  # the same externalRef later in the file: the later row wins
    rows[60]["name"] = "后来的名字有限公司"
    path = write_csv(tmp_path / "big.csv", rows)
    transport = ServerLike(app)
    reference = await run_import(options(path, clean, concurrency=concurrency), transport=transport)

    done = 0

    def kill_after_three() -> None:
        nonlocal done
        done += 1
        if done == 3:
            raise Killed

    with pytest.raises(Killed):
        await run_import(options(path, killed, concurrency=concurrency), transport=transport, on_batch=kill_after_three)
    await transport.drain()
    partial = await Supplier.filter(platform_id=killed.id).count()
    assert 0 < partial < await Supplier.filter(platform_id=clean.id).count()
    rerun = await run_import(options(path, killed, concurrency=concurrency), transport=transport)
    assert rerun.rejected == reference.rejected == 1
    assert (
        rerun.created + rerun.updated + rerun.unchanged == reference.created + reference.updated + reference.unchanged
    )
    assert await table(killed.id) == await table(clean.id)
    assert (await Supplier.get(platform_id=killed.id, external_ref="S00011")).name == "后来的名字有限公司"
    created = await AuditEvent.filter(platform_id=killed.id, action="supplier.created").count()
    assert created == await Supplier.filter(platform_id=killed.id).count()  # nothing created twice
    assert read_rejected(tmp_path / "big.csv.rejected.csv")[0]["external_ref"] == "S00040"


async def test_network_errors_5xx_429_and_409_are_retried_with_the_same_key(
    app: Starlette, platform: PlatformClient, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "s.csv", rows_of(30))
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    def fault(request: httpx.Request, n: int) -> httpx.Response | None:
        if request.url.path != "/graphql":
            return None
        if n == 1:
            raise httpx.ConnectError("connection refused", request=request)
        if n == 2:
            return httpx.Response(503, text="starting")
        if n == 3:
            return httpx.Response(429, headers={"Retry-After": "7"}, text="slow down")
        if n == 5:
            return httpx.Response(409, text="in progress")
        return None

    transport = Recording(app, fault)
    summary = await run_import(options(path, platform, concurrency=1), transport=transport, sleep=sleep)
    assert summary.line() == "created=30 updated=0 unchanged=0 rejected=0"
    assert 7.0 in sleeps and len(sleeps) == 4
    keys = [r.headers["Idempotency-Key"] for r in transport.graphql()]
    assert len(keys) == 7 and len(set(keys)) == 3  # 3 batches; retries of a batch reuse its key
    assert keys[0] == keys[1] == keys[2] == keys[3]


async def test_a_lost_answer_is_retried_without_applying_twice(
    app: Starlette, platform: PlatformClient, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "s.csv", rows_of(10))
    inner = httpx.ASGITransport(app=app)
    calls = 0

    class LoseFirstAnswer(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            nonlocal calls
            response = await inner.handle_async_request(request)
            if request.url.path == "/graphql":
                calls += 1
                if calls == 1:
                    raise httpx.ReadError("connection reset", request=request)
            return response

    summary = await run_import(options(path, platform), transport=LoseFirstAnswer(), sleep=no_sleep)
    assert summary.created + summary.unchanged == 10 and summary.updated == 0
    assert await AuditEvent.filter(platform_id=platform.id, action="supplier.created").count() == 10


async def test_a_fresh_token_when_the_old_one_expires(app: Starlette, platform: PlatformClient, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", rows_of(30))

    def expire_second_batch(request: httpx.Request, n: int) -> httpx.Response | None:
        if request.url.path == "/graphql" and n == 2:
            return httpx.Response(401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return None

    transport = Recording(app, expire_second_batch)
    summary = await run_import(options(path, platform, concurrency=1), transport=transport, sleep=no_sleep)
    assert summary.created == 30
    tokens = [r for r in transport.requests if r.url.path == "/oauth/token"]
    assert len(tokens) == 2
    assert transport.graphql()[1].headers["Authorization"] != transport.graphql()[2].headers["Authorization"]


async def test_wrong_credentials_cannot_finish(app: Starlette, platform: PlatformClient, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", rows_of(3))
    wrong = PlatformClient(platform.id, platform.client_id, "not-the-secret")
    with pytest.raises(ImportFailed, match="client credentials"):
        await run_import(options(path, wrong), transport=httpx.ASGITransport(app=app))


async def test_a_gateway_that_stays_down_cannot_finish(platform: PlatformClient, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", rows_of(3))
    down = httpx.MockTransport(lambda request: httpx.Response(502, text="bad gateway"))
    with pytest.raises(ImportFailed, match="failed 3 times") as caught:
        await run_import(options(path, platform, retries=2), transport=down, sleep=no_sleep)
    assert caught.value.summary is not None and caught.value.summary.created == 0


async def test_a_batch_the_gateway_refuses_whole_is_split_down_to_the_bad_row(
    platform: PlatformClient, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "s.csv", rows_of(8))
    sizes: list[int] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "t", "token_type": "Bearer", "expires_in": 900})
        rows = json.loads(request.content)["variables"]["rows"]
        sizes.append(len(rows))
        if any(r["externalRef"] == "S00005" for r in rows):
            return httpx.Response(
                200,
                json={
                    "errors": [
                        {"message": "Variable '$rows' got invalid value", "extensions": {"code": "BAD_USER_INPUT"}}
                    ]
                },
            )
        answer = {"created": len(rows), "updated": 0, "unchanged": 0, "rejected": [], "problems": []}
        return httpx.Response(200, json={"data": {"importSuppliers": answer}})

    summary = await run_import(options(path, platform, batch=8), transport=httpx.MockTransport(gateway))
    assert summary.line() == "created=7 updated=0 unchanged=0 rejected=1"
    assert sizes == [8, 4, 4, 2, 1, 1, 2]
    assert read_rejected(tmp_path / "s.csv.rejected.csv")[0]["external_ref"] == "S00005"


@pytest.mark.usefixtures("db")
async def test_a_smaller_server_limit_splits_batches(settings: Settings, tmp_path: Path) -> None:
    app = create_app(replace(settings, limits=replace(settings.limits, import_rows=4)), manage_orm=False)
    platform = await make_platform()
    path = write_csv(tmp_path / "s.csv", rows_of(10))
    summary = await run_import(options(path, platform, batch=10), transport=httpx.ASGITransport(app=app))
    assert summary.line() == "created=10 updated=0 unchanged=0 rejected=0"


def test_main_refuses_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "s.csv", [])
    base = [str(path), "--url", BASE, "--client-id", "a", "--client-secret", "b"]
    for extra in (["--batch", "0"], ["--batch", "1001"], ["--encoding", "klingon"]):
        with pytest.raises(SystemExit) as caught:
            script.main(base + extra)
        assert caught.value.code == 2
    with pytest.raises(SystemExit):
        script.main([str(tmp_path / "missing.csv"), "--url", BASE, "--client-id", "a", "--client-secret", "b"])


def test_detect_encoding(tmp_path: Path) -> None:
    text = "external_ref,name\nA,深圳市示例科技有限公司\n"
    cases = {"gb18030": "gb18030", "utf-8": "utf-8", "utf-8-sig": "utf-8-sig"}
    for encoding, expected in cases.items():
        path = tmp_path / f"{encoding}.csv"
        path.write_bytes(text.encode(encoding))
        assert script.detect_encoding(path) == expected
    ascii_only = tmp_path / "ascii.csv"
    ascii_only.write_bytes(b"external_ref\nA\n")
    assert script.detect_encoding(ascii_only) == "utf-8"


def test_masking_in_rejected_messages() -> None:
    problems = [
        {
            "code": "INVALID_DOCUMENT",
            "message": "Number 11010519900307123X fails",
            "field": ["input", "rows", "3", "identity", "number"],
        }
    ]
    assert (
        script.describe(problems, "11010519900307123X")
        == "INVALID_DOCUMENT identity.number: Number 110***********123X fails"
    )
    other = [{"code": "INVALID_INPUT", "message": "see 440301199912310011 and ABCDEFGHIJKLMNOP", "field": None}]
    assert script.describe(other, "") == "INVALID_INPUT: see 440***********0011 and ABCDEFGHIJKLMNOP"


def test_retry_after_forms() -> None:
    request = httpx.Request("POST", BASE)
    assert script.retry_after(httpx.Response(429, headers={"Retry-After": "3"}, request=request)) == 3.0
    assert script.retry_after(httpx.Response(429, request=request)) is None
    dated = script.retry_after(
        httpx.Response(503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, request=request)
    )
    assert dated == 0.0


async def test_cancellation_cancels_batches_in_flight(app: Starlette, platform: PlatformClient, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", rows_of(40))
    task = asyncio.create_task(
        run_import(options(path, platform, concurrency=3), transport=httpx.ASGITransport(app=app))
    )
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    rerun = await run_import(options(path, platform), transport=httpx.ASGITransport(app=app))
    assert rerun.created + rerun.unchanged == 40 and rerun.rejected == 0
