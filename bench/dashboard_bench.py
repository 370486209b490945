"""Dashboard benchmark: the home page (看板) of a 30,000-resident township, as a clerk, a 督导 and a village doctor.

Run from the checkout:  .venv/bin/python bench/dashboard_bench.py  [--households 480] [--url URL] [--keep DIR]
                                                                     [--screenshot docs/images/dashboard.png]

A synthetic township (demo.generate, seed 2026, 20 villages × 480 households: 30,676 residents — what
`archiveprint demo --villages 20 --households 480` loads) goes into a fresh SQLite file (or the database `--url`
names), then: the example storage layout with every folder shelved, 常住人口 for 18 of the 20 villages, 60 folders
lent (20 of them overdue), 20 taken out, 10 missing, an annual check for a third of the elderly, and two signed
inspections of 60 folders each plus an open one. Each case runs in a new process (its own imports, an empty chart
cache) through Flask's test client, `--repeat` times (the median is shown):

  page cold      the first GET / in a new process: matplotlib imported, the charts drawn;
  page warmed    the same after charts.warm_up(), which `archiveprint serve` runs at start (matplotlib loaded);
  page warm      the next GET / (the charts come from the cache: same data, same picture);
  page changed   a GET / after a change (a resident registered): the data read again, the chart whose data changed
                 (建档率 per village) drawn again;
  numbers only   find_dashboard alone (the queries, no page, no charts), as a clerk and as a village doctor.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TODAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 2, 0)  # 10:00 in Beijing
PASSWORD = "bench-password-9"


def build(url: str, households: int) -> dict[str, object]:
    from archiveprint import models  # noqa: F401
    from archiveprint.db import Database
    from archiveprint.migrate import upgrade
    from archiveprint.register import demo

    started = time.perf_counter()
    database = Database.connect(url)
    upgrade(database.engine)
    town = demo.generate(seed=2026, villages=20, households_per_village=households, today=TODAY)
    with database.transaction() as session:
        demo.load(session, town, actor="bench")
    database.engine.dispose()
    return add_archive_life(url, started)


def add_archive_life(url: str, started: float) -> dict[str, object]:
    """Shelves, figures, services, loans and inspections on a loaded demo township."""
    from sqlalchemy import func, select

    from archiveprint import models  # noqa: F401
    from archiveprint.accounts.services import create_user
    from archiveprint.db import Database
    from archiveprint.due.services import record_visit
    from archiveprint.errors import ArchiveprintError
    from archiveprint.indicators.services import record_figures, values_of
    from archiveprint.inspections.checklist import load_checklist
    from archiveprint.inspections.services import draw_inspection, record_check, sign_inspection
    from archiveprint.lending.borrowers import add_borrower
    from archiveprint.lending.rules import load_rules, shipped_rules_file
    from archiveprint.lending.services import check_out
    from archiveprint.locations.layout import load_layout
    from archiveprint.locations.services import apply_layout, report_missing, take_out
    from archiveprint.locations.shelveall import shelve_all
    from archiveprint.register.codes import folder_code
    from archiveprint.register.models import Household, Resident, Village
    from archiveprint.register.populations import load_populations

    database = Database.connect(url)
    rng = random.Random(7)
    with database.transaction() as session:
        apply_layout(session, load_layout(ROOT / "storage_layout" / "example-township.yaml"), actor="bench",
                     now=NOW - timedelta(days=400))
        shelve_all(session, actor="bench", now=NOW - timedelta(days=400))
        villages = list(session.scalars(select(Village).order_by(Village.code)))
        elderly = load_populations()["elderly"].clause(TODAY)
        for village in villages[:18]:
            people = session.scalar(select(func.count(Resident.id)).join(Household)
                                    .where(Household.village_id == village.id, Resident.status == "active")) or 0
            old = session.scalar(select(func.count(Resident.id)).join(Household)
                                 .where(Household.village_id == village.id, Resident.status == "active", elderly))
            record_figures(session, village, TODAY.year, values_of(round(people * rng.uniform(1.0, 1.25)),
                                                                  age65=round((old or 0) * 1.1)),
                           source="bench", actor="bench")
        for resident in session.scalars(select(Resident).where(elderly, Resident.status == "active")):
            if rng.random() < 0.35:
                record_visit(session, resident, "elderly", on=TODAY - timedelta(days=rng.randrange(1, 300)),
                             actor="bench", now=NOW)
        homes = list(session.scalars(select(Household).order_by(Household.id)))
        rng.shuffle(homes)
        rules = load_rules([shipped_rules_file()])
        doctor = add_borrower(session, "doc", kind="staff", name="钱医生", unit="全科", actor="bench", now=NOW)
        lent = 0
        for home in homes:
            if lent == 60:
                break
            try:  # a folder of a sensitive population needs a request first: lend the next one instead
                with session.begin_nested():
                    check_out(session, folder_code(home.village.full_code, home.number).value, borrower=doctor,
                              purpose="随访", rules=rules, actor="bench",
                              now=NOW - timedelta(days=30 if lent < 20 else 3))
                lent += 1
            except ArchiveprintError:
                continue
        for home in homes[-30:-10]:
            take_out(session, home, holder="门诊", actor="bench", now=NOW)
        for home in homes[-10:]:
            report_missing(session, home, reason="盘点未见", actor="bench", now=NOW)
        checklist = load_checklist(Path("/nonexistent-instance"))
        for seed, day in (("spring", date(2026, 5, 20)), ("autumn", date(2026, 11, 10))):
            inspection = draw_inspection(session, seed=seed, size=60, minimum=2, inspector="县督导组", on=day,
                                         checklist=checklist, actor="bench", now=NOW)
            for folder in inspection.folders:
                if folder.state != "sampled":
                    continue
                for item in checklist.items:
                    if item.kind == "dynamic":
                        seen = day - timedelta(days=rng.randrange(10, 500))
                        record_check(session, folder, item.key, passed=None, seen_on=seen, actor="bench", now=NOW)
                    else:
                        record_check(session, folder, item.key, passed=rng.random() > 0.04,
                                     note="" if rng.random() > 0.04 else "缺", actor="bench", now=NOW)
            sign_inspection(session, inspection, actor="bench", now=NOW)
        draw_inspection(session, seed="open", size=30, minimum=1, inspector="县督导组", on=TODAY,
                        checklist=checklist, actor="bench", now=NOW)
        create_user(session, "clerk", PASSWORD, "clerk")
        create_user(session, "viewer", PASSWORD, "viewer")
        create_user(session, "vdoc", PASSWORD, "village_doctor", villages=villages[:2])
        count = session.scalar(select(func.count(Resident.id)))
    database.engine.dispose()
    return {"residents": count, "households": len(homes), "load_s": round(time.perf_counter() - started, 1)}


def case(name: str, url: str, instance: str, user: str) -> dict[str, object]:
    """One case in this (new) process."""
    import re

    from archiveprint.config import Settings
    from archiveprint.db import Database
    from archiveprint.web import create_app

    database = Database.connect(url)
    settings = Settings(instance_dir=Path(instance), database_url=url, secret_key="bench-secret")
    app = create_app(settings, database=database)
    app.config.update(TESTING=True, ARCHIVEPRINT_TODAY=TODAY, ARCHIVEPRINT_CLOCK=lambda: NOW)
    client = app.test_client()
    login = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', login).group(1)
    client.post("/login", data={"username": user, "password": PASSWORD, "csrf_token": token})
    if name == "numbers":
        from archiveprint.accounts.scope import apply_scope, scope_for
        from archiveprint.accounts.services import find_user
        from archiveprint.indicators.dashboard import find_dashboard
        from archiveprint.indicators.targets import site_targets

        times = []
        for _ in range(5):
            with database.reader() as session:
                apply_scope(session, scope_for(find_user(session, user)))
                started = time.perf_counter()
                find_dashboard(session, TODAY.year, targets=site_targets(Path(instance)), today=TODAY,
                               day_start=NOW - timedelta(hours=2))
                times.append(time.perf_counter() - started)
        return {"seconds": statistics.median(times), "runs": len(times)}
    if name == "warmed":  # what `archiveprint serve` does in a thread at start
        from archiveprint.indicators.charts import warm_up

        warm_up()
    started = time.perf_counter()
    first = client.get("/")
    cold = time.perf_counter() - started
    assert first.status_code == 200, first.status_code
    warm = []
    for _ in range(5):
        started = time.perf_counter()
        assert client.get("/").status_code == 200
        warm.append(time.perf_counter() - started)
    changed = []
    for _ in range(3):  # a new resident: one village's 建档率 changes, so its chart is drawn again
        with database.transaction() as session:
            from sqlalchemy import select

            from archiveprint.register.models import Household
            from archiveprint.register.services import register_resident

            home = session.scalars(select(Household).order_by(Household.id).limit(1)).one()
            register_resident(session, home, name="新生儿", sex="2", birth_date=TODAY, relation_to_head="孙女",
                              actor="bench", now=NOW)
        started = time.perf_counter()
        assert client.get("/").status_code == 200
        changed.append(time.perf_counter() - started)
    return {"cold": cold, "warm": statistics.median(warm), "changed": statistics.median(changed),
            "bytes": len(first.get_data())}


def screenshot(url: str, instance: str, path: Path) -> None:
    """The 督导's board down to the inspection card, at 1280 px, as a small PNG (README: docs/images/dashboard.png)."""
    import threading

    from PIL import Image
    from playwright.sync_api import sync_playwright
    from waitress.server import create_server

    from archiveprint.config import Settings
    from archiveprint.db import Database
    from archiveprint.web import create_app

    app = create_app(Settings(instance_dir=Path(instance), database_url=url, secret_key="bench-secret"),
                     database=Database.connect(url))
    app.config.update(ARCHIVEPRINT_TODAY=TODAY, ARCHIVEPRINT_CLOCK=lambda: NOW)
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"http://127.0.0.1:{server.effective_port}/login")
        page.get_by_label("用户名").fill("viewer")
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.wait_for_selector("#board")
        bottom = page.locator("#board-populations").bounding_box()["y"] - 8
        shot = path.with_suffix(".full.png")
        page.screenshot(path=str(shot), full_page=True, clip={"x": 0, "y": 0, "width": 1280, "height": bottom})
        browser.close()
    server.close()
    Image.open(shot).convert("RGB").quantize(colors=64).save(path, optimize=True)
    shot.unlink()


