"""`archiveprint import` on a committed database: JSON counts, exit 0/1/2, dry run, error workbook, column maps."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import func, select

from archiveprint.cli import AppContext, main
from archiveprint.register.models import ImportRun, Resident
from tests.conftest import setup_township
from tests.register.test_importer import HEADER, family, write_csv


@pytest.fixture
def cli(committed_db, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", committed_db.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ARCHIVEPRINT_INSTANCE", str(tmp_path / "instance"))
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(main, list(args), obj=AppContext(), catch_exceptions=False)
    return run


@pytest.fixture
def configured(committed_db):
    with committed_db.transaction() as session:
        setup_township(session)
    return committed_db


def residents(database) -> int:
    with database.reader() as session:
        return session.scalar(select(func.count()).select_from(Resident)) or 0


def test_import_prints_json_counts_and_commits(cli, configured, tmp_path):
    path = write_csv(tmp_path / "export.csv", family(), encoding="gbk")
    result = cli("import", str(path), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data == {"rows": 4, "accepted": 4, "refused": 0, "added": 4, "changed": 0, "unchanged": 0,
                    "errors": [], "normalised": [], "flagged": [], "applied": True, "dry_run": False,
                    "already_imported": None}
    assert residents(configured) == 4
    found = json.loads(cli("find", "张三丰", "--json").stdout)
    assert [m["archive_code"] for m in found] == ["13012310020100001"]
    again = json.loads(cli("import", str(path), "--json").stdout)
    assert (again["added"], again["unchanged"], again["applied"]) == (0, 4, False)
    with configured.reader() as session:
        assert session.scalar(select(func.count()).select_from(ImportRun)) == 1


def test_a_faulty_file_exits_1_with_every_error_and_writes_nothing(cli, configured, tmp_path):
    rows = family()
    rows[1][4] = str(rows[1][4])[:17] + ("1" if str(rows[1][4])[17] != "1" else "2")
    rows[2][9] = "西村"
    path = write_csv(tmp_path / "bad.csv", rows)
    result = cli("import", str(path), "--json", "--errors-xlsx", str(tmp_path / "errors.xlsx"))
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert (data["refused"], data["accepted"], data["applied"]) == (2, 2, False)
    assert [(e["row"], e["column"]) for e in data["errors"]] == [(4, "身份证号"), (5, "档案编号/所属村(居)委会")]
    assert residents(configured) == 0
    sheet = load_workbook(tmp_path / "errors.xlsx")["错误"]
    assert [c.value for c in sheet[2]][:2] == [4, "身份证号"]


def test_plain_output_lists_problems_in_chinese(cli, configured, tmp_path):
    rows = family()
    rows[0][1] = ""
    result = cli("import", str(write_csv(tmp_path / "bad.csv", rows)))
    assert result.exit_code == 1
    assert "整份文件未写入" in result.stdout
    assert "第3行 「姓名」" in result.stdout and "缺少姓名" in result.stdout


def test_missing_file_exits_2(cli, configured, tmp_path):
    result = cli("import", str(tmp_path / "nothing.xlsx"), "--json")
    assert result.exit_code == 2
    assert "文件不存在" in json.loads(result.stdout)["error"]


def test_unreadable_file_is_a_message_not_a_traceback(cli, configured, tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a workbook")
    result = cli("import", str(path), "--json")
    assert result.exit_code == 1
    assert "无法打开 Excel 文件" in json.loads(result.stdout)["error"]
    assert "Traceback" not in result.output


def test_dry_run_previews_without_writing(cli, configured, tmp_path):
    result = cli("import", str(write_csv(tmp_path / "export.csv", family())), "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["added"], data["applied"], data["dry_run"]) == (4, False, True)
    assert residents(configured) == 0


def test_column_map_and_new_villages(cli, configured, tmp_path):
    header = ["居民档案号码", *HEADER[1:]]
    rows = family()
    rows[3][0], rows[3][9] = "13012310020300001", "南村"
    path = write_csv(tmp_path / "odd.csv", rows, header=header)
    assert cli("import", str(path), "--json").exit_code == 1
    refused = cli("import", str(path), "--json", "--map", "居民档案号码=档案编号")
    assert refused.exit_code == 1
    assert "村(居)委会“南村”未登记" in refused.stdout
    result = cli("import", str(path), "--map", "居民档案号码=档案编号", "--add-villages")
    assert result.exit_code == 0, result.output
    assert "新登记村(居)委会：203 南村" in result.stdout
    assert residents(configured) == 4


def test_bad_map_option_exits_1(cli, configured, tmp_path):
    result = cli("import", str(write_csv(tmp_path / "export.csv", family())), "--map", "姓名", "--json")
    assert result.exit_code == 1
    assert "列映射" in json.loads(result.stdout)["error"]


def test_township_must_be_configured_first(cli, committed_db, tmp_path):
    result = cli("import", str(write_csv(tmp_path / "export.csv", family())), "--json")
    assert result.exit_code == 1
    assert "尚未设置本院所属乡镇" in json.loads(result.stdout)["error"]


def test_a_file_already_imported_is_recognised_and_force_reads_it(cli, configured, tmp_path):
    path = write_csv(tmp_path / "export.csv", family())
    assert cli("import", str(path)).exit_code == 0
    with configured.reader() as session:
        run_id = session.scalars(select(ImportRun.id)).one()
    again = cli("import", str(path))
    assert again.exit_code == 0, again.output
    assert f"导入（第 {run_id} 次导入），未作改动" in again.stdout and "此文件已于 " in again.stdout
    assert "未重新读取（共4行）" in again.stdout and "--force" in again.stdout
    recognised = json.loads(cli("import", str(path), "--json").stdout)
    assert recognised["already_imported"]["run"] == run_id
    assert (recognised["rows"], recognised["unchanged"], recognised["applied"]) == (4, 4, False)

    forced = cli("import", str(path), "--json", "--force")
    assert forced.exit_code == 0
    data = json.loads(forced.stdout)
    assert (data["already_imported"], data["unchanged"], data["applied"]) == (None, 4, False)
    assert "没有需要写入的变化" in cli("import", str(path), "--force").stdout
    with configured.reader() as session:
        assert session.scalar(select(func.count()).select_from(ImportRun)) == 1
