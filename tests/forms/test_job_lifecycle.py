"""Jobs across restarts (local thread and RQ on the real Redis) and the retention of their output folders."""

from __future__ import annotations

import os
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import redis  # a hard dependency (pyproject.toml): these tests run on the real Redis, never skip
from sqlalchemy import select, update

from archiveprint.accounts.models import AuditEntry
from archiveprint.config import Settings
from archiveprint.db import Database, utcnow
from archiveprint.errors import InvalidValue
from archiveprint.jobs import queue as jobqueue
from archiveprint.jobs.models import Job
from archiveprint.jobs.retention import CLEAN_MARKER, clean_if_due, clean_jobs
from archiveprint.jobs.runners import run_job
from archiveprint.register import services
from tests.conftest import ACTOR, setup_township
from tests.forms.test_jobs import wait_for
from tests.rqwork import work_burst

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def settings(committed_db, tmp_path):
    return Settings(instance_dir=tmp_path / "instance", secret_key="test",
                    database_url=committed_db.engine.url.render_as_string(False))


@pytest.fixture
def village_job(committed_db) -> int:
    """A queued job printing 东村's two residents."""
    with committed_db.transaction() as session:
        setup_township(session)
        household = services.create_household(session, services.find_village(session, "201"), head_name="王大山",
                                              actor=ACTOR)
        for name, relation in (("王大山", "户主"), ("王小河", "子")):
            services.register_resident(session, household, name=name, sex="1", relation_to_head=relation,
                                       actor=ACTOR)
    return new_job(committed_db, params={"set": "personal_info", "scope": {"village": "201"},
                                         "filename": "v201.pdf"})


def set_job(database: Database, job_id: int, **values: object) -> None:
    with database.transaction() as session:
        session.execute(update(Job).where(Job.id == job_id).values(**values))


def get(database: Database, job_id: int) -> Job:
    with database.reader() as session:
        return jobqueue.get_job(session, job_id)


def new_job(database: Database, **values: object) -> int:
    with database.transaction() as session:
        job = jobqueue.create_job(session, "forms", {"set": "personal_info", "set_name": "个人基本信息表",
                                                     "scope": {"village": "201"}, "residents": 2}, actor=ACTOR)
        for key, value in values.items():
            setattr(job, key, value)
        session.flush()
        return job.id


# --- local thread: a restart ------------------------------------------------------------------------------------

def test_a_restart_starts_queued_jobs_again_and_fails_the_interrupted_one(committed_db, settings, village_job):
    interrupted = new_job(committed_db, status="running", started_at=utcnow(), done=1, total=2)
    finished = new_job(committed_db, status="done", finished_at=utcnow())
    dispatcher = jobqueue.Dispatcher(lambda job_id: run_job(job_id, settings=settings, database=committed_db))
    try:
        recovery = dispatcher.recover(committed_db, now=utcnow())
        assert (recovery.resubmitted, recovery.failed) == ([village_job], [interrupted])
        job = wait_for(committed_db, village_job)
        assert job.status == "done" and job.pages == 2
    finally:
        dispatcher.shutdown()
    stopped = get(committed_db, interrupted)
    assert (stopped.status, stopped.error) == ("failed", "服务重启，任务中断，请重新提交")
    assert stopped.finished_at is not None
    assert get(committed_db, finished).status == "done"
    # Failed, it is not run by the next start; a clerk submits it again.
    assert jobqueue.Dispatcher(lambda job_id: None).recover(committed_db, now=utcnow()).resubmitted == []


# --- RQ: what RQ reports --------------------------------------------------------------------------------------

@pytest.fixture
def rq_queue(monkeypatch, settings):
    from rq import Queue

    connection = redis.Redis.from_url(REDIS_URL)
    connection.ping()
    name = f"archiveprint-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("ARCHIVEPRINT_INSTANCE", str(settings.instance_dir))
    queue = Queue(name, connection=connection)
    yield queue
    queue.delete(delete_jobs=True)
    connection.close()


def rq_dispatcher(database: Database, queue, database_url: str) -> jobqueue.Dispatcher:  # type: ignore[no-untyped-def]
    return jobqueue.Dispatcher(lambda job_id: None, redis_url=REDIS_URL, database_url=database_url,
                               queue=queue.name, database=database)


