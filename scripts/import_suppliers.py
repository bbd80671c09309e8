"""Import suppliers from a CSV or JSON Lines file through `importSuppliers` (contract/HTTP.md).

    python scripts/import_suppliers.py FILE --url URL --client-id ID --client-secret SECRET
                                       [--batch 500] [--encoding E] [--concurrency 2] [--no-progress]

The file is streamed (constant memory) and sent in batches. CSV (a header row; UTF-8 with or
without BOM, or GB18030 as Excel in China saves it: detected, or set with --encoding) or JSON Lines
(one object a line), chosen by the suffix. Columns: external_ref, kind, name, credit_code, address,
contact_phone, categories (";"-separated), licenses (a JSON array of {"type", "number",
"validUntil"} objects, or empty), and for natural persons document_type, document_number,
full_name, birth_date, nationality, expires_on (and mrz for passports).

Rejected rows go to FILE.rejected.csv (input line, externalRef, problems; identity numbers
masked); the last line printed is `created=N updated=N unchanged=N rejected=N`. A batch is retried
on network errors, HTTP 5xx, 409 and 429 (honouring Retry-After) with the same Idempotency-Key,
derived from the file (path, size, modification time) and the batch's content, so a retried or
re-run batch is never applied twice and a re-run after a kill finishes with nothing duplicated or
lost (the gateway replays answers it already gave for 24 hours; touch the file to send it afresh).
An expired token is replaced. The exit status is non-zero only when the import could not finish.
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import csv
import email.utils
import gc
import hashlib
import io
import random
import re
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any, BinaryIO

import httpx
import orjson
from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.text import Text

MUTATION = (
    "mutation ImportSuppliers($rows: [SupplierInput!]!) { importSuppliers(input: {rows: $rows}) "
    "{ created updated unchanged rejected { row externalRef problems { code message field } } "
    "problems { code message field } } }"
)
SCOPE = "suppliers:write"
KINDS = frozenset({"ENTERPRISE", "INDIVIDUAL_BUSINESS", "NATURAL_PERSON"})
CATEGORIES = frozenset({"GENERAL", "FOOD", "COSMETICS", "MEDICAL_DEVICE", "DRUG", "PUBLICATION"})
LICENSE_TYPES = frozenset(
    {
        "BUSINESS_LICENSE",
        "FOOD_BUSINESS",
        "FOOD_PRODUCTION",
        "COSMETICS_PRODUCTION",
        "MEDICAL_DEVICE_BUSINESS",
        "DRUG_BUSINESS",
        "PUBLICATION_BUSINESS",
    }
)
DOCUMENT_TYPES = frozenset(
    {
        "RESIDENT_ID_CARD",
        "HMT_RESIDENCE_PERMIT",
        "HKMO_TRAVEL_PERMIT",
        "TW_TRAVEL_PERMIT",
        "FOREIGN_PERMANENT_RESIDENT",
        "PASSPORT",
    }
)
# Column names as in contract/HTTP.md; the GraphQL (camelCase) spellings are accepted too.
ALIASES = {
    "externalref": "external_ref",
    "creditcode": "credit_code",
    "contactphone": "contact_phone",
    "documenttype": "document_type",
    "documentnumber": "document_number",
    "fullname": "full_name",
    "birthdate": "birth_date",
    "expireson": "expires_on",
}
MAX_BATCH = 1000
TOKEN_MARGIN_S = 30.0
_CHUNK = 1 << 20
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NO_LICENSES = frozenset({"", "[]"})
# Identity-number-like runs in server messages: masked in the rejected file whatever they belong to.
_LONG_NUMBER = re.compile(r"[0-9A-Za-z]{15,}")


# ------------------------------------------------------------------------------------ options


@dataclass(frozen=True, slots=True)
class Options:
    file: Path
    url: str
    client_id: str
    client_secret: str
    batch: int = 500
    encoding: str | None = None
    concurrency: int = 2
    retries: int = 8
    progress: bool = True

    @property
    def base_url(self) -> str:
        url = self.url.rstrip("/")
        return url.removesuffix("/graphql")

    @property
    def rejected_path(self) -> Path:
        return self.file.with_name(self.file.name + ".rejected.csv")


@dataclass(slots=True)
class Summary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0

    def line(self) -> str:
        return f"created={self.created} updated={self.updated} unchanged={self.unchanged} rejected={self.rejected}"


class ImportFailed(Exception):
    """The import could not finish (bad credentials, the gateway gone for good, an unreadable file)."""

    summary: Summary | None = None  # what was done before it stopped


# ------------------------------------------------------------------------------------ reading


def detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) if the whole file decodes as UTF-8, else GB18030."""
    with path.open("rb") as raw:
        head = raw.read(len(codecs.BOM_UTF8))
        if head == codecs.BOM_UTF8:
            return "utf-8-sig"
        decoder = codecs.getincrementaldecoder("utf-8")()
        chunk = head
        try:
            while chunk:
                decoder.decode(chunk)
                chunk = raw.read(_CHUNK)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf-8"


