from __future__ import annotations

from datetime import date

import strawberry

from schema.performers.inputs import IdentityDocumentInput
from schema.suppliers.types import LicenseType, ProductCategory, SupplierKind


@strawberry.input
class LicenseInput:
    type: LicenseType
    number: str
    valid_until: date | None = strawberry.field(default=strawberry.UNSET)


@strawberry.input
class SupplierInput:
    external_ref: str = strawberry.field(
        description="the platform's key: writes are upserts on (platform, externalRef)"
    )
    kind: SupplierKind
    name: str
    address: str
    contact_phone: str
    categories: list[ProductCategory]
    credit_code: str | None = strawberry.field(
        description="required for ENTERPRISE and INDIVIDUAL_BUSINESS", default=strawberry.UNSET
    )
    identity: IdentityDocumentInput | None = strawberry.field(
        description="required for NATURAL_PERSON", default=strawberry.UNSET
    )
    licenses: list[LicenseInput] | None = strawberry.field(default_factory=list)


@strawberry.input
class ImportSuppliersInput:
    rows: list[SupplierInput] = strawberry.field(
        description="at most 1,000; a repeated externalRef in one call rejects the later rows"
    )
