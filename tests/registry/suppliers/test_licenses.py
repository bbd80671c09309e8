"""The category-to-license table and compliance as of a day (DESIGN §2, Suppliers)."""

from __future__ import annotations

from datetime import date

import pytest

from registry.problems import ProblemCode
from registry.suppliers.licenses import License, compliance_problems, earliest_expiry, missing_categories

TODAY = date(2026, 11, 29)


@pytest.mark.parametrize(
    ("category", "license_type"),
    [
        ("FOOD", "FOOD_BUSINESS"),
        ("FOOD", "FOOD_PRODUCTION"),
        ("COSMETICS", "COSMETICS_PRODUCTION"),
        ("MEDICAL_DEVICE", "MEDICAL_DEVICE_BUSINESS"),
        ("DRUG", "DRUG_BUSINESS"),
        ("PUBLICATION", "PUBLICATION_BUSINESS"),
    ],
)
def test_each_regulated_category_is_met_by_its_license(category: str, license_type: str) -> None:
    assert missing_categories([category], []) == [category]
    assert missing_categories([category], [License(license_type, "N-1", None)]) == []


def test_general_needs_nothing_and_other_licenses_do_not_count() -> None:
    assert missing_categories(["GENERAL"], []) == []
    assert missing_categories(["DRUG"], [License("BUSINESS_LICENSE", "B-1", None), License("FOOD_BUSINESS", "F", None)])


def test_valid_through_the_last_day() -> None:
    lic = License("FOOD_BUSINESS", "JY1", TODAY)
    assert not lic.expired(TODAY)
    assert lic.expired(date(2026, 11, 30))


def test_compliance_problems_name_category_and_license() -> None:
    licenses = [License("FOOD_BUSINESS", "JY1", date(2026, 11, 28)), License("BUSINESS_LICENSE", "B", None)]
    found = compliance_problems(["FOOD", "DRUG"], licenses, TODAY)
    assert [(p.code, p.field) for p in found] == [
        (ProblemCode.LICENSE_REQUIRED, ("input", "licenses")),
        (ProblemCode.LICENSE_EXPIRED, ("input", "licenses", "0", "validUntil")),
    ]
    assert "DRUG_BUSINESS" in found[0].message
    assert "JY1" in found[1].message


def test_earliest_expiry() -> None:
    assert earliest_expiry([]) is None
    assert (
        earliest_expiry([License("A", "1", None), License("B", "2", date(2027, 1, 1)), License("C", "3", TODAY)])
        == TODAY
    )


def test_json_round_trip() -> None:
    lic = License("FOOD_BUSINESS", "JY 1/2", TODAY)
    assert License.from_json(lic.as_json()) == lic
    assert License.from_json(License("X", "1", None).as_json()).valid_until is None
