"""A large register file is checked and applied as a background job: live progress, the same report, one import."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import datetime
from io import BytesIO
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import event, select, text

from archiveprint.accounts.models import AuditEntry, User
from archiveprint.config import Settings
from archiveprint.db import Database
from archiveprint.errors import Conflict, InvalidValue
from archiveprint.jobs import queue as jobqueue
from archiveprint.jobs.models import Job
from archiveprint.jobs.runners import job_dir, run_job
from archiveprint.register import demo, importjob, services, uploads
from archiveprint.register.models import ImportRun, Resident
from archiveprint.web import create_app
from tests.conftest import ACTOR, TODAY
from tests.waiting import eventually
from tests.web.conftest import (
    LIU_BEI_ID,
    PASSWORD,
    AuthActions,
    csrf_token,
    faulty_export,
    good_export,
    write_export,
)
from tests.web.test_register_pages import count

THRESHOLD = 2  # good_export has 3 rows and faulty_export 4: both go to the background; a 1-row file does not
NOON = datetime(2026, 11, 25, 12, 0)  # when the restart happened (naive UTC, as stored)


@pytest.fixture
def app(committed_db: Database, tmp_path: Path) -> Iterator[Flask]:
    """The web app with a low import threshold (replaces tests/web/conftest.py's `app` in this module)."""
    settings = Settings(instance_dir=tmp_path / "instance", secret_key="test-secret-key",
                        database_url=committed_db.engine.url.render_as_string(hide_password=False),
                        import_background_rows=THRESHOLD)
    app = create_app(settings, database=committed_db)
    app.config.update(TESTING=True, ARCHIVEPRINT_TODAY=TODAY)
    yield app


def upload(client: FlaskClient, path: Path) -> str:
    page = client.get("/import")
    response = client.post("/import", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(page), "file": (BytesIO(path.read_bytes()), path.name), "add_villages": "y"})
    assert response.status_code == 303
    return response.headers["Location"]


def run(app: Flask, database: Database, job_id: int) -> None:
    """What the dispatcher's thread or an RQ worker does with the job."""
    run_job(job_id, settings=app.extensions["archiveprint"].settings, database=database)


def import_jobs(database: Database) -> list[tuple[str, str]]:
    with database.reader() as session:
        return [(job.kind, job.status) for job in session.scalars(
            select(Job).where(Job.kind.in_(importjob.KINDS)).order_by(Job.id))]


def import_audit(database: Database) -> list[tuple[str, str, str]]:
    with database.reader() as session:
        return [(row.username, row.action, row.detail) for row in session.scalars(
            select(AuditEntry).where(AuditEntry.subject_type == "import").order_by(AuditEntry.id))]


def wait_until_finished(client: FlaskClient, location: str) -> dict:  # type: ignore[type-arg]
    def finished() -> dict | None:  # type: ignore[type-arg]
        state = client.get(location + "/job.json").get_json()
        return state if state["finished"] else None
    return eventually(finished, what="the import job finished", every=0.05)


