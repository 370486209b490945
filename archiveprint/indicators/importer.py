"""Import the village committees' 常住人口 sheet (.xlsx or .csv): every row checked first, then all rows or none.

The file is read by the register import's plumbing (register/sources.py: the import limits, encodings, the header
looked for in the first rows); a row equal to the figure in force writes nothing, so the same file twice changes
nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from archiveprint.config import ImportLimits
from archiveprint.errors import N_, InvalidValue, Message, Problem
from archiveprint.indicators.models import KEY_FIGURES
from archiveprint.indicators.services import (
    FIGURE_LABELS,
    VILLAGE_LABEL,
    YEAR_LABEL,
    FigureChange,
    VillageFinder,
    check_figures,
    latest_figure,
    parse_count,
    parse_year,
    record_figures,
)
from archiveprint.register.sources import Headers, Table, open_table
from archiveprint.register.text import clean

HEADERS = Headers.of({
    "village": ("村(居)委会", "村（居）委会", "村居委会", "村委会", "居委会", "村", "村名", "行政村", "村代码",
                "村(居)"),
    "year": ("年份", "年度", "年"),
    "residents": ("常住人口", "常住人口数", "辖区常住人口", "常住居民数"),
    "age65": ("65岁及以上", "65岁以上", "65岁及以上人口", "65岁及以上老年人"),
    "age0_6": ("0-6岁", "0～6岁", "0~6岁", "0-6岁儿童", "0～6岁儿童", "0-6岁人口"),
    "maternal": ("孕产妇", "孕产妇数", "孕产妇人数"),
}, ("village", "year", "residents"), N_(
    "在文件前{header_scan_rows}行中没有找到表头：需要一行同时含有“村(居)委会”、“年份”和“常住人口”"))
COLUMN_LABELS = {"village": VILLAGE_LABEL, "year": YEAR_LABEL, **FIGURE_LABELS}
NOT_A_NUMBER = N_("应为整数人数")
NOT_A_YEAR = N_("应为四位年份，如 2026")
NO_VILLAGE = N_("没有这个村(居)委会（填村代码或村名）")
MISSING = N_("必须填写")
REPEATED = N_("与第{row}行是同一村同一年")


@dataclass
class PopulationImport:
    """What a 常住人口 sheet holds and does: its rows (added, changed or unchanged) or its problems; with any
    problem nothing is written."""

    filename: str
    rows: int = 0
    items: list[FigureChange] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    applied: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def count(self, action: str) -> int:
        return sum(1 for item in self.items if item.action == action)

    def as_json(self) -> dict[str, object]:
        return {"filename": self.filename, "rows": self.rows, "ok": self.ok, "applied": self.applied,
                "added": self.count("added"), "changed": self.count("changed"),
                "unchanged": self.count("unchanged"), "items": [item.as_json() for item in self.items],
                "problems": [problem.as_dict() for problem in self.problems]}

    def text_lines(self) -> list[str]:
        if self.problems:
            lines = [f"{self.filename}：共{self.rows}行，发现{len(self.problems)}处问题，整份文件未写入："]
            return lines + [f"第{p.row}行「{p.column}」值“{p.value}”：{p.reason}" for p in self.problems]
        done = "已导入" if self.applied else "检查通过（未写入）"
        lines = [f"{self.filename}：共{self.rows}行，{done}：新增{self.count('added')}，更正{self.count('changed')}，"
                 f"未变{self.count('unchanged')}"]
        return lines + [line for item in self.items if item.action != "unchanged" for line in item.text_lines()]

    def as_values(self) -> dict[str, Any]:
        """Plain values to keep beside an upload (from_values reads them back); reasons keep their templates."""
        return {**self.as_json(), "problems": [
            {**problem.as_dict(), "reason": Message(problem.reason).as_values()} for problem in self.problems]}


def import_figures(session: Session, path: Path, *, name: str, actor: str, limits: ImportLimits | None = None,
                   apply: bool = True, now: datetime | None = None) -> PopulationImport:
    """Check every row of a 常住人口 sheet, then (`apply`, and only when no row has a problem) record each row's
    figures; rows equal to the figures in force write nothing. The caller commits."""
    report = PopulationImport(filename=Path(name).name)
    finder = VillageFinder(session)
    planned: list[tuple[int, Any, int, dict[str, int | None]]] = []
    seen: dict[tuple[int, int], int] = {}
    with open_table(path, name=name, mapping={}, limits=limits, headers=HEADERS) as table:
        for number, cells in _rows(table):
            report.rows += 1
            row = _read_row(report, table, number, cells, finder)
            if row is None:
                continue
            village, year, values = row
            first = seen.setdefault((village.id, year), number)
            if first != number:
                report.problems.append(Problem(number, VILLAGE_LABEL, _cell(table, cells, "village"),
                                               Message(REPEATED, {"row": first})))
                continue
            planned.append((number, village, year, values))
    if report.problems:
        return report
    for _number, village, year, values in planned:
        if apply:
            report.items.append(record_figures(session, village, year, values, source=report.filename,
                                               actor=actor, now=now))
        else:
            current = latest_figure(session, village.id, year)
            before = current.values() if current is not None else None
            action = "added" if before is None else "unchanged" if before == values else "changed"
            report.items.append(FigureChange(village.code, village.name, year, values, action, before))
    report.applied = apply
    return report


def _rows(table: Table) -> Any:
    """The data rows that hold anything."""
    for number, cells in table.rows:
        if any(clean(cell) for cell in cells):
            yield number, cells


def _cell(table: Table, cells: Any, key: str) -> Any:
    column = table.columns.get(key)
    if column is None or column.index >= len(cells):
        return None
    value = cells[column.index]
    return None if value == "" else value


def _read_row(report: PopulationImport, table: Table, number: int, cells: Any,
              finder: VillageFinder) -> tuple[Any, int, dict[str, int | None]] | None:
    """One row's village, year and figures, or None with its problems added to the report."""
    found = len(report.problems)

    def problem(key: str, value: object, reason: str, params: dict[str, object] | None = None) -> None:
        report.problems.append(Problem(number, COLUMN_LABELS[key], clean(value), Message(reason, params)))

    village_cell = _cell(table, cells, "village")
    village = None
    if village_cell is None:
        problem("village", "", MISSING)
    else:
        try:
            village = finder.find(village_cell)
            if village is None:
                problem("village", village_cell, NO_VILLAGE)
        except InvalidValue as ambiguous:  # a 3-digit code the site keeps twice (机构撤并): this row's problem
            report.problems.append(Problem(number, COLUMN_LABELS["village"], clean(village_cell), ambiguous.message))
    year: int | None = None
    try:
        year = parse_year(_cell(table, cells, "year"))
        if year is None:
            problem("year", "", MISSING)
    except ValueError:
        problem("year", _cell(table, cells, "year"), NOT_A_YEAR)
    values: dict[str, int | None] = {}
    for key in ("residents", *KEY_FIGURES):
        cell = _cell(table, cells, key)
        try:
            values[key] = parse_count(cell)
        except ValueError:
            values[key] = None
            problem(key, cell, NOT_A_NUMBER)
    if len(report.problems) == found:
        for broken in check_figures(year, values):
            key = next(k for k, label in COLUMN_LABELS.items() if label == broken.field)
            problem(key, "" if broken.value is None else broken.value, broken.reason)
    if len(report.problems) > found or village is None or year is None:
        return None
    return village, year, values
