"""Random, opaque record ids: a short type prefix and 128 random bits (never sequential)."""

from __future__ import annotations

import base64
import os
import secrets
from typing import Final

ID_MAX_LENGTH = 32
_BYTES = 16
# 16 random bytes padded to 20 encode to exactly 32 base32 characters; the first 26 are the 128 bits
# (and 2 zero bits), the same 26 characters b32encode gives the 16 bytes alone before its '=' padding.
_PAD = bytes(4)
_CHARS = 26
_STRIDE = 32


# base32 (RFC 4648, lower case) two characters at a time: the 128 bits and 2 zero bits as 13 groups of ten.
# base64.b32encode is pure Python: it cost twice this, for three ids in every registration.
_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_PAIRS: Final = tuple(a + b for a in _ALPHABET for b in _ALPHABET)
_SHIFTS: Final = tuple(range(120, -1, -10))


def new_id(prefix: str) -> str:
    # base32 keeps ids case-insensitive and URL-safe; 16 bytes encode to 26 characters.
    bits = int.from_bytes(secrets.token_bytes(_BYTES)) << 2  # b32encode pads the last group with zero bits
    return f"{prefix}_{''.join([_PAIRS[(bits >> shift) & 1023] for shift in _SHIFTS])}"


def new_ids(prefix: str, count: int) -> list[str]:
    """`count` ids exactly as `new_id` makes them, from one read of the system's random source.

    Bulk writers need one per row; one `os.urandom` and one encode for all is several times cheaper
    than a system call and an encode per id.
    """
    if count <= 0:
        return []
    raw = os.urandom(_BYTES * count)
    padded = b"".join(raw[i : i + _BYTES] + _PAD for i in range(0, len(raw), _BYTES))
    text = base64.b32encode(padded).decode().lower()
    head = f"{prefix}_"
    return [head + text[i : i + _CHARS] for i in range(0, len(text), _STRIDE)]


def prefix_of(record_id: str) -> str:
    return record_id.partition("_")[0]
