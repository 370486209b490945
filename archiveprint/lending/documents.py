"""Lending paperwork: the loan receipt with barcodes, the monthly lending register and the overdue slips."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from archiveprint import resources
from archiveprint.accounts.models import User
from archiveprint.accounts.services import audit
from archiveprint.errors import NotFound
from archiveprint.lending.models import Loan
from archiveprint.lending.queries import (
    LoanView,
    OverdueLoan,
    list_overdue,
    list_register,
    loan_view,
    month_bounds,
    overdue_by_village,
)
from archiveprint.lending.rules import LendingRules
from archiveprint.pdf import draw as pdfdraw
from archiveprint.pdf.barcodes import code128_modules, pdf_bars
from archiveprint.pdf.fonts import EmbeddedFont, font_path, load_metrics
from archiveprint.pdf.weasy import render, template_env
from archiveprint.pdf.writer import PdfStream, dictionary, ref
from archiveprint.register.services import get_township

# The receipt is drawn straight into a small PDF (pdf.writer + pdf.fonts + pdf.barcodes, like the form printer); the
# register (借阅登记表) and the per-village slips are one-off documents laid out by WeasyPrint. Each print audits.
MM = pdfdraw.MM
RECEIPT_SIZE = (105 * MM, 148 * MM)  # A6 portrait
RECEIPT_FONT = "NotoSansCJKsc-Regular.otf"
MODULE = 0.33 * MM  # Code128 module width: wide enough for a desk scanner and for 200 dpi office printers
QUIET = 10  # modules of quiet zone on either side
KIND_TEXT = {"staff": "本院职工", "village_doctor": "村医", "external": "外单位"}


def _unit(session: Session) -> str:
    return get_township(session).unit_name


# --- the receipt (借阅凭条) ----------------------------------------------------------------------------------------

def receipt_context(view: LoanView, *, unit: str) -> dict[str, Any]:
    """The plain values the receipt prints."""
    lines: list[tuple[str, str]] = [("借阅单号", view.code), ("档案袋", view.folder_display),
                                    ("户主", view.head_name or "—")]
    if view.resident_name:
        lines.append(("居民", view.resident_name))
    lines += [("借阅人", view.borrower), ("类别", KIND_TEXT.get(view.borrower_kind, view.borrower_kind)),
              ("事由", view.purpose_text + (f"（{view.purpose_note}）" if view.purpose_note else "")),
              ("借出", f"{view.out_at:%Y-%m-%d %H:%M}")]
    if view.approver:
        lines.append(("审批人", view.approver))
    if view.renewals:
        lines.append(("续借", f"{view.renewals} 次"))
    return {"unit": unit, "title": "档案借阅凭条", "lines": lines, "due": f"{view.due_on:%Y年%m月%d日}",
            "on_site": view.on_site, "loan_code": view.code, "folder": view.folder,
            "folder_display": view.folder_display}


def render_receipt(context: dict[str, Any]) -> bytes:
    """One A6 page: title, loan number barcode, the loan's details, the due date large, the folder barcode and the
    signature lines. Printed at actual size."""
    buffer = io.BytesIO()
    pdf = PdfStream(buffer)
    font = EmbeddedFont(load_metrics(font_path(RECEIPT_FONT)))
    font_id = pdf.reserve()
    width, height = RECEIPT_SIZE
    left, right = 8 * MM, width - 8 * MM
    ops: list[bytes] = [b"0 g 0 G 0.6 w\n"]

    def text(value: str, x: float, y: float, size: float, *, centre: bool = False, limit: float | None = None) -> None:
        if limit is not None:
            value = pdfdraw.truncate(font.metrics, value, limit, size)
        if centre:
            x = (width - font.metrics.width(value, size)) / 2
        ops.append(pdfdraw.text_run(font, value, x, y, size))

    def barcode(data: str, y: float, bar_height: float) -> None:
        modules = code128_modules(data)
        x = (width - len(modules) * MODULE) / 2
        ops.append(pdf_bars(modules, x, y, MODULE, bar_height))

    y = height - 12 * MM
    text(str(context["title"]), 0, y, 15, centre=True)
    y -= 5.5 * MM
    text(str(context["unit"]), 0, y, 8, centre=True, limit=right - left)
    y -= 13 * MM
    barcode(str(context["loan_code"]), y, 10 * MM)
    y -= 4 * MM
    text(str(context["loan_code"]), 0, y, 8, centre=True)
    y -= 7 * MM
    for label, value in context["lines"]:
        text(f"{label}：", left, y, 9)
        text(str(value), left + 16 * MM, y, 9, limit=right - left - 16 * MM)
        y -= 5.2 * MM
    y -= 2 * MM
    text(f"应还日期：{context['due']}", left, y, 13)
    if context["on_site"]:
        y -= 6 * MM
        text("限档案室内查阅，当天归还，不得带出", left, y, 9)
    y -= 17 * MM
    barcode(str(context["folder"]), y, 12 * MM)
    y -= 4 * MM
    text(str(context["folder_display"]), 0, y, 8, centre=True)
    y -= 10 * MM
    text("借阅人签字：", left, y, 9)
    ops.append(pdfdraw.line(left + 19 * MM, y - 1, left + 45 * MM, y - 1))
    text("经办人：", left + 50 * MM, y, 9)
    ops.append(pdfdraw.line(left + 63 * MM, y - 1, right, y - 1))
    text("归还时请交回档案袋并出示本凭条；续借请带本凭条。打印时请选“实际大小”。", 0, 7 * MM, 6.5, centre=True)
    resources = dictionary({"Font": dictionary({font.resource_name: ref(font_id)})})
    pdf.add_page(b"".join(ops), resources, size=RECEIPT_SIZE)
    font.write(pdf, font_id)
    pdf.close(title=f"档案借阅凭条 {context['loan_code']}", actual_size=True)
    return buffer.getvalue()


def print_receipt(session: Session, loan_id: int, *, user: User | None, rules: LendingRules,
                  now: datetime) -> bytes:
    """The receipt of one loan (at check-out, or reprinted), with an audit row for the household printed."""
    loan = session.get(Loan, loan_id)
    if loan is None:
        raise NotFound("没有这笔借阅", field="借阅", value=loan_id)
    view = loan_view(session, loan, rules)
    audit(session, user, "print", "household", view.household_id, detail=f"借阅凭条 {view.code}", now=now)
    return render_receipt(receipt_context(view, unit=_unit(session)))


# --- the monthly register (借阅登记表) -------------------------------------------------------------------------------

def register_context(views: Sequence[LoanView], *, month: str, unit: str, rules: LendingRules) -> dict[str, object]:
    year, number, _, _ = month_bounds(month, rules.timezone)
    rows = []
    for index, view in enumerate(views, start=1):
        condition = view.condition_text + (f"：{view.return_note}" if view.return_note else "")
        remark = "室内查阅" if view.on_site else ""
        if view.state == "written_off":  # not a return: the folder never came back
            condition = f"原因：{view.write_off_reason}；批准人：{view.write_off_approver}"
            remark = f"遗失注销 {view.written_off_at:%m-%d}" if view.written_off_at else "遗失注销"
        elif view.state == "lost":
            remark = "已登记丢失"
        elif view.renewals:
            remark = f"续借{view.renewals}次"
        rows.append({"number": index, "out": f"{view.out_at:%m-%d %H:%M}", "folder": view.folder_display,
                     "head": view.head_name, "resident": view.resident_name or "", "borrower": view.borrower_name,
                     "unit": view.borrower_unit,
                     "purpose": view.purpose_text + (f"：{view.purpose_note}" if view.purpose_note else ""),
                     "approver": view.approver, "due": f"{view.due_on:%m-%d}",
                     "returned": f"{view.returned_at:%m-%d %H:%M}" if view.returned_at else "",
                     "condition": condition, "remark": remark})
    return {"title": "档案借阅登记表", "unit": unit, "month": f"{year}年{number}月", "rows": rows,
            "count": len(rows), "returned": sum(1 for v in views if v.state == "returned"),
            "open": sum(1 for v in views if v.is_open),
            "written_off": sum(1 for v in views if v.state == "written_off")}


def render_register(context: dict[str, object]) -> bytes:
    return _weasy("lending/register.html", "lending/register.css", context)


def print_register(session: Session, month: str, *, user: User | None, rules: LendingRules,
                   now: datetime) -> tuple[bytes, int]:
    """The register of one month as archives keep it (A4 landscape, signature columns), and the number of loans;
    an audit row for each household on it."""
    views = list_register(session, month, rules=rules)
    for household_id in dict.fromkeys(v.household_id for v in views):
        audit(session, user, "print", "household", household_id, detail=f"借阅登记表 {month}", now=now)
    return render_register(register_context(views, month=month, unit=_unit(session), rules=rules)), len(views)


# --- overdue slips (逾期未还通知单) ---------------------------------------------------------------------------------

def overdue_context(overdue: Sequence[OverdueLoan], *, today: date, unit: str) -> dict[str, object]:
    """One slip per village, for the monthly village-doctor meeting."""
    villages = [{"code": group.code, "name": group.name, "rows": [
        {"number": number, "folder": item.loan.folder_display, "head": item.loan.head_name,
         "borrower": item.loan.borrower, "out": f"{item.loan.out_at:%Y-%m-%d}", "due": f"{item.loan.due_on:%Y-%m-%d}",
         "late": item.days_late, "level": item.level, "lost": item.loan.state == "lost"}
        for number, item in enumerate(group.items, start=1)]} for group in overdue_by_village(overdue)]
    return {"title": "逾期未还档案通知单", "unit": unit, "day": f"{today:%Y年%m月%d日}",
            "villages": villages}


def render_overdue_slips(context: dict[str, object]) -> bytes:
    return _weasy("lending/overdue.html", "lending/overdue.css", context)


def print_overdue_slips(session: Session, *, today: date, village: str | None = None, user: User | None,
                        rules: LendingRules, now: datetime) -> tuple[bytes, list[OverdueLoan]]:
    """Per-village overdue slips (one page or more per village), with an audit row for each household listed."""
    overdue = list_overdue(session, today=today, rules=rules, village=village)
    for household_id in dict.fromkeys(item.loan.household_id for item in overdue):
        audit(session, user, "print", "household", household_id, detail=f"逾期通知单 {today.isoformat()}", now=now)
    return render_overdue_slips(overdue_context(overdue, today=today, unit=_unit(session))), overdue


def _weasy(template: str, stylesheet: str, context: dict[str, object]) -> bytes:
    html = template_env().get_template(template).render(**context)
    css = (resources.template_dir() / stylesheet).read_text(encoding="utf-8")
    return render(html, stylesheets=[css]).write_pdf()
