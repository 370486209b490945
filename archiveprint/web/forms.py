"""Print centre: choose a set and whose records, preview the pages, print as a background job, download."""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, replace
from pathlib import Path

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FieldList,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, NumberRange, Optional, Regexp

from archiveprint.accounts.roles import can
from archiveprint.db import utcnow
from archiveprint.errors import ArchiveprintError, InvalidValue, NotFound
from archiveprint.forms.catalog import FormSet, load_catalog
from archiveprint.forms.instructions import NONE, ONCE, PER_FORM
from archiveprint.forms.layout import layout_cache_dir, use_cache_dir
from archiveprint.forms.preview import (
    PrintPlan,
    plan_print,
    preview_captions,
    preview_pdf,
    preview_person,
    thumbnails,
)
from archiveprint.forms.services import EVERYONE, PrintOptions, Scope, missing_glyphs_error, resolve_scope, whose
from archiveprint.forms.sets import (
    FORM,
    SET,
    as_form_set,
    create_form_set,
    delete_form_set,
    find_form_set,
    list_custom_sets,
)
from archiveprint.jobs import queue as jobqueue
from archiveprint.jobs import runs
from archiveprint.jobs.models import ENDED, RUN, Job
from archiveprint.jobs.names import file_names
from archiveprint.jobs.parts import RunPlan, plan_forms_run
from archiveprint.jobs.runners import job_dir, on_app_start, run_job
from archiveprint.register.populations import load_populations
from archiveprint.register.queries import list_tags, list_villages
from archiveprint.register.services import find_village
from archiveprint.web.auth import current_account, requires
from archiveprint.web.i18n import JOB_STATUS_LABELS, label, message_of, shown_message
from archiveprint.web.responses import send_download
from archiveprint.web.session import commit_audit, db_session, request_database, rollback, state, today

bp = Blueprint("forms", __name__)
DISPATCHER = "archiveprint.dispatcher"
CODES_MAX = 5000  # lines in the 档案编号 box: a village's worth
SET_SLOTS = 8  # forms a custom set can be given in one go (第1张 … 第8张)
MIMETYPES = {".pdf": "application/pdf", ".zip": "application/zip"}
THUMBNAIL_SHOWN = 0.52  # a 40 dpi A4 picture shown 172 px wide; a card keeps its size beside it


def init_app(app: Flask) -> None:
    """Keep the job dispatcher: RQ when a Redis URL is set, else one local thread running jobs.run_job; then pick
    up the jobs the previous process left and apply output retention (jobs.on_app_start)."""
    web = app.extensions["archiveprint"]
    settings, database = web.settings, web.database
    use_cache_dir(layout_cache_dir(settings.instance_dir))  # blank forms laid out once per installation
    app.extensions[DISPATCHER] = dispatcher = jobqueue.Dispatcher(  # a county run's first step hands on to it
        lambda job_id: run_job(job_id, settings=settings, database=database, dispatcher=dispatcher),
        redis_url=settings.redis_url, database_url=settings.database_url, queue=settings.rq_queue, database=database)
    on_app_start(settings, database, app.extensions[DISPATCHER])
    app.register_blueprint(bp)


def dispatcher() -> jobqueue.Dispatcher:
    return current_app.extensions[DISPATCHER]


# --- the print centre -----------------------------------------------------------------------------------------