def test_a_large_file_is_checked_as_a_job_shows_the_same_report_and_is_applied_once(
        client, auth, township, committed_db, recording, app, tmp_path):
    auth.login("clerk")
    location = upload(client, good_export(tmp_path / "register.csv"))
    [check] = recording.submitted
    waiting = client.get(location).get_data(as_text=True)
    assert 'id="job"' in waiting and "jobs.js" in waiting and f'data-status-url="{location}/job.json"' in waiting
    assert "排队中" in waiting and "0 / 3" in waiting and "确认导入" not in waiting
    state = client.get(location + "/job.json").get_json()
    assert (state["status"], state["done"], state["total"], state["finished"]) == ("queued", 0, 3, False)
    assert import_audit(committed_db) == []  # nothing checked yet

    run(app, committed_db, check)
    state = client.get(location + "/job.json").get_json()
    assert (state["status"], state["done"], state["total"], state["percent"], state["finished"]) == (
        "done", 3, 3, 100, True)
    report = client.get(location).get_data(as_text=True)
    assert "检查通过，尚未写入" in report and "203 南村" in report and "jobs.js" not in report
    assert count(committed_db, Resident) == 0 and count(committed_db, ImportRun) == 0

    confirmed = client.post(location + "/apply", data={"csrf_token": csrf_token(report)})
    assert (confirmed.status_code, confirmed.headers["Location"]) == (303, location)
    [_check, apply] = recording.submitted
    applying = client.get(location).get_data(as_text=True)
    assert "导入登记表" in applying and "jobs.js" in applying and "整份文件要么全部写入" in applying
    run(app, committed_db, apply)
    done = client.get(location).get_data(as_text=True)
    assert "导入完成" in done and "已写入：新增 3 人" in done
    assert count(committed_db, Resident) == 3 and count(committed_db, ImportRun) == 1
    assert import_jobs(committed_db) == [("import_check", "done"), ("import_apply", "done")]
    # The same audit rows as a small file checked and applied inside the request.
    assert import_audit(committed_db) == [("clerk-user", "import", "dry_run rows=3 problems=0"),
                                          ("clerk-user", "import", "applied rows=3 added=3 changed=0")]
    folder = uploads.upload_root(app.extensions["archiveprint"].settings.instance_dir) / location.rsplit("/", 1)[1]
    assert sorted(p.name for p in folder.iterdir()) == ["meta.json"]  # the file with people's data is gone
    assert not job_dir(app.extensions["archiveprint"].settings, apply).exists()

    again = client.post(location + "/apply", data={"csrf_token": csrf_token(report)})
    assert again.status_code == 409 and "已经导入" in again.get_data(as_text=True)
    assert len(recording.submitted) == 2 and count(committed_db, Resident) == 3
    # Import jobs are not print jobs: the print centre neither lists nor shows them.
    assert "register.csv" not in client.get("/print/jobs").get_data(as_text=True)
    assert client.get(f"/print/jobs/{check}").status_code == 404


def test_a_faulty_large_file_runs_on_the_background_thread_and_lists_every_problem(
        client, auth, township, committed_db, tmp_path):
    auth.login("clerk")
    location = upload(client, faulty_export(tmp_path / "东村登记表.csv"))
    assert wait_until_finished(client, location)["status"] == "done"
    html = client.get(location).get_data(as_text=True)
    assert "发现 3 个问题，没有写入任何数据" in html and "确认导入" not in html
    with client.get(location + "/errors.xlsx") as download:
        workbook = load_workbook(BytesIO(download.data))
    assert [row[:2] for row in workbook["错误"].iter_rows(min_row=2, values_only=True)] == [
        (3, "身份证号"), (4, "档案编号"), (5, "姓名")]
    assert count(committed_db, Resident) == 0
    assert [detail for _user, _action, detail in import_audit(committed_db)] == [
        "dry_run rows=4 problems=3", "error report"]


def test_a_large_file_that_cannot_be_read_fails_its_check_job_in_chinese_and_is_not_kept(
        client, auth, township, committed_db, recording, app, tmp_path):
    auth.login("clerk")
    path = tmp_path / "notes.csv"
    path.write_text("甲,乙\n1,2\n3,4\n", encoding="utf-8")  # rows, but no register header
    location = upload(client, path)
    run(app, committed_db, recording.submitted[0])
    state = client.get(location + "/job.json").get_json()
    assert (state["status"], state["finished"]) == ("failed", True) and "表头" in state["error"]
    page = client.get(location).get_data(as_text=True)
    assert "检查失败：" in page and "表头" in page and "没有写入任何数据" in page and "jobs.js" not in page
    folder = uploads.upload_root(app.extensions["archiveprint"].settings.instance_dir) / location.rsplit("/", 1)[1]
    assert sorted(p.name for p in folder.iterdir()) == ["meta.json"]  # the file is gone, the page can say why
    assert import_audit(committed_db) == []


def test_a_small_file_is_still_checked_inside_the_request(client, auth, township, committed_db, recording,
                                                          tmp_path):
    auth.login("clerk")
    location = upload(client, write_export(tmp_path / "one.csv", [
        ("13012310020100001", "刘备", "男", "1961-07-23", LIU_BEI_ID, "户主", "刘备", "H-001", "东村3组1号", "东村",
         "", "", "")]))
    assert recording.submitted == [] and import_jobs(committed_db) == []
    assert "检查通过，尚未写入" in client.get(location).get_data(as_text=True)


