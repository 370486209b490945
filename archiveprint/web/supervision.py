"""督导 pages: 常住人口 per village and year (entered, corrected, imported with a preview) and the indicators —
建档率 per village and population against the year's targets, who is missing, 纸质档案在架率 — each number with its
definition beside it. Every list of people shown leaves audit rows."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from sqlalchemy import select
from wtforms import SelectField, StringField
from wtforms.validators import InputRequired, ValidationError

from archiveprint.errors import ArchiveprintError
from archiveprint.indicators.importer import import_figures
from archiveprint.indicators.queries import (
    NOTES,
    find_indicators,
    find_missing,
    find_shelf_coverage,
    find_unshelved_residents,
    list_figures,
)
from archiveprint.indicators.services import FIGURE_LABELS, WEB_SOURCE, parse_count, parse_year, record_figures
from archiveprint.indicators.targets import Targets, site_targets
from archiveprint.register import uploads
from archiveprint.register.models import Village
from archiveprint.web.auth import current_account, requires
from archiveprint.web.i18n import message_of
from archiveprint.web.responses import audit_shown, note_refusal
from archiveprint.web.session import db_session, rollback, state, today

bp = Blueprint("supervision", __name__, url_prefix="/supervision")
UPLOADS = "population_uploads"  # under the instance folder, beside the register's uploads
UNSHELVED_SHOWN = 500
FIELD_OF_LABEL = {str(label): key for key, label in FIGURE_LABELS.items()} | {"年份": "year"}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


def _count(form: FlaskForm, field: StringField) -> None:
    try:
        parse_count(field.data)
    except ValueError:
        raise ValidationError(_l("应为整数人数")) from None


class FigureInput(FlaskForm):
    """录入常住人口: one village's figures for a year (the key figures may stay empty)."""

    village = SelectField(_l("村(居)委会"), validators=[InputRequired(_l("请选择村(居)委会"))])
    year = StringField(_l("年份"), validators=[InputRequired(_l("请填写年份"))])
    residents = StringField(_l("常住人口"), validators=[InputRequired(_l("请填写常住人口")), _count])
    age65 = StringField(_l("65岁及以上"), validators=[_count])
    age0_6 = StringField(_l("0-6岁"), validators=[_count])
    maternal = StringField(_l("孕产妇"), validators=[_count])

    def validate_year(self, field: StringField) -> None:
        try:
            parse_year(field.data)
        except ValueError:
            raise ValidationError(_l("应为四位年份，如 2026")) from None


class PopulationUploadInput(FlaskForm):
    file = FileField(_l("常住人口表（.xlsx 或 .csv）"), validators=[
        FileRequired(_l("请选择要导入的文件")), FileAllowed(["xlsx", "csv"], _l("只能导入 .xlsx 或 .csv 文件"))])


class ConfirmInput(FlaskForm):
    """确认导入: nothing but the CSRF token (the file is named by the URL)."""


def _year() -> int:
    value = request.args.get("year", "")
    return int(value) if value.isdigit() and 1990 <= int(value) <= 2100 else today().year


def _targets() -> Targets:
    return site_targets(state().settings.instance_dir)


def _villages() -> list[Village]:
    return list(db_session().scalars(select(Village).order_by(Village.code)))


# --- 常住人口 -------------------------------------------------------------------------------------------------

@bp.get("/population")
@requires("view_indicators")
def population() -> ResponseReturnValue:
    year = _year()
    form = FigureInput(formdata=None)
    chosen = request.args.get("village", "")
    if chosen:
        current = next((f for f in list_figures(db_session(), year=year) if f.village_code == chosen), None)
        form.village.data = chosen
        if current is not None:
            for key, value in current.values.items():
                getattr(form, key).data = "" if value is None else str(value)
    form.year.data = str(year)
    return _population_page(form, year)


def _population_page(form: FigureInput, year: int, *, status: int = 200) -> ResponseReturnValue:
    villages = _villages()
    form.village.choices = [(v.ref, f"{v.ref} {v.name}") for v in villages]
    history = request.args.get("history") == "1"
    figures = list_figures(db_session(), year=year, history=history)
    current = {f.village_code: f for f in figures if f.current}
    return render_template("web/supervision/population.html", year=year, villages=villages, current=current,
                           older=[f for f in figures if not f.current], history=history, form=form,
                           labels=FIGURE_LABELS), status


@bp.post("/population")
@requires("enter_population")
def record_population() -> ResponseReturnValue:
    """录入 or 更正: a new row when the figures differ from those in force; the page shows the village's row."""
    form = FigureInput()
    villages = {v.ref: v for v in _villages()}  # as the site names them: 12 digits for a village taken over
    form.village.choices = [(code, code) for code in villages]
    try:
        year = parse_year(form.year.data)
    except ValueError:
        year = None
    shown = year if year is not None and 1990 <= year <= 2100 else today().year
    if not form.validate_on_submit() or year is None:
        return _population_page(form, shown, status=400)
    values = {key: parse_count(getattr(form, key).data) for key in FIGURE_LABELS}
    session = db_session()
    try:
        change = record_figures(session, villages[form.village.data], year, values, source=WEB_SOURCE,
                                actor=current_account().username)
        session.commit()
    except ArchiveprintError as error:
        rollback()
        getattr(form, FIELD_OF_LABEL.get(str(error.field), "residents")).errors = [message_of(error, alone=True)]
        return _population_page(form, shown, status=error.status)
    flash({"added": _l("已录入 %(village)s %(year)s 年常住人口。", village=change.village_name, year=change.year),
           "changed": _l("已更正 %(village)s %(year)s 年常住人口（原数字留作历史）。", village=change.village_name,
                         year=change.year),
           "unchanged": _l("与现有数字相同，未改动。")}[change.action], "success")
    return redirect(url_for("supervision.population", year=change.year, _anchor=f"village-{change.village_code}"),
                    code=303)


