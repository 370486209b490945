"""#14 print runs in the print centre: 按村分批 previewed per village, started as a run of one job per village, its
page showing each village's progress, the zip and each village's own file; a failed village named with its reason
and printed again."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date

from sqlalchemy import update

from archiveprint.jobs.runners import run_job
from archiveprint.register.models import Resident
from tests.jobs.test_print_runs import LACKING, villages  # noqa: F401  # the fixture: 3 villages, 6 residents
from tests.pdfcheck import read
from tests.web.conftest import csrf_token
from tests.web.test_print_pages import audit_rows, fetch, job_id_of, print_input, wait_until_finished

FILES = re.compile(r'href="(/print/jobs/\d+/files/[^"]+)"')


def test_a_run_by_village_previews_prints_and_downloads_as_one_zip_and_per_village(client, auth, villages,  # noqa: F811
                                                                                   committed_db):
    auth.login("clerk")
    values = {"per_village": True, "villages": ["202", "001"]}
    preview = client.post("/print/preview", data=print_input(client, **values)).get_data(as_text=True)
    assert re.search(r"2 个村，4 人，4 页", preview)
    assert re.findall(r"<tr><td>(\d+ \S+)</td>", preview) == ["001 城关社区", "202 西村"]

    run_id = job_id_of(client.post("/print/start", data=print_input(client, **values)))
    state = wait_until_finished(client, run_id)  # the app's local thread runs the villages one after another
    assert (state["status"], state["label"], state["pages"], state["percent"]) == ("done", "完成", 4, 100)
    assert [(part["status"], part["total"]) for part in state["parts"]] == [("done", 3), ("done", 1)]

    page = client.get(f"/print/jobs/{run_id}").get_data(as_text=True)
    assert "2 个村，每村一个文件" in page and "已生成 4 页" in page and "jobs.js" not in page
    zip_link, *village_links = FILES.findall(page)
    assert zip_link.endswith(".zip") and len(village_links) == 2
    with zipfile.ZipFile(io.BytesIO(fetch(client, zip_link))) as archive:
        assert [(name, len(read(archive.read(name)).pages)) for name in archive.namelist()] == [
            ("001-城关社区.pdf", 3), ("202-西村.pdf", 1)]
    assert len(read(fetch(client, village_links[1])).pages) == 1
    assert "个人基本信息表-西村-20261125.pdf" in page
    assert [row.subject_id for row in audit_rows(committed_db, "export")] == [str(run_id), village_links[1].split(
        "/")[3]]
    listing = client.get("/print/jobs").get_data(as_text=True)  # the run is listed, not its villages
    assert f"/print/jobs/{run_id}" in listing and "按村分批，2 个村" in listing
    assert len(re.findall(r'<td class="num"><a href="/print/jobs/\d+">', listing)) == 1


def run_submitted(app, committed_db, recording) -> None:  # type: ignore[no-untyped-def]
    """What the local thread does with the parts the page handed on: each, one after another."""
    while recording.submitted:
        run_job(recording.submitted.pop(0), settings=app.extensions["archiveprint"].settings, database=committed_db)


def test_a_failed_village_is_named_with_its_reason_and_printed_again(client, auth, villages, committed_db,  # noqa: F811
                                                                     recording, app):
    auth.login("clerk")
    run_id = job_id_of(client.post("/print/start", data=print_input(client, per_village=True)))
    assert len(recording.submitted) == 3
    with committed_db.transaction() as session:  # too late for the plan's check: 西村's part fails
        session.execute(update(Resident).where(Resident.name == "李西").values(name=f"李{LACKING}"))
    run_submitted(app, committed_db, recording)
    state = wait_until_finished(client, run_id)
    assert state["status"] == "partial" and state["label"] == "部分完成"
    page = client.get(f"/print/jobs/{run_id}").get_data(as_text=True)
    assert "1 个村未完成（共 3 个）" in page and "字体缺少的字" in page
    assert re.search(r"202 西村</td>\s*<td><span class=\"status status-failed\"", page)
    assert len(FILES.findall(page)) == 3  # the zip of the two villages done, and each of theirs

    with committed_db.transaction() as session:
        session.execute(update(Resident).where(Resident.name == f"李{LACKING}").values(name="李西"))
    again = client.post(f"/print/jobs/{run_id}/rerun", data={"csrf_token": csrf_token(page)})
    assert again.status_code == 303 and len(recording.submitted) == 1
    assert client.get(f"/print/jobs/{run_id}.json").get_json()["status"] == "running"
    run_submitted(app, committed_db, recording)
    assert wait_until_finished(client, run_id)["status"] == "done"
    twice = client.post(f"/print/jobs/{run_id}/rerun", data={"csrf_token": csrf_token(page)},
                        follow_redirects=True).get_data(as_text=True)
    assert "没有失败的村需要重新生成" in twice
    assert len(audit_rows(committed_db, "print")) == 6  # each resident printed once


def test_a_run_refuses_a_single_village_or_a_blank_print(client, auth, villages):  # noqa: F811
    auth.login("clerk")
    for values in ({"village": "201"}, {"blank": True}, {"household": "201-1"}):
        refused = client.post("/print/start", data=print_input(client, per_village=True, **values))
        assert refused.status_code == 400 and "按村分批" in refused.get_data(as_text=True)


def test_the_monthly_packet_by_village(client, auth, villages, committed_db):  # noqa: F811
    with committed_db.transaction() as session:
        session.execute(update(Resident).values(birth_date=date(1950, 12, 3)))
    auth.login("clerk")
    page = client.get("/print/due")
    run_id = job_id_of(client.post("/print/due/start", data={
        "csrf_token": csrf_token(page), "month": "2026-12", "per_village": "y", "villages": ["201", "202"]}))
    assert wait_until_finished(client, run_id)["status"] == "done"
    page = client.get(f"/print/jobs/{run_id}").get_data(as_text=True)
    with zipfile.ZipFile(io.BytesIO(fetch(client, FILES.findall(page)[0]))) as archive:
        assert archive.namelist() == ["201-东村.pdf", "201-东村-调档单.pdf", "202-西村.pdf", "202-西村-调档单.pdf"]
