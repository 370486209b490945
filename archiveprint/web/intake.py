"""回收归档: upload a scanned stack (read by a background job), see where every page goes in walking order, assign by
hand the pages no mark was read on, keep the batch history and the site's choice of page pictures to keep."""

from __future__ import annotations

import io
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileRequired, MultipleFileField
from sqlalchemy import select
from wtforms import DateField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, NumberRange, Optional

from archiveprint.accounts.roles import can
from archiveprint.errors import ArchiveprintError, InvalidValue, NotFound
from archiveprint.forms.catalog import FormDef, load_catalog
from archiveprint.intake import images
from archiveprint.intake.decode import REASONS
from archiveprint.intake.document import render_filing_pdf
from archiveprint.intake.models import IntakePage
from archiveprint.intake.queries import (
    BatchSummary,
    batch_pages,
    filing_list,
    find_batch,
    find_page,
    list_batches,
    next_open_page,
    returns_by_doctor,
    returns_by_village,
)
from archiveprint.intake.services import (
    OPEN,
    assign_page,
    file_anyway,
    keep_images,
    set_aside,
    set_keep_images,
    start_batch,
)
from archiveprint.intake.sources import inspect_files
from archiveprint.jobs import queue as jobqueue
from archiveprint.jobs.models import UNFINISHED, Job
from archiveprint.jobs.runners import INTAKE
from archiveprint.register import uploads
from archiveprint.register.queries import classify_query, find_residents
from archiveprint.register.services import get_township
from archiveprint.web.auth import current_account, requires
from archiveprint.web.forms import check_queue, start_job
from archiveprint.web.i18n import JOB_STATUS_LABELS, label, message_of, shown_message
from archiveprint.web.locations import status_providers
from archiveprint.web.responses import audit_shown, printed_pdf, refused, submitted
from archiveprint.web.session import commit_audit, db_session, rollback, state, today

bp = Blueprint("intake", __name__, url_prefix="/intake")
KEEP_LABELS = {"none": _l("不保留"), "preview": _l("保留小图（约 30 KB/页）"),
               "full": _l("保留扫描原图（约 200 KB/页）")}
OUTCOME_LABELS = {"filed": _l("已归档"), "blank": _l("空白页"), "unreadable": _l("待处理"), "duplicate": _l("重复"),
                  "set_aside": _l("已放一边")}
QUERY_MAX = 100
SLACK = 1 << 20  # the form's other fields around the files


def init_app(app: Flask) -> None:
    """The blueprint; and a stack's upload may be as large as the intake limits allow (the app's limit is for
    register files): raised before any other handler reads the body (the CSRF check does)."""
    app.register_blueprint(bp)
    app.before_request_funcs.setdefault(None, []).insert(0, _allow_large_stacks)


def _allow_large_stacks() -> None:
    if request.endpoint == "intake.upload":
        request.max_content_length = state().settings.intake_limits.megabytes * (1 << 20) + SLACK


def marked_forms() -> list[FormDef]:
    """The forms whose pages carry a re-filing mark (one resident per page, A4): those a page can be assigned to."""
    return sorted((form for form in load_catalog().forms.values() if form.per_page == 1 and form.size != "card"),
                  key=lambda form: form.number)


# --- upload and history ------------------------------------------------------------------------------------------

class UploadInput(FlaskForm):
    """One stack: the scanner's files (several at once) and the day they came back."""

    files = MultipleFileField(_l("扫描文件（PDF 或多页 TIFF，可多选）"), validators=[
        FileRequired(_l("请选择扫描文件")),
        FileAllowed(["pdf", "tif", "tiff"], _l("只能上传 PDF 或 TIFF 文件"))])
    received_on = DateField(_l("收到日期"), validators=[Optional()])


class KeepInput(FlaskForm):
    keep_images = SelectField(_l("归档页面的图像"),
                              choices=[SelectChoice(key, text) for key, text in KEEP_LABELS.items()])


def _index(form: UploadInput, *, error: str | None = None, status: int = 200) -> ResponseReturnValue:
    session = db_session()
    keep = KeepInput(keep_images=keep_images(session))
    return render_template("web/intake/index.html", form=form, keep=keep, keep_label=KEEP_LABELS,
                           batches=list_batches(session), error=error, today=today()), status


