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
# (reflection per field and per list item) costs several times more than validating and storing them.
# These build the same objects straight from the coerced values: graphql-core has already checked
# every type, enum values arrive as their members or strings and dates as dates; fields the client
# omitted stay UNSET. tests/schema/test_supplier_inputs.py compares them with the generic conversion.
def _license(cls: type[LicenseInput], value: Mapping[str, Any], context: InputContext | None) -> LicenseInput:
    return cls(type=value["type"], number=value["number"], valid_until=value.get("validUntil", strawberry.UNSET))


def _document(value: Mapping[str, Any]) -> IdentityDocumentInput:
    get, unset = value.get, strawberry.UNSET
    return IdentityDocumentInput(
        type=value["type"],
        number=value["number"],
        full_name=value["fullName"],
        birth_date=get("birthDate", unset),
        nationality=get("nationality", unset),
        mrz=get("mrz", unset),
        expires_on=get("expiresOn", unset),
    )


def _supplier(cls: type[SupplierInput], value: Mapping[str, Any], context: InputContext | None) -> SupplierInput:
    identity = value.get("identity", strawberry.UNSET)
    if identity is not None and identity is not strawberry.UNSET:
        identity = _document(identity)
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


def _import(
    cls: type[ImportSuppliersInput], value: Mapping[str, Any], context: InputContext | None
) -> ImportSuppliersInput:
    # The whole list at once: Strawberry would otherwise dispatch and build a context per row.
    return cls(rows=[_supplier(SupplierInput, row, context) for row in value["rows"]])


get_object_definition(LicenseInput, strict=True).from_input = _license
get_object_definition(SupplierInput, strict=True).from_input = _supplier
get_object_definition(ImportSuppliersInput, strict=True).from_input = _import
