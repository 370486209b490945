"""#14: print, label and monthly-packet jobs run in the site of the user who started them: a job of 柏棠镇卫生院's
clerk prints 柏棠镇's 东村, never 诸福屯镇's (same village code, same names), even when it names 诸福屯镇's archive
codes or households itself. The PDFs are opened and read. PostgreSQL only (SQLite holds one site)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from archiveprint.accounts.models import User
from archiveprint.accounts.scope import apply_scope, site_scope
from archiveprint.db import Database
from archiveprint.jobs import queue as jobqueue
from archiveprint.jobs.runners import run_job
from tests.pdfcheck import page_texts
from tests.security.test_site_routes import _sign_in
from tests.security.two_sites import TwoSites, build_two_sites
from tests.web.conftest import RecordingDispatcher, csrf_token


@pytest.fixture
def sites(app: Flask, committed_db: Database) -> TwoSites:
    return build_two_sites(committed_db, app.extensions["archiveprint"].settings.instance_dir)


def _run(app: Flask, database: Database, job_id: int) -> tuple[str, str]:
    """Run the job; its status and the text of every PDF it wrote."""
    run_job(job_id, settings=app.extensions["archiveprint"].settings, database=database)
    with database.reader() as session:
        job = jobqueue.get_job(session, job_id)
        status, outputs = job.status, list(job.outputs or [])
    return status, "\n".join(text for output in outputs if output.endswith(".pdf")
                             for text in page_texts(Path(output)))


def test_a_print_job_of_one_site_prints_its_own_village_only(app: Flask, client: FlaskClient, sites: TwoSites,
                                                             committed_db: Database,
                                                             recording: RecordingDispatcher) -> None:
    _sign_in(client, "clerk-BT")
    token = csrf_token(client.get("/print"))
    fields = {"csrf_token": token, "village": "", "household": "", "tag": "", "codes": "", "copies": "1",
              "split_pages": ""}
    posts = {
        "/print/start": {**fields, "form_set": "form:personal_info", "village": "201"},
        "/labels/start": {"csrf_token": token, "kind": "folder", "stock": "a4-3x8", "printer": "", "village": "201",
                          "household": "", "codes": "", "since": "", "location_title": "", "start": "1", "used": "",
                          "copies": "1"},
        "/print/due/start": {"csrf_token": token, "month": "2026-11", "doctor": "", "villages": ["201"]},
    }
    for url, data in posts.items():
        response = client.post(url, data=data)
        body = response.get_data(as_text=True)
        assert response.status_code == 303, f"{url}: {response.status_code} " + " ".join(
            re.findall(r'(?:error|alert)[^>]*>([^<]{4,300})<', body))
    assert len(recording.submitted) == 3
    for job_id in recording.submitted:
        status, text = _run(app, committed_db, job_id)
        assert status == "done", job_id
        assert "张三丰" in text and "诸福屯" not in text, job_id
        assert sites.leaks(text) == [], f"job {job_id} printed site A's rows"


def test_a_job_that_names_another_sites_residents_prints_none_of_them(app: Flask, sites: TwoSites,
                                                                     committed_db: Database) -> None:
    """A job queued by B's clerk that names A's archive codes and A's household (as a job edited in the queue
    would) prints nobody of A; the same job started in A by A's clerk does print them (the control)."""
    a = sites.a
    jobs = {}
    for site, username in ((sites.b, "clerk-BT"), (a, "clerk-ZFT")):
        with committed_db.transaction() as session:
            apply_scope(session, site_scope(session, site.id))
            user = session.scalars(select(User).where(User.username == username)).one()
            jobs[username] = [
                jobqueue.create_job(session, "forms", {
                    "set": "personal_info", "set_kind": "form", "scope": {"codes": [a.resident]}, "options": {},
                    "filename": "codes.pdf", "user_id": user.id, "today": "2026-11-25"}, actor=username).id,
                jobqueue.create_job(session, "labels", {
                    "kind": "folder", "stock": "", "scope": {"codes": [a.folder]}, "options": {},
                    "filename": "labels.pdf", "user_id": user.id}, actor=username).id,
            ]
    for job_id in jobs["clerk-ZFT"]:
        status, text = _run(app, committed_db, job_id)
        assert status == "done" and "张三丰" in text and "130123-100" in text, job_id  # A's own, printed
    for job_id in jobs["clerk-BT"]:
        status, text = _run(app, committed_db, job_id)
        assert sites.leaks(text) == [], f"job {job_id} printed site A's rows ({status})"
        with committed_db.reader() as session:
            job = jobqueue.get_job(session, job_id)
            assert job.site_id == sites.b.id
            assert job.pages == 0 and job.status in ("done", "failed")
