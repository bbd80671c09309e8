from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pycountry
import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.problems import ProblemCode
from registry.validators.documents import (
    DocumentInput,
    DocumentType,
    convert_legacy_resident_id,
    icao_check_digit,
    identity_key_number,
    mask_document_number,
    mask_name,
    mod11_2_check,
    normalize_number,
    validate_document,
)

TODAY = date(2026, 3, 1)
T = DocumentType
INVALID_DOCUMENT = ProblemCode.INVALID_DOCUMENT
INVALID_INPUT = ProblemCode.INVALID_INPUT
DOCUMENT_EXPIRED = ProblemCode.DOCUMENT_EXPIRED

# ICAO 9303 specimen (Utopia is not a real country) and a synthetic Chinese-format line.
ICAO_LINE_2 = "L898902C36UTO7408122F1204159ZE184226B<<<<<10"
CHN_LINE_1 = "P<CHNZHANG<<SAN".ljust(44, "<")
CHN_LINE_2 = "G489476464CHN7304279M210126619203301<<<<<<16"
BEFORE_CHN_EXPIRY = date(2020, 6, 1)


def doc(type: DocumentType, number: str, full_name: str = "张三", **fields: Any) -> DocumentInput:
    return DocumentInput(type, number, full_name, **fields)


def check(document: DocumentInput, today: date = TODAY) -> list[tuple[ProblemCode, tuple[str, ...] | None]]:
    """The (code, field) of each problem, asserting the result is None exactly when there are some."""
    result, problems, _ = validate_document(document, today=today)
    assert (result is None) == bool(problems)
    return [(p.code, p.field) for p in problems]


def messages(document: DocumentInput, today: date = TODAY) -> list[str]:
    return [p.message for p in validate_document(document, today=today)[1]]


def td3_line_2(number: str, nationality: str, birth: str, sex: str, expiry: str, personal: str = "") -> str:
    """A TD3 line 2 with correct check digits (icao_check_digit is pinned to the specimens below)."""
    number, nationality, personal = number.ljust(9, "<"), nationality.ljust(3, "<"), personal.ljust(14, "<")
    personal_check = icao_check_digit(personal)
    line = (
        f"{number}{icao_check_digit(number)}{nationality}{birth}{icao_check_digit(birth)}{sex}"
        f"{expiry}{icao_check_digit(expiry)}{personal}{personal_check}"
    )
    return line + icao_check_digit(line[0:10] + line[13:20] + line[21:43])


def passport(
    number: str = "E12345678",
    nationality: str | None = "CHN",
    line_2: str | None = None,
    **fields: Any,
) -> DocumentInput:
    line_2 = line_2 or td3_line_2("E12345678", "CHN", "900115", "F", "300101")
    return doc(T.PASSPORT, number, "ZHANG SAN", nationality=nationality, mrz=f"{CHN_LINE_1}\n{line_2}", **fields)


# ---------------------------------------------------------------- check-digit helpers on specimens


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("11010519491231002", "X"),
        ("44052418800101001", "4"),
        ("61010419620927690", "8"),
        ("81000019940823002", "1"),
        ("83000019920130002", "2"),
        ("82000019940823002", "3"),
        ("91139819901231002", "1"),
    ],
)
def test_mod11_2_check_on_published_specimens(body: str, expected: str) -> None:
    assert mod11_2_check(body) == expected


@pytest.mark.parametrize(
    "bad", ["", "1101051949123100", "110105194912310021", "1101051949123100X", "١١٠١٠٥١٩٤٩١٢٣١٠٠٢"]
)
def test_mod11_2_check_refuses_anything_but_17_ascii_digits(bad: str) -> None:
    with pytest.raises(ValueError, match="17 ASCII digits"):
        mod11_2_check(bad)


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("L898902C3", "6"),  # 316
        ("740812", "2"),  # 122
        ("120415", "9"),  # 49
        ("ZE184226B<<<<<", "1"),  # 401
        ("L898902C36" + "7408122" + "1204159ZE184226B<<<<<1", "0"),  # 880, composite
    ],
)
def test_icao_check_digit_on_the_icao_specimen(field: str, expected: str) -> None:
    assert icao_check_digit(field) == expected


