"""Validation of one supplier as sent: pure, no database, so a bulk import checks every row first.

Field paths of problems and findings are relative to the supplier input ("creditCode",
"identity", "number", ...); callers put ("input",) or ("input", "rows", "3") in front. Malformed
input is a problem; what is well formed but needs a human (a credit code whose inner organization
code fails its own check, soft document findings) is a finding that sends the supplier to REVIEW.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import orjson

from registry.enforcement.screening import SubjectKeys
from registry.identities.services import person_key
from registry.problems import Problem, ProblemCode, problem
from registry.suppliers.licenses import License, LicenseInput, check_categories, check_licenses
from registry.validators.documents import DocumentInput, VerifiedDocument, validate_document
from registry.validators.phones import parse_phone
from registry.validators.text import clean_external_ref, clean_text
from registry.validators.uscc import CreditCode, validate_credit_code
from registry.verification import finding

ENTERPRISE = "ENTERPRISE"
INDIVIDUAL_BUSINESS = "INDIVIDUAL_BUSINESS"
NATURAL_PERSON = "NATURAL_PERSON"
KINDS = (ENTERPRISE, INDIVIDUAL_BUSINESS, NATURAL_PERSON)
NAME_MAX = 200
ADDRESS_MIN = 5
ADDRESS_MAX = 300


@dataclass(frozen=True, slots=True)
class SupplierInput:
    external_ref: str
    kind: str
    name: str
    address: str
    contact_phone: str
    categories: Sequence[str]
    credit_code: str | None = None
    identity: DocumentInput | None = None
    licenses: Sequence[LicenseInput] = ()


@dataclass(frozen=True, slots=True)
class CheckedSupplier:
    """A well-formed supplier, normalized: what is stored, and the canonical text its hash covers."""

    external_ref: str
    kind: str
    name: str
    address: str
    contact_phone: str  # E.164
    categories: tuple[str, ...]
    credit_code: str | None
    document: VerifiedDocument | None
    licenses: tuple[License, ...]
    findings: list[dict[str, object]] = field(default_factory=list)

    @property
    def keys(self) -> SubjectKeys:
        """What screening compares: the credit code, and a natural person's document, name and birth date."""
        if self.document is None:
            return SubjectKeys(credit_codes=[self.credit_code] if self.credit_code else [])
        return SubjectKeys(
            documents=[person_key(self.document)], names=[(self.document.full_name, self.document.birth_date)]
        )

    def canonical(self) -> str:
        doc = self.document
        content = {
            "kind": self.kind,
            "name": self.name,
            "creditCode": self.credit_code,
            "document": _document_content(doc) if doc else None,
            "address": self.address,
            "contactPhone": self.contact_phone,
            "categories": self.categories,
            "licenses": [lic.as_json() for lic in self.licenses],
        }
        return orjson.dumps(content, option=orjson.OPT_SORT_KEYS).decode()


def _document_content(doc: VerifiedDocument) -> list[str | None]:
    expires_on = doc.expires_on.isoformat() if doc.expires_on else None
    return [doc.type.value, doc.number, doc.full_name, doc.birth_date.isoformat(), doc.nationality, expires_on]


def check_supplier(data: SupplierInput, today: date) -> tuple[CheckedSupplier | None, list[Problem]]:
    """Every problem of the supplier at once, or the normalized supplier with its findings."""
    # Called per row of an import: the field prefixes are added only where there is a problem.
    problems: list[Problem] = []
    ref, p = clean_external_ref(data.external_ref)
    if p:
        problems += [x.at("externalRef") for x in p]
    if data.kind not in KINDS:
        problems.append(problem(ProblemCode.INVALID_INPUT, f"Choose a kind from {', '.join(KINDS)}.", "kind"))
    name, p = clean_text(data.name, max_len=NAME_MAX)
    if p:
        problems += [x.at("name") for x in p]
    address, p = clean_text(data.address, min_len=ADDRESS_MIN, max_len=ADDRESS_MAX)
    if p:
        problems += [x.at("address") for x in p]
    phone, p = parse_phone(data.contact_phone)
    if p:
        problems += [x.at("contactPhone") for x in p]
    categories, p = check_categories(data.categories)
    problems += p
    licenses, p = check_licenses(data.licenses) if data.licenses else ((), [])
    problems += p
    code, document, findings, p = _identity(data, today)
    problems += p
    if problems or ref is None or name is None or address is None or phone is None:
        return None, problems
    checked = CheckedSupplier(
        ref, data.kind, name, address, phone, categories, code.code if code else None, document, licenses, findings
    )
    return checked, []


def _identity(
    data: SupplierInput, today: date
) -> tuple[CreditCode | None, VerifiedDocument | None, list[dict[str, object]], list[Problem]]:
    """The kind's identifier: a credit code for companies and individual businesses, a document for persons."""
    if data.kind == NATURAL_PERSON:
        document, problems, findings = _person(data, today)
        return None, document, findings, problems
    if data.kind not in KINDS:
        return None, None, [], []
    problems = []
    if data.identity is not None:
        message = "Only a NATURAL_PERSON supplier sends an identity document; companies send their credit code."
        problems.append(problem(ProblemCode.INVALID_INPUT, message, "identity"))
    if data.credit_code is None:
        message = f"A supplier of kind {data.kind} needs its unified social credit code."
        return None, None, [], [*problems, problem(ProblemCode.INVALID_CREDIT_CODE, message, "creditCode")]
    code, code_problems = validate_credit_code(data.credit_code)
    problems += [x.at("creditCode") for x in code_problems]
    if code is None:
        return None, None, [], problems
    if code.is_individual_business != (data.kind == INDIVIDUAL_BUSINESS):
        message = (
            "Credit codes starting with 92 belong to individual businesses: send kind INDIVIDUAL_BUSINESS."
            if code.is_individual_business
            else "An individual business's credit code starts with 92; this one belongs to another kind of body."
        )
        problems.append(problem(ProblemCode.INVALID_INPUT, message, "kind"))
    findings = []
    if not code.inner_check_ok:
        message = "The organization code inside the credit code fails its own check; a compliance officer confirms it."
        findings.append(finding(ProblemCode.INVALID_CREDIT_CODE, message, "input", "creditCode"))
    return code, None, findings, problems


def _person(data: SupplierInput, today: date) -> tuple[VerifiedDocument | None, list[Problem], list[dict[str, object]]]:
    problems = []
    if data.credit_code is not None:
        message = "A natural person has no credit code; omit it (an individual business is INDIVIDUAL_BUSINESS)."
        problems.append(problem(ProblemCode.INVALID_INPUT, message, "creditCode"))
    if data.identity is None:
        message = "A NATURAL_PERSON supplier needs the person's identity document."
        return None, [*problems, problem(ProblemCode.INVALID_DOCUMENT, message, "identity")], []
    document, doc_problems, doc_findings = validate_document(data.identity, today=today)
    problems += [x.at("identity") for x in doc_problems]
    findings = [finding(f.code, f.message, "input", "identity", *(f.field or ())) for f in doc_findings]
    return document, problems, findings
