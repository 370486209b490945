"""County print runs (#14): one request printed for many villages as one print job per village (a part), spread
over the RQ workers. The run's status and progress are its parts'; its download is a zip of their files, in the
villages' order, and each part's own files stay downloadable."""

from __future__ import annotations

import logging
import os
import shutil
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from archiveprint.db import Database, utcnow
from archiveprint.errors import N_, Conflict, InvalidValue, NotFound
from archiveprint.jobs import queue as jobqueue
from archiveprint.jobs.models import ENDED, RUN, UNFINISHED, Job, percent
from archiveprint.jobs.names import clean_name

log = logging.getLogger(__name__)
UNFINISHED_NOTE = "未完成.txt"  # in a partial run's zip: which villages are missing and why
SITE_ZIPS = "sites"  # in a county run's folder: each site's zip, once downloaded (site_zip)
PARTS_FAILED = N_("{failed} 个村未完成（共 {parts} 个）：{villages}")


@dataclass(frozen=True)
class Part:
    """Whose records one part prints: a village (of a site, once an installation holds several) and what the plan
    expects of it. Its files are named by it, in the run's zip and as downloads of their own."""

    village: str  # the village's code
    name: str  # the village's name
    site: str = ""  # the site's label; "" with one site (every part of a run then sits at the zip's top level)
    residents: int = 0
    pages: int = 0
    site_code: str = ""  # a county run's part (jobs/county.py): the code of the site it prints in

    @property
    def label(self) -> str:
        """The part in words: 东村, or 柏棠镇卫生院 东村."""
        return f"{self.site} {self.name}" if self.site else self.name

    @property
    def entry_stem(self) -> str:
        """Its files' name in the zip, without suffix: 201-东村 (in a folder per site, once there are sites)."""
        stem = clean_name(f"{self.village}-{self.name}")
        return f"{clean_name(self.site)}/{stem}" if self.site else stem

    def as_json(self) -> dict[str, object]:
        return {"village": self.village, "name": self.name, "site": self.site, "residents": self.residents,
                "pages": self.pages, **({"site_code": self.site_code} if self.site_code else {})}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Part:
        return cls(village=str(data.get("village", "")), name=str(data.get("name", "")),
                   site=str(data.get("site", "")), residents=int(data.get("residents") or 0),
                   pages=int(data.get("pages") or 0), site_code=str(data.get("site_code", "")))


@dataclass
class PartState:
    """One part as the run's page and `archiveprint jobs show` list it."""

    id: int
    part: Part
    status: str
    done: int
    total: int
    pages: int
    error: str
    outputs: list[str]

    @property
    def percent(self) -> int:
        return percent(self.status, self.done, self.total)

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "village": self.part.village, "name": self.part.name, "site": self.part.site,
                "residents": self.part.residents, "status": self.status, "done": self.done, "total": self.total,
                "percent": self.percent, "pages": self.pages, "error": self.error, "outputs": self.outputs}


