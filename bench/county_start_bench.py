"""How long 全县打印's 开始打印 keeps the clerk waiting (POST /sites/print) on a loaded county, against planning the
same run (what the request did before the run planned itself as its first job). Nothing is printed: the app's
dispatcher only records what it is handed; the runs it records are deleted afterwards.

    .venv/bin/python bench/printrun_bench.py --county --pages 100000 --sites 20 --database county_start --load-only
    .venv/bin/python -m bench.county_start_bench postgresql+psycopg://postgres@127.0.0.1:5432/county_start
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from sqlalchemy import delete, select

from archiveprint.accounts.models import User
from archiveprint.accounts.services import create_user
from archiveprint.config import Settings
from archiveprint.db import Database
from archiveprint.jobs.county import CountyChoice, CountyRequest, plan_request
from archiveprint.jobs.models import Job
from archiveprint.web import create_app
from archiveprint.web.forms import DISPATCHER

USER, PASSWORD = "bench-county-print", "bench-pass-123"


class Recording:
    """Takes the run without running it."""

    def __init__(self) -> None:
        self.submitted: list[int] = []

    def submit(self, job_id: int) -> None:
        self.submitted.append(job_id)

    def check(self, *_args: object, **_kwargs: object) -> list[int]:
        return []

    def shutdown(self) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--times", type=int, default=3)
    parser.add_argument("--what", default="set:new_record")
    args = parser.parse_args()
    database = Database.connect(args.url)
    with database.transaction() as session:
        if session.scalars(select(User).where(User.username == USER)).first() is None:
            create_user(session, USER, PASSWORD, "county_print")
        session.execute(delete(Job).where(Job.created_by == USER))  # an earlier attempt's (the app would run them)
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(Settings(instance_dir=Path(folder), database_url=args.url, secret_key="bench"),
                         database=database)
        app.config["WTF_CSRF_ENABLED"] = False
        recording = Recording()
        app.extensions[DISPATCHER] = recording
        client = app.test_client()
        assert client.post("/login", data={"username": USER, "password": PASSWORD}).status_code == 302
        starts = []
        for _ in range(args.times):
            began = time.perf_counter()
            answer = client.post("/sites/print", data={"what": args.what, "month": "", "villages": ""})
            starts.append(time.perf_counter() - began)
            assert answer.status_code == 303, answer.get_data(as_text=True)[:500]
        plans, pages = [], 0
        for _ in range(args.times):
            began = time.perf_counter()
            plan = plan_request(database, CountyRequest(what=args.what, choice=CountyChoice(), month=date.today(),
                                                        today=date.today()))
            plans.append(time.perf_counter() - began)
            pages = plan.pages
        with database.transaction() as session:  # the runs recorded, never planned
            session.execute(delete(Job).where(Job.created_by == USER))
    database.dispose()
    print(json.dumps({"pages": pages, "parts": len(plan.parts), "start_s": [round(s, 3) for s in starts],
                      "start_median_s": round(statistics.median(starts), 3),
                      "plan_s": [round(s, 2) for s in plans], "plan_median_s": round(statistics.median(plans), 2)}))


if __name__ == "__main__":
    main()
