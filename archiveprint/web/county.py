"""全县打印 (#14): a county role's print run across several sites — a set, a form or the monthly packet for the
chosen sites' villages, one part per site and village, each printed in its own site's scope; the run's progress
as a whole, per site and per part, its zip (a folder per site), each site's zip and each part's files."""

from __future__ import annotations

import secrets
from pathlib import Path

from flask import Blueprint, Flask, abort, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import HiddenField, SelectField, SelectMultipleField, StringField
from wtforms.validators import Length, Optional, Regexp

from archiveprint.accounts.scope import apply_scope, installed_sites, scope_for
from archiveprint.accounts.services import audit
from archiveprint.errors import ArchiveprintError, NotFound
from archiveprint.forms.catalog import load_catalog
from archiveprint.forms.sets import FORM, SET
from archiveprint.jobs import runs
from archiveprint.jobs.county import DUE, CountyChoice, CountyRequest, check_request, record_request
from archiveprint.jobs.models import ENDED, RUN, UNFINISHED, Job, installation_run
from archiveprint.jobs.runners import job_dir
from archiveprint.web.auth import current_account, requires
from archiveprint.web.due import MONTH, chosen_month
from archiveprint.web.forms import MIMETYPES, check_queue, dispatcher, download_name, rerun_run
from archiveprint.web.i18n import JOB_STATUS_LABELS, label, shown_message
from archiveprint.web.responses import note_refusal, send_download
from archiveprint.web.session import db_session, request_database, rollback, state, today

bp = Blueprint("county", __name__, url_prefix="/sites/print")
RECENT = 20  # county runs listed under the form


class CountyPrintInput(FlaskForm):
    """What to print (a set, a form or the monthly packet), for which sites (none ticked: every active site) and
    which villages (blank: all of each site)."""

    what = SelectField(_l("打印内容"), validate_choice=False)  # refused by the service in its words
    month = StringField(_l("月份（随访包）"), validators=[
        Optional(), Regexp(MONTH.pattern, message=_l("月份的格式为“年-月”，如 2026-12"))])
    sites = SelectMultipleField(_l("机构（不选即全部在用机构）"), default=[], validate_choice=False)
    villages = StringField(_l("只打印这些村(居)委会"), validators=[
        Optional(), Length(max=500, message=_l("不能超过500个字"))])
    once = HiddenField(validators=[Optional(), Length(max=64)])  # this form's token: sent twice, one run

    @property
    def village_list(self) -> tuple[str, ...]:
        text = (self.villages.data or "").replace("，", " ").replace(",", " ").replace("、", " ")
        return tuple(part for part in text.split() if part)


def _county_wide() -> None:
    """Every read of these pages is the county's, whichever site the county role works in now: the run's own row
    is the installation's (accounts/scope.py), each part is read as a job of its own site."""
    apply_scope(db_session(), scope_for(db_session(), current_account().user, site_id=None))


def _input() -> CountyPrintInput:
    form = CountyPrintInput()
    catalog = load_catalog()
    form.what.choices = {
        str(_("本月随访包")): [(DUE, _("本月随访包（到期名单、到期表单和调档单）"))],
        str(_("内置套组")): [(f"{SET}:{s.id}", s.name) for s in catalog.sets.values()],
        str(_("单张表单")): [(f"{FORM}:{f.id}", f.title) for f in catalog.forms.values()]}
    form.sites.choices = [(site.code, f"{site.code} {site.name}") for site in installed_sites(db_session())
                          if not site.closed]
    if request.method == "GET":
        form.what.data = f"{SET}:{next(iter(catalog.sets))}"
        form.once.data = secrets.token_urlsafe(16)
    return form


def _recent() -> list[Job]:
    rows = db_session().scalars(select(Job).where(Job.kind == RUN, Job.site_id.is_(None))
                                .order_by(Job.id.desc()).limit(RECENT))
    return [job for job in rows if installation_run(job)]


def _page(form: CountyPrintInput, *, status: int = 200) -> ResponseReturnValue:
    return render_template("web/sites/print.html", form=form, runs=_recent(), this_month=today().replace(day=1)), \
        status


@bp.get("")
@requires("print_county")
def index() -> ResponseReturnValue:
    """The form, and the county runs started lately."""
    _county_wide()
    return _page(_input())


