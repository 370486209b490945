"""`archiveprint jobs clean`: removes old print-job folders, marks their rows expired, audits each; --dry-run."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from archiveprint.accounts.models import AuditEntry
from archiveprint.accounts.scope import apply_scope, site_scope
from archiveprint.cli import AppContext, main
from archiveprint.db import utcnow
from archiveprint.jobs import queue as jobqueue
from archiveprint.sites.models import Site
from archiveprint.sites.services import add_site
from tests.conftest import ACTOR, setup_township


@pytest.fixture
def instance(tmp_path):
    return tmp_path / "instance"


@pytest.fixture
def cli(committed_db, instance, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", committed_db.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ARCHIVEPRINT_INSTANCE", str(instance))
    monkeypatch.delenv("ARCHIVEPRINT_JOB_RETENTION_DAYS", raising=False)
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(main, list(args), obj=AppContext(), catch_exceptions=False)
    return run


def finished_job(database, instance, days: int) -> int:
    with database.transaction() as session:
        job = jobqueue.create_job(session, "labels", {"title": "户档案袋标签", "labels": 24}, actor=ACTOR)
        job.status, job.finished_at = "done", utcnow() - timedelta(days=days, minutes=5)
        session.flush()
        job_id = job.id
    folder = instance / "jobs" / str(job_id)
    folder.mkdir(parents=True)
    (folder / "folder-20261125.pdf").write_bytes(b"%PDF-1.7 " + b"x" * 4000)
    return job_id


def test_jobs_clean_with_the_default_retention_dry_run_first(cli, committed_db, instance):
    old, recent = finished_job(committed_db, instance, 45), finished_job(committed_db, instance, 10)
    preview = cli("jobs", "clean", "--dry-run")
    assert preview.exit_code == 0, preview.output
    assert f"jobs/{old}  #{old} 户档案袋标签 labels=24  1 个文件 4 KB，已过 45 天" in preview.stdout
    assert "将删除 1 个打印任务的文件（4 KB），保留期 30 天；预览，未删除" in preview.stdout
    assert (instance / "jobs" / str(old)).is_dir()

    done = cli("jobs", "clean")
    assert done.exit_code == 0 and "已删除 1 个打印任务的文件" in done.stdout
    assert not (instance / "jobs" / str(old)).exists() and (instance / "jobs" / str(recent)).is_dir()
    with committed_db.reader() as session:
        assert jobqueue.get_job(session, old).kept_days == 45
        assert jobqueue.get_job(session, recent).expired_at is None
        audits = session.scalars(select(AuditEntry).where(AuditEntry.action == "delete")).all()
    assert [(a.subject_type, a.subject_id) for a in audits] == [("print_job", str(old))]
    assert "（cli）" in audits[0].detail
    assert "已删除 0 个" in cli("jobs", "clean").stdout


def test_jobs_clean_older_than_and_json(cli, committed_db, instance):
    recent = finished_job(committed_db, instance, 10)
    result = cli("jobs", "clean", "--older-than", "7", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["older_than_days"], data["dry_run"], data["expired"]) == (7, False, 1)
    assert [(item["job"], item["files"], item["age_days"]) for item in data["removed"]] == [(recent, 1, 10)]
    assert cli("jobs", "clean", "--older-than", "0").exit_code == 2  # a usage error: never "remove everything"


def test_jobs_clean_reads_the_retention_setting(cli, committed_db, instance, monkeypatch):
    job_id = finished_job(committed_db, instance, 10)
    monkeypatch.setenv("ARCHIVEPRINT_JOB_RETENTION_DAYS", "14")
    assert "保留期 14 天" in cli("jobs", "clean").stdout and (instance / "jobs" / str(job_id)).is_dir()
    monkeypatch.setenv("ARCHIVEPRINT_JOB_RETENTION_DAYS", "9")
    assert "已删除 1 个" in cli("jobs", "clean").stdout


def test_jobs_clean_without_site_cleans_every_site_and_audits_each_in_its_own(cli, committed_db, instance):
    """With several sites the jobs folder is the installation's: `jobs clean` cleans every site's expired outputs
    (each removal audited in its job's site); `--site` keeps it to one."""
    if committed_db.is_sqlite:
        pytest.skip("several sites need PostgreSQL")
    with committed_db.transaction() as session:
        setup_township(session)
        first = session.scalars(select(Site)).one()
        second = add_site(session, "BT", name="柏棠镇卫生院", county_code="130123", county_name="正定县",
                          township_code="101", actor=ACTOR)
        ids = {"first": first.id, "BT": second.id}
    jobs = {}
    for name, site_id in ids.items():
        with committed_db.transaction() as session:
            apply_scope(session, site_scope(session, site_id))
            job = jobqueue.create_job(session, "labels", {"title": "户档案袋标签", "labels": 24}, actor=ACTOR)
            job.status, job.finished_at = "done", utcnow() - timedelta(days=45)
            session.flush()
            jobs[name] = job.id
        (instance / "jobs" / str(jobs[name])).mkdir(parents=True)
        (instance / "jobs" / str(jobs[name]) / "x.pdf").write_bytes(b"%PDF-1.7 ")
    kept = cli("--site", "BT", "jobs", "clean", "--json")
    assert kept.exit_code == 0, kept.output
    assert [item["job"] for item in json.loads(kept.stdout)["removed"]] == [jobs["BT"]]
    assert (instance / "jobs" / str(jobs["first"])).is_dir()
    everything = cli("jobs", "clean", "--json")
    assert everything.exit_code == 0, everything.output
    assert [item["job"] for item in json.loads(everything.stdout)["removed"]] == [jobs["first"]]
    with committed_db.reader() as session:
        audits = session.execute(select(AuditEntry.subject_id, AuditEntry.site_id)
                                 .where(AuditEntry.action == "delete").order_by(AuditEntry.id)).all()
    assert audits == [(str(jobs["BT"]), ids["BT"]), (str(jobs["first"]), ids["first"])]
