"""Job entry points (local thread or RQ worker) and what the app does with jobs at start.

Print jobs (forms, labels, due — the monthly packet and its pick list) write files under jobs/<id>/; register import
jobs (import_check, import_apply) write the register and the upload's report (archiveprint.register.importjob); an
intake job (回收归档) reads a scanned stack into its batch (archiveprint.intake); a transfer job (机构撤并) carries
out a confirmed transfer between sites and writes its documents (archiveprint.sites.transferjob)."""

from __future__ import annotations

import errno
import logging
import shutil
from datetime import date, datetime
from pathlib import Path

from archiveprint.accounts.models import User
from archiveprint.accounts.scope import scope_for, scoped
from archiveprint.clock import today
from archiveprint.config import Settings, keep_files_private, make_private
from archiveprint.db import Database, utcnow
from archiveprint.due.packet import audit_packet, print_packet
from archiveprint.errors import N_, ArchiveprintError, Message
from archiveprint.forms.layout import layout_cache_dir, use_cache_dir
from archiveprint.forms.services import PrintOptions, Scope, audit_print, print_forms
from archiveprint.intake.services import read_batch
from archiveprint.intake.sources import StackFile
from archiveprint.jobs import county, runs
from archiveprint.jobs import queue as jobqueue
from archiveprint.jobs.models import RUN
from archiveprint.jobs.retention import clean_quietly
from archiveprint.labels.services import LabelOptions, LabelScope, audit_labels, print_labels
from archiveprint.lending.queries import status_provider
from archiveprint.lending.rules import site_rules
from archiveprint.register import importjob, uploads
from archiveprint.sites import transferjob

log = logging.getLogger(__name__)
INTAKE = "intake"  # 回收归档: a scanned stack read page by page (archiveprint.intake)
# A job that broke on something other than a domain error: its page says so in words, the log says what (its class).
BROKE = N_("任务因内部错误中断，未完成。请重新提交；仍不行请管理员查看服务器日志")
OUT_OF_MEMORY = N_("任务因服务器内存不足中断，未完成。请把任务分小（例如按村分批）后重新提交，或请管理员增加内存")
DISK_FULL = N_("任务因服务器磁盘空间不足中断，未完成。请管理员清理磁盘（例如过期的打印文件）后重新提交")


def job_dir(settings: Settings, job_id: int) -> Path:
    return settings.instance_dir / "jobs" / str(job_id)


def run_job(job_id: int, database_url: str | None = None, *, settings: Settings | None = None,
            database: Database | None = None, dispatcher: jobqueue.Dispatcher | None = None) -> None:
    """Run one job to the end. A job already done is not run again, so a re-delivered job never duplicates.
    `dispatcher`: where a county run's first step hands its parts on (see _plan_then_hand_on)."""
    keep_files_private()  # an RQ worker process is started outside archiveprint's own commands
    settings = settings or Settings.from_env()
    owns_db = database is None
    database = database or Database.connect(database_url or settings.database_url)
    try:
        if not jobqueue.claim(database, job_id):
            return
        with database.reader() as session:
            job = jobqueue.get_job(session, job_id)
            kind, params, actor, run_id = job.kind, dict(job.params), job.created_by, job.run_id
            # Everything the job reads and writes is in its site, and what the user who started it may see (a
            # village doctor: their own villages only).
            site_db = scoped(database, scope_for(session, _user(session, params.get("user_id")),
                                                 site_id=job.site_id))
        if kind == RUN:  # a county run not planned yet: its first step
            _plan_then_hand_on(job_id, settings, database, site_db,
                               dispatcher or _rq(settings, database_url or settings.database_url, database))
            return
        if run_id is not None:  # a part of a print run: the run is running now
            _settle_quietly(database, run_id, settings)
        try:
            _run_to_the_end(kind, params, actor, job_id, settings, site_db)
        finally:
            if run_id is not None:  # the last part to end writes the run's zip
                _settle_quietly(database, run_id, settings)
    finally:
        clean_quietly(settings, database)
        if owns_db:
            database.dispose()