@dataclass
class RunState:
    """A run and its parts, read in one go: status, progress over all parts, and each part's."""

    run: Job
    parts: list[PartState] = field(default_factory=list)

    @property
    def status(self) -> str:
        return run_status([part.status for part in self.parts])

    @property
    def done(self) -> int:
        return sum(part.total if part.status == "done" else part.done for part in self.parts)

    @property
    def total(self) -> int:
        return sum(part.total or part.part.residents for part in self.parts)

    @property
    def percent(self) -> int:
        return percent(self.status, self.done, self.total)

    @property
    def pages(self) -> int:
        return sum(part.pages for part in self.parts if part.status == "done")

    @property
    def failed(self) -> list[PartState]:
        return [part for part in self.parts if part.status == "failed"]

    def by_site(self) -> list[tuple[str, str, RunState]]:
        """A county run's parts by site, in the run's order: (the site's code, its name, its share as a run of its
        own: status, progress and pages over its parts). A run of one site is one share with no code."""
        shares: dict[str, RunState] = {}
        for part in self.parts:
            shares.setdefault(part.part.site_code, RunState(self.run, [])).parts.append(part)
        return [(code, share.parts[0].part.site, share) for code, share in shares.items()]

    def as_json(self) -> dict[str, object]:
        data = {"run": self.run.id, "kind": (self.run.params or {}).get("kind"), "status": self.status,
                "done": self.done, "total": self.total, "percent": self.percent, "pages": self.pages,
                "output": (self.run.outputs or [None])[0] if self.status in ("done", "partial") else None,
                "error": self.run.error if self.status in ENDED else "",
                "parts": [part.as_json() for part in self.parts]}
        if any(part.part.site_code for part in self.parts):  # a county run: each site's progress too
            data["sites"] = [{"site": code, "name": name, "status": share.status, "done": share.done,
                              "total": share.total, "percent": share.percent, "pages": share.pages,
                              "parts": len(share.parts), "failed": len(share.failed)}
                             for code, name, share in self.by_site()]
        return data

    def text_lines(self) -> list[str]:
        lines = [f"打印任务 #{self.run.id}：{len(self.parts)} 个村，{_STATUS_WORDS.get(self.status, self.status)}，"
                 f"共 {self.pages} 页"]
        for part in self.parts:
            line = f"  #{part.id} {part.part.village} {part.part.label}：{_STATUS_WORDS.get(part.status, part.status)}"
            line += f"，{part.pages} 页" if part.status == "done" else f"，{part.percent}%" if part.total else ""
            lines.append(line + (f"：{part.error}" if part.error else ""))
        if self.status in ("done", "partial") and self.run.outputs:
            lines.append(f"已生成：{self.run.outputs[0]}")
        return lines


_STATUS_WORDS = {"queued": "排队中", "running": "正在生成", "done": "完成", "failed": "失败", "partial": "部分完成"}


def run_status(statuses: Sequence[str]) -> str:
    """A run's status from its parts': queued until one starts, running until all have ended, then done (all
    done), failed (none done) or partial."""
    if all(status == "queued" for status in statuses):
        return "queued"
    if any(status in UNFINISHED for status in statuses):
        return "running"
    if all(status == "done" for status in statuses):
        return "done"
    return "partial" if any(status == "done" for status in statuses) else "failed"


def run_dir(instance_dir: Path, run_id: int) -> Path:
    """Where a run's zip is written (its parts write under their own jobs/<id>/)."""
    return instance_dir / "jobs" / str(run_id)


# --- making a run ---------------------------------------------------------------------------------------------

def create_run(session: Session, kind: str, params: dict[str, Any], parts: Sequence[tuple[Part, dict[str, Any]]],
               *, actor: str) -> Job:
    """Record a run of `kind` (forms, due) and one queued job per part with that part's own params; the caller
    commits, then hands the parts to the dispatcher (submit_parts). `params` are the run's: what it prints, its zip's
    file name (`filename`) and download name (`download_names`)."""
    if not parts:
        raise InvalidValue("打印范围内没有要打印的村", field="村")
    run = jobqueue.create_job(session, RUN, dict(params), actor=actor)  # a county run's (SITES): no site's
    add_parts(session, run, kind, params, parts, actor=actor)
    return run


def add_parts(session: Session, run: Job, kind: str, params: dict[str, Any],
              parts: Sequence[tuple[Part, dict[str, Any]]], *, actor: str) -> None:
    """Give a recorded run its params and its parts (create_run; a county run once planned, jobs/county.py)."""
    run.params = {**params, "kind": kind, "parts": [part.as_json() for part, _ in parts]}
    run.total = sum(part.residents for part, _ in parts)
    for part, part_params in parts:
        # A county run's part is a job of its own site (the runner prints it in that site's scope).
        site_id = part_params.get("site_id")
        child = jobqueue.create_job(session, kind, {**part_params, "part": part.as_json()}, actor=actor,
                                    site_id=None if site_id is None else int(site_id))
        child.run_id, child.total = run.id, part.residents
    session.flush()


