"""A transfer between sites (机构撤并) as a background job: the confirmed preview is recorded as one job (a second
click finds it), which carries the transfer out and writes its documents in one transaction, done exactly if they
commit; its page shows the progress, then the transfer's documents."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from archiveprint.accounts.models import User
from archiveprint.accounts.scope import apply_scope, current_scope, site_scope
from archiveprint.config import make_private
from archiveprint.db import Database
from archiveprint.errors import Conflict, NotFound
from archiveprint.jobs.models import UNFINISHED, Job, percent
from archiveprint.jobs.queue import create_job, mark_done
from archiveprint.locations.queries import StatusProvider
from archiveprint.sites.documents import transfer_folder, write_documents
from archiveprint.sites.models import Site
from archiveprint.sites.services import find_site
from archiveprint.sites.transfer import transfer_villages

TRANSFER = "transfer"
KEPT = ("queued", "running", "done")  # a job of the same preview in one of these is the one a second click gets


def start_transfer(session: Session, *, source: str, target: str, villages: Sequence[str], supervisor: str,
                   fingerprint: str, user_id: int | None, actor: str) -> tuple[int, bool]:
    """Record the job of a confirmed preview (its check code), or find the one already recorded for it: two clicks
    on 确认移交, or two tabs, give one job — the sending site's row is locked while looking (PostgreSQL). The job
    belongs to the receiving site (whose history the transfer is). Returns the job's id and whether it is new."""
    sending, receiving = find_site(session, source), find_site(session, target)
    session.execute(select(Site.id).where(Site.id == sending.id).with_for_update())
    jobs = Job.__table__  # read from the table: a county administrator's job, whatever site they are in
    for job_id, params in session.execute(select(jobs.c.id, jobs.c.params).where(
            jobs.c.kind == TRANSFER, jobs.c.status.in_(KEPT)).order_by(jobs.c.id.desc())):
        if (params.get("source"), params.get("target"), params.get("fingerprint")) == (source, target, fingerprint):
            return job_id, False
    scope = current_scope(session)
    apply_scope(session, site_scope(session, receiving.id))  # a county role may be in no site, or in another one
    try:
        job = create_job(session, TRANSFER, {"source": source, "target": target, "villages": list(villages),
                                             "supervisor": supervisor, "fingerprint": fingerprint,
                                             "user_id": user_id}, actor=actor)
    finally:
        apply_scope(session, scope)
    return job.id, True


def run_transfer(database: Database, job_id: int, params: dict[str, Any], *, actor: str, instance_dir: Path,
                 timezone: str, providers: Sequence[StatusProvider], now: Callable[[], datetime],
                 progress: Callable[[int, int], None]) -> tuple[list[str], int]:
    """Carry out the transfer the clerk confirmed (refused when anything changed since the preview) and write its
    documents under <instance>/transfers/<event id>/, in one transaction that also marks the job done and keeps the
    event's id in its params. Returns the documents written."""
    with database.transaction() as session:
        user = session.get(User, params["user_id"]) if params.get("user_id") is not None else None
        progress(0, 1)
        done = transfer_villages(session, params["source"], params["target"], villages=params.get("villages", []),
                                 supervisor=params.get("supervisor", ""), expected=params["fingerprint"],
                                 providers=providers, actor=actor, now=now())
        assert done.event_id is not None
        total = 1 + len(done.documents())
        progress(1, total)
        folder = transfer_folder(instance_dir, done.event_id)
        written = write_documents(session, done, folder, user=user, actor=actor, now=now(), timezone=timezone,
                                  instance_dir=instance_dir, progress=lambda count: progress(1 + count, total))
        make_private(folder)
        session.execute(update(Job).where(Job.id == job_id).values(params={**params, "event_id": done.event_id}),
                        execution_options={"synchronize_session": False})
        if not mark_done(session, job_id, done=total, total=total):
            raise Conflict("移交任务已被标记为中断，移交未执行，请重新预览后再确认", field="任务", value=job_id)
    return [str(path) for path in written.values()], 0


@dataclass(frozen=True)
class TransferJob:
    """A transfer's job as its page shows it: status, progress, why it failed, the transfer it carried out."""

    id: int
    status: str
    done: int
    total: int
    error: str
    created_at: datetime
    event_id: int | None  # the transfer's `site.transferred` event, once carried out

    @property
    def finished(self) -> bool:
        return self.status not in UNFINISHED

    @property
    def percent(self) -> int:
        return percent(self.status, self.done, self.total)


def find_transfer_job(session: Session, job_id: int) -> TransferJob:
    """A transfer's job, read from the table (a county administrator's, whatever site they are in)."""
    jobs = Job.__table__
    row = session.execute(select(jobs.c.id, jobs.c.status, jobs.c.done, jobs.c.total, jobs.c.error,
                                 jobs.c.created_at, jobs.c.params)
                          .where(jobs.c.id == job_id, jobs.c.kind == TRANSFER)).first()
    if row is None:
        raise NotFound("没有这个移交任务", field="任务", value=job_id)
    event_id = (row.params or {}).get("event_id")
    return TransferJob(row.id, row.status, row.done, row.total, row.error, row.created_at,
                       int(event_id) if event_id is not None else None)
