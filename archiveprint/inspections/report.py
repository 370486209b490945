"""The signed inspection record (健康档案抽查记录, WeasyPrint from templates/inspections/) and the raw results as .xlsx;
each print or export writes an audit row for every household it names."""

from __future__ import annotations

import io
from datetime import datetime

from sqlalchemy.orm import Session

from archiveprint import resources
from archiveprint.accounts.models import User
from archiveprint.accounts.services import audit
from archiveprint.clock import local_time
from archiveprint.indicators import charts
from archiveprint.indicators.charts import BarChart, data_url, interval_bars
from archiveprint.inspections.draw import Interval
from archiveprint.inspections.models import Inspection
from archiveprint.inspections.queries import InspectionReport, Tally, compute_report
from archiveprint.pdf.weasy import render, template_env
from archiveprint.register.services import get_township

TITLE = "健康档案抽查记录"
UNAVAILABLE_RULE = {"fail": "未能调阅的按不合格、无动态记录计入", "exclude": "未能调阅的不计入"}


def _rate(interval: Interval | None) -> str:
    return interval.text() if interval else "—"


def _row(tally: Tally, *, total: bool = False) -> dict[str, object]:
    return {"name": tally.name, "frame": tally.frame, "drawn": tally.drawn, "counted": tally.counted,
            "qualified_hits": tally.qualified_hits, "dynamic_hits": tally.dynamic_hits,
            "qualified": _rate(tally.qualified), "usage": _rate(tally.usage), "total": total}


def _problems(view) -> str:  # type: ignore[no-untyped-def]
    if view.outcome == "unavailable":
        return f"未能调阅：{view.note}"
    return "；".join(f"{title}{'：' + note if note else ''}" for _key, title, note in view.failed)


CHART_TITLE = "各村合格率与使用率（95% 置信区间）"


def result_chart(report: InspectionReport) -> BarChart | None:
    """The rates per village with their Wilson intervals, as the 看板 draws them (None: nothing counted yet)."""
    villages = [tally for tally in report.villages if tally.drawn]
    if not any(tally.counted for tally in villages):
        return None
    return interval_bars(CHART_TITLE, [tally.name for tally in villages],
                         [("合格率", [tally.qualified for tally in villages]),
                          ("使用率", [tally.usage for tally in villages])], none="无计入档案")


def report_context(report: InspectionReport, *, unit: str, signed_day: str = "") -> dict[str, object]:
    """The plain dict the template sees (never ORM objects); the chart as an SVG data: URL."""
    weighted = report.weighted
    chart = result_chart(report)
    return {
        "title": TITLE, "unit": unit, "number": report.number, "day": f"{report.inspected_on:%Y年%m月%d日}",
        "signed": report.status == "signed", "signed_day": signed_day, "signed_by": report.signed_by or "",
        "inspector": report.inspector, "checklist": report.checklist.name, "scope": report.scope_text,
        "method": str(report.method), "drawn": report.overall.drawn, "frame": report.overall.frame,
        "counted": report.overall.counted, "unavailable": report.overall.unavailable,
        "unavailable_rule": UNAVAILABLE_RULE[report.checklist.unavailable], "window": report.checklist.window_months,
        "villages": [*(_row(t) for t in report.villages), _row(report.overall, total=True)],
        "weighted": {key: f"{value:.1%}" for key, value in weighted.items() if value is not None}
        if weighted.get("qualified") is not None and len(report.villages) > 1 else None,
        "chart": data_url(charts.render(chart)) if chart else None, "chart_title": CHART_TITLE,
        "items": [{"title": title, "failed": count} for _key, title, count in report.item_failures()],
        "failing": [{"seq": f.seq, "folder": f.folder, "village": f.village_name, "head": f.head_name,
                     "problems": _problems(f)} for f in report.failing],
        "folders": [{"seq": f.seq, "folder": f.folder, "village": f.village_name, "head": f.head_name,
                     "status": f.status_text, "outcome": f.outcome_text,
                     "seen_on": f.seen_on.isoformat() if f.seen_on else ""} for f in report.folders],
    }


def render_report_pdf(context: dict[str, object]) -> bytes:
    html = template_env().get_template("inspections/report.html").render(**context)
    css = (resources.template_dir() / "inspections" / "report.css").read_text(encoding="utf-8")
    return render(html, stylesheets=[css]).write_pdf()


