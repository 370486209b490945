"""Label print centre: kind, stock, printer and scope, used cells on a sheet map, a preview of the first sheet, and
a background print job (printer profiles and calibration are in web/printers.py)."""

from __future__ import annotations

import base64
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date

from flask import Blueprint, Flask, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, NumberRange, Optional

from archiveprint.errors import ArchiveprintError, InvalidValue, NotFound
from archiveprint.forms.preview import thumbnails
from archiveprint.jobs.names import file_names
from archiveprint.labels.barcode_sizing import QR_HINT, BarcodeTooSmall
from archiveprint.labels.design import LabelKind
from archiveprint.labels.queries import find_printer_profile, list_printer_profiles
from archiveprint.labels.services import (
    LabelOptions,
    LabelScope,
    count_labels,
    count_pages,
    label_kinds,
    label_stocks,
    preview_labels,
    resolve_label_scope,
    stock_folders,
)
from archiveprint.labels.sheet import cell_at, check_start, free_cells, parse_cells
from archiveprint.labels.stock import LabelStock
from archiveprint.register.models import Household
from archiveprint.register.queries import list_villages
from archiveprint.register.services import find_village
from archiveprint.web.auth import current_account, requires
from archiveprint.web.forms import submit_job
from archiveprint.web.i18n import message_of
from archiveprint.web.session import commit_audit, request_database, state, today

bp = Blueprint("labels", __name__)
CODES_MAX = 5000  # lines in the 编号 box
PREVIEW_DPI = 72  # an A4 sheet 595 px wide: names and codes readable on the clerk's screen
DEFAULT_KIND = "folder"
# The kinds' titles come from their layout files (Chinese); these are the words the interface shows.
KIND_NAMES = {"folder": _l("户档案袋标签"), "spine": _l("脊背标签"), "resident": _l("个人标签"),
              "card": _l("信息卡（卡片标签）"), "shelf": _l("架位标签"), "calibration": _l("校准页")}
# The shipped stocks' names (templates/labels/stock/*.yaml, Chinese) as the interface shows them; a stock of the site's
# own (or a site file replacing a shipped one) keeps the name the site wrote.
SHIPPED_STOCK_NAMES = {
    "a4-2x5": _l("A4 不干胶 2×5（10 格，99.1×57 mm）"), "a4-2x7": _l("A4 不干胶 2×7（14 格，99.1×38.1 mm）"),
    "a4-3x7": _l("A4 不干胶 3×7（21 格，63.5×38.1 mm）"), "a4-3x8-70x37": _l("A4 不干胶 3×8 无边距（24 格，70×37 mm）"),
    "a4-3x8": _l("A4 不干胶 3×8（24 格，63.5×33.9 mm）"), "a4-4x10": _l("A4 不干胶 4×10（40 格，45.7×25.4 mm）"),
    "a4-65up": _l("A4 不干胶 65 格（5×13，38.1×21.2 mm）"), "roll-100x50": _l("热敏卷筒 100×50 mm"),
    "roll-50x30": _l("热敏卷筒 50×30 mm"), "roll-60x40": _l("热敏卷筒 60×40 mm"), "roll-70x40": _l("热敏卷筒 70×40 mm"),
}
QR_CHOICE = _l("，或改用二维码（勾选“用二维码”）")  # the page's way to what the command line's QR_HINT says


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


def kind_name(kind: LabelKind) -> str:
    return str(KIND_NAMES.get(kind.id, kind.title))


def site_stocks() -> dict[str, LabelStock]:
    """The shipped stocks (their names in the interface's language) and the site's own (<instance>/labels/stock)."""
    instance = state().settings.instance_dir
    own = own_stock_ids()
    return {stock_id: replace(stock, name=str(SHIPPED_STOCK_NAMES[stock_id]))
            if stock_id in SHIPPED_STOCK_NAMES and stock_id not in own else stock
            for stock_id, stock in label_stocks(instance).items()}


