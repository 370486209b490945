"""The county benchmark (bench/county_bench.py) run at a tiny size, so that it cannot rot: a county of two sites
loaded, gunicorn started, every measurement made over HTTP and next to its floors, the database dropped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import BACKENDS, PG_ADMIN_URL

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif("postgresql" not in BACKENDS, reason="the county benchmark needs PostgreSQL")


def test_the_county_benchmark_runs_at_a_tiny_size(tmp_path: Path) -> None:
    name = f"county_bench_test_{os.getpid()}"
    report = tmp_path / "county.json"
    run = subprocess.run(
        [sys.executable, "bench/county_bench.py", "--sites", "2", "--households", "40", "--residents", "100",
         "--locates", "10", "--searches", "20", "--scans", "20", "--warmup", "4", "--think-ms", "0",
         "--web-workers", "2", "--web-threads", "2", "--database", name, "--json", str(report)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-4000:]
    found = json.loads(report.read_text(encoding="utf-8"))
    meta, results = found["meta"], found["results"]
    assert (meta["sites"], meta["households"], meta["residents"]) == (2, 40, 100)
    locate = results["locate"]
    assert locate["HTTP API"]["found"] == locate["HTTP page"]["found"] == 10  # every folder found, by code
    assert {"bare SQL", "scoped SQL", "in-process"} <= locate.keys()
    search = results["search"]
    assert search["HTTP ×2"]["n"] == 20 and sum(k["n"] for k in search["HTTP by kind"].values()) == 20
    assert search["bare SQL ×2"]["n"] == search["scoped SQL ×2"]["n"] == 20
    scan = results["scan"]
    # 10 timed and 2 untimed scans a station, lend and return in turn: every one applied.
    assert scan["HTTP ×2"]["n"] == 20 and scan["HTTP ×2"]["outcomes"] == {"applied": 24}
    assert scan["bare SQL ×2"]["n"] == scan["scoped SQL ×2"]["n"] == 20
    assert "| scan | HTTP ×2 |" in run.stdout
    admin = create_engine(PG_ADMIN_URL)
    with admin.connect() as conn:
        left = conn.execute(text("SELECT count(*) FROM pg_database WHERE datname = :name"), {"name": name}).scalar()
    admin.dispose()
    assert left == 0  # the benchmark drops its database