class PrintJobInput(FlaskForm):
    """Which set, whose records, and how: the print centre's one form (preview and start submit the same)."""

    form_set = SelectField(_l("表单套组"))
    village = SelectField(_l("村(居)委会"), default="")
    household = StringField(_l("户（村代码-户号）"), validators=[
        Optional(), Regexp(r"^\s*\d{3}-\d{1,6}\s*$", message=_l("户的格式为“村代码-户号”，如 201-17"))])
    tag = SelectField(_l("人群分类"), default="")
    # Follows the set chosen (print.js; on the server: `_print_input`); the set's own population is its default.
    population = SelectField(_l("重点人群"), default="", validate_choice=False)
    codes = TextAreaField(_l("档案编号（每行一个）"), validators=[Length(max=CODES_MAX * 24)])
    blank = BooleanField(_l("空白表（不预填）"))
    copies = IntegerField(_l("份数"), default=1, validators=[
        Optional(), NumberRange(1, 1000, message=_l("份数应在 1–1000 之间"))])
    duplex = BooleanField(_l("双面打印（每人从新的一张纸开始）"))
    separators = BooleanField(_l("分户页（每户前加一张）"))
    split_pages = IntegerField(_l("每个文件最多页数"), validators=[
        Optional(), NumberRange(10, 100000, message=_l("每个文件至少 10 页"))])
    allow_missing_glyphs = BooleanField(_l("字体缺字时仍然打印"))
    instructions = SelectField(_l("填表说明"), default=NONE, choices=[
        SelectChoice(NONE, _l("不打印")), SelectChoice(ONCE, _l("整批最前面打印一次")),
        SelectChoice(PER_FORM, _l("每张表后各附一份（适合空白表）"))])
    # A print run (#14): one PDF per village, printed side by side by the RQ workers, one zip of them all.
    per_village = BooleanField(_l("按村分批（每村一个 PDF，打包下载）"))
    # validate_choice off: a village no longer offered (transferred to another site meanwhile) is refused by
    # find_village, in Chinese with its code, not by WTForms' English "not a valid choice"
    villages = SelectMultipleField(_l("分批打印的村（不选即全部村）"), default=[], validate_choice=False)


def choice(kind: str, key: str) -> str:
    """A print centre choice: "set:encounter" (接诊与会诊) and "form:encounter" (接诊记录表) never collide."""
    return f"{kind}:{key}"


def _print_input() -> PrintJobInput:
    session = db_session()
    catalog = load_catalog()
    form = PrintJobInput()
    groups: dict[str, list[tuple[str, str]]] = {
        str(_("内置套组")): [(choice(SET, s.id), s.name) for s in catalog.sets.values()]}
    rows = list_custom_sets(session)
    custom = [(choice(SET, row.key), row.name) for row in rows]
    if custom:
        groups[str(_("自定义套组"))] = custom
    groups[str(_("单张表单"))] = [(choice(FORM, f.id), f.title) for f in catalog.forms.values()]
    form.form_set.choices = groups
    villages = [(village.ref, _("%(code)s %(name)s（%(n)s人）", code=village.ref, name=village.name, n=residents))
                for village, _households, residents in list_villages(session)]
    form.village.choices = [("", _("（不限）")), *villages]
    form.villages.choices = villages
    form.tag.choices = [("", _("（不限）"))] + [(tag, tag) for tag in list_tags(session)]
    form.population.choices = [(EVERYONE, _("全部居民"))] + [(p.id, p.name) for p in load_populations().values()]
    defaults = {choice(SET, s.id): s.population or EVERYONE
                for s in [*catalog.sets.values(), *map(as_form_set, rows)]}
    form.form_set.render_kw = {"data-populations": json.dumps(defaults, ensure_ascii=False)}
    if request.method == "GET":
        known = {key for choices in groups.values() for key, _name in choices}
        wanted = request.args.get("form_set", "")
        if wanted and ":" not in wanted:  # a link naming a bare id: the set of that id, else the form
            wanted = choice(SET, wanted) if choice(SET, wanted) in known else choice(FORM, wanted)
        form.form_set.data = wanted if wanted in known else choice(SET, next(iter(catalog.sets)))
        form.population.data = defaults.get(form.form_set.data, EVERYONE)
        # From a resident or household page (issue #10.10): whose records are filled in; the clerk picks the set.
        form.household.data = request.args.get("household", "")[:20]
        form.codes.data = "\n".join(request.args.getlist("codes"))[:CODES_MAX * 24]
    return form