def own_stock_ids() -> set[str]:
    """The stocks the site defined itself (a file of its own, possibly replacing a shipped one)."""
    site_folder = stock_folders(state().settings.instance_dir)[-1]
    return {path.stem for path in site_folder.glob("*.yaml")} if site_folder.is_dir() else set()


@contextmanager
def _reading() -> Iterator[Session]:
    """Previews and checks only read: a reader session, so SQLite's write lock is not held while a sheet is drawn
    (kept to the request's scope like the page's own)."""
    with request_database().reader() as session:
        yield session


class PrinterNotCalibrated(NotFound):
    """The chosen printer has no profile for the chosen stock (said next to the printer choice)."""


# --- fields -----------------------------------------------------------------------------------------------------

def number_text(text: str | None) -> str:
    """What a clerk typed, as ASCII: full-width digits (３９．６), a comma decimal (39,6), a typographic minus."""
    value = unicodedata.normalize("NFKC", text or "").strip()
    return value.replace("−", "-").replace("–", "-").replace(",", ".").replace(" ", "")


# --- the print centre -----------------------------------------------------------------------------------------

class LabelJobInput(FlaskForm):
    """Which labels, on which stock and printer, for whom, and where on the sheet (preview and start submit it)."""

    kind = SelectField(_l("标签种类"))
    stock = SelectField(_l("标签纸"))
    printer = SelectField(_l("打印机"), default="")
    village = SelectField(_l("村(居)委会"), default="")
    household = StringField(_l("户（村代码-户号或档案袋编号）"), validators=[Length(max=40)])
    codes = TextAreaField(_l("编号（每行一个）"), validators=[Length(max=CODES_MAX * 32)])
    since = StringField(_l("只印此日期以来有变动的档案袋（换标签）"), validators=[
        Optional(), Length(max=10)])
    location_title = StringField(_l("位置说明（架位标签）"), validators=[Length(max=40)])
    start = IntegerField(_l("从第几格开始"), default=1, validators=[
        Optional(), NumberRange(1, 1000, message=_l("起始格应在 1–1000 之间"))])
    used = StringField(_l("已用格子"), validators=[Length(max=400)])
    copies = IntegerField(_l("每张标签印几份"), default=1, validators=[
        Optional(), NumberRange(1, 100, message=_l("份数应在 1–100 之间"))])
    outline = BooleanField(_l("画出每格轮廓（在普通纸上试印）"))
    mask_names = BooleanField(_l("隐去姓名中间的字（张*明），条码照常可扫"))
    qr = BooleanField(_l("用二维码（信息卡、个人标签）"))
    include_closed = BooleanField(_l("包括已结案的档案"))
    allow_missing_glyphs = BooleanField(_l("字体缺字时仍然打印"))


def _label_input(session: Session) -> LabelJobInput:
    kinds = label_kinds()
    stocks = site_stocks()
    form = LabelJobInput()
    # Each choice carries what the page's script needs: a kind's default stock, a stock's geometry for the map.
    form.kind.choices = [(kind.id, kind_name(kind), {"data-default-stock": kind.default_stock, "data-binds": kind.binds,
                                                     "data-qr": "1" if kind.supports_qr else "0"})
                         for kind in kinds.values()]
    form.stock.choices = [(stock.id, stock.name, {f"data-{key}": value for key, value in stock_facts(stock).items()
                                                  if key not in ("id", "name")})
                          for stock in stocks.values()]
    printers: dict[str, list[str]] = {}
    for profile in list_printer_profiles(session):
        printers.setdefault(profile.printer, []).append(profile.stock)
    form.printer.choices = [("", _("不指定（未校准，按标签纸默认分辨率）"))] + [
        (name, _("%(printer)s（已校准：%(stocks)s）", printer=name, stocks="、".join(stock_ids)))
        for name, stock_ids in printers.items()]
    form.village.choices = [("", _("（不限）"))] + [
        (village.ref, _("%(code)s %(name)s（%(n)s户）", code=village.ref, name=village.name, n=households))
        for village, households, _residents in list_villages(session)]
    if request.method == "GET":
        args = request.args
        kind = args.get("kind", "")
        form.kind.data = kind if kind in kinds else DEFAULT_KIND if DEFAULT_KIND in kinds else next(iter(kinds))
        stock = args.get("stock", "")
        form.stock.data = stock if stock in stocks else kinds[form.kind.data].default_stock
        form.printer.data = args.get("printer", "") if args.get("printer", "") in printers else ""
        form.village.data = args.get("village", "")
        form.household.data = args.get("household", "")[:40]
        form.codes.data = "\n".join(args.getlist("codes"))[:CODES_MAX * 32]  # e.g. a shelf from its shelf page
        form.outline.data = args.get("outline") in ("1", "y")
    return form