@bp.get("")
@requires("intake")
def index() -> ResponseReturnValue:
    form = UploadInput()
    form.received_on.data = today()
    return _index(form)


@bp.post("")
@requires("intake")
def upload() -> ResponseReturnValue:
    """Keep the files for the job, refuse early what cannot be read (not a scan, too large), and start the job."""
    form = UploadInput()
    if not form.validate_on_submit():
        return _index(form, status=400)
    account = current_account()
    session = db_session()
    session.commit()  # the writer's lock must not be held while the files are saved and looked at
    received_on = form.received_on.data or today()
    root = uploads.upload_root(state().settings.instance_dir)
    uploads.forget_stale(root)
    folder = root / secrets.token_urlsafe(16)  # forget_stale removes it the next day if no job took it
    folder.mkdir(parents=True, mode=0o700)
    try:
        if received_on > today():
            raise InvalidValue("收到日期不能晚于今天", field="收到日期", value=received_on.isoformat())
        saved = []
        for number, storage in enumerate(form.files.data, start=1):
            path = folder / f"{number:03d}"
            storage.save(path)
            storage.close()  # werkzeug spooled it to a temporary file
            saved.append((path, Path(storage.filename or f"scan-{number}").name[:200]))
        stack = inspect_files(saved, state().settings.intake_limits)
    except ArchiveprintError as error:
        shutil.rmtree(folder, ignore_errors=True)
        rollback()
        return _index(form, error=message_of(error), status=error.status)
    files = [{"path": str(item.path), "name": item.name, "kind": item.kind, "pages": item.pages} for item in stack]
    job = jobqueue.create_job(session, INTAKE, {"folder": str(folder), "files": files, "user_id": account.user.id,
                                                "pages": sum(item.pages for item in stack)},
                              actor=account.username)
    batch = start_batch(session, stack, received_on=received_on, actor=account.username, job_id=job.id)
    job.params = {**job.params, "batch_id": batch.id}
    session.commit()
    start_job(job.id)  # Redis down: the batch page says so instead of waiting forever
    return redirect(url_for("intake.batch", batch_id=batch.id), code=303)


@bp.post("/settings")
@requires("configure_site")
def settings() -> ResponseReturnValue:
    """What is kept of each page filed from now on: nothing, a small preview, or the scan."""
    form = submitted(KeepInput())
    session = db_session()
    set_keep_images(session, form.keep_images.data or "none", actor=current_account().username,
                    user=current_account().user)
    session.commit()
    flash(_("已保存：归档页面的图像 %(choice)s", choice=KEEP_LABELS[form.keep_images.data or "none"]), "success")
    return redirect(url_for("intake.index"), code=303)


# --- a batch -----------------------------------------------------------------------------------------------------

def _batch_or_404(batch_id: int) -> BatchSummary:
    found = find_batch(db_session(), batch_id)
    if found is None:
        raise NotFound("没有这一批回收的表单", field="批次", value=batch_id)
    return found


def _job_of(summary: BatchSummary) -> Job | None:
    """The batch's job, after asking RQ (when used) whether it is still alive."""
    if summary.job_id is None:
        return None
    session = db_session()
    job = session.get(Job, summary.job_id)
    if job is not None and job.status in UNFINISHED:
        check_queue([job.id])
        session.refresh(job)
    return job


def _state(summary: BatchSummary, job: Job | None) -> tuple[str, str]:
    """The batch's status and why it failed: a job that stopped (a restart, a worker lost) fails its batch too."""
    if summary.status in ("queued", "running") and job is not None and job.status == "failed":
        return "failed", shown_message(job.error)
    if summary.status == "failed":
        return "failed", shown_message(job.error if job is not None and job.error else "")
    return summary.status, ""


