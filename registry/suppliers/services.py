"""Suppliers: the actual sellers of what is sold live (DESIGN §2, Suppliers; regulation G-12, G-13).

Writes are upserts on (platform, externalRef): `upsert_supplier` for one, `import_suppliers` for a
batch in which every row is validated on its own and the valid ones are written even when others
are refused. Malformed input is a problem and stores nothing; well-formed but non-compliant input
is stored and not VERIFIED. What screening and reviews decided is stored; license compliance is
judged whenever a supplier is read (`view`, `status_of`) and filtered on in SQL, on today's date.

Effective status: REVIEW and REJECTED as stored; a stored VERIFIED supplier is REJECTED while a
category lacks its license (LICENSE_REQUIRED) and EXPIRED once a listed license has lapsed
(LICENSE_EXPIRED), until an upsert brings the licenses up to date.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from tortoise.expressions import Q

from registry import clock, config
from registry.actors import Actor
from registry.crypto import field_aad
from registry.pagination import Page, page
from registry.problems import Problem, ProblemCode, prefixed, problem
from registry.suppliers.checks import SupplierInput, check_supplier
from registry.suppliers.imports import TABLE, write_suppliers
from registry.suppliers.licenses import License, compliance_problems
from registry.suppliers.models import Supplier
from registry.validators.text import EXTERNAL_REF_MAX
from registry.verification import Status, findings_as_problems


@dataclass(frozen=True, slots=True)
class LicenseView:
    type: str
    number: str
    valid_until: date | None
    expired: bool


@dataclass(frozen=True, slots=True)
class SupplierView:
    """A supplier as answered: name, address and contact in clear, a person's document masked."""

    id: str
    external_ref: str
    kind: str
    name: str
    credit_code: str | None
    document_type: str | None
    document_number_masked: str | None
    address: str
    contact_phone: str
    categories: list[str]
    licenses: list[LicenseView]
    status: Status
    findings: list[Problem]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Outcome:
    supplier: Supplier | None
    problems: list[Problem]


@dataclass(frozen=True, slots=True)
class RowRejection:
    row: int  # 0-based index in the submitted list
    external_ref: str | None
    problems: list[Problem]


@dataclass(frozen=True, slots=True)
class ImportResult:
    created: int
    updated: int
    unchanged: int
    rejected: list[RowRejection]
    problems: list[Problem]  # about the call as a whole; then nothing was written


# ---------------------------------------------------------------------------------------- reads


def categories_of(record: Supplier) -> list[str]:
    return record.categories.strip("|").split("|")


def licenses_of(record: Supplier) -> list[License]:
    return [License.from_json(item) for item in record.licenses]


def status_of(record: Supplier, today: date | None = None) -> Status:
    stored = Status(record.verification_status)
    if stored is not Status.VERIFIED:
        return stored
    if record.licenses_missing:
        return Status.REJECTED
    expires_on = record.license_expires_on
    if expires_on is not None and expires_on < (today or clock.today_in_shanghai()):
        return Status.EXPIRED
    return stored


def findings_of(record: Supplier, today: date | None = None) -> list[Problem]:
    """Why it is not VERIFIED: the review reasons stored, then the license problems as of today."""
    today = today or clock.today_in_shanghai()
    stored = findings_as_problems(record.findings)
    return stored + compliance_problems(categories_of(record), licenses_of(record), today)


def _clear(record: Supplier, column: str) -> str:
    value = getattr(record, column)
    if value is not None:
        return str(value)
    column = f"{column}_enc"
    return config.current().vault.decrypt(getattr(record, column), aad=field_aad(TABLE, column, record.id))


