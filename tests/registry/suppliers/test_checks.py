"""Supplier validation without a database: kinds, credit codes, documents, contacts, categories, licenses.

The credit-code algorithm itself is covered by the published specimens and property tests in
tests/registry/validators/test_uscc.py; here the same codes go through a whole supplier.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.problems import ProblemCode
from registry.suppliers.checks import SupplierInput, check_supplier
from registry.suppliers.licenses import MAX_LICENSES
from registry.validators.documents import DocumentInput, DocumentType
from registry.validators.uscc import ALPHABET
from tests.factories import credit_code, document, resident_id, years_ago
from tests.registry.suppliers.helpers import (
    code_failing_inner_check,
    individual_business_code,
    license_,
    person,
    supplier,
)
from tests.registry.validators.test_uscc import PUBLISHED

TODAY = date(2026, 11, 29)


def problems_of(data: SupplierInput) -> list[tuple[ProblemCode, tuple[str, ...] | None]]:
    checked, problems = check_supplier(data, TODAY)
    assert (checked is None) == bool(problems)
    return [(p.code, p.field) for p in problems]


@pytest.mark.parametrize("code", PUBLISHED)
def test_published_credit_codes_make_a_valid_enterprise(code: str) -> None:
    checked, problems = check_supplier(supplier(code=code), TODAY)
    assert problems == []
    assert checked is not None
    assert checked.credit_code == code
    assert checked.findings == []


def test_credit_code_is_normalized() -> None:
    checked, _ = check_supplier(supplier(code=" ９１４４-０３００-１９２２０３８２１６ "), TODAY)
    assert checked is not None
    assert checked.credit_code == "914403001922038216"


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=17), st.sampled_from(ALPHABET))
def test_any_single_changed_character_is_invalid_credit_code(seed: int, position: int, char: str) -> None:
    code = credit_code(seed)
    changed = code[:position] + char + code[position + 1 :]
    if changed == code:
        return
    assert problems_of(supplier("ref", code=changed)) == [(ProblemCode.INVALID_CREDIT_CODE, ("creditCode",))]


@pytest.mark.parametrize("letter", "IOZSV")
def test_excluded_letters_are_refused(letter: str) -> None:
    code = credit_code(7)
    found = problems_of(supplier("ref", code=code[:10] + letter + code[11:]))
    assert found == [(ProblemCode.INVALID_CREDIT_CODE, ("creditCode",))]


@pytest.mark.parametrize("kind", ["ENTERPRISE", "INDIVIDUAL_BUSINESS"])
def test_companies_need_a_credit_code(kind: str) -> None:
    data = replace(supplier("ref", kind=kind), credit_code=None)
    assert problems_of(data) == [(ProblemCode.INVALID_CREDIT_CODE, ("creditCode",))]


def test_type_92_codes_are_individual_businesses() -> None:
    code = individual_business_code(3)
    assert problems_of(supplier("ref", kind="INDIVIDUAL_BUSINESS", code=code)) == []
    assert problems_of(supplier("ref", kind="ENTERPRISE", code=code)) == [(ProblemCode.INVALID_INPUT, ("kind",))]
    assert problems_of(supplier("ref", kind="INDIVIDUAL_BUSINESS", code=credit_code(3))) == [
        (ProblemCode.INVALID_INPUT, ("kind",))
    ]


def test_failing_inner_check_is_a_finding_not_a_problem() -> None:
    checked, problems = check_supplier(supplier(code=code_failing_inner_check(5)), TODAY)
    assert problems == []
    assert checked is not None
    assert [(f["code"], f["field"]) for f in checked.findings] == [("INVALID_CREDIT_CODE", ["input", "creditCode"])]


def test_natural_person_needs_a_valid_document_and_no_credit_code() -> None:
    assert problems_of(replace(person("ref"), identity=None)) == [(ProblemCode.INVALID_DOCUMENT, ("identity",))]
    assert problems_of(replace(person("ref"), credit_code=credit_code())) == [
        (ProblemCode.INVALID_INPUT, ("creditCode",))
    ]
    number = resident_id(years_ago(30))
    wrong_check = number[:-1] + ("1" if number[-1] == "0" else "0")  # one in eleven numbers ends in 0
    bad_number = DocumentInput(DocumentType.RESIDENT_ID_CARD, wrong_check, "李四")
    found = problems_of(replace(person("ref"), identity=bad_number))
    assert found and all(field is not None and field[:2] == ("identity", "number") for _, field in found)


def test_a_company_sends_no_identity_document() -> None:
    data = replace(supplier("ref"), identity=document())
    assert problems_of(data) == [(ProblemCode.INVALID_INPUT, ("identity",))]


def test_natural_person_document_is_normalized() -> None:
    number = resident_id(years_ago(40))
    data = replace(
        person("ref"), identity=DocumentInput(DocumentType.RESIDENT_ID_CARD, f" {number[:6]} {number[6:]}", "李四")
    )
    checked, problems = check_supplier(data, TODAY)
    assert problems == []
    assert checked is not None and checked.document is not None
    assert checked.document.number == number


@pytest.mark.parametrize(
    ("raw", "e164"),
    [("0755-8888 6666", "+8675588886666"), ("(010) 6552 9988", "+861065529988"), ("138 0013 8000", "+8613800138000")],
)
def test_mobile_and_landline_numbers_with_area_codes(raw: str, e164: str) -> None:
    checked, problems = check_supplier(supplier(phone=raw), TODAY)
    assert problems == []
    assert checked is not None and checked.contact_phone == e164


@pytest.mark.parametrize("raw", ["8888 6666", "12345", "138-0013-800A", "+86 138 0013 8000 ext 5"])
def test_bad_contact_numbers(raw: str) -> None:
    assert problems_of(supplier("ref", phone=raw)) == [(ProblemCode.INVALID_INPUT, ("contactPhone",))]


def test_name_and_address_sanity() -> None:
    assert problems_of(supplier("ref", name="示例\u202e公司")) == [(ProblemCode.INVALID_INPUT, ("name",))]
    assert problems_of(supplier("ref", name="x" * 201)) == [(ProblemCode.LIMIT_EXCEEDED, ("name",))]
    assert problems_of(supplier("ref", address="深圳")) == [(ProblemCode.INVALID_INPUT, ("address",))]
    assert problems_of(supplier("ref", address="深圳市\x00南山区科技园")) == [(ProblemCode.INVALID_INPUT, ("address",))]
    checked, _ = check_supplier(supplier(address="  广东省深圳市\n南山区   科技园  "), TODAY)
    assert checked is not None and checked.address == "广东省深圳市 南山区 科技园"


def test_every_problem_is_reported_at_once() -> None:
    data = replace(
        supplier("bad ref", code="914403001922038217", name="", address="", phone="x"),
        categories=["TOYS"],
        licenses=[license_("PASSPORT_LICENSE")],
    )
    assert {field for _, field in problems_of(data)} == {
        ("externalRef",),
        ("name",),
        ("address",),
        ("contactPhone",),
        ("categories",),
        ("licenses", "0", "type"),
        ("creditCode",),
    }


def test_categories_need_one_and_repeats_collapse() -> None:
    assert problems_of(supplier("ref", categories=[])) == [(ProblemCode.INVALID_INPUT, ("categories",))]
    checked, _ = check_supplier(supplier(categories=["FOOD", "GENERAL", "FOOD"]), TODAY)
    assert checked is not None and checked.categories == ("GENERAL", "FOOD")


def test_license_rules() -> None:
    twice = [license_(), license_()]
    assert problems_of(supplier("ref", licenses=twice)) == [(ProblemCode.INVALID_INPUT, ("licenses", "1", "number"))]
    many = [license_(number=f"JY{i:014d}") for i in range(MAX_LICENSES + 1)]
    assert problems_of(supplier("ref", licenses=many)) == [(ProblemCode.LIMIT_EXCEEDED, ("licenses",))]
    assert problems_of(supplier("ref", licenses=[license_(number=" ")])) == [
        (ProblemCode.INVALID_INPUT, ("licenses", "0", "number"))
    ]


def test_license_numbers_keep_their_separators() -> None:
    checked, _ = check_supplier(supplier(licenses=[license_(number="粤食药监械经营备20190123号 / B-7;x")]), TODAY)
    assert checked is not None
    assert checked.licenses[0].number == "粤食药监械经营备20190123号 / B-7;x"


def test_an_expired_license_is_not_a_problem() -> None:
    # Valid but non-compliant: stored, with a finding computed when reading.
    assert problems_of(supplier("ref", categories=["FOOD"], licenses=[license_(until=date(2020, 1, 1))])) == []
    assert problems_of(supplier("ref", categories=["FOOD"])) == []


def test_canonical_content_ignores_formatting_but_not_content() -> None:
    a, _ = check_supplier(supplier("ref", code="914403001922038216", phone="0755 8888 6666"), TODAY)
    b, _ = check_supplier(supplier("ref", code="91440300-1922038216", phone="+86 755 8888 6666"), TODAY)
    c, _ = check_supplier(supplier("ref", code="914403001922038216", phone="0755 8888 6667"), TODAY)
    assert a is not None and b is not None and c is not None
    assert a.canonical() == b.canonical() != c.canonical()