@dataclass(frozen=True)
class LabelPlan:
    """What a label print will make, told to the clerk before it starts."""

    kind: LabelKind
    stock: LabelStock
    labels: int  # different labels (households, residents, locations or calibration cells)
    copies: int
    pages: int

    @property
    def total(self) -> int:
        return self.labels * self.copies


def _since(text: str | None) -> date | None:
    """The relabel date as typed or picked: 2026-11-01, 2026/11/1 or 2026.11.1."""
    value = number_text(text)
    if not value:
        return None
    match = re.fullmatch(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})", value)
    try:
        if match is None:
            raise ValueError(value)
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        raise InvalidValue("日期应写成 2026-11-01", field="日期", value=(text or "")[:10]) from None


def _read(session: Session, form: LabelJobInput) -> tuple[LabelKind, LabelStock, LabelScope, LabelOptions]:
    """The form's values as the label printer takes them (a clerk's typing becomes a resolved scope)."""
    kind = label_kinds()[form.kind.data or DEFAULT_KIND]
    stock = site_stocks()[form.stock.data or kind.default_stock]
    codes = tuple(line.strip() for line in (form.codes.data or "").splitlines() if line.strip())
    if len(codes) > CODES_MAX:
        raise InvalidValue("一次最多 {codes_max} 个编号",
                           params={"codes_max": CODES_MAX}, field="编号", value=len(codes))
    village = form.village.data or None
    if kind.binds == "calibration":
        scope = LabelScope()
    elif kind.binds == "location":
        scope = resolve_label_scope(session, village=village, locations=codes)
    else:
        scope = resolve_label_scope(session, household=(form.household.data or "").strip() or None, village=village,
                                    codes=codes, since=_since(form.since.data))
    used = parse_cells(form.used.data or "")
    printer = form.printer.data or None
    if printer and find_printer_profile(session, printer, stock.id) is None:
        raise PrinterNotCalibrated("打印机“{printer}”还没有为{name}校准",
                                   params={"printer": printer, "name": stock.name}, field="打印机", value=printer)
    options = LabelOptions(start=form.start.data or 1, used=(tuple(sorted(used)),) if used else (),
                           outline=bool(form.outline.data), printer=printer, mask_names=bool(form.mask_names.data),
                           qr=bool(form.qr.data), include_closed=bool(form.include_closed.data),
                           allow_missing_glyphs=bool(form.allow_missing_glyphs.data), copies=form.copies.data or 1,
                           location_title=(form.location_title.data or "").strip())
    return kind, stock, scope, options


def _plan(session: Session, kind: LabelKind, stock: LabelStock, scope: LabelScope,
          options: LabelOptions) -> LabelPlan:
    if kind.binds != "calibration" and scope.empty:
        raise InvalidValue("请指定要打印哪些标签：村、户、编号或日期", field="打印范围")
    if kind.binds != "calibration":
        check_start(stock, options.start, tuple(frozenset(sheet) for sheet in options.used))
    labels = count_labels(session, kind.id, stock, scope, options)
    if labels == 0:
        raise NotFound("这个范围内没有要打印的标签（{scope}）", params={"scope": scope.describe()}, field="打印范围")
    copies = 1 if kind.binds == "calibration" else max(1, options.copies)
    pages = 1 if kind.binds == "calibration" else count_pages(stock, labels, options)
    return LabelPlan(kind, stock, labels, copies, pages)


