"""County benchmark (#14): 20 sites, 600,000 residents, 200,000 folders on PostgreSQL, over HTTP through gunicorn.

Run from the checkout:  .venv/bin/python bench/county_bench.py  [--sites 20 --residents 600000 --households 200000]

It builds a county in a fresh PostgreSQL database (made by the migrations): each site through `add_site`, its clerk
through `create_user`, its borrower through `add_borrower` (the app's own services, in the site's scope); then every
site's villages, households and residents — `demo.generate` people, one township per site — and their shelves, current
positions and shelving movements by COPY (no ORM objects). gunicorn serves `archiveprint.web.wsgi:app` on it with
several workers; one clerk per site signs in. Measured, each over HTTP and next to the same SQL without HTTP:

- **locate**: `GET /api/v1/locate?q=<folder code>` (the scan station's and the search box's locate) and the locate page
  `GET /locations/locate?q=<folder code>`, one clerk at a time;
- **search page**: `GET /?q=…` (a name, pinyin initials, an archive code or a phone) with one clerk per site at once;
- **scan**: `POST /api/v1/scans` (lend a folder, then return it) with one scan station per site at once.

The floors ("bare") replay the statements the same domain call sends in a session with no scope (recorded at the
DBAPI cursor), through a plain psycopg connection; "scoped SQL" replays the statements it sends in the clerk's site
scope, so scoped ÷ bare is what the site criteria cost the database, and HTTP ÷ scoped what the app adds around them.
The load generator is this script: one thread per clerk or station, each with its own keep-alive connection
(http.client), pausing 0.5–1.5 × --think-ms between two requests (0: a closed loop, the next request as soon as the
answer has arrived).

Each HTTP measurement also reports the CPU it cost a request (`app_cpu_ms`: gunicorn's workers; `db_cpu_ms`: the
PostgreSQL backends connected to the database; `client_cpu_ms`: this script), read from /proc before and after, and
the 1-minute load average at its start and end: on a machine shared with other work the wall-clock percentiles move
with the load, the CPU a request costs hardly does. `--reuse` measures on a database a `--keep` run left, and keeps
it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402  (after the checkout is on the path, like the other benchmarks' imports)

PG_ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
SEED = 2026
TODAY = date(2026, 12, 1)
NOW = datetime(2026, 12, 1, 8, 0)
COUNTY, COUNTY_NAME = "130123", "正定县"
PER_VILLAGE = 500  # households per village (a large village or a residents' committee)
CAPACITY = 45  # 900 mm shelves, 20 mm folders
RESERVE = 1.2
PASSWORD = "county-bench-2026"
BORROWER = "doctor-{site}"  # one a site, its code in the key: the bare (unscoped) recording must find its own
TOWNS = ("柏棠", "新城", "南楼", "北寨", "东营", "西岗", "曲阳", "里铺", "永安", "吴兴", "三里", "塔元", "留村", "辛庄",
         "马坊", "贾村", "韩楼", "宋庄", "孟村", "高庄", "杜村", "南牛", "北早", "西平", "东里", "正阳", "诸福", "新安",
         "岸下", "曲阳桥")


# --- statements as the app sends them, recorded at the DBAPI cursor ------------------------------------------------

@dataclass
class Call:
    sql: str
    params: Any
    many: bool = False
    returned: list[tuple[Any, ...]] = field(default_factory=list)


class Recording(threading.local):
    calls: list[Call] | None = None


RECORDING = Recording()


class RecordingCursor(psycopg.Cursor):  # type: ignore[type-arg]
    """A psycopg cursor that notes every statement (and what a RETURNING gave back) while RECORDING.calls is a list."""

    _call: Call | None = None

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:  # type: ignore[override]
        self._call = None
        if RECORDING.calls is not None and not str(query).startswith("SET LOCAL"):
            self._call = Call(str(query), params)
            RECORDING.calls.append(self._call)
        return super().execute(query, params, **kwargs)

    def executemany(self, query: Any, params_seq: Any, **kwargs: Any) -> None:  # type: ignore[override]
        params_seq = list(params_seq)
        self._call = None
        if RECORDING.calls is not None:
            self._call = Call(str(query), params_seq, many=True)
            RECORDING.calls.append(self._call)
        return super().executemany(query, params_seq, **kwargs)

    def _note(self, rows: Sequence[Any]) -> None:
        if self._call is not None and "RETURNING" in self._call.sql:
            self._call.returned.extend(tuple(row) for row in rows)

    def fetchone(self) -> Any:
        row = super().fetchone()
        if row is not None:
            self._note([row])
        return row

    def fetchmany(self, size: int = 0) -> Any:
        rows = super().fetchmany(size)
        self._note(rows)
        return rows

    def fetchall(self) -> Any:
        rows = super().fetchall()
        self._note(rows)
        return rows


@contextmanager
def recording() -> Iterator[list[Call]]:
    calls: list[Call] = []
    RECORDING.calls = calls
    try:
        yield calls
    finally:
        RECORDING.calls = None


def recording_database(url: str) -> Any:
    """The app's Database on `url`, its connections' cursors recording (the engine is the app's own: make_engine)."""
    from sqlalchemy import event

    from archiveprint.db import Database

    db = Database.connect(url)

    @event.listens_for(db.engine, "connect")
    def _record(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.cursor_factory = RecordingCursor

    return db


def libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


class Replayer:
    """Recorded statements sent again through one plain psycopg connection (no SQLAlchemy, no scope hook). Ids a
    RETURNING gave back when recording are swapped for the ones it gives back now."""

    def __init__(self, url: str) -> None:
        self.connection = psycopg.connect(libpq_url(url))
        self.ids: dict[int, int] = {}  # kept from one run to the next: a return names the loan its lend made

    def run(self, calls: Sequence[Call], *, commit: bool) -> None:
        ids = self.ids
        with self.connection.cursor() as cursor:
            for call in calls:
                params = _swap(call.params, ids) if ids else call.params
                if call.many:
                    cursor.executemany(call.sql, params)
                    continue
                cursor.execute(call.sql, params)
                if cursor.description is not None:
                    rows = cursor.fetchall()
                    if call.returned:
                        for old, new in zip(call.returned, rows, strict=False):
                            ids.update((a, b) for a, b in zip(old, new, strict=False)
                                       if type(a) is int and type(b) is int and a != b)
        if commit:
            self.connection.commit()
        else:
            self.connection.rollback()

    def close(self) -> None:
        self.connection.close()


# Tables whose new rows' ids come back by RETURNING while scans are recorded, and where their sequences are moved to
# before, so that a recorded id (a loan's, an event's) can never be mistaken for another table's or a small real id.
RETURNING_TABLES = ("loans", "events", "folder_movements", "loan_scans", "audit_log")


def separate_sequences(url: str) -> None:
    with psycopg.connect(libpq_url(url)) as connection:
        for index, table in enumerate(RETURNING_TABLES, start=1):
            connection.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), greatest("
                               f"(SELECT coalesce(max(id), 0) FROM {table}), {index * 10 ** 8}))")


def _swap(params: Any, ids: dict[int, int]) -> Any:
    if isinstance(params, dict):
        return {key: ids.get(value, value) if type(value) is int else value for key, value in params.items()}
    if isinstance(params, list):
        return [_swap(item, ids) for item in params]
    if isinstance(params, tuple):
        return tuple(ids.get(value, value) if type(value) is int else value for value in params)
    return params


# --- the county: sites through the services, the register and the shelves by COPY ----------------------------------

@dataclass
class SiteInfo:
    id: int
    code: str
    name: str
    township_id: int
    township_code: str
    username: str


def fresh_database(name: str) -> str:
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return database_url(name)


def database_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_database(name: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def add_sites(url: str, count: int) -> list[SiteInfo]:
    """Each site, its clerk, its borrower and its storage layout through the app's services, in the site's scope."""
    from archiveprint.accounts.scope import scoped, site_scope
    from archiveprint.accounts.services import create_user
    from archiveprint.db import Database
    from archiveprint.lending.borrowers import add_borrower
    from archiveprint.locations.models import StorageLayout
    from archiveprint.sites.services import add_site

    db = Database.connect(url)
    sites = []
    for number in range(1, count + 1):
        town = TOWNS[(number - 1) % len(TOWNS)] + ("" if number <= len(TOWNS) else str(number))
        with db.transaction() as session:
            site = add_site(session, f"S{number:02d}", name=f"{town}镇卫生院", county_code=COUNTY,
                            county_name=COUNTY_NAME, township_code=f"{100 + number:03d}", actor="bench")
            assert site.township_id is not None
            sites.append(SiteInfo(site.id, site.code, site.name, site.township_id, f"{100 + number:03d}",
                                  f"clerk{number:02d}"))
    for site in sites:
        with db.transaction() as session:
            in_site = scoped(db, site_scope(session, site.id))
        with in_site.transaction() as session:
            create_user(session, site.username, PASSWORD, "clerk", display_name=f"{site.name}档案员", actor="bench")
            add_borrower(session, BORROWER.format(site=site.code), kind="staff", name="王医生", actor="bench", now=NOW)
            session.add(StorageLayout(name="bench", source="bench.yaml", sha256="", text="", folder_thickness_mm=20,
                                      growth_reserve=0.2, position_format="第{}位", shelves=0, actor="bench"))
    db.dispose()
    return sites


COLUMNS = {
    "villages": ("id", "site_id", "township_id", "code", "name", "last_serial", "last_household_no"),
    "events": ("id", "site_id", "occurred_at", "actor", "kind", "entity_type", "entity_id", "data"),
    "shelves": ("id", "site_id", "code", "address", "room_code", "room_name", "block_code", "block_name", "kind",
                "purpose", "coordinates", "capacity", "width_mm", "seq", "village_id", "retired_at", "created_at"),
    "households": ("id", "village_id", "number", "external_no", "match_key", "head_name", "address", "created_at",
                   "updated_at"),
    "residents": ("id", "archive_code", "village_id", "serial", "household_id", "relation_to_head", "name",
                  "name_initials", "sex", "birth_date", "id_number", "phone", "address", "registered_on", "status",
                  "closed_note", "created_at", "updated_at"),
    "folder_positions": ("household_id", "shelf_id", "slot", "state", "holder", "since", "version"),
    "folder_movements": ("id", "household_id", "seq", "kind", "shelf_id", "slot", "state", "holder", "reason", "at",
                         "actor", "event_id"),
}


class Ids:
    """The next id of each table (rows are COPYed with their ids; the sequences are set afterwards)."""

    def __init__(self) -> None:
        self.last: dict[str, int] = {}

    def next(self, table: str) -> int:
        self.last[table] = self.last.get(table, 0) + 1
        return self.last[table]


def shares(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def site_rows(site: SiteInfo, index: int, households: int, residents: int, ids: Ids, seen_ids: set[str],
              initials: Callable[[str], str]) -> dict[str, list[tuple[Any, ...]]]:
    """One site's villages, households, residents, shelves, positions and movements: `demo.generate`'s people
    (one township per site, so names, villages and 户号 look real) cut to `residents`."""
    from archiveprint.register import demo
    from archiveprint.register.codes import folder_code

    villages = max(1, math.ceil(households / PER_VILLAGE))
    sizes = shares(households, villages)
    town = demo.generate(seed=SEED + index, villages=villages, households_per_village=max(sizes), today=TODAY)
    by_village: dict[str, list[Any]] = {}
    for household in town.households:
        by_village.setdefault(household.village_code, []).append(household)
    kept = [by_village[v.code][:size] for v, size in zip(town.villages, sizes, strict=True)]
    members = [list(h.members) for village in kept for h in village]
    excess = sum(map(len, members)) - residents
    while excess > 0:  # drop the last member of the largest households (never a head) until the count is right
        largest = sorted(range(len(members)), key=lambda i: -len(members[i]))
        for i in largest:
            if excess == 0 or len(members[i]) == 1:
                break
            members[i].pop()
            excess -= 1
    rows: dict[str, list[tuple[Any, ...]]] = {table: [] for table in COLUMNS}
    event_id = ids.next("events")
    rows["events"].append((event_id, site.id, NOW, "bench", "location.shelved", "bench", str(site.id), "{}"))
    prefix = COUNTY + site.township_code
    per_shelf_village = math.ceil(PER_VILLAGE * RESERVE / CAPACITY)
    seq = 0
    at = 0
    for v_index, (village, households_of) in enumerate(zip(town.villages, kept, strict=True)):
        village_id = ids.next("villages")
        last_serial = 0
        shelf_ids = []
        for _ in range(per_shelf_village):
            seq += 1
            room, rest = divmod(seq - 1, 12 * 2 * 6 * 6)
            column, rest = divmod(rest, 72)
            face, rest = divmod(rest, 36)
            section, level = divmod(rest, 6)
            values = (str(column + 1), "AB"[face], str(section + 1), str(level + 1))
            coordinates = json.dumps([["列", values[0], f"{values[0]}列"], ["面", values[1], f"{values[1]}面"],
                                      ["节", values[2], f"{values[2]}节"], ["层", values[3], f"{values[3]}层"]],
                                     ensure_ascii=False)
            shelf_id = ids.next("shelves")
            shelf_ids.append(shelf_id)
            rows["shelves"].append((
                shelf_id, site.id, f"K{room + 1}-M-" + "-".join(values),
                f"{room + 1}号库房 {values[0]}列 {values[1]}面 {values[2]}节 {values[3]}层", f"K{room + 1}",
                f"{room + 1}号库房", "M", "", "密集架", "village", coordinates, CAPACITY, 900.0, seq, village_id,
                None, NOW))
        for number, household in enumerate(households_of, start=1):
            household_id = ids.next("households")
            people = members[at]
            at += 1
            rows["households"].append((household_id, village_id, number, prefix + household.external_no[9:],
                                       f"no:{prefix + household.external_no[9:]}", household.head_name,
                                       household.address, NOW, NOW))
            for person in people:
                code = prefix + person.archive_code[9:]
                serial = int(code[12:])
                last_serial = max(last_serial, serial)
                id_number = person.id_number if person.id_number not in seen_ids else None
                if id_number:
                    seen_ids.add(id_number)
                rows["residents"].append((
                    ids.next("residents"), code, village_id, serial, household_id, person.relation_to_head,
                    person.name, initials(person.name), person.sex, person.birth_date, id_number, person.phone,
                    household.address, person.registered_on, "active", "", NOW, NOW))
            shelf = shelf_ids[(number - 1) // CAPACITY]
            slot = (number - 1) % CAPACITY + 1
            rows["folder_positions"].append((household_id, shelf, slot, "on_shelf", "", NOW, 1))
            rows["folder_movements"].append((ids.next("folder_movements"), household_id, 1, "shelve", shelf, slot,
                                             "on_shelf", "", "", NOW, "bench", event_id))
        rows["villages"].append((village_id, site.id, site.township_id, village.code, village.name, last_serial,
                                 len(households_of)))
        folder_code(prefix + village.code, 1)  # a village code the folder code takes (fails loudly otherwise)
        del v_index
    return rows


def load(url: str, sites_count: int, residents: int, households: int) -> tuple[list[SiteInfo], dict[str, Any]]:
    from sqlalchemy import text

    from archiveprint.db import Database
    from archiveprint.migrate import upgrade
    from archiveprint.register.names import pinyin_initials

    started = time.perf_counter()
    db = Database.connect(url)
    upgrade(db.engine)
    db.dispose()
    sites = add_sites(url, sites_count)
    services_s = time.perf_counter() - started
    cache: dict[str, str] = {}

    def initials(name: str) -> str:
        if name not in cache:
            cache[name] = pinyin_initials(name)
        return cache[name]

    ids = Ids()
    with Database.connect(url).engine.connect() as conn:
        for table in ("events", "villages", "shelves", "households", "residents", "folder_movements"):
            ids.last[table] = conn.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar_one()
    seen: set[str] = set()
    generate_s = copy_s = 0.0
    counts: dict[str, int] = {}
    with psycopg.connect(libpq_url(url)) as connection:
        for index, (site, h, r) in enumerate(zip(sites, shares(households, sites_count), shares(residents, sites_count),
                                                 strict=True)):
            began = time.perf_counter()
            rows = site_rows(site, index, h, r, ids, seen, initials)
            generate_s += time.perf_counter() - began
            began = time.perf_counter()
            with connection.cursor() as cursor:
                for table, columns in COLUMNS.items():
                    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                        for row in rows[table]:
                            copy.write_row(row)
                    counts[table] = counts.get(table, 0) + len(rows[table])
            connection.commit()
            copy_s += time.perf_counter() - began
            print(f"  site {site.code}: {len(rows['households']):,} households, {len(rows['residents']):,} residents",
                  file=sys.stderr, flush=True)
        with connection.cursor() as cursor:
            for table in ids.last:
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        connection.commit()
    began = time.perf_counter()
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
    analyze_s = time.perf_counter() - began
    info = {"load_s": round(time.perf_counter() - started, 1), "services_s": round(services_s, 1),
            "generate_s": round(generate_s, 1), "copy_s": round(copy_s, 1), "vacuum_analyze_s": round(analyze_s, 1),
            "rows": counts}
    return sites, info


def loaded_sites(url: str) -> list[SiteInfo]:
    with psycopg.connect(libpq_url(url)) as connection:
        rows = connection.execute("SELECT s.id, s.code, s.name, s.township_id, t.code FROM sites s "
                                  "JOIN townships t ON t.id = s.township_id ORDER BY s.id").fetchall()
    return [SiteInfo(row[0], row[1], row[2], row[3], row[4], f"clerk{int(row[1][1:]):02d}") for row in rows]


# --- what each clerk asks for (seeded) -----------------------------------------------------------------------------

@dataclass
class Samples:
    folders: dict[int, list[str]]  # site id → folder codes (19 characters, as the label's barcode holds them)
    searches: dict[int, list[tuple[str, str]]]  # site id → (kind, query)
    scan_folders: dict[int, list[str]]  # site id → folder codes lent and returned over HTTP
    floor_scan_folders: dict[int, list[str]]  # site id → others, lent and returned by the floor's replay


def samples(url: str, sites: list[SiteInfo], *, locates: int, searches: int, scans: int) -> Samples:
    from archiveprint.register.codes import folder_code

    rng = random.Random(SEED + 1)
    out = Samples({}, {}, {}, {})
    with psycopg.connect(libpq_url(url)) as connection:
        for site in sites:
            households = connection.execute(
                "SELECT h.id, v.code, h.number FROM households h JOIN villages v ON v.id = h.village_id "
                "WHERE v.site_id = %s ORDER BY h.id", (site.id,)).fetchall()
            prefix = COUNTY + site.township_code
            codes = [folder_code(prefix + village, number).value for _, village, number in households]
            out.folders[site.id] = rng.sample(codes, min(len(codes), locates))
            folders = math.ceil(scans / 2)  # a lend and a return each
            if len(codes) < 3 * folders:
                raise SystemExit(f"site {site.code} has {len(codes)} folders; {scans} scans a station need "
                                 f"{3 * folders} (fewer --scans, or more --households)")
            lent = rng.sample(codes, 3 * folders)
            out.scan_folders[site.id] = lent[:folders]
            out.floor_scan_folders[site.id] = lent[folders:]
            people = connection.execute(
                "SELECT r.name, r.name_initials, r.archive_code, r.phone FROM residents r "
                "JOIN households h ON h.id = r.household_id JOIN villages v ON v.id = h.village_id "
                "WHERE v.site_id = %s ORDER BY r.id", (site.id,)).fetchall()
            queries = []
            for i in range(searches):
                name, initials, code, phone = rng.choice(people)
                kind = ("name", "initials", "code", "phone")[i % 4]
                if kind == "phone" and not phone:
                    kind = "name"
                queries.append((kind, {"name": name, "initials": initials, "code": code, "phone": phone}[kind]))
            rng.shuffle(queries)
            out.searches[site.id] = queries
    return out


# --- the stack: gunicorn serving the app ---------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def gunicorn(url: str, workers: int, threads: int, folder: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in ("SERVER_SOFTWARE", "SECRET_KEY")}
    env.update({
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "DATABASE_URL": url,
        "ARCHIVEPRINT_INSTANCE": str(folder / "instance"),
        "REDIS_URL": REDIS_URL,
        "ARCHIVEPRINT_RQ_QUEUE": f"archiveprint-countybench-{secrets.token_hex(4)}",  # nothing is enqueued
        "ARCHIVEPRINT_WEB_WORKERS": str(workers),
        "ARCHIVEPRINT_WEB_THREADS": str(threads),
        "ARCHIVEPRINT_BIND": f"127.0.0.1:{port}",
        "ARCHIVEPRINT_LOCALE": "zh_CN",
    })
    log_path = folder / "gunicorn.log"
    command = [str(Path(sys.executable).parent / "gunicorn"), "-c", "python:archiveprint.web.gunicorn_conf",
               "archiveprint.web.wsgi:app"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited {process.returncode}: {log_path.read_text()[-3000:]}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/login")
                if connection.getresponse().status == 200:
                    connection.close()
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer in 120 s: {log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        booted = 0
        while booted < workers and time.monotonic() < deadline:  # every worker up before anything is timed
            booted = log_path.read_text(encoding="utf-8", errors="replace").count("Booting worker with pid")
            time.sleep(0.2)
        SERVER.master = process.pid
        yield "127.0.0.1", port
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


class Client:
    """One signed-in clerk on one keep-alive connection (cookies kept; redirects not followed)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.connection = http.client.HTTPConnection(host, port, timeout=60)
        self.cookies: dict[str, str] = {}
        self.csrf = ""
        self.reconnects = 0

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                if attempt == 2:
                    raise
                self.reconnects += 1
                self.connection.close()
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        if response.getheader("Connection", "").lower() == "close":
            self.connection.close()
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        return response.status, data

    def get(self, path: str) -> tuple[int, bytes]:
        return self.request("GET", path)

    def sign_in(self, username: str) -> None:
        status, page = self.get("/login")
        token = CSRF_FIELD.search(page.decode())
        assert status == 200 and token, f"login page: {status}"
        form = urllib.parse.urlencode({"csrf_token": token.group(1), "username": username, "password": PASSWORD})
        status, body = self.request("POST", "/login", form.encode(),
                                    {"Content-Type": "application/x-www-form-urlencoded"})
        assert status in (302, 303), f"sign-in of {username}: HTTP {status} {body[:300]!r}"
        status, page = self.get("/lending/scan")
        token = CSRF_META.search(page.decode()) or CSRF_FIELD.search(page.decode())
        assert status == 200 and token, f"scan station page for {username}: HTTP {status}"
        self.csrf = token.group(1)

    def post_json(self, path: str, data: object) -> tuple[int, bytes]:
        return self.request("POST", path, json.dumps(data).encode(),
                            {"Content-Type": "application/json", "X-CSRFToken": self.csrf})


# --- CPU the server spends -----------------------------------------------------------------------------------------

def _cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (/proc/<pid>/stat), None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(parent: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == parent:
                pids.append(int(entry.name))
    return pids


@dataclass
class ServerCpu:
    """The CPU the server spends on a measurement — gunicorn's workers, and the PostgreSQL backends connected to the
    county's database (the app's pool: the floors' connections are closed by then) — read from /proc before and
    after it. Unlike the wall-clock figures it hardly moves with what else the two cores are doing. Linux only."""

    master: int = 0
    database: str = ""

    def pids(self) -> tuple[list[int], list[int]]:
        workers = _children(self.master) if self.master else []
        with psycopg.connect(libpq_url(database_url(self.database)), autocommit=True) as connection:
            backends = [row[0] for row in connection.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (self.database,)).fetchall()]
        return workers, backends

    def snapshot(self) -> dict[str, dict[int, float]]:
        workers, backends = self.pids()
        return {"app": {pid: _cpu_s(pid) or 0.0 for pid in workers},
                "db": {pid: _cpu_s(pid) or 0.0 for pid in backends},
                "client": {0: time.process_time()}}

    def since(self, before: dict[str, dict[int, float]], requests: int) -> dict[str, float]:
        """CPU ms a request: the app (gunicorn workers), the database (its backends), the load generator."""
        after = self.snapshot()
        out = {}
        for part in ("app", "db", "client"):
            spent = sum(now - before[part].get(pid, 0.0) for pid, now in after[part].items())
            out[f"{part}_cpu_ms"] = round(spent * 1000 / max(1, requests), 2)
        return out


SERVER = ServerCpu()


def with_cpu(measure: Callable[[], tuple[list[float], float]], requests: int) -> tuple[list[float], float,
                                                                                      dict[str, float]]:
    """Run one HTTP measurement (`requests` requests, warm-up included) and what the server's CPU spent on each."""
    before = SERVER.snapshot()
    load_before = os.getloadavg()[0]
    times, wall = measure()
    cpu = SERVER.since(before, requests)
    return times, wall, {**cpu, "load_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)]}


# --- timing --------------------------------------------------------------------------------------------------------

def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def summary(times: Sequence[float], wall: float | None = None) -> dict[str, float]:
    ms = [t * 1000 for t in times]
    out = {"n": len(ms), "p50": round(percentile(ms, 0.50), 2), "p90": round(percentile(ms, 0.90), 2),
           "p99": round(percentile(ms, 0.99), 2), "max": round(max(ms), 2), "mean": round(statistics.fmean(ms), 2)}
    if wall:
        out["per_s"] = round(len(ms) / wall, 1)
    return out


THINK = [0.0]  # seconds a clerk or station pauses between requests, on average (--think-ms)


def concurrently(tasks: Sequence[Callable[[int], None]], count: int, warmup: int) -> tuple[list[float], float]:
    """Each task (one clerk, station or floor connection) in its own thread, `count` times after `warmup` untimed
    ones, all starting together; the timed durations and the wall time of the timed part. Between two requests a
    task pauses 0.5–1.5 × THINK (none when THINK is 0: a closed loop at full speed)."""
    barrier = threading.Barrier(len(tasks))
    think = THINK[0]
    times: list[list[float]] = [[] for _ in tasks]
    spans: list[tuple[float, float]] = [(0.0, 0.0)] * len(tasks)
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            task = tasks[index]
            pause = random.Random(SEED + index)
            for i in range(warmup):
                task(i)
            barrier.wait()
            if think:
                time.sleep(pause.uniform(0, think))  # the clerks do not all start at the same instant
            began = time.perf_counter()
            for i in range(warmup, warmup + count):
                started = time.perf_counter()
                task(i)
                times[index].append(time.perf_counter() - started)
                if think:
                    time.sleep(pause.uniform(0.5, 1.5) * think)
            spans[index] = (began, time.perf_counter())
        except BaseException as error:  # reported below, with the others
            errors.append(error)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(tasks))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    wall = max(end for _, end in spans) - min(start for start, _ in spans)
    return [t for per in times for t in per], wall


# --- the measurements ----------------------------------------------------------------------------------------------

def record_reads(url: str, sites: list[SiteInfo], queries: dict[int, list[str]],
                 call: Callable[[Any, str], object]) -> tuple[dict[int, list[list[Call]]], dict[int, list[list[Call]]],
                                                               list[float]]:
    """Each query run once by `call(session, query)` in a session with no scope and once in its site's scope: the
    statements each sent, and the in-process time of the scoped run (the app's Python and SQL, no HTTP)."""
    from archiveprint.accounts.scope import scoped, site_scope

    db = recording_database(url)
    bare: dict[int, list[list[Call]]] = {}
    scoped_calls: dict[int, list[list[Call]]] = {}
    in_process: list[float] = []
    for site in sites:
        with db.reader() as session:
            in_site = scoped(db, site_scope(session, site.id))
        for query in queries[site.id]:
            with db.reader() as session, recording() as calls:
                call(session, query)
            bare.setdefault(site.id, []).append(calls)
            with in_site.reader() as session:
                started = time.perf_counter()
                with recording() as calls:
                    call(session, query)
                in_process.append(time.perf_counter() - started)
            scoped_calls.setdefault(site.id, []).append(calls)
    db.dispose()
    return bare, scoped_calls, in_process


def replay_tasks(url: str, calls: dict[int, list[list[Call]]], sites: list[SiteInfo], concurrency: int, *,
                 commit: bool = False) -> tuple[list[Callable[[int], None]], list[Replayer]]:
    replayers = [Replayer(url) for _ in range(concurrency)]
    tasks = []
    for index, replayer in enumerate(replayers):
        site = sites[index % len(sites)]
        mine = calls[site.id]

        def task(i: int, replayer: Replayer = replayer, mine: list[list[Call]] = mine) -> None:
            replayer.run(mine[i % len(mine)], commit=commit)
        tasks.append(task)
    return tasks, replayers


def timed_replay(url: str, calls: dict[int, list[list[Call]]], sites: list[SiteInfo], concurrency: int, count: int,
                 warmup: int) -> dict[str, float]:
    tasks, replayers = replay_tasks(url, calls, sites, concurrency)
    try:
        times, wall = concurrently(tasks, count, warmup)
    finally:
        for replayer in replayers:
            replayer.close()
    return summary(times, wall)


def sequential_replay(url: str, calls: dict[int, list[list[Call]]], sites: list[SiteInfo], count: int,
                      warmup: int) -> dict[str, float]:
    """One connection, the sites in turn (as the one clerk of the locate measurement asks)."""
    replayer = Replayer(url)
    order = [calls[site.id][i] for i in range(max(len(v) for v in calls.values())) for site in sites
             if i < len(calls[site.id])]
    try:
        times = []
        for i in range(warmup + count):
            started = time.perf_counter()
            replayer.run(order[i % len(order)], commit=False)
            if i >= warmup:
                times.append(time.perf_counter() - started)
    finally:
        replayer.close()
    return summary(times)


def measure_locate(url: str, sites: list[SiteInfo], clients: dict[int, Client], picked: Samples, count: int,
                   warmup: int) -> dict[str, Any]:
    from archiveprint.lending.queries import status_provider
    from archiveprint.lending.rules import site_rules
    from archiveprint.locations.queries import locate

    providers = [status_provider(site_rules(None))]
    bare, scoped_calls, in_process = record_reads(url, sites, picked.folders,
                                                  lambda session, q: locate(session, q, providers=providers))
    order = [(site, picked.folders[site.id][i]) for i in range(max(map(len, picked.folders.values())))
             for site in sites if i < len(picked.folders[site.id])]
    result: dict[str, Any] = {"bare SQL": sequential_replay(url, bare, sites, count, warmup),
                              "scoped SQL": sequential_replay(url, scoped_calls, sites, count, warmup),
                              "in-process": summary(in_process),
                              "statements": len(next(iter(scoped_calls.values()))[0])}
    for name, path in (("HTTP API", "/api/v1/locate?q="), ("HTTP page", "/locations/locate?q=")):
        found = [0]

        def one_by_one(path: str = path, found: list[int] = found) -> tuple[list[float], float]:
            times = []
            for i in range(warmup + count):
                site, code = order[i % len(order)]
                started = time.perf_counter()
                status, body = clients[site.id].get(path + code)
                elapsed = time.perf_counter() - started
                if status != 200:
                    raise RuntimeError(f"{path}{code}: HTTP {status} {body[:300]!r}")
                if i >= warmup:
                    times.append(elapsed)
                    found[0] += (json.loads(body)["count"] == 1) if "api" in path else (code.encode() in body)
            return times, 0.0

        times, _wall, cpu = with_cpu(one_by_one, warmup + count)
        result[name] = {**summary(times), "found": found[0], **cpu}
    return result


def measure_search(url: str, sites: list[SiteInfo], clients: dict[int, Client], picked: Samples, count: int,
                   warmup: int) -> dict[str, Any]:
    from archiveprint.lending.queries import status_provider
    from archiveprint.lending.rules import site_rules
    from archiveprint.locations.queries import find_places
    from archiveprint.register.queries import find_residents

    providers = [status_provider(site_rules(None))]

    def search(session: Any, query: str) -> None:
        matches = find_residents(session, query)
        find_places(session, {m.household for m in matches}, providers=providers)

    queries = {site: [q for _, q in items] for site, items in picked.searches.items()}
    bare, scoped_calls, in_process = record_reads(url, sites, queries, search)
    users = len(sites)
    result: dict[str, Any] = {
        "bare SQL ×1": sequential_replay(url, bare, sites, count, warmup),
        f"bare SQL ×{users}": timed_replay(url, bare, sites, users, count // users or 1, warmup // users),
        f"scoped SQL ×{users}": timed_replay(url, scoped_calls, sites, users, count // users or 1, warmup // users),
        "in-process ×1": summary(in_process)}
    by_kind: dict[str, list[float]] = {}
    lock = threading.Lock()

    def user(site: SiteInfo) -> Callable[[int], None]:
        items = picked.searches[site.id]

        def task(i: int) -> None:
            kind, query = items[i % len(items)]
            started = time.perf_counter()
            status, body = clients[site.id].get("/?q=" + urllib.parse.quote(query))
            elapsed = time.perf_counter() - started
            if status != 200:
                raise RuntimeError(f"search {query!r}: HTTP {status} {body[:300]!r}")
            if i >= warmup // users:
                with lock:
                    by_kind.setdefault(kind, []).append(elapsed)
        return task

    per, wu = count // users or 1, warmup // users
    times, wall, cpu = with_cpu(lambda: concurrently([user(site) for site in sites], per, wu), (per + wu) * users)
    result[f"HTTP ×{users}"] = {**summary(times, wall), **cpu}
    result["HTTP by kind"] = {kind: summary(values) for kind, values in sorted(by_kind.items())}
    return result


def record_scans(url: str, sites: list[SiteInfo], folders: dict[int, list[str]], *,
                 scope: bool) -> dict[int, list[list[Call]]]:
    """For each folder, a lend then a return by `submit_scan` (as POST /api/v1/scans calls it) in one transaction
    that is rolled back: the statements of each scan."""
    from archiveprint.accounts.scope import scoped, site_scope
    from archiveprint.lending.journal import ScanInput, submit_scan
    from archiveprint.lending.rules import site_rules

    rules = site_rules(None)
    separate_sequences(url)
    db = recording_database(url)
    out: dict[int, list[list[Call]]] = {}
    for site in sites:
        with db.reader() as session:
            target = scoped(db, site_scope(session, site.id)) if scope else db
        for code in folders[site.id]:
            session = target.writer()
            try:
                for mode in ("out", "return"):
                    scan = scan_body(mode, code, site=site, station=f"floor-{site.code}")
                    with recording() as calls:
                        submit_scan(session, ScanInput.from_json({**scan, "action": scan["mode"],
                                                                  "client_at": scan["scanned_at"]}),
                                    rules=rules, actor=site.username, now=datetime.utcnow())
                        session.flush()
                    out.setdefault(site.id, []).append(calls)
            finally:
                session.rollback()
                session.close()
    db.dispose()
    return out


def scan_body(mode: str, code: str, *, site: SiteInfo, station: str) -> dict[str, str]:
    body = {"client_id": f"bench-{secrets.token_hex(10)}", "mode": mode, "code": code, "station": station,
            "scanned_at": (datetime.utcnow() - timedelta(seconds=1)).isoformat() + "Z"}
    if mode == "out":
        body.update({"borrower": BORROWER.format(site=site.code), "purpose": "随访"})
    return body


def scan_counts(count: int, warmup: int, stations: int) -> tuple[int, int]:
    """Timed and untimed scans a station: even numbers, so that every folder lent is returned."""
    return max(2, count // stations // 2 * 2), warmup // stations // 2 * 2


def measure_scans(url: str, sites: list[SiteInfo], clients: dict[int, Client], picked: Samples, count: int,
                  warmup: int) -> dict[str, Any]:
    stations = len(sites)
    per, wu = scan_counts(count, warmup, stations)
    result: dict[str, Any] = {}
    for label, scope in (("bare SQL", False), ("scoped SQL", True)):
        half = {site.id: picked.floor_scan_folders[site.id][int(scope)::2] for site in sites}
        calls = record_scans(url, sites, half, scope=scope)
        # Each task replays one site's scans in order (lend, return, lend …), committing each: as a station does.
        tasks, replayers = replay_tasks(url, calls, sites, stations, commit=True)
        try:
            times, wall = concurrently(tasks, min(per, (min(map(len, calls.values())) - wu) // 2 * 2), wu)
        finally:
            for replayer in replayers:
                replayer.close()
        result[f"{label} ×{stations}"] = summary(times, wall)
    outcomes: dict[str, int] = {}
    lock = threading.Lock()

    def station(site: SiteInfo) -> Callable[[int], None]:
        codes = picked.scan_folders[site.id]

        def task(i: int) -> None:
            mode = "out" if i % 2 == 0 else "return"
            code = codes[(i // 2) % len(codes)]
            status, body = clients[site.id].post_json("/api/v1/scans", scan_body(
                mode, code, site=site, station=f"station-{site.code}"))
            if status != 200:
                raise RuntimeError(f"scan {mode} {code}: HTTP {status} {body[:300]!r}")
            outcome = json.loads(body)["outcome"]
            with lock:
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
        return task

    times, wall, cpu = with_cpu(lambda: concurrently([station(site) for site in sites], per, wu),
                                (per + wu) * stations)
    result[f"HTTP ×{stations}"] = {**summary(times, wall), "outcomes": outcomes, **cpu}
    return result


# --- report --------------------------------------------------------------------------------------------------------

def table(results: dict[str, Any]) -> str:
    lines = ["| measure | what | n | p50 ms | p90 ms | p99 ms | max ms | per s | CPU ms app / db / client | load |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for measure, rows in results.items():
        for what, row in rows.items():
            if not isinstance(row, dict) or "p50" not in row:
                continue
            cpu = (f"{row['app_cpu_ms']} / {row['db_cpu_ms']} / {row['client_cpu_ms']}" if "app_cpu_ms" in row
                   else "")
            load = " → ".join(map(str, row["load_1min"])) if "load_1min" in row else ""
            lines.append(f"| {measure} | {what} | {row['n']} | {row['p50']} | {row['p90']} | {row['p99']} | "
                         f"{row['max']} | {row.get('per_s', '')} | {cpu} | {load} |")
    return "\n".join(lines)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--residents", type=int, default=600_000)
    parser.add_argument("--households", type=int, default=200_000)
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn processes (deploy/archiveprint.env: 4)")
    parser.add_argument("--web-threads", type=int, default=4, help="threads per gunicorn process")
    parser.add_argument("--locates", type=int, default=1000, help="timed locate look-ups (one clerk)")
    parser.add_argument("--searches", type=int, default=1000, help="timed searches, over all clerks at once")
    parser.add_argument("--scans", type=int, default=1000, help="timed scans, over all stations at once")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--think-ms", type=float, default=1000,
                        help="mean pause of each clerk and station between two requests (0: a closed loop)")
    parser.add_argument("--database", default="county_bench")
    parser.add_argument("--keep", action="store_true", help="keep the database (and reuse it with --reuse)")
    parser.add_argument("--reuse", action="store_true",
                        help="measure on the database a --keep run left (and keep it)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.households < args.sites or args.residents < args.households:
        parser.error("at least one household per site and one resident per household")
    import sqlalchemy

    THINK[0] = args.think_ms / 1000
    SERVER.database = args.database
    url = database_url(args.database)
    folder = Path(tempfile.mkdtemp(prefix="county-bench-"))
    results: dict[str, Any] = {}
    info: dict[str, Any] = {}
    try:
        if args.reuse:
            from archiveprint.db import Database
            from archiveprint.migrate import upgrade

            db = Database.connect(url)
            upgrade(db.engine)  # an index added since the --keep run
            db.dispose()
            sites = loaded_sites(url)
        else:
            fresh_database(args.database)
            print(f"loading {args.sites} sites, {args.households:,} households, {args.residents:,} residents …",
                  file=sys.stderr, flush=True)
            sites, info = load(url, args.sites, args.residents, args.households)
            print(f"loaded in {info['load_s']} s", file=sys.stderr, flush=True)
        per, wu = scan_counts(args.scans, args.warmup, len(sites))
        picked = samples(url, sites, locates=math.ceil((args.locates + args.warmup) / len(sites)),
                         searches=(args.searches + args.warmup) // len(sites) + 1, scans=per + wu)
        with gunicorn(url, args.web_workers, args.web_threads, folder) as (host, port):
            clients = {}
            for site in sites:
                clients[site.id] = Client(host, port)
                clients[site.id].sign_in(site.username)
            load_before = load_average()
            print("locate …", file=sys.stderr, flush=True)
            results["locate"] = measure_locate(url, sites, clients, picked, args.locates, args.warmup)
            print("search …", file=sys.stderr, flush=True)
            results["search"] = measure_search(url, sites, clients, picked, args.searches, args.warmup)
            print("scans …", file=sys.stderr, flush=True)
            results["scan"] = measure_scans(url, sites, clients, picked, args.scans, args.warmup)
            load_after = load_average()
            reconnects = sum(c.reconnects for c in clients.values())
        with psycopg.connect(libpq_url(url)) as connection:
            server = connection.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
            households, residents = connection.execute(
                "SELECT (SELECT count(*) FROM households), (SELECT count(*) FROM residents)").fetchone()  # type: ignore[misc]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if not args.keep and not args.reuse:  # a database kept for reuse stays until a run without --reuse
            drop_database(args.database)
    meta = {"sites": len(sites), "residents": residents, "households": households,
            "web_workers": args.web_workers, "web_threads": args.web_threads, "think_ms": args.think_ms,
            "python": platform.python_version(),
            "sqlalchemy": sqlalchemy.__version__, "postgresql": server, "cpus": os.cpu_count(),
            "load_average": [load_before, load_after], "reconnects": reconnects, **info}
    report = {"meta": meta, "results": results}
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1))
    print(table(results))
    print(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
