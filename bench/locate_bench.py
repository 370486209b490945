"""Locate benchmark: 1,000,000 synthetic household folders with positions, in SQLite and a fresh PostgreSQL database.

Run from the checkout:  .venv/bin/python bench/locate_bench.py  [--folders 1000000] [--backends sqlite,postgresql]

The schema comes from the migrations. Villages, households, their heads (one resident per folder), shelves, current
positions and the shelving movements are bulk-inserted (DBAPI executemany on SQLite, COPY on PostgreSQL; no ORM
objects). Then `archiveprint.locations.queries.locate` — what `archiveprint locate` and the web search call — is
timed by folder code, by the start of a name and by pinyin initials, each in a new session, next to a bare indexed
single-table SELECT on the same data (plain DBAPI) as the floor.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_NAME = "archiveprint_locate_bench"
PER_VILLAGE = 10_000
CAPACITY = 45  # 900 mm shelves, 20 mm folders
RESERVE = 1.2
SHELVES_PER_ROOM = 12 * 2 * 6 * 6
SEED = 2026
NOW = datetime(2026, 11, 25, 12, 0)
COUNTY, TOWNSHIP = "130123", "100"


# --- synthetic data ------------------------------------------------------------------------------------------

def name_pools() -> tuple[list[str], list[float], list[str]]:
    from archiveprint.register import demo

    surnames = [s for s in demo.SURNAMES if s not in demo.RARE_SURNAMES]
    weights = [demo.SURNAMES[s] for s in surnames]
    given = sorted({g for names in demo.GIVEN.values() for g in names})
    return surnames, weights, given


def village_codes(folders: int) -> list[str]:
    return [f"{101 + i:03d}" for i in range(math.ceil(folders / PER_VILLAGE))]


def shelf_rows(villages: int) -> Iterator[tuple[Any, ...]]:
    """Rooms of 12 列 × 2 面 × 6 节 × 6 层, enough shelves for every village with 20 % room to grow."""
    per_village = math.ceil(PER_VILLAGE * RESERVE / CAPACITY)
    total = per_village * villages
    for index in range(total):
        room, rest = divmod(index, SHELVES_PER_ROOM)
        column, rest = divmod(rest, 72)
        face, rest = divmod(rest, 36)
        section, level = divmod(rest, 6)
        values = (str(column + 1), "AB"[face], str(section + 1), str(level + 1))
        code = f"K{room + 1}-M-" + "-".join(values)
        address = f"{room + 1}号库房 {values[0]}列 {values[1]}面 {values[2]}节 {values[3]}层"
        coordinates = json.dumps([["列", values[0], f"{values[0]}列"], ["面", values[1], f"{values[1]}面"],
                                  ["节", values[2], f"{values[2]}节"], ["层", values[3], f"{values[3]}层"]],
                                 ensure_ascii=False)
        village_index = index // per_village
        yield (index + 1, code, address, f"K{room + 1}", f"{room + 1}号库房", "M", "", "密集架", "village",
               coordinates, CAPACITY, 900.0, index + 1, village_index + 1, None, NOW)


def village_rows(village_index: int, code: str, count: int, rng: random.Random,
                 pools: tuple[list[str], list[float], list[str]],
                 initials: Callable[[str], str]) -> tuple[list[tuple[Any, ...]], ...]:
    """One village's households, head residents, positions and shelving movements (ids are global)."""
    surnames, weights, given = pools
    per_village = math.ceil(PER_VILLAGE * RESERVE / CAPACITY)
    first_shelf = village_index * per_village + 1
    base = village_index * PER_VILLAGE
    households, residents, positions, movements = [], [], [], []
    names = rng.choices(surnames, weights, k=count)
    for n in range(1, count + 1):
        row_id = base + n
        name = names[n - 1] + rng.choice(given)
        shelf = first_shelf + (n - 1) // CAPACITY
        slot = (n - 1) % CAPACITY + 1
        households.append((row_id, village_index + 1, n, None, f"no:{code}-{n}", name, "", NOW, NOW))
        residents.append((row_id, f"{COUNTY}{TOWNSHIP}{code}{n:05d}", village_index + 1, n, row_id, "户主", name,
                          initials(name), "1", None, None, "", "", None, "active", None, None, "", NOW, NOW))
        positions.append((row_id, shelf, slot, "on_shelf", "", NOW, 1))
        movements.append((row_id, row_id, 1, "shelve", shelf, slot, "on_shelf", "", "", NOW, "bench", 1))
    return households, residents, positions, movements


