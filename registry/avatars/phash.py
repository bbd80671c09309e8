"""64-bit perceptual hash helpers for a near-duplicate index (multi-index hashing).

A hash is split into BANDS slices of BAND_BITS bits, each indexed (in SQL columns, and in memory by
registry.avatars.similarity). Pigeonhole: if hamming(a, b) <= d, the four band distances sum to at most
d, so at least one band of b differs from a's band by at most floor(d / BANDS). Looking up every value
within that radius in each band's index therefore finds every true match; candidates are then filtered
by the full distance (false positives).
"""

from __future__ import annotations

import re
from itertools import combinations
from typing import Final

BANDS: Final = 4
BAND_BITS: Final = 16

_BITS: Final = BANDS * BAND_BITS
_MASK64: Final = (1 << _BITS) - 1
_BAND_MASK: Final = (1 << BAND_BITS) - 1
_SIGN_BIT: Final = 1 << (_BITS - 1)
_HEX_RE: Final = re.compile(r"[0-9a-fA-F]{16}")

MAX_RADIUS: Final = 3
# The largest distance band_neighbourhoods serves; beyond it a band has 2517+ neighbours (radius 4)
# and an IN-list lookup stops beating a scan.
MAX_DISTANCE: Final = BANDS * (MAX_RADIUS + 1) - 1


def _xor_masks(radius: int) -> tuple[int, ...]:
    """Every BAND_BITS-bit mask with at most `radius` bits set, closest (fewest bits) first."""
    return tuple(
        sum(1 << bit for bit in bits)
        for flipped in range(radius + 1)
        for bits in combinations(range(BAND_BITS), flipped)
    )


# Index r holds the masks for radius r: 1, 17, 137 and 697 of them.
_MASKS_BY_RADIUS: Final = tuple(_xor_masks(r) for r in range(MAX_RADIUS + 1))


def to_signed64(h: int) -> int:
    """Unsigned 64-bit hash -> the signed value a BIGINT column holds."""
    if not 0 <= h <= _MASK64:
        raise ValueError(f"not an unsigned 64-bit value: {h}")
    return h - (1 << _BITS) if h & _SIGN_BIT else h


def to_unsigned64(h: int) -> int:
    """Signed BIGINT value -> the unsigned 64-bit hash."""
    if not -_SIGN_BIT <= h < _SIGN_BIT:
        raise ValueError(f"not a signed 64-bit value: {h}")
    return h & _MASK64


def hash_hex(h: int) -> str:
    """16 lower-case hex digits, the same text imagehash's str() gives for a 64-bit hash."""
    if not 0 <= h <= _MASK64:
        raise ValueError(f"not an unsigned 64-bit value: {h}")
    return f"{h:016x}"


def parse_hash_hex(s: str) -> int:
    # Validate the shape first: int(s, 16) alone would also take "0x", "_", "+" and whitespace.
    if not _HEX_RE.fullmatch(s):
        raise ValueError(f"not 16 hex digits: {s!r}")
    return int(s, 16)


def bands(h: int) -> tuple[int, int, int, int]:
    """The four 16-bit slices of an unsigned hash, band 0 being the most significant."""
    if not 0 <= h <= _MASK64:
        raise ValueError(f"not an unsigned 64-bit value: {h}")
    return (h >> 48) & _BAND_MASK, (h >> 32) & _BAND_MASK, (h >> 16) & _BAND_MASK, h & _BAND_MASK


def hamming(a: int, b: int) -> int:
    # Masking makes signed (BIGINT) and unsigned forms of the same hash interchangeable.
    return ((a ^ b) & _MASK64).bit_count()


def band_neighbourhoods(h: int, max_distance: int) -> list[list[int]]:
    """Per band, every 16-bit value within floor(max_distance / BANDS) bits of the query's band.

    Guarantee: any hash b with hamming(h, b) <= max_distance has bands(b)[i] in result[i] for at least
    one i, so OR-ing the four `band_i IN (...)` lookups misses no match. Filter candidates by hamming.
    """
    _check_distance(max_distance)
    masks = _MASKS_BY_RADIUS[max_distance // BANDS]
    return [[band ^ mask for mask in masks] for band in bands(h)]


def band_radii(max_distance: int) -> tuple[int, ...]:
    """Per band, the radius a lookup must probe: tighter than band_neighbourhoods (-1: not at all).

    With d = BANDS * r + e, the first e + 1 bands need radius r and the others only r - 1: a hash none
    of whose bands is caught differs by at least (e + 1)(r + 1) + (BANDS - e - 1) r = d + 1 bits. At
    d = 10 that is 3 x 137 + 17 = 428 band values instead of 548; at d = 12, 697 + 3 x 137 = 1108
    instead of 2788.
    """
    _check_distance(max_distance)
    radius, extra = divmod(max_distance, BANDS)
    return tuple(radius if band <= extra else radius - 1 for band in range(BANDS))


def xor_masks(radius: int) -> tuple[int, ...]:
    """Every BAND_BITS-bit mask with at most `radius` bits set (none for -1), fewest bits first."""
    return _MASKS_BY_RADIUS[radius] if radius >= 0 else ()


def _check_distance(max_distance: int) -> None:
    if not 0 <= max_distance <= MAX_DISTANCE:
        raise ValueError(f"max_distance must be between 0 and {MAX_DISTANCE}, got {max_distance}")
