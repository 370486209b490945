"""Importing register exports (.xlsx, .csv in four encodings): every rule, all-or-nothing, idempotent updates."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archiveprint.errors import ArchiveprintError, InvalidValue
from archiveprint.eventlog import Event
from archiveprint.register import queries, services
from archiveprint.register.idcard import make_id_number
from archiveprint.register.importer import ImportReport, import_file, parse_mapping, write_error_report
from archiveprint.register.models import Household, ImportRun, Resident, Village
from tests.conftest import ACTOR, TODAY

HEADER = ["档案编号", "姓名", "性别", "出生日期", "身份证号", "与户主关系", "户主姓名", "户号", "现住址",
          "所属村(居)委会", "联系电话", "建档日期", "人群分类"]
TITLE = "诸福屯镇居民健康档案花名册"
SEX = {"1": "男", "2": "女"}


def id_for(born: date, sequence: int) -> str:
    return make_id_number("130123", born, sequence)


def person(serial: int, name: str, born: date, sequence: int, *, village: str = "201", village_name: str = "东村",
           relation: str = "户主", head: str | None = None, household: str = "H001", address: str = "东村1组1号",
           phone: str = "", registered: object = "2020-05-01", tags: str = "") -> list[object]:
    """One row in the standard column order, with a valid ID whose 17th digit gives the sex."""
    number = id_for(born, sequence)
    return [f"130123100{village}{serial:05d}", name, SEX["1" if sequence % 2 else "2"], born.isoformat(), number,
            relation, head or name, household, address, village_name, phone, registered, tags]


def family() -> list[list[object]]:
    """Two households in 东村 and one in 城关社区."""
    return [
        person(1, "张三丰", date(1956, 3, 7), 11, phone="13800138000", tags="高血压、糖尿病"),
        person(2, "李秀英", date(1958, 6, 1), 12, relation="配偶", head="张三丰"),
        person(3, "王五", date(1980, 1, 2), 13, household="H002", address="东村2组5号", tags="老年人"),
        person(1, "赵六", date(1990, 12, 31), 15, village="001", village_name="城关社区", household="C001",
               address="城关社区3号楼"),
    ]


def write_csv(path: Path, rows: Sequence[Sequence[object]], *, encoding: str = "utf-8",
              header: Sequence[str] = HEADER, title: bool = True) -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        if title:
            writer.writerow([TITLE] + [""] * (len(header) - 1))
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, rows: Sequence[Sequence[object]], *, header: Sequence[str] = HEADER,
               title: bool = True) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    if title:
        sheet.append([TITLE])
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    workbook.save(path)
    return path


def run(session: Session, path: Path, **options: object) -> ImportReport:
    options.setdefault("actor", ACTOR)
    options.setdefault("today", TODAY)
    return import_file(session, path, **options)  # type: ignore[arg-type]


def counts(session: Session) -> dict[str, int]:
    return {model.__name__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Resident, Household, Event, ImportRun, Village)}


def resident(session: Session, code: str) -> Resident:
    return session.scalars(select(Resident).where(Resident.archive_code == code)).one()


def reasons(report: ImportReport) -> list[tuple[int, str, str, str]]:
    return [(p.row, p.column, p.value, p.reason) for p in report.problems]


# --- clean imports ----------------------------------------------------------------------------------------------

def test_clean_xlsx_with_a_merged_title_row(session, township, tmp_path):
    path = write_xlsx(tmp_path / "花名册.xlsx", family())
    report = run(session, path)
    assert reasons(report) == []
    assert (report.rows, report.accepted, report.refused, report.added) == (4, 4, 0, 4)
    assert report.applied and report.ok
    zhang = resident(session, "13012310020100001")
    assert (zhang.name, zhang.sex, zhang.birth_date, zhang.phone) == ("张三丰", "1", date(1956, 3, 7), "13800138000")
    assert zhang.tag_names == ["高血压", "2型糖尿病"]
    assert zhang.household is resident(session, "13012310020100002").household
    assert zhang.household.head_name == "张三丰" and zhang.household.external_no == "H001"
    assert resident(session, "13012310000100001").village.name == "城关社区"
    kinds = session.scalars(select(Event.kind).where(Event.kind.like("resident.%"))).all()
    assert kinds.count("resident.registered") == 4
    assert session.scalar(select(func.count()).select_from(Event).where(Event.kind == "household.created")) == 3
    run_row = session.scalars(select(ImportRun)).one()
    assert run_row.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (run_row.rows, run_row.added, run_row.filename) == (4, 4, "花名册.xlsx")
    assert [m.archive_code for m in queries.find_residents(session, "zsf")] == ["13012310020100001"]
    # Imported serials are reserved, so the next code handed out by a clerk follows them.
    assert services.allocate_serial(session, services.find_village(session, "201")).serial == 4
    assert "已写入" in report.summary() and "共4行" in report.summary()


RARE = ["𠮷祥", "刘䶮", "阿依古丽·买买提", "<b>王</b>"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_in_every_encoding_excel_writes(session, township, tmp_path, encoding):
    names = []
    for name in RARE:
        try:
            name.encode(encoding)
        except UnicodeEncodeError:
            continue
        names.append(name)
    assert ("𠮷祥" in names) is (encoding != "gbk")  # 𠮷 (Ext-B) is in GB18030 but not in GBK
    rows = [person(i + 1, name, date(1970, 1, 1 + i), 20 + i, household=f"H{i}") for i, name in enumerate(names)]
    path = write_csv(tmp_path / "export.csv", rows, encoding=encoding)
    report = run(session, path)
    assert reasons(report) == []
    assert report.added == len(names)
    stored = session.scalars(select(Resident.name).order_by(Resident.archive_code)).all()
    assert stored == names
    assert "<b>王</b>" in stored  # kept as plain text, not interpreted


def test_excel_serial_dates_and_datetime_cells(session, township, tmp_path):
    born = date(1956, 3, 7)
    row = person(1, "张三丰", born, 11, registered=datetime(2019, 4, 2, 0, 0))
    row[3] = (born - date(1899, 12, 30)).days  # 20521, as Excel stores a date without a date format
    report = run(session, write_xlsx(tmp_path / "serial.xlsx", [row]))
    assert reasons(report) == []
    stored = resident(session, "13012310020100001")
    assert (stored.birth_date, stored.registered_on) == (born, date(2019, 4, 2))


@pytest.mark.parametrize("typed", ["1956/3/7", "19560307", "1956-03-07", "1956年3月7日", "1956.3.7", "20521"])
def test_date_spellings_in_csv(session, township, tmp_path, typed):
    row = person(1, "张三丰", date(1956, 3, 7), 11)
    row[3] = typed
    report = run(session, write_csv(tmp_path / "d.csv", [row]))
    assert reasons(report) == []
    assert resident(session, "13012310020100001").birth_date == date(1956, 3, 7)


def test_full_width_digits_spaces_dashes_lower_x_and_legacy_ids(session, township, tmp_path):
    full = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
    born_x = next(date(1949, 12, d) for d in range(1, 29) if id_for(date(1949, 12, d), 3).endswith("X"))
    rows = [
        person(1, " 张 三 ", date(1956, 3, 7), 11),
        person(2, "李秀英", born_x, 3, relation="配偶", head="张三"),
        person(3, "王五", date(1949, 12, 31), 5, household="H002"),
    ]
    rows[0][0] = " 130123-100-201-00001 ".translate(full)
    rows[0][4] = str(rows[0][4]).translate(full)
    rows[0][10] = "１３８ ００１３ ８０００"
    rows[1][4] = str(rows[1][4]).lower()
    rows[2][4] = "130123491231005"  # 1989-style 15 digits
    report = run(session, write_csv(tmp_path / "f.csv", rows))
    assert reasons(report) == []
    first = resident(session, "13012310020100001")
    assert (first.name, first.id_number, first.phone) == ("张三", id_for(date(1956, 3, 7), 11), "13800138000")
    assert resident(session, "13012310020100002").id_number == id_for(born_x, 3)
    assert resident(session, "13012310020100002").id_number.endswith("X")
    assert resident(session, "13012310020100003").id_number == id_for(date(1949, 12, 31), 5)


def test_sex_codes_and_missing_sex_taken_from_the_id(session, township, tmp_path):
    rows = [person(i + 1, f"甲{i}", date(1970, 1, 1), 21 + i, household=f"H{i}") for i in range(4)]
    rows[0][2], rows[1][2], rows[2][2], rows[3][2] = "1", "2", "", "9"
    rows[3][4] = ""  # no ID: 9 (未说明) stays
    report = run(session, write_csv(tmp_path / "s.csv", rows))
    assert reasons(report) == []
    sexes = session.scalars(select(Resident.sex).order_by(Resident.archive_code)).all()
    assert sexes == ["1", "2", "1", "9"]


def test_header_synonyms_spaces_stars_and_full_width_parentheses(session, township, tmp_path):
    header = ["序号", "*健康档案编号", "姓 名", "性别＊", "出生年月日", "身份证号码", "关系", "户主", "家庭编号",
              "家庭住址", "村（居）委会", "手机号", "建档时间", "重点人群"]
    row = person(1, "张三丰", date(1956, 3, 7), 11, phone="13800138000", tags="高血压")
    report = run(session, write_csv(tmp_path / "h.csv", [[1, *row]], header=header))
    assert reasons(report) == []
    stored = resident(session, "13012310020100001")
    assert (stored.phone, stored.tag_names, stored.household.external_no) == ("13800138000", ["高血压"], "H001")


def test_household_from_head_and_address_when_there_is_no_household_number(session, township, tmp_path):
    header = [h for h in HEADER if h != "户号"]
    rows = [r[:7] + r[8:] for r in family()[:3]]
    report = run(session, write_csv(tmp_path / "n.csv", rows, header=header))
    assert reasons(report) == []
    assert resident(session, "13012310020100001").household_id == resident(session, "13012310020100002").household_id
    third = resident(session, "13012310020100003").household
    assert (third.match_key, third.head_name) == ("head:王五|东村2组5号", "王五")


def test_explicit_mapping_for_an_odd_header(session, township, tmp_path):
    header = ["居民档案号码", "居民名字", *HEADER[2:]]
    path = write_csv(tmp_path / "odd.csv", [family()[0]], header=header)
    with pytest.raises(ArchiveprintError, match="没有找到表头"):
        run(session, path)
    mapping = parse_mapping(("居民档案号码=档案编号", "居民名字 = 姓名"))
    assert mapping == {"居民档案号码": "档案编号", "居民名字": "姓名"}
    report = run(session, path, mapping=mapping)
    assert reasons(report) == []
    assert resident(session, "13012310020100001").name == "张三丰"


def test_mapping_overrides_a_standard_header(session, township, tmp_path):
    header = ["档案编号", "姓名", "曾用名", *HEADER[2:]]
    row = family()[0]
    path = write_csv(tmp_path / "alias.csv", [[row[0], "张老三", row[1], *row[2:]]], header=header)
    report = run(session, path, mapping={"曾用名": "姓名"})
    assert reasons(report) == []
    assert resident(session, "13012310020100001").name == "张三丰"


@pytest.mark.parametrize("pairs", [("姓名",), ("=姓名",), ("居民姓名=",), ("居民姓名=血型",)])
def test_bad_mapping_pairs_are_refused_in_chinese(pairs):
    with pytest.raises(InvalidValue, match=r"列映射|不是可导入的字段"):
        parse_mapping(pairs)


def test_mapping_of_a_column_the_file_does_not_have(session, township, tmp_path):
    path = write_csv(tmp_path / "m.csv", family())
    with pytest.raises(InvalidValue, match="不在表头"):
        run(session, path, mapping={"居民名字": "姓名"})


# --- problems ---------------------------------------------------------------------------------------------------

def test_wrong_check_digit_names_row_column_and_value(session, township, tmp_path):
    rows = family()
    good = str(rows[1][4])
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    rows[1][4] = bad
    report = run(session, write_xlsx(tmp_path / "x.xlsx", rows))
    (problem,) = report.problems
    assert (problem.row, problem.column, problem.value) == (4, "身份证号", bad)  # title row + header row + 2nd
    assert "校验位错误" in problem.reason and f"应为“{good[17]}”" in problem.reason
    assert (report.refused, report.accepted, report.applied) == (1, 3, False)
    assert "整份文件未写入" in report.summary()


def test_every_problem_of_a_row_is_reported(session, township, tmp_path):
    row = person(1, "张三丰", date(1956, 3, 7), 11)
    row[2] = "女"  # the ID says male
    row[3] = "1956-03-08"  # the ID says 1956-03-07
    row[9] = "西村"  # the code says 201 东村
    row[11] = "2030-01-01"
    report = run(session, write_csv(tmp_path / "all.csv", [row]))
    by_column = {p.column: p for p in report.problems}
    # 建档日期 2030: flagged 待核实, not refused (#10.8)
    assert set(by_column) == {"性别/身份证号", "出生日期/身份证号", "档案编号/所属村(居)委会"}
    sex = by_column["性别/身份证号"]
    assert sex.value == f"女 / {row[4]}" and "“女”" in sex.reason and "“男”" in sex.reason
    assert "1956-03-07" in by_column["出生日期/身份证号"].reason
    assert "201（东村）" in by_column["档案编号/所属村(居)委会"].reason
    assert report.refused == 1 and all(p.row == 3 for p in report.problems)


@pytest.mark.parametrize(("column", "value", "reason"), [
    (0, "13012310020100", "应为17位"),
    (0, "13012320020100001", "不属于本乡镇"),
    (0, "", "缺少档案编号"),
    (1, "", "缺少姓名"),
    (1, "张" * 65, "超过64个字"),
    (0, "1.30123E+16", "末尾几位已经丢失"),
    (4, "1.30123E+17", "末尾几位已经丢失"),
    (4, "13012319560307001", "应为18位"),
])
def test_a_bad_value_is_refused_with_a_chinese_reason(session, township, tmp_path, column, value, reason):
    row = person(1, "张三丰", date(1956, 3, 7), 11)
    row[3] = ""  # birth date from the ID unless the case sets it
    row[column] = value
    report = run(session, write_csv(tmp_path / "bad.csv", [row, person(2, "李秀英", date(1958, 6, 1), 12,
                                                                          relation="配偶", head="张三丰")]))
    assert report.problems, report.summary()
    assert any(reason in p.reason and p.row == 3 for p in report.problems), reasons(report)
    assert report.refused == 1 and report.accepted == 1 and not report.applied


def test_numbers_excel_stored_as_numbers(session, township, tmp_path):
    rows = family()[:2]
    rows[0][0] = 1.3012310020100001e16  # a code typed into a number cell: Excel keeps 15 digits
    rows[1][4] = int(str(rows[1][4])[:15] + "000")
    rows[1][10] = 13800138000.0  # a phone number is short enough to survive
    report = run(session, write_xlsx(tmp_path / "n.xlsx", rows))
    assert [(p.row, p.column) for p in report.problems] == [(3, "档案编号"), (4, "身份证号")]
    assert all("末尾几位已经丢失" in p.reason for p in report.problems)
    rows = family()[:2]
    rows[0][0] = 13012310020100001  # exact when the writer kept the integer
    rows[1][10] = 13800138000.0
    report = run(session, write_csv(tmp_path / "ok.csv", rows))
    assert reasons(report) == []
    assert resident(session, "13012310020100002").phone == "13800138000"


def test_village_column_as_name_code_or_statistical_code(session, township, tmp_path):
    rows = family()[:3]
    rows[0][9], rows[1][9], rows[2][9] = "东村村委会", "201", "130123100201"
    assert reasons(run(session, write_csv(tmp_path / "v.csv", rows))) == []


DISAGREES = "档案编号中的村代码 201（东村）与所属村(居)委会“{}”不一致"


@pytest.mark.parametrize(("given", "column", "value", "reason"), [
    ("西村", "档案编号/所属村(居)委会", "130123-100-201-00001 / 西村", DISAGREES.format("西村")),
    ("202", "档案编号/所属村(居)委会", "130123-100-201-00001 / 202", DISAGREES.format("202")),
    ("130123100202", "档案编号/所属村(居)委会", "130123-100-201-00001 / 130123100202",
     DISAGREES.format("130123100202")),
    # Another township's statistical code: the village is refused before it is compared with the code.
    ("130124100201", "所属村(居)委会", "130124100201", "村(居)委会代码不属于本乡镇"),
])
def test_village_that_disagrees_with_the_code(session, township, tmp_path, given, column, value, reason):
    row = person(1, "张三丰", date(1956, 3, 7), 11)
    row[9] = given
    report = run(session, write_csv(tmp_path / "v.csv", [row]))
    (problem,) = report.problems
    assert (problem.row, problem.column, problem.value, problem.reason) == (3, column, value, reason)


def test_duplicates_within_the_file(session, township, tmp_path):
    rows = family()
    rows[2][0] = rows[0][0]  # same code as row 3
    rows[3][4] = rows[1][4]  # same ID as row 4
    rows[3][2] = rows[1][2]
    report = run(session, write_csv(tmp_path / "dup.csv", rows))
    assert [(p.row, p.column, p.reason) for p in report.problems] == [
        (5, "档案编号", "档案编号与第3行重复"), (6, "身份证号", "身份证号与第4行重复")]
    assert counts(session)["Resident"] == 0


def test_id_number_held_by_another_record_in_the_database(session, township, create_resident, tmp_path):
    held = id_for(date(1956, 3, 7), 11)
    create_resident(id_number=held, name="张三丰", code=None)  # gets 13012310020100001
    row = person(9, "张三丰", date(1956, 3, 7), 11)
    before = counts(session)
    report = run(session, write_csv(tmp_path / "db.csv", [row]))
    (problem,) = report.problems
    assert (problem.row, problem.column, problem.value) == (3, "身份证号", held)
    assert "130123-100-201-00001" in problem.reason
    assert counts(session) == before


def test_unknown_village_needs_add_villages(session, township, tmp_path):
    rows = [person(1, "孙七", date(1970, 5, 5), 17, village="203", village_name="南村", household="S1"),
            person(2, "孙八", date(1972, 5, 5), 19, village="203", village_name="南村", household="S1",
                   relation="子", head="孙七")]
    path = write_csv(tmp_path / "new.csv", rows)
    report = run(session, path)
    assert {p.reason for p in report.problems} == {"村(居)委会“南村”未登记"}
    assert report.refused == 2
    report = run(session, path, add_villages=True)
    assert reasons(report) == []
    assert report.new_villages == [("203", "南村")]
    assert "新登记村(居)委会：203 南村" in report.summary()
    assert services.find_village(session, "南村").code == "203"
    assert resident(session, "13012310020300002").household.head_name == "孙七"


def test_conflicting_names_for_one_new_village(session, township, tmp_path):
    rows = [person(1, "孙七", date(1970, 5, 5), 17, village="203", village_name="南村", household="S1"),
            person(2, "孙八", date(1972, 5, 5), 19, village="203", village_name="北村", household="S2")]
    report = run(session, write_csv(tmp_path / "new.csv", rows), add_villages=True)
    (problem,) = report.problems
    assert problem.row == 4 and "两个村名" in problem.reason and "南村" in problem.reason
    assert session.scalar(select(Village).where(Village.code == "203")) is None


def test_a_new_name_for_a_known_village_segment_is_a_mismatch(session, township, tmp_path):
    row = person(1, "孙七", date(1970, 5, 5), 17, village="201", village_name="南村")
    report = run(session, write_csv(tmp_path / "new.csv", [row]), add_villages=True)
    (problem,) = report.problems
    assert "不一致" in problem.reason and report.new_villages == []


# --- transactions -----------------------------------------------------------------------------------------------

def test_one_bad_row_writes_nothing(session, township, tmp_path):
    rows = [*family(), person(9, "坏行", date(2030, 1, 1), 19)]
    before = counts(session)
    serials = session.execute(select(Village.code, Village.last_serial, Village.last_household_no)).all()
    report = run(session, write_csv(tmp_path / "bad.csv", rows))
    assert report.refused == 1 and report.accepted == 4 and report.added == 4 and not report.applied
    assert counts(session) == before
    assert session.execute(select(Village.code, Village.last_serial, Village.last_household_no)).all() == serials


def test_dry_run_reports_counts_and_writes_nothing(session, township, tmp_path):
    before = counts(session)
    report = run(session, write_csv(tmp_path / "d.csv", family()), dry_run=True, add_villages=True)
    assert (report.added, report.ok, report.applied, report.dry_run) == (4, True, False, True)
    assert "预览" in report.summary()
    assert counts(session) == before
    assert report.as_json() == {"rows": 4, "accepted": 4, "refused": 0, "added": 4, "changed": 0, "unchanged": 0,
                                "errors": [], "normalised": [], "flagged": [], "applied": False, "dry_run": True,
                                "already_imported": None}


def test_reimporting_the_same_file_changes_nothing(session, township, tmp_path):
    path = write_xlsx(tmp_path / "same.xlsx", family())
    assert run(session, path).added == 4
    before = counts(session)
    report = run(session, path, force=True)  # read every row (see test_reimport.py for the file recognised)
    assert (report.added, report.changed, report.unchanged, report.applied) == (0, 0, 4, False)
    assert report.ok and report.changes == [] and report.already is None
    assert counts(session) == before  # no events, no second ImportRun
    assert "没有需要写入的变化" in report.summary()


def test_updated_export_reports_each_changed_field_and_moves_households(session, township, tmp_path):
    assert run(session, write_csv(tmp_path / "v1.csv", family())).added == 4
    old_household = resident(session, "13012310020100002").household_id
    rows = family()
    rows[0][10] = "13900139000"  # phone
    rows[0][12] = "高血压"  # tags
    rows[1][5], rows[1][6], rows[1][7], rows[1][8] = "配偶", "王五", "H002", "东村2组5号"  # moves to 王五
    rows[2][1], rows[2][6] = "王伍", "王伍"  # renamed head of H002
    rows.append(person(4, "新生儿", date(2026, 1, 1), 17, relation="子", head="王伍", household="H002",
                       address="东村2组5号", registered="2026-02-01"))
    report = run(session, write_csv(tmp_path / "v2.csv", rows))
    assert reasons(report) == []
    assert (report.added, report.changed, report.unchanged) == (1, 3, 1)
    changes = {change.archive_code: change.fields for change in report.changes}
    assert changes["13012310020100001"] == {"联系电话": ("13800138000", "13900139000"),
                                            "人群分类": ("高血压、2型糖尿病", "高血压")}
    assert changes["13012310020100002"]["所在户"][0].startswith("东村第")
    assert changes["13012310020100002"]["现住址"] == ("东村1组1号", "东村2组5号")
    assert changes["13012310020100003"] == {"姓名": ("王五", "王伍")}
    moved = resident(session, "13012310020100002")
    assert moved.household_id != old_household
    assert moved.household_id == resident(session, "13012310020100003").household_id
    assert moved.household.head_name == "王伍"
    events = {(e.kind, e.entity_id): e.data for e in session.scalars(select(Event))}
    assert events[("resident.updated", "13012310020100001")]["changes"] == {"phone": ["13800138000", "13900139000"]}
    assert events[("resident.tags_changed", "13012310020100001")]["changes"] == {
        "tags": [["高血压", "2型糖尿病"], ["高血压"]]}
    assert events[("resident.moved", "13012310020100002")]["to_household"] == moved.household_id
    assert events[("resident.updated", "13012310020100003")]["changes"] == {"name": ["王五", "王伍"]}
    assert events[("household.updated", str(moved.household_id))]["changes"] == {"head_name": ["王五", "王伍"]}
    assert session.scalar(select(func.count()).select_from(ImportRun)) == 2


def test_two_residents_swapping_id_numbers(session, township, tmp_path):
    rows = family()[:2]
    rows[0][4], rows[1][4] = id_for(date(1956, 3, 7), 13), id_for(date(1958, 6, 1), 14)
    run(session, write_csv(tmp_path / "v1.csv", rows))
    rows[0][4], rows[1][4] = id_for(date(1956, 3, 7), 11), id_for(date(1958, 6, 1), 12)
    rows[1][4], rows[0][4] = rows[0][4], rows[1][4]  # typed into the wrong rows last time: swap back
    rows[0][3], rows[1][3] = "", ""
    rows[0][2], rows[1][2] = "", ""
    report = run(session, write_csv(tmp_path / "v2.csv", [rows[1], rows[0]]))
    assert reasons(report) == []
    assert report.changed == 2
    assert resident(session, "13012310020100001").id_number == rows[0][4]
    assert resident(session, "13012310020100002").id_number == rows[1][4]


def test_id_taken_from_a_record_the_file_does_not_update(session, township, create_resident, tmp_path):
    create_resident(id_number=id_for(date(1956, 3, 7), 11))  # 13012310020100001 holds it
    row = person(2, "张三丰", date(1956, 3, 7), 11)
    report = run(session, write_csv(tmp_path / "t.csv", [row]))
    (problem,) = report.problems
    assert problem.column == "身份证号" and "130123-100-201-00001" in problem.reason
    assert (report.refused, report.added) == (1, 0)
    assert resident(session, "13012310020100001").id_number == id_for(date(1956, 3, 7), 11)


def test_progress_is_reported_every_thousand_rows(session, township, tmp_path):
    rows = [person(i + 1, f"居民{i}", date(1950, 1, 1), i % 999, household=f"H{i // 4}", relation="子",
                   head=f"户主{i // 4}") for i in range(2500)]
    for row in rows:
        row[4] = ""  # the sequence repeats, so leave the IDs out
    seen: list[int] = []
    report = run(session, write_csv(tmp_path / "big.csv", rows), progress=seen.append)
    assert reasons(report) == []
    assert seen == [1000, 2000, 2500]
    assert session.scalar(select(func.count()).select_from(Household)) == 625


def test_row_numbers_are_those_of_the_file(session, township, tmp_path):
    rows = family()
    rows[1][4] = "1"
    workbook = Workbook()
    sheet = workbook.active
    sheet.append([TITLE])
    sheet.append(["导出时间：2026-11-01"])
    sheet.append(HEADER)
    sheet.append(rows[0])
    sheet.append([])
    sheet.append(rows[1])
    workbook.save(tmp_path / "gaps.xlsx")
    assert [p.row for p in run(session, tmp_path / "gaps.xlsx").problems] == [6]
    rows = family()
    rows[0][8] = "东村\n1组1号"  # a quoted field over two lines
    rows[1][4] = "1"
    assert [p.row for p in run(session, write_csv(tmp_path / "lines.csv", rows)).problems] == [5]


# --- unreadable files -------------------------------------------------------------------------------------------

def _corrupt_xlsx(path: Path) -> None:
    write_xlsx(path, family())
    path.write_bytes(path.read_bytes()[:600])


@pytest.mark.parametrize(("name", "make", "message"), [
    ("broken.xlsx", _corrupt_xlsx, "无法打开 Excel 文件"),
    ("garbage.xlsx", lambda p: p.write_bytes(bytes(range(256)) * 16), "无法打开 Excel 文件"),
    ("garbage.csv", lambda p: p.write_bytes(bytes(range(256)) * 16), "不是文本格式"),
    ("empty.csv", lambda p: p.write_bytes(b""), "文件是空的"),
    ("empty.xlsx", lambda p: p.write_bytes(b""), "文件是空的"),
    ("blank.xlsx", lambda p: Workbook().save(p), "文件是空的"),
    ("title-only.csv", lambda p: p.write_text("某某镇居民健康档案花名册\n姓名,年龄\n张三,70\n"), "没有找到表头"),
    ("old.xls", lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512), "不支持旧版 .xls"),
    ("export.pdf", lambda p: p.write_bytes(b"%PDF-1.4\n"), "不支持的文件类型"),
])
def test_unreadable_files_are_chinese_errors(session, township, tmp_path, name, make, message):
    path = tmp_path / name
    make(path)
    before = counts(session)
    with pytest.raises(ArchiveprintError, match=message):
        run(session, path)
    assert counts(session) == before


def test_header_only_file_imports_nothing(session, township, tmp_path):
    report = run(session, write_csv(tmp_path / "h.csv", []))
    assert (report.rows, report.ok, report.applied) == (0, True, False)


def test_upload_name_decides_the_format_of_a_temporary_file(session, township, tmp_path):
    path = write_csv(tmp_path / "upload-1234", family(), encoding="gbk")
    report = run(session, path, filename="花名册.csv")
    assert report.added == 4 and report.filename == "花名册.csv"


# --- error report -----------------------------------------------------------------------------------------------

def test_error_report_reads_back_as_xlsx(session, township, tmp_path):
    rows = family()
    rows[0][4] = "=HYPERLINK(\"http://x\")"
    rows[1][2] = "女"
    rows[1][4] = str(rows[1][4])[:17] + "0"
    report = run(session, write_csv(tmp_path / "e.csv", rows))
    target = tmp_path / "errors.xlsx"
    write_error_report(report, target)
    buffer = io.BytesIO()
    write_error_report(report, buffer)
    for source in (target, io.BytesIO(buffer.getvalue())):
        sheet = load_workbook(source)["错误"]
        values = [[cell.value for cell in row] for row in sheet.iter_rows()]
        assert values[0] == ["行号", "列", "值", "原因"]
        assert [row[:3] for row in values[1:]] == [[p.row, p.column, p.value] for p in report.problems]
        assert values[1][2] == "=HYPERLINK(\"http://x\")"
        assert sheet.cell(row=2, column=3).data_type == "s"  # stays text, never a formula


def test_error_report_lists_changes(session, township, tmp_path):
    run(session, write_csv(tmp_path / "v1.csv", family()))
    rows = family()
    rows[0][10] = "13900139000"
    report = run(session, write_csv(tmp_path / "v2.csv", rows), dry_run=True)
    buffer = io.BytesIO()
    write_error_report(report, buffer)
    sheet = load_workbook(io.BytesIO(buffer.getvalue()))["变更"]
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [
        ["档案编号", "姓名", "字段", "原值", "新值"],
        ["13012310020100001", "张三丰", "联系电话", "13800138000", "13900139000"]]


def test_json_lists_every_problem(session, township, tmp_path):
    rows = family()
    rows[0][1] = ""
    rows[0][0] = "x"
    data = run(session, write_csv(tmp_path / "j.csv", rows)).as_json()
    assert data["refused"] == 1 and data["accepted"] == 3 and data["applied"] is False
    errors: list[dict[str, object]] = data["errors"]  # type: ignore[assignment]
    assert {(e["row"], e["column"]) for e in errors} == {(3, "档案编号"), (3, "姓名")}


def test_excel_unicode_text_is_utf16_with_tabs(session, township, tmp_path):
    path = tmp_path / "unicode.txt"
    lines = ["\t".join(HEADER)] + ["\t".join(str(cell) for cell in row) for row in family()]
    path.write_text("\r\n".join(lines), encoding="utf-16")
    report = run(session, path)
    assert reasons(report) == []
    assert report.added == 4


def test_blank_rows_and_footers_outside_the_known_columns_are_skipped(session, township, tmp_path):
    header = ["序号", *HEADER]
    rows = [[i + 1, *row] for i, row in enumerate(family())]
    rows += [[""] * len(header), ["合计：4人", *[""] * len(HEADER)]]
    report = run(session, write_csv(tmp_path / "footer.csv", rows, header=header))
    assert reasons(report) == [] and report.rows == 4


def test_a_sheet_damaged_halfway_is_a_chinese_error(session, township, tmp_path):
    import zipfile

    good = write_xlsx(tmp_path / "good.xlsx", family())
    broken = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(broken, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) * 2 // 3]  # the XML stops in the middle of a data row
            target.writestr(item, data)
    before = counts(session)
    with pytest.raises(ArchiveprintError, match="已损坏"):
        run(session, broken)
    assert counts(session) == before


def test_the_register_may_sit_on_another_sheet(session, township, tmp_path):
    workbook = Workbook()
    workbook.active.title = "说明"
    workbook.active.append(["本表由省平台导出"])
    sheet = workbook.create_sheet("花名册")
    sheet.append(HEADER)
    for row in family():
        sheet.append(row)
    workbook.save(tmp_path / "two.xlsx")
    assert run(session, tmp_path / "two.xlsx").added == 4