def test_icao_specimen_line_2_positions_match_its_check_digits() -> None:
    line = ICAO_LINE_2
    assert icao_check_digit(line[0:9]) == line[9]
    assert icao_check_digit(line[13:19]) == line[19]
    assert icao_check_digit(line[21:27]) == line[27]
    assert icao_check_digit(line[28:42]) == line[42]
    assert icao_check_digit(line[0:10] + line[13:20] + line[21:43]) == line[43]


def test_chinese_synthetic_td3_line_passes_all_five_checks() -> None:
    line = CHN_LINE_2
    assert td3_line_2("G48947646", "CHN", "730427", "M", "210126", "19203301") == line


def test_icao_check_digit_on_the_legacy_foreign_resident_specimen() -> None:
    assert icao_check_digit("KAZ11009012310") == "5"  # 265


def test_icao_check_digit_refuses_non_mrz_characters() -> None:
    with pytest.raises(ValueError, match="not an MRZ character"):
        icao_check_digit("ab<")


@pytest.mark.parametrize(
    ("number15", "number18"),
    [("610104620927690", "610104196209276908"), ("110105491231002", "11010519491231002X")],
)
def test_convert_legacy_resident_id_specimens(number15: str, number18: str) -> None:
    assert convert_legacy_resident_id(number15) == number18


@pytest.mark.parametrize("bad", ["61010462092769", "6101046209276900", "61010462092769X"])
def test_convert_legacy_resident_id_refuses_other_shapes(bad: str) -> None:
    with pytest.raises(ValueError, match="15 ASCII digits"):
        convert_legacy_resident_id(bad)


# ---------------------------------------------------------------- normalisation


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("11010519491231002x", "11010519491231002X"),
        ("１１０１０５１９４９１２３１００２ｘ", "11010519491231002X"),  # full width
        (" 110105 1949-1231 002x ", "11010519491231002X"),
        ("110105\u30001949\u3000123100\t2X\n", "11010519491231002X"),  # ideographic space, tab
        ("110105－19491231‐002X", "11010519491231002X"),  # full-width hyphen, Unicode hyphen
        ("ｈ１２３４５６７８", "H12345678"),
    ],
)
def test_normalize_number(raw: str, expected: str) -> None:
    assert normalize_number(raw) == expected


# ---------------------------------------------------------------- published specimens accepted


@pytest.mark.parametrize(
    ("type", "number", "birth", "sex", "nationality"),
    [
        (T.RESIDENT_ID_CARD, "11010519491231002X", date(1949, 12, 31), "F", None),
        (T.RESIDENT_ID_CARD, "440524188001010014", date(1880, 1, 1), "M", None),
        (T.RESIDENT_ID_CARD, "610104196209276908", date(1962, 9, 27), "F", None),
        (T.HMT_RESIDENCE_PERMIT, "810000199408230021", date(1994, 8, 23), "F", None),
        (T.HMT_RESIDENCE_PERMIT, "830000199201300022", date(1992, 1, 30), "F", None),
        (T.HMT_RESIDENCE_PERMIT, "820000199408230023", date(1994, 8, 23), "F", None),
        (T.FOREIGN_PERMANENT_RESIDENT, "911398199012310021", date(1990, 12, 31), "F", "KAZ"),
        (T.FOREIGN_PERMANENT_RESIDENT, "KAZ110090123105", date(1990, 12, 31), "F", "KAZ"),
    ],
)
def test_published_specimens_are_accepted(
    type: DocumentType, number: str, birth: date, sex: str, nationality: str | None
) -> None:
    result, problems, findings = validate_document(doc(type, number), today=TODAY)
    assert problems == findings == []
    assert result is not None
    assert (result.type, result.number, result.key_number) == (type, number, number)
    assert (result.birth_date, result.sex, result.nationality) == (birth, sex, nationality)


def test_resident_id_in_full_width_with_lower_case_x_and_separators_is_normalized() -> None:
    for raw in ("１１０１０５１９４９１２３１００２ｘ", "110105 19491231 002x", "110105-19491231-002X"):
        result, problems, _ = validate_document(doc(T.RESIDENT_ID_CARD, raw), today=TODAY)
        assert problems == []
        assert result is not None
        assert result.number == result.key_number == "11010519491231002X"


