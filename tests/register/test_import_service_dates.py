"""The import's optional service-date columns (预产期, 分娩日期, 结核治疗开始日期): read, checked, compared and logged
like the other dates, never cleared by a file that does not carry them; the demo export carries them."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from archiveprint.eventlog import Event
from archiveprint.register import demo, services
from archiveprint.register.demo import EXPORT_HEADERS
from archiveprint.register.models import Resident
from archiveprint.register.rowcheck import DATE_WRITTEN
from tests.conftest import ACTOR, TODAY
from tests.register.test_importer import HEADER, counts, family, person, resident, run, write_csv, write_xlsx

DATES = ["预产期", "分娩日期", "结核治疗开始日期"]
WIFE = "13012310020100002"  # 李秀英, born 1958-06-01 (the second row of family())
HEAD = "13012310020100001"  # 张三丰, a man born 1956-03-07


def with_dates(rows: list[list[object]], dates: dict[int, tuple[object, object, object]]) -> list[list[object]]:
    """The rows with the three date columns, filled for the rows named (by position)."""
    return [[*row, *dates.get(index, ("", "", ""))] for index, row in enumerate(rows)]


def young_family() -> list[list[object]]:
    """family() with a young wife (born 1996), so a pregnancy is believable."""
    rows = family()
    rows[1] = person(2, "李秀英", date(1996, 6, 1), 12, relation="配偶", head="张三丰")
    return rows


def events(session, kind: str, code: str) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    return [e.data for e in session.scalars(select(Event).where(Event.kind == kind, Event.entity_id == code)
                                            .order_by(Event.id))]


def test_the_three_dates_are_imported_with_new_residents(session, township, tmp_path):
    rows = with_dates(young_family(), {1: ("2027-03-01", "", ""), 2: ("", "", "2026-09-15")})
    report = run(session, write_xlsx(tmp_path / "dates.xlsx", rows, header=[*HEADER, *DATES]))
    assert report.ok and report.added == 4 and report.flagged == []
    wife, wang = resident(session, WIFE), resident(session, "13012310020100003")
    assert (wife.due_date, wife.delivery_date, wife.tb_treatment_start) == (date(2027, 3, 1), None, None)
    assert (wang.due_date, wang.tb_treatment_start) == (None, date(2026, 9, 15))
    assert resident(session, HEAD).due_date is None


@pytest.mark.parametrize("headers", [
    ["预产日期", "分娩时间", "治疗开始日期"],
    ["预计分娩日期", "实际分娩日期", "开始治疗日期"],
    ["预产期 ", "*分娩日期", "结核治疗开始时间"],
])
def test_aliases_of_the_date_headers(session, township, tmp_path, headers):
    rows = with_dates(young_family(), {1: ("2026/5/1", "2026年4月28日", ""), 3: ("", "", "20260601")})
    report = run(session, write_csv(tmp_path / "alias.csv", rows, header=[*HEADER, *headers]))
    assert report.ok and report.added == 4, report.summary()
    wife, zhao = resident(session, WIFE), resident(session, "13012310000100001")
    assert (wife.due_date, wife.delivery_date) == (date(2026, 5, 1), date(2026, 4, 28))
    assert zhao.tb_treatment_start == date(2026, 6, 1)
    # Written otherwise than 年-月-日: rewritten, and said so, as for the other dates.
    fixed = {(note.row, note.column): (note.kind, note.old, note.new) for note in report.normalised}
    assert fixed[(4, headers[0].strip())] == (DATE_WRITTEN, "2026/5/1", "2026-05-01")
    assert fixed[(4, headers[1])] == (DATE_WRITTEN, "2026年4月28日", "2026-04-28")


def test_a_changed_date_is_compared_reported_and_logged_and_a_reimport_changes_nothing(session, township,
                                                                                      tmp_path):
    header = [*HEADER, *DATES]
    first = write_csv(tmp_path / "v1.csv", with_dates(young_family(), {1: ("2027-03-01", "", "")}), header=header)
    assert run(session, first).added == 4
    delivered = write_csv(tmp_path / "v2.csv", with_dates(young_family(), {1: ("2027-03-01", "2026-11-20", "")}),
                          header=header)

    preview = run(session, delivered, dry_run=True)  # what the web page shows before 确认导入
    assert (preview.changed, preview.unchanged, preview.applied) == (1, 3, False)
    assert {c.archive_code: c.fields for c in preview.changes} == {WIFE: {"分娩日期": ("", "2026-11-20")}}
    assert resident(session, WIFE).delivery_date is None  # a preview writes nothing

    report = run(session, delivered)
    assert report.applied and (report.changed, report.unchanged) == (1, 3)
    assert resident(session, WIFE).delivery_date == date(2026, 11, 20)
    assert events(session, "resident.updated", WIFE)[-1]["changes"] == {"delivery_date": [None, "2026-11-20"]}

    before = counts(session)
    again = run(session, delivered, force=True)  # read every row again: all unchanged, nothing written
    assert (again.changed, again.unchanged, again.applied) == (0, 4, False)
    assert counts(session) == before


def test_a_file_without_the_columns_or_with_blank_cells_leaves_the_stored_dates_alone(session, township, tmp_path):
    assert run(session, write_csv(tmp_path / "plain.csv", young_family())).added == 4
    wife = resident(session, WIFE)
    services.update_resident(session, wife, {"due_date": date(2027, 3, 1), "delivery_date": date(2026, 11, 1)},
                             actor=ACTOR)
    services.update_resident(session, resident(session, HEAD), {"tb_treatment_start": date(2026, 8, 1)},
                             actor=ACTOR)

    plain = run(session, write_csv(tmp_path / "again.csv", young_family()), force=True)
    blanks = run(session, write_csv(tmp_path / "blank.csv", with_dates(young_family(), {}),
                                    header=[*HEADER, *DATES]))
    for report in (plain, blanks):
        assert report.ok and (report.changed, report.unchanged) == (0, 4), report.summary()
    assert (resident(session, WIFE).due_date, resident(session, WIFE).delivery_date) == (date(2027, 3, 1),
                                                                                         date(2026, 11, 1))
    assert resident(session, HEAD).tb_treatment_start == date(2026, 8, 1)


@pytest.mark.parametrize(("position", "column", "value", "shown", "reason"), [
    (1, 0, "2027-13-01", "2027-13-01", "日期不存在"),
    (1, 0, "下个月", "下个月", "无法识别的日期格式"),
    (1, 0, "2028-01-01", "2028-01-01", "预产期距今超过300天（孕期约280天）"),
    (1, 1, "2026-12-01", "2026-12-01", "分娩日期晚于今天"),
    (1, 1, "1990-01-01", "1990-01-01（出生日期 1996-06-01）", "分娩日期早于出生日期"),
    (1, 1, "1900-01-01", "1900-01-01", "分娩日期的年份不合理"),
    (0, 0, "2027-01-01", "2027-01-01", "性别为男，不应有预产期或分娩日期"),
    (2, 2, "2026-12-25", "2026-12-25", "结核治疗开始日期晚于今天"),
])
def test_a_date_that_cannot_be_right_is_flagged_and_the_stored_value_kept(session, township, tmp_path, position,
                                                                          column, value, shown, reason):
    header = [*HEADER, *DATES]
    assert run(session, write_csv(tmp_path / "v1.csv", young_family())).added == 4
    code = [HEAD, WIFE, "13012310020100003"][position]
    field = ["due_date", "delivery_date", "tb_treatment_start"][column]
    services.update_resident(session, resident(session, code), {field: date(2026, 10, 1)}, actor=ACTOR)
    dates = ["", "", ""]
    dates[column] = value
    report = run(session, write_csv(tmp_path / "bad.csv", with_dates(young_family(), {position: tuple(dates)}),
                                    header=header))
    assert report.ok and report.applied, report.summary()  # a questionable date never refuses the register
    [flagged] = report.flagged
    assert (flagged.row, flagged.archive_code, flagged.flag.column, flagged.flag.value) == (
        position + 3, code, DATES[column], shown)
    assert reason in flagged.flag.reason
    stored = resident(session, code)
    assert getattr(stored, field) == date(2026, 10, 1)  # kept, not cleared, not replaced
    assert stored.review_flags == [{"column": DATES[column], "value": shown, "reason": flagged.flag.reason}]
    assert {c.archive_code: c.fields for c in report.changes}[code] == {
        "待核实": ("", f"{DATES[column]}：{flagged.flag.reason}")}


def test_the_demo_export_carries_the_dates_into_an_import(session, tmp_path):
    township = demo.generate(seed=21, villages=2, households_per_village=60, today=TODAY)
    people = {p.archive_code: p for h in township.households for p in h.members}
    dated = {code: p for code, p in people.items() if any(p.service_dates().values())}
    assert any(p.due_date for p in dated.values()) and any(p.delivery_date for p in dated.values())
    path = tmp_path / "花名册.xlsx"
    demo.write_export(township, path)
    services.configure_township(session, township.county_code, township.county_name, township.township_code,
                                township.township_name, actor=ACTOR)
    report = run(session, path, add_villages=True)
    assert report.ok and report.added == len(people) and report.flagged == [], report.summary()
    stored = {r.archive_code: r for r in session.scalars(select(Resident))}
    for code, made in people.items():
        resident_dates = {key: getattr(stored[code], key) for key in made.service_dates()}
        assert resident_dates == made.service_dates(), code
    assert list(EXPORT_HEADERS[-3:]) == DATES


def test_the_demo_loads_the_dates_too(session):
    township = demo.generate(seed=22, villages=1, households_per_village=80, today=TODAY)
    demo.load(session, township, actor=ACTOR)
    dated = [p for h in township.households for p in h.members if any(p.service_dates().values())]
    assert dated
    for made in dated:
        stored = session.scalars(select(Resident).where(Resident.archive_code == made.archive_code)).one()
        assert {key: getattr(stored, key) for key in made.service_dates()} == made.service_dates()
