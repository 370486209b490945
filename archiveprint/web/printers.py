"""Printer profiles and calibration (打印机校准): list, add, change and delete profiles; print the calibration sheet,
turn two measured distances into a profile, then print a test sheet with outlines."""

from __future__ import annotations

import io
import re
from typing import Any

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from wtforms import IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from archiveprint.errors import ArchiveprintError, NotFound
from archiveprint.labels import calibration as calibration_sheet
from archiveprint.labels.models import PrinterProfile
from archiveprint.labels.printers import calibrate_printer, delete_printer_profile, set_printer_profile
from archiveprint.labels.queries import find_printer_profile, list_printer_profiles
from archiveprint.labels.services import LabelOptions, LabelScope, preview_labels
from archiveprint.labels.sheet import Calibration
from archiveprint.web.auth import current_account, requires
from archiveprint.web.i18n import message_of
from archiveprint.web.labels import number_text, own_stock_ids, sheet_cells, site_stocks, stock_facts
from archiveprint.web.session import db_session, rollback, state

bp = Blueprint("printers", __name__)
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")  # a length as typed, after number_text()


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


class MillimetreField(StringField):
    """A length in millimetres as typed (39.6, -0.4, ３９．６); `number` is the value, None when left empty."""

    def __init__(self, label: Any = None, validators: Any = None, *, limit: float, **kwargs: Any) -> None:
        super().__init__(label, validators, **kwargs)
        self.limit = limit
        self.number: float | None = None

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata(valuelist)
        self.number = None
        text = number_text(self.data)
        if not text:
            return
        if not NUMBER.fullmatch(text):
            raise ValueError(str(_l("请填写毫米数，如 39.6 或 -0.4")))
        self.number = float(text)

    def pre_validate(self, form: Any) -> None:
        if self.number is not None and abs(self.number) > self.limit:
            raise ValidationError(str(_l("数值超出范围（最多 %(limit)s 毫米）", limit=f"{self.limit:g}")))


# --- printer profiles ------------------------------------------------------------------------------------------

class PrinterProfileInput(FlaskForm):
    """One printer's correction for one stock, typed directly (set_printer_profile)."""

    printer = StringField(_l("打印机名称"), validators=[DataRequired(_l("请填写打印机名称")),
                                                       Length(max=64, message=_l("打印机名称最多64个字"))])
    stock = SelectField(_l("标签纸"))
    dpi = IntegerField(_l("分辨率（dpi）"), validators=[
        Optional(), NumberRange(100, 2400, message=_l("打印分辨率应在 100–2400 dpi 之间"))])
    dx = MillimetreField(_l("向右移 dx（毫米，负数向左）"), limit=20, default="0")
    dy = MillimetreField(_l("向下移 dy（毫米，负数向上）"), limit=20, default="0")
    creep_x = MillimetreField(_l("每往右一列再移（毫米）"), limit=2, default="0")
    creep_y = MillimetreField(_l("每往下一行再移（毫米）"), limit=2, default="0")


class DeleteProfileInput(FlaskForm):
    """The 删除 button: nothing but the CSRF token (the profile is named by the URL)."""


def _profile_input() -> PrinterProfileInput:
    form = PrinterProfileInput()
    form.stock.choices = [(stock.id, stock.name) for stock in site_stocks().values()]
    return form


def _profile_or_404(session: Session, profile_id: int) -> PrinterProfile:
    profile = session.get(PrinterProfile, profile_id)
    if profile is None:
        raise NotFound("没有这个打印机校准", field="打印机", value=profile_id)
    return profile


def _printers_page(form: PrinterProfileInput, *, editing: PrinterProfile | None = None, error: str | None = None,
                   status: int = 200) -> ResponseReturnValue:
    stocks = site_stocks()
    profiles = list_printer_profiles(db_session())
    rows = [{"profile": p, "stock": stocks.get(p.stock),
             "offset": calibration_sheet.describe(Calibration(p.dx, p.dy, p.creep_x, p.creep_y))} for p in profiles]
    return render_template("web/labels/printers.html", form=form, rows=rows, editing=editing, error=error,
                           delete=DeleteProfileInput()), status


