"""`archiveprint inspect` end to end on a committed register: draw (JSON with folder code, village, address and
status; the same seed again gives the same folders), record, result, sign, report PDF and .xlsx, list, tasks — on
SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from archiveprint.accounts.models import AuditEntry
from tests.inspections.conftest import build_register
from tests.pdfcheck import compact, page_texts

ITEMS = ("cover", "basic_info", "population_forms", "signatures")


@pytest.fixture
def cli(committed_db, run_cli):  # type: ignore[no-untyped-def]
    with committed_db.transaction() as session:
        build_register(session)
    return run_cli


def as_json(result):  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_an_inspection_from_the_command_line(cli, committed_db, tmp_path: Path):
    drawn = as_json(cli("inspect", "draw", "--size", "6", "--minimum", "1", "--seed", "2026秋", "--village", "202",
                        "--village", "城关社区", "--inspector", "县督导组", "--on", "2026-11-25", "--json"))
    assert drawn["number"] == "CC-2026-0001" and drawn["size"] == 6 and drawn["frame"] == 20
    assert {v["village"]: v["size"] for v in drawn["villages"]} == {"001": 2, "202": 4}
    first = drawn["folders"][0]
    assert set(first) >= {"folder", "village", "address", "status"}
    assert first["address"].startswith("一号库房") and first["status"] == "on_shelf"
    assert "随机种子“2026秋”" in drawn["method"]
    again = as_json(cli("inspect", "draw", "--size", "6", "--minimum", "1", "--seed", "2026秋", "--village", "202",
                        "--village", "001", "--inspector", "县督导组", "--json"))
    assert [f["folder"] for f in again["folders"]] == [f["folder"] for f in drawn["folders"]]

    folders = [f["folder"] for f in drawn["folders"]]
    for code in folders[1:]:
        ok = cli("inspect", "record", "1", code, *(x for key in ITEMS for x in ("--item", key)), "--pass")
        assert ok.exit_code == 0, ok.output
        assert cli("inspect", "record", "1", code, "--item", "dynamic", "--seen", "2026-05-01").exit_code == 0
    flawed = cli("inspect", "record", "CC-2026-0001", folders[0], "--item", "cover", "--fail", "--note", "缺建档日期",
                 "--json")
    assert as_json(flawed)["outcome"] == "pending"
    refused = cli("inspect", "sign", "1", "--json")
    assert refused.exit_code == 1 and "未读完" in json.loads(refused.stdout)["error"]
    for key in ITEMS[1:]:
        assert cli("inspect", "record", "1", "1", "--item", key, "--pass").exit_code == 0
    contradiction = cli("inspect", "record", "1", "1", "--item", "dynamic", "--pass", "--seen", "2024-01-01")
    assert contradiction.exit_code == 1 and "矛盾" in contradiction.output
    assert cli("inspect", "record", "1", "1", "--item", "12个月内有动态记录", "--fail").exit_code == 0

    result = as_json(cli("inspect", "result", "1", "--json"))
    assert result["overall"]["counted"] == 6 and result["overall"]["qualified"]["hits"] == 5
    assert result["overall"]["usage"]["hits"] == 5 and result["pending"] == []
    assert result["failing"][0]["failed"][0]["note"] == "缺建档日期"

    signed = as_json(cli("inspect", "sign", "1", "--json"))
    assert signed == {"number": "CC-2026-0001", "status": "signed", "tasks": 1}
    pdf, xlsx = tmp_path / "report.pdf", tmp_path / "raw.xlsx"
    assert cli("inspect", "report", "1", "-o", str(pdf), "--xlsx", str(xlsx)).exit_code == 0
    text = compact("".join(page_texts(pdf)))
    assert "健康档案抽查记录" in text and "缺建档日期" in text and "83.3%" in text
    rows = list(openpyxl.load_workbook(xlsx)["抽查结果"].iter_rows(values_only=True))
    assert len(rows) == 7
    listed = as_json(cli("inspect", "list", "--json"))
    assert [i["status"] for i in listed] == ["open", "signed"]
    tasks = as_json(cli("inspect", "tasks", "--open", "--json"))
    assert len(tasks) == 1 and tasks[0]["text"] == "封面项目填写完整：缺建档日期"
    assert cli("inspect", "done", str(1), "--note", "已补填").exit_code == 0
    assert as_json(cli("inspect", "tasks", "--open", "--json")) == []
    trend = as_json(cli("inspect", "trend", "--json"))
    assert trend["overall"][0]["qualified"] == round(5 / 6, 4)
    with committed_db.reader() as session:
        actions = {a.action for a in session.scalars(select(AuditEntry).where(AuditEntry.subject_type == "household"))}
    assert {"view", "print", "export"} <= actions


def test_draw_errors_are_chinese_and_exit_1(cli):
    missing = cli("inspect", "draw", "--seed", "1", "--json")
    assert missing.exit_code == 1 and "样本量" in json.loads(missing.stdout)["error"]
    nobody = cli("inspect", "draw", "--size", "3", "--seed", "1", "--population", "外星人")
    assert nobody.exit_code == 1 and "没有这个重点人群" in nobody.output
    unknown = cli("inspect", "result", "99")
    assert unknown.exit_code == 1 and "没有这次抽查" in unknown.output
