"""`archiveprint print labels` and `archiveprint labels …` on a real database, and the 'labels' background job."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from archiveprint.cli import AppContext, main
from archiveprint.config import Settings
from archiveprint.jobs import queue as jobqueue
from archiveprint.jobs.runners import run_job
from archiveprint.labels.services import label_stocks
from archiveprint.register.codes import folder_code
from tests.conftest import ACTOR, TODAY
from tests.labels.scan import decode_sheet, expected_pages
from tests.pdfcheck import read

STOCKS = label_stocks()
PREFIX = "130123100001"  # the demo township's first village (东关社区)


@pytest.fixture
def cli(committed_db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DATABASE_URL", committed_db.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ARCHIVEPRINT_INSTANCE", str(tmp_path / "instance"))
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(main, list(args), obj=AppContext(), catch_exceptions=False)

    assert run("demo", "--villages", "2", "--households", "8").exit_code == 0
    return run


def test_print_a_village_of_folder_labels_with_json_and_scan_them(cli, tmp_path):
    out = tmp_path / "labels.pdf"
    result = cli("print", "labels", "--kind", "folder", "--stock", "a4-3x8", "--village", "001", "-o", str(out),
                 "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["labels"], report["pages"], report["output"]) == (8, 1, str(out))
    assert report["seconds"] > 0 and report["dpi"] == 300 and report["module_mm"] == pytest.approx(0.339, abs=1e-3)
    codes = [folder_code(PREFIX, n).value for n in range(1, 9)]
    decode_sheet(out.read_bytes(), STOCKS["a4-3x8"], expected_pages(STOCKS["a4-3x8"], codes), name="cli-folder")
    found = json.loads(cli("find", codes[2], "--json").stdout)  # a scanned folder code opens that household
    assert found and {m["household_number"] for m in found} == {3}


def test_start_cell_used_cells_outline_and_mask(cli, tmp_path):
    out = tmp_path / "spine.pdf"
    result = cli("print", "labels", "--kind", "spine", "--village", "东关社区", "--start", "3", "--skip", "5,6",
                 "--outline", "--mask-names", "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    codes = [folder_code(PREFIX, n).value for n in range(1, 9)]
    expected = expected_pages(STOCKS["a4-2x7"], codes, start=3, used=(frozenset({5, 6}),))
    assert expected[0][:7] == [None, None, codes[0], codes[1], None, None, codes[2]]
    decode_sheet(out.read_bytes(), STOCKS["a4-2x7"], expected, name="cli-spine")


def test_stocks_kinds_and_printer_profiles(cli, tmp_path):
    stocks = json.loads(cli("labels", "stocks", "--json").stdout)
    assert {"a4-3x8", "roll-50x30"} <= {s["id"] for s in stocks}
    assert "folder" in cli("labels", "kinds").stdout
    made = cli("labels", "printer", "set", "前台热敏", "--stock", "roll-50x30", "--dx", "0.5", "--dy", "-0.3",
               "--creep-x", "0", "--creep-y", "0", "--dpi", "203", "--json")
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["dx"] == 0.5
    fixed = cli("labels", "printer", "calibrate", "前台热敏", "--stock", "roll-50x30", "--measured", "25.4，15.0",
                "--json")
    assert json.loads(fixed.stdout)["dx"] == pytest.approx(0.1)  # 0.5 − (25.4 − 25.0)
    listed = json.loads(cli("labels", "printer", "list", "--json").stdout)
    assert [(p["printer"], p["stock"], p["dpi"]) for p in listed] == [("前台热敏", "roll-50x30", 203)]
    out = tmp_path / "roll.pdf"
    printed = cli("print", "labels", "--kind", "folder", "--stock", "roll-50x30", "--printer", "前台热敏",
                  "--household", "001-2", "-o", str(out), "--json")
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.stdout)["dpi"] == 203 and len(read(out).pages) == 1
    decode_sheet(out.read_bytes(), STOCKS["roll-50x30"], [[folder_code(PREFIX, 2).value]], name="cli-roll")


def test_calibration_sheet_needs_no_scope(cli, tmp_path):
    out = tmp_path / "cal.pdf"
    result = cli("print", "labels", "--kind", "calibration", "--stock", "a4-3x7", "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["labels"] == 21


def test_refusals_are_chinese_messages_with_exit_1_and_usage_errors_exit_2(cli, tmp_path):
    out = tmp_path / "x.pdf"
    narrow = cli("print", "labels", "--kind", "folder", "--stock", "a4-65up", "--village", "001", "-o", str(out))
    assert narrow.exit_code == 1 and "条码放不下" in narrow.output and "Traceback" not in narrow.output
    assert not out.exists()
    start = cli("print", "labels", "--kind", "folder", "--village", "001", "--start", "30", "-o", str(out), "--json")
    assert start.exit_code == 1 and "起始格应在 1–24" in json.loads(start.stdout)["error"]
    unknown = cli("print", "labels", "--kind", "folder", "--village", "001", "--printer", "没有", "-o", str(out))
    assert unknown.exit_code == 1 and "还没有为标签纸 a4-3x8 校准" in unknown.output
    assert cli("print", "labels", "--kind", "folder", "-o", str(out)).exit_code == 2
    bad_cells = cli("print", "labels", "--kind", "folder", "--village", "001", "--skip", "1,x", "-o", str(out))
    assert bad_cells.exit_code == 1 and "1,3,5-8" in bad_cells.output


def test_the_labels_job_runs_in_the_background_and_an_empty_scope_fails_it(committed_db, tmp_path):
    from archiveprint.register import demo

    with committed_db.transaction() as session:
        demo.load(session, demo.generate(seed=3, villages=1, households_per_village=5, today=TODAY), actor=ACTOR)
        job_id = jobqueue.create_job(session, "labels", {
            "kind": "folder", "stock": "a4-3x8", "scope": {"village": "201"},
            "options": {"start": 2, "used": [[5]]}, "filename": "v001.pdf"}, actor=ACTOR).id
    settings = Settings(instance_dir=tmp_path, database_url=committed_db.engine.url.render_as_string(False),
                        secret_key="test")
    run_job(job_id, settings=settings, database=committed_db)
    with committed_db.reader() as session:
        job = jobqueue.get_job(session, job_id)
        assert (job.status, job.pages, job.done, job.total) == ("done", 1, 5, 5), job.error
        output = Path(job.outputs[0])
    codes = [folder_code("130123100201", n).value for n in range(1, 6)]
    decode_sheet(output.read_bytes(), STOCKS["a4-3x8"],
                 expected_pages(STOCKS["a4-3x8"], codes, start=2, used=(frozenset({5}),)), name="job")
    with committed_db.transaction() as session:
        empty = jobqueue.create_job(session, "labels", {"kind": "folder", "scope": {"village": "999"}}, actor=ACTOR).id
    run_job(empty, settings=settings, database=committed_db)
    with committed_db.reader() as session:
        job = jobqueue.get_job(session, empty)
        assert job.status == "failed" and "没有要打印的标签" in job.error
