"""Print jobs run outside the request: on a local thread by default, on RQ with the real Redis when configured."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
import redis  # a hard dependency (pyproject.toml): these tests run on the real Redis, never skip

from archiveprint.config import Settings
from archiveprint.jobs import queue as jobqueue
from archiveprint.jobs.runners import run_job
from archiveprint.register import services
from tests.conftest import ACTOR, setup_township
from tests.pdfcheck import read
from tests.rqwork import work_burst
from tests.waiting import eventually


@pytest.fixture
def settings(committed_db, tmp_path):
    return Settings(instance_dir=tmp_path, database_url=committed_db.engine.url.render_as_string(False),
                    secret_key="test")


@pytest.fixture
def village_job(committed_db):
    with committed_db.transaction() as session:
        setup_township(session)
        household = services.create_household(session, services.find_village(session, "201"), head_name="王大山",
                                              actor=ACTOR)
        for name in ("王大山", "王小河"):
            services.register_resident(session, household, name=name, sex="1", birth_date=date(1960, 1, 1),
                                       relation_to_head="户主" if name == "王大山" else "子", actor=ACTOR)
        job = jobqueue.create_job(session, "forms", {"set": "personal_info", "scope": {"village": "201"},
                                                     "filename": "v201.pdf"}, actor=ACTOR)
        return job.id


def wait_for(committed_db, job_id, seconds=30):
    def ended():  # type: ignore[no-untyped-def]
        with committed_db.reader() as session:
            job = jobqueue.get_job(session, job_id)
            return job if job.status in ("done", "failed") else None
    return eventually(ended, what=f"job {job_id} ended", seconds=seconds)


def test_local_worker_runs_a_job_and_a_rerun_does_not_duplicate(committed_db, settings, village_job):
    dispatcher = jobqueue.Dispatcher(lambda job_id: run_job(job_id, settings=settings, database=committed_db))
    dispatcher.submit(village_job)
    job = wait_for(committed_db, village_job)
    dispatcher.shutdown()
    assert (job.status, job.pages, job.done, job.total, job.percent) == ("done", 2, 2, 2, 100)
    output = settings.instance_dir / "jobs" / str(village_job) / "v201.pdf"
    assert job.outputs == [str(output)] and len(read(output).pages) == 2
    modified = output.stat().st_mtime_ns
    run_job(village_job, settings=settings, database=committed_db)  # delivered again: nothing happens
    assert output.stat().st_mtime_ns == modified
    assert list((output.parent).iterdir()) == [output]


def test_a_failed_job_says_why_in_chinese(committed_db, settings):
    with committed_db.transaction() as session:
        setup_township(session)
        job_id = jobqueue.create_job(session, "forms", {"set": "没有这个套组", "scope": {}}, actor=ACTOR).id
    run_job(job_id, settings=settings, database=committed_db)
    with committed_db.reader() as session:
        job = jobqueue.get_job(session, job_id)
    assert job.status == "failed" and "没有这个表单套组" in job.error


def test_rq_on_the_real_redis_runs_the_same_job(committed_db, settings, village_job, monkeypatch):
    from rq import Queue

    connection = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    connection.ping()
    queue_name = f"archiveprint-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("ARCHIVEPRINT_INSTANCE", str(settings.instance_dir))
    dispatcher = jobqueue.Dispatcher(lambda job_id: None, redis_url="redis://127.0.0.1:6379/0",
                                     database_url=settings.database_url, queue=queue_name)
    dispatcher.submit(village_job)
    queue = Queue(queue_name, connection=connection)
    assert queue.count == 1
    work_burst([queue], connection)
    job = wait_for(committed_db, village_job, seconds=5)
    assert job.status == "done" and job.pages == 2
    queue.delete(delete_jobs=True)