def _encoding(path: Path, chosen: str | None) -> str:
    if chosen is None:
        return detect_encoding(path)
    if codecs.lookup(chosen).name == "utf-8":
        with path.open("rb") as raw:
            return "utf-8-sig" if raw.read(3) == codecs.BOM_UTF8 else "utf-8"
    return chosen


class _Counting(io.RawIOBase):
    """A binary file that counts the bytes read, for a progress bar by position."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)


@dataclass(slots=True)
class SourceRow:
    line: int
    external_ref: str
    supplier: dict[str, Any] | None  # the SupplierInput variables; None when refused here
    problems: list[dict[str, Any]] = field(default_factory=list)
    document_number: str = ""  # to mask in problem messages


def _problem(message: str, *path: str) -> dict[str, Any]:
    return {"code": "INVALID_INPUT", "message": message, "field": list(path)}


class RowError(Exception):
    def __init__(self, *problems: dict[str, Any]) -> None:
        super().__init__(problems[0]["message"])
        self.problems = list(problems)


def _text(record: Mapping[str, Any], name: str) -> str | None:
    value = record.get(name)
    if value is None:
        return None
    text = str(value).strip() if not isinstance(value, str) else value.strip()
    return text or None


def _date(record: Mapping[str, Any], name: str, *path: str) -> str | None:
    value = _text(record, name)
    if value is None:
        return None
    try:
        if not _ISO_DATE.fullmatch(value):
            raise ValueError(value)
        date.fromisoformat(value)
    except ValueError:
        raise RowError(_problem(f"{value!r} is not a date like 2027-06-30.", *path)) from None
    return value


def _choice(value: str | None, allowed: frozenset[str], what: str, *path: str) -> str:
    if value is None or value.upper() not in allowed:
        raise RowError(_problem(f"{what} must be one of {', '.join(sorted(allowed))}; got {value!r}.", *path))
    return value.upper()


def _categories(value: Any) -> list[str]:
    items = value if isinstance(value, list) else str(value or "").replace("；", ";").split(";")
    names = [str(item).strip() for item in items if str(item).strip()]
    return [_choice(name, CATEGORIES, "A category", "categories") for name in names]


def _licenses(value: Any) -> list[dict[str, Any]]:
    if value is None or (isinstance(value, str) and value.strip() in _NO_LICENSES):
        return []  # most rows: no JSON to parse
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise RowError(_problem("The licenses column is not a JSON array.", "licenses")) from None
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise RowError(_problem('Licenses are a JSON array of {"type", "number", "validUntil"} objects.', "licenses"))
    out = []
    for i, item in enumerate(value):
        at = ("licenses", str(i))
        entry: dict[str, Any] = {
            "type": _choice(_text(item, "type"), LICENSE_TYPES, "A license type", *at, "type"),
            "number": _text(item, "number") or "",
        }
        until = _date(item, "validUntil", *at, "validUntil") or _date(item, "valid_until", *at, "validUntil")
        if until is not None:
            entry["validUntil"] = until
        out.append(entry)
    return out


def _identity(record: Mapping[str, Any]) -> dict[str, Any] | None:
    nested = record.get("identity")
    source: Mapping[str, Any] = {_column(k): v for k, v in nested.items()} if isinstance(nested, dict) else record
    number = _text(source, "document_number") or _text(source, "number")
    kind = _text(source, "document_type") or _text(source, "type")
    if number is None and kind is None:
        return None
    identity: dict[str, Any] = {
        "type": _choice(kind, DOCUMENT_TYPES, "The document type", "identity", "type"),
        "number": number or "",
        "fullName": _text(source, "full_name") or "",
    }
    for name, key in (("birth_date", "birthDate"), ("expires_on", "expiresOn")):
        value = _date(source, name, "identity", key)
        if value is not None:
            identity[key] = value
    for name, key in (("nationality", "nationality"), ("mrz", "mrz")):
        value = _text(source, name)
        if value is not None:
            identity[key] = value
    return identity


def to_supplier(record: Mapping[str, Any]) -> dict[str, Any]:
    """The SupplierInput of one record; RowError for what would make the whole batch fail to coerce."""
    supplier: dict[str, Any] = {
        "externalRef": _text(record, "external_ref") or "",
        "kind": _choice(_text(record, "kind"), KINDS, "The kind", "kind"),
        "name": _text(record, "name") or "",
        "address": _text(record, "address") or "",
        "contactPhone": _text(record, "contact_phone") or "",
        "categories": _categories(record.get("categories")),
        "licenses": _licenses(record.get("licenses")),
    }
    code = _text(record, "credit_code")
    if code is not None:
        supplier["creditCode"] = code
    identity = _identity(record)
    if identity is not None:
        supplier["identity"] = identity
    return supplier


def _column(name: str) -> str:
    name = name.strip().lower()
    return ALIASES.get(name.replace("_", ""), name)


def _source_row(line: int, fields: Mapping[str, Any]) -> SourceRow:
    """One record, its keys already the contract's column names."""
    ref = _text(fields, "external_ref") or ""
    number = _text(fields, "document_number") or _text(fields.get("identity") or {}, "number") or ""
    try:
        return SourceRow(line, ref, to_supplier(fields), document_number=number)
    except RowError as exc:
        return SourceRow(line, ref, None, exc.problems, number)


