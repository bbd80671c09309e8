"""Forged bearer tokens through HTTP: every known attack answers 401 with the same RFC 6750 challenge.

The tokens are assembled and signed here by hand (cryptography, hmac), independently of python-jose.
A control test signs a token with the same builder and our real key: it is accepted, so each refusal
below is caused by the one thing the attack changes, not by a broken builder.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from starlette.applications import Starlette

from gateway.auth.keys import SigningKey, generate_signing_key
from registry.onboarding import services as onboarding
from tests.conftest import PlatformClient, get_token, gql, make_platform
from tests.factories import platform_actor

pytestmark = pytest.mark.usefixtures("db")

Signer = Callable[[bytes], bytes]
CHALLENGE_PREFIX = 'Bearer realm="livegate", error="invalid_token"'
DROP = object()  # a claim to leave out


# -- token builders ------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_json(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def forge(header: dict[str, Any], claims: dict[str, Any], sign: Signer) -> str:
    signing_input = f"{b64url_json(header)}.{b64url_json(claims)}"
    return f"{signing_input}.{b64url(sign(signing_input.encode('ascii')))}"


def es256(private_key: ec.EllipticCurvePrivateKey) -> Signer:
    def sign(data: bytes) -> bytes:
        r, s = decode_dss_signature(private_key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")  # JWS wants raw r||s, not DER

    return sign


def hs256(secret: bytes) -> Signer:
    return lambda data: hmac.new(secret, data, hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class Forger:
    """What an attacker knows (our public key, issuer, a platform id) plus, for controls, our private key."""

    key: SigningKey
    issuer: str
    platform_id: str
    public_jwk: dict[str, Any]

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": "livegate",
            "sub": self.platform_id,
            "scope": "performers:read",
            "iat": now,
            "nbf": now,
            "exp": now + 900,
            "jti": secrets.token_urlsafe(16),
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not DROP}

    def header(self, **overrides: Any) -> dict[str, Any]:
        return {"alg": "ES256", "kid": self.key.kid, "typ": "JWT", **overrides}

    def signed_by_us(self, claims: dict[str, Any]) -> str:
        """Only the claim under test is wrong: the signature is genuinely ours."""
        assert isinstance(self.key.private_key, ec.EllipticCurvePrivateKey)
        return forge(self.header(), claims, es256(self.key.private_key))

    def public_key_as(self, form: str) -> bytes:
        if form == "jwk":
            return json.dumps(self.public_jwk).encode()
        encoding = serialization.Encoding.PEM if form == "pem" else serialization.Encoding.DER
        return self.key.public_key.public_bytes(encoding, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture
async def forger(app: Starlette, client: httpx.AsyncClient, platform: PlatformClient) -> Forger:
    runtime = app.state.runtime
    jwks = (await client.get("/.well-known/jwks.json")).json()["keys"]
    current = runtime.tokens.keys.current
    (public_jwk,) = [jwk for jwk in jwks if jwk["kid"] == current.kid]
    return Forger(current, runtime.settings.issuer, platform.id, public_jwk)


def _foreign_key_with_our_kid(f: Forger) -> str:
    return forge(f.header(), f.claims(), es256(ec.generate_private_key(ec.SECP256R1())))


def _unknown_kid(f: Forger) -> str:
    foreign = generate_signing_key()  # a well-formed key of its own, kid = its own thumbprint
    assert isinstance(foreign.private_key, ec.EllipticCurvePrivateKey)
    return forge(f.header(kid=foreign.kid), f.claims(), es256(foreign.private_key))


def _tampered(f: Forger, genuine: str) -> str:
    header, payload, signature = genuine.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scope"] = claims["scope"] + " blacklist:joint"  # escalate, keep the genuine signature
    return f"{header}.{b64url_json(claims)}.{signature}"


def _now() -> int:
    return int(time.time())


ATTACKS: dict[str, Callable[[Forger, str], str]] = {
    "alg none, empty signature": lambda f, _: forge(f.header(alg="none"), f.claims(), lambda _: b""),
    "alg none, some signature": lambda f, _: forge(f.header(alg="none"), f.claims(), lambda _: b"sig"),
    "HS256 keyed with our JWK JSON": lambda f, _: forge(
        f.header(alg="HS256"), f.claims(), hs256(f.public_key_as("jwk"))
    ),
    "HS256 keyed with our PEM": lambda f, _: forge(f.header(alg="HS256"), f.claims(), hs256(f.public_key_as("pem"))),
    "HS256 keyed with our DER": lambda f, _: forge(f.header(alg="HS256"), f.claims(), hs256(f.public_key_as("der"))),
    "foreign EC key with our kid": lambda f, _: _foreign_key_with_our_kid(f),
    "unknown kid": lambda f, _: _unknown_kid(f),
    "expired": lambda f, _: f.signed_by_us(f.claims(iat=_now() - 7200, nbf=_now() - 7200, exp=_now() - 3600)),
    "nbf in the future": lambda f, _: f.signed_by_us(f.claims(nbf=_now() + 3600, exp=_now() + 7200)),
    "wrong aud": lambda f, _: f.signed_by_us(f.claims(aud="another-service")),
    "aud list with ours": lambda f, _: f.signed_by_us(f.claims(aud=["livegate", "another-service"])),
    "wrong iss": lambda f, _: f.signed_by_us(f.claims(iss="https://evil.example")),
    "tampered payload": _tampered,
    "missing exp": lambda f, _: f.signed_by_us(f.claims(exp=DROP)),
}


async def _refusal(client: httpx.AsyncClient, token: str) -> tuple[int, str, Any]:
    response = await gql(client, "{ __typename }", token=token)
    return response.status_code, response.headers.get("www-authenticate", ""), response.json()


# -- tests ---------------------------------------------------------------------------------------


async def test_the_builder_makes_tokens_we_accept(client: httpx.AsyncClient, forger: Forger) -> None:
    """Control: our key, correct claims, the same builder: accepted."""
    response = await gql(client, "{ __typename }", token=forger.signed_by_us(forger.claims()))
    assert response.status_code == 200 and response.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("attack", list(ATTACKS))
async def test_a_forged_token_is_refused_with_401(
    client: httpx.AsyncClient, platform: PlatformClient, forger: Forger, attack: str
) -> None:
    genuine = await get_token(client, platform)
    token = ATTACKS[attack](forger, genuine)
    status, challenge, body = await _refusal(client, token)
    assert status == 401, body
    assert challenge.startswith(CHALLENGE_PREFIX)
    # No detail that helps an attacker: exactly what a random string gets, whatever the flaw.
    assert (status, challenge, body) == await _refusal(client, "a.b.c")
    assert "data" not in body


async def test_the_refusal_body_names_no_reason(client: httpx.AsyncClient) -> None:
    status, challenge, body = await _refusal(client, "a.b.c")
    assert status == 401
    assert body == {
        "errors": [{"message": "The access token is invalid or expired.", "extensions": {"code": "UNAUTHENTICATED"}}]
    }
    assert challenge == f'{CHALLENGE_PREFIX}, error_description="The access token is invalid or expired."'


async def test_a_revoked_jti_is_refused(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    token = await get_token(client, platform)
    assert (await gql(client, "{ __typename }", token=token)).status_code == 200  # verified and cached
    form = {"token": token, "client_id": platform.client_id, "client_secret": platform.client_secret}
    assert (await client.post("/oauth/revoke", data=form)).status_code == 200
    status, challenge, body = await _refusal(client, token)
    assert status == 401 and challenge.startswith(CHALLENGE_PREFIX)
    assert (status, challenge, body) == await _refusal(client, "a.b.c")


async def test_a_token_revoked_by_itself_is_refused(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    token = await get_token(client, platform)
    revoked = await client.post("/oauth/revoke", data={"token": token}, headers={"Authorization": f"Bearer {token}"})
    assert revoked.status_code == 200
    assert (await _refusal(client, token))[0] == 401


async def test_another_platform_cannot_revoke_our_token(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    other = await make_platform("other")
    token = await get_token(client, platform)
    form = {"token": token, "client_id": other.client_id, "client_secret": other.client_secret}
    assert (await client.post("/oauth/revoke", data=form)).status_code == 200  # RFC 7009 §2.2: no oracle
    assert (await gql(client, "{ __typename }", token=token)).status_code == 200


async def test_a_revoked_onboarding_client_token_is_refused(
    app: Starlette, client: httpx.AsyncClient, platform: PlatformClient
) -> None:
    client_token = await onboarding_client_token(app, platform.id)
    assert (await gql(client, "{ onboardingSession { id } }", token=client_token)).status_code == 200
    form = {"token": client_token, "client_id": platform.client_id, "client_secret": platform.client_secret}
    assert (await client.post("/oauth/revoke", data=form)).status_code == 200
    assert (await _refusal(client, client_token))[0] == 401


async def onboarding_client_token(app: Starlette, platform_id: str) -> str:
    """A session's client token, made the way startOnboarding makes it (registry + the gateway's issuer)."""
    session = await onboarding.start_session(platform_actor(platform_id), "MARKETER", f"u-{secrets.token_hex(3)}", 1800)
    token, token_id = app.state.runtime.client_tokens.issue(platform_id, session.id, session.expires_at)
    await onboarding.attach_token(session, token_id)
    return str(token)
