"""#14 全县打印 with two sites that share village codes and names (PostgreSQL only): a county run over both prints
each part in its own site's scope — a part of 柏棠镇卫生院 (B) holds none of 诸福屯镇卫生院's (A's) people, read off
its PDF — with the audit rows in the part's site; failed parts are printed again across sites without duplicates;
the run's row is the installation's (a site's users never see it); the command line does the same with --sites."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from archiveprint.accounts.models import AuditEntry
from archiveprint.accounts.services import create_user
from archiveprint.cli import AppContext, main
from archiveprint.db import Database
from archiveprint.jobs.models import Job
from archiveprint.jobs.runners import run_job
from tests.pdfcheck import page_texts
from tests.security.test_site_routes import _sign_in
from tests.security.two_sites import PASSWORD, TwoSites, build_two_sites
from tests.web.conftest import RecordingDispatcher


@pytest.fixture
def sites(app: Flask, committed_db: Database) -> TwoSites:
    built = build_two_sites(committed_db, app.extensions["archiveprint"].settings.instance_dir)
    with committed_db.transaction() as session:
        create_user(session, "county-print", PASSWORD, "county_print", display_name="县打印员")
    return built


def _run_all(app: Flask, database: Database, recording: RecordingDispatcher) -> None:
    while recording.submitted:
        run_job(recording.submitted.pop(0), settings=app.extensions["archiveprint"].settings, database=database)


def _parts(database: Database, run_id: int) -> list[Job]:
    with database.reader() as session:
        return list(session.scalars(select(Job).where(Job.run_id == run_id).order_by(Job.id)))


def _text(job: Job) -> str:
    return "\n".join(text for output in job.outputs if output.endswith(".pdf") for text in page_texts(Path(output)))


def test_a_county_run_prints_each_part_in_its_own_site(app: Flask, client: FlaskClient, sites: TwoSites,
                                                       committed_db: Database,
                                                       recording: RecordingDispatcher) -> None:
    token = _sign_in(client, "county-print")
    response = client.post("/sites/print", data={"csrf_token": token, "what": "form:personal_info", "month": "",
                                                 "villages": ""})  # every active site, every village
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    run_id = int(response.headers["Location"].rsplit("/", 1)[1])
    _run_all(app, committed_db, recording)
    parts = _parts(committed_db, run_id)
    assert {part.site_id for part in parts} == {sites.a.id, sites.b.id}
    assert all(part.status == "done" for part in parts)
    for part in parts:
        text = _text(part)
        assert part.params["part"]["village"] != "201" or "张三丰" in text, part.params["part"]
        if part.site_id == sites.b.id:
            assert sites.leaks(text) == [], f"part {part.id} of site B printed site A's rows"
        else:
            assert "130123-100" in text  # the control: A's own part prints A's people
    with committed_db.reader() as session:
        run = session.get(Job, run_id)
        assert run is not None and run.site_id is None and run.status == "done"
        printed = session.execute(select(AuditEntry.site_id, AuditEntry.subject_id).where(
            AuditEntry.action == "print")).all()
    assert {site for site, _code in printed} == {sites.a.id, sites.b.id}
    assert all(code.startswith("130123100") == (site == sites.a.id) for site, code in printed)

    page = client.get(f"/sites/print/{run_id}").get_data(as_text=True)
    assert "2 个机构" in page and "诸福屯镇卫生院" in page and "柏棠镇卫生院" in page
    with client.get(f"/sites/print/{run_id}/files/{Path(run.outputs[0]).name}") as download:
        assert download.status_code == 200
        with zipfile.ZipFile(io.BytesIO(download.get_data())) as archive:
            assert {name.split("/")[0] for name in archive.namelist()} == {"诸福屯镇卫生院", "柏棠镇卫生院"}
    with client.get(f"/sites/print/{run_id}/sites/BT.zip") as download:
        site_zip = download.get_data()
    with zipfile.ZipFile(io.BytesIO(site_zip)) as archive:
        names = archive.namelist()
        assert names and all(name.startswith("柏棠镇卫生院/") for name in names)
        assert all(sites.leaks(text) == [] for name in names for text in page_texts(archive.read(name)))
    with committed_db.reader() as session:
        exports = session.execute(select(AuditEntry.site_id, AuditEntry.detail).where(
            AuditEntry.action == "export")).all()
    assert sorted(site for site, _detail in exports) == sorted([sites.a.id, sites.b.id, sites.b.id])

    # Failed parts in both sites are queued again once, however often asked; done parts are not printed again.
    with committed_db.transaction() as session:
        session.execute(update(Job).where(Job.run_id == run_id).values(status="failed", error="测试"))
        session.execute(update(Job).where(Job.id == run_id).values(status="failed"))
    for _ in range(2):
        client.post(f"/sites/print/{run_id}/rerun", data={"csrf_token": token})
    assert sorted(recording.submitted) == [part.id for part in parts]
    _run_all(app, committed_db, recording)
    assert [part.status for part in _parts(committed_db, run_id)] == ["done"] * len(parts)
    with committed_db.reader() as session:
        assert session.scalars(select(Job.status).where(Job.id == run_id)).one() == "done"
        assert len(session.scalars(select(Job.id).where(Job.run_id == run_id)).all()) == len(parts)

    # A site's users never see the run: its page is the county's (403), its row no site's (404).
    client.post("/logout", data={"csrf_token": token})
    _sign_in(client, "admin-BT")
    assert client.get(f"/sites/print/{run_id}").status_code == 403
    assert client.get(f"/print/jobs/{run_id}").status_code == 404
    assert client.get(f"/print/jobs/{parts[0].id}").status_code == 404  # nor another user's (or site's) part


def test_the_command_line_prints_for_several_sites_and_never_with_site(sites: TwoSites, committed_db: Database,
                                                                      tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", committed_db.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ARCHIVEPRINT_INSTANCE", str(tmp_path / "cli-instance"))
    monkeypatch.delenv("REDIS_URL", raising=False)

    def cli(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(main, list(args), obj=AppContext(), catch_exceptions=False)

    refused = cli("--site", "BT", "print", "forms", "--form", "personal_info", "--all-sites", "-o",
                  str(tmp_path / "x.zip"))
    assert refused.exit_code == 2 and "不能与 --site" in refused.output
    result = cli("print", "forms", "--form", "personal_info", "--sites", "BT,ZFT", "--village", "东村", "-o",
                 str(tmp_path / "county.zip"), "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output[result.output.index("{"):])
    assert [(site["site"], site["status"]) for site in shown["sites"]] == [("ZFT", "done"), ("BT", "done")]
    with zipfile.ZipFile(tmp_path / "county.zip") as archive:
        assert sorted(archive.namelist()) == ["柏棠镇卫生院/201-东村.pdf", "诸福屯镇卫生院/201-东村.pdf"]
        assert sites.leaks("\n".join(page_texts(archive.read("柏棠镇卫生院/201-东村.pdf")))) == []
    run_id = shown["run"]
    assert json.loads(cli("jobs", "show", str(run_id), "--json").output)["status"] == "done"
    hidden = cli("--site", "BT", "jobs", "show", str(run_id), "--json")
    assert hidden.exit_code == 1 and "没有这个打印任务" in hidden.output