# --- import ---------------------------------------------------------------------------------------------------

def _upload_root() -> Path:
    return state().settings.instance_dir / UPLOADS


@bp.get("/population/import")
@requires("enter_population")
def population_upload() -> ResponseReturnValue:
    return render_template("web/supervision/population_import.html", form=PopulationUploadInput(), upload=None,
                           report=None, confirm=None)


@bp.post("/population/import")
@requires("enter_population")
def population_check() -> ResponseReturnValue:
    """Keep the upload and check it without writing: the clerk sees every row (新增/更正/未变) or every problem."""
    form = PopulationUploadInput()
    if not form.validate_on_submit():
        return render_template("web/supervision/population_import.html", form=form, upload=None, report=None,
                               confirm=None), 400
    root = _upload_root()
    stored = uploads.save_upload(root, form.file.data.stream, form.file.data.filename or "upload",
                                 user_id=current_account().user.id, add_villages=False)
    try:
        report = import_figures(db_session(), stored.source(root), name=stored.filename,
                                actor=current_account().username, limits=state().settings.import_limits, apply=False)
    except ArchiveprintError as error:
        uploads.discard(root, stored)  # an unreadable file is not kept
        note_refusal(error)
        return render_template("web/supervision/population_import.html", form=form, upload=None, report=None,
                               confirm=None), error.status
    rollback()  # nothing was written: end the writer's transaction
    stored.report = report.as_values()
    if not report.ok:
        uploads.discard_source(root, stored)  # nothing to confirm: the file is not kept
    uploads.store(root, stored)
    return redirect(url_for("supervision.population_report", token=stored.token), code=303)


def _own_upload(token: str) -> uploads.PendingUpload:
    stored = uploads.load(_upload_root(), token)
    if stored.user_id != current_account().user.id:
        raise uploads.missing(token)
    return stored


@bp.get("/population/import/<token>")
@requires("enter_population")
def population_report(token: str) -> ResponseReturnValue:
    stored = _own_upload(token)
    return render_template("web/supervision/population_import.html", form=PopulationUploadInput(), upload=stored,
                           report=stored.report or {}, confirm=ConfirmInput(), labels=FIGURE_LABELS)


@bp.post("/population/import/<token>/apply")
@requires("enter_population")
def population_apply(token: str) -> ResponseReturnValue:
    """确认导入: all rows or none; rows equal to the figures in force write nothing."""
    if not ConfirmInput().validate_on_submit():
        abort(400)
    stored = _own_upload(token)
    root = _upload_root()
    claimed = uploads.claim(root, stored)
    session = db_session()
    try:
        report = import_figures(session, claimed, name=stored.filename, actor=current_account().username,
                                limits=state().settings.import_limits)
        session.commit()
    except BaseException:
        session.rollback()
        uploads.release(root, stored)
        raise
    stored.report = report.as_values()
    stored.state = "applied" if report.applied else "checked"
    uploads.discard_source(root, stored)
    uploads.store(root, stored)
    return redirect(url_for("supervision.population_report", token=token), code=303)


# --- indicators -----------------------------------------------------------------------------------------------

@bp.get("/indicators")
@requires("view_indicators")
def indicators() -> ResponseReturnValue:
    year = _year()
    session = db_session()
    result = find_indicators(session, year, targets=_targets(), today=today())
    return render_template("web/supervision/indicators.html", year=year, result=result,
                           shelves=find_shelf_coverage(session), notes=NOTES)


@bp.get("/indicators/missing")
@requires("view_indicators")
def missing() -> ResponseReturnValue:
    """Who of a key population has no service of its schedule recorded in the year (audited: it names people)."""
    year = _year()
    session = db_session()
    villages = _villages()
    village = next((v for v in villages if v.ref == request.args.get("village")), None)
    found = find_missing(session, year, request.args.get("population", ""), targets=_targets(), today=today(),
                         village_id=village.id if village else None)
    audit_shown("view", [person.household_id for person in found.people],
                f"建档率：{found.measure.name}{year}年未登记{found.schedule_name}名单")
    return render_template("web/supervision/missing.html", year=year, found=found, villages=villages,
                           village=village)


@bp.get("/indicators/unshelved")
@requires("view_indicators")
def unshelved() -> ResponseReturnValue:
    """Residents with a record whose folder is not shelved or not found (audited)."""
    villages = _villages()
    village = next((v for v in villages if v.ref == request.args.get("village")), None)
    people = find_unshelved_residents(db_session(), village_id=village.id if village else None,
                                      limit=UNSHELVED_SHOWN + 1)
    shown = people[:UNSHELVED_SHOWN]
    audit_shown("view", [person.household_id for person in shown], "在架率：档案袋未上架或下落不明的在档居民")
    return render_template("web/supervision/unshelved.html", people=shown, more=len(people) > UNSHELVED_SHOWN,
                           villages=villages, village=village)
