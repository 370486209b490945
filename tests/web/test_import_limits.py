"""Issue #11.8 on the web: an over-limit upload is refused in the request; a check never holds the write lock."""

from __future__ import annotations

import sqlite3
from io import BytesIO

from sqlalchemy import select

from archiveprint.accounts.models import AuditEntry
from archiveprint.accounts.services import audit
from archiveprint.db import Database
from archiveprint.jobs import queue as jobqueue
from archiveprint.jobs.models import Job
from archiveprint.register import demo, importjob, services, uploads
from archiveprint.register.models import Resident
from tests.conftest import ACTOR, TODAY
from tests.register.test_file_limits import write_sheet, wrong_header_then
from tests.web.conftest import csrf_token
from tests.web.test_import_jobs import app, upload  # noqa: F401 - the low-threshold app of that module
from tests.web.test_register_pages import count


def test_issue_11_8_a_zip_bomb_upload_is_refused_in_the_request_and_not_kept(
        client, auth, township, committed_db, recording, app, tmp_path):  # noqa: F811
    auth.login("clerk")
    bomb = write_sheet(tmp_path / "花名册.xlsx", wrong_header_then(400_000))  # under 500 KB zipped
    page = client.get("/import")
    response = client.post("/import", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(page), "file": (BytesIO(bomb.read_bytes()), bomb.name)})
    html = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "文件过大，未导入：Excel 文件中“xl/worksheets/sheet1.xml”的压缩比" in html and "超过上限 100 倍" in html
    assert recording.submitted == []  # no job was started for it
    with committed_db.reader() as session:
        assert session.scalars(select(Job)).all() == []
    root = uploads.upload_root(app.extensions["archiveprint"].settings.instance_dir)
    assert not root.exists() or list(root.iterdir()) == []


def test_issue_11_8_a_check_job_leaves_the_database_open_to_other_writers(
        client, auth, committed_db, recording, app, tmp_path):  # noqa: F811
    """While a 1,269-row check runs (stopped after its first 1,000 rows), another connection takes SQLite's write
    lock at once (as a login's audit row does), and a change commits: before, the check held BEGIN IMMEDIATE to
    its end, and they waited, then failed."""
    township = demo.generate(seed=7, villages=1, households_per_village=400, today=TODAY)
    with committed_db.transaction() as session:
        services.configure_township(session, township.county_code, township.county_name, township.township_code,
                                    township.township_name, unit_name=township.unit_name, actor=ACTOR)
    rows = demo.write_export(township, tmp_path / "花名册.csv")
    auth.login("clerk")
    location = upload(client, tmp_path / "花名册.csv")
    [check] = recording.submitted
    assert jobqueue.claim(committed_db, check)  # what the runner does before it runs the job
    with committed_db.reader() as session:
        params = dict(session.get(Job, check).params)
    root = uploads.upload_root(app.extensions["archiveprint"].settings.instance_dir)
    written: list[int] = []

    def meanwhile(rows_read: int) -> None:
        if written:
            return
        if committed_db.is_sqlite:
            other = sqlite3.connect(committed_db.engine.url.database or "", timeout=1, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")  # "database is locked" after 1 s if the check holds it
                other.execute("ROLLBACK")
            finally:
                other.close()
        with committed_db.transaction() as session:
            audit(session, None, "login", "user", "someone", detail="while a check runs")
        written.append(rows_read)

    importjob.run_job(committed_db, root, check, importjob.CHECK, params, actor="clerk-user", progress=meanwhile)
    assert written == [1000]
    with committed_db.reader() as session:
        assert session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "login")).all() == [
            "while a check runs"]
        assert session.get(Job, check).status == "done"
    report = client.get(location).get_data(as_text=True)
    assert "检查通过，尚未写入" in report and f'<span class="n">{rows}</span>总行数' in report
    assert count(committed_db, Resident) == 0  # a dry run: nothing of the file written


def test_issue_11_8_the_scratch_session_writes_nowhere(committed_db: Database):
    """What a dry run writes on the scratch session is gone when it ends, even if committed, on either database."""
    with committed_db.scratch() as session:
        audit(session, None, "login", "user", "someone", detail="scratch")
        session.flush()
        assert session.scalars(select(AuditEntry.detail)).all() == ["scratch"]
        session.commit()
    with committed_db.reader() as session:
        assert session.scalars(select(AuditEntry.detail)).all() == []
