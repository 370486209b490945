"""Archive-room pages: the storage map, a shelf's folders, locate with history and folder actions, the re-layout
planner, pick lists and loading a storage layout (every page that names people leaves an audit row)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, time

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import to_utc
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from archiveprint.db import utcnow
from archiveprint.errors import ArchiveprintError, InvalidValue, NotConfigured
from archiveprint.lending.queries import folder_value, list_folder_loans, status_provider
from archiveprint.lending.services import write_off as write_off_folder
from archiveprint.locations.closing import close_members, reopen_members
from archiveprint.locations.layout import parse_layout
from archiveprint.locations.picklist import render_picklist_pdf
from archiveprint.locations.queries import (
    OVERFLOW_SOON,
    FolderLocation,
    PickList,
    StatusProvider,
    display_code,
    find_capacity,
    find_folder,
    find_folder_detail,
    find_pick_codes,
    find_picklist,
    find_place,
    locate,
)
from archiveprint.locations.relayout import RelayoutPlan, apply_relayout, plan_relayout
from archiveprint.locations.services import (
    BLOCK_REASONS,
    LayoutReport,
    OccupiedShelves,
    apply_layout,
    close_folder,
    move_folder,
    put_back,
    report_missing,
)
from archiveprint.locations.shelveall import shelve_all
from archiveprint.locations.storagemap import find_layout_in_use, find_shelf_view, find_storage_map
from archiveprint.register.models import Household
from archiveprint.register.queries import classify_query, ordered_members
from archiveprint.register.services import find_village, get_township
from archiveprint.web.auth import current_actor, requires
from archiveprint.web.errors import refusal_text
from archiveprint.web.i18n import CLOSE_REASON_LABELS, message_of, shelf_address
from archiveprint.web.responses import audit_shown, change, note_refusal, pdf_response, submitted
from archiveprint.web.session import db_session, lending_rules, rollback, today

bp = Blueprint("locations", __name__, url_prefix="/locations")
QUERY_MAX = 100
PICK_MAX = 500  # lines in a pick list
LAYOUT_MAX = 512 * 1024  # a layout file is a few KB
SOON = OVERFLOW_SOON  # a village this close to overflowing is flagged on the map


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


def status_providers() -> list[StatusProvider]:
    """What lending knows about folders that are out (lent to whom, since when), for locate and the register."""
    return [status_provider(lending_rules())]


# --- the storage map --------------------------------------------------------------------------------------------

@bp.get("/")
@requires("view_person")
def index() -> ResponseReturnValue:
    storage = find_storage_map(db_session())
    return render_template("web/locations/map.html", rooms=storage.rooms, villages=storage.villages, soon=SOON,
                           totals=storage.totals, waiting=storage.waiting)


@bp.get("/shelves/<code>")
@requires("view_person")
def shelf(code: str) -> ResponseReturnValue:
    """One shelf's folders in position order, with what its shelf label says."""
    view = find_shelf_view(db_session(), code, providers=status_providers())
    audit_shown("view", view.household_ids, f"shelf {view.shelf.code}")
    return render_template("web/locations/shelf.html", shelf=view.shelf, folders=view.folders, shelf_label=view.label,
                           previous=view.previous, following=view.following)


# --- locate and folder actions ----------------------------------------------------------------------------------

class MoveInput(FlaskForm):
    to = StringField(_l("移到（位置编码或完整位置，可带第几位）"),
                     validators=[DataRequired(_l("请填写新位置")), Length(max=120)])
    reason = StringField(_l("原因"), validators=[Length(max=200)])
    version = HiddenField()


class CloseInput(FlaskForm):
    """结案: nothing is chosen for the clerk, neither the reason nor the members; the date defaults to today."""

    reason = SelectField(_l("结案原因"), choices=[SelectChoice("", _l("请选择结案原因")),
                                                *(SelectChoice(k, v) for k, v in CLOSE_REASON_LABELS.items())],
                         validators=[DataRequired(_l("请选择结案原因"))],
                         render_kw={"required": False})  # the server refuses, in words the clerk reads
    on = StringField(_l("结案日期"), validators=[DataRequired(_l("请填写结案日期")), Length(max=10)],
                     render_kw={"type": "date"})
    note = StringField(_l("说明"), validators=[Length(max=200)])


class ReasonInput(FlaskForm):
    """Reopen from the closed area, or report missing: a reason is required."""

    reason = StringField(_l("原因"), validators=[DataRequired(_l("请写明原因")), Length(max=200)])
    version = HiddenField()


class FoundInput(FlaskForm):
    version = HiddenField()


