"""The web import's check and apply: inside the request for a small file, as a background job for a large one."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from archiveprint.accounts.models import User
from archiveprint.accounts.services import audit
from archiveprint.config import ImportLimits
from archiveprint.db import Database
from archiveprint.errors import N_, ArchiveprintError, Conflict, NotFound
from archiveprint.jobs import queue as jobqueue
from archiveprint.jobs.models import UNFINISHED, Job
from archiveprint.register import uploads
from archiveprint.register.filelimits import FileTooLarge
from archiveprint.register.findings import kept_message
from archiveprint.register.importer import ImportReport, import_file, write_error_report
from archiveprint.register.sources import inspect

CHECK = "import_check"  # the dry run after the upload
APPLY = "import_apply"  # 确认导入
KINDS = (CHECK, APPLY)
REPORT_ROWS_SHOWN = 1000  # the page stays usable; the full list of problems is in the .xlsx error report
ALREADY_APPLIED = N_("这个文件已经导入或正在导入")


# --- how large a file is -----------------------------------------------------------------------------------------

def estimate_rows(path: Path, limits: ImportLimits | None = None) -> int:
    """About how many data rows a register file holds, without parsing it: the lines of a .csv, or the rows of
    the largest sheet of an .xlsx, less the header. It decides whether the file is imported in the background and
    is the total its progress bar starts from. A file over the limits is refused here (FileTooLarge), at once;
    0 when it cannot tell otherwise: the importer then says what is wrong."""
    try:
        extent = inspect(path, name=path.name, limits=limits or ImportLimits())
    except FileTooLarge:
        raise
    except (ArchiveprintError, OSError):
        return 0
    return max(0, extent.rows - 1)


# --- check and apply (the request's and the job's) ------------------------------------------------------------

def check(database: Database, stored: uploads.PendingUpload, path: Path, *, actor: str, today: date,
          limits: ImportLimits | None = None, progress: Callable[[int], None] | None = None) -> ImportReport:
    """Dry-run an upload on a scratch session (Database.scratch): a dry run writes nothing, and on SQLite it never
    holds the write lock, so logins and other clerks' changes go on while a large file is checked. The caller
    records it (record_check) in a short write transaction of its own."""
    with database.scratch() as session:
        return _import(session, stored, path, actor=actor, dry_run=True, today=today, limits=limits,
                       progress=progress)


def record_check(session: Session, stored: uploads.PendingUpload, report: ImportReport, *,
                 user: User | None) -> None:
    """The audit row of a check; the caller commits."""
    detail = (f"already imported as run {report.already.run}: not read" if report.already is not None
              else f"dry_run rows={report.rows} problems={len(report.problems)}")
    audit(session, user, "import", "import", stored.token, detail=detail)


def apply(session: Session, stored: uploads.PendingUpload, path: Path, *, actor: str, user: User | None,
          today: date, limits: ImportLimits | None = None,
          progress: Callable[[int], None] | None = None) -> ImportReport:
    """Import an upload for real, all rows or none, with its audit row when something was written; the caller
    commits. A report with problems or nothing to write leaves the transaction rolled back."""
    report = _import(session, stored, path, actor=actor, dry_run=False, today=today, limits=limits,
                     progress=progress)
    if report.applied:
        audit(session, user, "import", "import", stored.token,
              detail=f"applied rows={report.rows} added={report.added} changed={report.changed}")
    else:
        session.rollback()
    if report.ok:  # written, or nothing to write: either way this file is done with
        stored.state = "applied"
    return report


def _import(session: Session, stored: uploads.PendingUpload, path: Path, *, actor: str, dry_run: bool,
            today: date, limits: ImportLimits | None, progress: Callable[[int], None] | None) -> ImportReport:
    return import_file(session, path, actor=actor, dry_run=dry_run, add_villages=stored.add_villages, today=today,
                       filename=stored.filename, force=stored.force, progress=progress, limits=limits)


def keep_report(root: Path, stored: uploads.PendingUpload, report: ImportReport, *,
                stage: int | None = None) -> None:
    """Save the report as plain values for the report page, and the .xlsx error report when there are problems.

    With `stage` (a job's id) the upload's new state waits beside meta.json until the job's transaction commits.
    """
    if report.problems:
        write_error_report(report, stored.error_report(root))
    else:
        stored.error_report(root).unlink(missing_ok=True)
    stored.report = report_values(stored, report)
    if stage is None:
        uploads.store(root, stored)
    else:
        uploads.stage(root, stored, stage)


def tidy(root: Path, stored: uploads.PendingUpload) -> None:
    """Keep the file only while it can still be applied: not once imported, nor when recognised as imported."""
    if stored.state == "applied" or (stored.report or {}).get("already"):
        uploads.discard_source(root, stored)
    else:  # the register changed since the check (another clerk): the new problems are shown, the file kept
        uploads.release(root, stored)


def report_values(stored: uploads.PendingUpload, report: ImportReport) -> dict[str, Any]:
    return {
        "filename": report.filename or stored.filename,
        "rows": report.rows, "accepted": report.accepted, "refused": report.refused, "added": report.added,
        "changed": report.changed, "unchanged": report.unchanged,
        "new_villages": [f"{code} {name}" for code, name in report.new_villages],
        "applied": report.applied, "dry_run": report.dry_run, "ok": report.ok,
        "already": None if report.already is None else {"run": report.already.run, "at": report.already.shown_at},
        "to_write": report.ok and bool(report.added or report.changed or report.new_villages),
        "problem_count": len(report.problems), "change_count": len(report.changes),
        # Grouped by cause (#10.6/7/8): the page lists each cause once, its rows on demand.
        "problem_groups": [found.as_values(REPORT_ROWS_SHOWN) for found in report.problem_groups()],
        "normalised_count": len(report.normalised),
        "normalised_groups": [found.as_values(REPORT_ROWS_SHOWN) for found in report.normalised_groups()],
        "flagged_count": len(report.flagged),
        "flagged_groups": [found.as_values(REPORT_ROWS_SHOWN) for found in report.flagged_groups()],
        "missing_villages": [{"name": v.name, "code": v.code, "rows": v.rows, "note": v.note,
                              "note_message": kept_message(v.note)} for v in report.missing_villages],
        "only_villages": bool(report.missing_villages) and _only_villages(report),
        "problems": [{"row": p.row, "column": p.column, "value": p.value, "reason": p.reason}
                     for p in report.problems[:REPORT_ROWS_SHOWN]],
        "changes": [{"archive_code": c.archive_code, "name": c.name,
                     "fields": [[str(key), _plain(old), _plain(new)] for key, (old, new) in c.fields.items()]}
                    for c in report.changes[:REPORT_ROWS_SHOWN]],
    }


def _only_villages(report: ImportReport) -> bool:
    """Every problem is an unregistered village: the file is fine once they are registered."""
    return all("未登记" in p.reason or "尚未登记" in p.reason for p in report.problems)


def _plain(value: object) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, list | tuple | set):
        return "、".join(map(str, value))
    return str(value)


# --- as a job -------------------------------------------------------------------------------------------------

def latest_job(session: Session, token: str) -> Job | None:
    """The upload's last check or apply job (None: it was checked inside the request)."""
    return session.scalars(select(Job).where(Job.kind.in_(KINDS), Job.params["token"].as_string() == token)
                           .order_by(Job.id.desc()).limit(1)).first()


def unfinished_jobs(session: Session, username: str) -> list[Job]:
    """One user's imports still queued or running, for the upload page."""
    return list(session.scalars(select(Job).where(Job.kind.in_(KINDS), Job.created_by == username,
                                                  Job.status.in_(UNFINISHED)).order_by(Job.id)))


def start_job(session: Session, root: Path, token: str, kind: str, *, actor: str, user_id: int,
              today: date) -> tuple[Job, bool]:
    """Record a check or apply job for an upload, or return the one queued or running for it (and False).

    Two clicks at once are serialised by the database: on PostgreSQL by an advisory lock keyed by the upload,
    held to the end of the transaction; on SQLite by the caller's writer transaction (BEGIN IMMEDIATE holds the
    only write lock). So the second sees the first's job once it is committed. The caller commits, then submits
    the job if it is new.
    """
    _lock(session, token)
    running = session.scalars(select(Job).where(Job.kind.in_(KINDS), Job.params["token"].as_string() == token,
                                                Job.status.in_(UNFINISHED))
                              .order_by(Job.id.desc()).limit(1)).first()
    if running is not None:
        return running, False
    # Read after the query: a job seen done has staged the upload's state before its commit (see run_job).
    stored = settle(root, token, latest_job(session, token))
    if kind == APPLY:
        if stored.state == "applied":
            raise Conflict(ALREADY_APPLIED, field="上传", value=stored.filename)
        if stored.report is None:
            raise Conflict("这个文件还没有检查完，请等检查结果出来再确认导入", field="上传", value=stored.filename)
    job = jobqueue.create_job(session, kind, {"token": token, "filename": stored.filename, "user_id": user_id,
                                              "today": today.isoformat(), "rows": stored.rows}, actor=actor)
    job.total = stored.rows  # the bar starts from the estimate; the importer's row count replaces it
    session.flush()
    return job, True


def _lock(session: Session, token: str) -> None:
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(f"archiveprint-import:{token}".encode()).digest()[:8], "big",
                             signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def settle(root: Path, token: str, job: Job | None) -> uploads.PendingUpload:
    """The upload as its last job left it. A job marked done staged the upload's new state before its commit;
    if its process stopped before putting that state in place, it is put in place (and the file tidied) here."""
    if job is not None and job.status == "done" and uploads.promote(root, token, job.id):
        tidy(root, uploads.load(root, token))
    return uploads.load(root, token)


def run_job(database: Database, root: Path, job_id: int, kind: str, params: dict[str, Any], *, actor: str,
            progress: Callable[[int], None], limits: ImportLimits | None = None) -> None:
    """Run an import_check or import_apply job: the same check or apply as the request runs for a small file.

    The job is marked done in the import's own transaction (jobqueue.mark_done), so a job that failed — a bad
    file, a database error, the process stopped — wrote nothing, and one that wrote is done. The upload's new
    state is staged before that commit and put in place after it (settle). A check reads the file on a scratch
    session first and takes the writer only to record itself.
    """
    stored = uploads.load(root, str(params["token"]))
    today = date.fromisoformat(str(params["today"]))
    applying = kind == APPLY
    if applying:
        if stored.state == "applied":
            raise Conflict(ALREADY_APPLIED, field="上传", value=stored.filename)
        path = uploads.claim(root, stored, resume=True)  # start_job let only this job apply the upload
    else:
        path = stored.source(root)
        if not path.is_file():
            raise NotFound("上传的文件已不在（未处理的上传一天后删除），请重新上传", field="上传",
                           value=stored.filename)
    session: Session | None = None
    try:
        checked = None if applying else check(database, stored, path, actor=actor, today=today, limits=limits,
                                              progress=progress)
        session = database.writer()
        user_id = params.get("user_id")
        user = session.get(User, user_id) if user_id is not None else None
        if checked is None:
            report = apply(session, stored, path, actor=actor, user=user, today=today, limits=limits,
                           progress=progress)
        else:
            report = checked
            record_check(session, stored, report, user=user)
        if not jobqueue.mark_done(session, job_id, done=report.rows, total=report.rows):
            raise Conflict("任务已被标记为中断（服务重启），本次导入没有写入，请重新提交", field="任务", value=job_id)
        keep_report(root, stored, report, stage=job_id)
        session.commit()
    except BaseException:
        if session is not None:
            session.rollback()
        uploads.unstage(root, stored.token, job_id)
        if applying:
            uploads.release(root, stored)
        else:
            uploads.discard_source(root, stored)  # an unreadable file is not kept (it may hold people's data)
        raise
    finally:
        if session is not None:
            session.close()
    if uploads.promote(root, stored.token, job_id):
        tidy(root, uploads.load(root, stored.token))
