"""督导 → 抽查 pages: draw, the pick list, one checklist per folder (for a tablet at the shelves), the result with its
rates, signing, the record PDF and raw .xlsx, the history with the trend, and the 整改 tasks. Every page that names
households leaves an audit row; a viewer (督导) inspects but changes no register data."""

from __future__ import annotations

import io
import secrets
from datetime import date
from typing import Any

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from archiveprint.due.schedules import add_months
from archiveprint.errors import N_, ArchiveprintError, InvalidValue
from archiveprint.inspections import queries as q
from archiveprint.inspections.checklist import load_checklist
from archiveprint.inspections.models import Inspection, InspectionFolder
from archiveprint.inspections.report import export_xlsx, print_report
from archiveprint.inspections.services import (
    UNAVAILABLE,
    complete_task,
    draw_inspection,
    record_check,
    replace_folder,
    set_unavailable,
    sign_inspection,
)
from archiveprint.jobs.names import file_names
from archiveprint.locations.picklist import render_picklist_pdf
from archiveprint.register.populations import load_populations
from archiveprint.register.queries import list_villages
from archiveprint.register.services import get_township
from archiveprint.web.auth import current_account, current_actor, requires
from archiveprint.web.i18n import shown_message
from archiveprint.web.locations import status_providers
from archiveprint.web.responses import (
    audit_shown,
    change,
    content_disposition,
    form_text,
    note_refusal,
    pdf_response,
    printed_pdf,
    refused,
)
from archiveprint.web.session import db_session, lending_rules, now, state, today

bp = Blueprint("inspections", __name__, url_prefix="/inspections")

# The shipped populations' names (templates/register/populations.yaml) and the words of a result, in the reader's
# language; a site's own population stays as written.
POPULATION_LABELS = {"0～6岁儿童": _l("0～6岁儿童"), "65岁及以上老年人": _l("65岁及以上老年人"),
                     "高血压患者": _l("高血压患者"), "2型糖尿病患者": _l("2型糖尿病患者"),
                     "严重精神障碍患者": _l("严重精神障碍患者"), "肺结核患者": _l("肺结核患者"), "孕产妇": _l("孕产妇")}
# The shipped checklist's items (templates/inspections/checklist.yaml); a site's own item stays as written.
ITEM_LABELS = {"封面项目填写完整": _l("封面项目填写完整"),
               "个人基本信息表项目填写完整": _l("个人基本信息表项目填写完整"),
               "重点人群服务记录表齐全": _l("重点人群服务记录表齐全"), "12个月内有动态记录": _l("12个月内有动态记录"),
               "签字齐全": _l("签字齐全")}
OUTCOME_LABELS = {"pending": _l("未读完"), "qualified": _l("合格"), "failed": _l("不合格"), "unavailable": _l("未调到"),
                  "replaced": _l("已替换")}
OUTCOME_LEVELS = {"pending": "none", "qualified": "ok", "failed": "error", "unavailable": "warn", "replaced": "none"}
CONFIDENCES = (0.9, 0.95, 0.99)
MARGINS = (0.03, 0.05, 0.08, 0.1, 0.15)
DRAW_FIELDS = ("by", "size", "margin", "confidence", "minimum", "seed", "population", "inspector", "on")
SCAN_MAX = 60


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.filters.update(
        population=lambda name: str(POPULATION_LABELS.get(name, name)),
        outcome=lambda code: str(OUTCOME_LABELS.get(code, code)),
        item_title=lambda title: str(ITEM_LABELS.get(title, title)),
        percent=lambda value: "—" if value is None else f"{value:.1%}",
    )


def _inspection(inspection_id: int) -> Inspection:
    try:
        return q.find_inspection(db_session(), inspection_id)
    except ArchiveprintError:
        abort(404)


def _folder(inspection: Inspection, folder_id: int) -> InspectionFolder:
    try:
        return q.find_folder_by_id(inspection, folder_id)
    except ArchiveprintError:
        abort(404)


def _method(inspection: Inspection) -> str:
    return shown_message(None, inspection.method)


def _scope(inspection: Inspection) -> str:
    """The scope in the reader's language: the villages (or the whole township) and the populations."""
    names = {s["village"]: s["name"] for s in inspection.strata}
    villages = "、".join(names.get(code, code) for code in inspection.scope.get("villages", [])) or _("全乡镇")
    known = load_populations()
    groups = "、".join(str(POPULATION_LABELS.get(known[p].name, known[p].name)) if p in known else p
                       for p in inspection.scope.get("populations", [])) or _("全部居民")
    return _("%(villages)s；%(populations)s", villages=villages, populations=groups)


# --- history ---------------------------------------------------------------------------------------------------

