"""The archive room's calendar: closed weekdays, holidays and 调休 working days move due dates to an open day."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
import yaml

from archiveprint.errors import InvalidValue
from archiveprint.eventlog import list_events
from archiveprint.lending.queries import loan_code
from archiveprint.lending.rules import (
    Calendar,
    load_rules,
    parse_calendar,
    parse_rules,
    renewed_due,
    shipped_rules_file,
)
from archiveprint.lending.rules import due_date as compute_due
from archiveprint.lending.services import check_out, renew
from tests.conftest import ACTOR

SITE_2026 = """\
calendar:
  closed_weekdays: [周六, 星期日]
  closed_dates: ["01-01 元旦", "2026-02-15..2026-02-23 春节", "05-01..05-05 劳动节", "10-01..10-07 国庆节"]
  working_dates: [2026-02-14, "2026-02-28", 2026-09-20, 2026-10-10]
"""


def _site(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    site = tmp_path / "lending_rules.yaml"
    site.write_text(text, encoding="utf-8")
    return load_rules([shipped_rules_file(), site])


def _shipped_raw() -> dict[str, object]:
    return yaml.safe_load(shipped_rules_file().read_text(encoding="utf-8"))


# --- the shipped calendar ------------------------------------------------------------------------------------------

def test_the_shipped_calendar_closes_weekends_and_the_fixed_holidays(rules):
    calendar = rules.calendar
    assert calendar.closed_weekdays == (5, 6)
    assert [span.text for span in calendar.closed_dates] == ["01-01 元旦", "05-01..05-05 劳动节", "10-01..10-07 国庆节"]
    assert calendar.working_dates == ()
    assert rules.request_expiry_days == 7
    assert calendar.is_open(date(2026, 11, 25))  # a Wednesday
    assert not calendar.is_open(date(2026, 11, 28)) and not calendar.is_open(date(2026, 11, 29))
    assert not calendar.is_open(date(2027, 10, 4))  # 国庆 is closed every year, whatever the weekday
    assert calendar.closed_reason(date(2027, 10, 4)) == "国庆节"
    assert calendar.closed_reason(date(2026, 11, 28)) == "周六"
    assert calendar.closed_reason(date(2026, 11, 25)) == ""


def test_a_due_date_on_a_closed_day_moves_to_the_next_open_day(rules):
    staff, external = rules.rule_for("staff"), rules.rule_for("external")
    calendar = rules.calendar
    assert compute_due(staff, date(2026, 11, 25), calendar=calendar) == date(2026, 12, 9)  # a Wednesday: stays
    assert compute_due(staff, date(2026, 11, 28), calendar=calendar) == date(2026, 12, 14)  # Sat → Monday
    assert compute_due(staff, date(2026, 9, 17), calendar=calendar) == date(2026, 10, 8)  # 10-01 → after 国庆
    assert compute_due(staff, date(2026, 9, 23), calendar=calendar) == date(2026, 10, 8)
    # reading-room loans are back the same day, open or not (the clerk is there when they are lent)
    assert compute_due(staff, date(2026, 11, 28), on_site=True, calendar=calendar) == date(2026, 11, 28)
    assert compute_due(external, date(2026, 11, 28), calendar=calendar) == date(2026, 11, 28)
    # renewals too: from the old due date, or from today when late
    assert renewed_due(staff, date(2026, 12, 14), date(2026, 12, 1), calendar=calendar) == date(2026, 12, 28)
    assert renewed_due(staff, date(2026, 12, 9), date(2026, 12, 18), calendar=calendar) == date(2027, 1, 4)
    # without a calendar (the pure functions' default) every day is open
    assert compute_due(staff, date(2026, 11, 28)) == date(2026, 12, 12)


def test_make_up_working_days_and_the_years_holidays_from_a_site_file(tmp_path: Path):
    site = _site(tmp_path, SITE_2026)
    staff, calendar = site.rule_for("staff"), site.calendar
    assert calendar.closed_weekdays == (5, 6)
    assert compute_due(staff, date(2026, 9, 26), calendar=calendar) == date(2026, 10, 10)  # 调休: a working Saturday
    assert compute_due(staff, date(2026, 9, 26), calendar=Calendar((5, 6))) == date(2026, 10, 12)
    assert compute_due(staff, date(2026, 2, 5), calendar=calendar) == date(2026, 2, 24)  # 春节 2026 → Tuesday
    assert calendar.is_open(date(2026, 2, 14)) and not calendar.is_open(date(2027, 2, 14))  # that year only
    october = calendar.closed_days(date(2026, 10, 1), date(2026, 10, 31))
    assert len(october) == 7 + 6 and date(2026, 10, 10) not in october and date(2026, 10, 11) in october
    assert calendar.as_json() == {
        "closed_weekdays": ["saturday", "sunday"],
        "closed_dates": ["01-01 元旦", "2026-02-15..2026-02-23 春节", "05-01..05-05 劳动节", "10-01..10-07 国庆节"],
        "working_dates": ["2026-02-14", "2026-02-28", "2026-09-20", "2026-10-10"]}


def test_a_site_may_open_every_day_and_switch_expiry_off(tmp_path: Path):
    site = _site(tmp_path, "calendar: {closed_weekdays: [], closed_dates: []}\nrequest_expiry_days: 0\n")
    assert site.calendar == Calendar()
    assert compute_due(site.rule_for("staff"), date(2026, 11, 28), calendar=site.calendar) == date(2026, 12, 12)
    assert site.request_expiry_cutoff(date(2026, 11, 25)) is None


@pytest.mark.parametrize(("calendar", "message"), [
    ({"closed_weekday": ["sunday"]}, "calendar 中有未知的键：closed_weekday"),
    ({"closed_weekdays": ["funday"]}, "无法识别的星期"),
    ({"closed_weekdays": "sunday"}, "calendar.closed_weekdays 应为列表"),
    ({"closed_weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}, "不能包含全部 7 天"),
    ({"closed_dates": ["2026-02-30"]}, "无效的日期"),
    ({"closed_dates": ["13-01"]}, "无效的日期"),
    ({"closed_dates": ["国庆"]}, "无效的日期"),
    ({"closed_dates": ["10-01~10-07"]}, "无效的日期"),
    ({"closed_dates": [20261001]}, "应写成 YYYY-MM-DD 或 MM-DD"),
    ({"closed_dates": [datetime(2026, 10, 1, 8, 0)]}, "应写成 YYYY-MM-DD 或 MM-DD"),
    ({"closed_dates": ["2026-10-07..2026-10-01"]}, "结束日期早于开始日期"),
    ({"closed_dates": ["12-30..01-02"]}, "不能跨年"),
    ({"closed_dates": ["2026-10-01..10-07"]}, "同为 YYYY-MM-DD 或同为 MM-DD"),
    ({"closed_dates": ["2026-01-01..2027-06-30"]}, "不能超过 366 天"),
    ({"working_dates": ["10-10"]}, "须写明年份"),
    ({"working_dates": ["2026-10-03"]}, "2026-10-03 同时列在 closed_dates（10-01..10-07 国庆节）和 working_dates 中"),
    ({"working_dates": ["2026-10-12"]}, "2026-10-12 是周一，档案室本来就开放"),
    ({"working_dates": ["2026-10-10..2026-10-12"]}, "2026-10-12 是周一"),
])
def test_a_bad_calendar_is_refused_in_chinese_naming_what_is_wrong(calendar, message):
    raw = _shipped_raw()
    raw["calendar"] = {**raw["calendar"], **calendar}  # type: ignore[dict-item]
    with pytest.raises(InvalidValue) as error:
        parse_rules(raw, sources=("site.yaml",))
    assert message in str(error.value)
    assert "借阅规则 site.yaml：" in error.value.message and error.value.field == next(iter(calendar))


@pytest.mark.parametrize("value", [-1, 367, "7", True])
def test_request_expiry_days_must_be_a_whole_number_of_days(value):
    raw = _shipped_raw()
    raw["request_expiry_days"] = value
    with pytest.raises(InvalidValue, match="request_expiry_days 应为 0–366 的整数"):
        parse_rules(raw)


def test_a_calendar_with_no_open_day_in_reach_is_an_error_not_a_hang():
    closed_all_year = parse_calendar({"closed_dates": ["01-01..06-30", "07-01..12-31"]})
    with pytest.raises(InvalidValue, match="没有开放日"):
        closed_all_year.next_open(date(2026, 3, 1))


# --- check-out and renewal use it ----------------------------------------------------------------------------------

SATURDAY = datetime(2026, 11, 28, 1, 0)  # 09:00 in Beijing on Saturday 2026-11-28


def test_a_saturday_check_out_is_due_on_the_monday_two_weeks_later(desk):
    loan = check_out(desk.session, desk.code(desk.homes[0]), borrower=desk.doctor, purpose="随访", rules=desk.rules,
                     actor=ACTOR, now=SATURDAY)
    assert loan.due_on == date(2026, 12, 14)
    assert list_events(desk.session, "loan", loan.id)[0].data["due_on"] == "2026-12-14"
    on_site = check_out(desk.session, desk.code(desk.homes[1]), borrower=desk.doctor, purpose="随访", on_site=True,
                        rules=desk.rules, actor=ACTOR, now=SATURDAY)
    assert on_site.due_on == date(2026, 11, 28)


def test_a_renewal_that_would_end_on_new_years_day_ends_on_the_next_open_day(desk):
    loan = check_out(desk.session, desk.code(desk.homes[0]), borrower=desk.doctor, purpose="随访", rules=desk.rules,
                     actor=ACTOR, now=datetime(2026, 12, 4, 1, 0))  # Friday: due Friday 12-18
    assert loan.due_on == date(2026, 12, 18)
    renewed = renew(desk.session, loan_code(loan.id), rules=desk.rules, actor=ACTOR, now=datetime(2026, 12, 17, 1, 0))
    assert renewed.due_on == date(2027, 1, 4)  # 12-18 + 14 = 元旦 (Friday), then the weekend
    event = list_events(desk.session, "loan", loan.id)[-1]
    assert (event.kind, event.data["old_due"], event.data["due_on"]) == ("loan.renewed", "2026-12-18", "2027-01-04")
