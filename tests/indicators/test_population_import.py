"""The 常住人口 sheet: .xlsx and CSV (UTF-8, GBK), all rows or none, Chinese problems by row/field/value, and the
same file twice changes nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archiveprint.config import ImportLimits
from archiveprint.errors import ArchiveprintError
from archiveprint.eventlog import Event
from archiveprint.indicators.importer import import_figures
from archiveprint.indicators.models import PopulationFigure
from archiveprint.indicators.queries import list_figures
from archiveprint.register.filelimits import FileTooLarge
from tests.conftest import ACTOR

HEADER = ["村(居)委会", "年份", "常住人口", "65岁及以上", "0-6岁", "孕产妇"]
GOOD = [["201", 2026, 1200, 180, 90, 12], ["西村", "2026年", "1,050", "", "", ""], ["001", 2026, 3000, 300, 200, 40]]


def xlsx(path: Path, rows: list[list[object]], *, title: list[str] | None = None) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    if title:
        sheet.append(title)  # a title line above the header, as committees' sheets have
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def csv(path: Path, rows: list[list[object]], encoding: str = "utf-8") -> Path:
    lines = [",".join(HEADER)] + [",".join(f'"{cell}"' if "," in str(cell) else str(cell) for cell in row)
                                  for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


def counts(session: Session) -> tuple[int, int]:
    return (session.scalar(select(func.count(PopulationFigure.id))) or 0,
            session.scalar(select(func.count(Event.id)).where(Event.kind == "population.recorded")) or 0)


def test_an_xlsx_is_imported_and_the_same_file_twice_changes_nothing(session: Session, township,  # type: ignore[no-untyped-def]
                                                                     tmp_path: Path) -> None:
    path = xlsx(tmp_path / "常住人口.xlsx", GOOD, title=["2026年各村常住人口"])
    report = import_figures(session, path, name=path.name, actor=ACTOR)
    assert report.ok and report.applied and (report.rows, report.count("added")) == (3, 3)
    shown = {view.village_code: view.values for view in list_figures(session, year=2026)}
    assert shown["201"] == {"residents": 1200, "age65": 180, "age0_6": 90, "maternal": 12}
    assert shown["202"] == {"residents": 1050, "age65": None, "age0_6": None, "maternal": None}
    assert counts(session) == (3, 3)
    again = import_figures(session, path, name=path.name, actor=ACTOR)
    assert again.ok and again.count("unchanged") == 3 and counts(session) == (3, 3)
    changed = xlsx(tmp_path / "更正.xlsx", [["201", 2026, 1210, 180, 90, 12], *GOOD[1:]])
    third = import_figures(session, changed, name=changed.name, actor=ACTOR)
    assert (third.count("changed"), third.count("unchanged")) == (1, 2)
    assert third.items[0].before == {"residents": 1200, "age65": 180, "age0_6": 90, "maternal": 12}
    assert counts(session) == (4, 4)
    assert len(list_figures(session, history=True)) == 4 and len(list_figures(session)) == 3


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_a_csv_in_utf8_or_gbk(session: Session, township, tmp_path: Path, encoding: str) -> None:  # type: ignore[no-untyped-def]
    path = csv(tmp_path / "pop.csv", GOOD, encoding)
    report = import_figures(session, path, name=path.name, actor=ACTOR)
    assert report.ok and report.count("added") == 3


def test_a_dry_run_writes_nothing(session: Session, township, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = xlsx(tmp_path / "p.xlsx", GOOD)
    report = import_figures(session, path, name=path.name, actor=ACTOR, apply=False)
    assert report.ok and not report.applied and report.count("added") == 3 and counts(session) == (0, 0)


def test_one_bad_row_and_nothing_is_written_every_problem_named(session: Session, township,  # type: ignore[no-untyped-def]
                                                                 tmp_path: Path) -> None:
    rows = [*GOOD, ["999", 2026, 10, "", "", ""], ["东村", "明年", 10, "", "", ""], ["202", 2026, "十", "", "", ""],
            ["001", 2026, 100, 120, "", ""], ["201", 2026, 5, "", "", ""], ["201", 2026, 10.5, "", "", ""],
            ["", 2026, 10, "", "", ""]]
    path = xlsx(tmp_path / "bad.xlsx", rows)
    report = import_figures(session, path, name=path.name, actor=ACTOR)
    assert not report.ok and not report.applied and counts(session) == (0, 0)
    found = [(p.row, p.column, p.value, str(p.reason)) for p in report.problems]
    assert found == [
        (5, "村(居)委会", "999", "没有这个村(居)委会（填村代码或村名）"),
        (6, "年份", "明年", "应为四位年份，如 2026"),
        (7, "常住人口", "十", "应为整数人数"),
        (8, "65岁及以上", "120", "不能多于常住人口（100）"),
        (9, "村(居)委会", "201", "与第2行是同一村同一年"),
        (10, "常住人口", "10.5", "应为整数人数"),
        (11, "村(居)委会", "", "必须填写"),
    ]
    assert "第5行「村(居)委会」值“999”：没有这个村(居)委会" in "\n".join(report.text_lines())


def test_a_file_without_the_header_is_refused(session: Session, township, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "x.csv"
    path.write_text("姓名,档案编号\n张三,1\n", encoding="utf-8")
    with pytest.raises(ArchiveprintError, match="“村\\(居\\)委会”、“年份”和“常住人口”"):
        import_figures(session, path, name=path.name, actor=ACTOR)


def test_the_register_import_limits_hold(session: Session, township, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = csv(tmp_path / "big.csv", GOOD * 5)
    with pytest.raises(FileTooLarge):
        import_figures(session, path, name=path.name, actor=ACTOR, limits=ImportLimits(rows=10))
    old = tmp_path / "old.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 100)
    with pytest.raises(ArchiveprintError, match=r"\.xls"):
        import_figures(session, old, name=old.name, actor=ACTOR)
