"""Job entry points (local thread or RQ worker), what the app does with jobs at start, and output retention.

Print jobs (forms, labels) write files under jobs/<id>/; register import jobs (import_check, import_apply) write
the register and the upload's report (archiveprint.register.importjob)."""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archiveprint.accounts.models import User
from archiveprint.accounts.scope import apply_scope, scope_for
from archiveprint.accounts.services import audit
from archiveprint.config import Settings, keep_files_private, make_private
from archiveprint.db import Database, utcnow
from archiveprint.errors import ArchiveprintError, InvalidValue
from archiveprint.jobs import queue as jobqueue
from archiveprint.jobs.queue import Job
from archiveprint.register import importjob, uploads

log = logging.getLogger(__name__)
CLEAN_MARKER = ".last-clean"  # in <instance>/jobs/: its mtime is when retention last ran
CLEAN_EVERY = timedelta(days=1)
SYSTEM_ACTOR = "system"


def job_dir(settings: Settings, job_id: int) -> Path:
    return settings.instance_dir / "jobs" / str(job_id)


def run_job(job_id: int, database_url: str | None = None, *, settings: Settings | None = None,
            database: Database | None = None) -> None:
    """Run one job to the end. A job already done is not run again, so a re-delivered job never duplicates."""
    keep_files_private()  # an RQ worker process is started outside archiveprint's own commands
    settings = settings or Settings.from_env()
    owns_db = database is None
    database = database or Database.connect(database_url or settings.database_url)
    try:
        if not jobqueue.claim(database, job_id):
            return
        with database.reader() as session:
            job = jobqueue.get_job(session, job_id)
            kind, params, actor = job.kind, dict(job.params), job.created_by
        try:
            outputs, pages = _run(kind, params, actor, job_id, settings, database)
        except ArchiveprintError as error:
            jobqueue.fail(database, job_id, str(error))
            return
        except Exception as error:  # the job page must say why, whatever broke
            log.exception("job %s failed", job_id)
            jobqueue.fail(database, job_id, f"内部错误：{type(error).__name__}: {error}")
            return
        make_private(job_dir(settings, job_id))
        job_dir(settings, job_id).parent.chmod(0o700)
        jobqueue.finish(database, job_id, outputs=outputs, pages=pages)
    finally:
        _clean_quietly(settings, database)
        if owns_db:
            database.dispose()


def _day(params: dict, settings: Settings) -> date:  # type: ignore[type-arg]
    """The day the clerk asked on (the web passes it), else the archive's day in the site's zone now."""
    from archiveprint.clock import today
    from archiveprint.lending.rules import site_rules

    given = params.get("today")
    return date.fromisoformat(given) if given else today(site_rules(settings.instance_dir).timezone)


def _run(kind: str, params: dict, actor: str, job_id: int, settings: Settings,  # type: ignore[type-arg]
         database: Database) -> tuple[list[str], int]:
    def progress(done: int, total: int) -> None:
        jobqueue.report_progress(database, job_id, done, total)

    if kind == "forms":
        from archiveprint.forms.layout import layout_cache_dir, use_cache_dir
        from archiveprint.forms.services import PrintOptions, Scope, audit_print, print_forms

        use_cache_dir(layout_cache_dir(settings.instance_dir))
        target = job_dir(settings, job_id) / params.get("filename", "forms.pdf")
        scope = Scope(**params.get("scope", {}))
        options = PrintOptions(**params.get("options", {}))
        with database.reader() as session:
            _scope_to_user(session, params.get("user_id"))
            result = print_forms(session, params["set"], scope, target, kind=params.get("set_kind"), options=options,
                                 today=_day(params, settings), progress=progress)
        with database.transaction() as session:
            audit_print(session, result, user=_user(session, params.get("user_id")), actor=actor)
        return [str(p) for p in result.outputs], result.pages
    if kind == "labels":
        from archiveprint.labels.services import LabelOptions, LabelScope, audit_labels, print_labels

        target = job_dir(settings, job_id) / params.get("filename", "labels.pdf")
        scope = LabelScope.from_json(params.get("scope", {}))
        options = LabelOptions.from_json(params.get("options", {}))
        with database.reader() as session:
            _scope_to_user(session, params.get("user_id"))
            labels = print_labels(session, params["kind"], params.get("stock", ""), scope, target, options=options,
                                  instance_dir=settings.instance_dir, progress=progress)
        with database.transaction() as session:
            audit_labels(session, labels, user=_user(session, params.get("user_id")), actor=actor)
        return [str(target)], labels.pages
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
    raise ArchiveprintError(f"未知任务类型：{kind}")


