"""Builders for agency tests: registered agencies, agreement inputs and blacklisted credit codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from registry.agencies import services as agencies
from registry.agencies.agreements import AgreementInput
from registry.agencies.models import Agency
from registry.enforcement.models import BlacklistEntry, BlacklistKey
from registry.enforcement.screening import SubjectKeys, index_values
from registry.ids import new_id
from registry.organizations import CompanyInput
from registry.validators.uscc import org_code_check_char, uscc_check_char
from tests.factories import credit_code, document, platform_actor, years_ago

ALL_DUTIES = {
    "marketer_management": True,
    "content_management": True,
}


def agency_input(
    code: str | None = None, *, external_ref: str | None = None, representative: bool = True
) -> CompanyInput:
    return CompanyInput(
        name="杭州示例网红经纪有限公司",
        credit_code=code or credit_code(),
        address="杭州市余杭区示例街道88号",
        contact_phone="0571-87654321",
        representative=document(years_ago(42), name="赵六") if representative else None,
        external_ref=external_ref,
    )


async def make_agency(platform_id: str, code: str | None = None, *, external_ref: str | None = None) -> Agency:
    outcome = await agencies.register_agency(platform_actor(platform_id), agency_input(code, external_ref=external_ref))
    assert outcome.agency is not None, outcome.problems
    return outcome.agency


def agreement(
    agency_id: str, party_id: str, *, room_operator: bool = False, days_ago: int = 10, **changes: object
) -> AgreementInput:
    """A complete agreement for a marketer (all five duties with room_operator=True), signed days_ago."""
    values: dict[str, object] = {
        "agency_id": agency_id,
        "party_id": party_id,
        "signed_at": datetime.now(UTC) - timedelta(days=days_ago),
        "information_security": True,
        "commodity_quality_audit": True,
        "consumer_protection": True,
        **(ALL_DUTIES if room_operator else {}),
        **changes,
    }
    return AgreementInput(**values)  # type: ignore[arg-type]


def code_failing_inner_check(seed: str = "MA1B2C3D") -> str:
    """A credit code whose overall check passes but whose inner organization-code check fails."""
    wrong = next(c for c in "0123456789" if c != org_code_check_char(seed))
    first17 = "91" + "330100" + seed + wrong
    return first17 + uscc_check_char(first17)


async def blacklist_credit_code(platform_id: str, code: str, *, scope: str = "PLATFORM") -> BlacklistEntry:
    """A blacklist entry written directly (the blacklist mutations belong to another domain)."""
    entry = await BlacklistEntry.create(id=new_id("blk"), platform_id=platform_id, scope=scope, reason="test")
    for kind, value in index_values(SubjectKeys(credit_codes=[code])):
        await BlacklistKey.create(entry_id=entry.id, kind=kind.value, value=value)
    return entry