@bp.get("/labels/stocks")
@requires("print")
def stocks() -> ResponseReturnValue:
    """The label stocks: shipped ones and the site's own, with their geometry (no server path: the page says who
    adds a stock and how)."""
    own = own_stock_ids()
    rows = [(stock, stock.id in own) for stock in sorted(site_stocks().values(), key=lambda s: (s.kind, s.id))]
    return render_template("web/labels/stocks.html", rows=rows)


@bp.get("/labels/printers")
@requires("print")
def index() -> ResponseReturnValue:
    """The printer profiles; ?edit=<id> fills the form with one of them."""
    form = _profile_input()
    editing = None
    edit = request.args.get("edit", "")
    if edit.isdigit():
        editing = _profile_or_404(db_session(), int(edit))
        form.printer.data, form.stock.data, form.dpi.data = editing.printer, editing.stock, editing.dpi
        form.dx.data, form.dy.data = f"{editing.dx:g}", f"{editing.dy:g}"
        form.creep_x.data, form.creep_y.data = f"{editing.creep_x:g}", f"{editing.creep_y:g}"
    return _printers_page(form, editing=editing)


@bp.post("/labels/printers")
@requires("manage_printers")
def save() -> ResponseReturnValue:
    """Add a profile, or change the one of this printer and stock (the change is an event)."""
    form = _profile_input()
    if not form.validate_on_submit():
        return _printers_page(form, status=400)
    stock = site_stocks()[form.stock.data or ""]
    session = db_session()
    try:
        profile = set_printer_profile(session, form.printer.data or "", stock, dx=form.dx.number or 0.0,
                                      dy=form.dy.number or 0.0, creep_x=form.creep_x.number or 0.0,
                                      creep_y=form.creep_y.number or 0.0, dpi=form.dpi.data,
                                      actor=current_account().username)
        session.commit()
    except ArchiveprintError as error:
        rollback()
        return _printers_page(form, error=message_of(error), status=error.status)
    flash(_("已保存打印机“%(printer)s”对%(stock)s的校准", printer=profile.printer, stock=stock.name), "success")
    return redirect(url_for("printers.index"), code=303)


@bp.post("/labels/printers/<int:profile_id>/delete")
@requires("manage_printers")
def delete(profile_id: int) -> ResponseReturnValue:
    if not DeleteProfileInput().validate_on_submit():
        abort(400)
    session = db_session()
    profile = _profile_or_404(session, profile_id)
    printer, stock = profile.printer, profile.stock
    delete_printer_profile(session, printer, stock, actor=current_account().username)
    session.commit()
    flash(_("已删除打印机“%(printer)s”对 %(stock)s 的校准", printer=printer, stock=stock), "success")
    return redirect(url_for("printers.index"), code=303)


# --- calibration --------------------------------------------------------------------------------------------------

class CalibrationInput(FlaskForm):
    """What the clerk measured on the calibration sheet: cell ①'s crosshair, and optionally the last cell's."""

    printer = StringField(_l("打印机名称"), validators=[DataRequired(_l("请填写打印机名称")),
                                                       Length(max=64, message=_l("打印机名称最多64个字"))])
    stock = SelectField(_l("标签纸"))
    measured_x = MillimetreField(_l("① 到左边（毫米）"), limit=1000,
                                 validators=[DataRequired(_l("请填写量到的距离（毫米）"))])
    measured_y = MillimetreField(_l("① 到上边（毫米）"), limit=1000,
                                 validators=[DataRequired(_l("请填写量到的距离（毫米）"))])
    last_x = MillimetreField(_l("最后一格到左边（毫米）"), limit=1000)
    last_y = MillimetreField(_l("最后一格到上边（毫米）"), limit=1000)
    dpi = IntegerField(_l("分辨率（dpi）"), validators=[
        Optional(), NumberRange(100, 2400, message=_l("打印分辨率应在 100–2400 dpi 之间"))])

    def validate_last_y(self, field: MillimetreField) -> None:
        if (self.last_x.number is None) != (field.number is None):
            raise ValidationError(str(_l("最后一格要量两个数（到左边和到上边），或都不填")))


