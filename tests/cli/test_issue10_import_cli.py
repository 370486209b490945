"""Issue #10.6–10.8 in `archiveprint import`: text output grouped by cause, `--json` still one error per row,
plus `normalised` and `flagged`."""

from __future__ import annotations

import json
from datetime import date

from tests.cli.test_import_cli import cli, configured, residents  # noqa: F401 - fixtures
from tests.register.test_importer import person, write_csv


def test_issue10_6_text_output_groups_rows_that_share_a_cause(cli, configured, tmp_path):  # noqa: F811
    rows = [person(serial, f"东关{serial}", date(1970, 1, serial), 2 * serial + 1, village="205",
                   village_name="东关村", household=f"G{serial}") for serial in range(1, 7)]
    path = write_csv(tmp_path / "new.csv", rows)
    result = cli("import", str(path), "--dry-run")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert "  「所属村(居)委会」 “东关村” 村(居)委会“东关村”未登记：6 行（第3–8行）" in lines
    assert "  205 东关村：6 行" in lines
    assert sum("东关村" in line for line in lines) == 2  # not one line per row
    data = json.loads(cli("import", str(path), "--json").stdout)
    assert [(e["row"], e["reason"]) for e in data["errors"]] == [(row, "村(居)委会“东关村”未登记")
                                                                 for row in range(3, 9)]


def test_issue10_7_8_normalised_and_flagged_in_text_and_json(cli, configured, tmp_path):  # noqa: F811
    rows = [person(1, "张三丰", date(1956, 3, 7), 11, registered="2020/5/1", phone="1380013800")]
    path = write_csv(tmp_path / "fix.csv", rows)
    result = cli("import", str(path), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "已规范的值（1 处）：" in result.stdout
    assert "  第3行 「建档日期」 “2020/5/1” → “2020-05-01”：日期写法统一为 年-月-日" in result.stdout
    assert "待核实（1 处，照常导入，并在档案上标记待核实）：" in result.stdout
    data = json.loads(cli("import", str(path), "--json").stdout)
    assert data["normalised"] == [{"row": 3, "column": "建档日期", "kind": "日期写法统一为 年-月-日",
                                   "old": "2020/5/1", "new": "2020-05-01"}]
    assert data["flagged"] == [{"row": 3, "archive_code": "13012310020100001", "name": "张三丰", "column": "联系电话",
                                "value": "1380013800",
                                "reason": "联系电话位数不对（手机应为11位，固定电话7–8位或带区号）"}]
    assert data["applied"] and residents(configured) == 1