def view(record: Supplier, today: date | None = None) -> SupplierView:
    today = today or clock.today_in_shanghai()
    return SupplierView(
        id=record.id,
        external_ref=record.external_ref,
        kind=record.kind,
        name=_clear(record, "name"),
        credit_code=record.credit_code,
        document_type=record.document_type,
        document_number_masked=record.document_masked,
        address=_clear(record, "address"),
        contact_phone=_clear(record, "contact_phone"),
        categories=categories_of(record),
        licenses=[LicenseView(x.type, x.number, x.valid_until, x.expired(today)) for x in licenses_of(record)],
        status=status_of(record, today),
        findings=findings_of(record, today),
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


async def get_supplier(actor: Actor, supplier_id: str) -> Supplier | None:
    if actor.session_id is not None:
        return None  # onboarding clients read only their own performer
    return await Supplier.get_or_none(id=supplier_id, platform_id=actor.platform_id)


async def supplier_by_ref(actor: Actor, external_ref: str) -> Supplier | None:
    if actor.session_id is not None:
        return None
    return await Supplier.get_or_none(platform_id=actor.platform_id, external_ref=external_ref)


def status_filter(status: Status, today: date) -> Q:
    """The effective status of `status_of` as a condition the database evaluates."""
    verified = Q(verification_status=Status.VERIFIED.value)
    lapsed = Q(license_expires_on__lt=today)
    if status is Status.VERIFIED:  # spelled out: NOT (NULL < today) is not true in SQL
        in_force = Q(license_expires_on__isnull=True) | Q(license_expires_on__gte=today)
        return verified & Q(licenses_missing=False) & in_force
    if status is Status.EXPIRED:
        return verified & Q(licenses_missing=False) & lapsed
    if status is Status.REJECTED:
        return Q(verification_status=Status.REJECTED.value) | (verified & Q(licenses_missing=True))
    return Q(verification_status=status.value)


async def list_suppliers(
    actor: Actor, *, first: int, after: str | None, status: str | None = None, category: str | None = None
) -> Page[Supplier]:
    query = Supplier.filter(platform_id=actor.platform_id)
    if status is not None:
        query = query.filter(status_filter(Status(status), clock.today_in_shanghai()))
    if category is not None:
        query = query.filter(categories__contains=f"|{category}|")
    return await page(query, first=first, after=after)


# --------------------------------------------------------------------------------------- writes


async def upsert_supplier(actor: Actor, data: SupplierInput) -> Outcome:
    """Create or update the platform's supplier with this externalRef; re-sending the same is a no-op."""
    checked, problems = check_supplier(data, clock.today_in_shanghai())
    if checked is None:
        return Outcome(None, prefixed(problems, "input"))
    applied = await write_suppliers(actor, [(0, checked)])
    if 0 in applied.refused:
        return Outcome(None, prefixed(applied.refused[0], "input"))
    return Outcome(await Supplier.get(id=applied.ids[0]), [])


async def import_suppliers(actor: Actor, rows: Sequence[SupplierInput], *, limit: int) -> ImportResult:
    """Validate every row on its own, then write the valid ones together (created/updated/unchanged)."""
    if len(rows) > limit:
        message = f"An import takes at most {limit} rows per call; this one has {len(rows)}. Send smaller batches."
        return ImportResult(0, 0, 0, [], [problem(ProblemCode.LIMIT_EXCEEDED, message, "input", "rows")])
    today = clock.today_in_shanghai()
    refused: dict[int, list[Problem]] = {}
    valid = []
    seen: set[str] = set()
    for index, data in enumerate(rows):
        checked, problems = check_supplier(data, today)
        if data.external_ref in seen:
            message = "This externalRef already came in an earlier row of this call; send each supplier once."
            problems.append(problem(ProblemCode.INVALID_INPUT, message, "externalRef"))
        seen.add(data.external_ref)
        if problems or checked is None:
            refused[index] = problems
        else:
            valid.append((index, checked))
    applied = await write_suppliers(actor, valid)
    refused.update(applied.refused)
    rejected = [
        RowRejection(i, _echo_ref(rows[i].external_ref), prefixed(refused[i], "input", "rows", str(i)))
        for i in sorted(refused)
    ]
    return ImportResult(len(applied.created), len(applied.updated), len(applied.unchanged), rejected, [])


def _echo_ref(external_ref: str) -> str | None:
    # Echoed so the client can match the row; an oversized one is only noise (the row index suffices).
    return external_ref if 0 < len(external_ref) <= EXTERNAL_REF_MAX else None
