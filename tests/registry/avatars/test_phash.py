"""Perceptual hash helpers: BIGINT and hex forms, 16-bit bands and the pigeonhole neighbourhoods."""

from __future__ import annotations

from math import comb

import imagehash
import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.avatars.phash import (
    BAND_BITS,
    BANDS,
    MAX_DISTANCE,
    band_neighbourhoods,
    band_radii,
    bands,
    hamming,
    hash_hex,
    parse_hash_hex,
    to_signed64,
    to_unsigned64,
    xor_masks,
)

U64 = st.integers(min_value=0, max_value=2**64 - 1)


def test_constants() -> None:
    assert (BANDS, BAND_BITS) == (4, 16)


def test_bands_most_significant_first() -> None:
    assert bands(0x0123_4567_89AB_CDEF) == (0x0123, 0x4567, 0x89AB, 0xCDEF)
    assert bands(0) == (0, 0, 0, 0)
    assert bands(2**64 - 1) == (0xFFFF,) * 4


@given(U64)
def test_bands_reassemble(h: int) -> None:
    b0, b1, b2, b3 = bands(h)
    assert (b0 << 48) | (b1 << 32) | (b2 << 16) | b3 == h


def test_signed_conversion_edges() -> None:
    assert to_signed64(0) == 0
    assert to_signed64(2**63 - 1) == 2**63 - 1
    assert to_signed64(2**63) == -(2**63)
    assert to_signed64(2**64 - 1) == -1
    assert to_unsigned64(-1) == 2**64 - 1
    assert to_unsigned64(-(2**63)) == 2**63


@given(U64)
def test_signed_round_trip(h: int) -> None:
    signed = to_signed64(h)
    assert -(2**63) <= signed < 2**63
    assert to_unsigned64(signed) == h


@pytest.mark.parametrize("bad", [-1, 2**64])
def test_unsigned_out_of_range_is_refused(bad: int) -> None:
    for fn in (to_signed64, hash_hex, bands):
        with pytest.raises(ValueError):
            fn(bad)


@pytest.mark.parametrize("bad", [2**63, -(2**63) - 1])
def test_signed_out_of_range_is_refused(bad: int) -> None:
    with pytest.raises(ValueError):
        to_unsigned64(bad)


def test_hex_form() -> None:
    assert hash_hex(0) == "0" * 16
    assert hash_hex(0xABCDEF) == "0000000000abcdef"
    assert parse_hash_hex("FFFFFFFFFFFFFFFF") == 2**64 - 1


@given(U64)
def test_hex_round_trip_matches_imagehash(h: int) -> None:
    text = hash_hex(h)
    assert len(text) == 16 and text == text.lower()
    assert parse_hash_hex(text) == h
    assert str(imagehash.hex_to_hash(text)) == text


@pytest.mark.parametrize(
    "bad", ["", "abc", "0" * 15, "0" * 17, "0x" + "0" * 14, "+" + "0" * 15, " " + "0" * 15, "g" * 16, "0" * 15 + "\n"]
)
def test_malformed_hex_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_hash_hex(bad)


def test_hamming() -> None:
    assert hamming(0, 0) == 0
    assert hamming(0, 2**64 - 1) == 64
    assert hamming(0b1011, 0b0110) == 3


@given(U64, U64)
def test_hamming_accepts_signed_and_unsigned_forms(a: int, b: int) -> None:
    expected = bin(a ^ b).count("1")
    assert hamming(a, b) == hamming(to_signed64(a), b) == hamming(to_signed64(a), to_signed64(b)) == expected


@pytest.mark.parametrize(
    ("max_distance", "size"), [(0, 1), (3, 1), (4, 17), (7, 17), (8, 137), (10, 137), (12, 697), (15, 697)]
)
def test_neighbourhood_sizes(max_distance: int, size: int) -> None:
    radius = max_distance // BANDS
    assert size == sum(comb(BAND_BITS, k) for k in range(radius + 1))
    hoods = band_neighbourhoods(0x0123_4567_89AB_CDEF, max_distance)
    assert len(hoods) == BANDS
    for hood, band in zip(hoods, bands(0x0123_4567_89AB_CDEF), strict=True):
        assert len(hood) == len(set(hood)) == size
        assert hood[0] == band  # exact match first
        assert all(0 <= v < 2**BAND_BITS and (v ^ band).bit_count() <= radius for v in hood)


