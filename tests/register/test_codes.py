"""Archive codes, identity numbers and cell normalisation: pure rules, property-based where it fits."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archiveprint.errors import InvalidValue
from archiveprint.register.codes import format_code, parse_code, village_kind
from archiveprint.register.idcard import check_char, make_id_number, parse_id_number, upgrade_15
from archiveprint.register.names import pinyin_initials, split_tags
from archiveprint.register.text import clean_code, clean_name, parse_date, to_halfwidth

TODAY = date(2026, 11, 25)

codes = st.builds(
    lambda county, township, village, serial: f"{county}{township:03d}{village:03d}{serial:05d}",
    st.sampled_from(["130123", "110105", "440524", "652801"]),
    st.integers(1, 999), st.integers(1, 999), st.integers(1, 99999),
)


@given(codes)
def test_code_round_trips_through_display_and_short_forms(code):
    parsed = parse_code(code)
    assert parsed.value == code
    assert parse_code(parsed.display) == parsed
    assert parsed.display == format_code(code) == f"{code[:6]}-{code[6:9]}-{code[9:12]}-{code[12:]}"
    assert parsed.short.replace("-", "") == code[-8:]


def test_code_accepts_what_clerks_paste():
    assert parse_code(" １３０１２３-100-201-00001 ").value == "13012310020100001"


@pytest.mark.parametrize(("raw", "reason"), [
    ("", "为空"), ("1301231002010000", "17位"), ("130123100201000012", "17位"), ("13012310020100O01", "数字"),
    ("13012300020100001", "乡镇"), ("13012310000000001", "村"), ("13012310020100000", "顺序号"),
])
def test_malformed_codes_are_refused_with_the_reason(raw, reason):
    with pytest.raises(InvalidValue, match=reason):
        parse_code(raw)


@pytest.mark.parametrize("village", ["001", "101", "201", "399", "901"])
def test_both_village_ranges_the_sources_disagree_on_are_accepted(village):
    assert parse_code(f"130123100{village}00001").village == village
    assert village_kind(village) in {"居委会", "村委会", "其他"}


def test_standard_examples_have_the_right_check_character():
    assert check_char("11010519491231002") == "X"
    assert check_char("44052418800101001") == "4"
    assert upgrade_15("110105491231002") == "11010519491231002X"


@given(st.dates(date(1900, 1, 1), TODAY), st.integers(0, 999))
def test_made_numbers_validate_and_carry_birth_date_and_sex(born, sequence):
    number = parse_id_number(make_id_number("130123", born, sequence), today=TODAY)
    assert number.birth_date == born
    assert number.sex == ("1" if sequence % 2 else "2")


@given(st.dates(date(1900, 1, 1), TODAY), st.integers(0, 999), st.integers(0, 16), st.integers(1, 9))
def test_any_single_digit_error_is_caught(born, sequence, position, delta):
    good = make_id_number("130123", born, sequence)
    digit = (int(good[position]) + delta) % 10
    bad = good[:position] + str(digit) + good[position + 1:]
    with pytest.raises(InvalidValue):
        parse_id_number(bad, today=TODAY)


@pytest.mark.parametrize(("raw", "reason"), [
    ("110105194912310021", "校验位错误：末位应为“X”"), ("11010519491231002", "18位"),
    ("99010519491231002X", "省级"), ("11010519491331002" + check_char("11010519491331002"), "不存在"),
    ("1101051949123100ZX", "只能包含"),
    (make_id_number("110105", date(2030, 1, 1), 1), "晚于今天"),
])
def test_bad_id_numbers_say_why(raw, reason):
    with pytest.raises(InvalidValue, match=reason):
        parse_id_number(raw, today=TODAY)


def test_lower_case_x_and_full_width_digits_are_accepted_and_stored_upper_case():
    assert parse_id_number("１１０１０５１９４９１２３１００２x", today=TODAY).value == "11010519491231002X"


@pytest.mark.parametrize(("raw", "expected"), [
    (20886, date(1957, 3, 7)), (20886.0, date(1957, 3, 7)), ("1956/3/7", date(1956, 3, 7)),
    ("19560307", date(1956, 3, 7)), (19560307, date(1956, 3, 7)), ("1956-03-07", date(1956, 3, 7)),
    ("1956年3月7日", date(1956, 3, 7)), ("１９５６－０３－０７", date(1956, 3, 7)), (" 1956.3.7 ", date(1956, 3, 7)),
])
def test_dates_in_every_shape_exports_use(raw, expected):
    assert parse_date(raw) == expected


@pytest.mark.parametrize("raw", ["1956-02-30", "abc", "1956-13-01"])
def test_impossible_dates_are_refused(raw):
    with pytest.raises(ValueError):
        parse_date(raw)


def test_text_normalisation():
    assert to_halfwidth("ＡＢ１２") == "AB12"
    assert clean_code(" 130123-100 201.00001 ") == "13012310020100001"
    assert clean_name(" 张 三 ") == "张三"
    assert clean_name("阿依古丽•买买提") == "阿依古丽·买买提"
    assert clean_name("<b>王</b>") == "<b>王</b>"


@pytest.mark.parametrize(("name", "initials"), [
    ("张三丰", "zsf"), ("单雄信", "sxx"), ("曾国藩", "zgf"), ("欧阳修", "oyx"), ("阿依古丽·买买提", "ayglmmt"),
    ("𠮷祥", "x"), ("王堃", "wk"), ("李犇", "lb"),
])
def test_pinyin_initials_use_surname_readings(name, initials):
    assert pinyin_initials(name) == initials


def test_population_tags_split_and_normalise():
    assert split_tags("高血压、糖尿病，老年人 高血压") == ["高血压", "2型糖尿病", "老年人"]