class ClickWatch:
    """What the click threads do on the database, seen through engine events (no sleeps, no guessing):

    `held` — a click is inside the statement that waits for the first click's transaction (SQLite: BEGIN
    IMMEDIATE, which cannot finish while another writer holds the write lock; PostgreSQL: the upload's advisory
    lock); `timeline` — each click's read of the job table inside start_job, and the moment the first commits."""

    def __init__(self, database: Database, threads: list[threading.Thread], monkeypatch: pytest.MonkeyPatch) -> None:
        self.database = database
        self.threads = threads
        self.changed = threading.Condition()
        self.held = [False] * len(threads)
        self.read = [False] * len(threads)
        self.timeline: list[str] = []
        self.inside = threading.local()
        real = importjob.start_job

        def start_job(*args: object, **kwargs: object) -> tuple[Job, bool]:
            self.inside.start_job = True
            try:
                return real(*args, **kwargs)  # type: ignore[arg-type]
            finally:
                self.inside.start_job = False

        monkeypatch.setattr(importjob, "start_job", start_job)

    def _click(self) -> int | None:
        ident = threading.get_ident()
        return next((i for i, thread in enumerate(self.threads) if thread.ident == ident), None)

    def before(self, _conn, _cursor, statement: str, *_args: object) -> None:  # type: ignore[no-untyped-def]
        index = self._click()
        if index is not None and ("BEGIN IMMEDIATE" in statement or "pg_advisory_xact_lock" in statement):
            with self.changed:
                self.held[index] = True
                self.changed.notify_all()

    def after(self, _conn, _cursor, statement: str, *_args: object) -> None:  # type: ignore[no-untyped-def]
        index = self._click()
        if index is None:
            return
        with self.changed:
            self.held[index] = False
            if getattr(self.inside, "start_job", False) and re.match(r"SELECT\b.*\bFROM jobs\b", statement, re.S):
                self.read[index] = True
                self.timeline.append(f"click {index} reads the jobs")
            self.changed.notify_all()

    def wait_until_each_click_waits_or_has_read(self) -> list[bool]:
        with self.changed:
            assert self.changed.wait_for(lambda: all(h or r for h, r in zip(self.held, self.read, strict=True)),
                                         timeout=30), "the clicks neither waited nor read the job table"
            return list(self.held)

    def advisory_waiters(self) -> int:
        """PostgreSQL only, from a connection of its own: clicks queued behind the upload's advisory lock."""
        with self.database.engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
                                ).scalar_one()


def test_two_clicks_on_confirm_while_the_first_is_not_committed_start_one_import(
        client, auth, township, committed_db, recording, app, tmp_path, monkeypatch):
    """The first click's transaction is held open (as a slow request would); two more clicks, from two browsers
    of the same clerk, wait for it and both get its job; only one apply job exists, and it imports once.

    That they waited is shown by the database, not by time: the test commits only once each click is blocked
    (inside the statement that waits for the first transaction; on PostgreSQL also seen as an ungranted advisory
    lock from another connection) or has read the job table — and each click's read must come after the commit."""
    auth.login("clerk")
    location = upload(client, good_export(tmp_path / "register.csv"))
    run(app, committed_db, recording.submitted[0])
    token = location.rsplit("/", 1)[1]
    root = uploads.upload_root(app.extensions["archiveprint"].settings.instance_dir)
    clients = [client, app.test_client()]
    AuthActions(clients[1], committed_db).sign_in("clerk-user", PASSWORD)
    forms = [{"csrf_token": csrf_token(c.get(location))} for c in clients]
    with committed_db.reader() as session:
        user_id = session.scalars(select(User.id).where(User.username == "clerk-user")).one()

    responses: list[object] = [None, None]

    def click(index: int) -> None:
        responses[index] = clients[index].post(location + "/apply", data=forms[index])

    threads = [threading.Thread(target=click, args=(index,)) for index in range(2)]
    watch = ClickWatch(committed_db, threads, monkeypatch)
    event.listen(committed_db.engine, "before_cursor_execute", watch.before)
    event.listen(committed_db.engine, "after_cursor_execute", watch.after)
    try:
        with committed_db.writer() as first:
            job, created = importjob.start_job(first, root, token, importjob.APPLY, actor="clerk-user",
                                               user_id=user_id, today=TODAY)
            assert created
            for thread in threads:
                thread.start()
            held = watch.wait_until_each_click_waits_or_has_read()
            if not committed_db.is_sqlite:
                queued = sum(held)
                deadline = threading.Event()
                for _ in range(3000):  # the lock queue is observed, not waited for by the clock
                    if watch.advisory_waiters() == queued or deadline.wait(0.01):
                        break
                assert watch.advisory_waiters() == queued
            watch.timeline.append("first commits")
            first.commit()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        event.remove(committed_db.engine, "before_cursor_execute", watch.before)
        event.remove(committed_db.engine, "after_cursor_execute", watch.after)
    assert held == [True, True], "a click did not wait for the first"
    assert watch.timeline[0] == "first commits" and sorted(watch.timeline[1:]) == [
        "click 0 reads the jobs", "click 1 reads the jobs"], watch.timeline
    assert [(r.status_code, r.headers["Location"]) for r in responses] == [(303, location)] * 2  # type: ignore[attr-defined]
    assert import_jobs(committed_db) == [("import_check", "done"), ("import_apply", "queued")]
    assert len(recording.submitted) == 1  # the two clicks found the first's job: neither started another

    run(app, committed_db, job.id)
    assert "已写入：新增 3 人" in client.get(location).get_data(as_text=True)
    assert count(committed_db, Resident) == 3 and count(committed_db, ImportRun) == 1


