"""The county stack on one machine, smoke-tested over HTTP (#14): PostgreSQL and Redis (already running), gunicorn
with 2 web workers and 2 RQ workers, all sharing one instance folder. It signs in, imports a demo export (checked and
applied as jobs on the workers), shelves every folder, prints a set for every village as one print run (a part per
village, across both workers: it proves both took part and that no blank form was laid out twice), downloads the run's
zip, lends and returns a folder through the scan API, then stops everything and drops its database. Run by
deploy/stack-smoke.sh (which starts PostgreSQL and Redis if they are down) and by .ci/run.

    .venv/bin/python deploy/stack_smoke.py [--web-workers 2] [--rq-workers 2] [--keep]

TEST_DATABASE_URL names the PostgreSQL server and a role that may create databases (as for the tests); REDIS_URL the
Redis (default redis://127.0.0.1:6379/0). The run has its own database, instance folder and RQ queue, so it can run
beside the test suite or another run.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import io
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pypdf
from redis import Redis
from rq import Queue, Worker
from rq.job import Job as RQJob
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the virtualenv's commands: archiveprint, gunicorn, rq
USER, PASSWORD = "smoke", "smoke-stack-2026"
BORROWER = "smoke-doctor"
WAIT = 90.0  # seconds any one thing may take before the run fails
SET = "new_record"  # 新建档套表: every resident, several pages each


class Failed(Exception):
    """A step did not do what it should; the message says what was seen."""


def check(condition: object, message: str) -> None:
    if not condition:
        raise Failed(message)


def wait_for(what: str, probe: Callable[[], Any], *, seconds: float = WAIT, every: float = 0.2) -> Any:
    """Call `probe` until it returns something true; its value, or Failed naming `what`."""
    deadline = time.monotonic() + seconds
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Failed(f"timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(every)


# --- the processes ----------------------------------------------------------------------------------------------

@dataclass
class Stack:
    """The services this run starts, their environment and their logs."""

    env: dict[str, str]
    logs: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, *command: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("wb")
        process = subprocess.Popen(command, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.processes[name] = process
        return process

    def run(self, *commands: list[str]) -> None:
        """archiveprint commands, side by side, to their end; Failed with the output of one that failed."""
        running = [(command, subprocess.Popen([str(BIN / "archiveprint"), *command], env=self.env, cwd=ROOT,
                                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
                   for command in commands]
        for command, process in running:
            output, _ = process.communicate(timeout=WAIT)
            if process.returncode != 0:
                raise Failed(f"archiveprint {' '.join(command)} exited {process.returncode}: {output}")

    def alive(self, name: str) -> None:
        code = self.processes[name].poll()
        check(code is None, f"{name} exited with status {code} (log: {self.logs / name}.log)")

    def stop(self, name: str, *, seconds: float = 30) -> int | None:
        """SIGTERM: gunicorn's master stops its workers gracefully, an RQ worker finishes its job (warm shutdown)."""
        process = self.processes[name]
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(seconds)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                return None
        return process.returncode

    def tail(self, lines: int = 30) -> str:
        parts = []
        for path in sorted(self.logs.glob("*.log")):
            text_lines = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path.name} (last {len(text_lines)} lines)\n" + "\n".join(text_lines))
        return "\n".join(parts)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def fresh_database(admin_url: str, name: str) -> Iterator[str]:
    """A new PostgreSQL database for the run, dropped afterwards (with whatever still holds a connection)."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- the browser ----------------------------------------------------------------------------------------------

CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


@dataclass
class Answer:
    status: int
    url: str
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)

    def csrf(self) -> str:
        found = CSRF_FIELD.search(self.text) or CSRF_META.search(self.text)
        check(found, f"no CSRF token on {self.url}")
        return found.group(1)  # type: ignore[union-attr]


class Browser:
    """A signed-in client: cookies kept, redirects followed (a 303 after a POST becomes a GET, as in a browser)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def request(self, path: str, *, data: bytes | None = None, headers: dict[str, str] | None = None) -> Answer:
        request = urllib.request.Request(self.base + path, data=data, headers=headers or {})
        try:
            with self.opener.open(request, timeout=WAIT) as response:
                return Answer(response.status, response.geturl(), response.read())
        except urllib.error.HTTPError as error:
            return Answer(error.code, error.geturl(), error.read())

    def get(self, path: str) -> Answer:
        return self.request(path)

    def post(self, path: str, fields: dict[str, str], files: dict[str, tuple[str, bytes]] | None = None) -> Answer:
        if files is None:
            return self.request(path, data=urllib.parse.urlencode(fields).encode(),
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
        boundary = secrets.token_hex(16)
        body = io.BytesIO()
        for name, value in fields.items():
            body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        for name, (filename, content) in files.items():
            body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                       "Content-Type: application/octet-stream\r\n\r\n".encode())
            body.write(content + b"\r\n")
        body.write(f"--{boundary}--\r\n".encode())
        return self.request(path, data=body.getvalue(),
                            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})

    def post_json(self, path: str, data: object, token: str) -> Answer:
        return self.request(path, data=json.dumps(data).encode(),
                            headers={"Content-Type": "application/json", "X-CSRFToken": token})

    def ok(self, answer: Answer, what: str) -> Answer:
        check(answer.status == 200, f"{what}: HTTP {answer.status} at {answer.url}: {answer.text[:500]}")
        return answer

    def poll_job(self, path: str, what: str) -> dict[str, Any]:
        """A job's JSON (the page's own poll) until it has finished; Failed unless it is done."""
        def finished() -> dict[str, Any] | None:
            state = self.ok(self.get(path), what).json()
            return state if state["finished"] else None

        state = wait_for(what, finished, every=0.3)
        check(state["status"] == "done", f"{what} ended {state['status']}: {state.get('error')}")
        return state