def _read(form: PrintJobInput) -> tuple[FormSet, Scope, PrintOptions]:
    """The form's values as the printer takes them (a clerk's typing becomes a resolved Scope)."""
    session = db_session()
    kind, _sep, key = (form.form_set.data or "").partition(":")
    form_set = find_form_set(session, key, kind=kind)
    codes = tuple(line.strip() for line in (form.codes.data or "").splitlines() if line.strip())
    if len(codes) > CODES_MAX:
        raise InvalidValue("一次最多 {codes_max} 个档案编号",
                           params={"codes_max": CODES_MAX}, field="档案编号", value=len(codes))
    chosen = form.population.data or None
    if chosen == (form_set.population or EVERYONE):
        chosen = None  # the set's own choice: its population only where it applies (not to codes or blank prints)
    scope = resolve_scope(session, codes=codes, household=(form.household.data or "").strip() or None,
                          village=form.village.data or None, tag=form.tag.data or None, population=chosen,
                          form_set=form_set, blank=bool(form.blank.data), today=today())
    options = PrintOptions(blank=bool(form.blank.data), copies=form.copies.data or 1, duplex=bool(form.duplex.data),
                           separators=bool(form.separators.data), split_pages=form.split_pages.data or None,
                           allow_missing_glyphs=bool(form.allow_missing_glyphs.data),
                           instructions=form.instructions.data or NONE)
    return form_set, scope, options


def _plan(form_set: FormSet, scope: Scope, options: PrintOptions) -> PrintPlan:
    if scope.empty and not options.blank:
        raise InvalidValue("请选择打印范围（村、户、人群分类或档案编号），或勾选“空白表”", field="打印范围")
    plan = plan_print(db_session(), form_set, scope, options)
    if not plan.blank and plan.residents == 0:
        raise InvalidValue("打印范围内没有在档居民", field="打印范围", value=scope.describe())
    return plan


def _center(form: PrintJobInput, *, status: int = 200, **context: object) -> ResponseReturnValue:
    context.setdefault("plan", None)
    context.setdefault("pictures", [])
    context.setdefault("error", None)
    context.setdefault("words", [])
    context.setdefault("run_plan", None)
    return render_template("web/forms/center.html", form=form, **context), status


@bp.get("/print")
@requires("print")
def center() -> ResponseReturnValue:
    return _center(_print_input())


@bp.post("/print/preview")
@requires("print")
def preview() -> ResponseReturnValue:
    """The page count and pictures of the first resident's pages (or a blank set), before anything is printed."""
    form = _print_input()
    if not form.validate_on_submit():
        return _center(form, status=400)
    run_plan = None
    try:
        form_set, scope, options = _read(form)
        if form.per_village.data:  # the first village's pages are shown; the counts are the run's
            run_plan = _run_plan(form, form_set, scope, options)
            scope = replace(scope, village=run_plan.parts[0][0].village)
        plan = _plan(form_set, scope, options)
        person = None if plan.blank else preview_person(db_session(), scope, today=today())
    except ArchiveprintError as error:
        rollback()
        return _center(form, error=message_of(error), status=error.status)
    if person:  # audited and committed before rendering, so no transaction stays open while pages are drawn
        commit_audit(current_account().user, "view", "resident", person.archive_code,
                     detail=f"打印预览：{form_set.name}")
    else:
        db_session().commit()
    pdf = preview_pdf(form_set, person, instructions=options.instructions)
    captions = preview_captions(form_set, person, instructions=options.instructions)
    pictures = [{"src": "data:image/png;base64," + base64.b64encode(picture.png).decode("ascii"),
                 "width": round(picture.width * THUMBNAIL_SHOWN), "height": round(picture.height * THUMBNAIL_SHOWN),
                 "form": captions[index][0], "page": captions[index][1]}
                for index, picture in enumerate(thumbnails(pdf))]
    return _center(form, plan=plan, pictures=pictures, shown=person.archive_code if person else "",
                   words=_words(form, scope, plan), run_plan=run_plan)


