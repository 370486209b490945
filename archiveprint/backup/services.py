"""Backup and restore: a consistent copy of the database (SQLite's online backup, pg_dump on a shared snapshot) and
the instance's files in one tar, with every table's row count and checksum, checked again after a restore."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import MetaData, Table, create_engine, func, inspect, select, text
from sqlalchemy.engine import Connection, Engine, make_url

from archiveprint.db import Database, utcnow
from archiveprint.errors import ArchiveprintError, Conflict, InvalidValue, NotFound
from archiveprint.migrate import alembic_config, head_revision, upgrade

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/archiveprint.sqlite3"
POSTGRES_MEMBER = "database/archiveprint.pgdump"
FILES_PREFIX = "instance/"
# Never copied from the instance folder: the live database (copied consistently instead), uploads waiting for a
# check (a day's life), caches that are rebuilt. Print-job output only with --with-jobs.
SKIPPED = ("uploads", "cache", "backups")
JOBS = "jobs"
BACKUP_PATTERN = "archiveprint-*.tar"

Progress = Callable[[str], None]


class BackupError(ArchiveprintError):
    """A backup that could not be made or restored (the message says why, in Chinese)."""


@dataclass(frozen=True)
class TableDigest:
    rows: int
    sha256: str


@dataclass
class BackupReport:
    """What `archiveprint backup --json` prints: where, how many tables and rows, how big, how long."""

    path: Path
    engine: str
    revision: str | None
    tables: int
    rows: int
    bytes: int
    seconds: float
    files: int
    removed: list[str] = field(default_factory=list)  # older backups removed by --keep

    def as_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "engine": self.engine, "revision": self.revision, "tables": self.tables,
                "rows": self.rows, "bytes": self.bytes, "seconds": round(self.seconds, 3), "files": self.files,
                "removed": self.removed}

    def text_lines(self) -> list[str]:
        return [f"已备份到 {self.path}：{self.tables} 张表 {self.rows} 行，{self.files} 个实例文件，"
                f"{self.bytes / 1024 / 1024:.1f} MB，用时 {self.seconds:.1f} 秒",
                *(f"  已删除旧备份 {name}" for name in self.removed)]


@dataclass
class RestoreReport:
    """What `archiveprint restore --json` prints; `upgraded_from` is set when an older schema was brought to head."""

    engine: str
    revision: str | None
    upgraded_from: str | None
    tables: int
    rows: int
    files: int
    seconds: float

    def as_json(self) -> dict[str, Any]:
        return {"engine": self.engine, "revision": self.revision, "upgraded_from": self.upgraded_from,
                "tables": self.tables, "rows": self.rows, "files": self.files, "seconds": round(self.seconds, 3)}

    def text_lines(self) -> list[str]:
        upgraded = f"，已从 {self.upgraded_from} 升级到 {self.revision}" if self.upgraded_from else ""
        return [f"已恢复：{self.tables} 张表 {self.rows} 行，{self.files} 个实例文件，逐表核对无误{upgraded}"]


# --- digests ------------------------------------------------------------------------------------------------------

def table_digests(connection: Connection) -> dict[str, TableDigest]:
    """Every table's row count and a checksum of its rows in primary-key order (reflected, so a backup of an older
    schema is described as it is, not as today's models would have it)."""
    metadata = MetaData()
    metadata.reflect(connection)
    digests: dict[str, TableDigest] = {}
    for name in sorted(metadata.tables):
        table: Table = metadata.tables[name]
        order = list(table.primary_key.columns) or list(table.columns)
        digest = hashlib.sha256()
        rows = 0
        for row in connection.execute(select(table).order_by(*order)):
            digest.update(json.dumps([_plain(value) for value in row], ensure_ascii=False, default=str).encode())
            digest.update(b"\n")
            rows += 1
        digests[name] = TableDigest(rows, digest.hexdigest())
    return digests


