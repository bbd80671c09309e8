"""The `http` identity provider: a signed JSON request to a verifier that may answer later.

Both directions are signed the same way: `X-Livegate-Timestamp` holds unix seconds and
`X-Livegate-Signature` holds `v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`; during a secret
rotation the sender lists one `v1=` value per secret, separated by commas. The verifier answers
200 with a verdict, or 202 when its answer will come through the callback. Anything else (timeout,
connection error, 5xx, a malformed answer) leaves the record PENDING: the callback or the pending
limit decides, and registration never fails because the verifier is down.

The request carries identity numbers, so neither its body nor the verifier's answer is ever logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from datetime import datetime

import httpx
import orjson

from registry import clock
from registry.identity_provider import Answer, Verdict
from registry.validators.documents import VerifiedDocument

log = logging.getLogger("livegate.identity")

TIMESTAMP_HEADER = "X-Livegate-Timestamp"
SIGNATURE_HEADER = "X-Livegate-Signature"
SCHEME = "v1"
MAX_SKEW_S = 300
REFERENCE_MAX = 128
_MAX_SIGNATURES = 8  # bounds the work a forged header can ask for
_MAX_TIMESTAMP_DIGITS = 12
_PENDING = Answer(Verdict.PENDING)


def _digest(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The `X-Livegate-Signature` value for `body` sent at `timestamp` (unix seconds)."""
    return f"{SCHEME}={_digest(secret, str(timestamp), body)}"


def verify_signature(
    secret: str, timestamp_header: str | None, signature_header: str | None, body: bytes, *, now: datetime,
    max_skew_s: int = MAX_SKEW_S,
) -> bool:  # fmt: skip
    """True when one `v1=` value of the header signs `body` at a timestamp within `max_skew_s` of `now`."""
    if not timestamp_header or not signature_header:
        return False
    if not timestamp_header.isascii() or not timestamp_header.isdigit():
        return False
    if len(timestamp_header) > _MAX_TIMESTAMP_DIGITS or abs(now.timestamp() - int(timestamp_header)) > max_skew_s:
        return False
    expected = _digest(secret, timestamp_header, body)
    offered = [value for scheme, _, value in _signatures(signature_header) if scheme == SCHEME]
    # Every offered value is compared in constant time; `any` stopping early only reveals which one matched.
    return any(hmac.compare_digest(expected.encode(), value.encode()) for value in offered)


def _signatures(header: str) -> list[tuple[str, str, str]]:
    parts = header.split(",", _MAX_SIGNATURES)[:_MAX_SIGNATURES]
    return [part.strip().partition("=") for part in parts]


def request_body(subject_id: str, document: VerifiedDocument) -> bytes:
    """What the verifier receives; `callbackRef` is the `subjectId` its callback must name."""
    return orjson.dumps(
        {
            "subjectId": subject_id,
            "documentType": document.type.value,
            "number": document.number,
            "fullName": document.full_name,
            "birthDate": document.birth_date.isoformat(),
            "nationality": document.nationality,
            "callbackRef": subject_id,
        }
    )


def parse_answer(response: httpx.Response) -> Answer | None:
    """The verdict of a 200 answer; None when the answer is not one."""
    try:
        data = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
    status = data.get("status") if isinstance(data, dict) else None
    if not isinstance(status, str) or status not in Verdict.__members__:
        return None
    reference = data.get("reference")
    if not isinstance(reference, str) or not reference or len(reference) > REFERENCE_MAX:
        reference = None
    return Answer(Verdict(status), reference)


class HttpProvider:
    """Posts each check to `url`; a verifier that does not answer in `timeout_s` leaves it PENDING."""

    def __init__(self, url: str, secret: str, *, timeout_s: float, client: httpx.AsyncClient | None = None) -> None:
        self._url = url
        self._secret = secret
        self._timeout_s = timeout_s
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)

    async def aclose(self) -> None:
        """Close the connection pool, unless the caller lent its own client."""
        if self._owns_client:
            await self._client.aclose()

    async def check(self, subject_id: str, document: VerifiedDocument) -> Answer:
        body = request_body(subject_id, document)
        timestamp = str(int(clock.now().timestamp()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
        }
        try:
            # httpx times each phase separately; the overall deadline bounds a verifier that trickles.
            async with asyncio.timeout(self._timeout_s):
                response = await self._client.post(self._url, content=body, headers=headers)
        except (TimeoutError, httpx.TimeoutException):
            log.warning("identity provider: no answer within %ss for %s; left PENDING", self._timeout_s, subject_id)
            return _PENDING
        except httpx.HTTPError as exc:
            log.warning("identity provider: %s for %s; left PENDING", type(exc).__name__, subject_id)
            return _PENDING
        return self._answer(subject_id, response)

    def _answer(self, subject_id: str, response: httpx.Response) -> Answer:
        if response.status_code == httpx.codes.ACCEPTED:
            return _PENDING
        if response.status_code != httpx.codes.OK:
            level = logging.ERROR if response.is_client_error else logging.WARNING  # 4xx: our request or secret
            log.log(level, "identity provider: HTTP %s for %s; left PENDING", response.status_code, subject_id)
            return _PENDING
        answer = parse_answer(response)
        if answer is None:
            log.warning("identity provider: a malformed answer for %s; left PENDING", subject_id)
            return _PENDING
        return answer