class WriteOffInput(FlaskForm):
    """确认遗失/注销 of a folder registered missing and not found: why, and who approved it (both required)."""

    # the server refuses a blank one, in words the clerk reads (not the browser's own bubble)
    reason = StringField(_l("原因（查找经过）"), validators=[DataRequired(_l("请写明原因")), Length(max=200)],
                         render_kw={"required": False})
    approved_by = StringField(_l("批准人"), validators=[DataRequired(_l("请写明批准人")), Length(max=100)],
                              render_kw={"required": False})
    version = HiddenField()


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidValue("日期应写成 2026-11-01", field="日期", value=text[:10]) from None


@bp.get("/locate")
@requires("view_person")
def locate_page() -> ResponseReturnValue:
    """By folder code, archive code, name, initials, ID number or phone: address, status, members and history."""
    query = request.args.get("q", "").strip()[:QUERY_MAX]
    on = _day(request.args.get("on"))
    session = db_session()
    household_id = request.args.get("household", type=int)
    if household_id is not None and not query:  # from the household page
        query = folder_value(find_folder(session, household_id))
    found: list[FolderLocation] = locate(session, query, providers=status_providers()) if query else []
    detail, loans = None, []
    if len(found) == 1:
        at = to_utc(datetime.combine(on, time.max)) if on is not None else None
        detail = find_folder_detail(session, found[0].household_id, at=at)
        loans = list_folder_loans(session, found[0].household_id, rules=lending_rules())
    if found:
        kind, _key = classify_query(query)
        audit_shown("view" if detail else "search", [loc.household_id for loc in found], f"locate {kind}")
    version = str(found[0].place.version) if detail else ""
    forms = {"move": MoveInput(version=version),
             "reopen": ReasonInput(version=version, prefix="reopen"),
             "missing": ReasonInput(version=version, prefix="missing"), "found": FoundInput(version=version),
             "write_off": WriteOffInput(version=version, prefix="write_off")}
    return render_template("web/locations/locate.html", query=query, locate_query=query, found=found,
                           detail=detail, loans=loans, forms=forms, on=on)


def _folder_change(household_id: int, form: FlaskForm, make: Callable[[Household], str]) -> ResponseReturnValue:
    """One action on a folder from the locate page, back to it (POST/Redirect/Get); a form the clerk got wrong,
    the action's success or its refusal is flashed there."""
    household = db_session().get(Household, household_id)
    target = url_for("locations.locate_page", q=folder_value(household) if household else "")
    if not form.validate_on_submit():
        if form.errors.keys() == {"csrf_token"}:
            abort(400)
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "error")
        return redirect(target, code=303)
    version = form.version.data  # type: ignore[attr-defined]
    return change(lambda: make(find_folder(db_session(), household_id, version=version)), target)


def _address(household: Household) -> str:
    """Where the folder is now, in the interface language."""
    return shelf_address(find_place(db_session(), household.id).address)


@bp.post("/folders/<int:household_id>/move")
@requires("manage_locations")
def move(household_id: int) -> ResponseReturnValue:
    form = MoveInput()

    def make(household: Household) -> str:
        version = int(form.version.data) if (form.version.data or "").isdigit() else None
        move_folder(db_session(), household, form.to.data or "", reason=(form.reason.data or "").strip(),
                    expected_version=version, actor=current_actor(), now=utcnow())
        return _("已移到 %(address)s", address=_address(household))
    return _folder_change(household_id, form, make)


@bp.post("/folders/<int:household_id>/reopen")
@requires("manage_locations")
def reopen(household_id: int) -> ResponseReturnValue:
    """取回: the folder back from the closed area (when it is there) and the ticked members' records reopened."""
    form = ReasonInput(prefix="reopen")

    def make(household: Household) -> str:
        result = reopen_members(db_session(), household, request.form.getlist("residents"),
                                reason=(form.reason.data or "").strip(), actor=current_actor(), now=utcnow())
        if not result.from_closed_area:
            return _("已恢复档案：%(names)s", names="、".join(result.reopened))
        return _("已从结案区取回：%(address)s", address=_address(household))
    return _folder_change(household_id, form, make)


@bp.post("/folders/<int:household_id>/missing")
@requires("manage_locations")
def missing(household_id: int) -> ResponseReturnValue:
    form = ReasonInput(prefix="missing")

    def make(household: Household) -> str:
        report_missing(db_session(), household, reason=(form.reason.data or "").strip(), actor=current_actor(),
                       now=utcnow())
        return _("已登记为下落不明")
    return _folder_change(household_id, form, make)


