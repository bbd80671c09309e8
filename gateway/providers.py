"""POST /providers/identity/callback: the http identity provider's signed, late answer.

The signature (HMAC-SHA256 over timestamp and body, at most 5 minutes of skew) is checked before
anything in the body is believed. Replays and repeats answer 200 so the provider stops retrying;
only an unknown subject (the registration may not have committed yet) asks it to try again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TypeGuard

import orjson
from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import http_error
from gateway.graphql_http import json_response
from gateway.runtime import Runtime
from gateway.settings import IdentityProviderKind
from registry import clock
from registry.identity_callbacks import EVENT_ID_MAX, Outcome, apply_answer
from registry.identity_http import REFERENCE_MAX, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from registry.identity_provider import Verdict
from registry.ids import ID_MAX_LENGTH

log = logging.getLogger("livegate.identity")

CALLBACK_MAX_BYTES = 64 * 1024


class _TooLarge(Exception):
    pass


@dataclass(frozen=True, slots=True)
class _Callback:
    event_id: str
    subject_id: str
    verdict: Verdict
    reference: str | None


async def identity_callback(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    secret = runtime.settings.identity_provider_secret
    if runtime.settings.identity_provider is not IdentityProviderKind.HTTP or not secret:
        return http_error(404, "No http identity provider is configured.")
    try:
        body = await _read_body(request)
    except _TooLarge:
        return http_error(413, f"A callback body is at most {CALLBACK_MAX_BYTES} bytes.")
    timestamp, signature = request.headers.get(TIMESTAMP_HEADER), request.headers.get(SIGNATURE_HEADER)
    if not verify_signature(secret, timestamp, signature, body, now=clock.now()):
        return http_error(401, "The callback signature is missing, wrong, or more than 5 minutes off the clock.")
    callback = _parse(body)
    if callback is None:
        return http_error(400, "A callback is a JSON object with eventId, subjectId, status and reference.")
    result = await apply_answer(
        callback.subject_id, callback.verdict, event_id=callback.event_id, reference=callback.reference
    )
    if result.outcome is Outcome.NOT_FOUND:
        return http_error(404, "No performer has this subjectId.")
    log.info("identity provider event %s for %s: %s", callback.event_id, callback.subject_id, result.outcome.value)
    return json_response({"status": result.outcome.value})


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > CALLBACK_MAX_BYTES:
        raise _TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > CALLBACK_MAX_BYTES:
            raise _TooLarge
    return bytes(body)


def _parse(body: bytes) -> _Callback | None:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    event_id, subject_id, status, reference = (data.get(k) for k in ("eventId", "subjectId", "status", "reference"))
    if not _text(event_id, EVENT_ID_MAX) or not _text(subject_id, ID_MAX_LENGTH):
        return None
    if not isinstance(status, str) or status not in Verdict.__members__:
        return None
    if reference is not None and not _text(reference, REFERENCE_MAX):
        return None
    return _Callback(event_id, subject_id, Verdict(status), reference)


def _text(value: object, max_len: int) -> TypeGuard[str]:
    return isinstance(value, str) and 0 < len(value) <= max_len and value.isprintable()