# --- the smoke test -------------------------------------------------------------------------------------------

class Steps:
    """Each step timed and counted; the closing line says how many passed."""

    def __init__(self) -> None:
        self.passed = 0
        self.started = time.monotonic()

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        began = time.monotonic()
        yield
        self.passed += 1
        print(f"  ok  {title}  ({time.monotonic() - began:.1f} s)", flush=True)


def smoke(stack: Stack, database_url: str, base: str, *, web_workers: int, rq_workers: int, queue: str,
          steps: Steps) -> None:
    step = steps.step
    instance = Path(stack.env["ARCHIVEPRINT_INSTANCE"])
    export = instance.parent / "register-export.xlsx"
    worker_names = [f"{queue}-{number}" for number in range(1, rq_workers + 1)]

    with step(f"start gunicorn ({web_workers} web workers) and {rq_workers} RQ workers on an empty database"):
        # No `db upgrade` first: the web workers migrate the empty database themselves, one at a time (migrate.py).
        stack.start("web", str(BIN / "gunicorn"), "-c", "python:archiveprint.web.gunicorn_conf",
                    "archiveprint.web.wsgi:app")
        for name in worker_names:
            stack.start(name, str(BIN / "rq"), "worker", "--worker-class", "archiveprint.jobs.worker.PrintWorker",
                        "--url", stack.env["REDIS_URL"], "--name", name, queue)
        stack.run(["demo", "--seed", "14", "--villages", "3", "--households", "12", "--export", str(export)])

        def web_up() -> bool:
            stack.alive("web")
            try:
                return Browser(base).get("/login").status == 200
            except OSError:
                return False

        wait_for("the web app to answer", web_up)
        booted = (stack.logs / "web.log").read_text(encoding="utf-8").count("Booting worker with pid")
        check(booted == web_workers, f"gunicorn booted {booted} workers, not {web_workers}")
        redis = Redis.from_url(stack.env["REDIS_URL"])
        listening = Queue(queue, connection=redis)
        wait_for("the RQ workers to register",
                 lambda: {worker.name for worker in Worker.all(queue=listening)} >= set(worker_names))
        for name in worker_names:
            stack.alive(name)

    with step("set up the township, a user, the storage layout and a borrower (CLI)"):
        stack.run(["township", "set", "--county", "130123", "--county-name", "正定县", "--code", "100",
                   "--name", "柏棠镇"],
                  ["user", "create", USER, "--role", "admin", "--name", "冒烟测试", "--password", PASSWORD],
                  ["layout", "apply", str(ROOT / "storage_layout" / "example-township.yaml")],
                  ["borrower", "add", BORROWER, "--kind", "staff", "--name", "王医生"])

    browser = Browser(base)
    with step("sign in over HTTP"):
        token = browser.ok(browser.get("/login"), "login page").csrf()
        home = browser.ok(browser.post("/login", {"csrf_token": token, "username": USER, "password": PASSWORD}),
                          "sign-in")
        check("/login" not in urllib.parse.urlparse(home.url).path, f"sign-in refused: {home.text[:300]}")

    with step("import the demo export: checked and applied as jobs on the RQ workers"):
        token = browser.ok(browser.get("/import"), "import page").csrf()
        report = browser.ok(browser.post("/import", {"csrf_token": token, "add_villages": "y"},
                                         {"file": (export.name, export.read_bytes())}), "upload")
        upload = urllib.parse.urlparse(report.url).path  # /import/<token>
        check(re.fullmatch(r"/import/[\w-]+", upload), f"upload went to {report.url}")
        browser.poll_job(upload + "/job.json", "the import check")
        token = browser.ok(browser.get(upload), "import report").csrf()
        browser.ok(browser.post(upload + "/apply", {"csrf_token": token}), "confirm import")
        browser.poll_job(upload + "/job.json", "the import")
        with connect(database_url) as db:
            residents = db.execute(text("SELECT count(*) FROM residents")).scalar_one()
            villages = list(db.execute(text("SELECT code FROM villages ORDER BY code")).scalars())
        check(residents > 30 and len(villages) == 3, f"imported {residents} residents in {villages}")

    with step("shelve every folder over HTTP (preview, then apply)"):
        preview = browser.ok(browser.get("/locations/shelve-all"), "shelve-all preview")
        fingerprint = re.search(r'name="fingerprint"[^>]*value="([^"]+)"', preview.text)
        check(fingerprint, "no fingerprint on the shelve-all preview")
        browser.ok(browser.post("/locations/shelve-all", {"csrf_token": preview.csrf(),
                                                          "fingerprint": fingerprint.group(1)}), "shelve all")
        with connect(database_url) as db:
            unshelved = db.execute(text(
                "SELECT count(*) FROM households h WHERE NOT EXISTS "
                "(SELECT 1 FROM folder_positions p WHERE p.household_id = h.id)")).scalar_one()
        check(unshelved == 0, f"{unshelved} folders are not shelved")

    with step(f"print {SET} for the {len(villages)} villages as one run (按村分批): a part per village"):
        token = browser.ok(browser.get("/print"), "print centre").csrf()
        started = browser.ok(browser.post("/print/start", {
            "csrf_token": token, "form_set": f"set:{SET}", "village": "", "tag": "", "population": "",
            "copies": "1", "instructions": "none", "per_village": "y"}), "start the print run")
        run = urllib.parse.urlparse(started.url).path
        check(re.fullmatch(r"/print/jobs/\d+", run), f"the print run went to {started.url}")
        state = browser.poll_job(run + ".json", f"print run {run}")
        check(len(state["parts"]) == len(villages) and all(part["status"] == "done" for part in state["parts"])
              and state["pages"] > 0, f"the run's parts: {state}")

    with step("download the run's zip over HTTP: a PDF per village in village order, every page there"):
        page = browser.ok(browser.get(run), "run page")
        links = re.findall(rf'href="({re.escape(run)}/files/[^"]+)"', page.text)
        check(links and links[0].endswith(".zip"), f"no zip on {run}: {links}")
        archive = zipfile.ZipFile(io.BytesIO(browser.ok(browser.get(links[0]), "download the zip").body))
        names = archive.namelist()
        check([name[:3] for name in names] == villages, f"the zip holds {names}, not a PDF per village {villages}")
        pages = sum(len(pypdf.PdfReader(io.BytesIO(archive.read(name))).pages) for name in names)
        check(pages == state["pages"], f"the zip's PDFs hold {pages} pages, the run {state['pages']}")

    with step(f"the jobs ran on the RQ workers, and all {rq_workers} of them printed parts of the run"):
        with connect(database_url) as db:
            rows = db.execute(text("SELECT id, kind, rq_id FROM jobs WHERE kind <> 'run' ORDER BY id")).all()
        check(rows and all(row.rq_id for row in rows), f"a job did not go through RQ: {rows}")
        ran_by = {row.id: job.worker_name if job else None for row, job in zip(
            rows, RQJob.fetch_many([row.rq_id for row in rows], connection=redis), strict=True)}
        printed_by = {ran_by[row.id] for row in rows if row.kind == "forms"}
        check(printed_by == set(worker_names), f"the print run's parts ran on {printed_by}, not on all of "
                                               f"{worker_names}")
        print(f"      jobs → workers: { {row.id: (row.kind, ran_by[row.id]) for row in rows} }", flush=True)
        laid_out = Counter(found for name in worker_names for found in re.findall(
            r"laid out (\S+)\.json", (stack.logs / f"{name}.log").read_text(encoding="utf-8")))
        check(laid_out and max(laid_out.values()) == 1,
              f"a blank form was laid out more than once between the workers: {dict(laid_out)}")

    with step("lend and return a folder through the scan API (JSON over HTTP)"):
        with connect(database_url) as db:
            code = db.execute(text("SELECT archive_code FROM residents ORDER BY archive_code LIMIT 1")).scalar_one()
        token = browser.ok(browser.get("/lending/scan"), "scan station").csrf()
        scan = {"client_id": f"smoke-{secrets.token_hex(8)}", "mode": "out", "code": code, "borrower": BORROWER,
                "purpose": "随访"}
        lent = browser.ok(browser.post_json("/api/v1/scans", scan, token), "lend").json()
        check(lent["outcome"] == "applied" and lent["loan"], f"lend: {lent}")
        again = browser.ok(browser.post_json("/api/v1/scans", scan, token), "lend again").json()
        check(again["replayed"] and again["loan"] == lent["loan"], f"a resent scan lent twice: {again}")
        loans = browser.ok(browser.get("/api/v1/loans?open=1"), "open loans").json()
        check(lent["loan"] in json.dumps(loans, ensure_ascii=False), f"the loan is not listed open: {loans}")
        back = browser.ok(browser.post_json("/api/v1/scans", {
            "client_id": f"smoke-{secrets.token_hex(8)}", "mode": "return", "code": code}, token), "return").json()
        check(back["outcome"] == "applied", f"return: {back}")

    with step("stop the web server and the RQ workers cleanly"):
        for name in ["web", *worker_names]:
            status = stack.stop(name)
            check(status == 0, f"{name} stopped with status {status} (log: {stack.logs / name}.log)")


