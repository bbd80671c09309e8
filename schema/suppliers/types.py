from __future__ import annotations

from datetime import date, datetime

import strawberry

from registry.pagination import Page
from registry.suppliers import models
from registry.suppliers import services as suppliers
from registry.suppliers.services import LicenseView, SupplierView
from schema.common.convert import connection, problems_out
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

    @classmethod
    def from_view(cls, view: LicenseView) -> License:
        return cls(type=LicenseType(view.type), number=view.number, valid_until=view.valid_until, expired=view.expired)


@strawberry.type(
    description="""A supplier's name, address and contact are shown to consumers on the live page (2025
measures Art 26), so they are returned in clear; a natural person's document is masked."""
)
class Supplier(Node):
    view: strawberry.Private[SupplierView]
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
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_record(cls, record: models.Supplier) -> Supplier:
        view = suppliers.view(record)  # status and findings as of today: license expiry needs no write
        return cls(
            view=view,
            id=strawberry.ID(view.id),
            external_ref=view.external_ref,
            kind=SupplierKind(view.kind),
            name=view.name,
            credit_code=view.credit_code,
            document_type=DocumentType(view.document_type) if view.document_type else None,
            document_number_masked=view.document_number_masked,
            address=view.address,
            contact_phone=view.contact_phone,
            categories=[ProductCategory(c) for c in view.categories],
            licenses=[License.from_view(x) for x in view.licenses],
            verification_status=VerificationStatus(view.status.value),
            created_at=view.created_at,
            updated_at=view.updated_at,
        )

    @strawberry.field(description="why it is not VERIFIED (missing or expired licenses, review reasons ...)")
    def findings(self, info: strawberry.Info) -> list[Problem]:
        return problems_out(info, self.view.findings)


@strawberry.type
class SupplierEdge:
    node: Supplier
    cursor: str


@strawberry.type
class SupplierConnection:
    edges: list[SupplierEdge]
    page_info: PageInfo

    @classmethod
    def from_page(cls, found: Page[models.Supplier]) -> SupplierConnection:
        return connection(found, Supplier.from_record, SupplierEdge, cls)


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