@bp.post("/folders/<int:household_id>/found")
@requires("manage_locations")
def found(household_id: int) -> ResponseReturnValue:
    def make(household: Household) -> str:
        put_back(db_session(), household, actor=current_actor(), now=utcnow())
        return _("已归位")
    return _folder_change(household_id, FoundInput(), make)


@bp.post("/folders/<int:household_id>/write-off")
@requires("manage_locations")
def write_off(household_id: int) -> ResponseReturnValue:
    """确认遗失/注销: the folder leaves the archive for good, with why and who approved it (a loan lost is settled)."""
    form = WriteOffInput(prefix="write_off")

    def make(household: Household) -> str:
        write_off_folder(db_session(), folder_value(household), reason=form.reason.data or "",
                         approved_by=form.approved_by.data or "", actor=current_actor(), now=utcnow())
        return _("已确认遗失并注销，移出档案室")
    return _folder_change(household_id, form, make)


def _close_page(household: Household, form: CloseInput, chosen: Iterable[str], *, error: str | None = None,
                status: int = 200) -> ResponseReturnValue:
    place = find_place(db_session(), household.id, status_providers())
    members = ordered_members(household)
    audit_shown("view", [household.id], "close page")
    return render_template("web/locations/close.html", household=household, folder=display_code(household),
                           place=place, members=members, form=form, chosen=set(chosen), error=error,
                           today_iso=today().isoformat(),
                           active=sum(m.status == "active" for m in members)), status


@bp.get("/folders/<int:household_id>/close")
@requires("manage_locations")
def close_page(household_id: int) -> ResponseReturnValue:
    """结案 asks first: the household, every member with a box to tick (none ticked), the reason (none chosen)
    and the date (today unless changed)."""
    household = find_folder(db_session(), household_id)
    return _close_page(household, CloseInput(on=today().isoformat()), ())


@bp.post("/folders/<int:household_id>/close")
@requires("manage_locations")
def close(household_id: int) -> ResponseReturnValue:
    """Close the ticked members' records with the reason and date; the folder moves to the closed area only when
    no member is left on file. A refusal redraws the page with the clerk's choices kept."""
    session = db_session()
    household = find_folder(session, household_id)
    if request.form.get("folder_only") == "1":
        return _close_folder_only(household)
    form = CloseInput()
    chosen = request.form.getlist("residents")
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)
        errors = [str(error) for errors in form.errors.values() for error in errors]
        return _close_page(household, form, chosen, error="；".join(errors), status=400)
    try:
        result = close_members(session, household, chosen, form.reason.data or "", _day(form.on.data) or today(),
                               today=today(), note=form.note.data or "", actor=current_actor(), now=utcnow())
        session.commit()
    except ArchiveprintError as refusal:
        rollback()
        household = find_folder(db_session(), household_id)
        return _close_page(household, form, chosen, error=str(refusal), status=refusal.status)
    names = "、".join(result.closed or result.already)
    if result.folder is not None:
        flash(_("已结案：%(names)s。全户已结案，档案袋已移入结案区：%(address)s", names=names,
                address=_address(household)), "success")
    else:
        flash(_("已结案：%(names)s。该户还有成员在档，档案袋留在原位。", names=names), "success")
    return redirect(url_for("register.household", household_id=household.id), code=303)


def _close_folder_only(household: Household) -> ResponseReturnValue:
    """A household whose members were all closed before (one by one, or in the register) whose folder is still on
    its village shelf: the folder goes to the closed area."""
    submitted(FoundInput())

    def make() -> str:
        close_folder(db_session(), household, reason="全户已结案", actor=current_actor(), now=utcnow())
        return _("档案袋已移入结案区：%(address)s", address=_address(household))
    return change(make, url_for("register.household", household_id=household.id))


# --- re-layout ----------------------------------------------------------------------------------------------------

class RelayoutInput(FlaskForm):
    village = HiddenField()
    reserve = HiddenField()
    fingerprint = HiddenField(validators=[DataRequired()])


def _reserve(text: str | None) -> float | None:
    """The growth reserve as a percentage typed by the clerk (blank: the layout's own)."""
    value = (text or "").strip().rstrip("%")
    if not value:
        return None
    if not value.isdigit() or int(value) > 500:
        raise InvalidValue("预留比例应为 0–500 之间的整数（百分比）", field="预留", value=value[:10])
    return int(value) / 100


def _plan(village: str, reserve: str | None) -> RelayoutPlan:
    session = db_session()
    return plan_relayout(session, find_village(session, village), reserve=_reserve(reserve))


