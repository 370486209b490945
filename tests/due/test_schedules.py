"""Who is due in a month, with frozen dates: children by age, maternal by 预产期, TB by treatment start, the
quarterly follow-ups until a visit is recorded, the elderly in their birthday month; walking order; scopes; the
site's own schedule file (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from archiveprint.accounts.scope import AccessScope, apply_scope
from archiveprint.configfile import ConfigError
from archiveprint.due.queries import DueList, find_due
from archiveprint.due.schedules import add_months, find_schedule, load_schedules
from archiveprint.due.services import packet_villages, record_visit, set_dates, void_visit
from archiveprint.errors import Conflict, InvalidValue, NotFound
from archiveprint.eventlog import list_events
from archiveprint.register.models import Household, Resident
from archiveprint.register.populations import find_population, load_populations, years_before
from tests.conftest import ACTOR

NOV = date(2026, 11, 1)
DEC = date(2026, 12, 1)


def visits_of(due: DueList, resident: Resident) -> list[tuple[str, str]]:
    return [(item.schedule, item.visit) for item in due.items if item.resident_id == resident.id]


@pytest.fixture(autouse=True)
def _no_site_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    instance = tmp_path / "instance"
    instance.mkdir()
    monkeypatch.setenv("ARCHIVEPRINT_INSTANCE", str(instance))
    return instance


def test_a_child_born_on_10_march_is_due_for_the_8_month_check_in_november(session: Session, create_resident):
    child = create_resident(name="王小宝", sex="1", birth_date=date(2026, 3, 10), relation_to_head="子")
    november = find_due(session, NOV)
    assert ("child_checks", "m8") in visits_of(november, child)
    item = next(i for i in november.items if i.resident_id == child.id and i.visit == "m8")
    assert item.due_on == date(2026, 11, 10)
    assert item.sheet == ("child_1_8m",) and item.column == 4 and item.forms == ()  # 续填 the sheet in the folder
    assert item.population == "0～6岁儿童" and item.age_text(november.month_end) == "8月"
    assert ("child_checks", "m8") not in visits_of(find_due(session, date(2026, 10, 1)), child)
    assert ("child_checks", "m8") not in visits_of(find_due(session, DEC), child)
    # the 满月 check starts the sheet: new sheet with the growth chart of the child's sex
    april = next(i for i in find_due(session, date(2026, 4, 1)).items if i.resident_id == child.id)
    assert april.visit == "m1" and april.new_sheet
    assert april.forms == ("child_1_8m", "growth_chart_boys", "growth_chart_girls")
    # 6 months is also the first TCM guidance (a new sheet of the 6～18 月龄 form)
    september = visits_of(find_due(session, date(2026, 9, 1)), child)
    assert ("child_checks", "m6") in september and ("child_tcm", "m6") in september


def test_a_recorded_visit_is_no_longer_due_and_a_voided_one_is_again(session: Session, create_resident):
    child = create_resident(name="王小宝", sex="1", birth_date=date(2026, 3, 10), relation_to_head="子")
    row = record_visit(session, child, "child_checks", visit="8月龄健康检查", on=date(2026, 11, 12), actor=ACTOR,
                       today=date(2026, 11, 12))
    assert ("child_checks", "m8") not in visits_of(find_due(session, NOV), child)
    with pytest.raises(Conflict):
        record_visit(session, child, "child_checks", visit="m8", on=date(2026, 11, 12), actor=ACTOR)
    void_visit(session, row.id, actor=ACTOR)
    assert ("child_checks", "m8") in visits_of(find_due(session, NOV), child)
    with pytest.raises(Conflict):
        void_visit(session, row.id, actor=ACTOR)


def test_a_hypertension_patient_with_no_visit_this_quarter_is_due(session: Session, create_resident):
    patient = create_resident(name="李高压", sex="1", birth_date=date(1970, 5, 2), tags=["高血压"])
    create_resident(patient.household, name="赵健康", sex="2", birth_date=date(1972, 6, 1), relation_to_head="配偶")
    due = find_due(session, NOV)
    assert visits_of(due, patient) == [("hypertension", "")]
    assert [i.name for i in due.items] == ["李高压"]  # the healthy neighbour is in no population
    item = due.items[0]
    assert item.due_on == date(2026, 12, 31) and item.column == 4 and not item.new_sheet  # Q4: column 4
    # a visit last quarter does not count; one this quarter does, for every month of the quarter
    record_visit(session, patient, "hypertension", on=date(2026, 9, 20), actor=ACTOR)
    assert visits_of(find_due(session, NOV), patient) == [("hypertension", "")]
    record_visit(session, patient, "高血压患者随访", on=date(2026, 10, 8), actor=ACTOR)
    assert visits_of(find_due(session, NOV), patient) == []
    assert visits_of(find_due(session, DEC), patient) == []
    january = find_due(session, date(2027, 1, 1))
    assert visits_of(january, patient) == [("hypertension", "")]
    assert january.items[0].new_sheet  # Q1 starts a new sheet of four columns
    with pytest.raises(InvalidValue):  # a periodic schedule needs no visit id; an anchored one does
        record_visit(session, patient, "child_checks", on=date(2026, 10, 8), actor=ACTOR)
    with pytest.raises(NotFound):
        record_visit(session, patient, "child_checks", visit="m99", on=date(2026, 10, 8), actor=ACTOR)
    with pytest.raises(InvalidValue):
        record_visit(session, patient, "hypertension", on=date(2026, 12, 8), actor=ACTOR, today=date(2026, 12, 7))


def test_maternal_visits_follow_the_due_date_and_the_delivery(session: Session, create_resident):
    mother = create_resident(name="刘孕妇", sex="2", birth_date=date(1996, 1, 1), tags=["孕产妇"])
    undated = create_resident(mother.household, name="陈未登", sex="2", birth_date=date(1998, 1, 1), tags=["孕产妇"],
                              relation_to_head="配偶")
    assert find_due(session, NOV).undated == {"孕期健康管理": 2, "产后健康管理": 2}
    set_dates(session, mother, {"due_date": date(2027, 3, 1)}, actor=ACTOR)
    # 预产期 2027-03-01: 孕12周 = 2026-08-17 (第1次), 孕32周 = 2027-01-04 (第4次), 产后 from the due date until
    # the delivery is entered
    assert visits_of(find_due(session, date(2026, 8, 1)), mother) == [("prenatal", "first")]
    assert visits_of(find_due(session, date(2027, 1, 1)), mother) == [("prenatal", "v4")]
    assert visits_of(find_due(session, date(2027, 3, 1)), mother) == [("postpartum", "visit")]
    set_dates(session, mother, {"delivery_date": date(2027, 2, 20)}, actor=ACTOR)
    assert visits_of(find_due(session, date(2027, 2, 1)), mother) == [("prenatal", "v5"), ("postpartum", "visit")]
    assert visits_of(find_due(session, date(2027, 4, 1)), mother) == [("postpartum", "d42")]
    assert find_due(session, NOV).undated == {"孕期健康管理": 1, "产后健康管理": 1}
    assert visits_of(find_due(session, NOV), undated) == []
    with pytest.raises(InvalidValue):
        set_dates(session, mother, {"delivery_date": date(1990, 1, 1)}, actor=ACTOR)
    with pytest.raises(InvalidValue):
        set_dates(session, mother, {"birth_date": date(1990, 1, 1)}, actor=ACTOR)


def test_tuberculosis_visits_count_from_the_treatment_start(session: Session, create_resident):
    patient = create_resident(name="周结核", sex="1", birth_date=date(1980, 2, 2), tags=["肺结核"])
    set_dates(session, patient, {"tb_treatment_start": date(2026, 7, 30)}, actor=ACTOR)
    assert visits_of(find_due(session, date(2026, 8, 1)), patient) == [("tuberculosis", "first"),
                                                                       ("tuberculosis", "m1")]
    december = find_due(session, DEC)
    assert visits_of(december, patient) == [("tuberculosis", "m5")]
    assert december.items[0].new_sheet  # the fifth month starts the second sheet of four


def test_the_elderly_are_due_once_a_year_in_their_birthday_month(session: Session, create_resident):
    elder = create_resident(name="孙老人", sex="1", birth_date=date(1950, 11, 23))
    young = create_resident(elder.household, name="孙年轻", sex="1", birth_date=date(1962, 11, 23),
                            relation_to_head="子")
    assert visits_of(find_due(session, NOV), elder) == [("elderly", "")]
    assert visits_of(find_due(session, NOV), young) == []  # 64 on 30 November
    assert visits_of(find_due(session, DEC), elder) == []
    item = find_due(session, NOV).items[0]
    assert item.forms == ("health_check", "elderly_selfcare", "elderly_tcm")
    record_visit(session, elder, "elderly", on=date(2026, 3, 1), actor=ACTOR)
    assert visits_of(find_due(session, NOV), elder) == []


def test_due_lists_walk_the_households_in_filing_order_and_keep_to_the_scope(
        session: Session, create_household: Callable[..., Household], create_resident):
    east2 = create_household(village="201", head_name="钱二", address="东村2组")
    east1 = create_household(village="201", head_name="钱一", address="东村1组")
    west = create_household(village="202", head_name="吴西", address="西村1组")
    # household numbers follow creation: east2 is 第1户, east1 第2户
    wife = create_resident(east2, name="钱妻", sex="2", birth_date=date(1950, 11, 2), relation_to_head="配偶")
    head = create_resident(east2, name="钱二", sex="1", birth_date=date(1950, 11, 1), relation_to_head="户主")
    other = create_resident(east1, name="钱一", sex="1", birth_date=date(1949, 11, 5), relation_to_head="户主")
    western = create_resident(west, name="吴西", sex="1", birth_date=date(1948, 11, 5), relation_to_head="户主")
    due = find_due(session, NOV)
    assert [i.name for i in due.items] == ["钱二", "钱妻", "钱一", "吴西"]
    assert [i.name for i in find_due(session, NOV, villages=["202"]).items] == ["吴西"]
    assert packet_villages(session, villages=["东村", "202"]) == ["201", "202"]
    assert packet_villages(session, everyone=True) is None
    with pytest.raises(InvalidValue):
        packet_villages(session)
    apply_scope(session, AccessScope.villages([west.village_id]))  # a village doctor of 西村
    assert [i.resident_id for i in find_due(session, NOV).items] == [western.id]
    assert {head.id, wife.id, other.id}.isdisjoint(i.resident_id for i in find_due(session, NOV).items)


def test_populations_are_data_with_one_rule_in_sql_and_python(session: Session, create_resident):
    assert list(load_populations()) == ["children", "elderly", "hypertension", "diabetes", "mental", "tuberculosis",
                                        "maternal"]
    elderly = find_population("65岁及以上老年人")
    on = date(2026, 11, 30)
    born = [date(1961, 11, 30), date(1961, 12, 1), date(2020, 12, 1), date(2019, 11, 30)]
    home = create_resident(name="甲家", sex="1", birth_date=date(1990, 1, 1)).household
    people = [create_resident(home, name=f"甲{n}", sex="1", birth_date=b, relation_to_head="子")
              for n, b in enumerate(born)]
    for population in (elderly, find_population("children")):
        in_sql = set(session.scalars(select(Resident.id).where(population.clause(on))))
        in_python = {p.id for p in people if population.holds(birth_date=p.birth_date, tags=[], dates={},
                                                              sex=p.sex, on=on)}
        assert in_sql == in_python
    assert {p.name for p in people if elderly.holds(birth_date=p.birth_date, tags=[], dates={}, sex="1", on=on)} \
        == {"甲0"}
    assert years_before(date(2024, 2, 29), 1) == date(2023, 2, 28)
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    with pytest.raises(NotFound):
        find_population("青少年")


def test_a_site_replaces_switches_off_or_adds_schedules(_no_site_file: Path):
    (_no_site_file / "due_schedules.yaml").write_text(
        "- id: hypertension\n  name: 高血压月访\n  population: hypertension\n  every: month\n"
        "  forms: [hypertension_followup]\n  columns: 4\n"
        "- id: mental\n  enabled: false\n", encoding="utf-8")
    schedules = load_schedules()
    assert schedules["hypertension"].every == "month" and schedules["hypertension"].name == "高血压月访"
    assert "mental" not in schedules and "diabetes" in schedules
    assert find_schedule("高血压月访").id == "hypertension"


@pytest.mark.parametrize(("text", "line", "words"), [
    ("- id: x\n  name: 某排期\n  population: teenagers\n  every: month\n", 3, "没有这个重点人群"),
    ("- id: x\n  name: 某排期\n  population: elderly\n  every: weekly\n", 4, "应为以下之一"),
    ("- id: x\n  name: 某排期\n  population: elderly\n  every: month\n  forms: [no_such_form]\n", 1,
     "不存在的表单"),
    ("- id: x\n  name: 某排期\n  population: elderly\n", 1, "every"),
    ("- id: x\n  name: 某排期\n  population: elderly\n  anchor: [wedding_day]\n  visits:\n"
     "    - {id: a, name: 甲, after: {days: 1}}\n", 1, "没有这种登记日期"),
])
def test_a_bad_site_schedule_file_is_refused_naming_file_line_and_value(_no_site_file: Path, text: str, line: int,
                                                                        words: str):
    (_no_site_file / "due_schedules.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_schedules()
    assert "服务排期 due_schedules.yaml" in str(caught.value) and words in str(caught.value)
    assert caught.value.row == line


def test_registering_the_dates_is_logged(session: Session, create_resident):
    mother = create_resident(name="刘孕妇", sex="2", birth_date=date(1996, 1, 1), tags=["孕产妇"])
    changed = set_dates(session, mother, {"due_date": date(2027, 3, 1), "tb_treatment_start": None}, actor=ACTOR)
    assert changed == {"due_date": [None, "2027-03-01"]}
    events = [e for e in list_events(session, "resident", mother.archive_code) if e.kind == "resident.updated"]
    assert events[-1].data["changes"] == {"due_date": [None, "2027-03-01"]}
