"""The `archiveprint` command on a real database: township, villages, users, find, db upgrade, usage errors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from archiveprint.cli import AppContext, main


@pytest.fixture
def cli(committed_db, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", committed_db.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ARCHIVEPRINT_INSTANCE", str(tmp_path / "instance"))
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(main, list(args), obj=AppContext(), catch_exceptions=False)
    return run


def test_set_up_a_township_add_villages_and_find_nothing_yet(cli):
    assert cli("db", "upgrade").exit_code == 0
    result = cli("township", "set", "--county", "130123", "--county-name", "正定县", "--code", "100",
                 "--name", "诸福屯镇")
    assert result.exit_code == 0, result.output
    assert "诸福屯镇" in result.output
    assert cli("village", "add", "201", "东村").exit_code == 0
    listed = json.loads(cli("village", "list", "--json").output)
    assert listed == [{"code": "201", "name": "东村", "households": 0, "residents": 0}]
    assert json.loads(cli("find", "zsf", "--json").output) == []


def test_domain_errors_are_chinese_messages_with_exit_1(cli):
    result = cli("village", "add", "201", "东村")
    assert result.exit_code == 1
    assert "尚未设置本院所属乡镇" in result.output
    assert "Traceback" not in result.output
    cli("township", "set", "--county", "130123", "--county-name", "正定县", "--code", "100", "--name", "某镇")
    result = cli("township", "set", "--county", "130124", "--county-name", "别县", "--code", "100", "--name", "某镇")
    assert result.exit_code == 1
    assert "不能改为另一个乡镇" in result.output


def test_usage_errors_exit_2(cli):
    assert cli("find").exit_code == 2
    assert cli("import", "/nonexistent/file.xlsx", "--json").exit_code == 2


def test_users_are_created_and_checked(cli):
    assert cli("user", "create", "clerk1", "--role", "clerk", "--password", "long-enough-1").exit_code == 0
    assert cli("user", "exists", "clerk1").exit_code == 0
    assert cli("user", "exists", "nobody").exit_code == 1
    short = cli("user", "create", "clerk2", "--role", "clerk", "--password", "short")
    assert short.exit_code == 1
    assert "密码至少8位" in short.output
    assert "档案管理员" in cli("user", "list").output
