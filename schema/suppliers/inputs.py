from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import strawberry
from strawberry.types.arguments import InputContext
from strawberry.types.base import get_object_definition

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


# An import carries up to 1,000 suppliers, and Strawberry's generic conversion of input values
# (reflection per field) costs several times more than validating and storing them. These build
# the same objects straight from the coerced values: graphql-core has already checked every type,
# enum values arrive as their strings and dates as dates; fields the client omitted stay UNSET.
def _license(cls: type[LicenseInput], value: Mapping[str, Any], context: InputContext) -> LicenseInput:
    return cls(type=value["type"], number=value["number"], valid_until=value.get("validUntil", strawberry.UNSET))


def _supplier(cls: type[SupplierInput], value: Mapping[str, Any], context: InputContext) -> SupplierInput:
    identity = value.get("identity", strawberry.UNSET)
    if identity is not None and identity is not strawberry.UNSET:
        identity = context.convert(identity, IdentityDocumentInput, "identity")
    licenses = value.get("licenses")
    return cls(
        external_ref=value["externalRef"],
        kind=value["kind"],
        name=value["name"],
        address=value["address"],
        contact_phone=value["contactPhone"],
        categories=list(value["categories"]),
        credit_code=value.get("creditCode", strawberry.UNSET),
        identity=identity,
        licenses=None if licenses is None else [_license(LicenseInput, item, context) for item in licenses],
    )


get_object_definition(LicenseInput, strict=True).from_input = _license
get_object_definition(SupplierInput, strict=True).from_input = _supplier
