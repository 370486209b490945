"""全县打印 planned as the run's first step (PostgreSQL, two sites): the request only checks the choice and records
the run (正在规划… before any job ran), the same form sent twice gives one run, the first step plans each site's
villages and hands the parts on; a planning that fails ends the run with its reason on the page; each site's zip is
built once and served from the run's folder until a rerun ends the run again; on RQ a worker plans and prints."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from archiveprint.jobs import county
from archiveprint.jobs import queue as jobqueue
from archiveprint.jobs.models import RUN, Job
from archiveprint.jobs.runners import run_job
from archiveprint.jobs.runs import SITE_ZIPS, run_dir
from archiveprint.register.models import Village
from archiveprint.web.forms import DISPATCHER
from tests.rqwork import work_burst
from tests.security.test_site_county_print import _parts, _run_all, sites  # noqa: F401  # the fixture
from tests.security.test_site_routes import _sign_in
from tests.security.two_sites import TwoSites
from tests.web.conftest import RecordingDispatcher

REDIS_URL = "redis://127.0.0.1:6379/0"


def _form(client: FlaskClient, **values: object) -> dict[str, object]:
    """The county print form as the page gives it (its one-time token too), every optional field blank."""
    page = client.get("/sites/print").get_data(as_text=True)
    once = re.search(r'name="once" type="hidden" value="([^"]+)"', page) or re.search(
        r'id="county-once" name="once" type="hidden" value="([^"]+)"', page)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert once and token, page[:2000]
    return {"csrf_token": token.group(1), "once": once.group(1), "what": "form:personal_info", "month": "",
            "villages": "", **values}


def _started(response) -> int:  # type: ignore[no-untyped-def]
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return int(response.headers["Location"].rsplit("/", 1)[1])


def _run(committed_db, run_id: int) -> Job:  # type: ignore[no-untyped-def]
    with committed_db.reader() as session:
        job = session.get(Job, run_id)
        assert job is not None
        return job


def _settings(app: Flask):  # type: ignore[no-untyped-def]
    return app.extensions["archiveprint"].settings


def test_the_request_records_the_run_and_its_first_step_plans_the_parts(
        app: Flask, client: FlaskClient, sites: TwoSites, committed_db, recording: RecordingDispatcher,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    planned: list[int] = []
    plan_request = county.plan_request

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        planned.append(1)
        return plan_request(*args, **kwargs)

    monkeypatch.setattr(county, "plan_request", counted)
    _sign_in(client, "county-print")
    form = _form(client, sites=["ZFT", "BT"])
    run_id = _started(client.post("/sites/print", data=form))
    assert _started(client.post("/sites/print", data=form)) == run_id  # the double click: the same run
    with committed_db.reader() as session:
        assert session.scalar(select(func.count(Job.id)).where(Job.kind == RUN)) == 1
    assert recording.submitted == [run_id] and planned == []  # recorded and handed on, nothing planned yet
    run = _run(committed_db, run_id)
    assert (run.status, run.site_id, run.params["sites"]) == ("queued", None, ["ZFT", "BT"])
    assert _parts(committed_db, run_id) == []
    page = client.get(f"/sites/print/{run_id}").get_data(as_text=True)
    assert 'id="run-planning"' in page and "正在规划…" in page and 'data-planning="1"' in page
    assert "2 个机构，每村一个文件" in page and "个人基本信息表" in page
    state = client.get(f"/sites/print/{run_id}.json").get_json()
    assert (state["planning"], state["finished"], state["parts"]) == (True, False, [])

    recording.submitted.clear()
    progress: list[tuple[int, int]] = []
    report_progress = jobqueue.report_progress

    def reported(database, job_id, done, total, **kwargs):  # type: ignore[no-untyped-def]
        progress.append((done, total))
        report_progress(database, job_id, done, total, **kwargs)

    monkeypatch.setattr(jobqueue, "report_progress", reported)
    run_job(run_id, settings=_settings(app), database=committed_db, dispatcher=recording)  # the first step
    assert planned == [1] and progress == [(0, 2), (1, 2), (2, 2)]  # the sites planned of all
    parts = _parts(committed_db, run_id)
    assert {part.site_id for part in parts} == {sites.a.id, sites.b.id}
    assert sorted(recording.submitted) == sorted(part.id for part in parts)  # handed on, each once
    run = _run(committed_db, run_id)
    assert (run.status, run.rq_id, run.done) == ("queued", None, 0) and run.total == sum(p.total for p in parts)
    assert run.params["planning"]["sites"] == ["ZFT", "BT"] and run.params["sites"] == ["ZFT", "BT"]
    state = client.get(f"/sites/print/{run_id}.json").get_json()
    assert state["planning"] is False and len(state["parts"]) == len(parts)
    page = client.get(f"/sites/print/{run_id}").get_data(as_text=True)
    assert "正在规划" not in page and "2 个机构" in page and "data-part-status" in page

    _run_all(app, committed_db, recording)
    assert _run(committed_db, run_id).status == "done"

    # Each site's zip is built on its first download and served from the run's folder afterwards.
    with client.get(f"/sites/print/{run_id}/sites/BT.zip") as download:
        assert download.status_code == 200
        first = download.get_data()
    built = list((run_dir(_settings(app).instance_dir, run_id) / SITE_ZIPS).glob("*-BT.zip"))
    assert len(built) == 1
    stamp = (built[0].stat().st_ino, built[0].stat().st_mtime_ns)
    with client.get(f"/sites/print/{run_id}/sites/BT.zip") as download:
        assert download.get_data() == first
    assert (built[0].stat().st_ino, built[0].stat().st_mtime_ns) == stamp  # not built again

    # A rerun ends the run again: its site zips go, and the next download builds them from the parts then done.
    token = form["csrf_token"]
    bt_part = next(part for part in parts if part.site_id == sites.b.id)
    with committed_db.transaction() as session:
        session.execute(update(Job).where(Job.id == bt_part.id).values(status="failed", error="测试"))
        session.execute(update(Job).where(Job.id == run_id).values(status="partial"))
    assert client.post(f"/sites/print/{run_id}/rerun", data={"csrf_token": token}).status_code == 303
    assert recording.submitted == [bt_part.id]
    _run_all(app, committed_db, recording)
    assert _run(committed_db, run_id).status == "done" and not built[0].exists()
    with client.get(f"/sites/print/{run_id}/sites/BT.zip") as download:
        assert download.status_code == 200
    assert built[0].is_file() and (built[0].stat().st_ino, built[0].stat().st_mtime_ns) != stamp


def test_a_run_whose_planning_fails_ends_saying_why(app: Flask, client: FlaskClient, sites: TwoSites,  # noqa: F811
                                                    committed_db, recording: RecordingDispatcher,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _sign_in(client, "county-print")
    form = _form(client, villages="东村")
    run_id = _started(client.post("/sites/print", data=form))
    with committed_db.transaction() as session:  # meanwhile, both sites renamed the village
        session.execute(update(Village).where(Village.code == "201").values(name="东庄"))
    _run_all(app, committed_db, recording)
    run = _run(committed_db, run_id)
    assert run.status == "failed" and "所选机构都没有这个村(居)委会" in run.error and _parts(committed_db, run_id) == []
    state = client.get(f"/sites/print/{run_id}.json").get_json()
    assert state["finished"] and state["planning"] is False and "东村" in state["error"]
    page = client.get(f"/sites/print/{run_id}").get_data(as_text=True)
    assert 'id="job-error"' in page and "没有开始打印" in page and "所选机构都没有这个村(居)委会" in page
    assert "Traceback" not in page and "jobs.js" not in page
    answer = client.post(f"/sites/print/{run_id}/rerun", data={"csrf_token": form["csrf_token"]},
                         follow_redirects=True)
    assert answer.status_code == 200 and "没有失败的村" in answer.get_data(as_text=True)

    def broken(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("/srv/secret/path")

    monkeypatch.setattr(county, "plan_request", broken)
    run_id = _started(client.post("/sites/print", data=_form(client)))
    _run_all(app, committed_db, recording)
    page = client.get(f"/sites/print/{run_id}").get_data(as_text=True)
    assert "规划打印任务时出现内部错误" in page
    assert "RuntimeError" not in page and "/srv/secret" not in page and "Traceback" not in page


def test_on_rq_a_worker_plans_the_run_and_prints_its_parts(app: Flask, client: FlaskClient,
                                                           sites: TwoSites, committed_db,  # noqa: F811
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from rq import Queue

    settings = _settings(app)
    queue = f"archiveprint-test-{uuid.uuid4().hex[:8]}"
    for name, value in (("REDIS_URL", REDIS_URL), ("ARCHIVEPRINT_RQ_QUEUE", queue), ("SECRET_KEY", "test"),
                        ("ARCHIVEPRINT_INSTANCE", str(settings.instance_dir)),
                        ("DATABASE_URL", settings.database_url)):
        monkeypatch.setenv(name, value)
    app.extensions[DISPATCHER] = jobqueue.Dispatcher(lambda job_id: None, redis_url=REDIS_URL, queue=queue,
                                                     database=committed_db, database_url=settings.database_url)
    connection = redis.Redis.from_url(REDIS_URL)
    try:
        _sign_in(client, "county-print")
        run_id = _started(client.post("/sites/print", data=_form(client)))
        run = _run(committed_db, run_id)
        assert run.status == "queued" and run.rq_id and _parts(committed_db, run_id) == []
        assert client.get(f"/sites/print/{run_id}.json").get_json()["planning"] is True
        work_burst([Queue(queue, connection=connection)], connection)  # the plan, then the parts it enqueued
    finally:
        Queue(queue, connection=connection).delete(delete_jobs=True)
        connection.close()
    run = _run(committed_db, run_id)
    parts = _parts(committed_db, run_id)
    assert run.status == "done" and run.rq_id is None and run.outputs and Path(run.outputs[0]).is_file()
    assert {part.site_id for part in parts} == {sites.a.id, sites.b.id} and all(p.status == "done" for p in parts)