def test_chinese_synthetic_passport_is_accepted_with_crlf_and_gives_mrz_facts() -> None:
    document = doc(T.PASSPORT, "G48947646", "ZHANG SAN", nationality="CHN", mrz=f"{CHN_LINE_1}\r\n{CHN_LINE_2}\r\n")
    result, problems, findings = validate_document(document, today=BEFORE_CHN_EXPIRY)
    assert problems == findings == []
    assert result is not None
    assert result.key_number == "CHN:G48947646"
    assert (result.birth_date, result.sex, result.nationality) == (date(1973, 4, 27), "M", "CHN")
    assert result.expires_on == date(2021, 1, 26)


def test_passport_mrz_in_full_width_lower_case_is_normalized() -> None:
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in f"{CHN_LINE_1}\n{CHN_LINE_2}".lower() if c != "\n")
    mrz = f"{full_width[:44]}\n{full_width[44:]}"
    document = doc(T.PASSPORT, "g48947646", "ZHANG SAN", nationality=" chn ", mrz=mrz)
    result, problems, _ = validate_document(document, today=BEFORE_CHN_EXPIRY)
    assert problems == []
    assert result is not None
    assert result.key_number == "CHN:G48947646"


def test_chinese_synthetic_passport_has_expired_by_now() -> None:
    document = doc(T.PASSPORT, "G48947646", "ZHANG SAN", nationality="CHN", mrz=f"{CHN_LINE_1}\n{CHN_LINE_2}")
    assert check(document) == [(DOCUMENT_EXPIRED, ("mrz",))]
    assert "2021-01-26" in messages(document)[0]


def test_icao_specimen_utopia_is_not_a_real_country() -> None:
    document = doc(
        T.PASSPORT,
        "L898902C3",
        "ANNA MARIA ERIKSSON",
        nationality="UTO",
        mrz=f"{'P<UTOERIKSSON<<ANNA<MARIA'.ljust(44, '<')}\n{ICAO_LINE_2}",
    )
    assert check(document, today=date(2010, 1, 1)) == [
        (INVALID_DOCUMENT, ("mrz",)),
        (INVALID_INPUT, ("nationality",)),
    ]


@pytest.mark.parametrize("code", ["D", "GBD", "UNO", "XXA", "XXX", "DEU"])
def test_icao_special_nationality_codes_are_accepted(code: str) -> None:
    line_2 = td3_line_2("C01X00T47", code, "640812", "F", "310101", "")
    result, problems, _ = validate_document(passport("C01X00T47", code, line_2), today=TODAY)
    assert problems == []
    assert result is not None
    assert result.key_number == f"{code}:C01X00T47"
    assert result.sex == "F"


def test_empty_personal_number_may_carry_a_filler_check_digit() -> None:
    line_2 = td3_line_2("E12345678", "CHN", "900115", "<", "300101")
    filler = line_2[:42] + "<" + line_2[43:]
    assert filler[43] == icao_check_digit(filler[0:10] + filler[13:20] + filler[21:43])
    result, problems, _ = validate_document(passport(line_2=filler), today=TODAY)
    assert problems == []
    assert result is not None
    assert result.sex is None


@pytest.mark.parametrize(
    ("type", "number"),
    [
        (T.HKMO_TRAVEL_PERMIT, "H12345678"),
        (T.HKMO_TRAVEL_PERMIT, "M1234567890"),
        (T.HKMO_TRAVEL_PERMIT, "h 1234 5678"),
        (T.TW_TRAVEL_PERMIT, "12345678"),
        (T.TW_TRAVEL_PERMIT, "1234567801"),
    ],
)
def test_travel_permits_take_the_birth_date_from_the_input(type: DocumentType, number: str) -> None:
    result, problems, _ = validate_document(doc(type, number, birth_date=date(1990, 5, 6)), today=TODAY)
    assert problems == []
    assert result is not None
    assert result.number == result.key_number == normalize_number(number)
    assert (result.birth_date, result.sex) == (date(1990, 5, 6), None)


def test_name_and_nationality_are_normalized() -> None:
    result, _, _ = validate_document(
        doc(T.RESIDENT_ID_CARD, "11010519491231002X", "  ＪＯＨＮ \u3000  Smith ", nationality=" chn"),
        today=TODAY,
    )
    assert result is not None
    assert (result.full_name, result.nationality) == ("JOHN Smith", "CHN")