@bp.post("/print/start")
@requires("print")
def start() -> ResponseReturnValue:
    """开始打印: record the job and hand it to the dispatcher; the job page shows its progress."""
    form = _print_input()
    if not form.validate_on_submit():
        return _center(form, status=400)
    account = current_account()
    if form.per_village.data:
        try:
            form_set, scope, options = _read(form)
            run_plan = _run_plan(form, form_set, scope, options)
        except ArchiveprintError as error:
            rollback()
            return _center(form, error=message_of(error), status=error.status)
        return submit_run(run_plan)
    try:
        form_set, scope, options = _read(form)
        plan = _plan(form_set, scope, options)
        if plan.missing_glyphs:
            raise missing_glyphs_error(plan.missing_glyphs)
    except ArchiveprintError as error:
        rollback()
        return _center(form, error=message_of(error), status=error.status)
    day = today()
    kind = (form.form_set.data or "").partition(":")[0]
    shown, stored = file_names((form_set.name, form_set.id),
                               whose(db_session(), scope) + ([("空白", "blank")] if plan.blank else []), day)
    params = {
        "set": form_set.id, "set_kind": kind, "set_name": form_set.name, "scope": scope.as_json(),
        "population": scope.population, "scope_text": "，".join(_words(form, scope, plan)), "options": asdict(options),
        "filename": f"{stored}.pdf", "download_stem": shown, "user_id": account.user.id, "today": day.isoformat(),
        "residents": plan.residents, "expected_pages": plan.pages,
    }
    return submit_job("forms", params)


def submit_job(kind: str, params: dict[str, object]) -> ResponseReturnValue:
    """Record a print job of the signed-in user, commit, hand it to the dispatcher and go to its page (which says
    so when the queue could not take it)."""
    session = db_session()
    job = jobqueue.create_job(session, kind, params, actor=current_account().username)
    session.commit()
    start_job(job.id)
    return redirect(url_for("forms.job", job_id=job.id), code=303)


def start_job(job_id: int) -> None:
    """Hand a committed job to the dispatcher; when the queue cannot take it (Redis down), fail it saying why in
    words (its page shows that instead of waiting forever)."""
    jobqueue.submit_or_fail(state().database, dispatcher(), job_id)


def _run_plan(form: PrintJobInput, form_set: FormSet, scope: Scope, options: PrintOptions) -> RunPlan:
    """按村分批: the chosen villages (or every village the user sees), one part each."""
    words = [scope.tag or "", load_populations()[scope.population].name if scope.population else ""]
    return plan_forms_run(db_session(), form_set, scope, options, villages=form.villages.data or None,
                          set_kind=(form.form_set.data or "").partition(":")[0], today=today(),
                          user_id=current_account().user.id, scope_text="，".join(filter(None, words)))


def submit_run(plan: RunPlan) -> ResponseReturnValue:
    """Record a print run of the signed-in user and its parts, commit, hand each part to the dispatcher (RQ: the
    workers print them side by side; the local thread: one after another) and go to the run's page."""
    session = db_session()
    run = runs.create_run(session, plan.kind, plan.params, plan.parts, actor=current_account().username)
    ids = runs.part_ids(session, run.id)
    session.commit()
    runs.submit_parts(request_database(), dispatcher(), ids, instance_dir=state().settings.instance_dir)
    return redirect(url_for("forms.job", job_id=run.id), code=303)


def _words(form: PrintJobInput, scope: Scope, plan: PrintPlan) -> list[str]:
    """Whose records, in words for the job list and the preview (村, 户, 人群, how many codes, key population,
    or blank)."""
    parts = []
    if scope.village:
        parts.append(find_village(db_session(), scope.village).name)
    if form.household.data:
        parts.append(_("户 %(household)s", household=form.household.data.strip()))
    if scope.tag:
        parts.append(scope.tag)
    if scope.codes:
        parts.append(_("%(n)s 个档案编号", n=len(scope.codes)))
    if plan.population:
        parts.append(plan.population.name)
    if plan.blank:
        parts.append(_("空白表") if scope.empty else _("空白表（每人一份）"))
    return parts


# --- jobs -----------------------------------------------------------------------------------------------------

def check_queue(job_ids: list[int] | None) -> None:
    """With RQ, fail the unfinished jobs RQ reports failed or no longer has, before the page reads them (a print
    run's parts with it, and the run settled: jobs/runs.py).

    A failed check (Redis down) leaves the statuses as they are: the page still shows, and asks again next time.
    """
    if job_ids is not None:
        job_ids = [*job_ids, *(part for job_id in job_ids for part in runs.part_ids(db_session(), job_id))]
    try:
        changed = dispatcher().check(state().database, job_ids, now=utcnow())
        runs.settle_runs_of(request_database(), changed, instance_dir=state().settings.instance_dir)
    except Exception:
        current_app.logger.exception("could not ask the job queue about jobs %s", job_ids or "unfinished")
        return
    if changed and g.get("db_session") is not None:
        g.db_session.commit()  # end the read snapshot (SQLite) so this request sees the new statuses


def _own_job(job_id: int) -> Job:
    """A job its starter may see (and an admin): print files hold people's data. Import jobs have their page on
    the import's report (register.import_report).

    Another user's job is answered exactly like one that does not exist, so an id tells nothing (#11.17)."""
    job = db_session().get(Job, job_id)
    account = current_account()
    if (job is None or job.kind not in jobqueue.PRINT_KINDS
            or (job.created_by != account.username and not can(account.role, "all_print_jobs"))):
        raise NotFound("没有这个打印任务（或不是您发起的）", field="任务", value=job_id)
    return job


