"""Print run benchmark (#14): 新建档套表 for a township's every village as one run, on 1 and on 2 real RQ workers.

Run from the checkout:  .venv/bin/python bench/printrun_bench.py  [--pages 100000] [--villages 20] [--workers 1 2]
                        [--url postgresql+psycopg://postgres@127.0.0.1:5432/test] [--redis redis://127.0.0.1:6379/0]
A county run across sites:  .venv/bin/python bench/printrun_bench.py --county --pages 1000000 --sites 20
                        --database county_print --keep   (then --reuse county_print --county --workers 1 2)

A synthetic township (demo.generate, seed 2026) of about `--pages` / 6 residents in `--villages` villages is loaded
into a fresh PostgreSQL database made beside the one `--url` names (dropped at the end), and the blank forms are laid
out once into the instance's cache folder, as a site has them after its first print. Then, for each worker count,
that many `rq worker --worker-class archiveprint.jobs.worker.PrintWorker` processes are started on a queue of the
run's own and left to register (their warm-up is not timed: a worker starts once and serves for months), one print
run of every village is planned, recorded and handed to them, and the time from handing it over to the run's row
saying done (its last part's zip written) is the run's time. Peak RSS: each worker process's VmHWM, and the largest
work horse's (one per part, logged by the worker from wait4's rusage). The zip is opened and its pages counted.

--county: `--sites` sites of --pages / 6 residents in all are loaded by bench/county_bench.py's loader (each site
through the app's services, its people by COPY), and the run is one county run of every village of every site
(jobs/county.py: each part planned and printed in its own site's scope; the zip has a folder per site).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))  # --county loads the county with county_bench.py's loader
TODAY = date(2026, 12, 7)
SET = "new_record"  # 新建档套表: 封面 + 个人基本信息表 + 健康体检表 ×4 = 6 A4 pages a resident
PAGES_PER_RESIDENT = 6
RESIDENTS_PER_HOUSEHOLD = 3.1  # what demo.generate makes, about
WORKER_CLASS = "archiveprint.jobs.worker.PrintWorker"


def fresh_database(admin_url: str, name: str) -> str:
    from sqlalchemy import create_engine, text

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name


def drop_database(admin_url: str, name: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def build(url: str, pages: int, villages: int) -> dict[str, object]:
    """Migrate the empty database and load a township of about `pages` / 6 residents."""
    from sqlalchemy import func, select

    from archiveprint import models  # noqa: F401
    from archiveprint.db import Database
    from archiveprint.migrate import upgrade
    from archiveprint.register import demo
    from archiveprint.register.models import Resident

    database = Database.connect(url)
    upgrade(database.engine)
    households = max(1, round(pages / PAGES_PER_RESIDENT / RESIDENTS_PER_HOUSEHOLD / villages))
    town = demo.generate(seed=2026, villages=villages, households_per_village=households, today=TODAY)
    started = time.perf_counter()
    with database.transaction() as session:
        demo.load(session, town, actor="bench")
        count = session.scalar(select(func.count(Resident.id)))
    database.dispose()
    return {"residents": count, "households_per_village": households, "load_s": round(time.perf_counter() - started, 1)}


def warm_layouts(instance: Path) -> float:
    """Lay the set's blank forms out into the instance's cache, as the site's first print did."""
    from archiveprint.forms.catalog import load_catalog
    from archiveprint.forms.layout import layout_cache_dir, layout_form, use_cache_dir

    started = time.perf_counter()
    use_cache_dir(layout_cache_dir(instance))
    catalog = load_catalog()
    for form_id in catalog.form_set(SET).forms:
        layout_form(catalog.form(form_id))
    return time.perf_counter() - started


def plan_run(url: str) -> tuple[int, list[int], int]:
    """Record a run of every village; its id, its parts' ids and the pages planned."""
    from archiveprint.db import Database
    from archiveprint.forms.services import PrintOptions, Scope
    from archiveprint.forms.sets import SET as SET_KIND
    from archiveprint.forms.sets import find_form_set
    from archiveprint.jobs import runs
    from archiveprint.jobs.parts import plan_forms_run

    database = Database.connect(url)
    with database.transaction() as session:
        form_set = find_form_set(session, SET, kind=SET_KIND)
        plan = plan_forms_run(session, form_set, Scope(), PrintOptions(), villages=None, set_kind=SET_KIND,
                              today=TODAY)
        run = runs.create_run(session, plan.kind, plan.params, plan.parts, actor="bench")
        result = run.id, runs.part_ids(session, run.id), plan.pages
    database.dispose()
    return result