def test_an_expiry_date_on_or_after_today_is_accepted_and_kept() -> None:
    result, problems, _ = validate_document(
        doc(T.RESIDENT_ID_CARD, "11010519491231002X", expires_on=TODAY), today=TODAY
    )
    assert problems == []
    assert result is not None
    assert result.expires_on == TODAY


def test_a_matching_birth_date_is_accepted() -> None:
    document = doc(T.RESIDENT_ID_CARD, "11010519491231002X", birth_date=date(1949, 12, 31))
    assert check(document) == []


# ---------------------------------------------------------------- refusals: code and field path


def _with_check(body17: str) -> str:
    return body17 + mod11_2_check(body17)


FUTURE_BIRTH = _with_check("11010520270101002")
VALID_LEGACY_PR = "KAZ110090123105"


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        # resident ID card
        (doc(T.RESIDENT_ID_CARD, ""), [(INVALID_INPUT, ("number",))]),
        (doc(T.RESIDENT_ID_CARD, "11010519491231002"), [(INVALID_DOCUMENT, ("number",))]),
        (doc(T.RESIDENT_ID_CARD, "1101051949123100XX"), [(INVALID_DOCUMENT, ("number",))]),
        (doc(T.RESIDENT_ID_CARD, "110105194912310021"), [(INVALID_DOCUMENT, ("number",))]),
        (doc(T.RESIDENT_ID_CARD, _with_check("99010519491231002")), [(INVALID_DOCUMENT, ("number",))]),
        (doc(T.RESIDENT_ID_CARD, _with_check("11010519490230002")), [(INVALID_DOCUMENT, ("number",))]),
        (doc(T.RESIDENT_ID_CARD, FUTURE_BIRTH), [(INVALID_DOCUMENT, ("number",))]),
        (doc(T.RESIDENT_ID_CARD, "110105491231002"), [(DOCUMENT_EXPIRED, ("number",))]),
        (doc(T.RESIDENT_ID_CARD, "810000199408230021"), [(INVALID_DOCUMENT, ("number",))]),
        # HMT residence permit
        (doc(T.HMT_RESIDENCE_PERMIT, "11010519491231002X"), [(INVALID_DOCUMENT, ("number",))]),
        (doc(T.HMT_RESIDENCE_PERMIT, "810000199408230022"), [(INVALID_DOCUMENT, ("number",))]),
        # foreign permanent resident
        (doc(T.FOREIGN_PERMANENT_RESIDENT, "11010519491231002X"), [(INVALID_DOCUMENT, ("number",))]),
        (doc(T.FOREIGN_PERMANENT_RESIDENT, _with_check("91199919901231002")), [(INVALID_DOCUMENT, ("number",))]),
        (doc(T.FOREIGN_PERMANENT_RESIDENT, "911398199012310022"), [(INVALID_DOCUMENT, ("number",))]),
        (doc(T.FOREIGN_PERMANENT_RESIDENT, "KAZ11009012310"), [(INVALID_DOCUMENT, ("number",))]),
        (doc(T.FOREIGN_PERMANENT_RESIDENT, "XYZ110090123105"), [(INVALID_DOCUMENT, ("number",))]),
        (doc(T.FOREIGN_PERMANENT_RESIDENT, "KAZ110090133105"), [(INVALID_DOCUMENT, ("number",))]),
        (
            doc(T.FOREIGN_PERMANENT_RESIDENT, "911398199012310021", nationality="USA"),
            [(INVALID_DOCUMENT, ("nationality",))],
        ),
        (
            doc(T.FOREIGN_PERMANENT_RESIDENT, VALID_LEGACY_PR, birth_date=date(1990, 12, 30)),
            [(INVALID_DOCUMENT, ("birthDate",))],
        ),
        # travel permits
        (doc(T.HKMO_TRAVEL_PERMIT, "H12345678"), [(INVALID_INPUT, ("birthDate",))]),
        (doc(T.HKMO_TRAVEL_PERMIT, "X12345678", birth_date=date(1990, 1, 1)), [(INVALID_DOCUMENT, ("number",))]),
        (doc(T.HKMO_TRAVEL_PERMIT, "H123456789", birth_date=date(1990, 1, 1)), [(INVALID_DOCUMENT, ("number",))]),
        (doc(T.TW_TRAVEL_PERMIT, "12345678"), [(INVALID_INPUT, ("birthDate",))]),
        (doc(T.TW_TRAVEL_PERMIT, "123456789", birth_date=date(1990, 1, 1)), [(INVALID_DOCUMENT, ("number",))]),
        (
            doc(T.TW_TRAVEL_PERMIT, "12345678", birth_date=TODAY + timedelta(days=1)),
            [(INVALID_DOCUMENT, ("birthDate",))],
        ),
        # fields common to all documents
        (doc(T.RESIDENT_ID_CARD, "11010519491231002X", " \u3000 "), [(INVALID_INPUT, ("fullName",))]),
        (doc(T.RESIDENT_ID_CARD, "11010519491231002X", "张" * 101), [(INVALID_INPUT, ("fullName",))]),
        (doc(T.RESIDENT_ID_CARD, "11010519491231002X", "张\x00三"), [(INVALID_INPUT, ("fullName",))]),
        (doc(T.RESIDENT_ID_CARD, "11010519491231002X", "张\u202e三"), [(INVALID_INPUT, ("fullName",))]),
        (doc(T.RESIDENT_ID_CARD, "11010519491231002X", nationality="XYZ"), [(INVALID_INPUT, ("nationality",))]),
        (
            doc(T.RESIDENT_ID_CARD, "11010519491231002X", birth_date=date(1949, 12, 30)),
            [(INVALID_DOCUMENT, ("birthDate",))],
        ),
        (
            doc(T.RESIDENT_ID_CARD, "11010519491231002X", expires_on=TODAY - timedelta(days=1)),
            [(DOCUMENT_EXPIRED, ("expiresOn",))],
        ),
    ],
)
def test_refusals_carry_code_and_field(
    document: DocumentInput, expected: list[tuple[ProblemCode, tuple[str, ...]]]
) -> None:
    assert check(document) == expected


