"""Background jobs (print runs, large register imports): a table with status and progress, run by a local thread
or by RQ on Redis."""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from archiveprint.db import Database, utcnow
from archiveprint.errors import N_, Message, NotFound
from archiveprint.jobs.models import RUN, UNFINISHED, Job

log = logging.getLogger(__name__)
# The print centre's jobs (due: 本月随访包; run: a print run over many villages, runs.py); imports: importjob.KINDS
PRINT_KINDS = ("forms", "labels", "due", RUN)
PROGRESS_FILE = "progress.json"
INTERRUPTED = N_("服务重启，任务中断，请重新提交")
RQ_FAILED = N_("后台工作进程异常结束（任务队列报告失败），任务中断，请重新提交；原因见 rq worker 的日志")
RQ_STOPPED = N_("任务已在任务队列中被停止或取消，请重新提交")
RQ_LOST = N_("任务队列中已没有这个任务（Redis 重启或被清空），请重新提交")
RQ_GRACE = timedelta(minutes=2)  # a job committed a moment ago may not be in Redis yet
# Why the queue could not take a job, in words a clerk can pass on and an administrator can act on (submit_or_fail).
# Each is a whole message, so the job's page shows it in the reader's language; the exception's class is logged only.
QUEUE_UNREACHABLE = N_("无法提交任务：任务队列（Redis）连接不上。请稍后重新提交；"
                       "仍不行请管理员检查 Redis 是否在运行、REDIS_URL 的地址和端口是否正确")
QUEUE_TIMEOUT = N_("无法提交任务：任务队列（Redis）连接超时。请稍后重新提交；仍不行请管理员检查 Redis 和网络")
QUEUE_DENIED = N_("无法提交任务：任务队列（Redis）拒绝连接（密码或权限不对）。请管理员检查 REDIS_URL 中的用户名和密码")
QUEUE_BUSY = N_("无法提交任务：任务队列（Redis）正在启动或已满，暂时不能接收任务。请稍后重新提交；"
                "仍不行请管理员检查 Redis")
QUEUE_FAILED = N_("无法提交任务：任务队列（Redis）出错，未能接收任务。请稍后重新提交；仍不行请管理员查看服务器日志")


def create_job(session: Session, kind: str, params: dict[str, Any], *, actor: str, site_id: int | None = None) -> Job:
    """A queued job, of the session's site (or of `site_id`: a county print run's part, accounts/scope.py)."""
    job = Job(kind=kind, params=params, status="queued", created_by=actor, outputs=[], site_id=site_id)
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound("没有这个任务", field="任务", value=job_id)
    return job


def runnable() -> ColumnElement[bool]:
    """The jobs a runner runs: any but a print run's own row, which its parts run — unless it has no parts yet (a
    county run, whose first step plans them: jobs/county.py plan_run)."""
    parts = aliased(Job)
    return or_(Job.kind != RUN, ~exists().where(parts.run_id == Job.id))


def claim(database: Database, job_id: int) -> bool:
    """Move a queued (or failed, for a retry) job to running; False if another worker has it or it is done (or it
    is a print run's own row, which its parts run)."""
    with database.transaction() as session:
        result = session.execute(
            update(Job).where(Job.id == job_id, Job.status.in_(("queued", "failed")), runnable())
            .values(status="running", started_at=utcnow(), error="", done=0),
            execution_options={"synchronize_session": False})
        return result.rowcount == 1


def report_progress(database: Database, job_id: int, done: int, total: int, *, folder: Path | None = None) -> None:
    """Record how far a job has got, on its row; or, given `folder` (the job's own), in a file there.

    The file is for a job that holds SQLite's only write lock in its own transaction (a register import): an
    UPDATE of its row from another connection would wait for that transaction to end. read_progress reads it.
    """
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / PROGRESS_FILE
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps({"done": done, "total": total}), encoding="utf-8")
        os.replace(temporary, path)
        return
    with database.transaction() as session:
        session.execute(update(Job).where(Job.id == job_id).values(done=done, total=total),
                        execution_options={"synchronize_session": False})


