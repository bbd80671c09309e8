"""Supplier files for the import script: CSV in any encoding, JSON Lines."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.factories import credit_code, resident_id, years_ago

COLUMNS = [
    "external_ref", "kind", "name", "credit_code", "address", "contact_phone", "categories", "licenses",
    "document_type", "document_number", "full_name", "birth_date", "nationality", "expires_on",
]  # fmt: skip


def company(ref: str, *, name: str = "深圳市示例科技有限公司", **changes: Any) -> dict[str, Any]:
    row = {
        "external_ref": ref,
        "kind": "ENTERPRISE",
        "name": name,
        "credit_code": credit_code(),
        "address": "广东省深圳市南山区科技园科苑路15号",
        "contact_phone": "0755-8888 6666",
        "categories": "GENERAL;FOOD",
        "licenses": json.dumps([{"type": "FOOD_BUSINESS", "number": "JY1440305/0123;456", "validUntil": "2030-12-31"}]),
    }
    return {**row, **changes}


def natural_person(ref: str, *, name: str = "王小明", **changes: Any) -> dict[str, Any]:
    row = {
        "external_ref": ref,
        "kind": "NATURAL_PERSON",
        "name": name,
        "address": "浙江省杭州市西湖区文三路100号",
        "contact_phone": "138 0013 8000",
        "categories": "GENERAL",
        "licenses": "",
        "document_type": "RESIDENT_ID_CARD",
        "document_number": resident_id(years_ago(35)),
        "full_name": name,
    }
    return {**row, **changes}


def rows_of(count: int, prefix: str = "S") -> list[dict[str, Any]]:
    return [natural_person(f"{prefix}{i:05d}") if i % 7 == 3 else company(f"{prefix}{i:05d}") for i in range(count)]


def write_csv(path: Path, rows: Sequence[dict[str, Any]], *, encoding: str = "utf-8") -> Path:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def read_rejected(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))
