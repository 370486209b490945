"""`archiveprint demo`: load a small synthetic township into a real database, find it, export a sample file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from archiveprint.cli import AppContext, main


@pytest.fixture
def cli(committed_db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DATABASE_URL", committed_db.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ARCHIVEPRINT_INSTANCE", str(tmp_path / "instance"))
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(main, list(args), obj=AppContext(), catch_exceptions=False)
    return run


def test_demo_loads_a_township_that_find_can_search(cli):
    result = cli("demo", "--villages", "2", "--households", "5")
    assert result.exit_code == 0, result.output
    assert "已载入 演示乡镇" in result.output and "2 个村，10 户" in result.output

    villages = json.loads(cli("village", "list", "--json").output)
    assert [v["households"] for v in villages] == [5, 5]
    code = "13012310000100001"
    found = cli("find", code, "--json")
    assert found.exit_code == 0, found.output
    matches = json.loads(found.output)
    assert isinstance(matches, list) and len(matches) == 1
    assert {"archive_code", "name", "household", "village"} <= set(matches[0])
    assert matches[0]["archive_code"] == code and matches[0]["village"] == "001"


def test_demo_twice_is_a_chinese_error_not_a_traceback(cli):
    assert cli("demo", "--villages", "2", "--households", "2").exit_code == 0
    again = cli("demo", "--villages", "2", "--households", "2")
    assert again.exit_code == 1
    assert "演示数据已载入过" in again.output


def test_demo_export_writes_a_file_without_touching_the_database(cli, tmp_path: Path):
    path = tmp_path / "x.xlsx"
    result = cli("demo", "--export", str(path))
    assert result.exit_code == 0, result.output
    assert path.stat().st_size > 0
    assert "已写出" in result.output
    assert json.loads(cli("village", "list", "--json").output) == []
