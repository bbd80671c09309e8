"""Random, opaque record ids: a short type prefix and 128 random bits (never sequential)."""

from __future__ import annotations

import base64
import secrets

ID_MAX_LENGTH = 32


def new_id(prefix: str) -> str:
    # base32 keeps ids case-insensitive and URL-safe; 16 bytes encode to 26 characters.
    return f"{prefix}_{base64.b32encode(secrets.token_bytes(16)).decode().rstrip('=').lower()}"


def prefix_of(record_id: str) -> str:
    return record_id.partition("_")[0]
