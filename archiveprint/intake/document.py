"""The filing list as a printed A4 list (归档清单): folders in walking order, each with the pages that go into it."""

from __future__ import annotations

import io
from datetime import date

from archiveprint.forms.printer import FormPrinter
from archiveprint.intake.queries import FilingList
from archiveprint.locations.queries import STATUS_TEXT
from archiveprint.pdf.table import Column, Table

TITLE = "归档清单"
COLUMNS = (Column("序号", 9, True), Column("位置", 50), Column("档案袋", 26), Column("居民", 18), Column("表单", 42),
           Column("页", 10, True), Column("状态", 31))


def filing_table(filing: FilingList, *, unit: str, day: date) -> Table:
    """One row per page; a folder's first row names it, its other pages follow beneath without repeating it. A
    folder off its shelf says so, and that its pages go in when it is back (借出·归还后放)."""
    rows = []
    for folder in filing.folders:
        location = folder.location
        code = location.place.status.code
        status = f"{STATUS_TEXT.get(code, code)}·归还后放" if folder.waiting else location.place.status.text
        for index, entry in enumerate(folder.entries):
            first = index == 0
            rows.append([str(folder.number) if first else "", (location.place.address or "—") if first else "",
                         _short(location.folder_display) if first else "", entry.name, entry.form_title,
                         f"{entry.form_page}/{entry.form_pages}", status if first else ""])
    return Table(title=f"{TITLE}　回收归档第 {filing.batch_id} 批",
                 subtitle=[f"{unit}　收到日期 {filing.received_on:%Y-%m-%d}　共 {filing.pages} 页、"
                           f"{len(filing.folders)} 个档案袋　按库房行走顺序排列　打印日期 {day:%Y-%m-%d}",
                           "不在架的档案袋（借出、取出、下落不明）列在最后：归还后再把这些页放入。"],
                 columns=COLUMNS, rows=rows, footer=f"{TITLE} 第 {filing.batch_id} 批")


def _short(folder: str) -> str:
    """A folder code without the county and township, the same on every folder of this archive: 201-F00017-6."""
    parts = folder.split("-", 2)
    return parts[2] if len(parts) == 3 else folder


def render_filing_pdf(filing: FilingList, *, unit: str, day: date) -> bytes:
    out = io.BytesIO()
    printer = FormPrinter(out)
    printer.add_table(filing_table(filing, unit=unit, day=day))
    printer.close(title=f"{TITLE} 第 {filing.batch_id} 批")
    return out.getvalue()
