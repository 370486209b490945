"""The filing list as a printed A4 list (归档清单): folders in walking order, each with the pages that go into it."""

from __future__ import annotations

import io
from datetime import date

from archiveprint.forms.printer import FormPrinter
from archiveprint.intake.queries import FilingList
from archiveprint.pdf.table import Column, Table

TITLE = "归档清单"
COLUMNS = (Column("序号", 8, True), Column("位置", 38), Column("档案袋", 36), Column("户", 22), Column("居民", 16),
           Column("表单", 34), Column("页", 10, True), Column("状态", 22))


def filing_table(filing: FilingList, *, unit: str, day: date) -> Table:
    """One row per page; a folder's first row names it, its other pages follow beneath without repeating it."""
    rows = []
    for folder in filing.folders:
        location = folder.location
        status = f"{location.place.status.text}，归还后归档" if folder.waiting else location.place.status.text
        for index, entry in enumerate(folder.entries):
            first = index == 0
            rows.append([str(folder.number) if first else "", (location.place.address or "—") if first else "",
                         location.folder_display if first else "",
                         f"{location.village_name}{location.household_number}户 {location.head_name}" if first else "",
                         entry.name, entry.form_title, f"{entry.form_page}/{entry.form_pages}",
                         status if first else ""])
    return Table(title=f"{TITLE}　回收归档第 {filing.batch_id} 批",
                 subtitle=[f"{unit}　收到日期 {filing.received_on:%Y-%m-%d}　共 {filing.pages} 页、"
                           f"{len(filing.folders)} 个档案袋　按库房行走顺序排列　打印日期 {day:%Y-%m-%d}",
                           "不在架的档案袋（借出、取出、下落不明）列在最后：归还后再把这些页放入。"],
                 columns=COLUMNS, rows=rows, footer=f"{TITLE} 第 {filing.batch_id} 批")


def render_filing_pdf(filing: FilingList, *, unit: str, day: date) -> bytes:
    out = io.BytesIO()
    printer = FormPrinter(out)
    printer.add_table(filing_table(filing, unit=unit, day=day))
    printer.close(title=f"{TITLE} 第 {filing.batch_id} 批")
    return out.getvalue()