def part_ids(session: Session, run_id: int) -> list[int]:
    """A run's parts in the order they are handed on: the largest first, so that the run ends with the small ones
    side by side rather than one large village printing alone on one worker."""
    return list(session.scalars(select(Job.id).where(Job.run_id == run_id).order_by(Job.total.desc(), Job.id)))


def submit_parts(database: Database, dispatcher: jobqueue.Dispatcher, ids: Iterable[int], *,
                 instance_dir: Path) -> list[int]:
    """Hand each part to the dispatcher (RQ, or the local thread, which runs them one after another). A part the
    queue cannot take (Redis down) is failed saying why (jobqueue.submit_or_fail), so its run ends instead of
    waiting; returns those ids."""
    refused = [job_id for job_id in ids if not jobqueue.submit_or_fail(database, dispatcher, job_id)]
    if refused:
        settle_runs_of(database, refused, instance_dir=instance_dir)
    return refused


def rerun_failed(session: Session, run_id: int, *, part_id: int | None = None) -> list[int]:
    """Queue a run's failed parts (or the one `part_id`) again; the caller commits and submits the ids returned.

    Only a failed part moves back to queued, in one UPDATE each, so two clicks (or two clerks) queue it once; a
    part that is done is never printed twice, and `claim` lets one worker run it. The run is running again until
    its parts have ended, when its zip is written anew.
    """
    run = find_run_row(session, run_id)
    stmt = select(Job.id).where(Job.run_id == run.id, Job.status == "failed").order_by(Job.id)
    if part_id is not None:
        stmt = stmt.where(Job.id == part_id)
    queued = []
    for job_id in session.scalars(stmt).all():
        result = session.execute(update(Job).where(Job.id == job_id, Job.status == "failed").values(
            status="queued", error="", done=0, started_at=None, finished_at=None, rq_id=None),
            execution_options={"synchronize_session": False})
        if result.rowcount == 1:
            queued.append(job_id)
    if not queued:
        raise Conflict("这个打印任务没有失败的村需要重新生成", field="任务", value=run.id)
    session.execute(update(Job).where(Job.id == run.id).values(status="running", error="", finished_at=None),
                    execution_options={"synchronize_session": False})
    session.expire(run)
    return queued


# --- reading a run --------------------------------------------------------------------------------------------

def find_run_row(session: Session, run_id: int) -> Job:
    run = session.get(Job, run_id)
    if run is None or run.kind != RUN:
        raise NotFound("没有这个打印任务", field="任务", value=run_id)
    return run


def find_run(session: Session, run_id: int) -> RunState:
    """The run with its parts in the villages' order, each with its own progress."""
    run = find_run_row(session, run_id)
    return RunState(run, [_state(job) for job in session.scalars(
        select(Job).where(Job.run_id == run.id).order_by(Job.id))])


def _state(job: Job) -> PartState:
    return PartState(id=job.id, part=Part.from_json((job.params or {}).get("part") or {}), status=job.status,
                     done=job.done, total=job.total, pages=job.pages, error=job.error, outputs=list(job.outputs or []))


# --- settling a run -------------------------------------------------------------------------------------------