def run_case(name: str, url: str, instance: str, user: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, __file__, "--case", name, "--url", url, "--instance", instance,
                           "--user", user], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=480, help="households per village (20 villages)")
    parser.add_argument("--url", help="an empty database (default: a new SQLite file)")
    parser.add_argument("--keep", help="a folder to build in (and keep); an existing bench.sqlite3 there is reused")
    parser.add_argument("--repeat", type=int, default=3, help="processes per case; the median is shown")
    parser.add_argument("--screenshot", type=Path, help="also save the 督导's board as this PNG")
    parser.add_argument("--case")
    parser.add_argument("--instance")
    parser.add_argument("--user", default="clerk")
    args = parser.parse_args()
    if args.case:
        print(json.dumps(case(args.case, args.url, args.instance, args.user)))
        return
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="dashboard-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    url = args.url or f"sqlite:///{work / 'bench.sqlite3'}"
    if args.url or not (work / "bench.sqlite3").exists():
        built = build(url, args.households)
        print(f"township: {built['residents']:,} residents, {built['households']:,} households "
              f"(built in {built['load_s']} s)")
    instance = str(work / "instance")
    if args.screenshot:
        screenshot(url, instance, args.screenshot)
    print(f"{'user':18} {'case':14} {'seconds':>8}")
    for user in ("clerk", "viewer", "vdoc"):
        runs = {name: [run_case(name, url, instance, user) for _ in range(args.repeat)]
                for name in ("page", "warmed", "numbers")}
        for label, name, key in (("page cold", "page", "cold"), ("page warmed", "warmed", "cold"),
                                 ("page warm", "page", "warm"), ("page changed", "page", "changed"),
                                 ("numbers only", "numbers", "seconds")):
            seconds = statistics.median(run[key] for run in runs[name])
            print(f"{user:18} {label:14} {seconds:8.3f}")
        print(f"{user:18} {'page size':14} {runs['page'][0]['bytes'] / 1024:7.0f}K")


if __name__ == "__main__":
    main()