@bp.get("/<int:batch_id>")
@requires("intake")
def batch(batch_id: int) -> ResponseReturnValue:
    summary = _batch_or_404(batch_id)
    job = _job_of(summary)
    status, error = _state(summary, job)
    if status in ("queued", "running"):
        done, total = (job.done, job.total or summary.pages) if job is not None else (0, summary.pages)
        return render_template("web/intake/running.html", batch=summary, status=status, done=done, total=total,
                               percent=int(100 * done / total) if total else 0)
    session = db_session()
    waiting = batch_pages(session, batch_id, outcomes=OPEN)
    filing = filing_list(session, batch_id, providers=status_providers())
    audit_shown("view", [folder.location.household_id for folder in filing.folders],
                detail=f"回收归档 第{batch_id}批 归档清单")
    return render_template("web/intake/batch.html", batch=summary, status=status, error=error, waiting=waiting,
                           filing=filing, reasons=REASONS, outcome_label=OUTCOME_LABELS)


@bp.get("/<int:batch_id>/status.json")
@requires("intake")
def batch_status(batch_id: int) -> ResponseReturnValue:
    """What the batch page's script (jobs.js, as on a print job's page) polls while the stack is read."""
    summary = _batch_or_404(batch_id)
    job = _job_of(summary)
    status, error = _state(summary, job)
    done, total = (job.done, job.total or summary.pages) if job is not None else (0, summary.pages)
    finished = status in ("done", "failed")
    return jsonify(id=batch_id, status=status, label=label(JOB_STATUS_LABELS, status),
                   done=summary.pages if status == "done" else done, total=total,
                   percent=100 if status == "done" else (int(100 * done / total) if total else 0), error=error,
                   finished=finished)


@bp.get("/<int:batch_id>/filing-list.pdf")
@requires("intake")
def filing_pdf(batch_id: int) -> ResponseReturnValue:
    """The filing list printed (A4), each folder on it audited as printed."""
    _batch_or_404(batch_id)
    session = db_session()
    filing = filing_list(session, batch_id, providers=status_providers())
    unit = get_township(session).unit_name

    def make() -> bytes:
        account = current_account()
        for folder in filing.folders:
            commit_audit(account.user, "print", "household", folder.location.household_id,
                         detail=f"回收归档 第{batch_id}批 归档清单")
        return render_filing_pdf(filing, unit=unit, day=today())

    return printed_pdf(make, f"filing-list-{batch_id}.pdf")


# --- one page: look at it, assign it, set it aside -----------------------------------------------------------------

def _page_target(page_id: int, query: str = "") -> str:
    return url_for("intake.page", page_id=page_id, q=query or None)


def _after(page: IntakePage) -> str:
    """The next page of the batch that waits for the clerk, else the batch (its filing list)."""
    following = next_open_page(db_session(), page.batch_id, page.seq)
    return url_for("intake.page", page_id=following) if following else url_for("intake.batch", batch_id=page.batch_id)


@bp.get("/pages/<int:page_id>")
@requires("intake")
def page(page_id: int) -> ResponseReturnValue:
    """A page waiting for the clerk: its picture, why it waits, a search for whose it is, and the decision."""
    session = db_session()
    item = find_page(session, page_id, providers=status_providers())
    if item is None:
        raise NotFound("没有这一页", field="页", value=page_id)
    query = request.args.get("q", "").strip()[:QUERY_MAX]
    matches = find_residents(session, query, limit=20) if query else []
    if query:
        kind, _key = classify_query(query)
        commit_audit(current_account().user, "search", "resident", kind,
                     detail=f"回收归档 第{item.id}页 results={len(matches)}")
    elif item.archive_code:
        commit_audit(current_account().user, "view", "resident", item.archive_code,
                     detail=f"回收归档 第{item.id}页")
    summary = _batch_or_404(session.get(IntakePage, page_id).batch_id)  # type: ignore[union-attr]
    return render_template("web/intake/page.html", item=item, batch=summary, search=query, matches=matches,
                           forms=marked_forms(), reasons=REASONS, outcome_label=OUTCOME_LABELS,
                           open=item.outcome in OPEN)


