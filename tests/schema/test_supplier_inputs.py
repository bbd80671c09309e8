"""The import's hand-written input conversion builds exactly what Strawberry's generic one builds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from graphql import parse
from graphql.execution.values import coerce_variable_values
from strawberry.types.arguments import convert_argument
from strawberry.types.base import get_object_definition

from schema.build import build_schema
from schema.performers.inputs import IdentityDocumentInput
from schema.suppliers.inputs import ImportSuppliersInput, LicenseInput, SupplierInput

_QUERY = "mutation($rows: [SupplierInput!]!) { importSuppliers(input: {rows: $rows}) { created } }"
_HOOKED = (ImportSuppliersInput, SupplierInput, LicenseInput, IdentityDocumentInput)

ROWS: list[dict[str, Any]] = [
    {
        "externalRef": "co-1",
        "kind": "ENTERPRISE",
        "name": "深圳市某某商贸有限公司",
        "address": "广东省深圳市南山区科技园路1号",
        "contactPhone": "0755-12345678",
        "categories": ["GENERAL", "FOOD"],
        "creditCode": "91440300MA5F1234XX",
        "licenses": [
            {"type": "FOOD_BUSINESS", "number": "JY1", "validUntil": "2030-06-30"},
            {"type": "FOOD_PRODUCTION", "number": "SC/2"},
            {"type": "BUSINESS_LICENSE", "number": "B3", "validUntil": None},
        ],
    },
    {
        "externalRef": "np-1",
        "kind": "NATURAL_PERSON",
        "name": "张三",
        "address": "北京市朝阳区某路2号",
        "contactPhone": "13800138000",
        "categories": ["GENERAL"],
        "identity": {"type": "RESIDENT_ID_CARD", "number": "11010519491231002X", "fullName": "张三"},
    },
    {
        "externalRef": "np-2",
        "kind": "NATURAL_PERSON",
        "name": "John Smith",
        "address": "上海市浦东新区某路3号",
        "contactPhone": "+852 9123 4567",
        "categories": [],
        "creditCode": None,
        "licenses": None,
        "identity": {
            "type": "PASSPORT",
            "number": "E12345678",
            "fullName": "John Smith",
            "birthDate": "1980-01-02",
            "nationality": "GBR",
            "mrz": "P<GBRSMITH<<JOHN\nE123456780GBR8001022M3001012<<<<<<<<<<<<<<02",
            "expiresOn": "2030-01-01",
        },
    },
    {
        "externalRef": "ib-1",
        "kind": "INDIVIDUAL_BUSINESS",
        "name": "小店",
        "address": "浙江省杭州市西湖区某路4号",
        "contactPhone": "13900139000",
        "categories": ["COSMETICS"],
        "identity": None,
        "licenses": [],
    },
]


@pytest.fixture
def generic() -> Iterator[None]:
    """Strawberry's own conversion: the hooks taken off for the duration."""
    definitions = [get_object_definition(cls, strict=True) for cls in _HOOKED]
    hooks = [d.from_input for d in definitions]
    for d in definitions:
        d.from_input = None
    yield
    for d, hook in zip(definitions, hooks, strict=True):
        d.from_input = hook


def _convert(rows: list[dict[str, Any]]) -> ImportSuppliersInput:
    schema = build_schema()
    definitions = parse(_QUERY).definitions[0].variable_definitions  # type: ignore[attr-defined]
    coerced = coerce_variable_values(schema._schema, definitions, {"rows": rows}, pytest.fail)
    value = {"rows": coerced.coerced["rows"]}  # type: ignore[union-attr]
    registry = schema.schema_converter.scalar_registry
    converted = convert_argument(value, ImportSuppliersInput, registry, schema.config)
    assert isinstance(converted, ImportSuppliersInput)
    return converted


def test_the_identity_input_has_the_fields_the_conversion_knows() -> None:
    # A new field on the shared document input must be added to schema.suppliers.inputs._document.
    fields = {f.python_name for f in get_object_definition(IdentityDocumentInput, strict=True).fields}
    assert fields == {"type", "number", "full_name", "birth_date", "nationality", "mrz", "expires_on"}


def test_fast_conversion_equals_strawberrys(request: pytest.FixtureRequest) -> None:
    fast = _convert(ROWS)
    request.getfixturevalue("generic")
    assert fast == _convert(ROWS)
    assert [type(r) for r in fast.rows] == [SupplierInput] * len(ROWS)
    assert isinstance(fast.rows[1].identity, IdentityDocumentInput)