def _refusal(error: ArchiveprintError) -> dict[str, str]:
    """Where a refusal is shown: a barcode that does not fit next to the stock, an uncalibrated printer next to
    the printer, anything else at the top."""
    if isinstance(error, BarcodeTooSmall):
        # The message names the label and the stock already; the code it was sizing is no help here.
        return {"stock_error": error.translated(lambda text: str(QR_CHOICE) if text == QR_HINT else _(text))}
    if isinstance(error, PrinterNotCalibrated):
        return {"printer_error": message_of(error)}
    return {"error": message_of(error)}


def sheet_cells(stock: LabelStock, start: int = 1, used: frozenset[int] = frozenset(), *,
           mark_first: bool = True) -> dict[str, object]:
    """The sheet map: every cell's box in mm (as the stock places it) and which are used, skipped or first."""
    if stock.is_roll:
        return {"roll": True}
    free = free_cells(stock, 0, start if 1 <= start <= stock.per_page else 1, (used,))
    first = free[0] if free and mark_first else None
    cells = []
    for index in range(1, stock.per_page + 1):
        cell = cell_at(stock, index)
        cells.append({"index": index, "x": cell.left, "y": cell.top, "w": cell.width, "h": cell.height,
                      "cx": round(cell.left + cell.width / 2, 2), "cy": round(cell.top + cell.height / 2, 2),
                      "used": index in used, "skipped": index < start, "first": index == first})
    size = round(min(stock.label_height * 0.42, stock.label_width * 0.3, 9.0), 2)
    return {"roll": False, "width": stock.page_width, "height": stock.page_height, "cells": cells,
            "radius": stock.corner_radius, "font": size}


def stock_facts(stock: LabelStock) -> dict[str, object]:
    """What the stock choice tells the clerk and what the sheet map script draws from."""
    if stock.is_roll:
        geometry = _("卷筒，每页一张；标签 %(w)s × %(h)s mm", w=f"{stock.label_width:g}", h=f"{stock.label_height:g}")
    else:
        geometry = _("%(columns)s 列 × %(rows)s 行，每张 %(n)s 格；标签 %(w)s × %(h)s mm", columns=stock.columns,
                     rows=stock.rows, n=stock.per_page, w=f"{stock.label_width:g}", h=f"{stock.label_height:g}")
    return {"id": stock.id, "name": stock.name, "geometry": geometry, "roll": "1" if stock.is_roll else "0",
            "page": f"{stock.page_width:g} {stock.page_height:g}",
            "label": f"{stock.label_width:g} {stock.label_height:g}",
            "grid": f"{stock.columns} {stock.rows}", "pitch": f"{stock.pitch_x:g} {stock.pitch_y:g}",
            "margin": f"{stock.left:g} {stock.top:g}", "radius": f"{stock.corner_radius:g}"}


def _center(form: LabelJobInput, *, status: int = 200, **context: object) -> ResponseReturnValue:
    for key in ("plan", "picture", "error", "stock_error", "printer_error"):
        context.setdefault(key, None)
    stocks = site_stocks()
    stock = stocks.get(form.stock.data or "") or next(iter(stocks.values()))
    try:
        used = parse_cells(form.used.data or "")
    except InvalidValue:
        used = frozenset()
    start = form.start.data if isinstance(form.start.data, int) else 1
    return render_template("web/labels/center.html", form=form, kind_name=kind_name, stock=stock_facts(stock),
                           sheet=sheet_cells(stock, start, used), **context), status


@bp.get("/labels")
@requires("print")
def center() -> ResponseReturnValue:
    with _reading() as session:
        form = _label_input(session)
    return _center(form)


