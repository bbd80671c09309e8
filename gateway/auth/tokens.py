"""Issue and verify the gateway's JWTs. `TokenService.verify` is the ONE verification path.

python-jose 3.5.0 is wrapped strictly (see shared/notes/stack.md §4): it still accepts a DER public
key as an HMAC secret (CVE-2026-85394), tries every key of a JWK set ignoring `kid`, and requires no
claim by default. So the header is checked here first, the key is chosen by `kid` from our own
KeySet only, the algorithm is pinned to that key's algorithm, and every registered claim is required.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, NamedTuple

from jose import jwt

from gateway.auth.keys import ALLOWED_ALGORITHMS, KeySet, SigningKey
from gateway.auth.revocation import RevocationStore

__all__ = ["MAX_TOKEN_CHARS", "InvalidToken", "TokenClaims", "TokenService"]

MAX_TOKEN_CHARS: Final = 4096
_TOKEN_SHAPE: Final = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_SCOPE_TOKEN: Final = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")  # RFC 6749 §3.3 scope-token
# Our tokens carry exactly these header members; anything else (jku, jwk, x5u, x5c, crit, b64, ...)
# asks the verifier to trust something the token itself names.
_HEADER_MEMBERS: Final = frozenset({"alg", "kid", "typ"})
_REQUIRED_CLAIMS: Final = ("exp", "iat", "nbf", "iss", "aud", "sub", "jti")
_MAX_NUMERIC_DATE: Final = 253_402_300_799  # 9999-12-31T23:59:59Z; beyond it datetime overflows
_MAX_ID_CHARS: Final = 255
_MAX_LEEWAY_S: Final = 300


class InvalidToken(Exception):
    """The token is refused. str() says nothing more; `reason` is for logs only."""

    def __init__(self, reason: str) -> None:
        super().__init__("invalid token")
        self.reason = reason


@dataclass(frozen=True)
class TokenClaims:
    sub: str
    scopes: frozenset[str]
    jti: str
    iat: datetime
    nbf: datetime
    exp: datetime
    sid: str | None
    # The verified claim set. Shared with the verification cache: read it, never mutate it.
    raw: dict[str, Any] = field(repr=False, compare=False, hash=False)


class _CacheEntry(NamedTuple):
    # Unix times with the leeway already applied, so a cache hit is two float comparisons.
    valid_from: float
    valid_until: float
    claims: TokenClaims


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _cache_key(token: str) -> bytes:
    # Hash rather than keep bearer tokens themselves in memory; UTF-8 never raises on odd input.
    return hashlib.sha256(token.encode("utf-8", errors="surrogatepass")).digest()


def _numeric_date(raw: Mapping[str, Any], name: str) -> int:
    value = raw.get(name)
    # bool is an int subclass; floats and strings are what python-jose's int() would let through.
    if type(value) is not int or not 0 <= value <= _MAX_NUMERIC_DATE:
        raise InvalidToken(f"claim {name} is not an integer NumericDate")
    return value


def _string_claim(raw: Mapping[str, Any], name: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value or len(value) > _MAX_ID_CHARS:
        raise InvalidToken(f"claim {name} is not a non-empty string")
    return value


def _optional_string_claim(raw: Mapping[str, Any], name: str) -> str | None:
    return _string_claim(raw, name) if name in raw else None


def _scope_claim(raw: Mapping[str, Any]) -> frozenset[str]:
    value = raw.get("scope")
    if not isinstance(value, str):
        raise InvalidToken("claim scope is not a string")
    return frozenset(value.split())


def _claims_from_payload(raw: dict[str, Any]) -> TokenClaims:
    return TokenClaims(
        sub=_string_claim(raw, "sub"),
        scopes=_scope_claim(raw),
        jti=_string_claim(raw, "jti"),
        iat=datetime.fromtimestamp(_numeric_date(raw, "iat"), UTC),
        nbf=datetime.fromtimestamp(_numeric_date(raw, "nbf"), UTC),
        exp=datetime.fromtimestamp(_numeric_date(raw, "exp"), UTC),
        sid=_optional_string_claim(raw, "sid"),
        raw=raw,
    )


def _check_size(token: object) -> str:
    if not isinstance(token, str):
        raise InvalidToken("token is not a string")
    if len(token) > MAX_TOKEN_CHARS:
        raise InvalidToken("token too large")
    return token


def _check_shape(token: str) -> str:
    if not _TOKEN_SHAPE.fullmatch(token):
        raise InvalidToken("token is not three base64url segments")
    return token


def _validated_scopes(scopes: Iterable[str]) -> str:
    unique = set(scopes)
    for scope in unique:
        if not isinstance(scope, str) or not _SCOPE_TOKEN.fullmatch(scope):
            raise ValueError(f"invalid scope {scope!r}")
    return " ".join(sorted(unique))


class TokenService:
    """Issues tokens with the current key; verifies tokens of any key in the set (by kid only).

    Verified tokens are cached (bounded LRU, keyed by SHA-256 of the token) until their exp, so a
    repeated verification costs a dict lookup, the nbf/exp comparison and the revocation check.
    python-jose checks exp/nbf against the wall clock; `clock` is checked as well, so it should
    track real time (it exists for tests and for the cache).
    """

    def __init__(
        self,
        keys: KeySet,
        *,
        issuer: str,
        audience: str = "livegate",
        revocations: RevocationStore,
        leeway_s: int = 10,
        clock: Callable[[], datetime] = _utcnow,
        cache_size: int = 10_000,
    ) -> None:
        if not issuer or not audience:
            raise ValueError("issuer and audience must be non-empty")
        if not 0 <= leeway_s <= _MAX_LEEWAY_S:
            raise ValueError(f"leeway_s must be between 0 and {_MAX_LEEWAY_S}")
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._revocations = revocations
        self._leeway = leeway_s
        self._clock = clock
        self._cache_size = max(0, cache_size)
        self._cache: OrderedDict[bytes, _CacheEntry] = OrderedDict()
        # python-jose's require_* default to False: a token without exp would be valid forever.
        self._decode_options: dict[str, Any] = {f"require_{name}": True for name in _REQUIRED_CLAIMS}
        self._decode_options["leeway"] = leeway_s

    # -- keys -----------------------------------------------------------------------------------

    @property
    def keys(self) -> KeySet:
        return self._keys

    def replace_keys(self, keys: KeySet) -> None:
        """Swap in a reloaded key set (after `livegate keys rotate`); cached tokens are re-verified."""
        self._keys = keys
        self._cache.clear()

    def clear_cache(self) -> None:
        self._cache.clear()

    # -- issuing --------------------------------------------------------------------------------

    def issue(
        self, sub: str, scopes: Iterable[str], *, lifetime: timedelta, sid: str | None = None
    ) -> tuple[str, TokenClaims]:
        if not isinstance(sub, str) or not sub or len(sub) > _MAX_ID_CHARS:
            raise ValueError("sub must be a non-empty string")
        if sid is not None and (not isinstance(sid, str) or not sid or len(sid) > _MAX_ID_CHARS):
            raise ValueError("sid must be a non-empty string")
        seconds = math.ceil(lifetime.total_seconds())
        if seconds <= 0:
            raise ValueError("lifetime must be positive")
        now = int(self._clock().timestamp())
        payload: dict[str, Any] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": sub,
            "scope": _validated_scopes(scopes),
            "iat": now,
            "nbf": now,
            "exp": now + seconds,
            "jti": secrets.token_urlsafe(16),  # 128 random bits
        }
        if sid is not None:
            payload["sid"] = sid
        token = self._sign(payload, self._keys.current)
        if len(token) > MAX_TOKEN_CHARS:
            raise ValueError("token would exceed the size verify() accepts")
        claims = _claims_from_payload(payload)
        self._remember(_cache_key(token), claims)
        return token, claims

    @staticmethod
    def _sign(payload: dict[str, Any], key: SigningKey) -> str:
        headers = {"kid": key.kid, "typ": "JWT"}
        return jwt.encode(payload, key.jose_signing_key, algorithm=key.alg, headers=headers)

    # -- verifying ------------------------------------------------------------------------------

    async def verify(self, token: str) -> TokenClaims:
        """Return the claims of a valid, unrevoked token of ours, or raise InvalidToken."""
        claims = self._verify_offline(token)
        if await self._revocations.is_revoked(claims.jti):
            raise InvalidToken("revoked jti")
        return claims

    def _verify_offline(self, token: str) -> TokenClaims:
        key = _cache_key(_check_size(token))
        now = self._clock().timestamp()
        entry = self._cache.get(key)
        if entry is None:
            # Only a miss needs the shape check: a cached token passed it when it was verified.
            claims = self._decode(_check_shape(token))
            entry = self._remember(key, claims)
        else:
            self._cache.move_to_end(key)
        if now < entry.valid_from:
            raise InvalidToken("not yet valid (nbf/iat)")
        if now > entry.valid_until:
            self._cache.pop(key, None)
            raise InvalidToken("expired")
        return entry.claims

    def _decode(self, token: str) -> TokenClaims:
        key = self._key_for(token)
        try:
            raw = jwt.decode(
                token,
                key.jose_verifying_key,
                algorithms=[key.alg],  # a list: a string would be matched as a substring
                audience=self._audience,
                issuer=self._issuer,
                options=self._decode_options,
            )
        except Exception as exc:
            # Besides JWTError, python-jose leaks TypeError/OverflowError on odd claim values;
            # any failure here means the token is not ours or not valid.
            raise InvalidToken(f"rejected: {type(exc).__name__}: {exc}") from None
        if raw.get("aud") != self._audience:
            raise InvalidToken("aud is not exactly our audience")
        return _claims_from_payload(raw)

    def _key_for(self, token: str) -> SigningKey:
        try:
            header = jwt.get_unverified_header(token)
        except Exception:
            raise InvalidToken("unreadable header") from None
        extra = set(header) - _HEADER_MEMBERS
        if extra:
            raise InvalidToken(f"header members not allowed: {sorted(extra)}")
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or alg not in ALLOWED_ALGORITHMS:
            raise InvalidToken(f"algorithm not allowed: {alg!r}")
        if "typ" in header and header["typ"] != "JWT":
            raise InvalidToken("typ is not JWT")
        if not isinstance(kid, str):
            raise InvalidToken("missing kid")
        key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("unknown kid")
        if key.alg != alg:
            raise InvalidToken("alg does not match the key named by kid")
        return key

    def _remember(self, key: bytes, claims: TokenClaims) -> _CacheEntry:
        leeway = self._leeway
        # iat in the future is as suspicious as nbf in the future.
        valid_from = max(claims.nbf, claims.iat).timestamp() - leeway
        entry = _CacheEntry(valid_from, claims.exp.timestamp() + leeway, claims)
        if self._cache_size:
            self._cache[key] = entry
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return entry

    # -- revoking -------------------------------------------------------------------------------

    async def revoke(self, token: str, *, subject: str | None = None) -> bool:
        """RFC 7009: revoke a valid token of ours. Invalid or unknown tokens are no error: False.

        With `subject`, only a token whose `sub` matches is revoked (RFC 7009 §2.1: a client may
        revoke only its own tokens).
        """
        try:
            claims = await self.verify(token)
        except InvalidToken:
            return False
        if subject is not None and claims.sub != subject:
            return False
        await self.revoke_jti(claims.jti, claims.exp)
        self._cache.pop(_cache_key(token), None)
        return True

    async def revoke_jti(self, jti: str, expires_at: datetime) -> None:
        """Revoke by token id (e.g. an onboarding session's token on cancelOnboarding)."""
        # Kept for the leeway too: verify() still accepts a token up to exp + leeway.
        await self._revocations.revoke(jti, expires_at + timedelta(seconds=self._leeway))
