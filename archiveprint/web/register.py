"""Register pages: search, resident, household, villages, import (every view of a person leaves an audit row)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from flask import Blueprint, abort, jsonify, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from sqlalchemy.exc import IntegrityError
from wtforms import BooleanField, StringField
from wtforms.validators import InputRequired, Length, Regexp

from archiveprint.due.schedules import Schedule, find_schedule, load_schedules
from archiveprint.due.services import DATE_FIELDS, list_visits, record_visit, set_dates, void_visit
from archiveprint.errors import N_, ArchiveprintError, Conflict, InvalidValue, NotFound, TownshipNotSet
from archiveprint.eventlog import Event, list_events
from archiveprint.intake.queries import returned_pages
from archiveprint.jobs import queue as jobqueue
from archiveprint.jobs.models import UNFINISHED, Job
from archiveprint.jobs.runners import job_dir
from archiveprint.locations.queries import Place, find_places
from archiveprint.register import importjob, services, uploads
from archiveprint.register.codes import folder_code
from archiveprint.register.idcard import IdNumber
from archiveprint.register.models import Household, Resident
from archiveprint.register.queries import (
    classify_query,
    count_flagged,
    find_flagged,
    find_residents,
    get_household,
    list_villages,
    ordered_members,
)
from archiveprint.register.services import get_resident
from archiveprint.register.text import parse_date, to_halfwidth
from archiveprint.web.auth import current_account, current_actor, requires
from archiveprint.web.dashboard import home_board
from archiveprint.web.forms import check_queue, start_job
from archiveprint.web.i18n import (
    CLOSE_REASON_LABELS,
    INTAKE_HOW_LABELS,
    JOB_STATUS_LABELS,
    SEX_LABELS,
    label,
    message_of,
    shown_message,
)
from archiveprint.web.locations import status_providers
from archiveprint.web.responses import change, form_text, refused
from archiveprint.web.session import commit_audit, db_session, now, request_database, rollback, state, today

bp = Blueprint("register", __name__)
QUERY_MAX = 100


@bp.get("/")
@requires("view_person")
def search() -> ResponseReturnValue:
    """The home page: the one search box (code, name, pinyin initials, ID number or phone) and, below it, the
    看板 (web/dashboard.py); a search shows its results instead."""
    query = request.args.get("q", "").strip()[:QUERY_MAX]
    review = request.args.get("review") == "1"
    matches = []
    if review and not query:
        session = db_session()
        matches = find_flagged(session)
        ids = sorted(m.resident_id for m in matches)
        commit_audit(current_account().user, "search", "resident", "review",
                     detail=f"results={len(matches)} resident_ids={','.join(map(str, ids))}")
        return render_template("web/register/search.html", query="", review=True, matches=matches,
                               places=_places({m.household for m in matches}), flagged=len(matches))
    if query:
        session = db_session()
        kind, _key = classify_query(query)
        matches = find_residents(session, query)
        places = _places({m.household for m in matches})  # in the same read as the matches
        # The audit names the kind of query, never what was typed (it may be an ID number), and who was listed.
        ids = sorted(m.resident_id for m in matches)
        commit_audit(current_account().user, "search", "resident", kind,
                     detail=f"results={len(matches)} resident_ids={','.join(map(str, ids))}")
        return render_template("web/register/search.html", query=query, review=False, matches=matches,
                               places=places, flagged=0, board=None)
    return render_template("web/register/search.html", query=query, review=False, matches=matches,
                           places={}, flagged=count_flagged(db_session()), board=home_board())


@bp.get("/residents/<code>")
@requires("view_person")
def resident(code: str) -> ResponseReturnValue:
    return _show_resident(code, reveal=False)


@bp.post("/residents/<code>/id-number")
@requires("view_person")
def reveal_id_number(code: str) -> ResponseReturnValue:
    """显示完整身份证号: a POST, so the full number is shown only on purpose and each showing is audited."""
    return _show_resident(code, reveal=True)


def _show_resident(code: str, *, reveal: bool) -> ResponseReturnValue:
    session = db_session()
    person = get_resident(session, code)
    history = [_history_entry(event) for event in list_events(session, "resident", person.archive_code)]
    household = person.household
    village = household.village
    services = _services_panel(person)
    commit_audit(current_account().user, "view_id" if reveal else "view", "resident", person.archive_code)
    id_number = person.id_number or ""
    return render_template(
        "web/register/resident.html", resident=person, household=household, village=village,
        tags=person.tag_names, history=history, reveal=reveal,
        id_number=id_number if reveal else _mask(id_number),
        folder=_folder_panel(household, resident_code=person.archive_code), services=services,
        returned=returned_pages(session, person.id),
    )


# --- services given and the dates schedules count from ---------------------------------------------------------

@dataclass(frozen=True)
class ServiceRow:
    """One recorded service as the resident page lists it: its schedule and visit by name."""

    id: int
    done_on: date
    schedule: str
    visit: str
    note: str
    recorded_by: str
    voided: bool


@dataclass(frozen=True)
class ServicesPanel:
    """The resident page's 随访服务 card: the dates, the services recorded, and the schedules to record one of
    (`problem`: why the schedules could not be read — a site's file in error — shown instead of the form)."""

    dates: list[tuple[str, str, date | None]]  # (field, label, value)
    rows: list[ServiceRow]
    schedules: list[Schedule]
    today: date
    problem: str | None = None


def _services_panel(person: Resident) -> ServicesPanel:
    try:
        schedules = load_schedules()
        problem = None
    except ArchiveprintError as error:  # a site's due_schedules.yaml in error: the rest of the page still shows
        schedules, problem = {}, message_of(error)
    rows = []
    for row in list_visits(db_session(), person):
        schedule = schedules.get(row.schedule)
        visit = row.visit
        if schedule is not None:
            visit = next((v.name for v in schedule.visits if v.id == row.visit), row.visit) if row.visit \
                else schedule.visit or schedule.name
        rows.append(ServiceRow(row.id, row.done_on, schedule.name if schedule else row.schedule, visit, row.note,
                               row.recorded_by, row.voided_at is not None))
    dates = [(key, str(title), getattr(person, key)) for key, title in DATE_FIELDS.items()]
    return ServicesPanel(dates, rows, list(schedules.values()), today(), problem)


def _posted_date(name: str, label: str) -> date | None:
    """A date field of the posted form (None when left blank), read as the import reads dates (2026-11-25,
    2026/11/25 …); an unreadable one is refused naming the field."""
    text = form_text(name, 40)
    if not text:
        return None
    try:
        return parse_date(text)
    except ValueError as error:
        raise InvalidValue(error.args[0], field=label, value=text) from None


def _services_target(code: str) -> str:
    return url_for("register.resident", code=code) + "#services"


@bp.post("/residents/<code>/dates")
@requires("record_services")
def set_service_dates(code: str) -> ResponseReturnValue:
    """预产期, 分娩日期, 结核治疗开始日期 entered or cleared (a field emptied clears its date). Only the fields changed
    on the page are written, so a date another clerk entered meanwhile is not undone."""
    person = get_resident(db_session(), code)  # out of the user's villages: 404, as for the page

    def make() -> str:
        changes: dict[str, date | None] = {}
        for key, title in DATE_FIELDS.items():
            value = _posted_date(key, title)
            if (value.isoformat() if value else "") != form_text(f"was-{key}", 40):
                changes[key] = value
        if not changes:
            raise InvalidValue(N_("日期没有改动：请填写或修改日期后再保存（清空一栏即清除该日期）"), field="日期")
        set_dates(db_session(), person, changes, actor=current_actor(), now=now(), today=today())
        shown = "，".join(f"{_(title)} {getattr(person, key) or '—'}" for key, title in DATE_FIELDS.items()
                          if key in changes)
        return _("已保存：%(dates)s", dates=shown)

    return change(make, _services_target(person.archive_code))


@bp.post("/residents/<code>/services")
@requires("record_services")
def record_service(code: str) -> ResponseReturnValue:
    """登记服务: a visit done (a schedule's visit, or this period's follow-up), which is then no longer due."""
    person = get_resident(db_session(), code)

    def make() -> str:
        key = form_text("schedule", 32)
        if not key:
            raise InvalidValue(N_("请选择服务项目"), field="服务项目")
        schedule = find_schedule(key)
        owner, _colon, visit = form_text("visit", 80).rpartition(":")
        if visit and owner != schedule.id:
            raise InvalidValue(N_("所选的“第几次服务”不属于“{schedule}”，请重新选择"),
                               params={"schedule": schedule.name}, field="服务", value=visit)
        if schedule.visits and not visit:
            raise InvalidValue(N_("请选择是“{schedule}”的哪一次服务"), params={"schedule": schedule.name},
                               field="服务")
        on = _posted_date("done_on", N_("服务日期"))
        if on is None:
            raise InvalidValue(N_("请填写服务日期"), field="服务日期")
        row = record_visit(db_session(), person, schedule.id, visit=visit, on=on, note=form_text("note", 200),
                           actor=current_actor(), today=today(), now=now())
        name = next((v.name for v in schedule.visits if v.id == row.visit), schedule.visit or schedule.name)
        return _("已登记：%(schedule)s · %(visit)s（%(day)s）", schedule=schedule.name, visit=name,
                 day=row.done_on.isoformat())

    return change(make, _services_target(person.archive_code))


@bp.post("/residents/<code>/services/<int:visit_id>/void")
@requires("record_services")
def void_service(code: str, visit_id: int) -> ResponseReturnValue:
    """撤销: a service recorded by mistake is kept, marked void, and counts no more."""
    person = get_resident(db_session(), code)

    def make() -> str:
        row = void_visit(db_session(), visit_id, actor=current_actor(), now=now(), resident=person)
        return _("已撤销 %(day)s 的服务记录", day=row.done_on.isoformat())

    return change(make, _services_target(person.archive_code))


class ReviewClearInput(FlaskForm):
    """已核实: which flag (its position and reason, so a stale page cannot clear another one)."""

    position = StringField(validators=[InputRequired(), Regexp(r"^\d{1,3}$")])
    reason = StringField(validators=[InputRequired(), Length(max=200)])


@bp.post("/residents/<code>/review")
@requires("edit_register")
def clear_review(code: str) -> ResponseReturnValue:
    """A clerk checked a 待核实 value (against the paper record or with the resident): the flag goes, logged."""
    form = ReviewClearInput()
    target = url_for("register.resident", code=code)
    if not form.validate_on_submit():
        abort(400)
    session = db_session()
    try:
        person = get_resident(session, code)
        services.clear_review_flag(session, person, int(form.position.data or 0), reason=form.reason.data or "",
                                   actor=current_account().username)
    except ArchiveprintError as error:
        return refused(error, target)
    session.commit()
    return redirect(target, code=303)


@bp.get("/households/<int:household_id>")
@requires("view_person")
def household(household_id: int) -> ResponseReturnValue:
    found = get_household(db_session(), household_id)
    if found is None:
        raise NotFound("没有这一户", field="户", value=household_id)
    members = ordered_members(found)
    commit_audit(current_account().user, "view", "household", found.id,
                 detail="residents=" + ",".join(m.archive_code for m in members))
    folder = _folder_panel(found)
    return render_template("web/register/household.html", household=found, village=found.village, members=members,
                           place=folder.place, folder=folder)


def _halfwidth(value: str | None) -> str | None:
    return to_halfwidth(value).strip() if value else value


class VillageInput(FlaskForm):
    """登记村(居)委会: the 3-digit code (the third segment of its archive codes) and the name."""

    code = StringField(_l("代码"), filters=[_halfwidth], validators=[
        InputRequired(_l("请填写村代码（3位数字）")),
        Regexp(r"^(?!000)\d{3}$", message=_l("村代码应为3位数字（001–999）"))])
    name = StringField(_l("名称"), filters=[lambda value: value.strip() if value else value], validators=[
        InputRequired(_l("请填写村(居)委会名称")), Length(max=64, message=_l("名称不能超过64个字"))])


@bp.get("/villages")
@requires("view_person")
def villages() -> ResponseReturnValue:
    return _villages_page(VillageInput())


def _villages_page(form: VillageInput, *, status: int = 200) -> ResponseReturnValue:
    rows = list_villages(db_session())
    return render_template("web/register/villages.html", rows=rows, form=form,
                           totals=(sum(h for _v, h, _r in rows), sum(r for _v, _h, r in rows))), status


@bp.post("/villages")
@requires("edit_register")
def add_village() -> ResponseReturnValue:
    """登记: a village registered from the web page (no CLI needed); a duplicate code or name is explained."""
    form = VillageInput()
    if not form.validate_on_submit():
        return _villages_page(form, status=400)
    session = db_session()
    try:
        village = services.add_village(session, form.code.data or "", form.name.data or "",
                                       actor=current_account().username)
        session.commit()
    except TownshipNotSet:
        raise  # a fresh installation: the error handler leads to 本院设置 first
    except ArchiveprintError as error:
        rollback()
        (form.name if error.field == "村名" else form.code).errors = [message_of(error, alone=True)]
        return _villages_page(form, status=error.status)
    except IntegrityError:  # another clerk registered the same code or name a moment ago
        rollback()
        form.code.errors = [_l("刚有人登记了同样的代码或名称，请刷新页面后再试")]
        return _villages_page(form, status=409)
    return redirect(url_for("register.villages", added=village.code), code=303)


def _places(household_ids: Iterable[int]) -> dict[int, Place]:
    """Where each household's folder is and whether it is there (locate from the search box)."""
    ids = list(household_ids)
    return find_places(db_session(), ids, providers=status_providers()) if ids else {}


@dataclass(frozen=True)
class FolderPanel:
    """The household folder as a resident or household page shows it, with what may be done next
    (templates/web/register/_folder_panel.html; each link is shown only to a role that may use it)."""

    household_id: int
    code: str  # the folder code as scanned: what the request and check-out pages are filled with
    display: str
    household_key: str  # 201-17: what the print and label centres' 户 box takes
    resident_code: str | None  # set on a resident's page: the print centre prints this resident
    place: Place | None


def _folder_panel(household: Household, *, resident_code: str | None = None) -> FolderPanel:
    code = folder_code(household.village.full_code, household.number)
    return FolderPanel(household.id, code.value, code.display, f"{household.village.code}-{household.number}",
                       resident_code, _places([household.id]).get(household.id))


def _mask(id_number: str) -> str:
    return IdNumber(id_number).masked if len(id_number) == 18 else "*" * len(id_number)


def _shown(field: str, value: object) -> str:
    """One value of an event, as the history table shows it (ID numbers stay masked)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, list | tuple):
        return "、".join(_shown(field, item) for item in value) or "—"
    if field == "id_number":
        return _mask(str(value))
    if field == "sex":
        return label(SEX_LABELS, str(value))
    if field == "reason":
        return label(CLOSE_REASON_LABELS, str(value))
    if field == "how":
        return label(INTAKE_HOW_LABELS, str(value))
    return str(value)


def _history_entry(event: Event) -> dict[str, object]:
    """An event as plain values for the template: when, who, what, and each field's old → new."""
    lines: list[dict[str, str | None]] = []
    for key, value in (event.data or {}).items():
        if key == "changes" and isinstance(value, dict):
            for field, pair in value.items():
                old, new = pair if isinstance(pair, list | tuple) and len(pair) == 2 else (None, pair)
                lines.append({"field": field, "old": _shown(field, old), "new": _shown(field, new)})
        else:
            lines.append({"field": key, "old": None, "new": _shown(key, value)})
    return {"at": event.occurred_at, "actor": event.actor, "kind": event.kind, "lines": lines}


# --- import -------------------------------------------------------------------------------------------------
# A file of fewer rows than the import_background_rows setting is checked and applied inside the request; a larger
# one as a background job (register/importjob.py) whose progress the report page shows until its report is ready.

REPORT_ROWS_SHOWN = importjob.REPORT_ROWS_SHOWN
IMPORT_RUNNING = {importjob.CHECK: _l("正在检查"), importjob.APPLY: _l("正在导入")}


class ImportUploadInput(FlaskForm):
    file = FileField(_l("登记表文件（.xlsx 或 .csv）"), validators=[
        FileRequired(_l("请选择要导入的文件")),
        FileAllowed(["xlsx", "csv"], _l("只能导入 .xlsx 或 .csv 文件")),
    ])
    add_villages = BooleanField(_l("自动登记新村"))
    force = BooleanField(_l("即使此前已导入也重新检查"))


def _upload_root() -> Path:
    return uploads.upload_root(state().settings.instance_dir)


@bp.get("/import")
@requires("import")
def import_upload() -> ResponseReturnValue:
    return _upload_page(ImportUploadInput())


def _upload_page(form: ImportUploadInput, *, status: int = 200) -> ResponseReturnValue:
    """The upload form, and the clerk's own imports still running in the background (to find them again)."""
    running = importjob.unfinished_jobs(db_session(), current_account().username)
    return render_template("web/register/import_upload.html", form=form, running=running, running_label=_job_label,
                           background_rows=state().settings.import_background_rows), status


@bp.post("/import")
@requires("import")
def import_check() -> ResponseReturnValue:
    """Store the upload and dry-run it: the clerk sees every problem and change before anything is written."""
    form = ImportUploadInput()
    if not form.validate_on_submit():
        return _upload_page(form, status=400)
    account = current_account()
    session = db_session()
    session.commit()  # the writer's BEGIN IMMEDIATE (taken to load the user) must not last through the check
    root = _upload_root()
    settings = state().settings
    stored = uploads.save_upload(root, form.file.data.stream, form.file.data.filename or "upload",
                                 user_id=account.user.id, add_villages=bool(form.add_villages.data),
                                 force=bool(form.force.data))
    try:
        # A file over the import limits is refused here, before it is parsed or handed to a job.
        stored.rows = importjob.estimate_rows(stored.source(root), settings.import_limits)
    except BaseException:
        uploads.discard(root, stored)
        raise
    stored.background = stored.rows >= settings.import_background_rows
    uploads.store(root, stored)
    return _check_upload(stored)


def _check_upload(stored: uploads.PendingUpload) -> ResponseReturnValue:
    """Dry-run an upload (in the request, or as a background job for a large file), then show its report."""
    if stored.background:
        _start_job(stored, importjob.CHECK)
        return redirect(url_for("register.import_report", token=stored.token), code=303)
    root = _upload_root()
    account = current_account()
    session = db_session()
    settings = state().settings
    session.commit()  # a writer's BEGIN IMMEDIATE must not last through the check (it reads its own snapshot)
    try:
        report = importjob.check(request_database(), stored, stored.source(root), actor=account.username,
                                 today=today(), limits=settings.import_limits)
        importjob.record_check(session, stored, report, user=account.user)
        session.commit()
    except BaseException:
        uploads.discard(root, stored)  # an unreadable file is not kept (it may hold people's data)
        raise
    importjob.keep_report(root, stored, report)
    importjob.tidy(root, stored)  # recognised as already imported: nothing to confirm, the file is not kept
    return redirect(url_for("register.import_report", token=stored.token), code=303)


@bp.post("/import/<token>/villages")
@requires("import")
def import_register_villages(token: str) -> ResponseReturnValue:
    """登记这 N 个村并重新检查: register the villages the check found missing, then check the same file again.

    Names come from the file (the stored report); a code the file does not settle, or a name it does not give,
    comes from the small form on the report page.
    """
    if not ImportConfirmInput().validate_on_submit():
        abort(400)
    stored = _own_upload(token)
    missing = list((stored.report or {}).get("missing_villages") or [])
    if stored.state == "applied" or not missing:
        return redirect(url_for("register.import_report", token=token), code=303)
    entries = [(to_halfwidth(request.form.get(f"code-{i}", village["code"])).strip(),
                village["name"] or request.form.get(f"name-{i}", "").strip()) for i, village in enumerate(missing)]
    session = db_session()
    errors = services.check_new_villages(session, entries)
    if errors:
        return _report_page(stored, village_entries=entries, village_errors=errors, status=400)
    try:
        services.add_villages(session, entries, actor=current_account().username)
        session.commit()
    except IntegrityError:  # a second click, or another clerk, registered them a moment ago
        rollback()
        return redirect(url_for("register.import_report", token=token), code=303)
    except Conflict as error:
        return refused(error, url_for("register.import_report", token=token))
    if not stored.source(_upload_root()).is_file():
        raise NotFound("上传的文件已不在（未处理的上传一天后删除），请重新上传", field="上传", value=stored.filename)
    return _check_upload(stored)


@bp.get("/import/<token>")
@requires("import")
def import_report(token: str) -> ResponseReturnValue:
    """The report; while a background check or apply runs, its progress (the page reloads when it ends)."""
    stored = _own_upload(token)
    job = _latest_job(stored)
    if job is not None:
        stored = importjob.settle(_upload_root(), token, job)
        if job.status in UNFINISHED or stored.report is None:
            return _job_page(stored, job)
    return _report_page(stored, failed=job if job is not None and job.status == "failed" else None)


def _report_page(stored: uploads.PendingUpload, *, failed: Job | None = None,
                 village_entries: list[tuple[str, str]] | None = None, village_errors: dict[int, str] | None = None,
                 status: int = 200) -> ResponseReturnValue:
    report = stored.report or {}
    missing = report.get("missing_villages") or []
    entries = village_entries or [(village["code"], village["name"]) for village in missing]
    return render_template("web/register/import_report.html", upload=stored, report=report,
                           confirm=ImportConfirmInput(), shown=REPORT_ROWS_SHOWN, failed=failed,
                           village_entries=entries, village_errors=village_errors or {}), status


@bp.get("/import/<token>/job.json")
@requires("import")
def import_job_status(token: str) -> ResponseReturnValue:
    """What the progress page's script (jobs.js, as on the print job page) polls: status, rows read of total."""
    stored = _own_upload(token)
    job = _latest_job(stored)
    if job is None:
        raise NotFound("这次导入没有后台任务", field="上传", value=stored.filename)
    done, total = _progress(job)
    return jsonify(id=job.id, status=job.status, label=_job_label(job), done=done, total=total,
                   percent=_percent(job, done, total), error=shown_message(job.error),
                   finished=job.status not in UNFINISHED)


class ImportConfirmInput(FlaskForm):
    """The 确认导入 button: nothing but the CSRF token (the file is named by the URL)."""


@bp.post("/import/<token>/apply")
@requires("import")
def import_apply(token: str) -> ResponseReturnValue:
    """确认导入: run the import for real; all rows or none. A large file's second click finds its job running."""
    if not ImportConfirmInput().validate_on_submit():
        abort(400)
    stored = _own_upload(token)
    if stored.background:
        _start_job(stored, importjob.APPLY)
        return redirect(url_for("register.import_report", token=stored.token), code=303)
    root = _upload_root()
    session = db_session()
    claimed = uploads.claim(root, stored)
    account = current_account()
    try:
        report = importjob.apply(session, stored, claimed, actor=account.username, user=account.user,
                                 today=today(), limits=state().settings.import_limits)
        session.commit()
    except BaseException:
        session.rollback()
        uploads.release(root, stored)
        raise
    importjob.keep_report(root, stored, report)
    importjob.tidy(root, stored)
    return redirect(url_for("register.import_report", token=stored.token), code=303)


@bp.get("/import/<token>/errors.xlsx")
@requires("import")
def import_errors(token: str) -> ResponseReturnValue:
    """The problems as a spreadsheet the clerk can fix the source file from."""
    stored = _own_upload(token)
    path = stored.error_report(_upload_root())
    if not path.is_file():
        raise NotFound("这次导入没有错误报告", field="上传", value=stored.filename)
    commit_audit(current_account().user, "export", "import", stored.token, detail="error report")
    return send_file(path, as_attachment=True, download_name=f"{Path(stored.filename).stem}-错误报告.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", max_age=0)


def _own_upload(token: str) -> uploads.PendingUpload:
    """An upload of the signed-in user; another user's is answered like one that does not exist (#11.17)."""
    stored = uploads.load(_upload_root(), token)
    if stored.user_id != current_account().user.id:
        raise uploads.missing(token)
    return stored


def _start_job(stored: uploads.PendingUpload, kind: str) -> None:
    """Record the job (or find the one already queued or running for this upload) and hand a new one over."""
    account = current_account()
    session = db_session()
    job, created = importjob.start_job(session, _upload_root(), stored.token, kind, actor=account.username,
                                       user_id=account.user.id, today=today())
    session.commit()
    if created:
        start_job(job.id)  # Redis down: the page says so instead of waiting forever


def _latest_job(stored: uploads.PendingUpload) -> Job | None:
    """The upload's last job, after asking RQ (when used) whether it is still alive."""
    if not stored.background:
        return None
    session = db_session()
    job = importjob.latest_job(session, stored.token)
    if job is not None and job.status in UNFINISHED:
        check_queue([job.id])
        session.refresh(job)
    return job


def _job_page(stored: uploads.PendingUpload, job: Job) -> ResponseReturnValue:
    done, total = _progress(job)
    return render_template("web/register/import_job.html", upload=stored, job=job, label=_job_label(job),
                           done=done, total=total, percent=_percent(job, done, total),
                           finished=job.status not in UNFINISHED)


def _progress(job: Job) -> tuple[int, int]:
    return jobqueue.read_progress(job, job_dir(state().settings, job.id))


def _percent(job: Job, done: int, total: int) -> int:
    if job.status == "done":
        return 100
    return min(100, int(100 * done / total)) if total else 0


def _job_label(job: Job) -> str:
    if job.status == "running":
        return str(IMPORT_RUNNING.get(job.kind, label(JOB_STATUS_LABELS, job.status)))
    return label(JOB_STATUS_LABELS, job.status)
