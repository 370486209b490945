"""Issue #10.6–10.8: problems grouped by cause, the values an import normalised, and 待核实 flags on residents."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from archiveprint.eventlog import Event
from archiveprint.register import queries, services
from archiveprint.register.findings import describe, row_ranges
from archiveprint.register.rowcheck import MissingVillage
from tests.conftest import ACTOR
from tests.register.test_importer import id_for, person, resident, run, write_csv


def east_gate(serial: int, sequence: int, *, village: str = "205", name: str = "东关村") -> list[object]:
    return person(serial, f"东关{serial}", date(1970, 1, 1), sequence, village=village, village_name=name,
                  household=f"G{serial}", address="东关村1号")


def test_issue10_6_rows_of_one_unregistered_village_are_one_group_with_its_code(session, township, tmp_path):
    rows = [east_gate(serial, 2 * serial + 1) for serial in range(1, 8)]
    rows.append(person(1, "南一", date(1980, 1, 1), 41, village="203", village_name="南村", household="S1"))
    report = run(session, write_csv(tmp_path / "new-site.csv", rows))
    assert len(report.problems) == 8  # the --json errors list keeps one entry per row
    first, second = report.problem_groups()
    assert (first.column, first.reason, first.count, first.common_value) == (
        "所属村(居)委会", "村(居)委会“东关村”未登记", 7, "东关村")
    assert describe(first) == "「所属村(居)委会」 “东关村” 村(居)委会“东关村”未登记：7 行（第3–9行）"
    assert describe(second) == "第10行 「所属村(居)委会」 “南村”：村(居)委会“南村”未登记"
    assert report.missing_villages == [MissingVillage("东关村", "205", 7), MissingVillage("南村", "203", 1)]


def test_issue10_6_a_code_the_file_does_not_settle_is_left_for_the_clerk(session, township, tmp_path):
    rows = [east_gate(1, 3), east_gate(2, 5, village="206"),
            person(3, "西关", date(1980, 1, 1), 41, village="201", village_name="西关村", household="W1")]
    report = run(session, write_csv(tmp_path / "odd.csv", rows))
    assert report.missing_villages == [
        MissingVillage("东关村", "", 2, "文件中“东关村”的档案编号用了不同的村代码（205、206），请填写这个村的3位代码"),
        MissingVillage("西关村", "", 1, "档案编号中的村代码 201 已登记为“东村”，请填写这个村的3位代码"),
    ]


def test_issue10_6_registering_villages_checks_codes_and_names(session, township):
    assert services.check_new_villages(session, [("205", "东关村"), ("20", "北村"), ("201", "北村"),
                                                 ("207", "东村"), ("205", "前村"), ("", "后村"), ("201", "东村")]) == {
        1: "村代码应为3位数字（001–999），“20”不是",
        2: "代码 201 已登记为“东村”，请换一个代码",
        3: "“东村”已登记，代码 201",
        4: "代码 205 与上面第1个村重复",
        5: "请填写“后村”的村代码（3位数字）",
    }
    added = services.add_villages(session, [("205", "东关村"), ("201", "东村")], actor=ACTOR)
    assert [(v.code, v.name) for v in added] == [("205", "东关村")]  # 201 东村 was there already: skipped


def test_row_ranges():
    assert row_ranges([5, 2, 3, 4, 9, 11, 12]) == "2–5、9、11–12"
    assert row_ranges(range(2, 100, 2)).endswith("40等")


def test_issue10_7_the_values_an_import_rewrote_are_listed(session, township, tmp_path):
    legacy = id_for(date(1956, 3, 7), 11)
    legacy_15 = legacy[:6] + legacy[8:17]
    rows = [person(1, "张三丰", date(1956, 3, 7), 11, phone="１３８００１３８０００"),
            person(2, "李秀英", date(1958, 6, 1), 12, relation="配偶", head="张三丰", registered="2020/5/1"),
            person(3, "王五", date(1980, 1, 2), 13, household="H002", registered="2021年3月7日")]
    rows[0][4] = legacy_15
    rows[0][3] = "1956/3/7"
    rows[2][1] = "王 五"
    rows[2][0] = "130123-100-201-00003"
    rows[2][10] = "0311-8888888"
    report = run(session, write_csv(tmp_path / "fixes.csv", rows))
    assert report.ok and report.applied
    assert [(n.row, n.column, n.kind, n.old, n.new) for n in report.normalised] == [
        (3, "身份证号", "15位身份证号升级为18位", legacy_15, legacy),
        (3, "出生日期", "日期写法统一为 年-月-日", "1956/3/7", "1956-03-07"),
        (3, "联系电话", "全角数字或字母改为半角", "１３８００１３８０００", "13800138000"),
        (4, "建档日期", "日期写法统一为 年-月-日", "2020/5/1", "2020-05-01"),
        (5, "档案编号", "去掉了号码中的空格或分隔符（- / . 等）", "130123-100-201-00003", "13012310020100003"),
        (5, "姓名", "姓名中的空格或间隔号已规范", "王 五", "王五"),
        (5, "建档日期", "日期写法统一为 年-月-日", "2021年3月7日", "2021-03-07"),
        (5, "联系电话", "去掉了号码中的空格或分隔符（- / . 等）", "0311-8888888", "03118888888"),
    ]
    dates = [g for g in report.normalised_groups() if g.reason == "日期写法统一为 年-月-日"]
    assert [(g.column, g.count) for g in dates] == [("出生日期", 1), ("建档日期", 2)]
    assert report.as_json()["normalised"][0] == {"row": 3, "column": "身份证号", "kind": "15位身份证号升级为18位",
                                                 "old": legacy_15, "new": legacy}
    assert resident(session, "13012310020100001").id_number == legacy


def test_issue10_8_questionable_secondary_values_import_flagged(session, township, tmp_path):
    rows = [person(1, "张三丰", date(1956, 3, 7), 11, registered="1950-01-01", phone="1380013800"),
            person(2, "李秀英", date(1958, 6, 1), 12, relation="配偶", head="张三丰", registered="明年"),
            person(3, "王五", date(1980, 1, 2), 13, household="H002")]
    rows[2][2] = "未知x"
    report = run(session, write_csv(tmp_path / "doubts.csv", rows))
    assert report.ok and report.applied and report.added == 3
    assert [(f.row, f.flag.column, f.flag.reason) for f in report.flagged] == [
        (3, "建档日期", "建档日期早于出生日期"),
        (3, "联系电话", "联系电话位数不对（手机应为11位，固定电话7–8位或带区号）"),
        (4, "建档日期", "无法识别的日期格式（应为 1956-03-07、1956/3/7、19560307 或 1956年3月7日）"),
        (5, "性别", "性别应为 男/女，或代码 1/2/0/9"),
    ]
    zhang = resident(session, "13012310020100001")
    assert (zhang.registered_on, zhang.phone) == (date(1950, 1, 1), "1380013800")
    assert zhang.review_flags == [
        {"column": "建档日期", "value": "1950-01-01（出生日期 1956-03-07）", "reason": "建档日期早于出生日期"},
        {"column": "联系电话", "value": "1380013800",
         "reason": "联系电话位数不对（手机应为11位，固定电话7–8位或带区号）"}]
    li = resident(session, "13012310020100002")
    assert li.registered_on is None and li.review_flags[0]["value"] == "明年"
    wang = resident(session, "13012310020100003")
    assert wang.sex == "1"  # from the ID number
    assert [m.name for m in queries.find_flagged(session)] == ["张三丰", "李秀英", "王五"]
    assert queries.count_flagged(session) == 3

    # The same file again changes nothing: the flags are there already.
    again = run(session, write_csv(tmp_path / "doubts2.csv", rows))
    assert (again.changed, again.unchanged) == (0, 3)

    services.clear_review_flag(session, zhang, 1, reason=zhang.review_flags[1]["reason"], actor=ACTOR)
    assert [f["column"] for f in zhang.review_flags] == ["建档日期"]
    services.clear_review_flag(session, zhang, 0, reason="建档日期早于出生日期", actor=ACTOR)
    session.flush()
    assert zhang.review_flags is None
    assert [m.name for m in queries.find_flagged(session)] == ["李秀英", "王五"]
    kinds = session.scalars(select(Event.kind).where(Event.entity_id == zhang.archive_code)
                            .order_by(Event.id)).all()
    assert kinds == ["resident.registered", "resident.review_cleared", "resident.review_cleared"]


def test_issue10_8_identity_faults_still_refuse_the_file(session, township, tmp_path):
    rows = [person(1, "张三丰", date(1956, 3, 7), 11, registered="1950-01-01")]
    rows[0][4] = rows[0][4][:17] + ("1" if rows[0][4][17] != "1" else "2")  # wrong check digit
    report = run(session, write_csv(tmp_path / "bad-id.csv", rows))
    assert not report.ok and not report.applied
    assert [p.column for p in report.problems] == ["身份证号"]
    assert report.flagged == []  # a refused row flags nothing