def _calibration_page(form: CalibrationInput, *, status: int = 200, error: str | None = None) -> ResponseReturnValue:
    stocks = site_stocks()
    printer = (form.printer.data or "").strip()
    stock = stocks.get(form.stock.data or "")
    session = db_session()
    profile = find_printer_profile(session, printer, stock.id) if printer and stock else None
    context: dict[str, object] = {"form": form, "printer": printer, "stock": stock,
                                  "profile": profile, "error": error,
                                  "known": sorted({p.printer for p in list_printer_profiles(session)})}
    if stock is not None and printer:
        first = calibration_sheet.nominal_centre(stock, 1)
        last = calibration_sheet.nominal_centre(stock, stock.per_page)
        context.update(
            facts=stock_facts(stock), first=first, last=last, last_mark=calibration_sheet.cell_mark(stock.per_page),
            sheet=sheet_cells(stock, mark_first=False), saved=request.args.get("saved") == "1",
            current=calibration_sheet.describe(Calibration(profile.dx, profile.dy, profile.creep_x, profile.creep_y)
                                               if profile else Calibration()))
    return render_template("web/labels/calibrate.html", **context), status


def _calibration_input() -> CalibrationInput:
    form = CalibrationInput()
    form.stock.choices = [(stock.id, stock.name) for stock in site_stocks().values() if not stock.is_roll] + [
        (stock.id, stock.name) for stock in site_stocks().values() if stock.is_roll]
    if request.method == "GET":
        form.printer.data = request.args.get("printer", "").strip()[:64]
        wanted = request.args.get("stock", "")
        form.stock.data = wanted if wanted in site_stocks() else ""
    return form


@bp.get("/labels/calibrate")
@requires("print")
def calibrate() -> ResponseReturnValue:
    """打印机校准: choose printer and stock, print the sheet, measure two distances, type them in."""
    return _calibration_page(_calibration_input())


@bp.post("/labels/calibrate")
@requires("manage_printers")
def save_calibration() -> ResponseReturnValue:
    form = _calibration_input()
    if not form.validate_on_submit():
        return _calibration_page(form, status=400)
    stock = site_stocks()[form.stock.data or ""]
    session = db_session()
    measured = (form.measured_x.number or 0.0, form.measured_y.number or 0.0)
    last = (form.last_x.number, form.last_y.number) if form.last_x.number is not None else None
    try:
        profile = calibrate_printer(session, form.printer.data or "", stock, measured=measured,
                                    measured_last=last, dpi=form.dpi.data,  # type: ignore[arg-type]
                                    actor=current_account().username)
        session.commit()
    except ArchiveprintError as error:
        rollback()
        return _calibration_page(form, error=message_of(error), status=error.status)
    offset = calibration_sheet.describe(Calibration(profile.dx, profile.dy, profile.creep_x, profile.creep_y))
    flash(_("已保存打印机“%(printer)s”对%(stock)s的校准：%(offset)s", printer=profile.printer, stock=stock.name,
            offset=offset), "success")
    return redirect(url_for("printers.calibrate", printer=profile.printer, stock=stock.id, saved=1), code=303)


@bp.get("/labels/calibrate/sheet.pdf")
@requires("print")
def sheet() -> ResponseReturnValue:
    """The calibration sheet, drawn with the printer's current profile when it has one (measurements correct it);
    ?outline=1 adds the cell outlines: the test sheet after calibrating."""
    stocks = site_stocks()
    stock = stocks.get(request.args.get("stock", ""))
    if stock is None:
        raise NotFound("没有这种标签纸", field="标签纸", value=request.args.get("stock", "")[:64])
    printer = request.args.get("printer", "").strip()[:64]
    session = db_session()
    profiled = bool(printer) and find_printer_profile(session, printer, stock.id) is not None
    outline = request.args.get("outline") in ("1", "y")
    options = LabelOptions(printer=printer if profiled else None, outline=outline)
    pdf = preview_labels(session, "calibration", stock.id, LabelScope(), options=options,
                         instance_dir=state().settings.instance_dir)
    safe = re.sub(r'[\\/:*?"<>|\s]+', "_", printer)  # the printer's name goes into the file name
    name = f"{'测试页' if outline else '校准页'}-{stock.id}{'-' + safe if safe else ''}.pdf"
    return send_file(io.BytesIO(pdf), as_attachment=True, download_name=name, mimetype="application/pdf",
                     max_age=0)
