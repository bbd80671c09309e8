"""Token-signing keys: ES256 (P-256) by default, RS256 accepted from configuration.

A key's `kid` is its RFC 7638 JWK thumbprint, so the same key always gets the same kid wherever it
is loaded. Dev keys live in `{data dir}/keys/signing-keys.json`; production keys come from
`LIVEGATE_SIGNING_KEYS` (PEM file paths or inline PEM, first one current).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwk
from jose.backends.base import Key as JoseKey

__all__ = [
    "ALLOWED_ALGORITHMS",
    "KeyConfigError",
    "KeySet",
    "PrivateKey",
    "SigningKey",
    "dev_keys_path",
    "generate_signing_key",
    "load_keys_from_config",
    "load_or_create_dev_keys",
    "rotate_dev_keys",
]

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey

# The only algorithms the gateway signs or verifies with; everything else (none, HS*, PS*) is refused.
ALLOWED_ALGORITHMS: Final = frozenset({"ES256", "RS256"})
_MIN_RSA_BITS: Final = 2048
_DEV_FILE_VERSION: Final = 1
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END \1-----", re.DOTALL)


class KeyConfigError(Exception):
    """Signing keys could not be loaded; the message says which and why (never the key itself)."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_uint(value: int, length: int | None = None) -> str:
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return _b64url(value.to_bytes(size, "big"))