def _request(form: CountyPrintInput) -> CountyRequest:
    return CountyRequest(what=form.what.data or "", month=chosen_month(form.month.data), today=today(),
                         choice=CountyChoice(sites=tuple(form.sites.data or ()), villages=form.village_list),
                         user_id=current_account().user.id)


@bp.post("")
@requires("print_county")
def start() -> ResponseReturnValue:
    """Check the choice (refused on the form, nothing recorded: a site or a village none of them has, a set a site
    lacks, a month that does not exist) and record the run at once; its first step, on the workers, plans it in
    each chosen site's scope and hands its parts on (jobs/county.py plan_run), while its page shows 正在规划….
    The same form sent twice (a double click) gives the one run."""
    _county_wide()
    form = _input()
    if not form.validate_on_submit():
        return _page(form, status=400)
    try:
        params = check_request(request_database(), _request(form))
        session = db_session()
        run_id, new = record_request(session, params, actor=current_account().username, once=form.once.data or "")
        session.commit()
    except ArchiveprintError as error:
        rollback()
        note_refusal(error)
        return _page(form, status=error.status)
    if new:
        runs.submit_parts(request_database(), dispatcher(), [run_id], instance_dir=state().settings.instance_dir)
    return redirect(url_for("county.run", run_id=run_id), code=303)


def _run(run_id: int) -> Job:
    """A county run (the installation's own row); any other job is answered as one that does not exist."""
    job = db_session().get(Job, run_id)
    if job is None or not installation_run(job):
        raise NotFound("没有这个全县打印任务", field="任务", value=run_id)
    return job


def _state(job: Job) -> runs.RunState:
    """The run and its parts; a run whose parts have all ended but whose row has not is settled here."""
    found = runs.find_run(db_session(), job.id)
    if found.status in ENDED and job.status not in ENDED:
        runs.settle(request_database(), job.id, instance_dir=state().settings.instance_dir)
        db_session().commit()
        db_session().refresh(job)
        found = runs.find_run(db_session(), job.id)
    return found


def _opened(run_id: int) -> tuple[Job, runs.RunState]:
    """The run as its page and its poll read it: county-wide, after asking RQ about its parts (jobs RQ lost fail)."""
    _county_wide()
    job = _run(run_id)
    check_queue([job.id])
    return job, _state(job)


def _part_files(run: Job, part: runs.PartState) -> list[dict[str, str]]:
    """A done part's own files, named with its site and village, to download one by one."""
    job = db_session().get(Job, part.id)
    if job is None or part.status != "done" or job.expired_at is not None:
        return []
    return [{"shown": download_name(job, Path(output).name),
             "url": url_for("county.part_file", run_id=run.id, part_id=part.id, name=Path(output).name)}
            for output in job.outputs or []]


@bp.get("/<int:run_id>")
@requires("print_county")
def run(run_id: int) -> ResponseReturnValue:
    """The run's progress: the whole run, each site, each part; the downloads once parts are done."""
    job, found = _opened(run_id)
    sites = [{"code": code, "name": name, "share": share,
              "parts": [{"part": part, "files": _part_files(job, part)} for part in share.parts]}
             for code, name, share in found.by_site()]
    return render_template("web/sites/print_run.html", job=job, run=found, sites=sites,
                           finished=job.status in ENDED, planning=_planning(job, found), rerun=FlaskForm())


def _planning(job: Job, found: runs.RunState) -> bool:
    """The run's first step has not recorded its parts yet (jobs/county.py plan_run): 正在规划…"""
    return not found.parts and job.status in UNFINISHED


@bp.get("/<int:run_id>.json")
@requires("print_county")
def status(run_id: int) -> ResponseReturnValue:
    """What the run's page polls (static/jobs.js): the run's, each site's and each part's progress."""
    job, found = _opened(run_id)
    data = found.as_json()
    planning = _planning(job, found)  # its progress: the sites planned of all
    progress = (job.done, job.total, job.percent) if planning else (found.done, found.total, found.percent)
    return jsonify(id=job.id, status=job.status, label=label(JOB_STATUS_LABELS, job.status), done=progress[0],
                   total=progress[1], percent=progress[2], pages=found.pages, error=shown_message(job.error),
                   finished=job.status in ENDED, expired=job.expired_at is not None, planning=planning,
                   sites=[{**site, "label": label(JOB_STATUS_LABELS, str(site["status"]))}
                          for site in data.get("sites", [])],  # type: ignore[union-attr]
                   parts=[{"id": part.id, "status": part.status, "label": label(JOB_STATUS_LABELS, part.status),
                           "percent": part.percent, "done": part.done, "total": part.total} for part in found.parts])