def _plan_then_hand_on(run_id: int, settings: Settings, database: Database, site_db: Database,
                       dispatcher: jobqueue.Dispatcher | None) -> None:
    """Plan a county run (jobs/county.py plan_run: the sites planned of all are its progress meanwhile), then hand
    its parts to `dispatcher` (the app's; RQ in a worker) or, without one, run them here one after another. A
    refusal ends the run failed, saying why on its page."""
    try:
        ids = county.plan_run(site_db, run_id, progress=lambda done, total: jobqueue.report_progress(
            database, run_id, done, total))
    except ArchiveprintError as error:
        jobqueue.fail(database, run_id, str(error))
        return
    except Exception:  # the run's page must say it ended, whatever broke
        log.exception("county run %s could not be planned", run_id)
        jobqueue.fail(database, run_id, county.PLAN_BROKEN)
        return
    if dispatcher is None:
        for part_id in ids:
            run_job(part_id, settings=settings, database=database)
        return
    runs.submit_parts(database, dispatcher, ids, instance_dir=settings.instance_dir)


def _rq(settings: Settings, database_url: str | None, database: Database) -> jobqueue.Dispatcher | None:
    """The RQ queue a worker hands a county run's parts to (REDIS_URL set), else None."""
    if not settings.redis_url:
        return None
    return jobqueue.Dispatcher(lambda job_id: None, redis_url=settings.redis_url, database_url=database_url,
                               queue=settings.rq_queue, database=database)


def _settle_quietly(database: Database, run_id: int, settings: Settings) -> None:
    """A run's row brought up to date by its part; a failure is logged, not the part's (the run's page settles it
    again when it finds every part ended)."""
    try:
        runs.settle(database, run_id, instance_dir=settings.instance_dir)
    except Exception:
        log.exception("could not settle print run %s", run_id)


def _run_to_the_end(kind: str, params: dict, actor: str, job_id: int, settings: Settings,  # type: ignore[type-arg]
                    database: Database) -> None:
    """Run the job and record how it ended: done with its outputs, or failed saying why."""
    try:
        outputs, pages = _run(kind, params, actor, job_id, settings, database)
    except ArchiveprintError as error:
        jobqueue.fail(database, job_id, str(error))
        return
    except Exception as error:  # the job page must say why, whatever broke; its class goes to the log only
        log.exception("job %s failed (%s)", job_id, type(error).__name__)
        jobqueue.fail(database, job_id, why_it_broke(error))
        return
    make_private(job_dir(settings, job_id))
    job_dir(settings, job_id).parent.chmod(0o700)
    jobqueue.finish(database, job_id, outputs=outputs, pages=pages)


def why_it_broke(error: Exception) -> Message:
    """What a job's page says when it broke on something that is no domain error: out of memory, the disk full,
    else that it broke (the server's log has the class and the traceback)."""
    if isinstance(error, MemoryError):
        return OUT_OF_MEMORY
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return DISK_FULL
    return BROKE


def _day(params: dict, settings: Settings) -> date:  # type: ignore[type-arg]
    """The day the clerk asked on (the web passes it), else the archive's day in the site's zone now."""
    given = params.get("today")
    return date.fromisoformat(given) if given else today(site_rules(settings.instance_dir).timezone)