def _audit(session: Session, report: InspectionReport, user: User | None, action: str, detail: str,
           now: datetime) -> None:
    for household_id in dict.fromkeys(f.household_id for f in report.folders):
        audit(session, user, action, "household", household_id, detail=f"{detail} {report.number}", now=now)


def print_report(session: Session, inspection: Inspection, *, user: User | None, now: datetime,
                 timezone: str) -> bytes:
    """The inspection record as A4 PDF (a draft until signed), with a print audit row for each household drawn."""
    report = compute_report(session, inspection)
    _audit(session, report, user, "print", TITLE, now)
    signed = f"{local_time(report.signed_at, timezone):%Y年%m月%d日}" if report.signed_at else ""
    return render_report_pdf(report_context(report, unit=get_township(session).unit_name, signed_day=signed))


SHEET_COLUMNS = ("序号", "村(居)委会代码", "村(居)委会", "档案袋编号", "户主", "抽取时状态", "结果", "最近动态记录")


def write_xlsx(report: InspectionReport) -> bytes:
    """The raw results: one row per folder drawn with each item's 合格/不合格 and note; the rates per village; the
    method. Values only (no formulas), so any spreadsheet reads them the same."""
    from openpyxl import Workbook  # lazy: openpyxl only to write a workbook
    from openpyxl.styles import Font  # lazy: openpyxl only to write a workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "抽查结果"
    items = report.checklist.items
    header = [*SHEET_COLUMNS, *(column for item in items for column in (item.title, f"{item.title}（说明）")),
              "说明"]
    sheet.append(header)
    for f in report.folders:
        cells: list[object] = [f.seq, f.village, f.village_name, f.folder, f.head_name, f.status_text,
                               f.outcome_text, f.seen_on]
        for item in items:
            check = f.checks.get(item.key)
            cells += [("合格" if check["passed"] else "不合格") if check else "", check["note"] if check else ""]
        cells.append(f.note)
        sheet.append(cells)
    rates = book.create_sheet("各村汇总")
    rates.append(["村(居)委会代码", "村(居)委会", "档案袋数", "抽取", "计入", "未读完", "未能调阅", "合格", "合格率",
                  "合格率下限", "合格率上限", "有动态记录", "使用率", "使用率下限", "使用率上限"])
    for tally in [*report.villages, report.overall]:
        row: list[object] = [tally.village, tally.name, tally.frame, tally.drawn, tally.counted, tally.pending,
                             tally.unavailable]
        for hits, interval in ((tally.qualified_hits, tally.qualified), (tally.dynamic_hits, tally.usage)):
            row += [hits, *((round(interval.rate, 4), round(interval.low, 4), round(interval.high, 4))
                            if interval else (None, None, None))]
        rates.append(row)
    about = book.create_sheet("说明")
    for key, value in (("编号", report.number), ("检查日期", report.inspected_on), ("检查人", report.inspector),
                       ("范围", report.scope_text), ("方法", str(report.method)), ("随机种子", report.seed),
                       ("抽查表", report.checklist.name), ("状态", "已签署" if report.status == "signed" else "进行中"),
                       ("合格率", "抽查合格档案份数 / 抽查档案总份数（一户档案袋为一份）"),
                       ("使用率", f"有动态记录（{report.checklist.window_months}个月内）的档案份数 / 抽查档案总份数"),
                       ("置信区间", "95% Wilson"), ("未能调阅", UNAVAILABLE_RULE[report.checklist.unavailable])):
        about.append([key, value])
    for ws in (sheet, rates):
        for cell in ws[1]:
            cell.font = Font(bold=True)
        ws.freeze_panes = "A2"
    for ws, widths in ((sheet, {"D": 24, "F": 22}), (about, {"A": 12, "B": 100})):
        for column, width in widths.items():
            ws.column_dimensions[column].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def export_xlsx(session: Session, inspection: Inspection, *, user: User | None, now: datetime) -> bytes:
    """The raw results workbook, with an export audit row for each household drawn."""
    report = compute_report(session, inspection)
    _audit(session, report, user, "export", "抽查结果", now)
    return write_xlsx(report)