@bp.get("/")
@requires("inspect")
def index() -> ResponseReturnValue:
    """Every inspection (latest first) with its rates, and the rates per village across the signed ones."""
    session = db_session()
    return render_template("web/inspections/index.html", inspections=q.list_inspections(session),
                           trend=q.find_trend(session), open_tasks=len(q.list_tasks(session, only_open=True)))


# --- draw ------------------------------------------------------------------------------------------------------

def _draw_choices() -> dict[str, object]:
    return {"villages": [v for v, _h, _r in list_villages(db_session())], "populations": load_populations(),
            "confidences": CONFIDENCES, "margins": MARGINS}


def _draw_form(values: dict[str, Any], chosen: list[str], status: int = 200) -> ResponseReturnValue:
    return render_template("web/inspections/new.html", values=values, chosen=chosen, **_draw_choices()), status


@bp.get("/new")
@requires("inspect")
def new() -> ResponseReturnValue:
    values = {"by": "size", "size": "30", "margin": "0.05", "confidence": "0.95", "minimum": "2",
              "seed": str(secrets.randbelow(900000) + 100000), "population": "",
              "inspector": current_account().display_name, "on": today().isoformat()}
    return _draw_form(values, [])


def _number(text: str, kind: type, field: str) -> Any:
    try:
        return kind(text)
    except ValueError:
        raise InvalidValue(N_("应为数字"), field=field, value=text or None) from None


@bp.post("/new")
@requires("inspect")
def draw() -> ResponseReturnValue:
    """Draw the folders; the page of the new inspection says which are not on their shelves."""
    values = {key: form_text(key, 100) for key in DRAW_FIELDS}
    chosen = [ref[:12] for ref in request.form.getlist("village")][:200]  # as the site names them (Village.ref)
    try:
        by_margin = values["by"] == "margin"
        on = date.fromisoformat(values["on"]) if values["on"] else today()
        made = draw_inspection(
            db_session(), seed=values["seed"], inspector=values["inspector"], on=on,
            checklist=load_checklist(state().settings.instance_dir),
            size=None if by_margin else _number(values["size"], int, N_("样本量")),
            margin=_number(values["margin"], float, N_("允许误差")) if by_margin else None,
            confidence=_number(values["confidence"] or "0.95", float, N_("置信水平")),
            minimum=_number(values["minimum"] or "0", int, N_("每村最少袋数")), villages=chosen,
            populations=[values["population"]] if values["population"] else [],
            replace_unavailable=request.form.get("replace_unavailable") == "1", providers=status_providers(),
            actor=current_actor(), now=now())
    except ValueError:  # a date that is no date
        note_refusal(InvalidValue(N_("日期格式应为 YYYY-MM-DD"), field=N_("检查日期"), value=values["on"]))
        return _draw_form(values, chosen, 400)
    except ArchiveprintError as error:
        note_refusal(error)
        return _draw_form(values, chosen, 400)
    db_session().commit()
    flash(_("已抽取 %(number)s：%(n)s 袋", number=made.number, n=made.size), "success")
    away = [f for f in made.folders if f.state == "sampled" and f.status_at_draw in UNAVAILABLE]
    if away:
        flash(_("%(n)s 袋抽取时不在架（借出、取出或下落不明）：请调回，或在该袋页面登记未调到、以替补替换",
                n=len(away)), "warning")
    return redirect(url_for("inspections.show", inspection_id=made.id), code=303)


# --- one inspection ---------------------------------------------------------------------------------------------

def _pick_order(inspection: Inspection) -> tuple[Any, list[int]]:
    """The pick list and the folders' ids in its order (the order the checklists are read in)."""
    picks = q.inspection_picklist(db_session(), inspection, providers=status_providers())
    by_household = {f.household_id: f.id for f in inspection.folders if f.state != "replaced"}
    return picks, [by_household[row.location.household_id] for row in picks.rows]


@bp.get("/<int:inspection_id>")
@requires("inspect")
def show(inspection_id: int) -> ResponseReturnValue:
    """The inspection: how it was drawn, its folders in pick order with their state, the scan box."""
    found = _inspection(inspection_id)
    report = q.compute_report(db_session(), found)
    picks, order = _pick_order(found)
    views = {view.id: view for view in report.folders}
    rows = [(row, views[folder_id]) for row, folder_id in zip(picks.rows, order, strict=True)]
    replaced = [view for view in report.folders if view.outcome == "replaced"]
    audit_shown("view", [view.household_id for view in report.folders], f"抽查 {found.number}")
    return render_template("web/inspections/show.html", inspection=found, report=report, rows=rows,
                           replaced=replaced, method=_method(found), scope=_scope(found), levels=OUTCOME_LEVELS,
                           next_folder=next((view.id for _row, view in rows if view.outcome == "pending"), None))


