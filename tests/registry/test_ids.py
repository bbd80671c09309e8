"""Record ids: one at a time or a batch at once, the same format."""

from __future__ import annotations

import base64
import os
import re
import secrets

import pytest

from registry.ids import ID_MAX_LENGTH, new_id, new_ids, prefix_of

_FORMAT = re.compile(r"sup_[a-z2-7]{26}")


def _bits(record_id: str) -> bytes:
    text = record_id.partition("_")[2].upper()
    return base64.b32decode(text + "=" * 6)


def test_new_id_format() -> None:
    record_id = new_id("sup")
    assert _FORMAT.fullmatch(record_id) and len(record_id) <= ID_MAX_LENGTH
    assert prefix_of(record_id) == "sup"
    assert len(_bits(record_id)) == 16


def test_new_id_is_the_base32_of_its_random_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    for raw in [bytes(16), b"\xff" * 16, bytes(range(16)), *(os.urandom(16) for _ in range(2000))]:
        monkeypatch.setattr(secrets, "token_bytes", lambda n, raw=raw: raw)
        assert new_id("sup") == "sup_" + base64.b32encode(raw).decode().rstrip("=").lower()
    monkeypatch.undo()
    assert len({new_id("sup") for _ in range(5000)}) == 5000


def test_a_batch_has_the_same_format_and_no_repeats() -> None:
    ids = new_ids("sup", 5000)
    assert len(ids) == len(set(ids)) == 5000
    assert all(_FORMAT.fullmatch(i) for i in ids)
    # The encoding is new_id's: each id decodes to its 16 random bytes and encodes back to itself.
    for record_id in ids[:200]:
        raw = _bits(record_id)
        assert len(raw) == 16
        assert record_id == "sup_" + base64.b32encode(raw).decode().rstrip("=").lower()


def test_an_empty_batch() -> None:
    assert new_ids("aud", 0) == []
    assert new_ids("aud", -1) == []