def test_an_import_interrupted_by_a_restart_wrote_nothing_says_so_and_can_be_confirmed_again(
        client, auth, township, committed_db, recording, app, tmp_path):
    auth.login("clerk")
    location = upload(client, good_export(tmp_path / "register.csv"))
    run(app, committed_db, recording.submitted[0])
    report = client.get(location)
    client.post(location + "/apply", data={"csrf_token": csrf_token(report)})
    apply = recording.submitted[1]
    # The worker took the job and the file, then the process stopped in the middle of the import.
    assert jobqueue.claim(committed_db, apply)
    stored = uploads.load(uploads.upload_root(app.extensions["archiveprint"].settings.instance_dir),
                          location.rsplit("/", 1)[1])
    uploads.claim(uploads.upload_root(app.extensions["archiveprint"].settings.instance_dir), stored)
    with committed_db.transaction() as session:
        jobqueue.recover_interrupted(session, now=NOON)

    page = client.get(location).get_data(as_text=True)
    assert "导入失败：服务重启，任务中断，请重新提交" in page and "整份文件没有写入任何数据" in page
    assert count(committed_db, Resident) == 0 and count(committed_db, ImportRun) == 0
    assert [action for _u, action, _d in import_audit(committed_db)] == ["import"]  # the check's row only

    again = client.post(location + "/apply", data={"csrf_token": csrf_token(page)})
    assert again.status_code == 303 and len(recording.submitted) == 3
    run(app, committed_db, recording.submitted[2])
    assert "已写入：新增 3 人" in client.get(location).get_data(as_text=True)
    assert count(committed_db, Resident) == 3


def test_a_job_marked_interrupted_while_it_imports_rolls_its_import_back(
        client, auth, township, committed_db, recording, app, tmp_path):
    """A restart marks the job failed while an old worker still runs it: that worker's import must not commit,
    or the page would say 'failed' over a written register."""
    auth.login("clerk")
    location = upload(client, good_export(tmp_path / "register.csv"))
    run(app, committed_db, recording.submitted[0])
    client.post(location + "/apply", data={"csrf_token": csrf_token(client.get(location))})
    apply = recording.submitted[1]
    assert jobqueue.claim(committed_db, apply)
    with committed_db.transaction() as session:
        jobqueue.recover_interrupted(session, now=NOON)
    with committed_db.reader() as session:
        job = jobqueue.get_job(session, apply)
        kind, params = job.kind, dict(job.params)
    root = uploads.upload_root(app.extensions["archiveprint"].settings.instance_dir)
    with pytest.raises(Conflict, match="任务已被标记为中断"):
        importjob.run_job(committed_db, root, apply, kind, params, actor="clerk-user", progress=lambda rows: None)
    assert count(committed_db, Resident) == 0 and count(committed_db, ImportRun) == 0
    stored = uploads.load(root, params["token"])
    assert stored.state == "checked" and stored.source(root).is_file()  # the file is back, ready to confirm again


