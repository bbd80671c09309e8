"""POST /providers/identity/callback and the http identity provider, end to end over HTTP.

Registrations go through GraphQL to a real verifier on 127.0.0.1; its late answers are signed
callbacks to the gateway.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette
from starlette.routing import Route

from gateway.providers import CALLBACK_MAX_BYTES, identity_callback
from gateway.runtime import Runtime
from gateway.settings import IdentityProviderKind
from registry import clock, config
from registry.identity_callbacks_models import ProviderEvent
from registry.identity_http import HttpProvider
from registry.performers import services as performers
from registry.performers.models import Performer
from tests.conftest import PlatformClient, get_token, gql, make_platform
from tests.factories import platform_actor, resident_id, years_ago
from tests.registry.identity.helpers import (
    SECRET,
    Verifier,
    callback_body,
    running_verifier,
    signed_headers,
)

CALLBACK = "/providers/identity/callback"
REGISTER = """
mutation ($input: RegisterPerformerInput!) {
  registerPerformer(input: $input) {
    performer { id verificationStatus reverifyBy findings { code } }
    problems { code field message }
  }
}"""
PERFORMER = "query ($id: ID!) { performer(id: $id) { verificationStatus reverifyBy findings { code } } }"
ELIGIBILITY = "query ($id: ID!) { liveEligibility(performerId: $id) { allowed reasons } }"


@pytest.fixture(scope="module")
def verifier() -> Iterator[Verifier]:
    with running_verifier() as server:
        yield server


def _route(app: Starlette) -> None:
    # Until gateway/app.py serves the route itself.
    if not any(getattr(route, "path", None) == CALLBACK for route in app.router.routes):
        app.router.routes.append(Route(CALLBACK, identity_callback, methods=["POST"]))


def _use_provider(app: Starlette, url: str, *, timeout_s: float = 2.0) -> HttpProvider:
    """What gateway/runtime.py builds from LIVEGATE_IDENTITY_PROVIDER=http and its settings."""
    runtime: Runtime = app.state.runtime
    runtime.settings = dataclasses.replace(
        runtime.settings,
        identity_provider=IdentityProviderKind.HTTP,
        identity_provider_url=url,
        identity_provider_secret=SECRET,
        identity_provider_timeout_s=timeout_s,
    )
    provider = HttpProvider(url, SECRET, timeout_s=timeout_s)
    config.configure(dataclasses.replace(config.current(), identity_provider=provider))
    return provider


@pytest_asyncio.fixture
async def http_app(app: Starlette, verifier: Verifier) -> AsyncIterator[Starlette]:
    """The gateway with the http provider; the verifier answers 202 (the callback will decide)."""
    _route(app)
    provider = _use_provider(app, verifier.url("accepted"))
    yield app
    await provider.aclose()


async def _register(client: httpx.AsyncClient, token: str, *, ref: str = "acct-1") -> dict[str, object]:
    variables = {
        "input": {
            "role": "MARKETER",
            "document": {"type": "RESIDENT_ID_CARD", "number": resident_id(years_ago(30)), "fullName": "赵六"},
            "phone": "13800138000",
            "externalRef": ref,
        }
    }
    response = await gql(client, REGISTER, variables, token=token)
    assert response.status_code == 200, response.text
    payload = response.json()["data"]["registerPerformer"]
    assert payload["problems"] == [], payload
    return dict(payload["performer"])


async def _callback(client: httpx.AsyncClient, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return await client.post(CALLBACK, content=body, headers=headers)


async def _answer(client: httpx.AsyncClient, subject_id: str, status: str, event_id: str) -> httpx.Response:
    body = callback_body(subject_id, status, event_id=event_id)
    return await _callback(client, body, signed_headers(body))


async def _status(client: httpx.AsyncClient, token: str, performer_id: str) -> dict[str, object]:
    response = await gql(client, PERFORMER, {"id": performer_id}, token=token)
    return dict(response.json()["data"]["performer"])


async def _eligibility(client: httpx.AsyncClient, token: str, performer_id: str) -> dict[str, object]:
    response = await gql(client, ELIGIBILITY, {"id": performer_id}, token=token)
    return dict(response.json()["data"]["liveEligibility"])


@pytest_asyncio.fixture
async def pending(http_app: Starlette, client: httpx.AsyncClient, platform: PlatformClient) -> tuple[str, str]:
    """(token, performer id) of a performer the verifier left PENDING; trained, so only verification is missing."""
    token = await get_token(client, platform)
    performer = await _register(client, token)
    assert performer["verificationStatus"] == "PENDING" and performer["reverifyBy"] is None
    performer_id = str(performer["id"])
    trained_at = datetime.now(UTC) - timedelta(days=1)
    await performers.record_training(platform_actor(platform.id), performer_id, trained_at, "Live marketing law")
    return token, performer_id


def _is_one_line_error(response: httpx.Response, status: int, code: str) -> bool:
    body = response.json()
    return (
        response.status_code == status and "\n" not in response.text and body["errors"][0]["extensions"]["code"] == code
    )


# ------------------------------------------------------------------------------------ the happy path


async def test_a_signed_callback_verifies_a_pending_performer(
    client: httpx.AsyncClient, pending: tuple[str, str]
) -> None:
    token, performer_id = pending
    assert await _eligibility(client, token, performer_id) == {"allowed": False, "reasons": ["NOT_VERIFIED"]}

    response = await _answer(client, performer_id, "VERIFIED", "evt-1")
    assert (response.status_code, response.json()) == (200, {"status": "applied"})

    performer = await _status(client, token, performer_id)
    assert performer["verificationStatus"] == "VERIFIED" and performer["reverifyBy"] is not None
    assert await _eligibility(client, token, performer_id) == {"allowed": True, "reasons": []}


async def test_a_mismatch_callback_rejects_with_a_finding(client: httpx.AsyncClient, pending: tuple[str, str]) -> None:
    token, performer_id = pending
    response = await _answer(client, performer_id, "MISMATCH", "evt-1")
    assert (response.status_code, response.json()) == (200, {"status": "applied"})
    performer = await _status(client, token, performer_id)
    assert performer["verificationStatus"] == "REJECTED"
    assert performer["findings"] == [{"code": "IDENTITY_MISMATCH"}]


@pytest.mark.parametrize(
    ("behaviour", "status", "findings"),
    [("VERIFIED", "VERIFIED", []), ("MISMATCH", "REJECTED", [{"code": "IDENTITY_MISMATCH"}])],
)
async def test_a_verifier_answering_at_once_decides_at_registration(
    app: Starlette, client: httpx.AsyncClient, platform: PlatformClient, verifier: Verifier,
    behaviour: str, status: str, findings: list[dict[str, str]],
) -> None:  # fmt: skip
    provider = _use_provider(app, verifier.url(behaviour))
    try:
        performer = await _register(client, await get_token(client, platform))
    finally:
        await provider.aclose()
    assert (performer["verificationStatus"], performer["findings"]) == (status, findings)


async def test_a_verifier_too_slow_leaves_the_registration_pending(
    app: Starlette, client: httpx.AsyncClient, platform: PlatformClient, verifier: Verifier
) -> None:
    _route(app)
    provider = _use_provider(app, verifier.url("slow"), timeout_s=0.2)
    try:
        performer = await _register(client, await get_token(client, platform))
    finally:
        await provider.aclose()
    assert performer["verificationStatus"] == "PENDING"
    response = await _answer(client, str(performer["id"]), "VERIFIED", "evt-late")
    assert response.json() == {"status": "applied"}


# ---------------------------------------------------------------------------------------- refusals


async def test_a_forged_callback_is_refused(client: httpx.AsyncClient, pending: tuple[str, str]) -> None:
    token, performer_id = pending
    body = callback_body(performer_id, "VERIFIED", event_id="evt-forged")
    response = await _callback(client, body, signed_headers(body, secret="guessed-secret"))
    assert _is_one_line_error(response, 401, "UNAUTHENTICATED")
    assert (await _status(client, token, performer_id))["verificationStatus"] == "PENDING"
    assert not await ProviderEvent.exists(event_id="evt-forged")


async def test_a_body_changed_after_signing_is_refused(client: httpx.AsyncClient, pending: tuple[str, str]) -> None:
    _, performer_id = pending
    headers = signed_headers(callback_body(performer_id, "REJECTED", event_id="evt-1"))
    response = await _callback(client, callback_body(performer_id, "VERIFIED", event_id="evt-1"), headers)
    assert _is_one_line_error(response, 401, "UNAUTHENTICATED")


@pytest.mark.parametrize("age_s", [360, -360])
async def test_a_timestamp_six_minutes_off_is_refused(
    client: httpx.AsyncClient, pending: tuple[str, str], age_s: int
) -> None:
    token, performer_id = pending
    body = callback_body(performer_id, "VERIFIED", event_id="evt-stale")
    response = await _callback(client, body, signed_headers(body, age_s=age_s))
    assert _is_one_line_error(response, 401, "UNAUTHENTICATED")
    assert (await _status(client, token, performer_id))["verificationStatus"] == "PENDING"


async def test_missing_signature_headers_are_refused(client: httpx.AsyncClient, pending: tuple[str, str]) -> None:
    _, performer_id = pending
    body = callback_body(performer_id, "VERIFIED", event_id="evt-1")
    response = await _callback(client, body, {"Content-Type": "application/json"})
    assert _is_one_line_error(response, 401, "UNAUTHENTICATED")


async def test_a_replayed_event_is_answered_without_effect(client: httpx.AsyncClient, pending: tuple[str, str]) -> None:
    token, performer_id = pending
    body = callback_body(performer_id, "VERIFIED", event_id="evt-1")
    headers = signed_headers(body)
    assert (await _callback(client, body, headers)).json() == {"status": "applied"}
    reverify_by = (await _status(client, token, performer_id))["reverifyBy"]
    replay = await _callback(client, body, headers)
    assert (replay.status_code, replay.json()) == (200, {"status": "duplicate"})
    assert (await _status(client, token, performer_id))["reverifyBy"] == reverify_by


async def test_a_second_different_answer_is_ignored(client: httpx.AsyncClient, pending: tuple[str, str]) -> None:
    token, performer_id = pending
    assert (await _answer(client, performer_id, "VERIFIED", "evt-1")).json() == {"status": "applied"}
    again = await _answer(client, performer_id, "VERIFIED", "evt-2")
    assert (again.status_code, again.json()) == (200, {"status": "already_applied"})
    late = await _answer(client, performer_id, "MISMATCH", "evt-3")
    assert (late.status_code, late.json()) == (200, {"status": "ignored"})
    assert (await _status(client, token, performer_id))["verificationStatus"] == "VERIFIED"


async def test_a_pending_answer_keeps_it_pending(client: httpx.AsyncClient, pending: tuple[str, str]) -> None:
    token, performer_id = pending
    response = await _answer(client, performer_id, "PENDING", "evt-1")
    assert (response.status_code, response.json()) == (200, {"status": "pending"})
    assert (await _status(client, token, performer_id))["verificationStatus"] == "PENDING"


@pytest.mark.parametrize("subject_id", ["per_nosuchperformer", "org_abc", "plt_abc"])
async def test_an_unknown_subject_is_404(client: httpx.AsyncClient, http_app: Starlette, subject_id: str) -> None:
    response = await _answer(client, subject_id, "VERIFIED", "evt-1")
    assert _is_one_line_error(response, 404, "NOT_FOUND")


async def test_subjects_are_global_ids_across_platforms(client: httpx.AsyncClient, pending: tuple[str, str]) -> None:
    token, first_id = pending
    other = await make_platform("other")
    other_token = await get_token(client, other)
    second_id = str((await _register(client, other_token, ref="acct-1"))["id"])
    assert (await _answer(client, second_id, "MISMATCH", "evt-b")).json() == {"status": "applied"}
    assert (await _status(client, other_token, second_id))["verificationStatus"] == "REJECTED"
    assert (await _status(client, token, first_id))["verificationStatus"] == "PENDING"
    assert (await gql(client, PERFORMER, {"id": second_id}, token=token)).json()["data"]["performer"] is None


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'"VERIFIED"',
        b"{}",
        json.dumps({"eventId": "evt-1", "subjectId": "per_x", "status": "MAYBE"}).encode(),
        json.dumps({"eventId": "", "subjectId": "per_x", "status": "VERIFIED"}).encode(),
        json.dumps({"eventId": 7, "subjectId": "per_x", "status": "VERIFIED"}).encode(),
        json.dumps({"eventId": "e" * 129, "subjectId": "per_x", "status": "VERIFIED"}).encode(),
        json.dumps({"eventId": "evt-1", "subjectId": ["per_x"], "status": "VERIFIED"}).encode(),
        json.dumps({"eventId": "evt-1", "subjectId": "per_x", "status": ["VERIFIED"]}).encode(),
        json.dumps({"eventId": "evt-1", "subjectId": "per_x", "status": "VERIFIED", "reference": 5}).encode(),
        json.dumps({"eventId": "evt\n1", "subjectId": "per_x", "status": "VERIFIED"}).encode(),
    ],
)
async def test_a_malformed_signed_body_is_400(client: httpx.AsyncClient, http_app: Starlette, body: bytes) -> None:
    response = await _callback(client, body, signed_headers(body))
    assert _is_one_line_error(response, 400, "BAD_REQUEST")


async def test_a_body_over_64_kib_is_413(client: httpx.AsyncClient, http_app: Starlette) -> None:
    body = callback_body("per_x", "VERIFIED", event_id="evt-1", reference="r" * CALLBACK_MAX_BYTES)
    response = await _callback(client, body, signed_headers(body))
    assert _is_one_line_error(response, 413, "LIMIT_EXCEEDED")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the stream is counted
        for _ in range(3):
            yield b" " * (CALLBACK_MAX_BYTES // 2)

    streamed = await client.post(CALLBACK, content=chunks(), headers=signed_headers(b""))
    assert _is_one_line_error(streamed, 413, "LIMIT_EXCEEDED")


async def test_without_the_http_provider_the_endpoint_is_404(app: Starlette, client: httpx.AsyncClient) -> None:
    _route(app)
    body = callback_body("per_x", "VERIFIED", event_id="evt-1")
    response = await _callback(client, body, signed_headers(body))
    assert _is_one_line_error(response, 404, "NOT_FOUND")


# ------------------------------------------------------------------------------- the pending limit


async def test_pending_past_the_limit_reads_review_and_ignores_the_callback(
    client: httpx.AsyncClient, pending: tuple[str, str]
) -> None:
    token, performer_id = pending
    limit = config.current().provider_pending_limit_s
    await Performer.filter(id=performer_id).update(pending_since=clock.now() - timedelta(seconds=limit + 1))
    assert (await _status(client, token, performer_id))["verificationStatus"] == "REVIEW"
    eligibility = await _eligibility(client, token, performer_id)
    assert eligibility == {"allowed": False, "reasons": ["NOT_VERIFIED"]}
    response = await _answer(client, performer_id, "VERIFIED", "evt-late")
    assert (response.status_code, response.json()) == (200, {"status": "ignored"})
    assert (await _status(client, token, performer_id))["verificationStatus"] == "REVIEW"
