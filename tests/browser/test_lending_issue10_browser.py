"""Issue #10 at the lending desk, walked in Chromium: releasing a requested folder at the scan station with the
borrower box left blank (#10.1), and an approval that shows on the queue and follows the folder to its loan (#10.4)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from archiveprint.db import Database, utcnow
from archiveprint.lending.models import Loan
from archiveprint.lending.queries import find_borrower
from archiveprint.lending.requests import request_folders
from archiveprint.lending.rules import load_rules, shipped_rules_file
from archiveprint.register.codes import folder_code
from tests.browser.conftest import sign_in as browser_sign_in
from tests.conftest import ACTOR
from tests.lending.conftest import PASSWORD, build_archive

pytestmark = pytest.mark.browser


@pytest.fixture
def codes(committed_db: Database) -> list[str]:
    """Folders of village 201; the first one is requested by 钱医生 (doctor1)."""
    with committed_db.transaction() as session:
        made = build_archive(session, now=utcnow() - timedelta(days=1))
        codes = [folder_code(h.village.full_code, h.number).value for h in made["homes"]]
        request_folders(session, codes[:1], borrower=find_borrower(session, "doctor1"), purpose="复诊",
                        rules=load_rules([shipped_rules_file()]), actor=ACTOR, now=utcnow() - timedelta(hours=1))
        return codes


def sign_in(page: Page, live_server: str, username: str) -> None:
    browser_sign_in(page, live_server, username, PASSWORD)


def scanner(page: Page, code: str) -> None:
    """What a USB scanner does: types the code into the focused input, then Enter."""
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def test_issue_10_1_a_blank_borrower_releases_to_the_requester_and_the_cursor_stays_in_the_scan_box(
        page: Page, live_server, committed_db, codes):
    sign_in(page, live_server, "clerk1")
    page.goto(f"{live_server}/lending/scan")
    expect(page.locator("#scan-code")).to_be_focused()
    page.keyboard.press("F3")  # 借出, the borrower box left blank
    expect(page.locator("#scan-borrower")).to_have_value("")
    message, feedback = page.locator("#scan-message"), page.locator("#scan-feedback")
    code_box = page.locator("#scan-code")

    scanner(page, codes[0])  # requested by 钱医生: released to him
    expect(feedback).to_have_attribute("data-level", "ok")
    expect(message).to_contain_text("已放行给申请人 钱医生（全科）")
    expect(code_box).to_be_focused()

    scanner(page, codes[1])  # nobody asked for this one: a clear refusal, and the cursor stays put
    expect(feedback).to_have_attribute("data-level", "error")
    expect(message).to_contain_text("该档案袋没有待放行的借阅申请；直接借出请填写借阅人")
    expect(code_box).to_be_focused()
    expect(page.locator("#scan-borrower")).to_have_value("")

    scanner(page, codes[2])  # the next scan lands in the scan box, not in the borrower box
    rows = page.locator("#scan-log li")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("借出 " + codes[2])
    expect(rows.first).to_have_attribute("data-level", "error")
    expect(page.locator("#scan-borrower")).to_have_value("")
    expect(code_box).to_be_focused()
    with committed_db.reader() as session:
        loans = list(session.scalars(select(Loan)))
        assert [(loan.household.number, loan.borrower.key, loan.request_id is not None) for loan in loans] == \
            [(1, "doctor1", True)]


def test_issue_10_4_an_approval_shows_on_the_queue_and_goes_with_the_loan(page: Page, live_server, committed_db,
                                                                        codes):
    sign_in(page, live_server, "director")
    page.goto(f"{live_server}/lending/queue")
    row = page.locator("table.queue tbody tr").first
    expect(row.get_by_role("button", name="批准", exact=True)).to_be_visible()
    row.get_by_placeholder("审批意见").fill("同意复诊")
    row.get_by_role("button", name="批准", exact=True).click()
    expect(page.locator(".flash")).to_contain_text("已批准")
    row = page.locator("table.queue tbody tr").first
    expect(row.locator(".approval")).to_contain_text("已批准：周院长")
    expect(row.locator(".approval")).to_contain_text("同意复诊")
    expect(row.get_by_role("button", name="批准", exact=True)).to_have_count(0)  # approved once is enough

    page.goto(f"{live_server}/lending/scan")  # released at the scan station, borrower blank
    page.keyboard.press("F3")
    expect(page.locator("#scan-code")).to_be_focused()
    scanner(page, codes[0])
    expect(page.locator("#scan-message")).to_contain_text("已放行给申请人 钱医生（全科）")
    with committed_db.reader() as session:
        loan, = session.scalars(select(Loan))
        loan_id, month = loan.id, f"{loan.out_at + timedelta(hours=8):%Y-%m}"  # the register's month, in Beijing
    page.goto(f"{live_server}/lending/loans/{loan_id}")
    expect(page.locator("dl.facts")).to_contain_text("审批人")
    expect(page.locator("dl.facts")).to_contain_text("周院长")
    page.goto(f"{live_server}/lending/?month={month}")
    expect(page.locator("td.approver").first).to_have_text("周院长")
