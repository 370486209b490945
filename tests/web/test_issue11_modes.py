"""#11.12: the instance folder, its SQLite database (-wal, -shm) and every print output are the owner's only."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from archiveprint.cli import AppContext, main
from archiveprint.config import Settings
from archiveprint.db import Database
from archiveprint.jobs.runners import run_job
from archiveprint.migrate import upgrade
from archiveprint.web import create_app
from tests.web.test_print_pages import job_id_of, print_input


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def default_umask() -> Iterator[None]:
    """A process started the usual way (umask 022: new files 0644, folders 0755); restored afterwards."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_issue_11_12_an_instance_made_world_readable_is_made_private_on_start(tmp_path: Path, default_umask) -> None:
    instance = tmp_path / "site"
    instance.mkdir(mode=0o755)
    url = f"sqlite:///{instance / 'archiveprint.sqlite3'}"
    old = Database.connect(url)  # an install made before #11.12: 0755 folder, 0644 database
    upgrade(old.engine)
    old.dispose()
    assert (mode(instance), mode(instance / "archiveprint.sqlite3")) == (0o755, 0o644)

    app = create_app(Settings(instance_dir=instance, database_url=url, secret_key="k"))
    database = app.extensions["archiveprint"].database
    try:
        with database.transaction() as session:  # a write creates -wal and -shm
            session.execute(text("CREATE TABLE IF NOT EXISTS _t (x INTEGER)"))
            session.execute(text("INSERT INTO _t VALUES (1)"))
        assert mode(instance) == 0o700
        for name in ("archiveprint.sqlite3", "archiveprint.sqlite3-wal", "archiveprint.sqlite3-shm"):
            assert mode(instance / name) == 0o600, name
        assert os.umask(0o077) == 0o077  # the web app's process writes everything owner-only from now on
    finally:
        database.dispose()


def test_issue_11_12_print_job_folders_and_pdfs_are_owner_only(client, auth, people, app, committed_db,
                                                                recording, default_umask) -> None:
    auth.login("clerk")
    job_id = job_id_of(client.post("/print/start", data=print_input(client, village="201")))
    os.umask(0o022)  # an RQ worker started by hand, with the usual umask
    settings = app.extensions["archiveprint"].settings
    run_job(job_id, settings=settings, database=committed_db)
    folder = settings.instance_dir / "jobs" / str(job_id)
    pdfs = list(folder.glob("*.pdf"))
    assert pdfs
    assert (mode(settings.instance_dir / "jobs"), mode(folder)) == (0o700, 0o700)
    assert {mode(p) for p in folder.rglob("*") if p.is_file()} == {0o600}
    assert mode(settings.instance_dir) == 0o700


def test_issue_11_12_every_command_writes_owner_only(committed_db, tmp_path, monkeypatch, default_umask) -> None:
    monkeypatch.setenv("DATABASE_URL", committed_db.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ARCHIVEPRINT_INSTANCE", str(tmp_path / "cli-instance"))
    result = CliRunner().invoke(main, ["village", "list", "--json"], obj=AppContext(), catch_exceptions=False)
    assert result.exit_code == 0
    assert os.umask(0o077) == 0o077
