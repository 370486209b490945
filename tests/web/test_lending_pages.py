"""Lending pages: register with its monthly PDF, overdue with per-village slips, a loan's receipt and actions, desk
check-out, requests that never duplicate, the queue with approval, borrowers and the dashboard (issue #6)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from archiveprint.accounts.models import AuditEntry
from archiveprint.db import Database, utcnow
from archiveprint.lending.models import Borrower, Loan, LoanRequest
from archiveprint.lending.queries import find_borrower, loan_code
from archiveprint.lending.rules import load_rules, shipped_rules_file
from archiveprint.lending.services import check_out
from archiveprint.register.codes import folder_code
from tests.conftest import ACTOR
from tests.lending.conftest import PASSWORD, build_archive
from tests.pdfcheck import compact, decode_barcodes, page_texts, rasterize
from tests.web.conftest import csrf_token

OCTOBER = datetime(2026, 10, 20, 2, 0)  # lent a month before the pinned day (2026-11-25): due 11-03, overdue


@pytest.fixture
def archive(committed_db: Database) -> dict[str, object]:
    """The lending archive with one overdue loan (张1号 to 王村医, October) and one current loan (this month)."""
    rules = load_rules([shipped_rules_file()])
    with committed_db.transaction() as session:
        made = build_archive(session, now=OCTOBER - timedelta(days=1))
        codes = [folder_code(h.village.full_code, h.number).value for h in made["homes"]]
        late = check_out(session, codes[0], borrower=find_borrower(session, "wang"), purpose="随访", rules=rules,
                         actor=ACTOR, now=OCTOBER)
        current = check_out(session, codes[1], borrower=find_borrower(session, "doctor1"), purpose="复诊",
                            rules=rules, actor=ACTOR, now=datetime(2026, 11, 24, 2, 0))
        return {"codes": codes, "late": late.id, "current": current.id}


def sign_in(client, username: str = "clerk1") -> None:
    page = client.get("/login")
    client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf_token(page)})


def audits(database: Database, action: str, detail: str) -> int:
    with database.reader() as session:
        return session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == action,
                                                                      AuditEntry.detail.like(f"{detail}%"))) or 0


def flashes(client, path: str) -> str:
    return client.get(path).get_data(as_text=True)


def test_lending_pages_need_sign_in_and_the_lend_permission(client, archive):
    assert client.get("/lending/").status_code == 302
    assert "/login" in client.get("/lending/scan").headers["Location"]
    sign_in(client, "doctor1")
    for path in ("/lending/", "/lending/scan", "/lending/queue", "/lending/overdue", "/lending/borrowers",
                 "/lending/checkout", f"/lending/loans/{archive['late']}", "/lending/register.pdf"):
        assert client.get(path).status_code == 403, path
    assert client.get("/lending/request").status_code == 200
    assert client.get("/lending/dashboard").status_code == 200
    nav = client.get("/").get_data(as_text=True)
    assert 'href="/lending/request"' in nav and 'href="/lending/scan"' not in nav


def test_the_scan_station_page_carries_its_token_modes_and_purposes(client, archive):
    sign_in(client)
    page = client.get("/lending/scan").get_data(as_text=True)
    assert '<meta name="csrf-token" content="' in page and 'src="/static/scan.js"' in page
    assert 'data-mode="out"' in page and 'data-mode="return"' in page and 'data-mode="locate"' in page
    assert ">随访</option>" in page and ">完好</option>" in page
    assert 'href="/lending/scan"' in page  # the header's 扫码台 link


def test_register_lists_the_month_filters_and_prints_an_audited_pdf(client, archive, committed_db):
    sign_in(client)
    page = client.get("/lending/?month=2026-10").get_data(as_text=True)
    assert loan_code(archive["late"]) in page and "王村医（东村卫生室）" in page and "张1号" in page
    assert loan_code(archive["current"]) not in page
    november = client.get("/lending/?month=2026-11&borrower=wang").get_data(as_text=True)
    assert "这个月没有符合条件的借阅" in november
    assert "「月份」" in client.get("/lending/?month=2026-13", follow_redirects=True).get_data(as_text=True)
    assert audits(committed_db, "view", "lending register 2026-10") == 1
    pdf = client.get("/lending/register.pdf?month=2026-10")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    page_one, = page_texts(pdf.data)
    assert "档案借阅登记表" in compact(page_one) and "王村医" in compact(page_one)
    assert audits(committed_db, "print", "借阅登记表 2026-10") == 1


def test_overdue_by_village_and_printable_slips(client, archive, committed_db):
    sign_in(client)
    page = client.get("/lending/overdue").get_data(as_text=True)
    assert "东村" in page and "张1号" in page and ">22<" in page  # due 11-03, 22 days late on 11-25
    assert loan_code(archive["current"]) not in page
    slips = client.get("/lending/overdue.pdf?village=201")
    assert slips.mimetype == "application/pdf"
    slip, = page_texts(slips.data)
    assert "逾期未还档案通知单" in compact(slip) and "张1号" in compact(slip)
    assert audits(committed_db, "print", "逾期通知单 2026-11-25") == 1


def test_a_loan_page_with_its_receipt_renewal_return_and_lost_found(client, archive, committed_db):
    sign_in(client)
    path = f"/lending/loans/{archive['current']}"
    page = client.get(path)
    assert "钱医生（全科）" in page.get_data(as_text=True) and "一号库房" in page.get_data(as_text=True)
    receipt = client.get(f"{path}/receipt.pdf")
    assert receipt.mimetype == "application/pdf"
    assert loan_code(archive["current"]) in decode_barcodes(rasterize(receipt.data, 0, 300))
    assert audits(committed_db, "print", f"借阅凭条 {loan_code(archive['current'])}") == 1
    token = csrf_token(page)
    assert client.post(f"{path}/renew").status_code == 400  # no CSRF token: refused
    renewed = client.post(f"{path}/renew", data={"csrf_token": token})
    assert renewed.status_code == 303 and renewed.headers["Location"].endswith(path)
    assert "已续借，应还 2026-12-22" in flashes(client, path)
    client.post(f"{path}/renew", data={"csrf_token": token})
    assert "最多续借 1 次" in flashes(client, path)
    client.post(f"{path}/return", data={"csrf_token": token, "condition": "missing_pages"})
    assert "「归还备注」，值“缺页”" in flashes(client, path)
    client.post(f"{path}/lost", data={"csrf_token": token, "note": "村医说落在卫生室"})
    assert "已登记丢失" in flashes(client, path)
    client.post(f"{path}/found", data={"csrf_token": token, "condition": "intact"})
    assert "已找回" in flashes(client, path)
    with committed_db.reader() as session:
        loan = session.get(Loan, archive["current"])
        assert loan.returned_at is not None and loan.renewals == 1 and loan.lost_at is not None


def test_desk_check_out_without_a_scanner(client, archive, committed_db):
    sign_in(client)
    token = csrf_token(client.get("/lending/checkout"))
    codes = archive["codes"]
    refused = client.post("/lending/checkout", data={"csrf_token": token, "code": codes[2], "borrower": "nobody",
                                                     "purpose": "follow_up"})
    assert refused.status_code == 303
    assert "「借阅人」，值“nobody”" in flashes(client, refused.headers["Location"])
    done = client.post("/lending/checkout", data={"csrf_token": token, "code": codes[2], "borrower": "doctor1",
                                                  "purpose": "follow_up"})
    assert "/lending/loans/" in done.headers["Location"]
    assert "已借出给 钱医生（全科）" in flashes(client, done.headers["Location"])
    again = client.post("/lending/checkout", data={"csrf_token": token, "code": codes[2], "borrower": "wang",
                                                   "purpose": "follow_up"})
    assert "该档案袋已借出给 钱医生（全科）" in flashes(client, again.headers["Location"])
    with committed_db.reader() as session:
        assert session.scalar(select(func.count(Loan.id)).where(Loan.returned_at.is_(None))) == 3


def test_a_request_submitted_twice_is_recorded_once_and_the_queue_approves_it(client, archive, committed_db):
    sign_in(client, "doctor1")
    token = csrf_token(client.get("/lending/request"))
    form = {"csrf_token": token, "codes": f"{archive['codes'][3]}\n{archive['codes'][4]}\nX123",
            "needed_on": "2026-11-26", "purpose": "revisit"}
    first = client.post("/lending/request", data=form)
    assert first.status_code == 303
    page = flashes(client, "/lending/request")
    assert "新登记 2 份；已有申请 0 份" in page and "未登记 X123" in page
    client.post("/lending/request", data=form)
    assert "新登记 0 份；已有申请 2 份（未重复登记）" in flashes(client, "/lending/request")
    client.post("/lending/request", data={**form, "needed_on": "26/11"})
    assert "「用档日期」，值“26/11”" in flashes(client, "/lending/request")
    with committed_db.reader() as session:
        assert session.scalar(select(func.count(LoanRequest.id))) == 2
    client.post("/logout", data={"csrf_token": token})

    with committed_db.transaction() as session:  # an outside unit's request needs evidence and approval
        cdc = session.scalar(select(Borrower).where(Borrower.key == "cdc"))
        session.add(LoanRequest(household_id=session.scalar(select(Loan.household_id).where(
            Loan.id == archive["late"])) + 5, borrower_id=cdc.id, purpose="referral", status="open",
            created_at=utcnow(), created_by=ACTOR))
    sign_in(client, "director")
    queue = client.get("/lending/queue")
    text = queue.get_data(as_text=True)
    assert text.count('class="ready"') == 2 and "书面申请（申请编号）" in text and "审批" in text
    request_id = int(text.split('class="waiting"')[0].rsplit('id="request-', 1)[1].split('"')[0])
    token = csrf_token(queue)
    client.post(f"/lending/requests/{request_id}/approve", data={"csrf_token": token})
    assert "审批前请先登记" in flashes(client, "/lending/queue")
    client.post(f"/lending/requests/{request_id}/evidence", data={
        "csrf_token": token, "application_ref": "疾控申3号", "consent_by": "guardian", "consent_ref": "同意书7号",
        "consent_signer": "监护人甲",
        "application_scan": (__import__("io").BytesIO(b"%PDF-1.4 scan"), "申请.pdf")},
        content_type="multipart/form-data")
    assert "材料已登记" in flashes(client, "/lending/queue")
    client.post(f"/lending/requests/{request_id}/approve", data={"csrf_token": token, "opinion": "同意"})
    assert "已批准" in flashes(client, "/lending/queue")
    with committed_db.reader() as session:
        approved = session.get(LoanRequest, request_id)
        assert approved.approved_at is not None and approved.approval_opinion == "同意"
    client.post("/logout", data={"csrf_token": token})
    sign_in(client)  # a clerk may not approve
    assert client.post(f"/lending/requests/{request_id}/refuse",
                       data={"csrf_token": csrf_token(client.get("/lending/queue")), "reason": "x"}).status_code == 403


def test_borrowers_are_listed_and_added_with_chinese_errors(client, archive, committed_db):
    sign_in(client)
    page = client.get("/lending/borrowers")
    assert "王村医（东村卫生室）" in page.get_data(as_text=True)
    token = csrf_token(page)
    client.post("/lending/borrowers", data={"csrf_token": token, "key": "li", "kind": "village_doctor",
                                            "name": "李村医"})
    assert "「村(居)委会」，值“li”" in flashes(client, "/lending/borrowers")
    client.post("/lending/borrowers", data={"csrf_token": token, "key": "li", "kind": "village_doctor",
                                            "name": "李村医", "unit": "西村卫生室", "villages": "202"})
    assert "已登记借阅人 li 李村医（西村卫生室）" in flashes(client, "/lending/borrowers")
    with committed_db.reader() as session:
        assert [v.code for v in find_borrower(session, "li").villages] == ["202"]


def test_dashboard_counts_by_village(client, archive):
    sign_in(client)
    page = client.get("/lending/dashboard").get_data(as_text=True)
    assert 'id="count-lent">2<' in page and 'id="count-overdue">1<' in page and 'id="count-waiting">0<' in page
    assert "东村" in page


def test_stale_requests_close_when_read_and_the_requester_sees_them_expired(client, archive, committed_db):
    from archiveprint.eventlog import Event
    from archiveprint.lending.requests import request_folders

    rules = load_rules([shipped_rules_file()])

    def ask(code: str, borrower: str, at: datetime) -> int:
        with committed_db.transaction() as session:
            return request_folders(session, [code], borrower=find_borrower(session, borrower), purpose="复诊",
                                   rules=rules, actor=ACTOR, now=at).requests[0].id

    codes = archive["codes"]
    waiting = ask(codes[3], "doctor1", datetime(2026, 11, 24, 2, 0))  # the pinned day is 2026-11-25
    stale = ask(codes[4], "doctor1", datetime(2026, 11, 10, 2, 0))
    sign_in(client, "doctor1")
    page = client.get("/lending/request").get_data(as_text=True)
    mine = page.split('id="my-requests"')[1]
    assert f'id="my-request-{stale}" class="state-expired"' in mine and "已过期" in mine
    assert "超过 7 天未放行，已自动关闭" in mine and "张5号" in mine
    assert f'id="my-request-{waiting}" class="state-open"' in mine and "待放行" in mine
    assert audits(committed_db, "view", "my loan requests") == 2
    client.post("/logout", data={"csrf_token": csrf_token(page)})

    other = ask(codes[5], "wang", datetime(2026, 11, 10, 2, 0))  # nobody looked: still open
    sign_in(client)
    queue = client.get("/lending/queue").get_data(as_text=True)
    note = queue.split('id="expired-note"')[1].split("</p>")[0]
    assert "已关闭 1 份超过 7 天未放行的申请（已过期）" in note and f"#{other}" in note
    assert f'id="request-{waiting}"' in queue and f'id="request-{other}"' not in queue
    assert 'id="expired-note"' not in client.get("/lending/queue").get_data(as_text=True)  # nothing left to close
    with committed_db.reader() as session:
        assert session.get(LoanRequest, other).status == "expired"
        actors = session.scalars(select(Event.actor).where(Event.kind == "loan_request.expired").order_by(Event.id))
        assert list(actors) == ["doctor1", "clerk1"]
