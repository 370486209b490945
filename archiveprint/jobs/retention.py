"""Retention: a finished job's outputs are removed after the configured days (and orphaned folders with them),
at most once a day, each removal an audit row."""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archiveprint.accounts.models import User
from archiveprint.accounts.services import audit
from archiveprint.accounts.sessions import prune_sign_in_records
from archiveprint.config import Settings
from archiveprint.db import Database, utcnow
from archiveprint.errors import InvalidValue
from archiveprint.jobs.models import Job
from archiveprint.register import importjob

log = logging.getLogger(__name__)
CLEAN_MARKER = ".last-clean"  # in <instance>/jobs/: its mtime is when retention last ran
CLEAN_EVERY = timedelta(days=1)
SYSTEM_ACTOR = "system"


def describe(job: Job) -> str:
    """What a job printed and for how many, for audit rows (no names: those are in the print rows)."""
    params = job.params or {}
    if job.kind == "labels":
        return f"{params.get('title') or params.get('kind', '')} labels={params.get('labels', '')}"
    if job.kind in importjob.KINDS:
        return f"{job.kind} rows={params.get('rows', '')}"
    if job.kind == "intake":
        return f"intake batch={params.get('batch_id', '')} pages={params.get('pages', '')}"
    return f"{params.get('set_name') or params.get('set', '')} residents={params.get('residents', '')}"


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
    pruned_sessions: int = 0  # sign-in records past keeping, removed by the daily run (not by `jobs clean`)
    pruned_attempts: int = 0

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

    def text_lines(self) -> list[str]:
        """Each folder removed, then the summary (the errors are listed apart)."""
        return [*(f"  {item.folder}  {f'#{item.job_id} {item.what}' if item.job_id is not None else '（无任务记录）'}  "
                  f"{item.files} 个文件 {human_size(item.size)}，已过 {item.age_days} 天" for item in self.removed),
                self.summary()]


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
                audit(session, user, "delete", "print_job", job.id, now=now, site_id=job.site_id,
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
        report = clean_jobs(session, settings.instance_dir, older_than_days=settings.job_retention_days,
                            actor=SYSTEM_ACTOR, now=now)
        report.pruned_sessions, report.pruned_attempts = prune_sign_in_records(session, now=now)
        return report


def clean_quietly(settings: Settings, database: Database, *, now: datetime | None = None) -> None:
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