@bp.post("/labels/preview")
@requires("print")
def preview() -> ResponseReturnValue:
    """The label and sheet counts and a picture of the first sheet, before anything is printed."""
    with _reading() as session:
        form = _label_input(session)
        if not form.validate_on_submit():
            return _center(form, status=400)
        try:
            kind, stock, scope, options = _read(session, form)
            plan = _plan(session, kind, stock, scope, options)
            pdf = preview_labels(session, kind.id, stock.id, scope, options=options,
                                 instance_dir=state().settings.instance_dir)
        except ArchiveprintError as error:
            return _center(form, status=error.status, **_refusal(error))
    if kind.binds != "calibration":  # the first sheet shows names: the view is audited
        commit_audit(current_account().user, "view", "label_preview", kind.id,
                     detail=f"标签预览：{kind.title} · {stock.id} · {scope.describe()}，{plan.labels} 张")
    (image,) = thumbnails(pdf, dpi=PREVIEW_DPI, limit=1)
    picture = {"src": "data:image/png;base64," + base64.b64encode(image.png).decode("ascii"),
               "width": image.width, "height": image.height}
    return _center(form, plan=plan, picture=picture)


@bp.post("/labels/start")
@requires("print")
def start() -> ResponseReturnValue:
    """开始打印: check the layout on the first sheet, record the job and hand it to the dispatcher."""
    with _reading() as session:
        form = _label_input(session)
        if not form.validate_on_submit():
            return _center(form, status=400)
        try:
            kind, stock, scope, options = _read(session, form)
            plan = _plan(session, kind, stock, scope, options)
            # Draw the first sheet now: a barcode that would not scan or a bad start cell is refused here,
            # beside the choices, rather than on the job page.
            preview_labels(session, kind.id, stock.id, scope, options=options,
                           instance_dir=state().settings.instance_dir)
        except ArchiveprintError as error:
            return _center(form, status=error.status, **_refusal(error))
        scope_text = _describe(session, form, kind, scope)
        day = today()
        shown, stored = file_names((kind_name(kind), kind.id), _whose(session, kind, scope), day)
    account = current_account()
    params = {
        "kind": kind.id, "stock": stock.id, "title": kind_name(kind), "stock_name": stock.name,
        "scope": scope.as_json(), "options": options.as_json(), "scope_text": scope_text,
        "filename": f"{stored}.pdf", "download_stem": shown, "user_id": account.user.id, "today": day.isoformat(),
        "labels": plan.total, "expected_pages": plan.pages,
    }
    return submit_job("labels", params)


def _whose(session: Session, kind: LabelKind, scope: LabelScope) -> list[tuple[str, str]]:
    """Whose labels, for the file name: (Chinese, ASCII) — 东村 / 201, 东村第17户 / 201-17, 12个编号 / 12codes."""
    if kind.binds == "calibration":
        return []
    parts = []
    if scope.village:
        parts.append((find_village(session, scope.village).name, scope.village))
    if len(scope.household_ids) == 1:
        household = session.get(Household, scope.household_ids[0])
        if household is not None:
            parts.append((f"{household.village.name}第{household.number}户",
                          f"{household.village.code}-{household.number}"))
    elif scope.household_ids:
        parts.append((f"{len(scope.household_ids)}户", f"{len(scope.household_ids)}households"))
    if scope.codes:
        parts.append((f"{len(scope.codes)}个编号", f"{len(scope.codes)}codes"))
    if scope.locations:
        parts.append((f"{len(scope.locations)}个架位", f"{len(scope.locations)}places"))
    if scope.since:
        parts.append((f"{scope.since:%Y%m%d}以来变动", f"since{scope.since:%Y%m%d}"))
    return parts


def _describe(session: Session, form: LabelJobInput, kind: LabelKind, scope: LabelScope) -> str:
    """Whose labels, in words for the job list."""
    if kind.binds == "calibration":
        return _("校准页")
    parts = []
    if scope.village:
        parts.append(find_village(session, scope.village).name)
    if form.household.data and form.household.data.strip():
        parts.append(_("户 %(household)s", household=form.household.data.strip()))
    if scope.codes or scope.locations:
        parts.append(_("%(n)s 个编号", n=len(scope.codes) + len(scope.locations)))
    if scope.since:
        parts.append(_("%(day)s 以来有变动", day=scope.since.isoformat()))
    return "，".join(parts)