def _scope_to_user(session: Session, user_id: int | None) -> None:
    """A print job sees what the user who started it may see (a village doctor: their own villages only)."""
    apply_scope(session, scope_for(_user(session, user_id)))


def _user(session, user_id):  # type: ignore[no-untyped-def]
    if user_id is None:
        return None
    return session.get(User, user_id)


def describe(job: Job) -> str:
    """What a job printed and for how many, for audit rows (no names: those are in the print rows)."""
    params = job.params or {}
    if job.kind == "labels":
        return f"{params.get('title') or params.get('kind', '')} labels={params.get('labels', '')}"
    if job.kind in importjob.KINDS:
        return f"{job.kind} rows={params.get('rows', '')}"
    return f"{params.get('set_name') or params.get('set', '')} residents={params.get('residents', '')}"


# --- app start --------------------------------------------------------------------------------------------------

def on_app_start(settings: Settings, database: Database, dispatcher: jobqueue.Dispatcher, *,
                 now: datetime | None = None) -> None:
    """Pick up what the previous process left (Dispatcher.recover), then retention if a day has passed.

    Neither may keep the app from starting (Redis down, a folder that cannot be removed): both are logged.
    """
    now = now or utcnow()
    try:
        dispatcher.recover(database, now=now)
    except Exception:
        log.exception("could not recover the jobs left by the previous process")
    _clean_quietly(settings, database, now=now)


# --- retention --------------------------------------------------------------------------------------------------

@dataclass
class RemovedOutput:
    """One job folder removed (or to be removed, in a dry run)."""

    folder: str  # jobs/<id>
    job_id: int | None  # None: a folder no job row owns (left by an earlier database)
    what: str
    files: int
    size: int
    age_days: int


@dataclass
class CleanReport:
    """What retention removed; `expired` counts the job rows marked, with or without a folder to remove."""

    older_than_days: int
    dry_run: bool
    removed: list[RemovedOutput] = field(default_factory=list)
    expired: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(item.size for item in self.removed)

    def summary(self) -> str:
        verb = "将删除" if self.dry_run else "已删除"
        text = (f"{verb} {len(self.removed)} 个打印任务的文件（{human_size(self.size)}），"
                f"保留期 {self.older_than_days} 天")
        if self.dry_run:
            text += "；预览，未删除"
        return text

    def as_json(self) -> dict[str, object]:
        return {"older_than_days": self.older_than_days, "dry_run": self.dry_run, "expired": self.expired,
                "size": self.size, "errors": self.errors,
                "removed": [{"folder": item.folder, "job": item.job_id, "what": item.what, "files": item.files,
                             "size": item.size, "age_days": item.age_days} for item in self.removed]}