def _run(kind: str, params: dict, actor: str, job_id: int, settings: Settings,  # type: ignore[type-arg]
         database: Database) -> tuple[list[str], int]:
    def progress(done: int, total: int) -> None:
        jobqueue.report_progress(database, job_id, done, total)

    if kind == "forms":
        use_cache_dir(layout_cache_dir(settings.instance_dir))
        target = job_dir(settings, job_id) / params.get("filename", "forms.pdf")
        scope = Scope.from_json(params.get("scope", {}))
        options = PrintOptions(**params.get("options", {}))
        with database.reader() as session:
            result = print_forms(session, params["set"], scope, target, kind=params.get("set_kind"), options=options,
                                 today=_day(params, settings), progress=progress)
        with database.transaction() as session:
            audit_print(session, result, user=_user(session, params.get("user_id")), actor=actor)
        return [str(p) for p in result.outputs], result.pages
    if kind == "labels":
        target = job_dir(settings, job_id) / params.get("filename", "labels.pdf")
        scope = LabelScope.from_json(params.get("scope", {}))
        options = LabelOptions.from_json(params.get("options", {}))
        with database.reader() as session:
            labels = print_labels(session, params["kind"], params.get("stock", ""), scope, target, options=options,
                                  instance_dir=settings.instance_dir, progress=progress)
        with database.transaction() as session:
            audit_labels(session, labels, user=_user(session, params.get("user_id")), actor=actor)
        return [str(target)], labels.pages
    if kind == "due":
        use_cache_dir(layout_cache_dir(settings.instance_dir))
        target = job_dir(settings, job_id) / params.get("filename", "due.pdf")
        villages = params.get("villages")
        with database.reader() as session:
            packet = print_packet(session, date.fromisoformat(f"{params['month']}-01"), target,
                                  villages=None if villages is None else list(villages),
                                  villages_text=params.get("villages_text", ""), today=_day(params, settings),
                                  providers=[status_provider(site_rules(settings.instance_dir))], progress=progress)
        with database.transaction() as session:
            audit_packet(session, packet, user=_user(session, params.get("user_id")), actor=actor)
        return [str(p) for p in packet.outputs], packet.pages
    if kind == INTAKE:
        stack = [StackFile(Path(item["path"]), str(item["name"]), str(item["kind"]), int(item["pages"]))
                 for item in params["files"]]
        try:
            read_batch(database, int(params["batch_id"]), stack, instance_dir=settings.instance_dir, actor=actor,
                       progress=progress)
        finally:  # the uploaded stack is not kept: its pages are (as the site chose) under intake/
            shutil.rmtree(params["folder"], ignore_errors=True)
        return [], sum(item.pages for item in stack)
    if kind == transferjob.TRANSFER:  # 机构撤并: the transfer and its documents, done exactly if they commit
        rules = site_rules(settings.instance_dir)
        job_dir(settings, job_id).mkdir(parents=True, exist_ok=True, mode=0o700)  # its documents are kept elsewhere
        return transferjob.run_transfer(database, job_id, params, actor=actor, instance_dir=settings.instance_dir,
                                        timezone=rules.timezone, providers=[status_provider(rules)], now=utcnow,
                                        progress=progress)
    if kind in importjob.KINDS:
        # An apply holds its transaction to the end; on SQLite that is the only write lock, so the progress
        # goes to a file in the job's folder until then (jobqueue.report_progress). A check holds no lock.
        folder = job_dir(settings, job_id) if database.is_sqlite else None
        estimate = int(params.get("rows") or 0)

        def rows_read(rows: int) -> None:
            jobqueue.report_progress(database, job_id, rows, max(rows, estimate), folder=folder)

        try:
            importjob.run_job(database, uploads.upload_root(settings.instance_dir), job_id, kind, params,
                              actor=actor, progress=rows_read, limits=settings.import_limits)
        finally:
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
        return [], 0
    raise ArchiveprintError("未知任务类型：{kind}", params={"kind": kind})


def _user(session, user_id):  # type: ignore[no-untyped-def]
    if user_id is None:
        return None
    return session.get(User, user_id)


# --- app start --------------------------------------------------------------------------------------------------

def on_app_start(settings: Settings, database: Database, dispatcher: jobqueue.Dispatcher, *,
                 now: datetime | None = None) -> None:
    """Pick up what the previous process left (Dispatcher.recover), then retention if a day has passed.

    Neither may keep the app from starting (Redis down, a folder that cannot be removed): both are logged.
    """
    now = now or utcnow()
    try:
        recovery = dispatcher.recover(database, now=now)
        runs.settle_runs_of(database, recovery.failed, instance_dir=settings.instance_dir)
    except Exception:
        log.exception("could not recover the jobs left by the previous process")
    clean_quietly(settings, database, now=now)


# --- retention --------------------------------------------------------------------------------------------------
