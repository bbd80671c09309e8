"""The http identity provider: signatures, and a real verifier over HTTP on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest
import pytest_asyncio

from registry import clock
from registry.identity_http import SIGNATURE_HEADER, TIMESTAMP_HEADER, HttpProvider, sign, verify_signature
from registry.identity_provider import Answer, Verdict
from registry.validators.documents import VerifiedDocument, validate_document
from tests.factories import document, years_ago
from tests.registry.identity.helpers import SECRET, SLOW_S, Verifier, closed_port_url, running_verifier

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BODY = b'{"eventId":"evt-1"}'


def _verified_document() -> VerifiedDocument:
    verified, problems, _ = validate_document(document(years_ago(30), name="王小明"), today=clock.today_in_shanghai())
    assert verified is not None, problems
    return verified


# ------------------------------------------------------------------------------------ signatures


def test_sign_is_hmac_sha256_over_timestamp_and_body() -> None:
    expected = hmac.new(b"s3cret", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert sign("s3cret", 1700000000, BODY) == f"v1={expected}"
    assert sign("s3cret", "1700000000", BODY) == f"v1={expected}"


@pytest.mark.parametrize("offset_s", [-300, -1, 0, 1, 300])
def test_a_signature_within_five_minutes_is_accepted(offset_s: int) -> None:
    timestamp = str(int(NOW.timestamp()) + offset_s)
    assert verify_signature("k", timestamp, sign("k", timestamp, BODY), BODY, now=NOW)


@pytest.mark.parametrize("offset_s", [-360, -301, 301, 360])
def test_a_signature_beyond_five_minutes_is_refused(offset_s: int) -> None:
    timestamp = str(int(NOW.timestamp()) + offset_s)
    assert not verify_signature("k", timestamp, sign("k", timestamp, BODY), BODY, now=NOW)


def test_the_skew_is_configurable() -> None:
    timestamp = str(int((NOW - timedelta(seconds=30)).timestamp()))
    signature = sign("k", timestamp, BODY)
    assert not verify_signature("k", timestamp, signature, BODY, now=NOW, max_skew_s=10)


def test_wrong_secret_tampered_body_or_timestamp_are_refused() -> None:
    timestamp = str(int(NOW.timestamp()))
    signature = sign("k", timestamp, BODY)
    assert not verify_signature("other", timestamp, signature, BODY, now=NOW)
    assert not verify_signature("k", timestamp, signature, BODY + b" ", now=NOW)
    assert not verify_signature("k", str(int(timestamp) - 1), signature, BODY, now=NOW)


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [
        (None, "v1=00"),
        ("1772366400", None),
        ("", "v1=00"),
        ("1772366400", ""),
        ("-1772366400", "v1=00"),
        ("1772366400.0", "v1=00"),
        ("１７７２３６６４００", "v1=00"),  # full-width digits are digits to Python, not to us
        ("9" * 40, "v1=00"),
    ],
)
def test_missing_or_malformed_headers_are_refused(timestamp: str | None, signature: str | None) -> None:
    assert not verify_signature("k", timestamp, signature, BODY, now=NOW)


def test_only_the_v1_scheme_counts() -> None:
    timestamp = str(int(NOW.timestamp()))
    digest = sign("k", timestamp, BODY).removeprefix("v1=")
    assert not verify_signature("k", timestamp, f"v0={digest}", BODY, now=NOW)
    assert not verify_signature("k", timestamp, digest, BODY, now=NOW)


def test_several_signatures_allow_secret_rotation() -> None:
    timestamp = str(int(NOW.timestamp()))
    both = f"{sign('old', timestamp, BODY)}, {sign('new', timestamp, BODY)}"
    assert verify_signature("old", timestamp, both, BODY, now=NOW)
    assert verify_signature("new", timestamp, both, BODY, now=NOW)
    assert not verify_signature("third", timestamp, both, BODY, now=NOW)


def test_a_header_with_many_values_is_bounded() -> None:
    timestamp = str(int(NOW.timestamp()))
    padded = ",".join(["v1=00"] * 20 + [sign("k", timestamp, BODY)])
    assert not verify_signature("k", timestamp, padded, BODY, now=NOW)


# ------------------------------------------------------------------------ against a real verifier


@pytest_asyncio.fixture
async def provider_for(verifier: Verifier) -> AsyncIterator[Callable[..., HttpProvider]]:
    made: list[HttpProvider] = []

    def make(behaviour: str, *, secret: str = SECRET, timeout_s: float = 5.0, url: str | None = None) -> HttpProvider:
        provider = HttpProvider(url or verifier.url(behaviour), secret, timeout_s=timeout_s)
        made.append(provider)
        return provider

    yield make
    for provider in made:
        await provider.aclose()


@pytest.mark.parametrize("verdict", list(Verdict))
async def test_a_200_answer_carries_the_verdict(provider_for: Callable[..., HttpProvider], verdict: Verdict) -> None:
    answer = await provider_for(verdict.value).check("per_abc", _verified_document())
    assert answer == Answer(verdict, f"ref-{verdict.value.lower()}")


async def test_the_request_is_signed_json(verifier: Verifier, provider_for: Callable[..., HttpProvider]) -> None:
    doc = _verified_document()
    before = len(verifier.received)
    await provider_for("VERIFIED").check("per_abc", doc)
    received = verifier.received[before]
    assert received.headers["content-type"] == "application/json"
    timestamp = received.headers[TIMESTAMP_HEADER.lower()]
    assert abs(int(timestamp) - time.time()) < 5
    signature = received.headers[SIGNATURE_HEADER.lower()]
    assert signature == sign(SECRET, timestamp, received.body)
    assert orjson.loads(received.body) == {
        "subjectId": "per_abc",
        "documentType": "RESIDENT_ID_CARD",
        "number": doc.number,
        "fullName": "王小明",
        "birthDate": doc.birth_date.isoformat(),
        "nationality": None,
        "callbackRef": "per_abc",
    }


@pytest.mark.parametrize("behaviour", ["accepted", "error", "garbage", "unknown"])
async def test_anything_but_a_verdict_leaves_it_pending(
    provider_for: Callable[..., HttpProvider], behaviour: str
) -> None:
    assert await provider_for(behaviour).check("per_abc", _verified_document()) == Answer(Verdict.PENDING)


async def test_a_verifier_refusing_our_signature_leaves_it_pending(
    provider_for: Callable[..., HttpProvider], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "livegate.identity")
    answer = await provider_for("VERIFIED", secret="not-the-shared-secret").check("per_abc", _verified_document())
    assert answer == Answer(Verdict.PENDING)
    assert any(r.levelno == logging.ERROR and "HTTP 401" in r.getMessage() for r in caplog.records)


async def test_a_slow_verifier_times_out_to_pending(provider_for: Callable[..., HttpProvider]) -> None:
    started = time.monotonic()
    answer = await provider_for("slow", timeout_s=0.2).check("per_abc", _verified_document())
    assert answer == Answer(Verdict.PENDING)
    assert time.monotonic() - started < SLOW_S


async def test_a_refused_connection_leaves_it_pending(provider_for: Callable[..., HttpProvider]) -> None:
    answer = await provider_for("", url=closed_port_url()).check("per_abc", _verified_document())
    assert answer == Answer(Verdict.PENDING)


async def test_a_lent_client_is_used_and_left_open(verifier: Verifier) -> None:
    async with httpx.AsyncClient() as client:
        provider = HttpProvider(verifier.url("VERIFIED"), SECRET, timeout_s=5, client=client)
        assert (await provider.check("per_abc", _verified_document())).verdict is Verdict.VERIFIED
        await provider.aclose()
        assert not client.is_closed


async def test_identity_data_never_reaches_the_logs(
    provider_for: Callable[..., HttpProvider], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    doc = _verified_document()
    for behaviour in ("VERIFIED", "accepted", "error", "garbage", "unknown"):
        await provider_for(behaviour).check("per_abc", doc)
    await provider_for("slow", timeout_s=0.2).check("per_abc", doc)
    await provider_for("", url=closed_port_url()).check("per_abc", doc)
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert "per_abc" in logged  # the failures are logged, by subject id
    for secret in (doc.number, doc.full_name, doc.birth_date.isoformat(), doc.number[-6:]):
        assert secret not in logged


def test_the_verifier_stops_and_frees_its_port() -> None:
    with running_verifier() as server:
        assert httpx.post(server.url("accepted")).status_code == 202
    with pytest.raises(httpx.ConnectError):
        httpx.post(server.url("accepted"))
