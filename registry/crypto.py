"""Personal data at rest: AES-256-GCM encryption and keyed blind indexes.

Ciphertexts name their key (`v1.<kid>.<base64url(nonce|ciphertext)>`) so data keys can rotate and
old rows stay readable. Blind indexes are HMAC-SHA256 over a normalized value under a secret key
(identity numbers have too little entropy for a plain hash); each stored index names its key id,
and a lookup computes the value under every key, so entries written before a rotation still match.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE_BYTES = 12
_VERSION = "v1"


class KeyringError(ValueError):
    pass


class DecryptionError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Keyring:
    """Named 32-byte keys; the first is current (used for new writes)."""

    keys: tuple[tuple[str, bytes], ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeyringError("a keyring needs at least one key")
        kids = [kid for kid, _ in self.keys]
        if len(set(kids)) != len(kids):
            raise KeyringError("key ids must be unique")

    @classmethod
    def parse(cls, text: str, *, what: str = "key") -> Keyring:
        """Parse `kid:base64,kid:base64` (commas, spaces or newlines between items)."""
        items = [item for item in text.replace("\n", ",").replace(" ", ",").split(",") if item]
        keys: list[tuple[str, bytes]] = []
        for item in items:
            kid, sep, encoded = item.partition(":")
            if not sep or not kid or not kid.isalnum():
                raise KeyringError(f"each {what} must look like kid:base64 (kid letters and digits)")
            try:
                raw = base64.b64decode(encoded, validate=True)
            except ValueError:
                raise KeyringError(f"{what} {kid!r} is not valid base64") from None
            if len(raw) != 32:
                raise KeyringError(f"{what} {kid!r} must be 32 bytes, not {len(raw)}")
            keys.append((kid, raw))
        return cls(tuple(keys))

    def format(self) -> str:
        return ",".join(f"{kid}:{base64.b64encode(key).decode()}" for kid, key in self.keys)

    @classmethod
    def generate(cls, kid: str) -> Keyring:
        return cls(((kid, os.urandom(32)),))

    @property
    def current(self) -> tuple[str, bytes]:
        return self.keys[0]

    def get(self, kid: str) -> bytes | None:
        return next((key for k, key in self.keys if k == kid), None)


class Vault:
    """Encrypts short personal values; `aad` binds a ciphertext to its record and field."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self._ciphers = {kid: AESGCM(key) for kid, key in keyring.keys}

    def encrypt(self, plaintext: str, *, aad: str) -> str:
        kid, _ = self.keyring.current
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[kid].encrypt(nonce, plaintext.encode(), aad.encode())
        return f"{_VERSION}.{kid}.{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"

    def decrypt(self, token: str, *, aad: str) -> str:
        version, kid, payload = _split(token)
        cipher = self._ciphers.get(kid)
        if version != _VERSION or cipher is None:
            raise DecryptionError(f"no data key {kid!r} for this ciphertext")
        blob = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        try:
            return cipher.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], aad.encode()).decode()
        except InvalidTag:
            raise DecryptionError("ciphertext does not authenticate") from None

    def is_current(self, token: str) -> bool:
        return _split(token)[1] == self.keyring.current[0]

    def reencrypt(self, token: str, *, aad: str) -> str:
        return token if self.is_current(token) else self.encrypt(self.decrypt(token, aad=aad), aad=aad)


def _split(token: str) -> tuple[str, str, str]:
    parts = token.split(".", 2)
    if len(parts) != 3:
        raise DecryptionError("malformed ciphertext")
    return parts[0], parts[1], parts[2]


class BlindIndexer:
    """Keyed HMAC indexes, domain-separated by `kind` (document, phone, ...)."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        # Each key's HMAC state is set up once; an index then costs a copy of it, not OpenSSL's digest
        # lookup and key schedule, which were most of an HMAC of a short value (scripts/bench.py import).
        self._keyed = [(kid, hmac.new(key, digestmod=hashlib.sha256)) for kid, key in keyring.keys]

    def index(self, kind: str, normalized: str) -> str:
        kid, keyed = self._keyed[0]
        return f"{kid}:{_mac(keyed, kind, normalized)}"

    def candidates(self, kind: str, normalized: str) -> list[str]:
        """The value's index under every key: a lookup matches rows written before a rotation."""
        return [f"{kid}:{_mac(keyed, kind, normalized)}" for kid, keyed in self._keyed]

    def candidates_many(self, kind: str, values: Iterable[str]) -> list[str]:
        return [c for value in values for c in self.candidates(kind, value)]


def _mac(keyed: hmac.HMAC, kind: str, normalized: str) -> str:
    # The kind is part of the message so equal strings of different kinds never collide.
    mac = keyed.copy()
    mac.update(f"{kind}\x00{normalized}".encode())
    return mac.hexdigest()


def field_aad(table: str, column: str, record_id: str) -> str:
    """Associated data binding a ciphertext to its row and column: a value copied elsewhere fails."""
    return f"{table}.{column}.{record_id}"