COLUMNS = {
    "shelves": ("id", "code", "address", "room_code", "room_name", "block_code", "block_name", "kind", "purpose",
                "coordinates", "capacity", "width_mm", "seq", "village_id", "retired_at", "created_at"),
    "households": ("id", "village_id", "number", "external_no", "match_key", "head_name", "address", "created_at",
                   "updated_at"),
    "residents": ("id", "archive_code", "village_id", "serial", "household_id", "relation_to_head", "name",
                  "name_initials", "sex", "birth_date", "id_number", "phone", "address", "registered_on", "status",
                  "closed_on", "closed_reason", "closed_note", "created_at", "updated_at"),
    "folder_positions": ("household_id", "shelf_id", "slot", "state", "holder", "since", "version"),
    "folder_movements": ("id", "household_id", "seq", "kind", "shelf_id", "slot", "state", "holder", "reason", "at",
                         "actor", "event_id"),
}


# --- loading -------------------------------------------------------------------------------------------------

def fresh_database(backend: str, workdir: Path) -> str:
    from sqlalchemy import create_engine, text

    if backend == "sqlite":
        return f"sqlite:///{workdir / 'locate.sqlite3'}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{PG_NAME}"'))
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + PG_NAME


def drop_database(backend: str) -> None:
    from sqlalchemy import create_engine, text

    if backend != "postgresql":
        return
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)'))
    admin.dispose()


def bulk_insert(raw: Any, backend: str, table: str, rows: list[tuple[Any, ...]]) -> None:
    columns = COLUMNS[table]
    cursor = raw.cursor()
    if backend == "postgresql":
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        marks = ", ".join("?" for _ in columns)
        cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
    cursor.close()


def load(backend: str, url: str, folders: int) -> dict[str, Any]:
    from sqlalchemy import text

    from archiveprint.db import Database
    from archiveprint.migrate import upgrade
    from archiveprint.register.names import pinyin_initials

    db = Database.connect(url)
    upgrade(db.engine)
    codes = village_codes(folders)
    started = time.perf_counter()
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO townships (id, county_code, county_name, code, name, unit_name) "
                          "VALUES (1, :county, '正定县', :code, '基准镇', '基准镇卫生院')"),
                     {"county": COUNTY, "code": TOWNSHIP})
        conn.execute(text("INSERT INTO villages (id, township_id, code, name, last_serial, last_household_no) "
                          "VALUES (:id, 1, :code, :name, :last, :last)"),
                     [{"id": i + 1, "code": code, "name": f"第{code}村", "last": PER_VILLAGE}
                      for i, code in enumerate(codes)])
        conn.execute(text("INSERT INTO events (id, occurred_at, actor, kind, entity_type, entity_id, data) "
                          "VALUES (1, :now, 'bench', 'location.shelved', 'bench', '1', '{}')"), {"now": NOW})
        conn.execute(text("INSERT INTO storage_layouts (name, source, sha256, text, folder_thickness_mm, "
                          "growth_reserve, position_format, shelves, applied_at, actor) VALUES ('bench', "
                          "'bench.yaml', '', '', 20, 0.2, '第{}位', 0, :now, 'bench')"), {"now": NOW})
    raw = db.engine.raw_connection()
    try:
        dbapi = raw.driver_connection
        if backend == "sqlite":
            dbapi.execute("BEGIN")
        bulk_insert(dbapi, backend, "shelves", list(shelf_rows(len(codes))))
        rng = random.Random(SEED)
        pools = name_pools()
        cache: dict[str, str] = {}

        def initials(name: str) -> str:
            if name not in cache:
                cache[name] = pinyin_initials(name)
            return cache[name]

        remaining = folders
        for index, code in enumerate(codes):
            count = min(PER_VILLAGE, remaining)
            remaining -= count
            households, residents, positions, movements = village_rows(index, code, count, rng, pools, initials)
            for table, rows in (("households", households), ("residents", residents),
                                ("folder_positions", positions), ("folder_movements", movements)):
                bulk_insert(dbapi, backend, table, rows)
        dbapi.commit()
    finally:
        raw.close()
    loaded = time.perf_counter() - started
    with db.engine.begin() as conn:
        if backend == "postgresql":
            for table in ("townships", "villages", "events", "shelves", "households", "residents",
                          "folder_movements"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))
            conn.execute(text("ANALYZE"))
        else:
            conn.execute(text("ANALYZE"))
    db.dispose()
    return {"load_s": round(loaded, 1), "villages": len(codes)}