def test_a_register_change_since_the_check_makes_the_apply_job_write_nothing(
        client, auth, township, committed_db, recording, app, tmp_path):
    auth.login("clerk")
    location = upload(client, good_export(tmp_path / "register.csv"))
    run(app, committed_db, recording.submitted[0])
    report = client.get(location)
    with committed_db.transaction() as session:  # another clerk registers someone with 刘备's ID number
        village = services.find_village(session, "202")
        home = services.create_household(session, village, head_name="刘某", actor=ACTOR)
        services.register_resident(session, home, name="刘某", sex="1", relation_to_head="户主",
                                   id_number=LIU_BEI_ID, actor=ACTOR)
    client.post(location + "/apply", data={"csrf_token": csrf_token(report)})
    run(app, committed_db, recording.submitted[1])
    html = client.get(location).get_data(as_text=True)
    assert "没有写入任何数据" in html and "身份证号" in html and "确认导入" not in html
    assert count(committed_db, Resident) == 1 and count(committed_db, ImportRun) == 0
    assert import_jobs(committed_db) == [("import_check", "done"), ("import_apply", "done")]


def test_the_page_shows_rows_read_of_the_total_while_a_large_check_runs(
        client, auth, committed_db, recording, app, tmp_path, monkeypatch):
    """1,269 rows: the importer reports after each 1,000. On SQLite the import holds the only write lock, so the
    job writes its progress beside it (a file in its folder); on PostgreSQL on its row. Either way the page's
    poll sees it while the job runs."""
    township = demo.generate(seed=7, villages=1, households_per_village=400, today=TODAY)
    with committed_db.transaction() as session:
        services.configure_township(session, township.county_code, township.county_name, township.township_code,
                                    township.township_name, unit_name=township.unit_name, actor=ACTOR)
    rows = demo.write_export(township, tmp_path / "花名册.csv")
    auth.login("clerk")
    location = upload(client, tmp_path / "花名册.csv")
    seen: list[tuple[str, str, int, int]] = []
    report_progress = jobqueue.report_progress

    def and_look(*args: object, **kwargs: object) -> None:
        report_progress(*args, **kwargs)  # type: ignore[arg-type]
        state = client.get(location + "/job.json").get_json()
        seen.append((state["status"], state["label"], state["done"], state["total"]))

    monkeypatch.setattr(jobqueue, "report_progress", and_look)
    run(app, committed_db, recording.submitted[0])
    assert seen[0][:3] == ("running", "正在检查", 1000) and seen[0][3] >= rows
    state = client.get(location + "/job.json").get_json()
    assert (state["status"], state["done"], state["total"]) == ("done", rows, rows)
    html = client.get(location).get_data(as_text=True)
    assert "检查通过，尚未写入" in html and f'<span class="n">{rows}</span>总行数' in html
    assert not job_dir(app.extensions["archiveprint"].settings, recording.submitted[0]).exists()



def test_the_threshold_is_a_setting_and_rows_are_counted_without_parsing_the_file(tmp_path):
    env = {"ARCHIVEPRINT_INSTANCE": str(tmp_path / "instance"), "SECRET_KEY": "k"}
    assert Settings.from_env(env).import_background_rows == 2000
    assert Settings.from_env({**env, "ARCHIVEPRINT_IMPORT_BACKGROUND_ROWS": "0"}).import_background_rows == 0
    for wrong in ("-1", "many"):
        with pytest.raises(InvalidValue, match="行数应为不小于 0 的整数"):
            Settings.from_env({**env, "ARCHIVEPRINT_IMPORT_BACKGROUND_ROWS": wrong})
    township = demo.generate(seed=7, villages=1, households_per_village=40, today=TODAY)
    for name in ("花名册.xlsx", "花名册.csv"):
        rows = demo.write_export(township, tmp_path / name)
        assert importjob.estimate_rows(tmp_path / name) == rows + 1  # the title line above the header counts too
    workbook = bytearray((tmp_path / "花名册.xlsx").read_bytes())
    middle = len(workbook) // 2
    workbook[middle:middle + 512] = bytes(512)  # a damaged sheet: the importer will say so, the count gives up
    (tmp_path / "broken.xlsx").write_bytes(workbook)
    assert importjob.estimate_rows(tmp_path / "broken.xlsx") == 0