@bp.post("/<int:inspection_id>/scan")
@requires("inspect")
def scan(inspection_id: int) -> ResponseReturnValue:
    """A folder scanned (or its number typed) at the shelves: open its checklist."""
    found = _inspection(inspection_id)
    code = form_text("code", SCAN_MAX)
    try:
        if not code:
            raise InvalidValue(N_("请扫描或输入档案袋编号"), field=N_("档案袋"))
        folder = q.find_folder(db_session(), found, code)
    except ArchiveprintError as error:
        return refused(error, url_for("inspections.show", inspection_id=inspection_id))
    return redirect(url_for("inspections.folder", inspection_id=inspection_id, folder_id=folder.id), code=303)


@bp.get("/<int:inspection_id>/picklist")
@requires("inspect")
def picklist(inspection_id: int) -> ResponseReturnValue:
    found = _inspection(inspection_id)
    picks, order = _pick_order(found)
    audit_shown("view", [row.location.household_id for row in picks.rows], f"抽查调档单 {found.number}")
    return render_template("web/inspections/picklist.html", inspection=found, rows=list(zip(picks.rows, order,
                                                                                            strict=True)))


@bp.get("/<int:inspection_id>/picklist.pdf")
@requires("inspect")
def picklist_pdf(inspection_id: int) -> ResponseReturnValue:
    """调档单 as A4 (the existing pick list), in shelf walking order."""
    found = _inspection(inspection_id)
    picks, _order = _pick_order(found)
    pdf = render_picklist_pdf(picks, day=today(), unit=get_township(db_session()).unit_name,
                              note=f"抽查 {found.number}")
    audit_shown("print", [row.location.household_id for row in picks.rows], f"抽查调档单 {found.number}")
    return pdf_response(pdf, f"调档单-{found.number}.pdf")


# --- one folder's checklist ---------------------------------------------------------------------------------------

@bp.get("/<int:inspection_id>/folders/<int:folder_id>")
@requires("inspect")
def folder(inspection_id: int, folder_id: int) -> ResponseReturnValue:
    """The checklist of one folder, big enough to tap at the shelves: who is read, what their populations need,
    the latest service registered (a hint: the folder decides), each item 合格/不合格 with a note."""
    found = _inspection(inspection_id)
    target = _folder(found, folder_id)
    _picks, order = _pick_order(found)
    sheet = q.folder_sheet(db_session(), found, target, order)
    checklist = q.checklist_of(found)
    audit_shown("view", [target.household_id], f"抽查 {found.number}")
    position = order.index(target.id) + 1 if target.id in order else None
    return render_template("web/inspections/folder.html", inspection=found, sheet=sheet, checklist=checklist,
                           position=position, count=len(order),
                           window_start=_window_start(found, checklist.window_months))


def _window_start(inspection: Inspection, months: int) -> str:
    return add_months(inspection.inspected_on, -months).isoformat()


