"""The county print run benchmark (bench/printrun_bench.py --county) run at a tiny size, so that it cannot rot: two
sites loaded by county_bench.py's loader, one county run on one real RQ worker, a folder per site in its zip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BACKENDS

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif("postgresql" not in BACKENDS, reason="the county benchmark needs PostgreSQL")


def test_the_county_print_run_benchmark_runs_at_a_tiny_size() -> None:
    run = subprocess.run(
        [sys.executable, "bench/printrun_bench.py", "--county", "--pages", "300", "--sites", "2", "--workers", "1",
         "--database", f"county_print_test_{os.getpid()}"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-4000:]
    row = json.loads(next(line for line in run.stdout.splitlines() if line.startswith('{"workers": 1, "status"')))
    assert (row["status"], row["parts"], row["zip_files"], row["zip_site_folders"]) == ("done", 2, 2, 2)
    assert 0 < row["pages"] == row["planned_pages"] <= 300 and row["pages"] % 6 == 0  # 新建档套表: 6 pages a person
    assert "county run #" in run.stdout and f"| 1 | 2 | {row['pages']} |" in run.stdout
