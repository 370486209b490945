"""Register import benchmark: a 100,000-row synthetic export (.xlsx, .csv) into fresh SQLite and PostgreSQL.

Run from the checkout:  .venv/bin/python bench/import_bench.py  [--rows 100000] [--backends sqlite,postgresql]

Each import runs in its own subprocess, so its peak RSS (VmHWM) and its CPU time are its own (the CPU time includes
SQLite's work, which runs in the process, but not PostgreSQL's: it says what the importer costs when the machine is
shared and wall time is not). In the same subprocess and database the
same rows go into a bare table (no keys, no indexes) with one plain DBAPI `executemany`: the peer figure that says how
much the importer costs over the fastest possible insert. Then the same file is imported again (nothing should be
added) to time the idempotent re-import.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TODAY = date(2026, 11, 25)  # fixed, so the file (ages, tags) is the same on every run
VILLAGES = 30
ACTOR = "bench"
BARE_COLUMNS = ("archive_code", "name", "sex", "birth_date", "id_number", "relation_to_head", "head_name",
                "external_no", "address", "village", "phone", "registered_on", "tags")


# --- parent: make the files, run each case in a child, print the table ---------------------------------------

def make_township(rows: int) -> Any:
    """A demo township cut to exactly `rows` residents (the last household kept is shortened, head first)."""
    from archiveprint.register import demo

    per_village = math.ceil(rows / VILLAGES / 3.0)
    township = demo.generate(seed=2026, villages=VILLAGES, households_per_village=per_village, today=TODAY)
    while township.resident_count < rows:
        per_village = math.ceil(per_village * 1.1)
        township = demo.generate(seed=2026, villages=VILLAGES, households_per_village=per_village, today=TODAY)
    kept, total = [], 0
    for household in township.households:
        if total >= rows:
            break
        members = household.members[:rows - total]
        kept.append(dataclasses.replace(household, members=members))
        total += len(members)
    return dataclasses.replace(township, households=kept)


def run_case(kind: str, backend: str, path: Path, workdir: Path) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", backend, str(path), str(workdir)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{kind}/{backend} failed:\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result.update(kind=kind, backend=backend)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--formats", default="xlsx,csv")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", nargs=3, metavar=("BACKEND", "FILE", "WORKDIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        backend, file, workdir = args.child
        print(json.dumps(child(backend, Path(file), Path(workdir))))
        return

    from archiveprint.register import demo

    with tempfile.TemporaryDirectory(prefix="import-bench-") as tmp:
        workdir = Path(tmp)
        started = time.perf_counter()
        township = make_township(args.rows)
        generated = time.perf_counter() - started
        print(f"generated {township.resident_count:,} residents in {len(township.households):,} households, "
              f"{len(township.villages)} villages: {generated:.1f} s", flush=True)
        files = {}
        for kind in args.formats.split(","):
            path = workdir / f"export.{kind}"
            started = time.perf_counter()
            written = demo.write_export(township, path, encoding="utf-8-sig")
            print(f"wrote {path.name}: {written:,} rows, {path.stat().st_size / 2**20:.1f} MiB, "
                  f"{time.perf_counter() - started:.1f} s", flush=True)
            files[kind] = path
        del township
        results = []
        for kind, path in files.items():
            for backend in args.backends.split(","):
                print(f"importing {path.name} into {backend} …", flush=True)
                results.append(run_case(kind, backend, path, workdir))
    print()
    print(table(results, args.rows))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))


def table(results: list[dict[str, Any]], rows: int) -> str:
    head = ("| file | database | import s | import CPU s | rows/s | peak RSS MiB | bare executemany s "
            "| import ÷ bare | re-import s | re-import added | recognised s |")
    lines = [f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, {rows:,} rows", "", head,
             "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        lines.append(
            f"| .{r['kind']} | {r['backend']} | {r['import_s']:.1f} | {r['import_cpu_s']:.1f} "
            f"| {rows / r['import_s']:,.0f} "
            f"| {r['import_peak_mib']:.0f} | {r['bare_s']:.2f} | {r['import_s'] / r['bare_s']:.0f}× "
            f"| {r['reimport_s']:.1f} | {r['reimport_added']} | {r['recognised_s']:.2f} |")
    return "\n".join(lines)


# --- child: one file into one fresh database ------------------------------------------------------------------

def _status(field: str) -> float:
    """A memory figure of this process from /proc/self/status, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> None:
    """Start a new VmHWM window (Linux: writing 5 to clear_refs resets the peak RSS)."""
    Path("/proc/self/clear_refs").write_text("5")