def _day(text: str, field: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidValue(N_("日期格式应为 YYYY-MM-DD"), field=field, value=text) from None


@bp.post("/<int:inspection_id>/folders/<int:folder_id>")
@requires("inspect")
def save_folder(inspection_id: int, folder_id: int) -> ResponseReturnValue:
    """Save what was read (items left unanswered stay open); then this folder again, or the next one to read."""
    found = _inspection(inspection_id)
    target = _folder(found, folder_id)
    here = url_for("inspections.folder", inspection_id=inspection_id, folder_id=folder_id)
    checklist = q.checklist_of(found)
    session = db_session()
    changed = 0
    try:
        for item in checklist.items:
            answer = form_text(f"item-{item.key}", 10)
            seen = _day(form_text(f"seen-{item.key}", 10), item.title) if item.kind == "dynamic" else None
            if not answer and seen is None:
                continue
            passed = {"pass": True, "fail": False}.get(answer)
            row = record_check(session, target, item.key, passed=passed, note=form_text(f"note-{item.key}"),
                               seen_on=seen, actor=current_actor(), now=now())
            changed += row is not None
    except ArchiveprintError as error:
        return refused(error, here)
    session.commit()
    flash(_("已保存 %(folder)s：%(n)s 项", folder=target.folder, n=changed), "success")
    following = request.form.get("next", type=int)
    if following and any(f.id == following for f in found.folders):
        return redirect(url_for("inspections.folder", inspection_id=inspection_id, folder_id=following), code=303)
    if request.form.get("next") == "result":
        return redirect(url_for("inspections.result", inspection_id=inspection_id), code=303)
    return redirect(here, code=303)


@bp.post("/<int:inspection_id>/folders/<int:folder_id>/unavailable")
@requires("inspect")
def unavailable(inspection_id: int, folder_id: int) -> ResponseReturnValue:
    found = _inspection(inspection_id)
    target = _folder(found, folder_id)
    undo = request.form.get("undo") == "1"

    def make() -> str:
        set_unavailable(db_session(), target, unavailable=not undo, note=form_text("note"), actor=current_actor(),
                        now=now())
        return _("%(folder)s：已恢复为待核查", folder=target.folder) if undo else \
            _("%(folder)s：已登记未调到", folder=target.folder)
    return change(make, url_for("inspections.folder", inspection_id=inspection_id, folder_id=folder_id))


@bp.post("/<int:inspection_id>/folders/<int:folder_id>/replace")
@requires("inspect")
def replace(inspection_id: int, folder_id: int) -> ResponseReturnValue:
    """The inspector does not insist on this folder: its village's next reserve on its shelf takes its place."""
    found = _inspection(inspection_id)
    target = _folder(found, folder_id)
    try:
        new_folder = replace_folder(db_session(), target, reason=form_text("reason"), providers=status_providers(),
                                    actor=current_actor(), now=now())
    except ArchiveprintError as error:
        return refused(error, url_for("inspections.folder", inspection_id=inspection_id, folder_id=folder_id))
    db_session().commit()
    flash(_("%(old)s 已由替补 %(new)s 替换", old=target.folder, new=new_folder.folder), "success")
    return redirect(url_for("inspections.folder", inspection_id=inspection_id, folder_id=new_folder.id), code=303)


# --- result, signing, documents ---------------------------------------------------------------------------------

@bp.get("/<int:inspection_id>/result")
@requires("inspect")
def result(inspection_id: int) -> ResponseReturnValue:
    found = _inspection(inspection_id)
    report = q.compute_report(db_session(), found)
    tasks = q.list_tasks(db_session(), inspection_id=found.id)
    audit_shown("view", [view.household_id for view in report.folders], f"抽查结果 {found.number}")
    return render_template("web/inspections/result.html", inspection=found, report=report, tasks=tasks,
                           method=_method(found), scope=_scope(found))


@bp.post("/<int:inspection_id>/sign")
@requires("inspect")
def sign(inspection_id: int) -> ResponseReturnValue:
    found = _inspection(inspection_id)
    target = url_for("inspections.result", inspection_id=inspection_id)
    if request.form.get("confirm") != "1":
        return refused(InvalidValue(N_("请勾选“确认签署”"), field=N_("确认")), target)

    def make() -> str:
        sign_inspection(db_session(), found, actor=current_actor(), now=now())
        return _("抽查 %(number)s 已签署：整改任务 %(n)s 项", number=found.number, n=len(found.tasks))
    return change(make, target)


def _names(inspection: Inspection, what: tuple[str, str]) -> tuple[str, str]:
    return file_names(what, [(inspection.number, inspection.number)], inspection.inspected_on)


@bp.get("/<int:inspection_id>/report.pdf")
@requires("inspect")
def report_pdf(inspection_id: int) -> ResponseReturnValue:
    """The inspection record (检查人、日期、范围、方法、结果、签字栏); a draft until signed. Audited as a print."""
    found = _inspection(inspection_id)
    name, _fallback = _names(found, ("抽查记录", "inspection"))
    return printed_pdf(lambda: print_report(db_session(), found, user=current_account().user, now=now(),
                                            timezone=lending_rules().timezone), f"{name}.pdf")


@bp.get("/<int:inspection_id>/results.xlsx")
@requires("inspect")
def results_xlsx(inspection_id: int) -> ResponseReturnValue:
    """The raw results, one row per folder and a column per item (audited as an export)."""
    found = _inspection(inspection_id)
    session = db_session()
    session.commit()
    data = export_xlsx(session, found, user=current_account().user, now=now())
    session.commit()
    name, fallback = _names(found, ("抽查结果", "inspection-results"))
    response = send_file(io.BytesIO(data), as_attachment=True, download_name=f"{fallback}.xlsx", max_age=0,
                         mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response.headers["Content-Disposition"] = content_disposition(f"{name}.xlsx", f"{fallback}.xlsx")
    return response


# --- 整改 tasks -------------------------------------------------------------------------------------------------

@bp.get("/tasks")
@requires("inspect")
def tasks() -> ResponseReturnValue:
    only_open = request.args.get("all") != "1"
    found = q.list_tasks(db_session(), only_open=only_open)
    audit_shown("view", [task.household_id for task in found], "整改任务")
    return render_template("web/inspections/tasks.html", tasks=found, only_open=only_open)


@bp.post("/tasks/<int:task_id>/done")
@requires("rectify")
def task_done(task_id: int) -> ResponseReturnValue:
    def make() -> str:
        task = complete_task(db_session(), task_id, note=form_text("note"), actor=current_actor(), now=now())
        return _("整改任务 %(id)s 已完成", id=task.id)
    return change(make, url_for("inspections.tasks"))

