"""Product categories, administrative licenses and the compliance they decide (DESIGN §2, Suppliers).

Compliance is judged on the day of reading, in Asia/Shanghai: a license is valid through its
`validUntil` day and expired from the next day on, so nobody has to write anything for a supplier
whose license lapses tonight to stop being VERIFIED tomorrow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from registry.problems import Problem, ProblemCode, problem
from registry.validators.text import clean_text

CATEGORIES = ("GENERAL", "FOOD", "COSMETICS", "MEDICAL_DEVICE", "DRUG", "PUBLICATION")
LICENSE_TYPES = (
    "BUSINESS_LICENSE",
    "FOOD_BUSINESS",
    "FOOD_PRODUCTION",
    "COSMETICS_PRODUCTION",
    "MEDICAL_DEVICE_BUSINESS",
    "DRUG_BUSINESS",
    "PUBLICATION_BUSINESS",
)
# Any one of the listed license types satisfies the category.
REQUIRED_LICENSES: Mapping[str, tuple[str, ...]] = {
    "FOOD": ("FOOD_BUSINESS", "FOOD_PRODUCTION"),
    "COSMETICS": ("COSMETICS_PRODUCTION",),
    "MEDICAL_DEVICE": ("MEDICAL_DEVICE_BUSINESS",),
    "DRUG": ("DRUG_BUSINESS",),
    "PUBLICATION": ("PUBLICATION_BUSINESS",),
}
MAX_LICENSES = 20
NUMBER_MAX = 64
_CATEGORY_SET = frozenset(CATEGORIES)
_TYPE_SET = frozenset(LICENSE_TYPES)


@dataclass(frozen=True, slots=True)
class LicenseInput:
    type: str
    number: str
    valid_until: date | None = None


@dataclass(frozen=True, slots=True)
class License:
    type: str
    number: str  # as printed: any separators kept, whitespace runs collapsed
    valid_until: date | None

    def expired(self, today: date) -> bool:
        return self.valid_until is not None and self.valid_until < today

    def as_json(self) -> dict[str, str | None]:
        until = self.valid_until.isoformat() if self.valid_until else None
        return {"type": self.type, "number": self.number, "validUntil": until}

    @classmethod
    def from_json(cls, value: Mapping[str, str | None]) -> License:
        until = value.get("validUntil")
        return cls(str(value["type"]), str(value["number"]), date.fromisoformat(until) if until else None)


def check_categories(raw: Sequence[str]) -> tuple[tuple[str, ...], list[Problem]]:
    """The categories in canonical order without repeats; problems relative to the supplier input."""
    unknown = [c for c in raw if c not in _CATEGORY_SET]
    if unknown:
        message = f"Unknown product category {unknown[0]!r}; choose from {', '.join(CATEGORIES)}."
        return (), [problem(ProblemCode.INVALID_INPUT, message, "categories")]
    if not raw:
        return (), [problem(ProblemCode.INVALID_INPUT, "List at least one product category.", "categories")]
    chosen = set(raw)
    return tuple(c for c in CATEGORIES if c in chosen), []


def check_licenses(raw: Sequence[LicenseInput]) -> tuple[tuple[License, ...], list[Problem]]:
    """Each license's type and number; problems relative to the supplier input (licenses, i, ...)."""
    if len(raw) > MAX_LICENSES:
        message = f"A supplier may list at most {MAX_LICENSES} licenses."
        return (), [problem(ProblemCode.LIMIT_EXCEEDED, message, "licenses")]
    problems: list[Problem] = []
    licenses: list[License] = []
    seen: set[tuple[str, str]] = set()
    for i, item in enumerate(raw):
        at = ("licenses", str(i))
        if item.type not in _TYPE_SET:
            message = f"Unknown license type {item.type!r}; choose from {', '.join(LICENSE_TYPES)}."
            problems.append(problem(ProblemCode.INVALID_INPUT, message, *at, "type"))
        number, number_problems = clean_text(item.number, max_len=NUMBER_MAX)
        problems += [p.at(*at, "number") for p in number_problems]
        if number is None:
            continue
        if (item.type, number) in seen:
            message = "This license is listed twice; list each license once."
            problems.append(problem(ProblemCode.INVALID_INPUT, message, *at, "number"))
        seen.add((item.type, number))
        licenses.append(License(item.type, number, item.valid_until))
    return (tuple(licenses), problems) if not problems else ((), problems)


def missing_categories(categories: Iterable[str], licenses: Sequence[License]) -> list[str]:
    """Categories none of whose accepted license types is listed (dates aside)."""
    held = {lic.type for lic in licenses}
    return [c for c in categories if c in REQUIRED_LICENSES and held.isdisjoint(REQUIRED_LICENSES[c])]


def earliest_expiry(licenses: Sequence[License]) -> date | None:
    """The first day after which some listed license is expired; None if none ever expires."""
    dates = [lic.valid_until for lic in licenses if lic.valid_until is not None]
    return min(dates) if dates else None


def compliance_problems(categories: Iterable[str], licenses: Sequence[License], today: date) -> list[Problem]:
    """LICENSE_REQUIRED for each category without its license, LICENSE_EXPIRED for each lapsed license."""
    found = [
        problem(
            ProblemCode.LICENSE_REQUIRED,
            f"Selling {category} needs a {' or '.join(REQUIRED_LICENSES[category])} license; none is listed.",
            "input",
            "licenses",
        )
        for category in missing_categories(categories, licenses)
    ]
    for i, lic in enumerate(licenses):
        if lic.expired(today):
            assert lic.valid_until is not None
            message = f"The {lic.type} license {lic.number} expired after {lic.valid_until.isoformat()}."
            found.append(problem(ProblemCode.LICENSE_EXPIRED, message, "input", "licenses", str(i), "validUntil"))
    return found