def _csv_rows(text: IO[str]) -> Iterator[SourceRow]:
    reader = csv.reader(text)
    header = next(reader, None)
    if header is None:
        return
    names = [_column(name) for name in header]
    start = reader.line_num + 1  # where the next record starts (a quoted cell may span lines)
    for cells in reader:
        if "".join(cells).strip():  # some cell holds more than whitespace
            yield _source_row(start, dict(zip(names, cells, strict=False)))  # cells beyond the header are dropped
        start = reader.line_num + 1


def _jsonl_rows(text: IO[str]) -> Iterator[SourceRow]:
    for line, raw in enumerate(text, start=1):
        if not raw.strip():
            continue
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError:
            yield SourceRow(line, "", None, [_problem("This line is not valid JSON.")])
            continue
        if not isinstance(record, dict):
            yield SourceRow(line, "", None, [_problem("Each line must hold one JSON object.")])
            continue
        yield _source_row(line, {_column(str(key)): value for key, value in record.items()})


def read_rows(path: Path, encoding: str, counter: _Counting) -> Iterator[SourceRow]:
    text = io.TextIOWrapper(io.BufferedReader(counter, _CHUNK), encoding=encoding, newline="")
    rows = _jsonl_rows(text) if path.suffix.lower() in {".jsonl", ".ndjson"} else _csv_rows(text)
    try:
        yield from rows
    except UnicodeDecodeError as exc:
        raise ImportFailed(f"{path} is not valid {encoding} ({exc.reason}); choose the right --encoding.") from None
    except csv.Error as exc:
        raise ImportFailed(f"{path} is not readable CSV: {exc}.") from None


# --------------------------------------------------------------------------------- rejections


def mask_number(number: str) -> str:
    """As the gateway masks documents: the first 3 and last 4 characters (first and last under 8)."""
    head, tail = (3, 4) if len(number) >= 8 else (1, 1)
    if len(number) <= head + tail:
        return "*" * len(number)
    return number[:head] + "*" * (len(number) - head - tail) + number[-tail:]


def _masked(text: str, number: str) -> str:
    if number:
        text = text.replace(number, mask_number(number))
    return _LONG_NUMBER.sub(
        lambda m: mask_number(m.group(0)) if any(c.isdigit() for c in m.group(0)) else m.group(0), text
    )