def _public_members(public_key: PublicKey) -> dict[str, str]:
    """The required JWK members of a public key (RFC 7518 §6), exactly what RFC 7638 hashes."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        numbers = public_key.public_numbers()
        return {
            "crv": "P-256",
            "kty": "EC",
            "x": _b64url_uint(numbers.x, 32),
            "y": _b64url_uint(numbers.y, 32),
        }
    rsa_numbers = public_key.public_numbers()
    return {"e": _b64url_uint(rsa_numbers.e), "kty": "RSA", "n": _b64url_uint(rsa_numbers.n)}


def jwk_thumbprint(public_key: PublicKey) -> str:
    """RFC 7638 thumbprint: SHA-256 over the required members, sorted, without whitespace."""
    canonical = json.dumps(_public_members(public_key), sort_keys=True, separators=(",", ":"))
    return _b64url(hashlib.sha256(canonical.encode("ascii")).digest())


def _algorithm_for(private_key: object) -> str:
    """Pin each key to one algorithm; refuse key types and sizes we do not sign with."""
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise KeyConfigError(f"EC signing keys must use P-256, not {private_key.curve.name}")
        return "ES256"
    if isinstance(private_key, rsa.RSAPrivateKey):
        if private_key.key_size < _MIN_RSA_BITS:
            raise KeyConfigError(f"RSA signing keys need at least {_MIN_RSA_BITS} bits")
        return "RS256"
    raise KeyConfigError("signing keys must be EC P-256 (ES256) or RSA (RS256) private keys")


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: PrivateKey = field(repr=False, compare=False)
    alg: str = "ES256"
    created_at: datetime = field(default_factory=_utcnow)
    retired_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.alg not in ALLOWED_ALGORITHMS or _algorithm_for(self.private_key) != self.alg:
            raise KeyConfigError(f"key {self.kid} cannot be used with algorithm {self.alg!r}")
        # The kid is derived, never chosen: the same key must get the same kid in every process.
        if self.kid != jwk_thumbprint(self.public_key):
            raise KeyConfigError(f"kid {self.kid!r} is not the RFC 7638 thumbprint of its key")

    @classmethod
    def from_private_key(
        cls,
        private_key: PrivateKey,
        *,
        created_at: datetime | None = None,
        retired_at: datetime | None = None,
    ) -> SigningKey:
        alg = _algorithm_for(private_key)  # first: the thumbprint assumes a supported key
        return cls(
            kid=jwk_thumbprint(private_key.public_key()),
            private_key=private_key,
            alg=alg,
            created_at=created_at or _utcnow(),
            retired_at=retired_at,
        )

    @property
    def public_key(self) -> PublicKey:
        return self.private_key.public_key()

    @property
    def retired(self) -> bool:
        return self.retired_at is not None

    # Built once per key: python-jose would otherwise re-parse the key on every token.
    @cached_property
    def jose_signing_key(self) -> JoseKey:
        return jwk.construct(self.private_key, self.alg)

    @cached_property
    def jose_verifying_key(self) -> JoseKey:
        return jwk.construct(self.public_key, self.alg)

    def public_jwk(self) -> dict[str, str]:
        return {**_public_members(self.public_key), "kid": self.kid, "alg": self.alg, "use": "sig"}

    def private_pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")


def generate_signing_key(*, created_at: datetime | None = None) -> SigningKey:
    return SigningKey.from_private_key(ec.generate_private_key(ec.SECP256R1()), created_at=created_at)


class KeySet:
    """Our own keys by kid. Retired keys still verify (until pruned) but never sign."""

    def __init__(self, keys: Iterable[SigningKey]) -> None:
        self._keys: tuple[SigningKey, ...] = tuple(keys)
        self._by_kid: dict[str, SigningKey] = {}
        for key in self._keys:
            if key.kid in self._by_kid:
                raise KeyConfigError(f"signing key {key.kid} is listed twice")
            self._by_kid[key.kid] = key
        current = next((key for key in self._keys if not key.retired), None)
        if current is None:
            raise KeyConfigError("no usable signing key (none configured, or all retired)")
        self._current = current

    @property
    def current(self) -> SigningKey:
        return self._current

    def get(self, kid: str) -> SigningKey | None:
        return self._by_kid.get(kid)

    def public_jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [key.public_jwk() for key in self._keys]}

    def __iter__(self) -> Iterator[SigningKey]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, kid: object) -> bool:
        return kid in self._by_kid

    def __repr__(self) -> str:
        return f"KeySet(current={self._current.kid!r}, kids={[key.kid for key in self._keys]!r})"


# ---------------------------------------------------------------------------------------------
# Configuration: LIVEGATE_SIGNING_KEYS


def _load_private_pem(pem: bytes, origin: str) -> SigningKey:
    try:
        private_key = serialization.load_pem_private_key(pem, password=None)
    except TypeError:
        raise KeyConfigError(f"{origin}: encrypted private keys are not supported") from None
    except (ValueError, UnsupportedAlgorithm):
        # Never echo the text: it may be a secret that merely failed to parse.
        raise KeyConfigError(f"{origin}: not a readable PEM private key") from None
    if not isinstance(private_key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise KeyConfigError(f"{origin}: signing keys must be EC P-256 or RSA private keys")
    try:
        return SigningKey.from_private_key(private_key)
    except KeyConfigError as exc:
        raise KeyConfigError(f"{origin}: {exc}") from None


def _split_pem_blocks(text: str, origin: str) -> list[bytes]:
    blocks = [match.group(0) for match in _PEM_BLOCK.finditer(text)]
    leftover = _PEM_BLOCK.sub("", text)
    if not blocks or leftover.replace(",", "").strip():
        raise KeyConfigError(f"{origin}: expected only PEM blocks")
    return [block.encode("ascii", errors="replace") for block in blocks]


def _keys_from_inline(text: str) -> list[SigningKey]:
    # Environment variables often carry PEM with literal "\n" sequences instead of newlines.
    if "\n" not in text.strip() and "\\n" in text:
        text = text.replace("\\n", "\n")
    blocks = _split_pem_blocks(text, "LIVEGATE_SIGNING_KEYS")
    return [_load_private_pem(block, f"inline key #{n}") for n, block in enumerate(blocks, 1)]


def _keys_from_file(path: Path) -> list[SigningKey]:
    try:
        text = path.read_text("ascii")
    except (OSError, UnicodeDecodeError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) else "not a text file"
        raise KeyConfigError(f"cannot read signing key file {path}: {detail}") from None
    blocks = _split_pem_blocks(text, f"signing key file {path}")
    return [_load_private_pem(block, f"signing key file {path}") for block in blocks]


def load_keys_from_config(value: str) -> KeySet:
    """Inline PEM (one or more blocks) or PEM file paths separated by commas or newlines; first is current."""
    if not value or not value.strip():
        raise KeyConfigError("LIVEGATE_SIGNING_KEYS is empty")
    if "-----BEGIN" in value:
        keys = _keys_from_inline(value)
    else:
        paths = [part.strip() for part in re.split(r"[,\n]", value) if part.strip()]
        keys = [key for path in paths for key in _keys_from_file(Path(path).expanduser())]
    return KeySet(keys)


# ---------------------------------------------------------------------------------------------
# Dev keys in the data dir


def dev_keys_path(data_dir: Path) -> Path:
    return Path(data_dir) / "keys" / "signing-keys.json"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise create/rotate across processes (several uvicorn workers may start at once)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _key_to_record(key: SigningKey) -> dict[str, Any]:
    return {
        "kid": key.kid,
        "alg": key.alg,
        "created_at": key.created_at.isoformat(),
        "retired_at": key.retired_at.isoformat() if key.retired_at else None,
        "pem": key.private_pem(),
    }


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    # A hand-edited file may drop the offset; naive and aware datetimes cannot be compared.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _key_from_record(record: Any, origin: str) -> SigningKey:
    try:
        pem = record["pem"].encode("ascii")
        created_at = _parse_time(record["created_at"])
        retired_at = _parse_time(record["retired_at"]) if record.get("retired_at") else None
    except (TypeError, KeyError, ValueError, AttributeError):
        raise KeyConfigError(f"{origin}: malformed key record") from None
    key = _load_private_pem(pem, origin)
    if record.get("kid") not in (None, key.kid):
        raise KeyConfigError(f"{origin}: stored kid does not match the key")
    return replace(key, created_at=created_at, retired_at=retired_at)


def _read_dev_keys(path: Path) -> list[SigningKey]:
    try:
        document = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise KeyConfigError(f"cannot read dev signing keys {path}: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise KeyConfigError(f"cannot read dev signing keys {path}: unexpected layout")
    return [_key_from_record(record, f"{path} key #{n}") for n, record in enumerate(document["keys"], 1)]


def _write_dev_keys(path: Path, keys: list[SigningKey]) -> None:
    """Atomic replace: a crash mid-write must never leave a truncated key file behind."""
    document = {"version": _DEV_FILE_VERSION, "keys": [_key_to_record(key) for key in keys]}
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".signing-keys.", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as tmp:
            json.dump(document, tmp, indent=2)
            tmp.write("\n")
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def load_or_create_dev_keys(data_dir: Path) -> KeySet:
    path = dev_keys_path(data_dir)
    with _locked(path):
        keys = _read_dev_keys(path)
        if not keys:
            keys = [generate_signing_key()]
            _write_dev_keys(path, keys)
    return KeySet(keys)


def rotate_dev_keys(data_dir: Path, *, keep_for: timedelta, now: datetime | None = None) -> SigningKey:
    """Add a new current key, retire the others now, drop keys retired longer than `keep_for` ago.

    `keep_for` must be at least the longest token lifetime (plus leeway): a dropped key's tokens
    stop verifying.
    """
    if keep_for < timedelta(0):
        raise ValueError("keep_for must not be negative")
    now = now or _utcnow()
    path = dev_keys_path(data_dir)
    with _locked(path):
        old = [key if key.retired else replace(key, retired_at=now) for key in _read_dev_keys(path)]
        kept = [key for key in old if key.retired_at is not None and now - key.retired_at <= keep_for]
        new_key = generate_signing_key(created_at=now)
        _write_dev_keys(path, [new_key, *kept])
    return new_key