def _plain(value: object) -> object:
    if isinstance(value, bytes | memoryview):
        return hashlib.sha256(bytes(value)).hexdigest()
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return value


def _revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


# --- backup -------------------------------------------------------------------------------------------------------

def backup_path(target: Path, now: datetime) -> Path:
    """A folder (existing, or written with a trailing slash) gets a dated file name; anything else is the file."""
    if target.is_dir() or str(target).endswith(os.sep):
        return target / f"archiveprint-{now:%Y%m%d-%H%M%S}.tar"
    return target


def make_backup(database: Database, instance_dir: Path, target: Path, *, with_jobs: bool = False,
                keep: int | None = None, now: datetime | None = None,
                progress: Progress | None = None) -> BackupReport:
    """Copy the database and the instance's files into one tar while the app keeps running.

    The copy is consistent: SQLite's online backup API copies one snapshot; on PostgreSQL pg_dump runs on a snapshot
    exported from the transaction that also counts and checksums the rows, so the manifest describes exactly what
    was dumped. The file is written beside its final name and renamed, readable by its owner only.
    """
    started = time.perf_counter()
    say = progress or (lambda _message: None)
    now = now or utcnow()
    path = backup_path(Path(target), now)
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = database.engine
    with tempfile.TemporaryDirectory(prefix="archiveprint-backup-", dir=path.parent) as work:
        work_dir = Path(work)
        say("复制数据库 / copying the database")
        if database.is_sqlite:
            member, dump = SQLITE_MEMBER, work_dir / "archiveprint.sqlite3"
            revision, digests = _sqlite_copy(engine, dump)
        else:
            member, dump = POSTGRES_MEMBER, work_dir / "archiveprint.pgdump"
            revision, digests = _postgres_dump(engine, dump)
        say("复制实例文件 / copying the instance's files")
        files = list(_instance_files(instance_dir, with_jobs=with_jobs))
        manifest = {
            "format": FORMAT, "created_at": now.isoformat(), "engine": engine.dialect.name, "revision": revision,
            "with_jobs": with_jobs, "database": member,
            "tables": {name: {"rows": d.rows, "sha256": d.sha256} for name, d in digests.items()},
            "files": [relative for relative, _path in files],
        }
        partial = work_dir / "backup.tar"
        with _private_file(partial) as handle, tarfile.open(fileobj=handle, mode="w") as tar:
            _add_bytes(tar, MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1).encode())
            tar.add(dump, arcname=member)
            for relative, source in files:
                tar.add(source, arcname=FILES_PREFIX + relative, recursive=False)
        os.replace(partial, path)
    removed = _prune(path.parent, keep, path) if keep else []
    return BackupReport(path=path, engine=engine.dialect.name, revision=revision, tables=len(digests),
                        rows=sum(d.rows for d in digests.values()), bytes=path.stat().st_size,
                        seconds=time.perf_counter() - started, files=len(files), removed=removed)


def _sqlite_copy(engine: Engine, dump: Path) -> tuple[str | None, dict[str, TableDigest]]:
    """SQLite's online backup: one consistent copy while others write; counted from the copy itself."""
    with engine.connect() as connection:
        source = connection.connection.driver_connection
        copy = sqlite3.connect(dump)
        try:
            source.backup(copy)  # type: ignore[union-attr]
        finally:
            copy.close()
    os.chmod(dump, 0o600)

    reader = create_engine(f"sqlite:///{dump}")
    try:
        with reader.connect() as connection:
            return _revision(connection), table_digests(connection)
    finally:
        reader.dispose()


def _libpq(engine: Engine) -> tuple[str, dict[str, str]]:
    """A libpq address for pg_dump/pg_restore; the password travels in the environment, never on a command line."""
    url = engine.url.set(drivername="postgresql")
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return url.set(password=None).render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError("找不到 {name}：PostgreSQL 数据库的备份与恢复需要 PostgreSQL 客户端工具"
                          "（Debian/Ubuntu：apt-get install postgresql-client）", params={"name": name}, field="程序",
                          value=name)
    return found