def describe(problems: Iterable[Mapping[str, Any]], number: str) -> str:
    """Problems as one cell: `CODE field.path: message`, with the row's place in the batch dropped."""
    parts = []
    for p in problems:
        path = list(p.get("field") or [])
        if path[:2] == ["input", "rows"]:
            path = path[3:]
        where = f" {'.'.join(path)}" if path else ""
        parts.append(f"{p.get('code')}{where}: {_masked(str(p.get('message', '')), number)}")
    return " | ".join(parts)


class RejectedFile:
    """FILE.rejected.csv, created with the first rejected row (UTF-8 with BOM, so Excel reads it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = None
        self._writer: Any = None
        path.unlink(missing_ok=True)  # a previous run's rejections are stale

    def add(self, row: SourceRow, problems: Iterable[Mapping[str, Any]]) -> None:
        if self._writer is None:
            self._file = self.path.open("w", encoding="utf-8-sig", newline="")
            self._writer = csv.writer(self._file)
            self._writer.writerow(["line", "external_ref", "problems"])
        self._writer.writerow([row.line, row.external_ref, describe(problems, row.document_number)])

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


# ---------------------------------------------------------------------------------------- HTTP


Sleep = Callable[[float], Awaitable[None]]


class _Retry(Exception):
    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.wait = wait


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def backoff(attempt: int) -> float:
    """Exponential with full jitter: 0.5 s, 1 s, 2 s ... at most 30 s."""
    return random.uniform(0.5, 1.0) * min(30.0, 0.5 * 2**attempt)


class Gateway:
    """The token and the calls, with retries; shared by the concurrent batches."""

    def __init__(self, client: httpx.AsyncClient, options: Options, sleep: Sleep) -> None:
        self._client = client
        self._options = options
        self._sleep = sleep
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    async def token(self, *, renew: bool = False) -> str:
        async with self._lock:
            if renew or self._token is None or time.monotonic() > self._expires_at - TOKEN_MARGIN_S:
                self._token, lifetime = await self._with_retries(self._fetch_token, "the token request")
                self._expires_at = time.monotonic() + lifetime
            return self._token

    async def _fetch_token(self) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._options.client_id,
            "client_secret": self._options.client_secret,
            "scope": SCOPE,
        }
        response = await self._client.post("/oauth/token", data=form)
        self._raise_for_retry(response)
        if response.status_code != 200:
            raise ImportFailed(
                f"the gateway refused the client credentials ({response.status_code}: {response.text[:200]})"
            )
        body = response.json()
        return str(body["access_token"]), float(body.get("expires_in", 900))

    def _raise_for_retry(self, response: httpx.Response) -> None:
        if response.status_code == 429 or response.status_code >= 500:
            raise _Retry(f"HTTP {response.status_code}", retry_after(response))
        if response.status_code == 409:  # the same Idempotency-Key is still being worked on
            raise _Retry("HTTP 409", retry_after(response))

    async def _with_retries(self, call: Callable[[], Awaitable[Any]], what: str) -> Any:
        for attempt in range(self._options.retries + 1):
            try:
                return await call()
            except (httpx.TransportError, _Retry) as exc:
                if attempt == self._options.retries:
                    raise ImportFailed(f"{what} failed {attempt + 1} times; last: {exc!r}") from None
                wait = exc.wait if isinstance(exc, _Retry) and exc.wait is not None else backoff(attempt)
                await self._sleep(wait)
        raise AssertionError("unreachable")

    async def import_rows(self, body: bytes, key: str) -> dict[str, Any]:
        """POST one batch; the same key on every attempt, so a batch is applied at most once."""

        async def once() -> dict[str, Any]:
            response = await self._post(body, key, await self.token())
            if response.status_code == 401:  # expired or revoked mid-import: one fresh token
                response = await self._post(body, key, await self.token(renew=True))
            self._raise_for_retry(response)
            if response.status_code == 413:
                return {"split": "The batch is larger than the gateway's request limit."}
            if response.status_code != 200:
                raise ImportFailed(f"the gateway answered {response.status_code}: {response.text[:300]}")
            return _answer(response.json())

        return await self._with_retries(once, "a batch")  # type: ignore[no-any-return]

    async def _post(self, body: bytes, key: str, token: str) -> httpx.Response:
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Idempotency-Key": key,
        }
        return await self._client.post("/graphql", content=body, headers=headers)


def _answer(body: Mapping[str, Any]) -> dict[str, Any]:
    """The payload, or what to do when the call as a whole was refused."""
    payload = (body.get("data") or {}).get("importSuppliers")
    errors = body.get("errors") or []
    if payload is not None:
        if payload.get("problems"):  # e.g. LIMIT_EXCEEDED: nothing was written
            return {"split": "; ".join(p["message"] for p in payload["problems"])}
        return dict(payload)
    codes = {(e.get("extensions") or {}).get("code") for e in errors}
    message = "; ".join(str(e.get("message")) for e in errors) or "no answer"
    if codes & {"BAD_USER_INPUT", "LIMIT_EXCEEDED"}:
        return {"split": message}  # one row spoils the batch: halve it until that row stands alone
    if "RATE_LIMITED" in codes:
        raise _Retry(message)
    if "INTERNAL" in codes:
        raise _Retry(message)
    raise ImportFailed(f"the gateway refused the import: {message}")


# -------------------------------------------------------------------------------------- batches


def idempotency_key(file_id: str, rows: list[SourceRow], body: bytes) -> str:
    """Deterministic per file and batch: a re-run re-sends the same keys; changed content gets new ones."""
    digest = hashlib.sha256(f"{file_id}\0{rows[0].line}\0{rows[-1].line}\0".encode() + body).hexdigest()
    return f"supimp-{digest[:48]}"


@dataclass(slots=True)
class Run:
    options: Options
    gateway: Gateway
    rejected: RejectedFile
    summary: Summary
    file_id: str

    async def send(self, rows: list[SourceRow]) -> None:
        """Send the batch's valid rows; record every rejection, refused here or by the gateway, in file order."""
        refused = {id(row): row.problems for row in rows if row.supplier is None}
        refused.update(await self._deliver([row for row in rows if row.supplier is not None]))
        for row in rows:
            if id(row) in refused:
                self.summary.rejected += 1
                self.rejected.add(row, refused[id(row)])

    async def _deliver(self, rows: list[SourceRow]) -> dict[int, list[dict[str, Any]]]:
        if not rows:
            return {}
        body = orjson.dumps({"query": MUTATION, "variables": {"rows": [r.supplier for r in rows]}})
        answer = await self.gateway.import_rows(body, idempotency_key(self.file_id, rows, body))
        if "split" in answer:
            if len(rows) == 1:
                return {id(rows[0]): [{"code": "INVALID_INPUT", "message": str(answer["split"]), "field": None}]}
            half = len(rows) // 2
            return {**await self._deliver(rows[:half]), **await self._deliver(rows[half:])}
        self.summary.created += int(answer["created"])
        self.summary.updated += int(answer["updated"])
        self.summary.unchanged += int(answer["unchanged"])
        return {id(rows[int(item["row"])]): item["problems"] for item in answer["rejected"]}