@bp.get("/pages/<int:page_id>/image")
@requires("view_person")
def image(page_id: int) -> ResponseReturnValue:
    """A page's kept picture. A page that waits for the clerk is hers to see; a filed page's picture is part of the
    resident's record (the village scope applies, and every view is audited)."""
    session = db_session()
    page = session.scalar(select(IntakePage).where(IntakePage.id == page_id))
    if page is None or not page.image:
        abort(404)
    if (page.outcome != "filed" or page.archive_code is None) and not can(current_account().role, "intake"):
        abort(404)
    data = images.load(state().settings.instance_dir, page.image)
    if data is None:
        abort(404)
    subject = ("resident", page.archive_code) if page.archive_code else ("intake_page", page.id)
    commit_audit(current_account().user, "view", subject[0], subject[1],
                 detail=f"回收归档页面图像 第{page.batch_id}批 第{page.seq}页")
    return send_file(io.BytesIO(data), mimetype="image/jpeg", max_age=0)


class AssignInput(FlaskForm):
    """Whose page it is: the resident chosen from the search, the form and its page."""

    archive_code = StringField(_l("居民"), validators=[InputRequired(_l("请先查找并选择居民"))])
    form_number = SelectField(_l("表单"), coerce=int, validate_choice=False)
    form_page = IntegerField(_l("第几页"), default=1, validators=[
        InputRequired(_l("请填写页码")), NumberRange(1, 99, message=_l("页码应在 1–99 之间"))])


class DecideInput(FlaskForm):
    """放在一边 / 仍然归档: nothing but the CSRF token (the page is named by the URL)."""


@bp.post("/pages/<int:page_id>/assign")
@requires("intake")
def assign(page_id: int) -> ResponseReturnValue:
    form = AssignInput()
    query = request.form.get("q", "")[:QUERY_MAX]
    if not form.validate_on_submit():
        first = next(iter(form.errors.values()), [_("请求有误")])
        flash(str(first[0]), "error")
        return redirect(_page_target(page_id, query), code=303)
    session = db_session()
    try:
        page = assign_page(session, page_id, archive_code=form.archive_code.data or "",
                           form_number=int(form.form_number.data or 0), form_page=int(form.form_page.data or 0),
                           actor=current_account().username, instance_dir=state().settings.instance_dir)
        session.commit()
    except ArchiveprintError as error:
        return refused(error, _page_target(page_id, query))
    flash(_("已归档：第 %(seq)s 页 → %(name)s", seq=page.seq, name=page.resident.name if page.resident else ""),
          "success")
    return redirect(_after(page), code=303)


@bp.post("/pages/<int:page_id>/set-aside")
@requires("intake")
def put_aside(page_id: int) -> ResponseReturnValue:
    """放在一边: no page of this archive (or not now); its picture is not kept."""
    return _decide(page_id, set_aside, lambda page: _("第 %(seq)s 页已放在一边，不归档", seq=page.seq))


@bp.post("/pages/<int:page_id>/file")
@requires("intake")
def file_again(page_id: int) -> ResponseReturnValue:
    """仍然归档: a page reported as a duplicate is a new sheet of the same form after all."""
    return _decide(page_id, file_anyway, lambda page: _("已归档：第 %(seq)s 页", seq=page.seq))


def _decide(page_id: int, decide: Callable[..., IntakePage], said: Callable[[IntakePage], str]) -> ResponseReturnValue:
    """One button's decision on a page (the page is named by the URL), then on to the next page that waits."""
    submitted(DecideInput())
    session = db_session()
    try:
        page = decide(session, page_id, actor=current_account().username, instance_dir=state().settings.instance_dir)
        session.commit()
    except ArchiveprintError as error:
        return refused(error, _page_target(page_id))
    flash(said(page), "success")
    return redirect(_after(page), code=303)


# --- what came back this year --------------------------------------------------------------------------------------

@bp.get("/returns")
@requires("view_reports")
def returns() -> ResponseReturnValue:
    """Pages received and filed in a year: per village and per village doctor (evidence beside the 抽查 checklist)."""
    try:
        year = int(request.args.get("year") or today().year)
    except ValueError:
        year = today().year
    year = min(max(year, 2000), 2100)
    session = db_session()
    return render_template("web/intake/returns.html", year=year, villages=returns_by_village(session, year),
                           doctors=returns_by_doctor(session, year), this_year=today().year)