def test_a_job_rq_reports_failed_is_shown_failed(committed_db, settings, village_job, rq_queue, tmp_path):
    # The worker cannot open the database, so the job fails in RQ before run_job could record anything.
    unreachable = f"sqlite:///{tmp_path / 'no-such-folder' / 'db.sqlite3'}"
    dispatcher = rq_dispatcher(committed_db, rq_queue, unreachable)
    dispatcher.submit(village_job)
    rq_id = get(committed_db, village_job).rq_id
    assert rq_id and rq_queue.job_ids == [rq_id]
    assert dispatcher.check(committed_db, now=utcnow()) == []  # queued in RQ too: nothing to say yet
    work_burst([rq_queue], rq_queue.connection)
    assert get(committed_db, village_job).status == "queued"  # what the job page showed before: forever

    assert dispatcher.check(committed_db, [village_job], now=utcnow()) == [village_job]
    job = get(committed_db, village_job)
    assert (job.status, job.error) == ("failed", jobqueue.RQ_FAILED)
    assert dispatcher.check(committed_db, now=utcnow()) == []


def test_a_job_cancelled_in_rq_or_gone_from_redis_is_shown_failed(committed_db, settings, rq_queue):
    from rq.job import Job as RQJob

    dispatcher = rq_dispatcher(committed_db, rq_queue, settings.database_url)
    cancelled, lost = new_job(committed_db), new_job(committed_db)
    dispatcher.submit(cancelled)
    dispatcher.submit(lost)
    RQJob.fetch(get(committed_db, cancelled).rq_id, connection=rq_queue.connection).cancel()
    RQJob.fetch(get(committed_db, lost).rq_id, connection=rq_queue.connection).delete()  # Redis emptied
    now = utcnow()
    assert dispatcher.check(committed_db, now=now) == [cancelled]  # the lost one was enqueued a moment ago
    assert dispatcher.check(committed_db, now=now + jobqueue.RQ_GRACE + timedelta(seconds=1)) == [lost]
    assert (get(committed_db, cancelled).error, get(committed_db, lost).error) == (jobqueue.RQ_STOPPED,
                                                                                   jobqueue.RQ_LOST)


def test_with_rq_a_restart_leaves_running_jobs_to_rq(committed_db, settings, village_job, rq_queue):
    dispatcher = rq_dispatcher(committed_db, rq_queue, settings.database_url)
    dispatcher.submit(village_job)
    set_job(committed_db, village_job, status="running")  # a worker has it (RQ still says queued: nothing wrong)
    recovery = dispatcher.recover(committed_db, now=utcnow())
    assert (recovery.resubmitted, recovery.failed) == ([], [])
    assert get(committed_db, village_job).status == "running" and rq_queue.count == 1


def test_rq_failure_verdicts():
    now = utcnow()
    old, new = now - timedelta(hours=1), now - timedelta(seconds=10)
    assert [jobqueue.rq_failure(status, old, now=now) for status in ("queued", "started", "finished", "deferred",
                                                                     "scheduled")] == [None] * 5
    assert jobqueue.rq_failure("failed", new, now=now) == jobqueue.RQ_FAILED
    assert jobqueue.rq_failure("stopped", old, now=now) == jobqueue.rq_failure("canceled", old, now=now)
    assert (jobqueue.rq_failure(None, old, now=now), jobqueue.rq_failure(None, new, now=now)) == (jobqueue.RQ_LOST,
                                                                                                  None)


# --- retention --------------------------------------------------------------------------------------------------

def output(instance: Path, folder: str, *names: str, age_days: float | None = None) -> Path:
    path = instance / "jobs" / folder
    path.mkdir(parents=True, exist_ok=True)
    for name in names:
        (path / name).write_bytes(b"%PDF-1.7 " + name.encode() * 100)
    if age_days is not None:
        stamp = time.time() - age_days * 86400
        os.utime(path, (stamp, stamp))
    return path


