"""Builders for supplier inputs (valid unless told otherwise)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from datetime import UTC, date, datetime

from registry import config
from registry.enforcement.models import BlacklistEntry, BlacklistKey
from registry.ids import new_id
from registry.suppliers.checks import SupplierInput
from registry.suppliers.licenses import LicenseInput
from registry.validators.documents import DocumentInput
from registry.validators.uscc import org_code_check_char, uscc_check_char
from tests.factories import credit_code, document

_refs = itertools.count(1)
ADDRESS = "广东省深圳市南山区科技园科苑路15号"
LANDLINE = "0755-8888 6666"


def next_ref() -> str:
    return f"sup-{next(_refs):06d}"


def individual_business_code(seed: int) -> str:
    """A valid type-92 (individual business) credit code."""
    rng = random.Random(seed)
    body8 = "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(8))
    first17 = "92" + "440300" + body8 + org_code_check_char(body8)
    return first17 + uscc_check_char(first17)


def code_failing_inner_check(seed: int) -> str:
    """Overall check right, inner organization-code check wrong: a finding, not a rejection."""
    rng = random.Random(seed)
    body8 = "".join(rng.choice("0123456789") for _ in range(8))
    wrong = next(c for c in "0123456789" if c != org_code_check_char(body8))
    first17 = "91" + "110108" + body8 + wrong
    return first17 + uscc_check_char(first17)


def supplier(
    ref: str | None = None,
    *,
    kind: str = "ENTERPRISE",
    code: str | None = None,
    name: str = "深圳市示例科技有限公司",
    address: str = ADDRESS,
    phone: str = LANDLINE,
    categories: Sequence[str] = ("GENERAL",),
    licenses: Sequence[LicenseInput] = (),
    identity: DocumentInput | None = None,
) -> SupplierInput:
    if code is None and kind != "NATURAL_PERSON":
        code = credit_code() if kind == "ENTERPRISE" else individual_business_code(next(_refs))
    return SupplierInput(
        external_ref=ref or next_ref(),
        kind=kind,
        name=name,
        address=address,
        contact_phone=phone,
        categories=list(categories),
        credit_code=code,
        identity=identity,
        licenses=list(licenses),
    )


def person(ref: str | None = None, *, name: str = "李四", **kwargs: object) -> SupplierInput:
    return supplier(ref, kind="NATURAL_PERSON", name=name, identity=document(name=name), phone="13800138000", **kwargs)  # type: ignore[arg-type]


def license_(kind: str = "FOOD_BUSINESS", number: str = "JY14403050123456", until: date | None = None) -> LicenseInput:
    return LicenseInput(kind, number, until)


async def blacklist(platform_id: str, kind: str, raw: str, *, scope: str = "PLATFORM") -> str:
    """A blacklist entry holding one key (as the enforcement domain stores it: blind indexes only)."""
    entry = await BlacklistEntry.create(id=new_id("bl"), platform_id=platform_id, scope=scope, reason="test")
    for value in config.current().indexer.candidates(kind, raw):
        await BlacklistKey.create(entry_id=entry.id, kind=kind, value=value)
    return entry.id


def at_shanghai_noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai
