"""An installed copy (not the checkout) finds its templates, fonts and migrations and works from any folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_installed_package_runs_from_another_directory(tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps",
                    "--target", str(target), str(ROOT)], check=True, capture_output=True)
    assert (target / "archiveprint" / "_data" / "templates" / "forms" / "sets.yaml").is_file()
    assert (target / "archiveprint" / "_data" / "fonts" / "OFL.txt").is_file()
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target), "ARCHIVEPRINT_INSTANCE": str(work / "instance")}
    env.pop("DATABASE_URL", None)

    def run(*args: str) -> str:
        done = subprocess.run([sys.executable, "-c", "from archiveprint.cli import main; main()", *args],
                              cwd=work, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    where = subprocess.run([sys.executable, "-c", "import archiveprint.resources as r; print(r.template_dir())"],
                           cwd=work, env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(str(target))
    run("db", "upgrade")
    run("township", "set", "--county", "130123", "--county-name", "正定县", "--code", "100", "--name", "柏棠镇")
    assert json.loads(run("find", "zsf", "--json")) == []
    printed = json.loads(run("print", "forms", "--form", "personal_info", "--blank", "-o", "blank.pdf", "--json"))
    assert printed["pages"] == 1 and (work / "blank.pdf").stat().st_size > 10_000
