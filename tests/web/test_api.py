"""The scan station's JSON API: sign-in, CSRF and permissions answered in JSON; scans applied once; the journal
flushed in order with conflicts reported; every answer that names a person audited (issue #6)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from archiveprint.accounts.models import AuditEntry
from archiveprint.db import Database, utcnow
from archiveprint.lending.models import Loan, LoanRequest, LoanScan
from archiveprint.lending.queries import find_borrower, loan_code
from archiveprint.lending.rules import load_rules, shipped_rules_file
from archiveprint.lending.services import check_out
from archiveprint.register.codes import folder_code
from archiveprint.web import api
from tests.conftest import ACTOR
from tests.lending.conftest import PASSWORD, build_archive
from tests.web.conftest import csrf_token

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def archive(committed_db: Database) -> dict[str, str]:
    """The lending test archive, committed: folder codes of village 201 (shelved) by index."""
    with committed_db.transaction() as session:
        made = build_archive(session, now=utcnow() - timedelta(days=1))
        return {f"home{i}": folder_code(h.village.full_code, h.number).value for i, h in enumerate(made["homes"])}


def sign_in(client, username: str = "clerk1") -> str:
    """Sign in through the login form; returns the CSRF token the scan station page carries in its meta tag."""
    page = client.get("/login")
    client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf_token(page)})
    scan_page = client.get("/lending/scan")
    if scan_page.status_code == 200:
        return scan_page.get_data(as_text=True).split('name="csrf-token" content="')[1].split('"')[0]
    return csrf_token(client.get("/"))


def scan(client, token: str, client_id: str, mode: str, code: str, **extra: object):
    body = {"client_id": client_id, "mode": mode, "code": code, "scanned_at": utcnow().isoformat() + "Z", **extra}
    return client.post("/api/v1/scans", json=body, headers={"X-CSRFToken": token})


def audits(database: Database, detail: str) -> int:
    with database.reader() as session:
        return session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.detail == detail)) or 0


def test_anonymous_callers_get_401_json_not_the_sign_in_page(client, archive):
    for path in ("/api/v1/dashboard", "/api/v1/locate?q=1", "/api/v1/borrowers", "/api/v1/loans?open=1",
                 "/api/v1/nothing-here"):
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.is_json and response.json["ok"] is False and response.json["error"] == "请先登录"


def test_a_post_without_the_csrf_header_is_refused_in_json(client, archive):
    sign_in(client)
    response = client.post("/api/v1/scans", json={"client_id": "abcdefgh-1", "mode": "out", "code": archive["home0"]})
    assert response.status_code == 400 and response.is_json
    assert response.json["field"] == "X-CSRFToken" and "安全令牌" in response.json["error"]


def test_a_role_without_lend_gets_403_json(client, archive):
    token = sign_in(client, "doctor1")
    response = scan(client, token, "abcdefgh-2", "out", archive["home0"], borrower="doctor1", purpose="随访")
    assert response.status_code == 403 and response.is_json and "lend" in response.json["error"]
    assert client.get("/api/v1/borrowers").status_code == 403


@pytest.mark.parametrize(("body", "field", "value"), [
    ({"client_id": "abcdefgh-3", "mode": "borrow", "code": "X"}, "mode", "borrow"),
    ({"client_id": "short", "mode": "out", "code": "X"}, "client_id", "short"),
    ({"client_id": "abcdefgh-4", "mode": "return", "code": "X", "scanned_at": "yesterday"}, "client_at", "yesterday"),
])
def test_bad_input_is_400_json_naming_the_field_and_value(client, archive, body, field, value):
    token = sign_in(client)
    response = client.post("/api/v1/scans", json=body, headers={"X-CSRFToken": token})
    assert response.status_code == 400 and response.is_json
    assert (response.json["field"], response.json["value"]) == (field, value)
    assert f"「{field}」" in response.json["error"]
    not_json = client.post("/api/v1/scans", data="code=1", headers={"X-CSRFToken": token})
    assert not_json.status_code == 400 and not_json.json["field"] == "请求内容"


def test_a_resent_scan_is_applied_once(client, archive, committed_db):
    token = sign_in(client)
    first = scan(client, token, "station-0001", "out", archive["home0"], borrower="doctor1", purpose="随访")
    again = scan(client, token, "station-0001", "out", archive["home0"], borrower="doctor1", purpose="随访")
    assert first.status_code == again.status_code == 200
    assert (first.json["outcome"], first.json["level"], first.json["replayed"]) == ("applied", "ok", False)
    assert (again.json["outcome"], again.json["replayed"]) == ("applied", True)
    assert first.json["loan"] == again.json["loan"] and "已借出给 钱医生（全科）" in first.json["message"]
    assert first.json["head_name"] == "张1号"
    with committed_db.reader() as session:
        assert session.scalar(select(func.count(Loan.id))) == 1
        assert session.scalar(select(func.count(LoanScan.id))) == 1
    assert audits(committed_db, "scan station") == 2  # each answer showed the household


def test_return_says_where_the_folder_belongs_and_a_second_return_is_amber(client, archive):
    token = sign_in(client)
    scan(client, token, "station-0010", "out", archive["home1"], borrower="wang", purpose="随访")
    back = scan(client, token, "station-0011", "return", archive["home1"], condition="intact")
    assert (back.json["outcome"], back.json["level"]) == ("applied", "ok")
    assert back.json["home"] == "一号库房 1列 A面 2层 第2位" and "请放回 一号库房" in back.json["message"]
    twice = scan(client, token, "station-0012", "return", archive["home1"])
    assert (twice.json["outcome"], twice.json["level"]) == ("unchanged", "warn")
    assert "已归还过" in twice.json["message"]
    damaged = scan(client, token, "station-0013", "return", archive["home2"], condition="damaged")
    assert damaged.json["level"] == "error" and "请写明情况" in damaged.json["message"]


def test_the_offline_journal_is_applied_in_order_and_a_conflict_is_reported(client, archive, committed_db):
    token = sign_in(client)
    start = utcnow() - timedelta(minutes=30)
    with committed_db.transaction() as session:  # another desk lent home3 while this station was offline
        rules = load_rules([shipped_rules_file()])
        check_out(session, archive["home3"], borrower=find_borrower(session, "wang"), purpose="随访", rules=rules,
                  actor=ACTOR, now=start + timedelta(minutes=10))

    def at(minutes: int) -> str:
        return (start + timedelta(minutes=minutes)).isoformat() + "Z"

    journal = [
        {"client_id": "offline-0001", "mode": "out", "code": archive["home2"], "borrower": "doctor1",
         "purpose": "follow_up", "scanned_at": at(1)},
        {"client_id": "offline-0002", "mode": "out", "code": archive["home3"], "borrower": "doctor1",
         "purpose": "follow_up", "scanned_at": at(2)},
        {"client_id": "offline-0003", "mode": "return", "code": archive["home2"], "scanned_at": at(3)},
        {"client_id": "offline-0004", "mode": "lend", "code": archive["home4"], "scanned_at": at(4)},
    ]
    response = client.post("/api/v1/scans/batch", json={"scans": journal, "station": "desk-2"},
                           headers={"X-CSRFToken": token})
    assert response.status_code == 200
    results = response.json["results"]
    assert [r["client_id"] for r in results] == ["offline-0001", "offline-0002", "offline-0003", "offline-0004"]
    assert [r["outcome"] for r in results] == ["applied", "conflict", "applied", "rejected"]
    assert "已借出给 王村医（东村卫生室）" in results[1]["message"] and results[1]["level"] == "error"
    assert "第4条" in results[3]["message"] and "「mode」" in results[3]["message"]
    assert (response.json["applied"], response.json["conflicts"], response.json["ok"]) == (2, 1, False)
    again = client.post("/api/v1/scans/batch", json=journal[:3], headers={"X-CSRFToken": token})
    assert [r["replayed"] for r in again.json["results"]] == [True, True, True]
    with committed_db.reader() as session:
        loans = list(session.scalars(select(Loan).order_by(Loan.id)))
        assert len(loans) == 2 and loans[1].returned_at is not None
        assert loans[1].out_at == (start + timedelta(minutes=1)).replace(microsecond=loans[1].out_at.microsecond)
        assert session.scalar(select(LoanScan.station).where(LoanScan.client_id == "offline-0001")) == "desk-2"


def test_locate_borrowers_loans_queue_and_dashboard(client, archive, committed_db):
    token = sign_in(client)
    scan(client, token, "station-0020", "out", archive["home0"], borrower="doctor1", purpose="随访")
    found = client.get(f"/api/v1/locate?q={archive['home0']}")
    assert found.status_code == 200 and found.json["count"] == 1
    assert found.json["results"][0]["status"] == "lent" and found.json["level"] == "warn"
    assert "借出给 钱医生（全科）" in found.json["results"][0]["status_text"]
    shelf = client.get(f"/api/v1/locate?q={archive['home1']}")
    assert shelf.json["level"] == "ok" and shelf.json["results"][0]["location"] == "一号库房 1列 A面 2层 第2位"
    assert client.get("/api/v1/locate?q=").json["field"] == "q"
    assert audits(committed_db, "api locate") == 2
    names = client.get("/api/v1/borrowers?q=王").json["borrowers"]
    assert [b["key"] for b in names] == ["wang"] and names[0]["kind_text"] == "村医"
    open_loans = client.get("/api/v1/loans?open=1").json
    assert open_loans["count"] == 1 and open_loans["loans"][0]["loan_code"] == loan_code(1)
    assert audits(committed_db, "api loans") == 1
    assert client.get("/api/v1/loans?month=2026-13").status_code == 400
    assert client.get("/api/v1/queue").json["count"] == 0
    board = client.get("/api/v1/dashboard").json
    assert (board["lent"], board["overdue"], board["waiting"]) == (1, 0, 0)
    assert board["villages"] == [{"village": "201", "village_name": "东村", "lent": 1, "overdue": 0,
                                  "due_this_week": 0, "waiting": 0}]


def test_the_queue_closes_requests_that_waited_too_long_and_lists_them(client, archive, committed_db):
    from archiveprint.lending.requests import request_folders

    rules = load_rules([shipped_rules_file()])
    with committed_db.transaction() as session:  # the pinned day is 2026-11-25; the shipped expiry is 7 days
        made = {when: request_folders(session, [code], borrower=find_borrower(session, "doctor1"), purpose="复诊",
                                      rules=rules, actor=ACTOR, now=datetime(2026, 11, day, 2, 0)).requests[0].id
                for when, code, day in (("fresh", archive["home3"], 24), ("stale", archive["home4"], 10))}
    sign_in(client)
    first = client.get("/api/v1/queue").json
    assert [item["request"] for item in first["expired"]] == [made["stale"]] and first["count"] == 1
    again = client.get("/api/v1/queue").json
    assert again["expired"] == [] and again["count"] == 1
    with committed_db.reader() as session:
        assert session.get(LoanRequest, made["stale"]).status == "expired"
        assert session.get(LoanRequest, made["fresh"]).status == "open"


def test_openapi_file_parses_and_documents_every_route(app):
    spec = yaml.safe_load((ROOT / "docs/openapi.yaml").read_text(encoding="utf-8"))
    assert spec["openapi"].startswith("3.1")
    documented = {(path, method) for path, item in spec["paths"].items() for method in item if method != "parameters"}
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(f"{api.bp.name}.") and rule.endpoint != "api.not_found":
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))  # OpenAPI templating
            routes |= {(path, method.lower()) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes and routes == documented
    refs = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                refs.add(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    for ref in refs:  # every reference points at a component that exists
        _hash, _components, section, name = ref.split("/")
        assert name in spec["components"][section], ref
    for path, method in documented:
        operation = spec["paths"][path][method]
        assert operation["summary"] and operation["operationId"] and "200" in operation["responses"]
        assert "401" in operation["responses"], (path, method)


def test_inventory_mode_lists_open_counts_and_records_each_scan_once(app, client, archive, committed_db):
    from archiveprint.locations import inventory as inv
    from archiveprint.locations.models import InventoryScan

    with committed_db.transaction() as session:
        count = inv.start_inventory(session, counters=["孙管理员"], first="K1-M-1-A-2", last="K1-M-1-A-3",
                                    actor=ACTOR, now=utcnow())
        count_id, number = count.id, count.number
    assert client.get("/api/v1/inventories?open=1").status_code == 401
    token = sign_in(client)
    listed = client.get("/api/v1/inventories?open=1").json
    assert listed["count"] == 1 and listed["inventories"][0]["number"] == number
    assert [s["code"] for s in listed["inventories"][0]["shelves"]] == ["K1-M-1-A-2", "K1-M-1-A-3"]
    url = f"/api/v1/inventories/{count_id}/scans"

    def send(code: str, shelf: str = "", client_id: str = ""):  # type: ignore[no-untyped-def]
        return client.post(url, json={"client_id": client_id, "code": code, "shelf": shelf,
                                      "scanned_at": utcnow().isoformat() + "Z"}, headers={"X-CSRFToken": token})

    label = send("k1-m-1-a-3").json
    assert (label["kind"], label["shelf"], label["level"]) == ("shelf", "K1-M-1-A-3", "ok")
    assert label["message"] == "当前架位：一号库房 1列 A面 3层"
    misplaced = send(archive["home0"], "K1-M-1-A-3", "inv-tab-0001")
    assert (misplaced.json["category"], misplaced.json["level"], misplaced.json["replayed"]) == ("misplaced", "warn",
                                                                                                False)
    assert misplaced.json["home"] == "一号库房 1列 A面 2层 第1位" and misplaced.json["head_name"] == "张1号"
    again = send(archive["home0"], "K1-M-1-A-3", "inv-tab-0001")
    assert again.json["replayed"] and again.json["scan_id"] == misplaced.json["scan_id"]
    unknown = send("F999", "K1-M-1-A-3", "inv-tab-0002").json
    assert (unknown["kind"], unknown["level"]) == ("unknown", "error") and "无法识别" in unknown["message"]
    with committed_db.reader() as session:
        assert session.scalar(select(func.count(InventoryScan.id))) == 2
    assert audits(committed_db, f"盘点 {number} 扫码台") == 2
    bad = send(archive["home1"], "", "short")
    assert bad.status_code == 400 and bad.json["field"] == "client_id"
    wrong_shelf = send(archive["home1"], "K9-X-9", "inv-tab-0003")
    assert wrong_shelf.status_code == 404 and wrong_shelf.is_json
    assert client.post("/api/v1/inventories/999/scans", json={"code": "X"},
                       headers={"X-CSRFToken": token}).status_code == 404
    assert client.post(url, json={"code": archive["home1"]}).json["field"] == "X-CSRFToken"
    with committed_db.transaction() as session:
        inv.close_inventory(session, inv.find_inventory(session, count_id), actor=ACTOR, now=utcnow())
    closed = send(archive["home1"], "K1-M-1-A-2", "inv-tab-0004")
    assert closed.status_code == 409 and "这次盘点已结束" in closed.json["error"]
    assert client.get("/api/v1/inventories?open=1").json["count"] == 0
    assert client.get("/api/v1/inventories").json["inventories"][0]["state"] == "closed"
    doctor = app.test_client()
    sign_in(doctor, "doctor1")
    assert doctor.get("/api/v1/inventories?open=1").status_code == 403