def settle(database: Database, run_id: int, *, instance_dir: Path) -> str:
    """Bring a run's row up to date with its parts; when the last part has ended, write the zip and end the run.

    Each part calls it when it starts and when it ends (jobs/runners.py), after its own status is committed, and
    holds the run's row lock (FOR UPDATE; SQLite's write lock) while it reads the parts: of two parts ending at
    once, the one that settles second sees both ended, so exactly one writes the zip. A run already ended is left
    as it is (`rerun_failed` starts it again). Returns the run's status.
    """
    with database.transaction() as session:
        run = session.scalars(select(Job).where(Job.id == run_id).with_for_update()).one()
        state = RunState(run, [_state(job) for job in session.scalars(
            select(Job).where(Job.run_id == run_id).order_by(Job.id))])
        status = state.status
        if run.status in ENDED:
            return run.status
        values: dict[str, Any] = {"status": status, "done": state.done, "total": state.total}
        if status == "running" and run.started_at is None:
            values["started_at"] = utcnow()
        if status in ENDED:
            shutil.rmtree(run_dir(instance_dir, run_id) / SITE_ZIPS, ignore_errors=True)  # of its last end
            values.update(finished_at=utcnow(), pages=state.pages, error=_summary(state),
                          outputs=[str(path)] if (path := _write_zip(state, instance_dir)) else [])
        session.execute(update(Job).where(Job.id == run_id).values(**values),
                        execution_options={"synchronize_session": False})
        return status


def settle_runs_of(database: Database, job_ids: Iterable[int], *, instance_dir: Path) -> list[int]:
    """Settle the runs these jobs are parts of (jobs a restart or RQ failed, which never reached their own end);
    returns the runs' ids."""
    ids = list(job_ids)
    if not ids:
        return []
    with database.reader() as session:
        runs = sorted(set(session.scalars(select(Job.run_id).where(Job.id.in_(ids), Job.run_id.is_not(None)))))
    for run_id in runs:
        settle(database, run_id, instance_dir=instance_dir)
    return runs


def _summary(state: RunState) -> str:
    failed = state.failed
    if not failed:
        return ""
    return PARTS_FAILED.format(failed=len(failed), parts=len(state.parts),
                               villages="、".join(part.part.label for part in failed))


def site_zip(state: RunState, site_code: str, instance_dir: Path) -> Path | None:
    """One site's share of a county run as a zip of its own (its done parts), written on the first download into
    the run's folder (sites/<run zip>-<site code>.zip) and served from there afterwards; None when none of that
    site's parts is done or the run has no such site. The run's end removes them (settle: a rerun's parts added)."""
    share = next((share for code, _name, share in state.by_site() if code == site_code and code), None)
    if share is None or not any(part.status == "done" for part in share.parts):
        return None
    stem = Path(str((state.run.params or {}).get("filename") or f"run-{state.run.id}.zip")).stem
    name = f"{SITE_ZIPS}/{stem}-{clean_name(site_code)}.zip"
    built = run_dir(instance_dir, state.run.id) / name
    return built if built.is_file() else _write_zip(share, instance_dir, name=name)


def _write_zip(state: RunState, instance_dir: Path, *, name: str | None = None) -> Path | None:
    """The done parts' files in one zip (stored, not compressed: PDFs are), in the parts' order and named by their
    village (in a folder per site); with a note naming each part that failed and why. None when no part is done."""
    done = [part for part in state.parts if part.status == "done"]
    if not done:
        return None
    params = state.run.params or {}
    target = run_dir(instance_dir, state.run.id) / (name or str(params.get("filename") or f"run-{state.run.id}.zip"))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED) as archive:
        for part in done:
            for output in part.outputs:
                path = Path(output)
                archive.write(path, entry_name(part.part, path.name, state.run))
        if state.failed:
            archive.writestr(UNFINISHED_NOTE, "\n".join(
                f"{part.part.village} {part.part.label}：{part.error}" for part in state.failed) + "\n")
    partial.replace(target)
    return target


def entry_name(part: Part, stored: str, run: Job) -> str:
    """A part's file in the run's zip: its village, then what the file is when a part writes several
    (201-东村.pdf; 201-东村-调档单.pdf), as the run's `entry_suffixes` say by the end of the stored name."""
    suffixes: dict[str, str] = (run.params or {}).get("entry_suffixes") or {}
    suffix = next((shown for ending, shown in suffixes.items() if stored.endswith(ending)), "")
    return f"{part.entry_stem}{suffix}{Path(stored).suffix}"
