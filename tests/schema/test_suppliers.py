"""Suppliers through the real HTTP endpoint: upserts, imports, queries, scopes and tenancy."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import PlatformClient, get_token, gql, make_platform
from tests.factories import credit_code, resident_id, years_ago
from tests.registry.suppliers.helpers import code_failing_inner_check
from tests.schema.test_query_counts import counted

pytestmark = pytest.mark.usefixtures("db")

FIELDS = """id externalRef kind name creditCode documentType documentNumberMasked address contactPhone categories
            licenses { type number validUntil expired } verificationStatus findings { code message field }
            createdAt updatedAt"""
UPSERT = f"""
mutation($input: SupplierInput!) {{
  upsertSupplier(input: $input) {{ supplier {{ {FIELDS} }} problems {{ code message field }} }}
}}"""
IMPORT = """
mutation($rows: [SupplierInput!]!) {
  importSuppliers(input: {rows: $rows}) {
    created updated unchanged
    rejected { row externalRef problems { code message field } }
    problems { code message field }
  }
}"""
BY_ID = f"query($id: ID!) {{ supplier(id: $id) {{ {FIELDS} }} }}"
BY_REF = "query($ref: String!) { supplierByRef(externalRef: $ref) { id name } }"
LIST = """
query($first: Int, $after: String, $status: VerificationStatus, $category: ProductCategory) {
  suppliers(first: $first, after: $after, status: $status, category: $category) {
    edges { node { id externalRef verificationStatus licenses { type expired } } cursor }
    pageInfo { hasNextPage endCursor }
  }
}"""


def company(ref: str, **changes: Any) -> dict[str, Any]:
    return {
        "externalRef": ref,
        "kind": "ENTERPRISE",
        "name": "深圳市示例科技有限公司",
        "creditCode": credit_code(),
        "address": "广东省深圳市南山区科技园科苑路15号",
        "contactPhone": "0755-8888 6666",
        "categories": ["GENERAL"],
        **changes,
    }


def person(ref: str, number: str) -> dict[str, Any]:
    return {
        "externalRef": ref,
        "kind": "NATURAL_PERSON",
        "name": "李四",
        "identity": {"type": "RESIDENT_ID_CARD", "number": number, "fullName": "李四"},
        "address": "浙江省杭州市西湖区文三路100号",
        "contactPhone": "13800138000",
        "categories": ["GENERAL"],
    }


async def data(client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    response = await gql(client, query, variables, token=token)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


async def upsert(client: httpx.AsyncClient, token: str, supplier: dict[str, Any]) -> dict[str, Any]:
    return (await data(client, UPSERT, {"input": supplier}, token))["upsertSupplier"]  # type: ignore[no-any-return]


async def test_upsert_and_read_back(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    token = await get_token(client, platform)
    food = company(
        "S-1",
        categories=["GENERAL", "FOOD"],
        licenses=[{"type": "FOOD_BUSINESS", "number": "JY1/2 3", "validUntil": "2099-12-31"}],
    )
    result = await upsert(client, token, food)
    supplier = result["supplier"]
    assert result["problems"] == []
    assert supplier["verificationStatus"] == "VERIFIED" and supplier["findings"] == []
    assert supplier["contactPhone"] == "+8675588886666" and supplier["categories"] == ["GENERAL", "FOOD"]
    assert supplier["licenses"] == [
        {"type": "FOOD_BUSINESS", "number": "JY1/2 3", "validUntil": "2099-12-31", "expired": False}
    ]
    read = await data(client, BY_ID, {"id": supplier["id"]}, token)
    assert read["supplier"] == supplier
    assert (await data(client, BY_REF, {"ref": "S-1"}, token))["supplierByRef"]["id"] == supplier["id"]
    node = await data(
        client,
        "query($id: ID!) { node(id: $id) { id ... on Supplier { externalRef } } }",
        {"id": supplier["id"]},
        token,
    )
    assert node["node"] == {"id": supplier["id"], "externalRef": "S-1"}
    again = await upsert(client, token, food)
    assert again["supplier"]["updatedAt"] == supplier["updatedAt"]


async def test_a_natural_person_is_masked_but_shown_to_consumers(
    client: httpx.AsyncClient, platform: PlatformClient
) -> None:
    token = await get_token(client, platform)
    number = resident_id(years_ago(40))
    supplier = (await upsert(client, token, person("P-1", number)))["supplier"]
    assert supplier["documentType"] == "RESIDENT_ID_CARD"
    assert supplier["documentNumberMasked"] == number[:3] + "*" * 11 + number[-4:]
    assert (supplier["name"], supplier["contactPhone"], supplier["creditCode"]) == ("李四", "+8613800138000", None)


async def test_problems_and_findings_carry_field_paths(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    token = await get_token(client, platform)
    bad = await upsert(client, token, company("S-1", creditCode="914403001922038217", contactPhone="12"))
    assert bad["supplier"] is None
    assert [(p["code"], p["field"]) for p in bad["problems"]] == [
        ("INVALID_INPUT", ["input", "contactPhone"]),
        ("INVALID_CREDIT_CODE", ["input", "creditCode"]),
    ]
    missing = (await upsert(client, token, company("S-2", categories=["DRUG"])))["supplier"]
    assert missing["verificationStatus"] == "REJECTED"
    assert [(f["code"], f["field"]) for f in missing["findings"]] == [("LICENSE_REQUIRED", ["input", "licenses"])]
    lapsed = company(
        "S-3",
        categories=["COSMETICS"],
        licenses=[{"type": "COSMETICS_PRODUCTION", "number": "C1", "validUntil": "2020-01-01"}],
    )
    expired = (await upsert(client, token, lapsed))["supplier"]
    assert expired["verificationStatus"] == "EXPIRED" and expired["licenses"][0]["expired"] is True
    assert [(f["code"], f["field"]) for f in expired["findings"]] == [
        ("LICENSE_EXPIRED", ["input", "licenses", "0", "validUntil"])
    ]


async def test_review_is_decided_with_decide_review(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    token = await get_token(client, platform)
    supplier = (await upsert(client, token, company("S-1", creditCode=code_failing_inner_check(3))))["supplier"]
    assert supplier["verificationStatus"] == "REVIEW"
    assert [(f["code"], f["field"]) for f in supplier["findings"]] == [("INVALID_CREDIT_CODE", ["input", "creditCode"])]
    decide = """mutation($input: DecideReviewInput!) { decideReview(input: $input) {
                  subject { id ... on Supplier { verificationStatus findings { code } } } problems { code } } }"""
    decided = await data(
        client,
        decide,
        {"input": {"subjectId": supplier["id"], "decision": "APPROVE", "reason": "checked the licence"}},
        token,
    )
    assert decided["decideReview"]["subject"] == {
        "id": supplier["id"],
        "verificationStatus": "VERIFIED",
        "findings": [],
    }


async def test_import_through_http(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    token = await get_token(client, platform)
    rows = [
        company("A"),
        company("B", creditCode="91440300192203821X"),
        company("A"),
        company("C", kind="INDIVIDUAL_BUSINESS"),
    ]
    result = (await data(client, IMPORT, {"rows": rows}, token))["importSuppliers"]
    assert (result["created"], result["updated"], result["unchanged"], result["problems"]) == (1, 0, 0, [])
    assert [
        (r["row"], r["externalRef"], [(p["code"], p["field"]) for p in r["problems"]]) for r in result["rejected"]
    ] == [
        (1, "B", [("INVALID_CREDIT_CODE", ["input", "rows", "1", "creditCode"])]),
        (2, "A", [("INVALID_INPUT", ["input", "rows", "2", "externalRef"])]),
        (3, "C", [("INVALID_INPUT", ["input", "rows", "3", "kind"])]),
    ]
    again = (await data(client, IMPORT, {"rows": rows[:1]}, token))["importSuppliers"]
    assert (again["created"], again["unchanged"]) == (0, 1)


async def test_import_over_the_limit_writes_nothing(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    token = await get_token(client, platform)
    rows = [company(f"R{i}") for i in range(1001)]
    result = (await data(client, IMPORT, {"rows": rows}, token))["importSuppliers"]
    assert result["created"] == 0 and result["rejected"] == []
    assert [(p["code"], p["field"]) for p in result["problems"]] == [("LIMIT_EXCEEDED", ["input", "rows"])]
    assert (await data(client, LIST, {"first": 10}, token))["suppliers"]["edges"] == []


async def test_an_unknown_enum_value_is_bad_user_input(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    token = await get_token(client, platform)
    response = await gql(client, IMPORT, {"rows": [company("A", kind="SHOP")]}, token=token)
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_list_filters_and_pages(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    token = await get_token(client, platform)
    rows = [company(f"G{i}") for i in range(3)] + [
        company("F", categories=["FOOD"]),
        company("D", categories=["DRUG"], licenses=[{"type": "DRUG_BUSINESS", "number": "D1"}]),
    ]
    await data(client, IMPORT, {"rows": rows}, token)

    async def refs(**variables: Any) -> list[str]:
        found = (await data(client, LIST, {"first": 50, **variables}, token))["suppliers"]
        return [e["node"]["externalRef"] for e in found["edges"]]

    # One import shares its creation instant; pages are ordered by (createdAt, id) and never skip or repeat.
    assert sorted(await refs(status="VERIFIED")) == ["D", "G0", "G1", "G2"]
    assert await refs(status="REJECTED") == ["F"]
    assert await refs(category="FOOD") == ["F"]
    first = (await data(client, LIST, {"first": 2}, token))["suppliers"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = (await data(client, LIST, {"first": 50, "after": first["pageInfo"]["endCursor"]}, token))["suppliers"]
    assert [e["node"]["externalRef"] for e in first["edges"] + rest["edges"]] == await refs()
    assert sorted(await refs()) == ["D", "F", "G0", "G1", "G2"]
    too_many = await gql(client, LIST, {"first": 101}, token=token)
    assert too_many.json()["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"
    bad_cursor = await gql(client, LIST, {"first": 5, "after": "nonsense"}, token=token)
    assert bad_cursor.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_page_costs_one_query_whatever_its_size(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    token = await get_token(client, platform)
    await data(
        client,
        IMPORT,
        {"rows": [company(f"R{i:03d}", licenses=[{"type": "BUSINESS_LICENSE", "number": f"B{i}"}]) for i in range(60)]},
        token,
    )
    counts = []
    for first in (5, 60):
        with counted() as statements:
            page = await data(client, LIST, {"first": first}, token)
        assert len(page["suppliers"]["edges"]) == first
        counts.append(len(statements))
    assert counts == [1, 1]


async def test_scopes(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    writer = await get_token(client, platform)
    supplier = (await upsert(client, writer, company("S-1")))["supplier"]
    reader = await get_token(client, platform, scope="suppliers:read")
    response = await gql(client, UPSERT, {"input": company("S-2")}, token=reader)
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    response = await gql(client, IMPORT, {"rows": [company("S-2")]}, token=reader)
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    other = await get_token(client, platform, scope="performers:read")
    for query, variables in ((BY_ID, {"id": supplier["id"]}), (BY_REF, {"ref": "S-1"}), (LIST, {"first": 5})):
        body = (await gql(client, query, variables, token=other)).json()
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    node = (await gql(client, "query($id: ID!) { node(id: $id) { id } }", {"id": supplier["id"]}, token=other)).json()
    assert node["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    anonymous = (await gql(client, BY_ID, {"id": supplier["id"]})).json()
    assert anonymous["data"]["supplier"] is None
    assert anonymous["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_another_platforms_supplier_is_null(client: httpx.AsyncClient, platform: PlatformClient) -> None:
    mine = await get_token(client, platform)
    supplier = (await upsert(client, mine, company("S-1")))["supplier"]
    stranger = await make_platform("stranger")
    theirs = await get_token(client, stranger)
    assert (await data(client, BY_ID, {"id": supplier["id"]}, theirs))["supplier"] is None
    assert (await data(client, BY_REF, {"ref": "S-1"}, theirs))["supplierByRef"] is None
    assert (await data(client, "query($id: ID!) { node(id: $id) { id } }", {"id": supplier["id"]}, theirs))[
        "node"
    ] is None
    assert (await data(client, LIST, {"first": 5}, theirs))["suppliers"]["edges"] == []
    # Their upsert with the same externalRef is their own supplier.
    own = (await upsert(client, theirs, company("S-1")))["supplier"]
    assert own["id"] != supplier["id"]