def read_progress(job: Job, folder: Path) -> tuple[int, int]:
    """Done and total of a job: from the progress file in `folder` while it runs and has one, else from its row."""
    if job.status in UNFINISHED:
        try:
            values = json.loads((folder / PROGRESS_FILE).read_text(encoding="utf-8"))
            return int(values["done"]), int(values["total"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    return job.done, job.total


def mark_done(session: Session, job_id: int, *, done: int, total: int) -> bool:
    """Mark a running job done in the caller's transaction, so that it is done exactly if its work commits.

    False if the row is no longer running (a restart marked it interrupted): the caller must then roll back.
    """
    result = session.execute(update(Job).where(Job.id == job_id, Job.status == "running").values(
        status="done", done=done, total=total, finished_at=utcnow()), execution_options={"synchronize_session": False})
    return result.rowcount == 1


def finish(database: Database, job_id: int, *, outputs: list[str], pages: int) -> None:
    with database.transaction() as session:
        session.execute(update(Job).where(Job.id == job_id).values(
            status="done", outputs=outputs, pages=pages, finished_at=utcnow()),
            execution_options={"synchronize_session": False})


def fail(database: Database, job_id: int, message: str) -> None:
    """Mark a job failed with the reason its page shows; a job already done (its work committed) stays done."""
    with database.transaction() as session:
        session.execute(update(Job).where(Job.id == job_id, Job.status != "done").values(
            status="failed", error=message[:2000], finished_at=utcnow()),
            execution_options={"synchronize_session": False})


def recover_interrupted(session: Session, *, now: datetime) -> tuple[list[int], list[int]]:
    """After a restart in local-thread mode: the queued jobs to start again, and the running ones, now failed.

    A queued job never started, and `claim` lets only one runner have it, so starting it again is safe. A running
    job is not re-run: `claim` cannot tell its row from one that another process (a second server, an RQ worker)
    is running right now, and a job that brought the process down (a township's print out of memory) would
    bring it down again at every start. The clerk sees why and submits it again.
    """
    jobs = select(Job.id).where(runnable()).order_by(Job.id)  # a print run's own row is its parts' (runs.py)
    queued = list(session.scalars(jobs.where(Job.status == "queued")))
    running = list(session.scalars(jobs.where(Job.status == "running")))
    if running:
        session.execute(update(Job).where(Job.id.in_(running), Job.status == "running").values(
            status="failed", error=INTERRUPTED, finished_at=now), execution_options={"synchronize_session": False})
    return queued, running


def rq_failure(rq_status: str | None, created_at: datetime, *, now: datetime) -> str | None:
    """Why an unfinished job has failed, given its RQ status (None: RQ does not have it); None if it has not.

    run_job records every error it can catch itself; what RQ alone knows is a work horse killed (out of memory,
    SIGKILL), a worker that died (RQ moves the job to failed), a job stopped or cancelled, or Redis emptied.
    """
    if rq_status is None:
        return RQ_LOST if created_at < now - RQ_GRACE else None
    if rq_status == "failed":
        return RQ_FAILED
    if rq_status in ("stopped", "canceled"):
        return RQ_STOPPED
    return None


def submit_or_fail(database: Database, dispatcher: Dispatcher, job_id: int) -> bool:
    """Hand a committed job to the dispatcher; when the queue cannot take it (Redis down), fail it saying why in
    words (its page shows that instead of waiting forever) and return False. The exception's class goes to the log
    only."""
    try:
        dispatcher.submit(job_id)
    except Exception as error:
        log.exception("could not submit job %s to the queue (%s)", job_id, type(error).__name__)
        fail(database, job_id, not_submitted(error))
        return False
    return True


def not_submitted(error: BaseException) -> Message:
    """Why the queue could not take a job, from the kind of error submitting it raised (redis-py's, or the socket's
    beneath it): refused or unreachable, a timeout, a wrong password, a Redis loading or full; else Redis failed."""
    try:
        from redis import exceptions as redis_errors  # lazy: rq and redis (~0.1 s) only when REDIS_URL is set
    except ImportError:  # pragma: no cover - redis is installed with rq
        return QUEUE_FAILED
    def kinds(*names: str) -> tuple[type[BaseException], ...]:  # those this redis-py has (pyproject: redis>=5.0)
        return tuple(getattr(redis_errors, name) for name in names if hasattr(redis_errors, name))

    if isinstance(error, kinds("AuthenticationError", "AuthorizationError", "NoPermissionError",
                               "AuthenticationWrongNumberOfArgsError")):
        return QUEUE_DENIED
    if isinstance(error, kinds("BusyLoadingError", "OutOfMemoryError", "ReadOnlyError", "MaxClientsReachedError")):
        return QUEUE_BUSY
    if isinstance(error, redis_errors.TimeoutError | TimeoutError):
        return QUEUE_TIMEOUT
    if isinstance(error, redis_errors.ConnectionError | ConnectionError):
        return QUEUE_UNREACHABLE
    if isinstance(error, redis_errors.ResponseError) and str(error).startswith(("NOAUTH", "WRONGPASS", "NOPERM")):
        return QUEUE_DENIED
    return QUEUE_FAILED


def fail_unfinished(session: Session, failures: dict[int, str], *, now: datetime) -> list[int]:
    """Mark jobs failed with their messages, unless they finished meanwhile; the ids actually changed."""
    changed = []
    for job_id, message in sorted(failures.items()):
        result = session.execute(update(Job).where(Job.id == job_id, Job.status.in_(UNFINISHED)).values(
            status="failed", error=message[:2000], finished_at=now), execution_options={"synchronize_session": False})
        if result.rowcount == 1:
            changed.append(job_id)
    return changed


def list_jobs(session: Session, *, limit: int = 30, created_by: str | None = None,
              kinds: Iterable[str] | None = None) -> list[Job]:
    """The newest jobs first; `created_by` keeps one user's own, `kinds` those of these kinds. A print run's parts
    are listed on its own page, not here."""
    stmt = select(Job).where(Job.run_id.is_(None)).order_by(Job.id.desc()).limit(limit)
    if created_by is not None:
        stmt = stmt.where(Job.created_by == created_by)
    if kinds is not None:
        stmt = stmt.where(Job.kind.in_(list(kinds)))
    return list(session.scalars(stmt))


@dataclass
class Recovery:
    """What the start of the app did with the jobs the previous process left unfinished."""

    resubmitted: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


class Dispatcher:
    """Starts jobs: on RQ when a Redis URL is configured, else on one local background thread.

    With `database`, an RQ job's id is kept on its row, so `check` can ask RQ what became of it.
    """

    def __init__(self, run: Callable[[int], None], *, redis_url: str | None = None,
                 database_url: str | None = None, queue: str = "archiveprint",
                 database: Database | None = None) -> None:
        self.run = run
        self.redis_url = redis_url
        self.database_url = database_url
        self.queue = queue
        self.database = database
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def submit(self, job_id: int) -> None:
        if self.redis_url:
            from rq import Queue  # lazy: rq and redis (~0.1 s) only when REDIS_URL is set

            rq_id = f"archiveprint-{job_id}-{secrets.token_hex(8)}"
            if self.database is not None:  # first, so that a failed enqueue leaves nothing for check to find
                with self.database.transaction() as session:
                    session.execute(update(Job).where(Job.id == job_id).values(rq_id=rq_id),
                                    execution_options={"synchronize_session": False})
            with self._redis() as connection:
                # The description is what `rq worker` logs for the job: by default the call with its arguments,
                # which would put the database URL (and its password) in the log.
                Queue(self.queue, connection=connection).enqueue(
                    "archiveprint.jobs.runners.run_job", job_id, self.database_url, job_id=rq_id, job_timeout=6 * 3600,
                    description=f"archiveprint job {job_id}")
            return
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="archiveprint-job")
        self._pool.submit(self.run, job_id)

    def recover(self, database: Database, *, now: datetime) -> Recovery:
        """On app start. Local thread: start the queued jobs again and fail the interrupted ones (see
        recover_interrupted). RQ: the jobs are RQ's; only those RQ reports failed or no longer has are failed."""
        if self.redis_url:
            return Recovery(failed=self.check(database, now=now))
        with database.transaction() as session:
            queued, interrupted = recover_interrupted(session, now=now)
        for job_id in queued:
            self.submit(job_id)
        if queued or interrupted:
            log.warning("jobs after restart: resubmitted %s, interrupted %s", queued, interrupted)
        return Recovery(resubmitted=queued, failed=interrupted)

    def check(self, database: Database, job_ids: Iterable[int] | None = None, *, now: datetime) -> list[int]:
        """RQ only: fail the unfinished jobs (all, or those of `job_ids`) that RQ reports failed, stopped or
        cancelled, or no longer has; returns their ids. A job page calls it, so no job waits forever."""
        if not self.redis_url:
            return []
        with database.reader() as session:
            stmt = select(Job.id, Job.rq_id, Job.status, Job.created_at).where(
                Job.status.in_(UNFINISHED), Job.rq_id.is_not(None))
            if job_ids is not None:
                stmt = stmt.where(Job.id.in_(list(job_ids)))
            rows = session.execute(stmt).all()
        if not rows:
            return []
        from rq import Queue  # lazy: rq and redis (~0.1 s) only when REDIS_URL is set
        from rq.job import Job as RQJob  # lazy: rq and redis (~0.1 s) only when REDIS_URL is set

        with self._redis() as connection:
            if any(row.status == "running" for row in rows):
                # What RQ's workers do now and then: a job whose worker died (its heartbeat expired) goes to
                # failed. Done here too, in case no worker is left alive to do it.
                Queue(self.queue, connection=connection).started_job_registry.cleanup()
            found = RQJob.fetch_many([str(row.rq_id) for row in rows], connection=connection)
            statuses = [None if job is None else str(getattr(status := job.get_status(refresh=False), "value", status))
                        for job in found]
        failures = {row.id: message for row, status in zip(rows, statuses, strict=True)
                    if (message := rq_failure(status, row.created_at, now=now))}
        if not failures:
            return []
        with database.transaction() as session:
            changed = fail_unfinished(session, failures, now=now)
        log.warning("jobs failed in RQ: %s", changed)
        return changed

    def _redis(self):  # type: ignore[no-untyped-def]
        from redis import Redis  # lazy: rq and redis (~0.1 s) only when REDIS_URL is set

        # A job page asks on every poll: an unreachable Redis must fail fast, not hang the page.
        return Redis.from_url(str(self.redis_url), socket_connect_timeout=5, socket_timeout=30)

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