def batches(rows: Iterable[SourceRow], size: int) -> Iterator[list[SourceRow]]:
    """Consecutive rows, at most `size` a batch; rows refused while reading ride along to keep file order."""
    batch: list[SourceRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def pipeline(run: Run, groups: Iterator[list[SourceRow]], on_batch: Callable[[], None]) -> None:
    """At most `concurrency` batches in flight, finished in file order; a batch waits for any earlier
    one in flight with a common externalRef, so the last row in the file wins as in a serial run."""
    inflight: list[tuple[set[str], asyncio.Task[None]]] = []

    async def finish_oldest() -> None:
        _, task = inflight.pop(0)
        await task
        on_batch()

    try:
        for group in groups:
            refs = {row.external_ref for row in group if row.supplier is not None}
            while inflight and (len(inflight) >= run.options.concurrency or any(refs & r for r, _ in inflight)):
                await finish_oldest()
            inflight.append((refs, asyncio.create_task(run.send(group))))
        while inflight:
            await finish_oldest()
    finally:
        for _, task in inflight:
            task.cancel()


def file_id(path: Path) -> str:
    """The file's version: a re-run of the same file re-sends the same keys (the gateway replays what
    it already applied, for 24 hours); an edited or touched file is sent afresh."""
    stat = path.stat()
    return f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}"


