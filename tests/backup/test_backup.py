"""#11.13: `archiveprint backup` and `restore` round-trip every table and the instance's files on both databases,
refuse a non-empty target, a newer schema and a foreign file, upgrade an older schema, and copy consistently while
another connection keeps writing."""

from __future__ import annotations

import io
import json
import os
import tarfile
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import MetaData, create_engine, select, text
from sqlalchemy.engine import Engine

from archiveprint.backup.services import make_backup
from archiveprint.cli import AppContext, main
from archiveprint.db import Database
from archiveprint.eventlog import record_event
from archiveprint.lending.rules import load_rules, shipped_rules_file
from archiveprint.lending.services import check_out
from archiveprint.migrate import current_revision, head_revision, upgrade
from archiveprint.register.codes import folder_code
from tests.conftest import ACTOR, _drop_postgres, _fresh_postgres, _worker
from tests.lending.conftest import T0, build_archive


def dump_tables(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, in primary-key order: the oracle the restored copy is compared with."""
    metadata = MetaData()
    with engine.connect() as connection:
        metadata.reflect(connection)
        out = {}
        for name, table in sorted(metadata.tables.items()):
            order = list(table.primary_key.columns) or list(table.columns)
            out[name] = [tuple(row) for row in connection.execute(select(table).order_by(*order))]
    return out


@pytest.fixture
def source(committed_db: Database) -> Database:
    """A lending archive with a loan: users, villages, households, residents, shelves, events, borrowers."""
    rules = load_rules([shipped_rules_file()])
    with committed_db.transaction() as session:
        made = build_archive(session, now=T0)
        home = made["homes"][0]
        check_out(session, folder_code(home.village.full_code, home.number).value, borrower=made["doctor"],
                  purpose="随访", rules=rules, actor=ACTOR, now=T0 + timedelta(hours=1))
    return committed_db


@pytest.fixture
def target_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the same kind to restore into."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored' / 'archiveprint.sqlite3'}"
        return
    name = f"archiveprint_restore_{_worker()}_{os.getpid()}"
    yield _fresh_postgres(name)
    _drop_postgres(name)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    def run(url: str, instance: Path, *args: str) -> Result:
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv("ARCHIVEPRINT_INSTANCE", str(instance))
        return CliRunner().invoke(main, list(args), obj=AppContext(), catch_exceptions=False)
    return run


def url_of(database: Database) -> str:
    return database.engine.url.render_as_string(hide_password=False)


def instance_with_files(root: Path) -> Path:
    instance = root / "instance"
    (instance / "labels" / "stock").mkdir(parents=True)
    (instance / "labels" / "stock" / "site.yaml").write_text("id: site\nname: 本院标签\n", encoding="utf-8")
    (instance / "form_variants.yaml").write_text("personal_info: {}\n", encoding="utf-8")
    (instance / "jobs" / "7").mkdir(parents=True)
    (instance / "jobs" / "7" / "forms.pdf").write_bytes(b"%PDF-1.7 job output")
    (instance / "uploads").mkdir()
    (instance / "uploads" / "pending.csv").write_text("姓名\n", encoding="utf-8")
    return instance


def test_round_trip_keeps_every_row_and_the_instance_files(source: Database, target_url: str, tmp_path: Path,
                                                           cli: Callable[..., Result]) -> None:
    instance = instance_with_files(tmp_path / "site")
    before = dump_tables(source.engine)
    made = cli(url_of(source), instance, "backup", "-o", str(tmp_path / "backups" / "nightly.tar"), "--json")
    assert made.exit_code == 0, made.output
    report = json.loads(made.stdout)
    assert set(report) >= {"tables", "rows", "bytes", "seconds"}
    assert report["tables"] == len(before)
    assert report["rows"] == sum(len(rows) for rows in before.values())
    backup = Path(report["path"])
    assert backup.stat().st_size == report["bytes"] > 0
    assert backup.stat().st_mode & 0o777 == 0o600
    with tarfile.open(backup) as tar:
        names = tar.getnames()
    assert "instance/labels/stock/site.yaml" in names and "instance/form_variants.yaml" in names
    assert not any(name.startswith(("instance/jobs", "instance/uploads")) for name in names)  # jobs: --with-jobs

    restored_instance = tmp_path / "restored-instance"
    done = cli(target_url, restored_instance, "restore", str(backup), "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["upgraded_from"] is None
    target = create_engine(target_url)
    try:
        assert dump_tables(target) == before
        assert current_revision(target) == head_revision(target)
    finally:
        target.dispose()
    site_stock = restored_instance / "labels" / "stock" / "site.yaml"
    assert site_stock.read_text(encoding="utf-8") == "id: site\nname: 本院标签\n"
    assert site_stock.stat().st_mode & 0o777 == 0o600


def test_with_jobs_and_keep_n_in_a_folder(source: Database, tmp_path: Path, cli: Callable[..., Result]) -> None:
    instance = instance_with_files(tmp_path / "site")
    folder = tmp_path / "nightly"
    folder.mkdir()
    for day in ("20261201-010000", "20261202-010000", "20261203-010000"):
        (folder / f"archiveprint-{day}.tar").write_bytes(b"old")
    made = cli(url_of(source), instance, "backup", "-o", str(folder), "--with-jobs", "--keep", "2", "--json")
    assert made.exit_code == 0, made.output
    report = json.loads(made.stdout)
    kept = sorted(p.name for p in folder.glob("archiveprint-*.tar"))
    assert len(kept) == 2 and Path(report["path"]).name in kept and "archiveprint-20261203-010000.tar" in kept
    assert sorted(report["removed"]) == ["archiveprint-20261201-010000.tar", "archiveprint-20261202-010000.tar"]
    with tarfile.open(report["path"]) as tar:
        assert "instance/jobs/7/forms.pdf" in tar.getnames()


def test_a_non_empty_target_is_refused_unless_forced(source: Database, tmp_path: Path,
                                                     cli: Callable[..., Result]) -> None:
    instance = instance_with_files(tmp_path / "site")
    backup = tmp_path / "b.tar"
    assert cli(url_of(source), instance, "backup", "-o", str(backup)).exit_code == 0
    before = dump_tables(source.engine)
    with source.transaction() as session:
        record_event(session, "note.added", "note", 1, actor=ACTOR, now=T0 + timedelta(days=1))
    refused = cli(url_of(source), instance, "restore", str(backup))
    assert refused.exit_code == 1
    assert "目标数据库不是空的" in refused.stderr and "--force" in refused.stderr
    forced = cli(url_of(source), instance, "restore", str(backup), "--force")
    assert forced.exit_code == 0, forced.output
    assert dump_tables(source.engine) == before  # the event added after the backup is gone, nothing else changed


def _rewrite_manifest(backup: Path, out: Path, **changes: object) -> Path:
    with tarfile.open(backup) as tar, tarfile.open(out, "w") as copy:
        for member in tar.getmembers():
            data = tar.extractfile(member)
            if member.name == "manifest.json":
                manifest = {**json.loads(data.read()), **changes}
                payload = json.dumps(manifest).encode()
                member.size = len(payload)
                copy.addfile(member, io.BytesIO(payload))
            else:
                copy.addfile(member, data)
    return out


def test_a_backup_of_a_newer_schema_a_foreign_file_and_another_engine_are_refused(
        source: Database, target_url: str, tmp_path: Path, cli: Callable[..., Result], backend: str) -> None:
    instance = instance_with_files(tmp_path / "site")
    backup = tmp_path / "b.tar"
    assert cli(url_of(source), instance, "backup", "-o", str(backup)).exit_code == 0
    newer = _rewrite_manifest(backup, tmp_path / "newer.tar", revision="9999")
    refused = cli(target_url, tmp_path / "i2", "restore", str(newer))
    assert refused.exit_code == 1 and "更新版本" in refused.stderr and "9999" in refused.stderr
    other = "postgresql" if backend == "sqlite" else "sqlite"
    foreign_engine = _rewrite_manifest(backup, tmp_path / "engine.tar", engine=other)
    refused = cli(target_url, tmp_path / "i2", "restore", str(foreign_engine))
    assert refused.exit_code == 1 and "同一种数据库" in refused.stderr
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar at all")
    refused = cli(target_url, tmp_path / "i2", "restore", str(junk), "--json")
    assert refused.exit_code == 1 and "不是 archiveprint 的备份文件" in json.loads(refused.stdout)["error"]


def test_an_older_schema_is_restored_then_upgraded(backend: str, tmp_path: Path, target_url: str,
                                                   cli: Callable[..., Result], migrated_url: str) -> None:
    if backend == "sqlite":
        old_url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    else:
        old_url = _fresh_postgres(f"archiveprint_old_{_worker()}_{os.getpid()}")
    old = Database.connect(old_url)
    try:
        upgrade(old.engine, "0009")
        with old.engine.begin() as connection:
            connection.execute(text("INSERT INTO townships (county_code, county_name, code, name, unit_name) "
                                    "VALUES ('130123', '正定县', '100', '诸福屯镇', '')"))
        # As an older archiveprint would have made it (the CLI of this version upgrades its database first).
        assert make_backup(old, tmp_path / "old-instance", tmp_path / "old.tar").revision == "0009"
    finally:
        old.dispose()
        if backend == "postgresql":
            _drop_postgres(f"archiveprint_old_{_worker()}_{os.getpid()}")
    done = cli(target_url, tmp_path / "new-instance", "restore", str(tmp_path / "old.tar"), "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["upgraded_from"] == "0009"
    target = create_engine(target_url)
    try:
        assert current_revision(target) == head_revision(target)
        with target.connect() as connection:
            assert connection.execute(text("SELECT name FROM townships")).scalar_one() == "诸福屯镇"
    finally:
        target.dispose()


def test_a_backup_taken_while_another_connection_writes_is_consistent(source: Database, target_url: str,
                                                                      tmp_path: Path,
                                                                      cli: Callable[..., Result]) -> None:
    """Events keep being added during the backup: the restore's own check (every table against the manifest made
    from the same snapshot) passes, and the restored copy holds a count between the first and the last seen."""
    instance = instance_with_files(tmp_path / "site")
    stop, started = threading.Event(), threading.Event()
    written: list[int] = []

    def keep_writing() -> None:
        n = 0
        while not stop.is_set():
            with source.transaction() as session:
                record_event(session, "note.added", "note", n, actor=ACTOR, now=T0 + timedelta(seconds=n))
            n += 1
            written.append(n)
            if n == 3:
                started.set()

    with source.engine.connect() as connection:
        first = connection.execute(text("SELECT COUNT(*) FROM events")).scalar_one()
    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        assert started.wait(30)
        made = cli(url_of(source), instance, "backup", "-o", str(tmp_path / "live.tar"), "--json")
    finally:
        stop.set()
        writer.join(30)
    assert made.exit_code == 0, made.output
    with source.engine.connect() as connection:
        last = connection.execute(text("SELECT COUNT(*) FROM events")).scalar_one()
    done = cli(target_url, tmp_path / "restored", "restore", str(tmp_path / "live.tar"), "--json")
    assert done.exit_code == 0, done.output
    target = create_engine(target_url)
    try:
        with target.connect() as connection:
            restored = connection.execute(text("SELECT COUNT(*) FROM events")).scalar_one()
    finally:
        target.dispose()
    assert first + 3 <= restored <= last
