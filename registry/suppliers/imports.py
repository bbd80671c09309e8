"""Writing validated suppliers: unchanged / created / updated by content hash, screening, one transaction.

Both `upsertSupplier` (one row) and `importSuppliers` (up to the import limit) come through here, so
they share every rule. Rows are validated before this point; here each row is compared with what
is stored (a keyed hash of its normalized content), screened, and then all created and changed rows
are written set-based with their screening keys and one audit event each, in one transaction.
A concurrent first insert of the same (platform, externalRef) makes the insert fail on the unique
constraint; the whole write is then retried and finds that row as existing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from registry import audit, clock, config
from registry.actors import Actor
from registry.audit.services import Change
from registry.crypto import field_aad
from registry.db import unique_violation
from registry.enforcement import screening
from registry.enforcement.locks import lock_for_bulk_screening
from registry.enforcement.screening import Decision, MatchKey, Screening
from registry.identities.models import IdentityKey
from registry.ids import new_ids
from registry.organizations import review_finding
from registry.problems import Problem, ProblemCode, problem
from registry.suppliers import bulk
from registry.suppliers.checks import NATURAL_PERSON, CheckedSupplier
from registry.suppliers.licenses import earliest_expiry, missing_categories
from registry.validators.documents import mask_document_number
from registry.verification import Status

TABLE = "supplier"
CONTENT_INDEX = "supplier-content"
_ATTEMPTS = 3


@dataclass(slots=True)
class Applied:
    """What happened to each row, by the caller's row index."""

    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    refused: dict[int, list[Problem]] = field(default_factory=dict)  # paths relative to the row
    ids: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Stored:
    id: str
    kind: str
    credit_code: str | None
    content_hash: str
    status: str
    findings: list[dict[str, object]]


@dataclass(frozen=True, slots=True)
class _Pending:
    index: int
    supplier: CheckedSupplier
    content_hash: str
    stored: _Stored | None
    keys: list[tuple[MatchKey, str]]  # the supplier's screening keys as blind indexes


async def write_suppliers(actor: Actor, rows: Sequence[tuple[int, CheckedSupplier]]) -> Applied:
    """Upsert validated suppliers on (platform, externalRef); rows must have distinct externalRefs."""
    hashed = [(i, s, _content_hash(s)) for i, s in rows]
    for attempt in range(_ATTEMPTS):
        try:
            async with in_transaction() as conn:
                return await _write(actor, conn, hashed)
        except IntegrityError as exc:
            if unique_violation(exc) is None or attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _content_hash(supplier: CheckedSupplier) -> str:
    # Keyed, because the content holds identity numbers a plain hash would let anyone brute-force.
    return config.current().indexer.index(CONTENT_INDEX, supplier.canonical())


def _same_content(supplier: CheckedSupplier, stored_hash: str) -> bool:
    # Matches a hash written under an older index key too, so a key rotation does not rewrite every row.
    return stored_hash in config.current().indexer.candidates(CONTENT_INDEX, supplier.canonical())


async def _write(actor: Actor, conn: BaseDBAsyncClient, rows: Sequence[tuple[int, CheckedSupplier, str]]) -> Applied:
    applied = Applied()
    refs = [supplier.external_ref for _, supplier, _ in rows]
    stored = {r["external_ref"]: _stored(r) for r in await bulk.existing_suppliers(conn, actor.platform_id, refs)}
    pending = _changed(rows, stored, applied)
    if pending:  # screening happens under the lock every ban takes exclusively: none can commit in between
        await lock_for_bulk_screening()
    results = await _screen(conn, actor.platform_id, pending)
    created, updated, changes = [], [], []
    fresh = iter(new_ids("sup", sum(1 for row in pending if row.stored is None)))
    for row in pending:
        result = results.get(row.index)
        if result is not None and result.decision is Decision.BLOCK:
            applied.refused[row.index] = [_blacklisted(result)]
            continue
        supplier_id = row.stored.id if row.stored else next(fresh)
        status, findings = _decide(row, result)
        (updated if row.stored else created).append(_columns(actor.platform_id, supplier_id, row, status, findings))
        (applied.updated if row.stored else applied.created).append(row.index)
        applied.ids[row.index] = supplier_id
        changes.append(_change(row, supplier_id, status, findings))
    now = clock.now()
    await bulk.insert_suppliers(conn, created, now)
    await bulk.update_suppliers(conn, updated, now)
    await _store_keys(conn, actor.platform_id, pending, applied, now)
    if changes:
        await audit.services.append_many(actor, changes)
    return applied


def _stored(row: dict[str, Any]) -> _Stored:
    return _Stored(
        row["id"], row["kind"], row["credit_code"], row["content_hash"], row["verification_status"], row["findings"]
    )


def _changed(
    rows: Sequence[tuple[int, CheckedSupplier, str]], stored: dict[str, _Stored], applied: Applied
) -> list[_Pending]:
    """The rows to write; those whose content is already stored are counted unchanged."""
    pending = []
    for index, supplier, content_hash in rows:
        before = stored.get(supplier.external_ref)
        if before is not None and (before.content_hash == content_hash or _same_content(supplier, before.content_hash)):
            applied.unchanged.append(index)
            applied.ids[index] = before.id
        else:
            keys = list(dict.fromkeys(screening.index_values(supplier.keys)))
            pending.append(_Pending(index, supplier, content_hash, before, keys))
    return pending


