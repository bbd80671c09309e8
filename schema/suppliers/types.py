from __future__ import annotations

from datetime import date, datetime

import strawberry

from schema.common.enums import GraphQLEnum
from schema.common.types import Node, PageInfo, Problem
from schema.performers.types import DocumentType, VerificationStatus


@strawberry.enum
class SupplierKind(GraphQLEnum):
    ENTERPRISE = "ENTERPRISE"
    INDIVIDUAL_BUSINESS = "INDIVIDUAL_BUSINESS"
    NATURAL_PERSON = "NATURAL_PERSON"


@strawberry.enum
class ProductCategory(GraphQLEnum):
    GENERAL = "GENERAL"
    FOOD = "FOOD"
    COSMETICS = "COSMETICS"
    MEDICAL_DEVICE = "MEDICAL_DEVICE"
    DRUG = "DRUG"
    PUBLICATION = "PUBLICATION"


@strawberry.enum
class LicenseType(GraphQLEnum):
    BUSINESS_LICENSE = "BUSINESS_LICENSE"
    FOOD_BUSINESS = "FOOD_BUSINESS"
    FOOD_PRODUCTION = "FOOD_PRODUCTION"
    COSMETICS_PRODUCTION = "COSMETICS_PRODUCTION"
    MEDICAL_DEVICE_BUSINESS = "MEDICAL_DEVICE_BUSINESS"
    DRUG_BUSINESS = "DRUG_BUSINESS"
    PUBLICATION_BUSINESS = "PUBLICATION_BUSINESS"


@strawberry.type
class License:
    type: LicenseType
    number: str
    valid_until: date | None
    expired: bool


@strawberry.type(
    description="""A supplier's name, address and contact are shown to consumers on the live page (2025
measures Art 26), so they are returned in clear; a natural person's document is masked."""
)
class Supplier(Node):
    id: strawberry.ID
    external_ref: str
    kind: SupplierKind
    name: str
    credit_code: str | None
    document_type: DocumentType | None
    document_number_masked: str | None
    address: str
    contact_phone: str
    categories: list[ProductCategory]
    licenses: list[License]
    verification_status: VerificationStatus
    findings: list[Problem] = strawberry.field(
        description="why it is not VERIFIED (missing or expired licenses, review reasons ...)"
    )
    created_at: datetime
    updated_at: datetime


@strawberry.type
class SupplierEdge:
    node: Supplier
    cursor: str


@strawberry.type
class SupplierConnection:
    edges: list[SupplierEdge]
    page_info: PageInfo


@strawberry.type
class UpsertSupplierPayload:
    supplier: Supplier | None
    problems: list[Problem]


@strawberry.type
class RowProblems:
    row: int = strawberry.field(description="0-based index in the submitted list")
    external_ref: str | None
    problems: list[Problem]


@strawberry.type(
    description="""Bulk import: each row is validated on its own; valid rows are written even when
others are rejected; re-sending the same rows changes nothing (counted unchanged)."""
)
class ImportSuppliersPayload:
    created: int
    updated: int
    unchanged: int
    rejected: list[RowProblems]
    problems: list[Problem] = strawberry.field(
        description="problems of the call as a whole (e.g. LIMIT_EXCEEDED); then nothing is written"
    )