@pytest.mark.parametrize("bad", [-1, MAX_DISTANCE + 1, 64])
def test_neighbourhood_distance_out_of_range_is_refused(bad: int) -> None:
    with pytest.raises(ValueError):
        band_neighbourhoods(0, bad)


@st.composite
def near_pairs(draw: st.DrawFn) -> tuple[int, int, int]:
    a = draw(U64)
    d = draw(st.integers(min_value=0, max_value=12))
    flipped = draw(st.sets(st.integers(min_value=0, max_value=63), max_size=d))
    b = a ^ sum(1 << bit for bit in flipped)
    return a, b, d


@given(near_pairs())
def test_pigeonhole_no_match_is_missed(pair: tuple[int, int, int]) -> None:
    a, b, d = pair
    assert hamming(a, b) <= d
    hoods = band_neighbourhoods(a, d)
    assert any(band in hood for band, hood in zip(bands(b), hoods, strict=True))


def test_pigeonhole_worst_case_spread() -> None:
    # Distance 11 spread 3/3/3/2 over the bands: radius 2 still catches the band with 2 flips.
    a = 0
    b = 0b111 << 48 | 0b111 << 32 | 0b111 << 16 | 0b11
    hoods = band_neighbourhoods(a, 11)
    hits = [band in hood for band, hood in zip(bands(b), hoods, strict=True)]
    assert hits == [False, False, False, True]


@pytest.mark.parametrize(
    ("max_distance", "radii"),
    [(0, (0, -1, -1, -1)), (3, (0, 0, 0, 0)), (4, (1, 0, 0, 0)), (10, (2, 2, 2, 1)), (11, (2, 2, 2, 2))],
)
def test_band_radii(max_distance: int, radii: tuple[int, ...]) -> None:
    assert band_radii(max_distance) == radii
    assert len(xor_masks(-1)) == 0 and xor_masks(0) == (0,)


@pytest.mark.parametrize("bad", [-1, MAX_DISTANCE + 1])
def test_band_radii_refuses_distances_out_of_range(bad: int) -> None:
    with pytest.raises(ValueError):
        band_radii(bad)


@st.composite
def spread_pairs(draw: st.DrawFn) -> tuple[int, int, int]:
    """A hash and one at distance <= d whose flipped bits are spread as evenly over the bands as d allows."""
    a = draw(U64)
    d = draw(st.integers(min_value=0, max_value=MAX_DISTANCE))
    flips = draw(st.integers(min_value=0, max_value=d))
    order = draw(st.permutations(range(BANDS)))
    b = a
    for k in range(flips):
        band = order[k % BANDS]
        b ^= 1 << (band * BAND_BITS + k // BANDS)
    return a, b, d


@given(st.one_of(near_pairs(), spread_pairs()))
def test_tighter_radii_still_miss_no_match(pair: tuple[int, int, int]) -> None:
    a, b, d = pair
    assert hamming(a, b) <= d
    radii = band_radii(d)
    assert any(r >= 0 and (x ^ y).bit_count() <= r for x, y, r in zip(bands(a), bands(b), radii, strict=True))


def test_tighter_radii_worst_case_spread() -> None:
    # Distance 10 spread 3/3/2/2 over bands 0-3: band 2 (radius 2) catches it; 3/3/3/1: band 3 (radius 1).
    for spread in ((3, 3, 2, 2), (3, 3, 3, 1), (2, 3, 3, 2)):
        b = sum(((1 << flips) - 1) << (48 - 16 * band) for band, flips in enumerate(spread))
        radii = band_radii(10)
        assert any((x ^ y).bit_count() <= r for x, y, r in zip(bands(0), bands(b), radii, strict=True))
    # And 11 bits spread 3/3/3/2 would slip past (2, 2, 2, 1): which is why d = 11 probes radius 2 everywhere.
    b = sum(((1 << flips) - 1) << (48 - 16 * band) for band, flips in enumerate((3, 3, 3, 2)))
    assert not any((x ^ y).bit_count() <= r for x, y, r in zip(bands(0), bands(b), (2, 2, 2, 1), strict=True))
