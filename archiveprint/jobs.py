"""Job entry points (local thread or RQ worker): each opens the database and makes one call into a service."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

from archiveprint import jobqueue
from archiveprint.config import Settings
from archiveprint.db import Database
from archiveprint.errors import ArchiveprintError

log = logging.getLogger(__name__)


def job_dir(settings: Settings, job_id: int) -> Path:
    return settings.instance_dir / "jobs" / str(job_id)


def run_job(job_id: int, database_url: str | None = None, *, settings: Settings | None = None,
            database: Database | None = None) -> None:
    """Run one job to the end. A job already done is not run again, so a re-delivered job never duplicates."""
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
        jobqueue.finish(database, job_id, outputs=outputs, pages=pages)
    finally:
        if owns_db:
            database.dispose()


def _run(kind: str, params: dict, actor: str, job_id: int, settings: Settings,  # type: ignore[type-arg]
         database: Database) -> tuple[list[str], int]:
    def progress(done: int, total: int) -> None:
        jobqueue.report_progress(database, job_id, done, total)

    if kind == "forms":
        from archiveprint.forms.services import PrintOptions, Scope, audit_print, print_forms

        target = job_dir(settings, job_id) / params.get("filename", "forms.pdf")
        scope = Scope(**params.get("scope", {}))
        options = PrintOptions(**params.get("options", {}))
        with database.reader() as session:
            result = print_forms(session, params["set"], scope, target, options=options,
                                 today=date.fromisoformat(params.get("today") or date.today().isoformat()),
                                 progress=progress)
        with database.transaction() as session:
            audit_print(session, result, user=_user(session, params.get("user_id")), actor=actor)
        return [str(p) for p in result.outputs], result.pages
    if kind == "labels":
        from archiveprint.labels.services import LabelOptions, LabelScope, audit_labels, print_labels

        target = job_dir(settings, job_id) / params.get("filename", "labels.pdf")
        scope = LabelScope.from_json(params.get("scope", {}))
        options = LabelOptions.from_json(params.get("options", {}))
        with database.reader() as session:
            labels = print_labels(session, params["kind"], params.get("stock", ""), scope, target, options=options,
                                  instance_dir=settings.instance_dir, progress=progress)
        with database.transaction() as session:
            audit_labels(session, labels, user=_user(session, params.get("user_id")), actor=actor)
        return [str(target)], labels.pages
    raise ArchiveprintError(f"未知任务类型：{kind}")


def _user(session, user_id):  # type: ignore[no-untyped-def]
    if user_id is None:
        return None
    from archiveprint.accounts.models import User

    return session.get(User, user_id)