async def _screen(conn: BaseDBAsyncClient, platform_id: str, rows: Sequence[_Pending]) -> dict[int, Screening]:
    """Screen only rows with a key the blacklist holds at all: one indexed lookup for the whole batch."""
    listed = await bulk.listed_values(conn, list({value for row in rows for _, value in row.keys}))
    results = {}
    for row in rows:
        if any(value in listed for _, value in row.keys):
            subject = row.stored.id if row.stored else None
            results[row.index] = await screening.screen(platform_id, row.supplier.keys, subject_id=subject)
    return results


def _blacklisted(result: Screening) -> Problem:
    if any(m.key is MatchKey.CREDIT_CODE for m in result.matches):
        return problem(ProblemCode.BLACKLISTED, "This credit code is on a blacklist.", "creditCode")
    return problem(ProblemCode.BLACKLISTED, "This person's identity document is on a blacklist.", "identity")


def _decide(row: _Pending, result: Screening | None) -> tuple[Status, list[dict[str, object]]]:
    """REVIEW when something needs a human; a supplier already in REVIEW leaves it only by decideReview."""
    found = list(row.supplier.findings)
    if result is not None:
        found += [review_finding(m) for m in result.review_matches]
    if row.stored is not None and row.stored.status == Status.REVIEW.value:
        return Status.REVIEW, found or row.stored.findings
    return (Status.REVIEW if found else Status.VERIFIED), found


def _columns(
    platform_id: str, supplier_id: str, row: _Pending, status: Status, findings: list[dict[str, object]]
) -> dict[str, Any]:
    supplier, doc = row.supplier, row.supplier.document
    person = supplier.kind == NATURAL_PERSON
    vault = config.current().vault

    def sealed(column: str, value: str | None) -> str | None:
        return vault.encrypt(value, aad=field_aad(TABLE, column, supplier_id)) if value is not None else None

    def personal(column: str, value: str) -> dict[str, str | None]:
        # Shown to consumers either way; only a natural person's copy is encrypted at rest.
        return (
            {column: None, f"{column}_enc": sealed(f"{column}_enc", value)}
            if person
            else {column: value, f"{column}_enc": None}
        )

    return {
        "id": supplier_id,
        "platform_id": platform_id,
        "external_ref": supplier.external_ref,
        "kind": supplier.kind,
        **personal("name", supplier.name),
        **personal("address", supplier.address),
        **personal("contact_phone", supplier.contact_phone),
        "credit_code": supplier.credit_code,
        "document_type": doc.type.value if doc else None,
        "document_number_enc": sealed("document_number_enc", doc.number if doc else None),
        "full_name_enc": sealed("full_name_enc", doc.full_name if doc else None),
        "birth_date_enc": sealed("birth_date_enc", doc.birth_date.isoformat() if doc else None),
        "document_masked": mask_document_number(doc.number) if doc else None,
        "categories": f"|{'|'.join(supplier.categories)}|",
        "licenses": [lic.as_json() for lic in supplier.licenses],
        "licenses_missing": bool(missing_categories(supplier.categories, supplier.licenses)),
        "license_expires_on": earliest_expiry(supplier.licenses),
        "verification_status": status.value,
        "findings": findings,
        "content_hash": row.content_hash,
    }


def _change(row: _Pending, supplier_id: str, status: Status, findings: list[dict[str, object]]) -> Change:
    # Ids, statuses and the keyed content hash only: never the supplier's personal data.
    data = {
        "externalRef": row.supplier.external_ref,
        "kind": row.supplier.kind,
        "status": status.value,
        "contentHash": row.content_hash,
        "findings": [str(f["code"]) for f in findings],
    }
    return Change("supplier.updated" if row.stored else "supplier.created", supplier_id, data)


def _keys_may_change(row: _Pending) -> bool:
    """False when an update keeps the stored screening keys: same credit code, nobody's document."""
    before = row.stored
    if before is None:
        return True
    person = NATURAL_PERSON in (before.kind, row.supplier.kind)
    return person or before.credit_code != row.supplier.credit_code


async def _store_keys(
    conn: BaseDBAsyncClient, platform_id: str, rows: Sequence[_Pending], applied: Applied, at: datetime
) -> None:
    """Each written supplier's screening keys, replacing an updated supplier's old ones where they may differ."""
    written = [row for row in rows if row.index not in applied.refused and _keys_may_change(row)]
    replaced = [applied.ids[row.index] for row in written if row.stored is not None]
    if replaced:
        await IdentityKey.filter(subject_id__in=replaced).using_db(conn).delete()
    for new_subjects in (True, False):
        keys = [
            {"subject_id": applied.ids[row.index], "platform_id": platform_id, "kind": kind.value, "value": value}
            for row in written
            if (row.stored is None) is new_subjects
            for kind, value in row.keys  # distinct per row (see _changed)
        ]
        await bulk.insert_identity_keys(conn, keys, at, new_subjects=new_subjects)
