"""TokenService: the attack suite (every forgery refused with InvalidToken) and the positive paths.

Forged tokens are assembled and signed here by hand (cryptography / hmac), independently of
python-jose, so the tests do not depend on the library's own guards.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jose import JWTError, jwt

from gateway.auth import tokens as tokens_module
from gateway.auth.keys import (
    KeySet,
    SigningKey,
    generate_signing_key,
    load_or_create_dev_keys,
    rotate_dev_keys,
)
from gateway.auth.revocation import MemoryRevocationStore
from gateway.auth.tokens import MAX_TOKEN_CHARS, InvalidToken, TokenClaims, TokenService

ISSUER = "http://127.0.0.1:8000"
AUDIENCE = "livegate"
LIFETIME = timedelta(minutes=15)
LEEWAY_S = 10

Signer = Callable[[bytes], bytes]
DROP = object()  # marks a claim or header member to leave out


# -- helpers -------------------------------------------------------------------------------------


class Clock:
    """A controllable clock that starts at real time (python-jose also checks the wall clock)."""

    def __init__(self, offset_s: float = 0.0) -> None:
        self.offset_s = offset_s

    def __call__(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset_s)

    def advance(self, seconds: float) -> None:
        self.offset_s += seconds


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_json(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def forge(header: dict[str, Any], payload: dict[str, Any], sign: Signer) -> str:
    signing_input = f"{b64url_json(header)}.{b64url_json(payload)}"
    return f"{signing_input}.{b64url(sign(signing_input.encode('ascii')))}"


def es256_signer(private_key: ec.EllipticCurvePrivateKey) -> Signer:
    def sign(data: bytes) -> bytes:
        r, s = decode_dss_signature(private_key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")  # JWS wants raw r||s, not DER

    return sign


def rs256_signer(private_key: rsa.RSAPrivateKey) -> Signer:
    return lambda data: private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def signer_of(key: SigningKey) -> Signer:
    private_key = key.private_key
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return es256_signer(private_key)
    return rs256_signer(private_key)


def hmac_signer(secret: bytes) -> Signer:
    return lambda data: hmac.new(secret, data, hashlib.sha256).digest()


def header_for(key: SigningKey, **extra: Any) -> dict[str, Any]:
    return {"alg": key.alg, "kid": key.kid, "typ": "JWT", **extra}


def payload(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "platform-1",
        "scope": "performers:read suppliers:read",
        "iat": now,
        "nbf": now,
        "exp": now + 900,
        "jti": "jti-" + b64url(now.to_bytes(8, "big")),
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not DROP}


def sign_ours(key: SigningKey, claims: dict[str, Any], **extra_header: Any) -> str:
    """A token signed with OUR key: only the claim or header under test is wrong."""
    return forge(header_for(key, **extra_header), claims, signer_of(key))


async def assert_refused(service: TokenService, token: Any) -> InvalidToken:
    with pytest.raises(InvalidToken) as info:
        await service.verify(token)
    # Nothing that helps an attacker leaves the exception's message.
    assert str(info.value) == "invalid token"
    return info.value


def counting_decode(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real_decode = tokens_module.jwt.decode

    def spy(token: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        calls.append(token)
        return real_decode(token, *args, **kwargs)

    monkeypatch.setattr(tokens_module.jwt, "decode", spy)
    return calls


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def key() -> SigningKey:
    return generate_signing_key()


@pytest.fixture
def keyset(key: SigningKey) -> KeySet:
    return KeySet([key])


@pytest.fixture
def store() -> MemoryRevocationStore:
    return MemoryRevocationStore()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(keyset: KeySet, store: MemoryRevocationStore, clock: Clock) -> TokenService:
    return TokenService(keyset, issuer=ISSUER, revocations=store, leeway_s=LEEWAY_S, clock=clock)


@pytest.fixture
def rsa_key() -> SigningKey:
    return SigningKey.from_private_key(rsa.generate_private_key(public_exponent=65537, key_size=2048))


# -- attack suite: header and algorithm ----------------------------------------------------------


@pytest.mark.parametrize("signature", [b"", b"\x00" * 64, b"anything"])
@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
async def test_alg_none_is_refused(service: TokenService, key: SigningKey, alg: str, signature: bytes) -> None:
    token = forge({"alg": alg, "kid": key.kid, "typ": "JWT"}, payload(), lambda _: signature)
    await assert_refused(service, token)


def _public_key_as(key: SigningKey, form: str) -> bytes:
    public = key.public_key
    if form == "jwk-json":
        return json.dumps(key.public_jwk()).encode()
    if form == "jwk-json-compact-sorted":
        return json.dumps(key.public_jwk(), sort_keys=True, separators=(",", ":")).encode()
    encoding = serialization.Encoding.PEM if form == "pem" else serialization.Encoding.DER
    return public.public_bytes(encoding, serialization.PublicFormat.SubjectPublicKeyInfo)


PUBLIC_KEY_FORMS = ["jwk-json", "jwk-json-compact-sorted", "pem", "der"]


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
@pytest.mark.parametrize("form", PUBLIC_KEY_FORMS)
async def test_hmac_keyed_with_our_public_key_is_refused(
    service: TokenService, key: SigningKey, form: str, alg: str
) -> None:
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    secret = _public_key_as(key, form)
    token = forge(
        {"alg": alg, "kid": key.kid, "typ": "JWT"},
        payload(),
        lambda data: hmac.new(secret, data, digest).digest(),
    )
    assert (await assert_refused(service, token)).reason == f"algorithm not allowed: {alg!r}"


@pytest.mark.parametrize("form", PUBLIC_KEY_FORMS)
def test_pinned_algorithm_refuses_hmac_even_past_the_header_check(key: SigningKey, form: str) -> None:
    """Second layer: the decode call itself (our key object, algorithms=[key.alg]) refuses HS256."""
    token = forge({"alg": "HS256", "kid": key.kid, "typ": "JWT"}, payload(), hmac_signer(_public_key_as(key, form)))
    with pytest.raises(JWTError, match="alg value is not allowed"):
        jwt.decode(token, key.jose_verifying_key, algorithms=[key.alg], audience=AUDIENCE, issuer=ISSUER)


@pytest.mark.parametrize("form", PUBLIC_KEY_FORMS)
async def test_hmac_keyed_with_rsa_public_key_is_refused(rsa_key: SigningKey, form: str) -> None:
    service = TokenService(KeySet([rsa_key]), issuer=ISSUER, revocations=MemoryRevocationStore())
    token = forge(
        {"alg": "HS256", "kid": rsa_key.kid, "typ": "JWT"}, payload(), hmac_signer(_public_key_as(rsa_key, form))
    )
    await assert_refused(service, token)


def test_der_forgery_would_fool_naive_python_jose(key: SigningKey) -> None:
    """Control for the test above: CVE-2026-85394 is live in the installed python-jose, so the
    DER case is a real attack and not a malformed token that fails for some other reason."""
    der = _public_key_as(key, "der")
    token = forge({"alg": "HS256", "kid": key.kid, "typ": "JWT"}, payload(), hmac_signer(der))
    assert jwt.decode(token, der, audience=AUDIENCE)["sub"] == "platform-1"


async def test_foreign_key_with_our_kid_is_refused(service: TokenService, key: SigningKey) -> None:
    foreign = ec.generate_private_key(ec.SECP256R1())
    token = forge(header_for(key), payload(), es256_signer(foreign))
    assert "Signature verification failed" in (await assert_refused(service, token)).reason


async def test_foreign_key_with_its_own_kid_is_refused(service: TokenService) -> None:
    foreign = generate_signing_key()
    token = forge(header_for(foreign), payload(), signer_of(foreign))
    assert (await assert_refused(service, token)).reason == "unknown kid"


@pytest.mark.parametrize("kid", ["", "unknown", "../../etc/passwd", "0" * 43])
async def test_unknown_kid_is_refused(service: TokenService, key: SigningKey, kid: str) -> None:
    token = sign_ours(key, payload(), kid=kid)
    await assert_refused(service, token)


@pytest.mark.parametrize("kid", [DROP, None, 1, ["k"], {"k": 1}])
async def test_missing_or_non_string_kid_is_refused(service: TokenService, key: SigningKey, kid: Any) -> None:
    header = {"alg": "ES256", "typ": "JWT"} if kid is DROP else {"alg": "ES256", "kid": kid, "typ": "JWT"}
    token = forge(header, payload(), signer_of(key))
    await assert_refused(service, token)


@pytest.mark.parametrize("alg", ["RS256", "ES384", "ES512", "PS256", "EdDSA", "es256", None, 256])
async def test_alg_other_than_the_keys_own_is_refused(service: TokenService, key: SigningKey, alg: Any) -> None:
    token = sign_ours(key, payload(), alg=alg)
    await assert_refused(service, token)


async def test_rs256_token_naming_an_es256_kid_is_refused(
    service: TokenService, key: SigningKey, rsa_key: SigningKey
) -> None:
    token = forge({"alg": "RS256", "kid": key.kid, "typ": "JWT"}, payload(), signer_of(rsa_key))
    await assert_refused(service, token)


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("crit", ["exp"]),
        ("jku", "https://evil.example/jwks.json"),
        ("jwk", {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}),
        ("x5u", "https://evil.example/cert.pem"),
        ("x5c", ["MIIB"]),
        ("x5t", "abc"),
        ("b64", False),
        ("zip", "DEF"),
    ],
)
async def test_untrusted_header_members_are_refused(
    service: TokenService, key: SigningKey, member: str, value: Any
) -> None:
    token = sign_ours(key, payload(), **{member: value})
    await assert_refused(service, token)


@pytest.mark.parametrize("typ", ["at+jwt", "JWS", 1])
async def test_unexpected_typ_is_refused(service: TokenService, key: SigningKey, typ: Any) -> None:
    await assert_refused(service, sign_ours(key, payload(), typ=typ))


# -- attack suite: claims ------------------------------------------------------------------------


async def test_expired_token_is_refused(service: TokenService, key: SigningKey) -> None:
    now = int(time.time())
    token = sign_ours(key, payload(iat=now - 1000, nbf=now - 1000, exp=now - LEEWAY_S - 5))
    await assert_refused(service, token)


async def test_expired_cached_token_is_refused_and_evicted(
    service: TokenService, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    token, _ = service.issue("platform-1", ["performers:read"], lifetime=timedelta(minutes=1))
    await service.verify(token)
    clock.advance(60 + LEEWAY_S + 1)
    calls = counting_decode(monkeypatch)
    await assert_refused(service, token)
    assert calls == []  # refused on the cached entry's exp alone
    await assert_refused(service, token)
    assert len(calls) == 1  # evicted: the second try went through the full check again


async def test_own_clock_also_bounds_the_full_path(keyset: KeySet, key: SigningKey) -> None:
    """python-jose checks exp/nbf against the wall clock; the injected clock is checked as well."""
    token = sign_ours(key, payload())
    late = TokenService(keyset, issuer=ISSUER, revocations=MemoryRevocationStore(), clock=Clock(900 + LEEWAY_S + 5))
    assert (await assert_refused(late, token)).reason == "expired"
    early = TokenService(keyset, issuer=ISSUER, revocations=MemoryRevocationStore(), clock=Clock(-LEEWAY_S - 5))
    assert (await assert_refused(early, token)).reason == "not yet valid (nbf/iat)"


@pytest.mark.parametrize("claim", ["nbf", "iat"])
async def test_not_yet_valid_token_is_refused(service: TokenService, key: SigningKey, claim: str) -> None:
    future = int(time.time()) + LEEWAY_S + 60
    await assert_refused(service, sign_ours(key, payload(**{claim: future})))


@pytest.mark.parametrize("aud", ["other", "", ["other"], ["livegate", "other"], None, 1, "livegate "])
async def test_wrong_audience_is_refused(service: TokenService, key: SigningKey, aud: Any) -> None:
    await assert_refused(service, sign_ours(key, payload(aud=aud)))


@pytest.mark.parametrize(
    "iss", ["https://evil.example", "http://127.0.0.1:800", "http://127.0.0.1", "", None, [ISSUER], ISSUER + "/"]
)
async def test_wrong_issuer_is_refused(service: TokenService, key: SigningKey, iss: Any) -> None:
    await assert_refused(service, sign_ours(key, payload(iss=iss)))


@pytest.mark.parametrize(
    "change",
    [
        {"scope": "performers:read blacklist:joint"},
        {"sub": "platform-2"},
        {"exp": 4_102_444_800},
        {"sid": "someone-elses-session"},
    ],
)
async def test_tampered_payload_is_refused(service: TokenService, change: dict[str, Any]) -> None:
    token, _ = service.issue("platform-1", ["performers:read"], lifetime=LIFETIME)
    header, body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    tampered = f"{header}.{b64url_json({**claims, **change})}.{signature}"
    fresh = TokenService(service.keys, issuer=ISSUER, revocations=MemoryRevocationStore())
    await assert_refused(service, tampered)
    assert "Signature verification failed" in (await assert_refused(fresh, tampered)).reason


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf", "iss", "aud", "sub", "jti", "scope"])
async def test_missing_required_claim_is_refused(service: TokenService, key: SigningKey, claim: str) -> None:
    await assert_refused(service, sign_ours(key, payload(**{claim: DROP})))


@pytest.mark.parametrize(
    "override",
    [
        {"exp": str(int(time.time()) + 900)},
        {"exp": time.time() + 900.5},
        {"exp": True},
        {"exp": 10**30},
        {"exp": None},
        {"iat": [1]},
        {"iat": -5},
        {"nbf": {"a": 1}},
        {"sub": 5},
        {"sub": ""},
        {"sub": ["platform-1"]},
        {"jti": 5},
        {"jti": ""},
        {"scope": ["performers:read"]},
        {"scope": None},
        {"sid": 5},
        {"sid": ""},
        {"sid": None},
    ],
)
async def test_badly_typed_claim_is_refused(service: TokenService, key: SigningKey, override: dict[str, Any]) -> None:
    await assert_refused(service, sign_ours(key, payload(**override)))


async def test_payload_that_is_not_an_object_is_refused(service: TokenService, key: SigningKey) -> None:
    signing_input = f"{b64url_json(header_for(key))}.{b64url_json(['not', 'an', 'object'])}"
    token = f"{signing_input}.{b64url(signer_of(key)(signing_input.encode()))}"
    await assert_refused(service, token)


async def test_revoked_jti_is_refused(service: TokenService, store: MemoryRevocationStore) -> None:
    token, claims = service.issue("platform-1", ["performers:read"], lifetime=LIFETIME)
    await store.revoke(claims.jti, claims.exp)
    assert (await assert_refused(service, token)).reason == "revoked jti"


async def test_oversized_token_is_refused_even_when_validly_signed(service: TokenService, key: SigningKey) -> None:
    token = sign_ours(key, payload(padding="x" * MAX_TOKEN_CHARS))
    assert len(token) > MAX_TOKEN_CHARS
    assert (await assert_refused(service, token)).reason == "token too large"


GARBAGE = [
    "",
    " ",
    ".",
    "..",
    "a.b",
    "a.b.c",
    "a.b.c.d",
    "a..c",
    "Bearer abc.def.ghi",
    "eyJhbGciOiJFUzI1NiJ9.e30.",
    "eyJhbGciOiJFUzI1NiJ9.e30.sig\n",
    "eyJ!.eyJ.sig",
    "é.é.é",
    "\x00.\x00.\x00",
    "A" * (MAX_TOKEN_CHARS + 1),
    b64url(b"[1,2]") + ".e30.AAAA",
    b64url(b'"str"') + ".e30.AAAA",
    b64url(b"{not json") + ".e30.AAAA",
    b64url(b"\xff\xfe") + ".e30.AAAA",
    b64url(b'{"alg":"ES256","kid":"' + b"k" * 3000 + b'"}') + ".e30.AAAA",
]


@pytest.mark.parametrize("token", GARBAGE)
async def test_garbage_strings_are_refused(service: TokenService, token: str) -> None:
    await assert_refused(service, token)


@pytest.mark.parametrize("token", [None, 123, b"a.b.c", ["a.b.c"]])
async def test_non_strings_are_refused(service: TokenService, token: Any) -> None:
    await assert_refused(service, token)


def _verify_sync(service: TokenService, token: str) -> None:
    with pytest.raises(InvalidToken):
        asyncio.run(service.verify(token))


_segment = st.from_regex(r"[A-Za-z0-9_-]{1,60}", fullmatch=True)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(token=st.one_of(st.text(max_size=300), st.builds(lambda a, b, c: f"{a}.{b}.{c}", _segment, _segment, _segment)))
def test_fuzzed_tokens_raise_only_invalid_token(service: TokenService, token: str) -> None:
    _verify_sync(service, token)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header_extra=st.dictionaries(st.sampled_from(["alg", "kid", "typ", "crit"]), _json_values, max_size=3))
def test_fuzzed_headers_on_our_signature_raise_only_invalid_token(
    service: TokenService, key: SigningKey, header_extra: dict[str, Any]
) -> None:
    header = {**header_for(key), **header_extra}
    if header == header_for(key):
        return  # that one is simply valid
    _verify_sync(service, forge(header, payload(), signer_of(key)))


# -- positive paths ------------------------------------------------------------------------------


async def test_issue_and_verify_round_trip(service: TokenService, key: SigningKey) -> None:
    token, issued = service.issue("platform-1", ["suppliers:read", "performers:read"], lifetime=LIFETIME)
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": key.kid, "typ": "JWT"}
    raw = jwt.get_unverified_claims(token)
    assert set(raw) == {"iss", "aud", "sub", "scope", "iat", "nbf", "exp", "jti"}
    assert raw["iss"] == ISSUER and raw["aud"] == AUDIENCE and raw["sub"] == "platform-1"
    assert raw["scope"] == "performers:read suppliers:read"  # sorted, space-separated
    assert raw["exp"] - raw["iat"] == 900 and raw["nbf"] == raw["iat"]
    assert len(raw["jti"]) == 22  # 128 bits, base64url

    fresh = TokenService(service.keys, issuer=ISSUER, revocations=MemoryRevocationStore())
    verified = await fresh.verify(token)  # the full path, not the cache seeded by issue()
    assert verified == issued
    assert verified.scopes == frozenset({"performers:read", "suppliers:read"})
    assert verified.sid is None
    assert verified.exp - verified.iat == LIFETIME
    assert verified.iat.tzinfo is UTC
    assert verified.raw == raw


async def test_jtis_are_unique(service: TokenService) -> None:
    jtis = {service.issue("p", [], lifetime=LIFETIME)[1].jti for _ in range(200)}
    assert len(jtis) == 200


async def test_onboarding_token_carries_sid(service: TokenService) -> None:
    token, _ = service.issue("platform-1", ["onboarding:client"], lifetime=timedelta(hours=2), sid="sess-42")
    claims = await service.verify(token)
    assert claims.sid == "sess-42" and claims.raw["sid"] == "sess-42"
    assert claims.scopes == frozenset({"onboarding:client"})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sub": "", "scopes": ["a"]},
        {"sub": "p", "scopes": ["two words"]},
        {"sub": "p", "scopes": [""]},
        {"sub": "p", "scopes": ['quote"d']},
        {"sub": "p", "scopes": ["é"]},
        {"sub": "p", "scopes": ["a"], "sid": ""},
        {"sub": "p", "scopes": ["a"], "lifetime": timedelta(0)},
        {"sub": "p", "scopes": ["a"], "lifetime": timedelta(seconds=-5)},
    ],
)
def test_issue_rejects_bad_arguments(service: TokenService, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        service.issue(**{"lifetime": LIFETIME, **kwargs})


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scopes=st.frozensets(st.from_regex(r"[a-z:_]{1,20}", fullmatch=True), max_size=8))
def test_scopes_round_trip(service: TokenService, scopes: frozenset[str]) -> None:
    token, _ = service.issue("platform-1", scopes, lifetime=LIFETIME)
    service.clear_cache()
    assert asyncio.run(service.verify(token)).scopes == scopes


@pytest.mark.parametrize(("claim", "offset_s"), [("exp", -LEEWAY_S + 3), ("nbf", LEEWAY_S - 3), ("iat", LEEWAY_S - 3)])
async def test_small_clock_skew_is_tolerated(service: TokenService, key: SigningKey, claim: str, offset_s: int) -> None:
    claims = await service.verify(sign_ours(key, payload(**{claim: int(time.time()) + offset_s})))
    assert claims.sub == "platform-1"


async def test_header_without_typ_is_accepted(service: TokenService, key: SigningKey) -> None:
    token = forge({"alg": "ES256", "kid": key.kid}, payload(), signer_of(key))
    assert (await service.verify(token)).sub == "platform-1"


async def test_rs256_keys_work_when_configured(rsa_key: SigningKey) -> None:
    service = TokenService(KeySet([rsa_key]), issuer=ISSUER, revocations=MemoryRevocationStore())
    token, _ = service.issue("platform-1", ["audit:read"], lifetime=LIFETIME)
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    service.clear_cache()
    assert (await service.verify(token)).scopes == {"audit:read"}


async def test_key_rotation(tmp_path: Path) -> None:
    store = MemoryRevocationStore()
    service = TokenService(load_or_create_dev_keys(tmp_path), issuer=ISSUER, revocations=store)
    old_token, _ = service.issue("platform-1", ["performers:read"], lifetime=LIFETIME)
    old_kid = jwt.get_unverified_header(old_token)["kid"]

    rotated_at = datetime.now(UTC)
    new_key = rotate_dev_keys(tmp_path, keep_for=LIFETIME, now=rotated_at)
    service.replace_keys(load_or_create_dev_keys(tmp_path))
    assert (await service.verify(old_token)).sub == "platform-1"  # the old key still verifies
    new_token, _ = service.issue("platform-1", ["performers:read"], lifetime=LIFETIME)
    assert jwt.get_unverified_header(new_token)["kid"] == new_key.kid != old_kid
    assert {jwk["kid"] for jwk in service.keys.public_jwks()["keys"]} == {old_kid, new_key.kid}

    # Once the old key has been retired for longer than keep_for it is dropped, with its tokens.
    rotate_dev_keys(tmp_path, keep_for=LIFETIME, now=rotated_at + LIFETIME + timedelta(seconds=1))
    service.replace_keys(load_or_create_dev_keys(tmp_path))
    assert old_kid not in service.keys
    assert (await assert_refused(service, old_token)).reason == "unknown kid"
    assert (await service.verify(new_token)).sub == "platform-1"


# -- cache ---------------------------------------------------------------------------------------


async def test_repeated_verification_hits_the_cache(service: TokenService, monkeypatch: pytest.MonkeyPatch) -> None:
    token, _ = service.issue("platform-1", ["performers:read"], lifetime=LIFETIME)
    service.clear_cache()
    calls = counting_decode(monkeypatch)
    results = [await service.verify(token) for _ in range(5)]
    assert len(calls) == 1
    assert all(result is results[0] for result in results)


async def test_issue_seeds_the_cache(service: TokenService, monkeypatch: pytest.MonkeyPatch) -> None:
    token, issued = service.issue("platform-1", ["performers:read"], lifetime=LIFETIME)
    calls = counting_decode(monkeypatch)
    assert await service.verify(token) is issued
    assert calls == []


async def test_cache_hit_still_checks_revocation(service: TokenService, store: MemoryRevocationStore) -> None:
    token, claims = service.issue("platform-1", ["performers:read"], lifetime=LIFETIME)
    await service.verify(token)
    await store.revoke(claims.jti, claims.exp)  # e.g. revoked by another process through Redis
    await assert_refused(service, token)


async def test_cache_is_bounded(keyset: KeySet, monkeypatch: pytest.MonkeyPatch) -> None:
    service = TokenService(keyset, issuer=ISSUER, revocations=MemoryRevocationStore(), cache_size=2)
    tokens = [service.issue("p", [], lifetime=LIFETIME)[0] for _ in range(3)]
    calls = counting_decode(monkeypatch)
    await service.verify(tokens[2])
    await service.verify(tokens[1])
    assert calls == []
    await service.verify(tokens[0])  # the least recently used entry was dropped
    assert calls == [tokens[0]]


async def test_replace_keys_clears_the_cache(service: TokenService, monkeypatch: pytest.MonkeyPatch) -> None:
    token, _ = service.issue("platform-1", [], lifetime=LIFETIME)
    service.replace_keys(KeySet([generate_signing_key()]))
    calls = counting_decode(monkeypatch)
    await assert_refused(service, token)
    assert calls == []  # refused on the kid, before decoding


# -- revocation (RFC 7009) -----------------------------------------------------------------------


async def test_revoke_refuses_the_token_and_evicts_it_from_the_cache(
    service: TokenService, monkeypatch: pytest.MonkeyPatch
) -> None:
    token, _ = service.issue("platform-1", ["performers:read"], lifetime=LIFETIME)
    await service.verify(token)
    assert await service.revoke(token) is True
    calls = counting_decode(monkeypatch)
    assert (await assert_refused(service, token)).reason == "revoked jti"
    assert calls == [token]  # not served from the cache any more
    assert await service.revoke(token) is False  # already revoked


async def test_revocation_lasts_until_exp_plus_leeway(service: TokenService) -> None:
    recorded: list[tuple[str, datetime]] = []

    class Recorder(MemoryRevocationStore):
        async def revoke(self, jti: str, expires_at: datetime) -> None:
            recorded.append((jti, expires_at))
            await super().revoke(jti, expires_at)

    service = TokenService(service.keys, issuer=ISSUER, revocations=Recorder(), leeway_s=LEEWAY_S)
    token, claims = service.issue("platform-1", [], lifetime=LIFETIME)
    assert await service.revoke(token)
    assert recorded == [(claims.jti, claims.exp + timedelta(seconds=LEEWAY_S))]


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c"])
async def test_revoking_invalid_tokens_is_not_an_error(service: TokenService, token: str) -> None:
    assert await service.revoke(token) is False


async def test_revoking_an_expired_token_is_not_an_error(service: TokenService, key: SigningKey) -> None:
    now = int(time.time())
    assert await service.revoke(sign_ours(key, payload(iat=now - 999, nbf=now - 999, exp=now - 100))) is False


async def test_revoke_with_subject_only_revokes_own_tokens(service: TokenService) -> None:
    token, _ = service.issue("platform-1", [], lifetime=LIFETIME)
    assert await service.revoke(token, subject="platform-2") is False
    assert (await service.verify(token)).sub == "platform-1"
    assert await service.revoke(token, subject="platform-1") is True
    await assert_refused(service, token)


async def test_revoke_jti_revokes_without_the_token(service: TokenService) -> None:
    token, claims = service.issue("platform-1", ["onboarding:client"], lifetime=LIFETIME, sid="s1")
    await service.verify(token)
    await service.revoke_jti(claims.jti, claims.exp)
    await assert_refused(service, token)


def test_token_claims_are_hashable_and_frozen(service: TokenService) -> None:
    _, claims = service.issue("platform-1", ["a"], lifetime=LIFETIME)
    assert isinstance(hash(claims), int)
    with pytest.raises(AttributeError):
        claims.sub = "other"  # type: ignore[misc]
    assert "raw" not in repr(claims)
    assert isinstance(claims, TokenClaims)


def test_invalid_token_keeps_the_reason_out_of_the_message() -> None:
    error = InvalidToken("unknown kid")
    assert str(error) == "invalid token" and error.reason == "unknown kid"