def _postgres_dump(engine: Engine, dump: Path) -> tuple[str | None, dict[str, TableDigest]]:
    address, env = _libpq(engine)
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection, connection.begin():
        snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        result = subprocess.run(
            [_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
             f"--file={dump}", f"--dbname={address}"],
            env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BackupError("pg_dump 失败：{output}", params={"output": _tail(result.stderr)}, field="数据库")
        os.chmod(dump, 0o600)
        return _revision(connection), table_digests(connection)


def _tail(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return "；".join(lines[-3:]) or "（无输出）"


def _instance_files(instance_dir: Path, *, with_jobs: bool) -> Iterator[tuple[str, Path]]:
    """The instance's own files (layouts, label stocks, site variants, lending rules, the secret key …)."""
    if not instance_dir.is_dir():
        return
    database_names = {"archiveprint.sqlite3", "archiveprint.sqlite3-wal", "archiveprint.sqlite3-shm"}
    for path in sorted(instance_dir.rglob("*")):
        relative = path.relative_to(instance_dir)
        top = relative.parts[0]
        if top in SKIPPED or (top == JOBS and not with_jobs) or path.name in database_names:
            continue
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            continue
        if path.is_file():
            yield relative.as_posix(), path


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(time.time())
    tar.addfile(info, io.BytesIO(data))


@contextmanager
def _private_file(path: Path) -> Iterator[Any]:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        yield handle


def _prune(folder: Path, keep: int, newest: Path) -> list[str]:
    """Keep the newest `keep` dated backups in the folder (the one just made is always kept)."""
    if keep < 1:
        raise InvalidValue("保留份数应为不小于 1 的整数", field="--keep", value=keep)
    backups = sorted(folder.glob(BACKUP_PATTERN), key=lambda p: p.name, reverse=True)
    removed = []
    for old in backups[keep:]:
        if old != newest:
            old.unlink()
            removed.append(old.name)
    return removed


# --- restore ------------------------------------------------------------------------------------------------------

def read_manifest(source: Path) -> dict[str, Any]:
    if not source.is_file():
        raise NotFound("没有这个备份文件", field="备份文件", value=source.name)
    try:
        with tarfile.open(source, mode="r") as tar:
            member = tar.extractfile(MANIFEST)
            manifest = json.loads(member.read()) if member else None
    except (tarfile.TarError, KeyError, json.JSONDecodeError, UnicodeDecodeError):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InvalidValue("不是 archiveprint 的备份文件（或已损坏）", field="备份文件", value=source.name)
    return manifest


def restore_backup(database: Database, instance_dir: Path, source: Path, *, force: bool = False,
                   progress: Progress | None = None) -> RestoreReport:
    """Bring a backup back into an empty instance (a non-empty one only with force), check every table's rows
    against the manifest, then upgrade an older schema to this version's head."""
    started = time.perf_counter()
    say = progress or (lambda _message: None)
    manifest = read_manifest(source)
    engine = database.engine
    if manifest["engine"] != engine.dialect.name:
        kinds = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
        raise InvalidValue("备份来自 {source} 数据库，"
                           "而 DATABASE_URL 指向 {target}："
                           "请恢复到同一种数据库",
                           params={"source": kinds.get(manifest["engine"], manifest["engine"]),
                                   "target": kinds.get(engine.dialect.name, engine.dialect.name)},
                           field="数据库", value=engine.dialect.name)
    revision = manifest.get("revision")
    _check_revision(engine, revision)
    if database.is_sqlite:
        Path(_sqlite_file(engine)).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not force:
        _require_empty(engine, instance_dir)
    with tempfile.TemporaryDirectory(prefix="archiveprint-restore-") as work:
        work_dir = Path(work)
        with tarfile.open(source, mode="r") as tar:
            say("读取备份 / reading the backup")
            tar.extractall(work_dir, filter="data")
        say("恢复数据库 / restoring the database")
        dump = work_dir / manifest["database"]
        if database.is_sqlite:
            _sqlite_restore(engine, dump)
        else:
            _postgres_restore(engine, dump)
        say("核对每张表 / checking every table")
        with engine.connect() as connection:
            restored = table_digests(connection)
        expected = {name: TableDigest(t["rows"], t["sha256"]) for name, t in manifest["tables"].items()}
        if restored != expected:
            differing = sorted(name for name in set(restored) | set(expected)
                               if restored.get(name) != expected.get(name))
            raise BackupError("恢复后的数据与备份不一致，请勿使用此数据库", field="表", value="、".join(differing))
        say("恢复实例文件 / restoring the instance's files")
        files = _restore_files(work_dir / FILES_PREFIX.rstrip("/"), instance_dir, manifest.get("files", []))
    upgraded_from = None
    head = head_revision(engine)
    if revision != head:
        say("升级数据库结构 / upgrading the schema")
        upgrade(engine)
        upgraded_from = revision
    return RestoreReport(engine=engine.dialect.name, revision=head, upgraded_from=upgraded_from,
                         tables=len(expected), rows=sum(d.rows for d in expected.values()), files=files,
                         seconds=time.perf_counter() - started)


def _check_revision(engine: Engine, revision: str | None) -> None:
    if revision is None:
        raise InvalidValue("备份中没有数据库版本信息", field="备份文件")
    try:
        known = ScriptDirectory.from_config(alembic_config(engine)).get_revision(revision)
    except CommandError:
        known = None
    if known is None:
        raise Conflict("备份来自更新版本的 archiveprint（数据库版本 {revision}），本程序无法恢复："
                       "请先升级 archiveprint", params={"revision": revision}, field="数据库版本", value=revision)


def _require_empty(engine: Engine, instance_dir: Path) -> None:
    """A restore replaces everything: refused where any table holds a row (unless forced)."""
    with engine.connect() as connection:
        metadata = MetaData()
        metadata.reflect(connection)
        filled = sorted(name for name, table in metadata.tables.items()
                        if name != "alembic_version" and connection.execute(
                            select(func.count()).select_from(table)).scalar_one())
    if filled:
        raise Conflict("目标数据库不是空的（{count} 张表有数据），恢复会覆盖全部内容；确认要覆盖请加 --force",
                       params={"count": len(filled)}, field="数据库", value="、".join(filled[:5]))


def _sqlite_restore(engine: Engine, dump: Path) -> None:
    """Copy the backup into the database file through SQLite's backup API (it replaces every page, WAL included)."""
    engine.dispose()
    target = _sqlite_file(engine)
    source = sqlite3.connect(f"file:{dump}?mode=ro", uri=True)
    destination = sqlite3.connect(target)
    try:
        source.backup(destination)
    finally:
        destination.close()
        source.close()
    os.chmod(target, 0o600)


def _sqlite_file(engine: Engine) -> str:
    target = make_url(str(engine.url)).database
    if not target or target == ":memory:":
        raise InvalidValue("SQLite 数据库地址里没有文件名", field="DATABASE_URL", value=str(engine.url))
    return target


def _postgres_restore(engine: Engine, dump: Path) -> None:
    """Empty the database (its schema included) and pg_restore the dump into it."""
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    address, env = _libpq(engine)
    result = subprocess.run(
        [_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", f"--dbname={address}", str(dump)],
        env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError("pg_restore 失败：{output}", params={"output": _tail(result.stderr)}, field="数据库")


def _restore_files(source: Path, instance_dir: Path, names: list[str]) -> int:
    instance_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(instance_dir, 0o700)
    restored = 0
    for name in names:
        origin = source / name
        if not origin.is_file():
            continue
        destination = instance_dir / name
        destination.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.copyfile(origin, destination)
        os.chmod(destination, 0o600)
        restored += 1
    return restored
