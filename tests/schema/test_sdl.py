"""The served SDL is committed, and it never breaks the public contract."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import build_schema, find_breaking_changes

from schema.build import export_sdl

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "schema" / "schema.graphql"
CONTRACT = ROOT.parent / "shared" / "contract" / "schema.graphql"


def test_committed_sdl_matches_the_code() -> None:
    assert COMMITTED.read_text() == export_sdl(), "run `make schema` and commit schema/schema.graphql"


def test_no_breaking_change_against_the_contract() -> None:
    if not CONTRACT.exists():
        pytest.skip(f"the contract is not next to this checkout ({CONTRACT})")
    changes = find_breaking_changes(build_schema(CONTRACT.read_text()), build_schema(export_sdl()))
    assert [f"{c.type.name}: {c.description}" for c in changes] == []


def test_contract_comments_are_descriptions() -> None:
    served = build_schema(export_sdl())
    performer = served.type_map["Performer"]
    assert performer.fields["fullNameMasked"].description == "e.g. 张*三"  # type: ignore[attr-defined]
    assert "legacy 15-digit" in (served.type_map["DocumentType"].values["RESIDENT_ID_CARD"].description or "")  # type: ignore[attr-defined]