def clean_jobs(session: Session, instance_dir: Path, *, older_than_days: int, actor: str, now: datetime,
               dry_run: bool = False, user: User | None = None) -> CleanReport:
    """Remove the output folders of jobs that ended more than `older_than_days` ago and mark their rows expired.

    Each removed folder gets an audit row (`delete`, print_job): it held people's data. Folders go before the
    rows are marked, so a failed removal leaves its row to the next run; the caller commits.
    """
    if older_than_days < 1:
        raise InvalidValue("保留天数应为不小于 1 的整数", field="保留天数", value=older_than_days)
    report = CleanReport(older_than_days=older_than_days, dry_run=dry_run)
    cutoff = now - timedelta(days=older_than_days)
    root = instance_dir / "jobs"
    ended = func.coalesce(Job.finished_at, Job.created_at)
    jobs = session.scalars(select(Job).where(Job.status.in_(("done", "failed")), Job.expired_at.is_(None),
                                             ended < cutoff).order_by(Job.id)).all()
    for job in jobs:
        folder = root / str(job.id)
        files, size = _measure(folder)
        item = RemovedOutput(f"jobs/{job.id}", job.id, describe(job), files, size,
                             (now - (job.finished_at or job.created_at)).days)
        if not dry_run:
            if not _remove(folder, report):
                continue
            job.expired_at = now
            if files:
                audit(session, user, "delete", "print_job", job.id, now=now,
                      detail=f"retention: removed {item.folder} files={files} bytes={size} "
                             f"after {item.age_days} days: {item.what}（{actor}）")
        report.expired += 1
        if files:
            report.removed.append(item)
    _clean_orphans(session, root, cutoff, report, actor=actor, now=now, dry_run=dry_run, user=user)
    if not dry_run:
        session.flush()
        if report.removed or report.errors:
            log.info("job retention: removed %d folders, %d bytes, errors %d", len(report.removed), report.size,
                     len(report.errors))
    return report


def clean_if_due(settings: Settings, database: Database, *, now: datetime | None = None) -> CleanReport | None:
    """Retention with the configured days, at most once a day (a marker file's mtime says when it last ran)."""
    now = now or utcnow()
    marker = settings.instance_dir / "jobs" / CLEAN_MARKER
    try:
        last: datetime | None = datetime.fromtimestamp(marker.stat().st_mtime, UTC).replace(tzinfo=None)
    except FileNotFoundError:
        last = None
    if last is not None and timedelta(0) <= now - last < CLEAN_EVERY:
        return None
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    stamp = now.replace(tzinfo=UTC).timestamp()
    os.utime(marker, (stamp, stamp))
    with database.transaction() as session:
        return clean_jobs(session, settings.instance_dir, older_than_days=settings.job_retention_days,
                          actor=SYSTEM_ACTOR, now=now)


def _clean_quietly(settings: Settings, database: Database, *, now: datetime | None = None) -> None:
    try:
        clean_if_due(settings, database, now=now)
    except Exception:  # retention must never fail a job or the start of the app
        log.exception("job retention failed")


def _clean_orphans(session: Session, root: Path, cutoff: datetime, report: CleanReport, *, actor: str,
                   now: datetime, dry_run: bool, user: User | None) -> None:
    """Numbered folders no job row owns (the database was replaced) go too, once older than the cutoff."""
    if not root.is_dir():
        return
    numbered = {int(path.name): path for path in root.iterdir() if path.is_dir() and path.name.isdigit()}
    if not numbered:
        return
    owned = set(session.scalars(select(Job.id).where(Job.id.in_(list(numbered)))))
    for job_id, folder in sorted(numbered.items()):
        modified = datetime.fromtimestamp(folder.stat().st_mtime, UTC).replace(tzinfo=None)
        if job_id in owned or modified >= cutoff:
            continue
        files, size = _measure(folder)
        item = RemovedOutput(f"jobs/{folder.name}", None, "", files, size, (now - modified).days)
        if not dry_run:
            if not _remove(folder, report):
                continue
            if files:
                audit(session, user, "delete", "print_job", folder.name, now=now,
                      detail=f"retention: removed {item.folder} files={files} bytes={size} (no job row)（{actor}）")
        report.removed.append(item)


def _measure(folder: Path) -> tuple[int, int]:
    if not folder.is_dir():
        return 0, 0
    sizes = [path.stat().st_size for path in folder.rglob("*") if path.is_file()]
    return len(sizes), sum(sizes)


def _remove(folder: Path, report: CleanReport) -> bool:
    try:
        if folder.exists():
            shutil.rmtree(folder)
    except OSError as error:
        report.errors.append(f"无法删除 jobs/{folder.name}：{error.strerror or error}")
        return False
    return True


def human_size(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{(size + 1023) // 1024} KB"