def fresh_database(backend: str, workdir: Path) -> tuple[str, Any]:
    """A new empty database and a function that removes it."""
    from sqlalchemy import create_engine, text

    if backend == "sqlite":
        path = workdir / f"bench-{os.getpid()}.sqlite3"

        def drop_sqlite() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}", drop_sqlite
    name = f"archiveprint_bench_{os.getpid()}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop_postgres() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name, drop_postgres


def child(backend: str, path: Path, workdir: Path) -> dict[str, Any]:
    from archiveprint.db import Database
    from archiveprint.migrate import upgrade
    from archiveprint.register import demo, services
    from archiveprint.register.importer import import_file

    url, drop = fresh_database(backend, workdir)
    database = Database.connect(url)
    try:
        upgrade(database.engine)
        with database.transaction() as session:  # what a clerk sets up before the first import
            services.configure_township(session, demo.COUNTY_CODE, demo.COUNTY_NAME, demo.TOWNSHIP_CODE,
                                        demo.TOWNSHIP_NAME, actor=ACTOR)
        result: dict[str, Any] = {"baseline_mib": _status("VmRSS")}

        _reset_peak()
        started, cpu = time.perf_counter(), time.process_time()
        with database.transaction() as session:
            report = import_file(session, path, actor=ACTOR, add_villages=True, today=TODAY)
        result["import_s"] = time.perf_counter() - started
        result["import_cpu_s"] = time.process_time() - cpu
        result["import_peak_mib"] = _status("VmHWM")
        if not report.ok:
            raise SystemExit(f"import failed: {report.summary()}")
        result["added"] = report.added

        _reset_peak()
        started = time.perf_counter()
        with database.transaction() as session:  # force: read and check every row, as before recognition
            again = import_file(session, path, actor=ACTOR, add_villages=True, today=TODAY, force=True)
        result["reimport_s"] = time.perf_counter() - started
        result["reimport_peak_mib"] = _status("VmHWM")
        result["reimport_ok"], result["reimport_added"] = again.ok, again.added

        started = time.perf_counter()
        with database.transaction() as session:  # the same file into the unchanged register: recognised
            recognised = import_file(session, path, actor=ACTOR, add_villages=True, today=TODAY)
        result["recognised_s"] = time.perf_counter() - started
        if recognised.already is None:
            raise SystemExit("the re-import was not recognised as already imported")

        result["bare_s"] = bare_insert(database, read_rows(path))
        return result
    finally:
        database.dispose()
        drop()


def read_rows(path: Path) -> list[tuple[Any, ...]]:
    """The export's data rows as typed tuples (dates as dates), read before the bare insert is timed."""
    if path.suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            raw = list(csv.reader(handle))[2:]
    else:
        from openpyxl import load_workbook

        workbook = load_workbook(path, read_only=True)
        raw = [["" if v is None else str(v) for v in row]
               for row in workbook.active.iter_rows(min_row=3, values_only=True)]
        workbook.close()
    return [(*row[:3], date.fromisoformat(row[3]), *row[4:11], date.fromisoformat(row[11]), row[12])
            for row in raw]


def bare_insert(database: Any, rows: list[tuple[Any, ...]]) -> float:
    """Seconds for one DBAPI executemany of the rows into a table with the same columns and nothing else."""
    from sqlalchemy import Column, Date, MetaData, String, Table

    metadata = MetaData()
    widths = (17, 64, 1, None, 18, 16, 64, 32, 200, 64, 32, None, 200)
    bare = Table("bench_bare", metadata, *(Column(name, Date if width is None else String(width))
                                           for name, width in zip(BARE_COLUMNS, widths, strict=True)))
    metadata.create_all(database.engine)
    mark = "?" if database.is_sqlite else "%s"
    sql = f"INSERT INTO bench_bare ({', '.join(BARE_COLUMNS)}) VALUES ({', '.join([mark] * len(BARE_COLUMNS))})"
    started = time.perf_counter()
    with database.engine.begin() as conn:
        conn.exec_driver_sql(sql, rows)
    elapsed = time.perf_counter() - started
    metadata.drop_all(database.engine, tables=[bare])
    return elapsed


if __name__ == "__main__":
    main()
