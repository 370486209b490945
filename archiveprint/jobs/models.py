"""The jobs table: one row per background run, with its status, progress and outputs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from archiveprint.db import Base, site_column, utcnow

STATUSES = ("queued", "running", "done", "failed", "partial")  # partial: a print run some of whose parts failed
UNFINISHED = ("queued", "running")
ENDED = ("done", "failed", "partial")
RUN = "run"  # a print run's own row (#14): its parts are print jobs whose run_id names it (jobs/runs.py)
SITES = "sites"  # a county run's params: the codes of the sites it prints for (jobs/county.py); its row is no site's


def installation_run(job: Job) -> bool:
    """A county print run's own row: the installation's (site_id NULL), its parts each their own site's."""
    return job.kind == RUN and bool((job.params or {}).get(SITES))


def percent(status: str, done: int, total: int) -> int:
    """How far a job (or a print run, or one of its parts) has got: 100 once it has ended with output."""
    if status in ("done", "partial"):
        return 100
    return int(100 * done / total) if total else 0


class Job(Base):
    """One background run. Its outputs live in the instance folder under jobs/<id>/."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int | None] = site_column()
    kind: Mapped[str] = mapped_column(String(16))  # forms / labels / due / import_check / import_apply / intake / run
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
    rq_id: Mapped[str | None] = mapped_column(String(64))  # the RQ job it was enqueued as (REDIS_URL set)
    expired_at: Mapped[datetime | None] = mapped_column(DateTime)  # when retention removed jobs/<id>/
    run_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), index=True)  # the print run it is a part of

    @property
    def percent(self) -> int:
        return percent(self.status, self.done, self.total)

    @property
    def kept_days(self) -> int | None:
        """Whole days the output was kept before retention removed it; None while it is still there."""
        if self.expired_at is None:
            return None
        return max(0, (self.expired_at - (self.finished_at or self.created_at)).days)
