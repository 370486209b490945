"""#14 refusals of `archiveprint site add` and of `--site` / ARCHIVEPRINT_SITE: each names the field and the value in
Chinese (exit status 1, no traceback); the command-line advice comes after the message, on its own line."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from click.testing import Result

from archiveprint.db import Database
from tests.conftest import setup_township

SITE = ["site", "add", "BT", "--name", "柏棠镇卫生院", "--county", "130123", "--county-name", "正定县",
        "--township", "101"]


def _with(**changed: str) -> list[str]:
    args = list(SITE)
    for option, value in changed.items():
        if option == "code":
            args[2] = value
        else:
            args[args.index(f"--{option}") + 1] = value
    return args


@pytest.fixture
def one_site(cli_env: Database) -> Database:
    with cli_env.transaction() as session:
        setup_township(session)  # 诸福屯镇卫生院, 130123-100
    return cli_env


def _refused(result: Result) -> str:
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    return result.output


@pytest.mark.parametrize(("changed", "says"), [
    ({"county": "13012"}, "「县代码」，值“13012”：县级行政区划代码应为6位数字"),
    ({"township": "000"}, "「乡镇代码」，值“000”：乡镇代码应为3位数字（001–999）"),
    ({"township": "10"}, "「乡镇代码」，值“10”：乡镇代码应为3位数字（001–999）"),
    ({"code": "B T"}, "「机构代码」，值“B T”：机构代码应为1–32个字符，不含空格"),
    ({"name": " "}, "「机构名称」：机构名称不能为空"),
])
def test_site_add_refuses_a_bad_value_naming_its_field(one_site: Database, run_cli: Callable[..., Result],
                                                       changed: dict[str, str], says: str) -> None:
    assert says in _refused(run_cli(*_with(**changed)))
    assert json.loads(run_cli("site", "list", "--json").output)[0]["code"] == "130123100"
    assert len(json.loads(run_cli("site", "list", "--json").output)) == 1


def test_site_add_refuses_a_second_site_on_sqlite_and_a_taken_code_or_township_on_postgresql(
        one_site: Database, run_cli: Callable[..., Result]) -> None:
    if one_site.is_sqlite:
        text = _refused(run_cli(*SITE))
        message, hint = text.strip().splitlines()
        assert message == ("错误：「数据库」，值“SQLite”：一个系统管理多个机构需要 PostgreSQL 数据库；"
                           "SQLite 只支持一个机构")
        assert "DATABASE_URL" in hint
        return
    assert "「机构代码」，值“130123100”：机构代码 130123100 已被使用" in _refused(run_cli(*_with(code="130123100")))
    assert "「乡镇代码」，值“100”：乡镇 130123-100 已属于机构“诸福屯镇卫生院”（130123100）" in _refused(
        run_cli(*_with(township="100")))
    assert run_cli(*SITE).exit_code == 0


def test_an_unknown_site_is_refused_naming_it_and_the_sites_there_are(one_site: Database,
                                                                      run_cli: Callable[..., Result],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    says = "「机构」，值“NOPE”：没有机构代码为 NOPE 的机构（现有：130123100（诸福屯镇卫生院））"
    assert says in _refused(run_cli("--site", "NOPE", "village", "list"))
    answer = json.loads(_refused(run_cli("village", "list", "--site", "NOPE", "--json")))
    assert answer["field"] == "机构" and answer["value"] == "NOPE" and says in answer["error"]
    monkeypatch.setenv("ARCHIVEPRINT_SITE", "NOPE")
    assert says in _refused(run_cli("village", "list"))
