"""Lending rules as data, and the pure decisions made from them (no database)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
import yaml

from archiveprint.errors import InvalidValue
from archiveprint.lending.queries import loan_code, month_bounds, parse_loan_code
from archiveprint.lending.rules import (
    Evidence,
    load_rules,
    missing_requirements,
    parse_rules,
    renewal_refusal,
    renewed_due,
    rules_files,
    shipped_rules_file,
    site_rules,
)
from archiveprint.lending.rules import due_date as compute_due
from archiveprint.pdf.barcodes import with_check

DAY = date(2026, 11, 25)


def test_shipped_rules_follow_the_issue_defaults(rules):
    staff = rules.rule_for("staff")
    assert (staff.loan_days, staff.renewals, staff.may_leave_building, staff.requirements) == (14, 1, True, ())
    village = rules.rule_for("village_doctor")
    assert village.own_villages_only and village.loan_days == 14
    external = rules.rule_for("external")
    assert external.requirements == ("application", "approval", "consent")
    assert not external.may_leave_building and external.renewals == 0
    assert list(rules.purposes.values()) == ["复诊", "随访", "入户服务", "转诊/会诊", "督导检查", "其他"]
    assert list(rules.conditions.values()) == ["完好", "缺页", "破损"]
    assert rules.timezone == "Asia/Shanghai"


def test_sensitive_groups_make_any_rule_stricter_never_looser(rules):
    assert rules.is_sensitive(["高血压", "严重精神障碍"]) and not rules.is_sensitive(["高血压"])
    staff = rules.rule_for("staff", sensitive=True)
    assert staff.needs_approval and staff.needs_consent and not staff.needs_application
    assert staff.may_leave_building  # the shipped sensitive section does not set it
    external = rules.rule_for("external", sensitive=True)
    assert external.requirements == ("application", "approval", "consent") and not external.may_leave_building


def test_purposes_and_conditions_accept_code_or_label(rules):
    assert rules.purpose("随访") == rules.purpose("follow_up") == "follow_up"
    assert rules.purpose("转诊/会诊") == "referral"
    with pytest.raises(InvalidValue) as error:
        rules.purpose("闲聊")
    assert error.value.field == "借阅事由" and "复诊" in str(error.value)
    assert rules.condition("") == rules.condition("完好") == "intact"
    assert rules.condition("缺页") == "missing_pages"
    with pytest.raises(InvalidValue, match="归还状况"):
        rules.condition("湿了")
    with pytest.raises(InvalidValue, match="借阅人类型"):
        rules.rule_for("nobody")


def test_due_dates_renewals_and_overdue_levels(rules):
    staff, external = rules.rule_for("staff"), rules.rule_for("external")
    assert compute_due(staff, DAY) == date(2026, 12, 9)
    assert compute_due(staff, DAY, on_site=True) == DAY
    assert compute_due(external, DAY) == DAY  # read in the archive room: back the same day
    assert renewed_due(staff, date(2026, 12, 9), DAY) == date(2026, 12, 23)
    assert renewed_due(staff, date(2026, 11, 20), DAY) == date(2026, 12, 9)  # late: from today
    assert rules.overdue_level(DAY, DAY) == 0
    assert rules.overdue_level(date(2026, 11, 24), DAY) == 1
    assert rules.overdue_level(date(2026, 11, 10), DAY) == 2
    assert rules.overdue_level(date(2026, 10, 1), DAY) == 3


def test_renewal_refusals_name_the_reason(rules):
    staff = rules.rule_for("staff")
    assert renewal_refusal(staff, renewals=0, on_site=False, lost=False, waiting=0) is None
    assert "最多续借 1 次" in renewal_refusal(staff, renewals=1, on_site=False, lost=False, waiting=0)
    assert "室内查阅" in renewal_refusal(staff, renewals=0, on_site=True, lost=False, waiting=0)
    assert "2 人在等" in renewal_refusal(staff, renewals=0, on_site=False, lost=False, waiting=2)
    assert "丢失" in renewal_refusal(staff, renewals=0, on_site=False, lost=True, waiting=0)


def test_missing_requirements_in_the_order_they_are_done(rules):
    external = rules.rule_for("external")
    evidence = Evidence(application_scan=True, consent_scan=False)
    nothing = dict(application_ref="", application_scan=False, consent_ref="", consent_scan=False, approved=False)
    assert missing_requirements(external, evidence, **nothing) == [
        "书面申请（申请编号）", "居民或监护人同意的证明", "审批"]
    no_scan = {**nothing, "application_ref": "申2026-1", "consent_ref": "同意书1"}
    assert missing_requirements(external, evidence, **no_scan) == ["书面申请扫描件", "审批"]
    complete = {**no_scan, "application_scan": True, "approved": True}
    assert missing_requirements(external, evidence, **complete) == []
    assert missing_requirements(rules.rule_for("staff"), evidence, **nothing) == []


def test_local_dates_use_the_archive_time_zone(rules):
    assert rules.local_date(datetime(2026, 11, 24, 17, 0)) == DAY  # 01:00 on the 25th in Beijing
    assert rules.local_date(datetime(2026, 11, 24, 15, 59)) == date(2026, 11, 24)
    year, month, start, end = month_bounds("2026-11", rules.timezone)
    assert (year, month, start, end) == (2026, 11, datetime(2026, 10, 31, 16, 0), datetime(2026, 11, 30, 16, 0))
    assert month_bounds("2026-12", rules.timezone)[3] == datetime(2026, 12, 31, 16, 0)
    for bad in ("2026-13", "11/2026", ""):
        with pytest.raises(InvalidValue, match="YYYY-MM"):
            month_bounds(bad, rules.timezone)


def test_loan_numbers_carry_a_check_digit():
    assert loan_code(1234) == "L" + with_check("00001234") and len(loan_code(1234)) == 10
    assert parse_loan_code(loan_code(1234)) == 1234
    assert parse_loan_code(loan_code(7).lower()) == 7
    assert parse_loan_code("F130123100201000017") is None
    wrong = loan_code(1234)[:-1] + str((int(loan_code(1234)[-1]) + 1) % 10)
    with pytest.raises(InvalidValue, match="校验位"):
        parse_loan_code(wrong)


# --- site overrides --------------------------------------------------------------------------------------------

def test_a_site_file_overrides_only_what_it_names(tmp_path: Path):
    (tmp_path / "lending_rules.yaml").write_text(
        "borrowers:\n  village_doctor: {loan_days: 30}\n  staff: {needs_approval: true}\n"
        "sensitive: {tags: [严重精神障碍, 肺结核]}\noverdue_levels: [3, 10]\n", encoding="utf-8")
    assert rules_files(tmp_path) == [shipped_rules_file(), tmp_path / "lending_rules.yaml"]
    site = site_rules(tmp_path)
    assert site.rule_for("village_doctor").loan_days == 30
    assert site.rule_for("village_doctor").own_villages_only  # kept from the shipped file
    assert site.rule_for("staff").requirements == ("approval",)
    assert site.sensitive_tags == ("严重精神障碍", "肺结核")
    assert site.overdue_levels == (3, 10)
    assert site.rule_for("external").requirements == ("application", "approval", "consent")
    assert rules_files(None) == [shipped_rules_file()]


@pytest.mark.parametrize(("text", "message"), [
    ("borowers: {}\n", "未知的键：borowers"),
    ("borrowers:\n  staff: {loan_dayz: 3}\n", "未知的键：loan_dayz"),
    ("borrowers:\n  staff: {loan_days: -1}\n", "loan_days 应为"),
    ("borrowers:\n  staff: {loan_days: 0}\n", "loan_days 至少为 1"),
    ("borrowers:\n  staff: {needs_approval: 'yes'}\n", "应为 true 或 false"),
    ("borrowers:\n  student: {}\n", "未知的借阅人类型"),
    ("borrowers:\n  staff: {purposes: [shopping]}\n", "未定义的事由"),
    ("sensitive: {loan_days: 3}\n", "sensitive 中有未知的键"),
    ("evidence: {scan: true}\n", "evidence 中有未知的键"),
    ("overdue_levels: [10, 5]\n", "overdue_levels"),
    ("timezone: Mars/Olympus\n", "未知的时区"),
    ("- just a list\n", "键值映射"),
    ("borrowers: [\n", "YAML"),
])
def test_a_bad_site_file_is_refused_with_the_key_named(tmp_path: Path, text: str, message: str):
    site = tmp_path / "lending_rules.yaml"
    site.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidValue) as error:
        load_rules([shipped_rules_file(), site])
    assert message in str(error.value)
    assert error.value.field  # names the file (or files) it came from


def test_issue_16_a_broken_site_file_names_its_file_line_field_and_value(tmp_path: Path):
    site = tmp_path / "lending_rules.yaml"
    site.write_text("borrowers:\n  staff:\n    label: 本院职工\n    loan_days: 400\n", encoding="utf-8")
    with pytest.raises(InvalidValue) as error:
        load_rules([shipped_rules_file(), site])
    assert (error.value.row, error.value.field, error.value.value) == (4, "loan_days", 400)
    assert str(error.value) == (f"第4行，「loan_days」，值“400”：借阅规则 {site}："
                                "borrowers.staff.loan_days 应为 0–366 的整数")


def test_issue_16_a_mistake_is_placed_in_the_file_it_came_from(tmp_path: Path):
    base, site = tmp_path / "base.yaml", tmp_path / "lending_rules.yaml"
    text = shipped_rules_file().read_text(encoding="utf-8")
    base.write_text(text.replace("overdue_levels: [1, 15, 30]", "overdue_levels: [30, 15]"), encoding="utf-8")
    site.write_text("borrowers:\n  staff: {loan_days: 7}\n", encoding="utf-8")
    with pytest.raises(InvalidValue) as error:
        load_rules([base, site])
    line = text.splitlines().index("overdue_levels: [1, 15, 30]") + 1
    assert (error.value.row, error.value.field, error.value.value) == (line, "overdue_levels", [30, 15])
    assert error.value.message == f"借阅规则 {base}：overdue_levels 应为递增的正整数列表（逾期天数）"


def test_conditions_must_keep_intact():
    raw = yaml.safe_load(shipped_rules_file().read_text(encoding="utf-8"))
    raw["conditions"] = {"ok": "好"}
    with pytest.raises(InvalidValue, match="intact"):
        parse_rules(raw)