@bp.get("/relayout")
@requires("manage_locations")
def relayout() -> ResponseReturnValue:
    """Choose a village and a reserve, see the plan: what moves, in walking order, and the shelves it takes."""
    villages = find_capacity(db_session()).villages
    village = request.args.get("village", "").strip()[:20]
    reserve = request.args.get("reserve", "").strip()[:10]
    plan, error, status = None, None, 200
    if village:
        try:
            plan = _plan(village, reserve)
        except ArchiveprintError as refusal:
            error, status = refusal_text(refusal), refusal.status  # with the page that fixes it
    context = {"villages": villages, "village": village, "reserve": reserve, "plan": plan, "error": error}
    if plan is not None:
        context |= {"capacity_before": plan.capacity_before, "capacity_after": plan.capacity_after,
                    "form": RelayoutInput(village=village, reserve=reserve, fingerprint=plan.fingerprint)}
        audit_shown("view", plan.moved_households, f"relayout plan {village}")
    return render_template("web/locations/relayout.html", **context), status


@bp.get("/relayout/print")
@requires("manage_locations")
def relayout_print() -> ResponseReturnValue:
    """The move list and the new shelf labels on a page made for printing."""
    village = request.args.get("village", "").strip()[:20]
    plan = _plan(village, request.args.get("reserve", "")[:10])
    audit_shown("print", plan.moved_households, f"relayout move list {village}")
    return render_template("web/locations/relayout_print.html", plan=plan, village=village, day=today())


@bp.post("/relayout/apply")
@requires("manage_locations")
def relayout_apply() -> ResponseReturnValue:
    """Carry out the plan the clerk saw (same fingerprint) and record every move."""
    form = submitted(RelayoutInput())
    village, reserve = form.village.data or "", form.reserve.data or ""

    def make() -> str:
        session = db_session()
        result = apply_relayout(session, find_village(session, village), expected=form.fingerprint.data,
                                reserve=_reserve(reserve), actor=current_actor(), now=utcnow())
        return _("已重新排架：挪动 %(moved)s 袋，新上架 %(placed)s 袋，需更换 %(labels)s 个架位标签",
                 moved=result.moved, placed=result.placed, labels=len(result.labels))
    return change(make, url_for("locations.relayout", village=village, reserve=reserve))


# --- first shelving: every waiting folder of every village --------------------------------------------------------

class ShelveAllInput(FlaskForm):
    fingerprint = HiddenField(validators=[DataRequired()])


@bp.get("/shelve-all")
@requires("manage_locations")
def shelve_all_page() -> ResponseReturnValue:
    """上架全部未上架的档案袋, previewed: per village how many folders get a home and which shelves it takes; nothing
    is written (the same services run and are rolled back)."""
    try:
        preview = shelve_all(db_session(), actor=current_actor(), now=utcnow())
    except NotConfigured:
        rollback()
        flash(_("尚未载入库房布局。"), "error")  # the map offers 载入库房布局
        return redirect(url_for("locations.index"), code=303)
    except ArchiveprintError as refusal:
        note_refusal(refusal)
        return redirect(url_for("locations.index"), code=303)
    rollback()  # a preview writes nothing
    return render_template("web/locations/shelve_all.html", preview=preview,
                           form=ShelveAllInput(fingerprint=preview.fingerprint))


@bp.post("/shelve-all")
@requires("manage_locations")
def shelve_all_apply() -> ResponseReturnValue:
    """Shelve what the preview showed (same fingerprint), every move recorded; back on the storage map."""
    form = submitted(ShelveAllInput())
    session = db_session()
    try:
        result = shelve_all(session, expected=form.fingerprint.data, actor=current_actor(), now=utcnow())
        session.commit()
    except ArchiveprintError as refusal:
        note_refusal(refusal)
        return redirect(url_for("locations.shelve_all_page"), code=303)
    shelved_villages = [v for v in result.villages if v.placed]
    flash(_("已上架 %(n)s 袋（%(villages)s 个村）", n=result.placed, villages=len(shelved_villages)), "success")
    for village in result.refused:
        flash(_("%(village)s 未上架：%(why)s", village=f"{village.code} {village.name}", why=village.refusal),
              "warning")
    return redirect(url_for("locations.index"), code=303)


# --- pick lists ---------------------------------------------------------------------------------------------------

class PicklistInput(FlaskForm):
    codes = TextAreaField(_l("档案袋编号、档案编号或姓名（每行一个）"),
                          validators=[DataRequired(_l("请至少填写一个")), Length(max=PICK_MAX * 40)])


