"""The scan station in headless Chromium, typed into as a keyboard-wedge scanner does (code + Enter): check-out and
return with colour feedback, and the offline journal surviving a reload and flushed in order (issue #6)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from archiveprint.db import Database, utcnow
from archiveprint.lending.models import Loan, LoanScan
from archiveprint.lending.queries import find_borrower
from archiveprint.lending.rules import load_rules, shipped_rules_file
from archiveprint.lending.services import check_out
from archiveprint.register.codes import folder_code
from tests.conftest import ACTOR
from tests.lending.conftest import PASSWORD, build_archive

pytestmark = pytest.mark.browser


@pytest.fixture
def codes(committed_db: Database) -> list[str]:
    with committed_db.transaction() as session:
        made = build_archive(session, now=utcnow() - timedelta(days=1))
        return [folder_code(h.village.full_code, h.number).value for h in made["homes"]]


def open_station(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/login")
    page.get_by_label("用户名").fill("clerk1")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.goto(f"{live_server}/lending/scan")
    expect(page.locator("#scan-code")).to_be_focused()


def scanner(page: Page, code: str) -> None:
    """What a USB scanner does: types the code into the focused input, then Enter."""
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def test_check_out_then_return_by_scan_with_colour_feedback(page: Page, live_server, committed_db, codes):
    # The page's clock is Playwright's and stands still (no page timer is needed here): a repeated scan is
    # "the same scan sent twice" within scan.js's SAME_SCAN_MS (1,500 ms) and a new scan after it, by the
    # clock moved on purpose, however slow the machine.
    page.clock.install()
    open_station(page, live_server)
    page.clock.pause_at(datetime.now() + timedelta(seconds=30))  # ahead of the server, within its 5-min skew
    feedback = page.locator("#scan-feedback")
    page.keyboard.press("F3")  # 借出
    expect(page.locator("#fields-out")).to_be_visible()
    page.locator("#scan-borrower").fill("doctor1")
    page.locator("#scan-purpose").select_option(label="随访")
    page.locator("#scan-code").focus()
    scanner(page, codes[0])
    expect(feedback).to_have_attribute("data-level", "ok")
    expect(page.locator("#scan-message")).to_contain_text("已借出给 钱医生（全科）")
    expect(page.locator("#scan-code")).to_have_value("")
    expect(page.locator("#scan-code")).to_be_focused()

    scanner(page, codes[0])  # the same folder again, a moment later: already lent, refused in red
    page.clock.fast_forward(1600)
    scanner(page, codes[0])
    expect(feedback).to_have_attribute("data-level", "error")
    expect(page.locator("#scan-message")).to_contain_text("该档案袋已借出给 钱医生（全科）")

    page.keyboard.press("F4")  # 归还; the borrower stays set for the next check-out
    expect(page.locator("#scan-condition")).to_have_value("intact")
    scanner(page, codes[0])
    expect(feedback).to_have_attribute("data-level", "ok")
    expect(page.locator("#scan-message")).to_contain_text("请放回 一号库房")
    scanner(page, codes[0])  # a double Enter: the same client id again, so the server answers the first scan
    expect(page.locator("#scan-message")).to_contain_text("重复扫描，按一次处理")
    expect(feedback).to_have_attribute("data-level", "ok")
    page.clock.fast_forward(1600)
    scanner(page, codes[0])  # scanned again later: a second return is a success, in amber
    expect(feedback).to_have_attribute("data-level", "warn")
    expect(page.locator("#scan-message")).to_contain_text("已归还过")
    rows = page.locator("#scan-log li")
    expect(rows.first).to_have_attribute("data-level", "warn")
    expect(rows.first).to_contain_text("归还 " + codes[0])

    page.keyboard.press("F2")  # 查找
    scanner(page, codes[1])
    expect(feedback).to_have_attribute("data-level", "ok")
    expect(page.locator("#scan-detail")).to_contain_text("在架")
    page.keyboard.press("F3")
    expect(page.locator("#scan-borrower")).to_have_value("doctor1")
    with committed_db.reader() as session:
        loans = list(session.scalars(select(Loan)))
        assert len(loans) == 1 and loans[0].returned_at is not None


def test_offline_scans_survive_a_reload_and_are_submitted_in_order(page: Page, live_server, committed_db, codes):
    open_station(page, live_server)
    page.keyboard.press("F3")
    page.locator("#scan-borrower").fill("doctor1")
    page.locator("#scan-code").focus()
    page.route("**/api/v1/**", lambda route: route.abort())  # the township network drops out
    for code in codes[2:5]:
        scanner(page, code)
    expect(page.locator("#scan-offline")).to_contain_text("离线：3 条待提交")
    expect(page.locator("#scan-feedback")).to_have_attribute("data-level", "error")
    expect(page.locator("#scan-log li[data-level=pending]")).to_have_count(3)

    with committed_db.transaction() as session:  # meanwhile another desk lends the second folder
        check_out(session, codes[3], borrower=find_borrower(session, "wang"), purpose="随访",
                  rules=load_rules([shipped_rules_file()]), actor=ACTOR, now=utcnow() - timedelta(minutes=1))

    page.reload()
    expect(page.locator("#scan-offline")).to_contain_text("离线：3 条待提交")  # kept in localStorage
    page.unroute("**/api/v1/**")
    page.get_by_role("button", name="提交").click()
    expect(page.locator("#scan-journal")).to_be_hidden()
    rows = page.locator("#scan-log li")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_have_attribute("data-level", "ok")  # newest first
    expect(rows.nth(1)).to_have_attribute("data-level", "error")
    expect(rows.nth(1)).to_contain_text("已借出给 王村医（东村卫生室）")
    expect(rows.nth(2)).to_have_attribute("data-level", "ok")
    assert page.evaluate("JSON.parse(localStorage.getItem('archiveprint.scan.journal.v1'))") == []
    with committed_db.reader() as session:
        scans = list(session.scalars(select(LoanScan).order_by(LoanScan.id)))
        assert [s.code for s in scans] == codes[2:5]
        assert [s.outcome for s in scans] == ["applied", "conflict", "applied"]
        lent = {loan.household.number: loan.borrower.key for loan in session.scalars(select(Loan))}
        assert lent == {3: "doctor1", 4: "wang", 5: "doctor1"}
