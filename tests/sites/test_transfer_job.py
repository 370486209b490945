"""#14 transfers as a background job: a confirmed preview is one job however often it is confirmed; the job carries
the transfer out and writes its documents in one transaction (done exactly if they commit, never run twice), on the
local thread and on RQ; a preview gone stale fails the job with the reason and writes nothing."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from sqlalchemy import func, select

from archiveprint.config import Settings
from archiveprint.db import Database
from archiveprint.eventlog import Event
from archiveprint.jobs import queue as jobqueue
from archiveprint.jobs.runners import run_job
from archiveprint.lending.queries import status_provider
from archiveprint.lending.rules import LendingRules
from archiveprint.sites.documents import transfer_folder
from archiveprint.sites.models import Site
from archiveprint.sites.transfer import transfer_villages
from archiveprint.sites.transferjob import find_transfer_job, start_transfer
from tests.conftest import ACTOR
from tests.rqwork import work_burst
from tests.sites.conftest import build_county, count_rows
from tests.waiting import eventually

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def county_db(committed_db: Database, rules: LendingRules) -> Database:
    if committed_db.is_sqlite:
        pytest.skip("a transfer needs two sites, and several sites need PostgreSQL")
    with committed_db.transaction() as session:
        build_county(session, rules)
    return committed_db


@pytest.fixture
def settings(committed_db: Database, tmp_path: Path) -> Settings:
    return Settings(instance_dir=tmp_path / "instance", secret_key="test",
                    database_url=committed_db.engine.url.render_as_string(False))


def preview(database: Database, rules: LendingRules, *villages: str) -> str:
    with database.transaction() as session:
        return transfer_villages(session, "BT", "130123100", villages=villages, dry_run=True,
                                 providers=[status_provider(rules)], actor=ACTOR,
                                 now=session.scalar(select(func.now()))).fingerprint


def start(database: Database, fingerprint: str, *villages: str) -> tuple[int, bool]:
    with database.transaction() as session:
        return start_transfer(session, source="BT", target="130123100", villages=villages, supervisor="周科长",
                              fingerprint=fingerprint, user_id=None, actor=ACTOR)


def transfers(database: Database) -> int:
    with database.reader() as session:
        return session.scalar(select(func.count()).select_from(Event).where(Event.kind == "site.transferred")) or 0


def ended(database: Database, job_id: int) -> bool:
    with database.reader() as session:
        return find_transfer_job(session, job_id).finished


def test_a_confirmed_preview_is_one_job_that_transfers_once_and_writes_its_documents(
        county_db: Database, rules: LendingRules, settings: Settings) -> None:
    fingerprint = preview(county_db, rules)
    job_id, created = start(county_db, fingerprint)
    assert created and start(county_db, fingerprint) == (job_id, False)  # the second click: the same job
    dispatcher = jobqueue.Dispatcher(lambda i: run_job(i, settings=settings, database=county_db))
    dispatcher.submit(job_id)
    dispatcher.submit(job_id)  # delivered twice: run once
    eventually(lambda: ended(county_db, job_id), what="the job ended", seconds=120)
    dispatcher.shutdown()
    with county_db.reader() as session:
        job = find_transfer_job(session, job_id)
        assert (job.status, job.error, job.done, job.total, job.percent) == ("done", "", 4, 4, 100)
        assert session.scalar(select(Site.status).where(Site.code == "BT")) == "closed"
    assert job.event_id is not None and transfers(county_db) == 1
    written = sorted(p.name for p in transfer_folder(settings.instance_dir, job.event_id).iterdir())
    assert written == ["handover-YJ-2026-0001.pdf", "picklist-YJ-2026-0001.pdf", "shelf-labels.pdf"]
    assert start(county_db, fingerprint) == (job_id, False)  # done: still the same job, nothing new
    run_job(job_id, settings=settings, database=county_db)
    assert transfers(county_db) == 1


def test_a_stale_preview_fails_the_job_and_changes_nothing(county_db: Database, settings: Settings) -> None:
    with county_db.reader() as session:
        before = count_rows(session)
    job_id, _created = start(county_db, "0" * 16, "201")  # the check code of a preview the archive has moved on from
    run_job(job_id, settings=settings, database=county_db)
    with county_db.reader() as session:
        job = find_transfer_job(session, job_id)
        after = count_rows(session)
    assert job.status == "failed" and "重新预览" in job.error and job.event_id is None
    assert {k: v for k, v in after.items() if k != "jobs"} == {k: v for k, v in before.items() if k != "jobs"}
    assert transfers(county_db) == 0


def test_on_rq_the_worker_runs_the_transfer(county_db: Database, rules: LendingRules, settings: Settings,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import redis  # lazy: only this test talks to Redis
    from rq import Queue

    monkeypatch.setenv("ARCHIVEPRINT_INSTANCE", str(settings.instance_dir))
    monkeypatch.setenv("SECRET_KEY", "test")
    queue = f"transfer-test-{secrets.token_hex(4)}"
    fingerprint = preview(county_db, rules)
    job_id, _created = start(county_db, fingerprint)
    dispatcher = jobqueue.Dispatcher(lambda i: None, redis_url=REDIS_URL, queue=queue, database=county_db,
                                     database_url=settings.database_url)
    dispatcher.submit(job_id)
    connection = redis.Redis.from_url(REDIS_URL)
    try:
        work_burst([Queue(queue, connection=connection)], connection)
    finally:
        Queue(queue, connection=connection).delete(delete_jobs=True)
        connection.close()
    with county_db.reader() as session:
        job = find_transfer_job(session, job_id)
    assert job.status == "done" and job.event_id is not None and transfers(county_db) == 1
    assert (transfer_folder(settings.instance_dir, job.event_id) / "handover-YJ-2026-0001.pdf").is_file()