def test_clean_removes_old_job_folders_marks_the_rows_and_audits_each(session, tmp_path):
    now = utcnow()
    instance = tmp_path / "instance"

    def job(status: str, days: int, **values: object) -> Job:
        row = jobqueue.create_job(session, "forms", {"set_name": "新建档套表", "residents": 5}, actor=ACTOR)
        row.status, row.created_at = status, now - timedelta(days=days, hours=1)
        row.finished_at = None if status in ("queued", "running") else row.created_at + timedelta(minutes=1)
        for key, value in values.items():
            setattr(row, key, value)
        session.flush()
        return row

    old = job("done", 40)
    output(instance, str(old.id), "a.pdf", "a.zip")
    recent = job("done", 5)
    output(instance, str(recent.id), "b.pdf")
    old_failed = job("failed", 40)  # wrote nothing
    stuck = job("queued", 90)
    output(instance, str(stuck.id), "partial.pdf")
    output(instance, "99999", "stray.pdf", age_days=45)  # left by an earlier database
    output(instance, "99998", "fresh.pdf", age_days=1)
    output(instance, "not-a-job", "x.pdf", age_days=400)

    preview = clean_jobs(session, instance, older_than_days=30, actor="cli", now=now, dry_run=True)
    assert [(item.folder, item.job_id, item.files) for item in preview.removed] == [
        (f"jobs/{old.id}", old.id, 2), ("jobs/99999", None, 1)]
    assert preview.expired == 2 and "将删除 2 个打印任务的文件" in preview.summary() and "预览" in preview.summary()
    assert (instance / "jobs" / str(old.id)).is_dir() and old.expired_at is None
    assert session.scalars(select(AuditEntry)).all() == []

    report = clean_jobs(session, instance, older_than_days=30, actor="cli", now=now)
    assert [item.folder for item in report.removed] == [f"jobs/{old.id}", "jobs/99999"]
    assert report.removed[0].age_days == 40 and report.removed[0].what == "新建档套表 residents=5"
    assert report.errors == [] and report.expired == 2
    remaining = sorted(path.name for path in (instance / "jobs").iterdir())
    assert remaining == sorted([str(recent.id), str(stuck.id), "99998", "not-a-job"])
    assert (old.expired_at, old_failed.expired_at, recent.expired_at, stuck.expired_at) == (now, now, None, None)
    assert old.kept_days == 40 and recent.kept_days is None
    audits = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(a.action, a.subject_type, a.subject_id, a.username) for a in audits] == [
        ("delete", "print_job", str(old.id), "system"), ("delete", "print_job", "99999", "system")]
    assert "files=2" in audits[0].detail and "新建档套表" in audits[0].detail and "（cli）" in audits[0].detail

    again = clean_jobs(session, instance, older_than_days=30, actor="cli", now=now)
    assert (again.removed, again.expired) == ([], 0)
    assert len(clean_jobs(session, instance, older_than_days=3, actor="cli", now=now).removed) == 1  # recent


def test_clean_runs_at_most_once_a_day(committed_db, settings):
    now = utcnow()
    old = new_job(committed_db, status="done", finished_at=now - timedelta(days=31))
    output(settings.instance_dir, str(old), "a.pdf")
    first = clean_if_due(settings, committed_db, now=now)
    assert first is not None and [item.job_id for item in first.removed] == [old]
    assert (settings.instance_dir / "jobs" / CLEAN_MARKER).is_file()
    later = new_job(committed_db, status="done", finished_at=now - timedelta(days=31))
    output(settings.instance_dir, str(later), "b.pdf")
    assert clean_if_due(settings, committed_db, now=now + timedelta(hours=23)) is None
    assert (settings.instance_dir / "jobs" / str(later)).is_dir()
    report = clean_if_due(settings, committed_db, now=now + timedelta(hours=25))
    assert report is not None and [item.job_id for item in report.removed] == [later]
    assert get(committed_db, later).expired_at == now + timedelta(hours=25)


def test_the_retention_setting(tmp_path):
    env = {"ARCHIVEPRINT_INSTANCE": str(tmp_path), "SECRET_KEY": "k"}
    assert Settings.from_env(env).job_retention_days == 30
    assert Settings.from_env({**env, "ARCHIVEPRINT_JOB_RETENTION_DAYS": "7"}).job_retention_days == 7
    for wrong in ("0", "-3", "三十", "7.5"):
        with pytest.raises(InvalidValue, match="保留天数应为不小于 1 的整数"):
            Settings.from_env({**env, "ARCHIVEPRINT_JOB_RETENTION_DAYS": wrong})