def plan_county_run(url: str) -> tuple[int, list[int], int]:
    """Record one county run (--county): 新建档套表 for every village of every site of the loaded county, each part
    planned in its site's scope (jobs/county.py, as `print forms --all-sites` and 全县打印 plan it); its id, its
    parts' ids and the pages planned."""
    from archiveprint.db import Database
    from archiveprint.forms.services import PrintOptions
    from archiveprint.forms.sets import SET as SET_KIND
    from archiveprint.jobs import runs
    from archiveprint.jobs.county import CountyChoice, plan_county_forms

    database = Database.connect(url)
    began = time.perf_counter()
    plan = plan_county_forms(database, CountyChoice(), SET, PrintOptions(), set_kind=SET_KIND, today=TODAY)
    with database.transaction() as session:
        run = runs.create_run(session, plan.kind, plan.params, plan.parts, actor="bench")
        result = run.id, runs.part_ids(session, run.id), plan.pages
    database.dispose()
    sites = len({part.site for part, _ in plan.parts})
    print(f"county run #{result[0]} planned in {time.perf_counter() - began:.1f} s: {sites} sites, "
          f"{len(plan.parts)} parts, {plan.pages:,} pages", flush=True)
    return result


def load_county(url: str, pages: int, sites: int) -> dict[str, object]:
    """A county of `sites` sites with `pages` / 6 residents, loaded by bench/county_bench.py's loader (the app's
    services for each site, then COPY), so that 新建档套表 for all of them is about `pages` pages."""
    import county_bench

    residents = -(-pages // PAGES_PER_RESIDENT)
    households = max(sites, round(residents / RESIDENTS_PER_HOUSEHOLD))
    _sites, info = county_bench.load(url, sites, residents, households)
    return {"sites": sites, "residents": residents, "households": households, **info}


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_case(workers: int, url: str, redis_url: str, instance: Path, logs: Path, *,
             county: bool = False) -> dict[str, object]:
    """Start `workers` PrintWorkers, let them register, hand them one run of every village (of every site with
    `county`), time it to its end."""
    from redis import Redis
    from rq import Queue, Worker
    from sqlalchemy import select

    from archiveprint.db import Database, utcnow
    from archiveprint.jobs import queue as jobqueue
    from archiveprint.jobs import runs
    from archiveprint.jobs.models import ENDED, Job

    queue = f"archiveprint-bench-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ARCHIVEPRINT_INSTANCE": str(instance), "DATABASE_URL": url,
           "REDIS_URL": redis_url}
    names = [f"{queue}-{number}" for number in range(1, workers + 1)]
    processes = []
    for name in names:
        with (logs / f"{name}.log").open("wb") as output:
            processes.append(subprocess.Popen(
                [str(Path(sys.executable).parent / "rq"), "worker", "--worker-class", WORKER_CLASS, "--url",
                 redis_url, "--name", name, queue], env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT))
    connection = Redis.from_url(redis_url)
    database = Database.connect(url)
    try:
        deadline = time.monotonic() + 120
        while {worker.name for worker in Worker.all(connection=connection)} < set(names):
            if time.monotonic() > deadline or any(process.poll() is not None for process in processes):
                raise SystemExit(f"the workers did not start: see {logs}")
            time.sleep(0.2)
        run_id, ids, planned = plan_county_run(url) if county else plan_run(url)
        dispatcher = jobqueue.Dispatcher(lambda job_id: None, redis_url=redis_url, database_url=url, queue=queue,
                                         database=database)
        load_before = os.getloadavg()[0]
        handed = utcnow()
        began = time.perf_counter()
        runs.submit_parts(database, dispatcher, ids, instance_dir=instance)
        reported = time.perf_counter()
        while True:
            with database.reader() as session:
                run = session.scalars(select(Job).where(Job.id == run_id)).one()
            if run.status in ENDED:
                break
            if county and time.perf_counter() - reported >= 30:  # a long run says how far it has got
                reported = time.perf_counter()
                with database.reader() as session:
                    done = session.execute(select(Job.pages).where(Job.run_id == run_id, Job.status == "done")).all()
                print(json.dumps({"workers": workers, "elapsed_s": round(reported - began, 1), "parts_done": len(done),
                                  "pages_done": sum(row.pages for row in done), "load_1min": os.getloadavg()[0]}),
                      flush=True)
            time.sleep(0.25)
        polled = time.perf_counter() - began
        seconds = (run.finished_at - handed).total_seconds()
        with database.reader() as session:  # when each part ran, from its own row
            timeline = [(job.pages, round((job.started_at - handed).total_seconds(), 2),
                         round((job.finished_at - handed).total_seconds(), 2))
                        for job in session.scalars(select(Job).where(Job.run_id == run_id).order_by(Job.id))]
        worker_rss = [round(peak_rss_mib(process.pid), 1) for process in processes]
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(120)
        Queue(queue, connection=connection).delete(delete_jobs=True)
        connection.close()
        database.dispose()
    text = "\n".join((logs / f"{name}.log").read_text(encoding="utf-8") for name in names)
    horses = [float(mib) for mib in re.findall(r"peak memory (\d+) MiB", text)]
    cpu = sum(float(seconds) for seconds in re.findall(r"MiB, CPU ([\d.]+) s", text))
    laid_out = re.findall(r"laid out (\S+)\.json", text)
    with zipfile.ZipFile(run.outputs[0]) as archive:
        import pypdf

        # A county run's zip (a GB for 1,000,000 pages) is listed, not read: its parts' pages are their rows'.
        zipped = len(archive.namelist()) if county else sum(
            len(pypdf.PdfReader(io.BytesIO(archive.read(name))).pages) for name in archive.namelist())
        folders = len({name.split("/")[0] for name in archive.namelist() if "/" in name})
    zip_mb = round(Path(run.outputs[0]).stat().st_size / 1024 / 1024, 1)
    if county:  # 2 GB of PDFs a 1,000,000-page run: the next case writes its own
        import shutil

        for job_dir in instance.glob("jobs/*"):
            shutil.rmtree(job_dir, ignore_errors=True)
    return {"workers": workers, "status": run.status, "parts": len(ids), "pages": run.pages,
            "planned_pages": planned, ("zip_files" if county else "zip_pages"): zipped,
            "zip_site_folders": folders, "zip_mb": zip_mb, "seconds": round(seconds, 2),
            "seconds_polled": round(polled, 2), "pages_per_s": round(run.pages / seconds, 1),
            "peak_rss_worker_mib": worker_rss, "peak_rss_horse_mib": max(horses, default=0.0),
            "horses": len(horses), "horse_cpu_s": round(cpu, 2),
            "horse_cpu_ms_per_page": round(1000 * cpu / max(1, run.pages), 3), "laid_out": laid_out,
            "load_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "parts_pages_start_end_s": timeline}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100_000)
    parser.add_argument("--villages", type=int, default=20)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--url", default=os.environ.get("TEST_DATABASE_URL",
                                                        "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--keep", action="store_true", help="keep the database (its name is printed) for --reuse")
    parser.add_argument("--reuse", metavar="NAME", help="a database an earlier --keep left: no township is loaded")
    parser.add_argument("--county", action="store_true",
                        help="a county run across sites: --sites sites loaded by bench/county_bench.py's loader, "
                             "--pages / 6 residents, one run of every village of every site")
    parser.add_argument("--sites", type=int, default=20, help="with --county")
    parser.add_argument("--database", help="the database's name (with --county: e.g. county_print)")
    parser.add_argument("--load-only", action="store_true", help="load and keep the database, measure nothing")
    args = parser.parse_args()
    if args.load_only:
        args.keep, args.workers = True, []

    name = args.reuse or args.database or f"archiveprint_printrun_bench_{os.getpid()}"
    url = args.url.rsplit("/", 1)[0] + "/" + name if args.reuse else fresh_database(args.url, name)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            instance = Path(tmp) / "instance"
            logs = Path(tmp)
            if not args.reuse:
                built = load_county(url, args.pages, args.sites) if args.county else build(url, args.pages,
                                                                                         args.villages)
                print(f"{'county' if args.county else 'township'}: {built}", flush=True)
            else:
                from archiveprint.db import Database
                from archiveprint.migrate import upgrade

                database = Database.connect(url)
                upgrade(database.engine)  # a migration added since the --keep run
                database.dispose()
            print(f"blank layouts laid out once: {warm_layouts(instance):.1f} s", flush=True)
            rows = []
            for workers in args.workers:
                row = run_case(workers, url, args.redis, instance, logs, county=args.county)
                rows.append(row)
                print(json.dumps(row, ensure_ascii=False), flush=True)
    finally:
        if args.keep or args.reuse:
            print(f"database kept: {name} (--reuse {name})", flush=True)
        else:
            drop_database(args.url, name)
    if not rows:
        return
    base = rows[0]["pages_per_s"]
    print()
    print("| RQ workers | parts | pages | seconds | pages/s | vs 1 worker | work horses' CPU ms/page | "
          "peak RSS per worker MiB | peak RSS per work horse MiB | load (1 min) before → after |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        before, after = row["load_1min_before_after"]
        print(f"| {row['workers']} | {row['parts']} | {row['pages']:,} | {row['seconds']:.1f} | "
              f"{row['pages_per_s']:,.1f} | {row['pages_per_s'] / base:.2f}× | {row['horse_cpu_ms_per_page']:.3f} | "
              f"{', '.join(f'{mib:.0f}' for mib in row['peak_rss_worker_mib'])} | {row['peak_rss_horse_mib']:.0f} | "
              f"{before:.1f} → {after:.1f} |")
    print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