def test_a_name_of_100_characters_is_accepted() -> None:
    assert check(doc(T.RESIDENT_ID_CARD, "11010519491231002X", "张" * 100)) == []


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (passport(nationality=None), [(INVALID_INPUT, ("nationality",))]),
        (replace(passport(), mrz=None), [(INVALID_INPUT, ("mrz",))]),
        (replace(passport(), mrz=" \n "), [(INVALID_INPUT, ("mrz",))]),
        (passport("E1234567890"), [(INVALID_DOCUMENT, ("number",)), (INVALID_DOCUMENT, ("number",))]),
        (passport("E12345679"), [(INVALID_DOCUMENT, ("number",))]),
        (passport(nationality="USA"), [(INVALID_DOCUMENT, ("nationality",))]),
        (passport(birth_date=date(1990, 1, 16)), [(INVALID_DOCUMENT, ("birthDate",))]),
        (passport(expires_on=date(2030, 1, 2)), [(INVALID_DOCUMENT, ("expiresOn",))]),
        (
            passport(expires_on=date(2026, 1, 1)),
            [(INVALID_DOCUMENT, ("expiresOn",)), (DOCUMENT_EXPIRED, ("expiresOn",))],
        ),
        (
            passport(line_2=td3_line_2("E12345678", "CHN", "900115", "F", "250101")),
            [(DOCUMENT_EXPIRED, ("mrz",))],
        ),
        (
            passport(line_2=td3_line_2("E12345678", "CHN", "900115", "F", "250101"), expires_on=date(2025, 1, 1)),
            [(DOCUMENT_EXPIRED, ("expiresOn",))],
        ),
        (passport(line_2=td3_line_2("E12345678", "CHN", "900230", "F", "300101")), [(INVALID_DOCUMENT, ("mrz",))]),
        (passport(line_2=td3_line_2("E12345678", "CHN", "900115", "F", "301301")), [(INVALID_DOCUMENT, ("mrz",))]),
        (passport(line_2=td3_line_2("E12345678", "CHN", "900115", "Q", "300101")), [(INVALID_DOCUMENT, ("mrz",))]),
        (
            passport(line_2=td3_line_2("E12345678", "ZZZ", "900115", "F", "300101")),
            [(INVALID_DOCUMENT, ("mrz",))],
        ),
    ],
)
def test_passport_refusals_carry_code_and_field(
    document: DocumentInput, expected: list[tuple[ProblemCode, tuple[str, ...]]]
) -> None:
    assert check(document) == expected