async def run_import(
    options: Options,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    sleep: Sleep = asyncio.sleep,
    on_batch: Callable[[], None] | None = None,
    console: Console | None = None,
) -> Summary:
    """The whole import; raises ImportFailed when it cannot finish (the summary so far is on the exception)."""
    if not 1 <= options.batch <= MAX_BATCH:
        raise ImportFailed(f"--batch must be between 1 and {MAX_BATCH}")
    encoding = _encoding(options.file, options.encoding)
    summary = Summary()
    timeout = httpx.Timeout(120.0, connect=10.0)
    async with httpx.AsyncClient(base_url=options.base_url, transport=transport, timeout=timeout) as client:
        run = Run(
            options,
            Gateway(client, options, sleep),
            RejectedFile(options.rejected_path),
            summary,
            file_id(options.file),
        )
        try:
            with options.file.open("rb") as raw, _progress(options, console) as progress:
                counter = _Counting(raw)
                task = progress.add_task("importing", total=options.file.stat().st_size, rows=0)

                def advanced() -> None:
                    done = summary.created + summary.updated + summary.unchanged + summary.rejected
                    progress.update(task, completed=counter.position, rows=done)
                    if on_batch is not None:
                        on_batch()

                rows = read_rows(options.file, encoding, counter)
                await pipeline(run, batches(rows, options.batch), advanced)
                progress.update(task, completed=options.file.stat().st_size)
        except ImportFailed as exc:
            exc.summary = summary
            raise
        finally:
            run.rejected.close()
    return summary


class RowsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        rows = task.fields.get("rows", 0)
        rate = rows / elapsed if elapsed > 0 else 0.0
        return Text(f"{rows:,} rows  {rate:,.0f} rows/s", style="progress.data.speed")


def _progress(options: Options, console: Console | None) -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        RowsPerSecond(),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
        disable=not options.progress,
    )


# ----------------------------------------------------------------------------------------- CLI


def parse_args(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(prog="import_suppliers.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path, help="CSV (header row) or JSON Lines (.jsonl / .ndjson)")
    parser.add_argument("--url", required=True, help="the gateway, e.g. http://127.0.0.1:8000")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--batch", type=int, default=500, help=f"rows per call, 1 to {MAX_BATCH} (default 500)")
    parser.add_argument("--encoding", help="the CSV encoding (default: UTF-8 with or without BOM, else GB18030)")
    parser.add_argument("--concurrency", type=int, default=2, help="batches in flight (default 2)")
    parser.add_argument("--retries", type=int, default=8, help="retries of a batch before giving up (default 8)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if not 1 <= args.batch <= MAX_BATCH:
        parser.error(f"--batch must be between 1 and {MAX_BATCH}")
    if args.concurrency < 1 or args.retries < 0:
        parser.error("--concurrency must be at least 1 and --retries at least 0")
    if args.encoding is not None:
        try:
            codecs.lookup(args.encoding)
        except LookupError:
            parser.error(f"unknown encoding {args.encoding!r}")
    if not args.file.is_file():
        parser.error(f"{args.file} is not a file")
    return Options(
        file=args.file,
        url=args.url,
        client_id=args.client_id,
        client_secret=args.client_secret,
        batch=args.batch,
        encoding=args.encoding,
        concurrency=args.concurrency,
        retries=args.retries,
        progress=not args.no_progress,
    )


def main(argv: list[str] | None = None) -> int:
    options = parse_args(sys.argv[1:] if argv is None else argv)
    # Modules and classes live until exit: out of the collector's sight, so its full passes walk only
    # the batches in flight (the import allocates tens of objects per row).
    gc.collect()
    gc.freeze()
    try:
        summary = asyncio.run(run_import(options))
    except ImportFailed as exc:
        print(f"import_suppliers: could not finish: {exc}", file=sys.stderr)
        if exc.summary is not None:
            print(exc.summary.line())
        return 1
    except KeyboardInterrupt:
        print("import_suppliers: interrupted; run it again to finish (nothing is applied twice)", file=sys.stderr)
        return 130
    print(summary.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
