"""`archiveprint lend …` and `archiveprint borrower …` on a real (committed) database: --json objects, exit codes."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from archiveprint.accounts.models import AuditEntry
from archiveprint.cli import AppContext, main
from archiveprint.db import utcnow
from archiveprint.lending.rules import load_rules, shipped_rules_file
from archiveprint.register.codes import folder_code
from tests.lending.conftest import build_archive
from tests.pdfcheck import check_structure, compact, decode_barcodes, page_texts, rasterize, read

RULES = load_rules([shipped_rules_file()])


@pytest.fixture
def codes(committed_db) -> dict[str, str]:
    """The archive, committed: folder codes by name, and a resident's archive code."""
    with committed_db.transaction() as session:
        made = build_archive(session)

        def code(household) -> str:  # type: ignore[no-untyped-def]
            return folder_code(household.village.full_code, household.number).value
        return {"east1": code(made["homes"][0]), "east2": code(made["homes"][1]), "east3": code(made["homes"][2]),
                "west1": code(made["west"][0]), "resident": made["homes"][3].members[0].archive_code}


@pytest.fixture
def cli(committed_db, codes, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", committed_db.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ARCHIVEPRINT_INSTANCE", str(tmp_path / "instance"))
    runner = CliRunner()

    def run(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(main, list(args), obj=AppContext(), catch_exceptions=False)
    return run


def out_json(result) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(result.stdout)


def today():  # type: ignore[no-untyped-def]
    return RULES.local_date(utcnow())


def due_after(days: int, start=None):  # type: ignore[no-untyped-def]
    """`days` after today (or `start`), on the archive room's next open day: the tests run on any day of the year,
    and a due date that falls on a weekend or holiday legitimately moves (test_calendar.py pins each case)."""
    return RULES.calendar.next_open((start or today()) + timedelta(days=days))


def test_lend_out_then_return_twice_with_json(cli, codes):
    result = cli("lend", "out", codes["east1"], "--borrower", "doctor1", "--purpose", "随访", "--json")
    assert result.exit_code == 0, result.output
    loan = out_json(result)
    assert loan["ok"] and loan["folder"] == codes["east1"] and loan["borrower"] == "doctor1"
    assert loan["purpose"] == "follow_up" and loan["purpose_text"] == "随访" and loan["state"] == "out"
    assert loan["due_on"] == due_after(14).isoformat()
    assert loan["home"] and loan["loan_code"].startswith("L")
    first = cli("lend", "return", codes["east1"], "--json")
    assert first.exit_code == 0
    back = out_json(first)
    assert (back["outcome"], back["changed"], back["loan"]["state"]) == ("returned", True, "returned")
    assert back["home"] == loan["home"] and back["message"].endswith(f"请放回 {loan['home']}")
    again = cli("lend", "return", codes["east1"], "--json")
    assert again.exit_code == 0 and out_json(again)["outcome"] == "already_returned"


def test_lend_out_by_resident_code_prints_a_receipt(cli, codes, tmp_path: Path):
    receipt = tmp_path / "receipt.pdf"
    result = cli("lend", "out", codes["resident"], "--borrower", "wang", "--purpose", "home_visit",
                 "--receipt", str(receipt), "--json")
    assert result.exit_code == 0, result.output
    loan = out_json(result)
    assert loan["resident"] == codes["resident"] and loan["receipt"] == str(receipt)
    assert len(read(receipt.read_bytes()).pages) == 1
    assert "入户服务" in compact(page_texts(receipt.read_bytes())[0])
    assert set(decode_barcodes(rasterize(receipt.read_bytes(), 0, 300))) == {loan["loan_code"], loan["folder"]}
    reprint = tmp_path / "again.pdf"
    assert cli("lend", "receipt", loan["loan_code"], "-o", str(reprint)).exit_code == 0
    check_structure(reprint)


def test_refusals_are_chinese_json_errors_with_exit_1(cli, codes):
    assert cli("lend", "out", codes["east1"], "--borrower", "doctor1", "--purpose", "复诊").exit_code == 0
    lent = cli("lend", "out", codes["east1"], "--borrower", "wang", "--purpose", "随访", "--json")
    assert lent.exit_code == 1
    error = out_json(lent)
    assert "已借出给 钱医生（全科）" in error["error"] and error["field"] == "档案袋"
    nobody = cli("lend", "out", codes["east2"], "--borrower", "ghost", "--purpose", "随访", "--json")
    assert nobody.exit_code == 1 and out_json(nobody)["field"] == "借阅人"
    purpose = cli("lend", "out", codes["east2"], "--borrower", "doctor1", "--purpose", "聊天", "--json")
    assert purpose.exit_code == 1 and out_json(purpose)["value"] == "聊天"
    plain = cli("lend", "out", "xyz", "--borrower", "doctor1", "--purpose", "随访")
    assert plain.exit_code == 1 and "无法识别的条码" in plain.stderr and "Traceback" not in plain.output


def test_usage_errors_exit_2(cli, codes, tmp_path: Path):
    assert cli("lend", "out").exit_code == 2
    assert cli("lend", "register", "--month", "2026-11").exit_code == 2  # -o is required
    missing_dir = cli("lend", "out", codes["east1"], "--borrower", "doctor1", "--purpose", "随访",
                      "--receipt", str(tmp_path / "nowhere" / "r.pdf"), "--json")
    assert missing_dir.exit_code == 2 and "输出目录不存在" in out_json(missing_dir)["error"]
    assert cli("lend", "replay", str(tmp_path / "none.json")).exit_code == 2
    assert cli("lend", "return", codes["east1"], "--json").exit_code == 0  # nothing was lent by the refused call


def test_renew_overdue_slips_and_register(cli, codes, tmp_path: Path, committed_db):
    cli("lend", "out", codes["east1"], "--borrower", "wang", "--purpose", "随访")
    cli("lend", "out", codes["west1"], "--borrower", "doctor1", "--purpose", "复诊")
    renewed = cli("lend", "renew", codes["west1"], "--json")
    assert renewed.exit_code == 0 and out_json(renewed)["renewals"] == 1
    assert out_json(renewed)["due_on"] == due_after(14, due_after(14)).isoformat()
    refused = cli("lend", "renew", codes["west1"], "--json")
    assert refused.exit_code == 1 and "最多续借 1 次" in out_json(refused)["error"]
    later = (due_after(14) + timedelta(days=6)).isoformat()
    listed = cli("lend", "overdue", "--date", later, "--json")
    assert listed.exit_code == 0
    overdue = out_json(listed)
    assert overdue["count"] == 1 and overdue["loans"][0]["folder"] == codes["east1"]
    assert overdue["loans"][0]["days_late"] == 6 and overdue["loans"][0]["level"] == 1
    slips = tmp_path / "slips.pdf"
    printed = cli("lend", "overdue", "--date", later, "--village", "东村", "-o", str(slips), "--json")
    assert printed.exit_code == 0 and out_json(printed)["village"] == "201"
    assert "逾期未还档案通知单" in compact(page_texts(slips)[0])
    text = cli("lend", "overdue", "--date", later)
    assert "201 东村" in text.output and "逾期 6 天" in text.output
    register = tmp_path / "register.pdf"
    month = today().strftime("%Y-%m")
    made = cli("lend", "register", "--month", month, "-o", str(register), "--json")
    assert made.exit_code == 0 and out_json(made) == {"month": month, "loans": 2, "pdf": str(register)}
    assert "档案借阅登记表" in compact(page_texts(register)[0])
    bad = cli("lend", "register", "--month", "2026-13", "-o", str(register), "--json")
    assert bad.exit_code == 1 and out_json(bad)["field"] == "月份"
    with committed_db.reader() as session:
        details = set(session.scalars(select(AuditEntry.detail)))
        assert "cli lend overdue" in details and f"借阅登记表 {month}" in details


def test_request_queue_and_release_by_scan(cli, codes):
    asked = cli("lend", "request", codes["east2"], codes["east1"], "nonsense", "--borrower", "wang",
                "--purpose", "入户服务", "--json")
    assert asked.exit_code == 1  # one code named nothing: reported, the others recorded
    batch = out_json(asked)
    assert batch["created"] == 2 and batch["problems"][0]["code"] == "nonsense"
    twice = cli("lend", "request", codes["east2"], "--borrower", "wang", "--purpose", "入户服务", "--json")
    assert twice.exit_code == 0 and out_json(twice)["existing"] == 1 and out_json(twice)["created"] == 0
    queue = out_json(cli("lend", "queue", "--json"))
    assert [row["folder"] for row in queue["rows"]] == [codes["east1"], codes["east2"]]  # shelf order
    assert all(row["ready"] for row in queue["rows"])
    released = cli("lend", "out", codes["east1"], "--json")
    assert released.exit_code == 0
    assert out_json(released)["borrower"] == "wang" and out_json(released)["request"] == queue["rows"][0]["request"]
    assert out_json(cli("lend", "queue", "--json"))["count"] == 1
    assert cli("lend", "cancel", str(queue["rows"][1]["request"]), "--json").exit_code == 0
    assert "没有待放行的申请" in cli("lend", "queue").output


def test_an_outside_unit_is_released_only_after_evidence_and_approval(cli, codes, tmp_path: Path):
    scan = tmp_path / "申请.pdf"
    scan.write_bytes(b"%PDF-1.4\n% scanned\n")
    asked = out_json(cli("lend", "request", codes["east3"], "--borrower", "cdc", "--purpose", "督导检查", "--json"))
    request = str(asked["requests"][0]["request"])
    early = cli("lend", "out", codes["east3"], "--borrower", "cdc", "--json")
    assert early.exit_code == 1 and "尚缺" in out_json(early)["error"]
    evidence = cli("lend", "evidence", request, "--application", "疾控申3号", "--application-scan", str(scan),
                   "--consent", "resident", "--consent-ref", "同意书7号", "--json")
    assert evidence.exit_code == 0 and out_json(evidence)["missing"] == ["审批"]
    denied = cli("lend", "approve", request, "--approver", "doctor1", "--json")
    assert denied.exit_code == 1 and out_json(denied)["field"] == "审批人"
    approved = cli("lend", "approve", request, "--approver", "director", "--opinion", "同意", "--json")
    assert approved.exit_code == 0 and out_json(approved)["ready"]
    lent = cli("lend", "out", codes["east3"], "--borrower", "cdc", "--json")
    assert lent.exit_code == 0
    assert out_json(lent)["on_site"] and out_json(lent)["approver"] == "周院长"


def test_lost_and_found(cli, codes):
    cli("lend", "out", codes["east1"], "--borrower", "doctor1", "--purpose", "随访")
    assert cli("lend", "lost", codes["east1"]).exit_code == 2  # --note is required
    lost = cli("lend", "lost", codes["east1"], "--note", "村里找不到", "--json")
    assert lost.exit_code == 0 and out_json(lost)["changed"]
    found = cli("lend", "found", codes["east1"], "--condition", "缺页", "--note", "缺第3页", "--json")
    assert found.exit_code == 0
    assert out_json(found)["outcome"] == "found" and out_json(found)["loan"]["condition"] == "missing_pages"


def test_locate_shows_the_loan(cli, codes):
    cli("lend", "out", codes["east1"], "--borrower", "wang", "--purpose", "随访")
    found = out_json(cli("locate", codes["east1"], "--json"))
    due = due_after(14).isoformat()
    assert found[0]["status"] == "lent"
    assert found[0]["status_text"] == f"借出给 王村医（东村卫生室） 于 {today().isoformat()} 应还 {due}"


def test_borrowers_are_added_and_listed(cli):
    added = cli("borrower", "add", "li", "--kind", "village_doctor", "--name", "李村医", "--unit", "西村卫生室",
                "--village", "202", "--village", "001", "--json")
    assert added.exit_code == 0
    assert out_json(added)["villages"] == ["001", "202"] and out_json(added)["kind_text"] == "村医"
    dup = cli("borrower", "add", "li", "--kind", "staff", "--name", "李", "--json")
    assert dup.exit_code == 1 and out_json(dup)["field"] == "借阅人编号"
    keys = [b["key"] for b in out_json(cli("borrower", "list", "--json"))]
    assert keys == ["cdc", "doctor1", "li", "wang"]
    assert "县疾控中心（县疾病预防控制中心）" in cli("borrower", "list").output


def test_replay_a_station_journal_twice(cli, codes, tmp_path: Path, committed_db):
    now = utcnow()
    journal = tmp_path / "journal.json"
    journal.write_text(json.dumps({"scans": [
        {"client_id": "desk1-0001", "client_at": (now - timedelta(minutes=30)).isoformat() + "Z", "action": "out",
         "code": codes["east2"], "borrower": "doctor1", "purpose": "复诊"},
        {"client_id": "desk1-0002", "client_at": (now - timedelta(minutes=20)).isoformat() + "Z", "action": "out",
         "code": codes["east2"], "borrower": "wang", "purpose": "随访"},
        {"client_id": "desk1-0003", "client_at": (now - timedelta(minutes=10)).isoformat() + "Z",
         "action": "return", "code": codes["east2"]},
    ]}), encoding="utf-8")
    first = cli("lend", "replay", str(journal), "--station", "desk1", "--json")
    assert first.exit_code == 1  # the second scan conflicts: reported, not applied
    report = out_json(first)
    assert [s["outcome"] for s in report["scans"]] == ["applied", "conflict", "applied"]
    assert report["conflicts"] == 1
    second = out_json(cli("lend", "replay", str(journal), "--json"))
    assert [s["outcome"] for s in second["scans"]] == ["applied", "conflict", "applied"]
    assert all(s["replayed"] for s in second["scans"])
    with committed_db.reader() as session:
        from archiveprint.lending.models import Loan, LoanScan

        assert session.scalar(select(func.count(Loan.id))) == 1
        assert set(session.scalars(select(LoanScan.station))) == {"desk1"}
    broken = tmp_path / "broken.json"
    broken.write_text("[{", encoding="utf-8")
    assert cli("lend", "replay", str(broken)).exit_code == 2
    bad_entry = tmp_path / "bad.json"
    bad_entry.write_text(json.dumps([{"client_id": "x"}]), encoding="utf-8")
    result = cli("lend", "replay", str(bad_entry), "--json")
    assert result.exit_code == 1 and out_json(result)["field"] == "client_id"


# --- the rules, the calendar and expired requests --------------------------------------------------------------

def test_lend_rules_shows_the_terms_the_calendar_and_a_months_closed_days(cli, tmp_path: Path):
    text = cli("lend", "rules")
    assert text.exit_code == 0, text.output
    for expected in ("本院职工：借期 14 天，可续借 1 次（每次 14 天）",
                     "外单位：仅限档案室内查阅，当天归还；须书面申请、审批",
                     "每周闭馆：周六、周日", "10-01..10-07 国庆节（每年）", "调休上班：无",
                     "超过 7 天未放行的申请自动关闭（已过期）"):
        assert expected in text.output, expected
    october = out_json(cli("lend", "rules", "--month", "2026-10", "--json"))
    assert october["calendar"]["closed_weekdays"] == ["saturday", "sunday"]
    assert october["request_expiry_days"] == 7 and october["borrowers"]["village_doctor"]["own_villages_only"]
    days = october["closed_days"]
    assert len(days) == 14 and days[0] == {"date": "2026-10-01", "reason": "国庆节"}
    assert days[7] == {"date": "2026-10-10", "reason": "周六"}
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    (instance / "lending_rules.yaml").write_text(
        "calendar: {working_dates: [2026-10-10]}\nrequest_expiry_days: 3\n", encoding="utf-8")
    site = cli("lend", "rules", "--month", "2026-10")
    assert "调休上班：2026-10-10" in site.output and "超过 3 天未放行" in site.output
    assert "2026-10 闭馆日（13 天）" in site.output and "10-11 周日" in site.output
    (instance / "lending_rules.yaml").write_text("calendar: {working_dates: [2026-10-12]}\n", encoding="utf-8")
    refused = cli("lend", "rules", "--json")
    assert refused.exit_code == 1 and "2026-10-12 是周一" in out_json(refused)["error"]
    assert cli("lend", "rules", "--month", "2026-13", "--json").exit_code == 1


def test_stale_requests_are_expired_by_command_and_when_the_queue_is_read(cli, codes, committed_db):
    from archiveprint.lending.models import LoanRequest
    from archiveprint.lending.queries import find_borrower
    from archiveprint.lending.requests import request_folders

    def ask(code: str, days_ago: int) -> int:
        with committed_db.transaction() as session:
            batch = request_folders(session, [code], borrower=find_borrower(session, "wang"), purpose="随访",
                                    rules=RULES, actor="test", now=utcnow() - timedelta(days=days_ago))
            return batch.requests[0].id

    fresh = ask(codes["east2"], 1)
    stale = ask(codes["east1"], 10)  # asked after `fresh`: a request closes its borrower's stale ones on the way
    planned = cli("lend", "requests", "expire", "--dry-run", "--json")
    assert planned.exit_code == 0
    assert out_json(planned)["dry_run"] and [r["request"] for r in out_json(planned)["requests"]] == [stale]
    assert "将关闭 1 份申请（超过 7 天未放行，已自动关闭）" in cli("lend", "requests", "expire", "--dry-run").output
    with committed_db.reader() as session:
        assert session.get(LoanRequest, stale).status == "open"
    done = out_json(cli("lend", "requests", "expire", "--json"))
    assert done["count"] == 1 and done["requests"][0]["borrower"] == "wang"
    assert out_json(cli("lend", "requests", "expire", "--json"))["count"] == 0
    assert "没有超过 7 天未放行的申请" in cli("lend", "requests", "expire").output
    listed = out_json(cli("lend", "requests", "list", "--borrower", "wang", "--json"))
    assert [(r["request"], r["status_text"]) for r in listed["requests"]] == [(stale, "已过期"), (fresh, "待放行")]
    assert listed["requests"][0]["closed_reason"] == "超过 7 天未放行，已自动关闭"
    assert "已过期（超过 7 天未放行，已自动关闭）" in cli("lend", "requests", "list", "--status", "expired").output

    again = ask(codes["east3"], 9)  # nobody ran the command this time: reading the queue closes it
    queue = out_json(cli("lend", "queue", "--json"))
    assert [r["request"] for r in queue["expired"]] == [again] and [r["request"] for r in queue["rows"]] == [fresh]
    assert out_json(cli("lend", "queue", "--json"))["expired"] == []
    with committed_db.reader() as session:
        assert session.get(LoanRequest, again).status == "expired"