@pytest.mark.parametrize(
    "mrz",
    [
        CHN_LINE_2,  # one line
        f"{CHN_LINE_1}\n{CHN_LINE_2[:43]}",
        f"{CHN_LINE_1}\n{CHN_LINE_2}\n{CHN_LINE_2}",
        f"{CHN_LINE_1}\n{CHN_LINE_2[:20]}#{CHN_LINE_2[21:]}",
    ],
)
def test_mrz_of_the_wrong_shape_is_refused(mrz: str) -> None:
    document = doc(T.PASSPORT, "G48947646", "ZHANG SAN", nationality="CHN", mrz=mrz)
    assert check(document, today=BEFORE_CHN_EXPIRY) == [(INVALID_DOCUMENT, ("mrz",))]
    assert "two lines of 44 characters" in messages(document, today=BEFORE_CHN_EXPIRY)[0]


def test_mrz_line_1_must_start_with_p() -> None:
    document = doc(T.PASSPORT, "G48947646", "ZHANG SAN", nationality="CHN", mrz=f"I{CHN_LINE_1[1:]}\n{CHN_LINE_2}")
    assert check(document, today=BEFORE_CHN_EXPIRY) == [(INVALID_DOCUMENT, ("mrz",))]


@pytest.mark.parametrize(
    ("position", "what"),
    [(9, "document number"), (19, "birth date"), (27, "expiry date"), (42, "personal number"), (43, "final")],
)
def test_each_wrong_mrz_check_digit_is_named(position: int, what: str) -> None:
    wrong = str((int(CHN_LINE_2[position]) + 1) % 10)
    line_2 = CHN_LINE_2[:position] + wrong + CHN_LINE_2[position + 1 :]
    document = doc(T.PASSPORT, "G48947646", "ZHANG SAN", nationality="CHN", mrz=f"{CHN_LINE_1}\n{line_2}")
    result, problems, _ = validate_document(document, today=BEFORE_CHN_EXPIRY)
    assert result is None
    check_digit_problems = [p for p in problems if "check digit" in p.message]
    assert check_digit_problems[0].field == ("mrz",)
    assert what in check_digit_problems[0].message
    # The composite covers every other check digit, so it fails alongside any of them.
    assert len(check_digit_problems) == (1 if position == 43 else 2)


def test_legacy_foreign_resident_check_digit_failure_is_a_finding_not_a_problem() -> None:
    result, problems, findings = validate_document(doc(T.FOREIGN_PERMANENT_RESIDENT, "KAZ110090123106"), today=TODAY)
    assert problems == []
    assert result is not None
    assert [(f.code, f.field) for f in findings] == [(INVALID_DOCUMENT, ("number",))]
    assert "by hand" in findings[0].message


def test_legacy_foreign_resident_yymmdd_takes_the_century_not_in_the_future() -> None:
    number = "USA110025010105"
    number = number[:14] + icao_check_digit(number[:14])
    result, _, _ = validate_document(doc(T.FOREIGN_PERMANENT_RESIDENT, number), today=TODAY)
    assert result is not None
    assert result.birth_date == date(2025, 1, 1)
    result, _, _ = validate_document(doc(T.FOREIGN_PERMANENT_RESIDENT, number), today=date(2024, 12, 31))
    assert result is not None
    assert result.birth_date == date(1925, 1, 1)


def test_messages_say_what_to_do() -> None:
    assert messages(doc(T.RESIDENT_ID_CARD, "110105194912310021")) == [
        "The check character of this resident ID number is wrong; please re-enter the number exactly as printed."
    ]
    assert "2013-01-01" in messages(doc(T.RESIDENT_ID_CARD, "110105491231002"))[0]
    assert "residence permit" in messages(doc(T.RESIDENT_ID_CARD, "810000199408230021"))[0]
    assert "foreign permanent resident" in messages(doc(T.RESIDENT_ID_CARD, "911398199012310021"))[0]
    assert "digits 7 to 14" in messages(doc(T.RESIDENT_ID_CARD, FUTURE_BIRTH))[0]