@contextmanager
def connect(url: str) -> Iterator[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--rq-workers", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the instance folder and logs (not the database)")
    args = parser.parse_args()

    admin_url = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    run = f"stack{os.getpid()}"
    queue = f"archiveprint-smoke-{secrets.token_hex(4)}"  # one length: no run's name begins another's
    folder = Path(tempfile.mkdtemp(prefix="archiveprint-stack-"))
    port = free_port()
    steps = Steps()
    print(f"stack smoke test: gunicorn ×{args.web_workers} on 127.0.0.1:{port}, rq worker ×{args.rq_workers} "
          f"(queue {queue}), PostgreSQL database archiveprint_{run}, files in {folder}", flush=True)
    stack: Stack | None = None
    failure: BaseException | None = None
    try:
        with fresh_database(admin_url, f"archiveprint_{run}") as database_url:
            env = {key: value for key, value in os.environ.items() if key not in ("SERVER_SOFTWARE", "SECRET_KEY")}
            env.update({
                "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
                "DATABASE_URL": database_url,
                "ARCHIVEPRINT_INSTANCE": str(folder / "instance"),  # shared by the web and the RQ workers
                "REDIS_URL": redis_url,
                "ARCHIVEPRINT_RQ_QUEUE": queue,
                "ARCHIVEPRINT_WEB_WORKERS": str(args.web_workers),
                "ARCHIVEPRINT_BIND": f"127.0.0.1:{port}",
                "ARCHIVEPRINT_IMPORT_BACKGROUND_ROWS": "0",  # the import runs as jobs on the workers too
                "ARCHIVEPRINT_LOCALE": "zh_CN",
            })
            (folder / "logs").mkdir()
            stack = Stack(env, folder / "logs")
            try:
                smoke(stack, database_url, f"http://127.0.0.1:{port}", web_workers=args.web_workers,
                      rq_workers=args.rq_workers, queue=queue, steps=steps)
            finally:
                for name in list(stack.processes):
                    stack.stop(name, seconds=10)
                forget_queue(redis_url, queue, database_url)
    except (Failed, OSError, subprocess.SubprocessError) as error:
        failure = error
    seconds = time.monotonic() - steps.started
    if failure is not None:
        print(f"\nFAILED: {failure}\n", flush=True)
        if stack is not None:
            print(stack.tail(), flush=True)
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"stack smoke test took {seconds:.1f} s", flush=True)
    print(f"stack-smoke: {steps.passed} passed, {int(failure is not None)} failed", flush=True)
    return 1 if failure is not None else 0


def forget_queue(redis_url: str, queue: str, database_url: str) -> None:
    """Remove this run's queue and registries, and its jobs, from Redis (RQ keeps finished jobs for a while)."""
    redis = Redis.from_url(redis_url)
    keys = list(redis.scan_iter(f"rq:*:{queue}*"))  # the queue, its registries, its workers (killed or not)
    try:
        with connect(database_url) as db:
            rq_ids = list(db.execute(text("SELECT rq_id FROM jobs WHERE rq_id IS NOT NULL")).scalars())
    except Exception:  # a run that failed early may have no tables yet
        rq_ids = []
    keys += [f"rq:{kind}:{rq_id}" for rq_id in rq_ids for kind in ("job", "results")]
    if keys:
        redis.delete(*keys)


if __name__ == "__main__":
    sys.exit(main())