def _files(job: Job) -> list[dict[str, object]]:
    if job.expired_at is not None:
        return []
    files = []
    for output in job.outputs or []:
        path = Path(output)
        size = path.stat().st_size if path.is_file() else 0
        files.append({"name": path.name, "shown": download_name(job, path.name), "zip": path.suffix == ".zip",
                      "size": f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{size // 1024 + 1} KB",
                      "url": url_for("forms.download", job_id=job.id, name=path.name)})
    return files


def download_name(job: Job, name: str) -> str:
    """Files are stored under an ASCII name (encounter-201-1-20261125.pdf, a split job's parts -001 …) and saved
    under what they hold (接诊记录表-东村第1户-20261125.pdf). Jobs from before #10.14 stored the set's or label
    kind's id and its date only (new_record-20261125.pdf → 新建档套表-20261125.pdf)."""
    params = job.params or {}
    named = params.get("download_names") or {}  # each file's own name (本月随访包: the packet and its 调档单)
    if name in named:
        return str(named[name])
    stored, shown = Path(str(params.get("filename") or "")).stem, str(params.get("download_stem") or "")
    if stored and shown and name.startswith(stored):
        return shown + name[len(stored):]
    key = str(params.get("set") or (params.get("kind") if job.kind == "labels" else "") or "")
    title = str(params.get("set_name") or params.get("title") or "")
    return title + name[len(key):] if key and title and name.startswith(key) else name


def _export_detail(job: Job, name: str) -> str:
    """What a download's audit row says: the file, what was printed and for how many."""
    params = job.params or {}
    if job.kind == "labels":
        return f"{name} {params.get('title', '')} {params.get('stock', '')} labels={params.get('labels', '')}"
    return f"{name} {params.get('set_name', '')} residents={params.get('residents', '')}"


@bp.get("/print/jobs")
@requires("print")
def jobs() -> ResponseReturnValue:
    check_queue(None)
    account = current_account()
    everyone = can(account.role, "all_print_jobs")
    rows = jobqueue.list_jobs(db_session(), limit=50, created_by=None if everyone else account.username,
                              kinds=jobqueue.PRINT_KINDS)
    return render_template("web/forms/jobs.html", jobs=rows, everyone=everyone)


@bp.get("/print/jobs/<int:job_id>")
@requires("print")
def job(job_id: int) -> ResponseReturnValue:
    check_queue([job_id])
    found = _own_job(job_id)
    if found.kind == RUN:
        run = _run_state(found)
        return render_template("web/forms/run.html", job=found, run=run, files=_files(found),
                               parts=[_part_files(part) for part in run.parts], finished=found.status in ENDED,
                               rerun=RerunInput())
    return render_template("web/forms/job.html", job=found, files=_files(found) if found.status == "done" else [],
                           finished=found.status in ("done", "failed"))


@bp.get("/print/jobs/<int:job_id>.json")
@requires("print")
def job_status(job_id: int) -> ResponseReturnValue:
    """What the job page's script polls: status, counts and whether to stop polling (and a run's parts)."""
    check_queue([job_id])
    found = _own_job(job_id)
    if found.kind == RUN:
        run = _run_state(found)
        return jsonify(id=found.id, status=found.status, label=label(JOB_STATUS_LABELS, found.status),
                       done=run.done, total=run.total, percent=run.percent, pages=run.pages,
                       error=shown_message(found.error), finished=found.status in ENDED,
                       expired=found.expired_at is not None,
                       parts=[{"id": part.id, "status": part.status, "label": label(JOB_STATUS_LABELS, part.status),
                               "percent": part.percent, "done": part.done, "total": part.total}
                              for part in run.parts])
    return jsonify(id=found.id, status=found.status, label=label(JOB_STATUS_LABELS, found.status), done=found.done,
                   total=found.total, percent=found.percent, pages=found.pages, error=shown_message(found.error),
                   finished=found.status in ("done", "failed"), expired=found.expired_at is not None)


class RerunInput(FlaskForm):
    """重新生成未完成的村: nothing but the CSRF token (the run is named by the URL)."""


@bp.post("/print/jobs/<int:job_id>/rerun")
@requires("print")
def rerun(job_id: int) -> ResponseReturnValue:
    """Queue a run's failed villages again (a village already printed is not printed twice) and hand them on."""
    if not RerunInput().validate_on_submit():
        abort(400)
    found = _own_job(job_id)
    return rerun_run(found.id, url_for("forms.job", job_id=job_id))


def rerun_run(run_id: int, back: str) -> ResponseReturnValue:
    """Queue a run's failed parts again, hand them on and go `back` to the run's page, saying how many (or why
    none: a run with no failed part)."""
    try:
        ids = runs.rerun_failed(db_session(), run_id)
        db_session().commit()
    except ArchiveprintError as error:
        rollback()
        flash(message_of(error), "error")
        return redirect(back, code=303)
    runs.submit_parts(request_database(), dispatcher(), ids, instance_dir=state().settings.instance_dir)
    flash(_("已重新提交 %(n)s 个村", n=len(ids)), "success")
    return redirect(back, code=303)


def _run_state(run: Job) -> runs.RunState:
    """A run and its parts; a run whose parts have all ended but whose row has not (its last part could not settle
    it) is settled here, so its page never waits forever."""
    found = runs.find_run(db_session(), run.id)
    if found.status in ENDED and run.status not in ENDED:
        runs.settle(request_database(), run.id, instance_dir=state().settings.instance_dir)
        db_session().commit()  # a fresh snapshot (SQLite), then read it again
        db_session().refresh(run)
        found = runs.find_run(db_session(), run.id)
    return found


def _part_files(part: runs.PartState) -> dict[str, object]:
    """A part as its row on the run's page: the part, and its own files once it is done."""
    job = db_session().get(Job, part.id)
    return {"part": part, "files": _files(job) if job is not None and part.status == "done" else []}


@bp.get("/print/jobs/<int:job_id>/files/<name>")
@requires("print")
def download(job_id: int, name: str) -> ResponseReturnValue:
    """One file of a finished job: only those the job wrote, inside its own folder; each download is audited."""
    found = _own_job(job_id)
    if found.expired_at is not None:
        raise NotFound("文件已在保存 {kept_days} 天后按保留期限删除，请重新打印",
                       params={"kept_days": found.kept_days}, field="文件", value=name[:64])
    folder = job_dir(state().settings, found.id).resolve()
    path = next((Path(p) for p in found.outputs or [] if Path(p).name == name), None)
    if found.status not in ("done", "partial") or path is None or not path.resolve().is_relative_to(folder) \
            or not path.is_file():
        raise NotFound("没有这个文件（任务未完成或文件已删除）", field="文件", value=name[:64])
    commit_audit(current_account().user, "export", "print_job", found.id, detail=_export_detail(found, name))
    mimetype = MIMETYPES.get(path.suffix, "application/octet-stream")
    return send_download(path, download_name(found, name), name, mimetype)


# --- custom sets ----------------------------------------------------------------------------------------------

class FormSetInput(FlaskForm):
    """A custom set: its name, a note, and the forms in the order they print (第1张, 第2张 …)."""

    name = StringField(_l("套组名称"), validators=[Length(max=64, message=_l("套组名称最多64个字"))])
    description = StringField(_l("说明"), validators=[Length(max=200, message=_l("说明最多200个字"))])
    population = SelectField(_l("针对的重点人群"), default="")
    forms = FieldList(SelectField(_l("表单"), default=""), min_entries=SET_SLOTS, max_entries=SET_SLOTS)


class DeleteSetInput(FlaskForm):
    """The 删除 button: nothing but the CSRF token (the set is named by the URL)."""


def _set_input() -> FormSetInput:
    form = FormSetInput()
    choices = [("", "—")] + [(f.id, f.title) for f in load_catalog().forms.values()]
    for entry in form.forms:
        entry.choices = choices
    form.population.choices = [("", _("（不限：全部居民）"))] + [(p.id, p.name) for p in load_populations().values()]
    return form


def _sets_page(form: FormSetInput, *, error: str | None = None, status: int = 200) -> ResponseReturnValue:
    catalog = load_catalog()
    rows = list_custom_sets(db_session())
    custom = [{"row": row, "forms": [catalog.forms[f] for f in row.forms if f in catalog.forms]} for row in rows]
    builtin = [{"set": s, "forms": [catalog.forms[f] for f in s.forms]} for s in catalog.sets.values()]
    return render_template("web/forms/sets.html", form=form, builtin=builtin, custom=custom, error=error,
                           delete=DeleteSetInput(), populations=load_populations()), status


@bp.get("/print/sets")
@requires("print")
def sets() -> ResponseReturnValue:
    return _sets_page(_set_input())


@bp.post("/print/sets")
@requires("manage_form_sets")
def create_set() -> ResponseReturnValue:
    form = _set_input()
    if not form.validate_on_submit():
        return _sets_page(form, status=400)
    chosen = [entry.data for entry in form.forms if entry.data]
    try:
        row = create_form_set(db_session(), form.name.data or "", chosen, description=form.description.data or "",
                              population=form.population.data or None, actor=current_account().username)
        db_session().commit()
    except ArchiveprintError as error:
        rollback()
        return _sets_page(form, error=message_of(error), status=error.status)
    flash(_("已保存套组“%(name)s”", name=row.name), "success")
    return redirect(url_for("forms.sets"), code=303)


@bp.post("/print/sets/<key>/delete")
@requires("manage_form_sets")
def delete_set(key: str) -> ResponseReturnValue:
    if not DeleteSetInput().validate_on_submit():
        abort(400)
    name = delete_form_set(db_session(), key, actor=current_account().username)
    db_session().commit()
    flash(_("已删除套组“%(name)s”", name=name), "success")
    return redirect(url_for("forms.sets"), code=303)