def test_every_problem_is_reported_at_once() -> None:
    document = doc(
        T.RESIDENT_ID_CARD,
        _with_check("99010519490230002")[:17] + "0",  # bad prefix, no Feb 30, wrong check
        "",
        birth_date=TODAY + timedelta(days=1),
        nationality="XYZ",
        expires_on=date(2020, 1, 1),
    )
    assert check(document) == [
        (INVALID_DOCUMENT, ("number",)),
        (INVALID_DOCUMENT, ("number",)),
        (INVALID_DOCUMENT, ("number",)),
        (INVALID_INPUT, ("fullName",)),
        (INVALID_INPUT, ("nationality",)),
        (INVALID_DOCUMENT, ("birthDate",)),
        (DOCUMENT_EXPIRED, ("expiresOn",)),
    ]


def test_every_passport_problem_is_reported_at_once() -> None:
    line_2 = CHN_LINE_2[:9] + "0" + CHN_LINE_2[10:]
    document = doc(
        T.PASSPORT,
        "G48947647",
        "ZHANG SAN",
        nationality="USA",
        mrz=f"{CHN_LINE_1}\n{line_2}",
        birth_date=date(1973, 4, 28),
        expires_on=date(2021, 1, 27),
    )
    assert check(document) == [
        (INVALID_DOCUMENT, ("mrz",)),  # document number check digit
        (INVALID_DOCUMENT, ("mrz",)),  # composite
        (INVALID_DOCUMENT, ("number",)),
        (INVALID_DOCUMENT, ("nationality",)),
        (INVALID_DOCUMENT, ("birthDate",)),
        (INVALID_DOCUMENT, ("expiresOn",)),
        (DOCUMENT_EXPIRED, ("expiresOn",)),
        (DOCUMENT_EXPIRED, ("mrz",)),
    ]


def test_problem_messages_never_echo_the_number() -> None:
    for document in (doc(T.RESIDENT_ID_CARD, "110105194912310021"), passport("E12345679")):
        assert all("1101051949" not in m and "E1234567" not in m for m in messages(document))


# ---------------------------------------------------------------- identity keys (blacklist, screening)


@pytest.mark.parametrize(
    ("type", "number", "nationality", "key"),
    [
        (T.RESIDENT_ID_CARD, "11010519491231002x", None, "11010519491231002X"),
        (T.RESIDENT_ID_CARD, "110105491231002", None, "11010519491231002X"),
        (T.RESIDENT_ID_CARD, "６１０１０４６２０９２７６９０", None, "610104196209276908"),
        (T.HMT_RESIDENCE_PERMIT, "830000199201300022", None, "830000199201300022"),
        (T.FOREIGN_PERMANENT_RESIDENT, "911398199012310021", None, "911398199012310021"),
        (T.FOREIGN_PERMANENT_RESIDENT, "KAZ110090123106", None, "KAZ110090123106"),  # finding ignored
        (T.HKMO_TRAVEL_PERMIT, "H 1234 5678", None, "H12345678"),
        (T.TW_TRAVEL_PERMIT, "12345678", None, "12345678"),
        (T.PASSPORT, "e12345678", " chn ", "CHN:E12345678"),
        (T.PASSPORT, "E12345678", None, "PASSPORT:E12345678"),
        (T.RESIDENT_ID_CARD, "11010519491231002X", "XYZ", "11010519491231002X"),  # only passports use it
    ],
)
def test_identity_key_number(type: DocumentType, number: str, nationality: str | None, key: str) -> None:
    assert identity_key_number(type, number, nationality=nationality) == (key, [])


def test_identity_key_matches_the_verified_documents_key() -> None:
    result, _, _ = validate_document(passport(), today=TODAY)
    assert result is not None
    assert identity_key_number(T.PASSPORT, "E12345678", nationality="CHN")[0] == result.key_number


@pytest.mark.parametrize(
    ("type", "number", "nationality", "fields"),
    [
        (T.RESIDENT_ID_CARD, "110105194912310021", None, [("number",)]),
        (T.RESIDENT_ID_CARD, "990105491231002", None, [("number",)]),  # 15-digit, bad prefix
        (T.RESIDENT_ID_CARD, "", None, [("number",)]),
        (T.HMT_RESIDENCE_PERMIT, "11010519491231002X", None, [("number",)]),
        (T.HKMO_TRAVEL_PERMIT, "H1234567", None, [("number",)]),
        (T.PASSPORT, "E1234567890", "UTO", [("number",), ("nationality",)]),
    ],
)
def test_identity_key_number_refusals(
    type: DocumentType, number: str, nationality: str | None, fields: list[tuple[str, ...]]
) -> None:
    key, problems = identity_key_number(type, number, nationality=nationality)
    assert key is None
    assert [p.field for p in problems] == fields