@bp.post("/<int:run_id>/rerun")
@requires("print_county")
def rerun(run_id: int) -> ResponseReturnValue:
    """Queue the run's failed parts again, in whichever sites they are (a part already printed is not printed
    twice: each failed part moves back to queued in one UPDATE)."""
    if not FlaskForm().validate_on_submit():
        abort(400)
    _county_wide()
    return rerun_run(_run(run_id).id, url_for("county.run", run_id=run_id))


def _audit_download(job: Job, name: str, sites: list[str]) -> None:
    """One export row in each site whose people the file holds, naming the site (its own audit log shows it)."""
    session = db_session()
    session.commit()  # end the read snapshot: the INSERT waits its turn for the write lock (SQLite)
    by_code = {site.code: site for site in installed_sites(session)}
    for code in sites:
        site = by_code.get(code)
        detail = f"{name} {(job.params or {}).get('set_name', '')} {site.name if site else code}"
        audit(session, current_account().user, "export", "print_job", job.id, detail=detail,
              site_id=site.id if site else None)
    session.commit()


def _sites_of(found: runs.RunState) -> list[str]:
    return [code for code, _name, share in found.by_site() if code and any(p.status == "done" for p in share.parts)]


def _not_there(name: str) -> NotFound:
    return NotFound("没有这个文件（任务未完成或文件已删除）", field="文件", value=name[:64])


@bp.get("/<int:run_id>/files/<name>")
@requires("print_county")
def download(run_id: int, name: str) -> ResponseReturnValue:
    """The whole run's zip (a folder per site); audited in each site it holds."""
    _county_wide()
    job = _run(run_id)
    folder = runs.run_dir(state().settings.instance_dir, job.id).resolve()
    path = next((Path(p) for p in job.outputs or [] if Path(p).name == name), None)
    if job.status not in ("done", "partial") or job.expired_at is not None or path is None \
            or not path.resolve().is_relative_to(folder) or not path.is_file():
        raise _not_there(name)
    _audit_download(job, name, _sites_of(runs.find_run(db_session(), job.id)))
    return send_download(path, download_name(job, name), name, MIMETYPES.get(path.suffix, "application/zip"))


@bp.get("/<int:run_id>/sites/<code>.zip")
@requires("print_county")
def site_zip(run_id: int, code: str) -> ResponseReturnValue:
    """One site's share of the run as a zip of its own (its done parts); audited in that site."""
    _county_wide()
    job = _run(run_id)
    found = runs.find_run(db_session(), job.id)
    path = runs.site_zip(found, code, state().settings.instance_dir) if job.expired_at is None else None
    if path is None:
        raise _not_there(f"{code}.zip")
    _audit_download(job, path.name, [code])
    name = next((name for site, name, _share in found.by_site() if site == code), code)
    shown = Path(download_name(job, str((job.params or {}).get("filename") or ""))).stem
    return send_download(path, f"{shown}-{name}.zip", path.name, "application/zip")


@bp.get("/<int:run_id>/parts/<int:part_id>/<name>")
@requires("print_county")
def part_file(run_id: int, part_id: int, name: str) -> ResponseReturnValue:
    """One part's own file (its site and village's PDF, or its 调档单); audited in the part's site."""
    _county_wide()
    job = _run(run_id)
    part = db_session().get(Job, part_id)
    if part is None or part.run_id != job.id or part.status != "done" or part.expired_at is not None:
        raise _not_there(name)
    folder = job_dir(state().settings, part.id).resolve()
    path = next((Path(p) for p in part.outputs or [] if Path(p).name == name), None)
    if path is None or not path.resolve().is_relative_to(folder) or not path.is_file():
        raise _not_there(name)
    _audit_download(part, name, [str((part.params or {}).get("site_code") or "")])
    return send_download(path, download_name(part, name), name, MIMETYPES.get(path.suffix, "application/pdf"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
