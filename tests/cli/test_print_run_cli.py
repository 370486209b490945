"""#14 `archiveprint print forms|due --per-village` and `archiveprint jobs show|rerun`: a print run by village from
the command line, carried out here one village after another when REDIS_URL is not set."""

from __future__ import annotations

import json
import re
import zipfile
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import update

from archiveprint.jobs.models import Job
from archiveprint.register.models import Resident
from tests.jobs.test_print_runs import villages  # noqa: F401  # the fixture: 3 villages, 6 residents
from tests.pdfcheck import read


@pytest.fixture(autouse=True)
def _no_redis(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)


def test_forms_per_village_answer_the_run_and_its_parts_and_write_the_zip(run_cli, villages, tmp_path):  # noqa: F811
    out = tmp_path / "out" / "新建档.zip"
    result = run_cli("print", "forms", "--form", "personal_info", "--per-village", "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["status"], data["kind"], data["pages"], data["percent"], data["output"]) == (
        "done", "forms", 6, 100, str(out))
    assert [(p["village"], p["name"], p["status"], p["pages"]) for p in data["parts"]] == [
        ("001", "城关社区", "done", 3), ("201", "东村", "done", 2), ("202", "西村", "done", 1)]
    zip_path = Path(data["zip"])  # the run's own zip, named by what it holds and the day
    assert zip_path.parent == tmp_path / "instance" / "jobs" / str(data["run"])
    assert zip_path.name.startswith("personal_info-3villages-") and zip_path.read_bytes() == out.read_bytes()
    with zipfile.ZipFile(out) as archive:
        assert [(name, len(read(archive.read(name)).pages)) for name in archive.namelist()] == [
            ("001-城关社区.pdf", 3), ("201-东村.pdf", 2), ("202-西村.pdf", 1)]

    shown = run_cli("jobs", "show", str(data["run"]), "--json")
    assert shown.exit_code == 0
    assert {key: value for key, value in json.loads(shown.stdout).items() if key != "output"} == {
        key: value for key, value in data.items() if key not in ("output", "zip")}
    again = run_cli("jobs", "rerun", str(data["run"]))
    assert again.exit_code == 1 and "没有失败的村需要重新生成" in again.output


def test_named_villages_need_per_village_and_the_output_is_a_zip(run_cli, villages, tmp_path):  # noqa: F811
    several = run_cli("print", "forms", "--form", "personal_info", "--village", "201", "--village", "西村",
                      "-o", str(tmp_path / "x.pdf"))
    assert several.exit_code == 2 and "--per-village" in several.output
    not_zip = run_cli("print", "forms", "--form", "personal_info", "--village", "201", "--village", "西村",
                      "--per-village", "-o", str(tmp_path / "x.pdf"))
    assert not_zip.exit_code == 2 and ".zip" in not_zip.output
    no_wait = run_cli("print", "forms", "--form", "personal_info", "--per-village", "--no-wait",
                      "-o", str(tmp_path / "x.zip"))
    assert no_wait.exit_code == 2 and "REDIS_URL" in no_wait.output
    two = run_cli("print", "forms", "--form", "personal_info", "--village", "201", "--village", "西村",
                  "--per-village", "-o", str(tmp_path / "two.zip"), "--json")
    assert two.exit_code == 0, two.output
    assert [part["name"] for part in json.loads(two.stdout)["parts"]] == ["东村", "西村"]


def test_the_monthly_packet_per_village(run_cli, villages, committed_db, tmp_path):  # noqa: F811
    with committed_db.transaction() as session:
        session.execute(update(Resident).values(birth_date=date(1950, 12, 3)))
    out = tmp_path / "due.zip"
    result = run_cli("print", "due", "--all", "--month", "2026-12", "--per-village", "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["kind"], data["status"]) == ("due", "done")
    assert [(part["name"], part["residents"]) for part in data["parts"]] == [("城关社区", 3), ("东村", 2), ("西村", 1)]
    with zipfile.ZipFile(out) as archive:
        assert archive.namelist()[:2] == ["001-城关社区.pdf", "001-城关社区-调档单.pdf"]


def test_a_run_the_queue_cannot_take_says_why_in_chinese_without_a_class_name(run_cli, villages, committed_db,  # noqa: F811
                                                                               tmp_path, monkeypatch):
    """REDIS_URL set, nothing listening there: every part fails saying the queue (Redis) cannot be reached, the
    command ends (exit 1) instead of waiting, and `jobs show` of a run whose part still waits says the queue could
    not be asked — never a Python exception's name."""
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    result = run_cli("print", "forms", "--form", "personal_info", "--village", "201", "--village", "202",
                     "--per-village", "-o", str(tmp_path / "x.zip"))
    assert result.exit_code == 1
    assert result.stdout.count("任务队列（Redis）连接不上") == 2 and "失败" in result.stdout
    assert not re.search(r"[A-Za-z]*Error|Exception|Traceback", result.output)

    run_id = int(re.search(r"打印任务 #(\d+)", result.stdout)[1])
    with committed_db.transaction() as session:  # as if a part had been handed on before Redis went away
        session.execute(update(Job).where(Job.run_id == run_id).values(status="queued", error="", rq_id="x"))
        session.execute(update(Job).where(Job.id == run_id).values(status="running", error=""))
    shown = run_cli("jobs", "show", str(run_id))
    assert shown.exit_code == 0 and "任务队列（Redis）现在问不到" in shown.stderr
    assert not re.search(r"[A-Za-z]*Error|Exception|Traceback", shown.output)