# ---------------------------------------------------------------- masking


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("11010519491231002X", "110***********002X"),
        ("KAZ110090123105", "KAZ********3105"),
        ("H12345678", "H12**5678"),
        ("12345678", "123*5678"),
        ("1234567", "1*****7"),
        ("123", "1*3"),
        ("12", "**"),
        ("", ""),
    ],
)
def test_mask_document_number(number: str, masked: str) -> None:
    assert mask_document_number(number) == masked
    assert len(mask_document_number(number)) == len(number)


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),
        ("张小三", "张*三"),
        ("欧阳小明", "欧**明"),
        ("阿沛·阿旺晋美", "阿*****美"),
        ("张", "*"),
        ("John Smith", "J*** S****"),
        ("  John   Smith ", "J*** S****"),
        ("Anna Maria Eriksson", "A*** M**** E*******"),
        ("J", "*"),
        ("", ""),
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


# ---------------------------------------------------------------- properties


PROVINCES = [
    f"{n}" for lo, hi in ((11, 15), (21, 23), (31, 37), (41, 46), (50, 54), (61, 65)) for n in range(lo, hi + 1)
]


def independent_check(body17: str) -> str:
    """MOD 11-2 written the other way round: the full number sums to 1 mod 11."""
    s = sum(int(c) * (2 ** (17 - i) % 11) for i, c in enumerate(body17))
    value = (12 - s % 11) % 11
    return "X" if value == 10 else str(value)


NUMERIC_NATIONALITIES = sorted(c.numeric for c in pycountry.countries)


@st.composite
def valid_gb11643_numbers(draw: st.DrawFn) -> tuple[DocumentType, str]:
    """A resident ID, HMT residence permit or 2023 foreign PR number with a correct check."""
    four_digits = st.from_regex(r"[0-9]{4}", fullmatch=True)
    prefixes = {
        T.RESIDENT_ID_CARD: st.tuples(st.sampled_from(PROVINCES), four_digits),
        T.HMT_RESIDENCE_PERMIT: st.tuples(st.sampled_from(["810000", "820000", "830000"])),
        T.FOREIGN_PERMANENT_RESIDENT: st.tuples(
            st.just("9"), st.sampled_from(PROVINCES), st.sampled_from(NUMERIC_NATIONALITIES)
        ),
    }
    type = draw(st.sampled_from(list(prefixes)))
    prefix = "".join(draw(prefixes[type]))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
    sequence = draw(st.from_regex(r"[0-9]{3}", fullmatch=True))
    body = f"{prefix}{born:%Y%m%d}{sequence}"
    return type, body + independent_check(body)


@given(valid_gb11643_numbers())
def test_generated_valid_numbers_are_accepted(case: tuple[DocumentType, str]) -> None:
    type, number = case
    result, problems, _ = validate_document(doc(type, number), today=TODAY)
    assert problems == []
    assert result is not None
    assert result.birth_date.strftime("%Y%m%d") == number[6:14]
    assert identity_key_number(type, number) == (number, [])


@given(valid_gb11643_numbers(), st.data())
def test_any_single_character_change_is_refused(case: tuple[DocumentType, str], data: st.DataObject) -> None:
    type, number = case
    position = data.draw(st.integers(0, 17))
    replacement = data.draw(st.sampled_from("0123456789X").filter(lambda c: c != number[position]))
    mutated = number[:position] + replacement + number[position + 1 :]
    result, problems, _ = validate_document(doc(type, mutated), today=TODAY)
    assert result is None
    assert problems
    assert identity_key_number(type, mutated)[0] is None


@given(valid_gb11643_numbers(), st.lists(st.sampled_from([" ", "-", "\u3000", "－"]), min_size=18, max_size=18))
def test_full_width_and_separators_do_not_change_the_result(
    case: tuple[DocumentType, str], separators: list[str]
) -> None:
    type, number = case
    full_width = "".join(chr(ord(c) + 0xFEE0) + sep for c, sep in zip(number.lower(), separators, strict=True))
    assert validate_document(doc(type, full_width), today=TODAY) == validate_document(doc(type, number), today=TODAY)