# --- measuring -----------------------------------------------------------------------------------------------

def samples(url: str, count: int) -> dict[str, list[Any]]:
    """Random folders, and the name starts and initials of random residents (seeded: the same on both databases)."""
    from sqlalchemy import text

    from archiveprint.db import Database
    from archiveprint.register.codes import folder_code

    db = Database.connect(url)
    rng = random.Random(SEED + 1)
    with db.engine.connect() as conn:
        total = conn.execute(text("SELECT max(id) FROM households")).scalar_one()
        ids = [rng.randint(1, total) for _ in range(count)]
        rows = {}
        for chunk in range(0, len(ids), 500):
            part = ids[chunk:chunk + 500]
            for row in conn.execute(text("SELECT h.id, v.code, h.number, r.name, r.name_initials FROM households h "
                                         "JOIN villages v ON v.id = h.village_id "
                                         "JOIN residents r ON r.household_id = h.id "
                                         f"WHERE h.id IN ({', '.join(map(str, part))})")):
                rows[row[0]] = row
    db.dispose()
    picked = [rows[i] for i in ids]
    return {
        "folder code": [folder_code(f"{COUNTY}{TOWNSHIP}{r[1]}", r[2]).value for r in picked],
        "name prefix (2 chars)": [r[3][:2] for r in picked],
        "name prefix (1 char)": [r[3][:1] for r in picked],
        "pinyin initials": [r[4] for r in picked],
        "_floor folder code": [(r[1], r[2]) for r in picked],
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def summary(times: list[float]) -> dict[str, float]:
    ms = [t * 1000 for t in times]
    return {"p50": round(percentile(ms, 0.50), 2), "p99": round(percentile(ms, 0.99), 2),
            "mean": round(statistics.fmean(ms), 2), "max": round(max(ms), 2)}


def measure(backend: str, url: str, count: int, warmup: int) -> dict[str, Any]:
    from sqlalchemy import event

    from archiveprint.db import Database
    from archiveprint.locations.queries import locate

    picked = samples(url, count + warmup)
    db = Database.connect(url)
    statements: list[str] = []
    event.listen(db.engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *args: statements.append(statement))
    results: dict[str, Any] = {}
    for kind in ("folder code", "name prefix (2 chars)", "name prefix (1 char)", "pinyin initials"):
        queries = picked[kind]
        times, found = [], 0
        for i, query in enumerate(queries):
            statements.clear()
            started = time.perf_counter()
            with db.reader() as session:
                hits = locate(session, query)
            elapsed = time.perf_counter() - started
            if i >= warmup:
                times.append(elapsed)
                found += bool(hits)
        results[kind] = {"locate": summary(times), "found": found, "statements": len(statements)}
    db.dispose()
    floors = floor_times(backend, url, picked, warmup)
    for kind, times in floors.items():
        results[kind]["floor"] = summary(times)
    return results


def floor_times(backend: str, url: str, picked: dict[str, list[Any]], warmup: int) -> dict[str, list[float]]:
    """The same look-ups as one bare indexed SELECT on one table, through the plain DBAPI connection."""
    from archiveprint.db import Database

    db = Database.connect(url)
    raw = db.engine.raw_connection()
    dbapi = raw.driver_connection
    mark = "%s" if backend == "postgresql" else "?"
    village_ids = {code: i + 1 for i, code in enumerate(village_codes(10 ** 7))}
    if backend == "postgresql":
        dbapi.autocommit = True
        prefix_sql = "SELECT household_id FROM residents WHERE {col} LIKE %s ORDER BY {col} USING ~<~ LIMIT 50"

        def prefix_args(p: str) -> tuple[str, ...]:
            return (p.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",)
    else:
        prefix_sql = "SELECT household_id FROM residents WHERE {col} >= ? AND {col} < ? ORDER BY {col} LIMIT 50"

        def prefix_args(p: str) -> tuple[str, ...]:
            return (p, p + "\U0010ffff")
    by_name = prefix_sql.format(col="name")
    by_initials = prefix_sql.format(col="name_initials")
    cases: dict[str, tuple[str, list[tuple[Any, ...]]]] = {
        "folder code": (f"SELECT id FROM households WHERE village_id = {mark} AND number = {mark}",
                        [(village_ids[code], number) for code, number in picked["_floor folder code"]]),
        "name prefix (2 chars)": (by_name, [prefix_args(p) for p in picked["name prefix (2 chars)"]]),
        "name prefix (1 char)": (by_name, [prefix_args(p) for p in picked["name prefix (1 char)"]]),
        "pinyin initials": (by_initials, [prefix_args(p) for p in picked["pinyin initials"]]),
    }
    out = {}
    for kind, (sql, args_list) in cases.items():
        times = []
        for i, args in enumerate(args_list):
            started = time.perf_counter()
            cursor = dbapi.cursor()
            cursor.execute(sql, args)
            cursor.fetchall()
            cursor.close()
            if i >= warmup:
                times.append(time.perf_counter() - started)
        out[kind] = times
    raw.close()
    db.dispose()
    return out


# --- report --------------------------------------------------------------------------------------------------

def table(results: dict[str, dict[str, Any]]) -> str:
    lines = ["| database | look-up | locate p50 ms | locate p99 ms | floor p50 ms | floor p99 ms | statements |",
             "|---|---|---|---|---|---|---|"]
    for backend, result in results.items():
        for kind, row in result["queries"].items():
            lines.append(f"| {backend} | {kind} | {row['locate']['p50']} | {row['locate']['p99']} | "
                         f"{row['floor']['p50']} | {row['floor']['p99']} | {row['statements']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folders", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--samples", type=int, default=1000, help="timed look-ups per kind")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--keep", action="store_true", help="keep the databases (SQLite file path is printed)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    import sqlalchemy

    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="locate-bench-") as tmp:
        workdir = Path(os.environ.get("LOCATE_BENCH_DIR") or tmp)
        for backend in [b for b in args.backends.split(",") if b]:
            url = fresh_database(backend, workdir)
            print(f"{backend}: loading {args.folders:,} folders …", file=sys.stderr)
            info = load(backend, url, args.folders)
            print(f"{backend}: loaded in {info['load_s']} s; timing …", file=sys.stderr)
            info["queries"] = measure(backend, url, args.samples, args.warmup)
            if backend == "sqlite":
                info["size_mib"] = round((workdir / "locate.sqlite3").stat().st_size / 2 ** 20)
            results[backend] = info
            if not args.keep:
                drop_database(backend)
            else:
                print(f"{backend}: kept at {url}", file=sys.stderr)
    meta = {"folders": args.folders, "samples": args.samples, "python": platform.python_version(),
            "sqlalchemy": sqlalchemy.__version__, "cpus": os.cpu_count()}
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "results": results}, ensure_ascii=False, indent=1))
    print(table(results))
    print(json.dumps({"meta": meta, "results": results}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