def _picklist(form: PicklistInput) -> PickList:
    """The folders a pasted list names, in walking order; a name that names no single household is listed why."""
    lines = [line.strip() for line in (form.codes.data or "").splitlines() if line.strip()]
    if len(lines) > PICK_MAX:
        raise InvalidValue("一次最多 {max} 行", params={"max": PICK_MAX}, field="调档单", value=len(lines))
    session = db_session()
    codes, unmatched = find_pick_codes(session, lines)
    result = find_picklist(session, codes, providers=status_providers())
    result.not_found.extend((line, _("没有找到") if not count else _("有多户匹配，请写档案编号"))
                            for line, count in unmatched)
    return result


@bp.route("/picklist", methods=["GET", "POST"])
@requires("view_person")
def picklist() -> ResponseReturnValue:
    """Paste a doctor's list: the folders in walking order, those not on their shelves last."""
    form = PicklistInput()
    result = None
    if request.method == "POST":
        if not form.validate_on_submit():
            return render_template("web/locations/picklist.html", form=form, result=None), 400
        result = _picklist(form)
        audit_shown("view", [row.location.household_id for row in result.rows], "picklist")
    return render_template("web/locations/picklist.html", form=form, result=result)


@bp.post("/picklist.pdf")
@requires("print")
def picklist_pdf() -> ResponseReturnValue:
    """调档单 as an A4 PDF (the same template the command line prints)."""
    result = _picklist(submitted(PicklistInput()))
    pdf = render_picklist_pdf(result, day=today(), unit=get_township(db_session()).unit_name)
    audit_shown("print", [row.location.household_id for row in result.rows], "picklist pdf")
    return pdf_response(pdf, f"调档单-{today():%Y%m%d}.pdf")


# --- storage layout ---------------------------------------------------------------------------------------------

class LayoutUploadInput(FlaskForm):
    file = FileField(_l("库房布局文件（.yaml）"), validators=[FileRequired(_l("请选择布局文件"))])


class LayoutApplyInput(FlaskForm):
    text = TextAreaField(validators=[DataRequired(), Length(max=LAYOUT_MAX)])
    source = HiddenField(validators=[Length(max=200)])


def _layout_page(*, report: LayoutReport | None = None, error: str | None = None,
                 apply: LayoutApplyInput | None = None, status: int = 200,
                 upload: LayoutUploadInput | None = None) -> ResponseReturnValue:
    current, blocks = find_layout_in_use(db_session())
    return render_template("web/locations/layout.html", current=current, blocks=blocks, report=report, error=error,
                           apply=apply, upload=upload or LayoutUploadInput(), reasons=BLOCK_REASONS), status


@bp.get("/layout")
@requires("manage_locations")
def layout() -> ResponseReturnValue:
    return _layout_page()


def _dry_run(text: str, source: str) -> LayoutReport:
    try:
        return apply_layout(db_session(), parse_layout(text, source=source), dry_run=True, actor=current_actor(),
                            now=utcnow())
    finally:
        rollback()  # a preview writes nothing


@bp.post("/layout/preview")
@requires("manage_locations")
def layout_preview() -> ResponseReturnValue:
    """Upload a layout and see what it would change; folders on shelves that would go are listed."""
    upload = LayoutUploadInput()
    if not upload.validate_on_submit():
        return _layout_page(upload=upload, status=400)
    data = upload.file.data.read(LAYOUT_MAX + 1)
    source = (upload.file.data.filename or "layout.yaml")[-100:]
    try:
        if len(data) > LAYOUT_MAX:
            raise InvalidValue("库房布局文件太大", field="文件", value=source)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidValue("库房布局文件应为 UTF-8 编码", field="文件", value=source) from None
        report = _dry_run(text, source)
    except ArchiveprintError as error:
        return _layout_page(error=message_of(error), status=error.status)
    if report.blocked:
        audit_shown("view", [], f"layout preview {source}: {len(report.blocked)} folders blocked")
    return _layout_page(report=report, apply=LayoutApplyInput(text=text, source=source))


@bp.post("/layout/apply")
@requires("manage_locations")
def layout_apply() -> ResponseReturnValue:
    form = submitted(LayoutApplyInput())
    text, source = form.text.data or "", form.source.data or "layout.yaml"
    session = db_session()
    try:
        report = apply_layout(session, parse_layout(text, source=source), actor=current_actor(), now=utcnow())
        session.commit()
    except OccupiedShelves as error:
        rollback()
        return _layout_page(report=_dry_run(text, source), error=message_of(error, alone=True), status=409)
    except ArchiveprintError as error:
        rollback()
        return _layout_page(error=message_of(error), status=error.status)
    flash(_("已载入库房布局“%(name)s”：%(shelves)s 层架位", name=report.layout.name,
            shelves=len(report.layout.shelves)), "success")
    for warning in report.warnings:
        flash(warning, "warning")
    return redirect(url_for("locations.layout"), code=303)
