"""Job pages after a restart (local thread, RQ on the real Redis) and once retention has removed a job's files."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis  # a hard dependency (pyproject.toml): these tests run on the real Redis, never skip
from flask import Flask
from sqlalchemy import select

from archiveprint.accounts.models import AuditEntry
from archiveprint.config import Settings
from archiveprint.db import Database, utcnow
from archiveprint.jobs import queue as jobqueue
from archiveprint.jobs.models import Job
from archiveprint.jobs.runners import run_job
from archiveprint.web import create_app
from archiveprint.web.forms import DISPATCHER
from tests.conftest import TODAY
from tests.web.conftest import AuthActions, People
from tests.web.test_print_pages import job_id_of, print_input, wait_until_finished

REDIS_URL = "redis://127.0.0.1:6379/0"


def make_settings(database: Database, instance: Path, **values: object) -> Settings:
    return Settings(instance_dir=instance, secret_key="test-secret-key",
                    database_url=database.engine.url.render_as_string(hide_password=False), **values)  # type: ignore[arg-type]


@pytest.fixture
def start_app(committed_db: Database, tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    """Start the app (as `archiveprint serve` does after a restart) on the test's database and instance folder."""
    apps: list[Flask] = []

    def start(**values: object) -> Flask:
        app = create_app(make_settings(committed_db, tmp_path / "instance", **values), database=committed_db)
        app.config.update(TESTING=True, ARCHIVEPRINT_TODAY=TODAY)
        apps.append(app)
        return app

    yield start
    for app in apps:
        app.extensions[DISPATCHER].shutdown()


def job_row(database: Database, **values: object) -> int:
    with database.transaction() as session:
        job = jobqueue.create_job(session, "forms", {
            "set": "personal_info", "set_name": "个人基本信息表", "scope": {"village": "201"}, "scope_text": "东村",
            "filename": "personal_info-20261125.pdf", "residents": 5, "today": TODAY.isoformat()}, actor="clerk-user")
        for key, value in values.items():
            setattr(job, key, value)
        session.flush()
        return job.id


def get(database: Database, job_id: int) -> Job:
    with database.reader() as session:
        return jobqueue.get_job(session, job_id)


def test_after_a_restart_a_queued_job_runs_and_an_interrupted_one_says_so(start_app, committed_db,
                                                                         people: People):
    queued = job_row(committed_db)
    running = job_row(committed_db, status="running", started_at=utcnow(), done=2, total=5)
    app = start_app()
    client = app.test_client()
    AuthActions(client, committed_db).login("clerk")
    state = wait_until_finished(client, queued)
    assert (state["status"], state["pages"]) == ("done", 5)
    interrupted = client.get(f"/print/jobs/{running}.json").get_json()
    assert (interrupted["status"], interrupted["finished"]) == ("failed", True)
    page = client.get(f"/print/jobs/{running}").get_data(as_text=True)
    assert "打印失败：服务重启，任务中断，请重新提交" in page and "重新选择并打印" in page
    assert "jobs.js" not in page  # the page no longer waits


def test_files_past_retention_are_removed_at_start_and_the_pages_say_so(start_app, committed_db, people,
                                                                       tmp_path):
    job_id = job_row(committed_db)
    settings = make_settings(committed_db, tmp_path / "instance")
    run_job(job_id, settings=settings, database=committed_db)
    finished = get(committed_db, job_id)
    assert finished.status == "done" and Path(finished.outputs[0]).is_file()
    with committed_db.transaction() as session:
        row = session.get(Job, job_id)
        assert row is not None
        row.finished_at = utcnow() - timedelta(days=40, minutes=1)
        row.created_at = row.finished_at - timedelta(minutes=2)
    (tmp_path / "instance" / "jobs" / ".last-clean").unlink()  # the last daily clean was long ago

    app = start_app(job_retention_days=30)
    assert not (tmp_path / "instance" / "jobs" / str(job_id)).exists()
    assert get(committed_db, job_id).kept_days == 40
    with committed_db.reader() as session:
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "delete")).one()
    assert (audit.subject_type, audit.subject_id, audit.username) == ("print_job", str(job_id), "system")

    client = app.test_client()
    AuthActions(client, committed_db).login("clerk")
    listing = client.get("/print/jobs").get_data(as_text=True)
    assert "文件已于 40 天后删除" in listing
    page = client.get(f"/print/jobs/{job_id}").get_data(as_text=True)
    assert 'id="job-expired"' in page and "文件已在保存 40 天后按保留期限删除" in page
    assert "/files/" not in page
    assert client.get(f"/print/jobs/{job_id}.json").get_json()["expired"] is True
    missing = client.get(f"/print/jobs/{job_id}/files/personal_info-20261125.pdf")
    assert missing.status_code == 404 and "按保留期限删除" in missing.get_data(as_text=True)


@pytest.fixture
def rq_app(start_app, committed_db: Database) -> Iterator[tuple[Flask, object]]:
    """The app with REDIS_URL set, its dispatcher on a queue of its own on the real Redis."""
    from rq import Queue

    connection = redis.Redis.from_url(REDIS_URL)
    connection.ping()
    app = start_app(redis_url=REDIS_URL)
    settings = app.extensions["archiveprint"].settings
    queue = Queue(f"archiveprint-test-{uuid.uuid4().hex[:8]}", connection=connection)
    app.extensions[DISPATCHER] = jobqueue.Dispatcher(lambda job_id: None, redis_url=REDIS_URL, queue=queue.name,
                                                     database_url=settings.database_url, database=committed_db)
    yield app, queue
    queue.delete(delete_jobs=True)
    connection.close()


def test_with_rq_a_job_cancelled_in_the_queue_is_shown_failed_instead_of_waiting(rq_app, committed_db, people):
    from rq.job import Job as RQJob

    app, queue = rq_app
    client = app.test_client()
    AuthActions(client, committed_db).login("clerk")
    job_id = job_id_of(client.post("/print/start", data=print_input(client, village="201")))
    assert queue.count == 1
    waiting = client.get(f"/print/jobs/{job_id}.json").get_json()
    assert (waiting["status"], waiting["finished"]) == ("queued", False)

    RQJob.fetch(str(get(committed_db, job_id).rq_id), connection=queue.connection).cancel()
    state = client.get(f"/print/jobs/{job_id}.json").get_json()
    assert (state["status"], state["label"], state["finished"]) == ("failed", "失败", True)
    assert state["error"] == jobqueue.RQ_STOPPED
    assert "任务已在任务队列中被停止或取消" in client.get(f"/print/jobs/{job_id}").get_data(as_text=True)


def test_with_rq_the_job_list_asks_rq_too(rq_app, committed_db, people):
    from rq.job import Job as RQJob

    app, queue = rq_app
    client = app.test_client()
    AuthActions(client, committed_db).login("clerk")
    job_id = job_id_of(client.post("/print/start", data=print_input(client, village="201")))
    RQJob.fetch(str(get(committed_db, job_id).rq_id), connection=queue.connection).cancel()
    listing = client.get("/print/jobs").get_data(as_text=True)
    assert 'class="status status-failed"' in listing
    assert get(committed_db, job_id).status == "failed"
