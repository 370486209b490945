"""Background jobs (print runs): a table with status and progress, run by a local thread or by RQ on Redis."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from archiveprint.db import Base, Database, utcnow
from archiveprint.errors import NotFound

STATUSES = ("queued", "running", "done", "failed")


class Job(Base):
    """One background run. Its outputs live in the instance folder under jobs/<id>/."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # forms / labels
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(8), default="queued", index=True)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    outputs: Mapped[list[str]] = mapped_column(JSON, default=list)
    error: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)

    @property
    def percent(self) -> int:
        if self.status == "done":
            return 100
        return int(100 * self.done / self.total) if self.total else 0


def create_job(session: Session, kind: str, params: dict[str, Any], *, actor: str) -> Job:
    job = Job(kind=kind, params=params, status="queued", created_by=actor, outputs=[])
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound("没有这个任务", field="任务", value=job_id)
    return job


def claim(database: Database, job_id: int) -> bool:
    """Move a queued (or failed, for a retry) job to running; False if another worker has it or it is done."""
    with database.transaction() as session:
        result = session.execute(
            update(Job).where(Job.id == job_id, Job.status.in_(("queued", "failed")))
            .values(status="running", started_at=utcnow(), error="", done=0),
            execution_options={"synchronize_session": False})
        return result.rowcount == 1


def report_progress(database: Database, job_id: int, done: int, total: int) -> None:
    with database.transaction() as session:
        session.execute(update(Job).where(Job.id == job_id).values(done=done, total=total),
                        execution_options={"synchronize_session": False})


def finish(database: Database, job_id: int, *, outputs: list[str], pages: int) -> None:
    with database.transaction() as session:
        session.execute(update(Job).where(Job.id == job_id).values(
            status="done", outputs=outputs, pages=pages, finished_at=utcnow()),
            execution_options={"synchronize_session": False})


def fail(database: Database, job_id: int, message: str) -> None:
    with database.transaction() as session:
        session.execute(update(Job).where(Job.id == job_id).values(
            status="failed", error=message[:2000], finished_at=utcnow()),
            execution_options={"synchronize_session": False})


def list_jobs(session: Session, *, limit: int = 30, created_by: str | None = None) -> list[Job]:
    """The newest jobs first; `created_by` keeps one user's own."""
    stmt = select(Job).order_by(Job.id.desc()).limit(limit)
    if created_by is not None:
        stmt = stmt.where(Job.created_by == created_by)
    return list(session.scalars(stmt))


class Dispatcher:
    """Starts jobs: on RQ when a Redis URL is configured, else on one local background thread."""

    def __init__(self, run: Callable[[int], None], *, redis_url: str | None = None,
                 database_url: str | None = None, queue: str = "archiveprint") -> None:
        self.run = run
        self.redis_url = redis_url
        self.database_url = database_url
        self.queue = queue
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def submit(self, job_id: int) -> None:
        if self.redis_url:
            from redis import Redis
            from rq import Queue

            Queue(self.queue, connection=Redis.from_url(self.redis_url)).enqueue(
                "archiveprint.jobs.run_job", job_id, self.database_url, job_timeout=6 * 3600)
            return
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="archiveprint-job")
        self._pool.submit(self.run, job_id)

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
