"""确认遗失/注销 in headless Chromium: a clerk registers a folder missing on the locate page, is refused a write-off
without an approver, then confirms it lost with a double click — one write-off, the folder out of the room, its
history saying why and who approved it; and a folder lost while lent, whose loan is then 遗失注销, not returned."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from archiveprint.clock import local_time
from archiveprint.db import Database, utcnow
from archiveprint.eventlog import Event
from archiveprint.lending.models import Loan
from archiveprint.lending.rules import load_rules, shipped_rules_file
from archiveprint.register.codes import folder_code
from tests.browser.conftest import sign_in as browser_sign_in
from tests.browser.test_locations_browser import shelved
from tests.browser.test_register_browser import sign_in
from tests.lending.conftest import PASSWORD, build_archive

pytestmark = pytest.mark.browser


def test_a_missing_folder_is_confirmed_lost_once_with_its_approver(page: Page, live_server: str,
                                                                   committed_db: Database) -> None:
    shelved(committed_db)
    sign_in(page, live_server, committed_db)
    page.goto(f"{live_server}/locations/locate?q=zsf")
    missing = page.locator("#missing-form")
    missing.get_by_label("原因").fill("调档时架上没有")
    missing.get_by_role("button", name="登记下落不明").click()
    expect(page.locator(".flash-success")).to_have_text("已登记为下落不明")

    form = page.locator("#write-off-form")
    form.get_by_label("原因（查找经过）").fill("两次全库查找无果")
    form.get_by_role("button", name="确认遗失并注销").click()  # the approver left blank
    expect(page.locator(".flash-error")).to_contain_text("请写明批准人")
    expect(page.locator("#write-off-form")).to_be_visible()

    form = page.locator("#write-off-form")
    form.get_by_label("原因（查找经过）").fill("两次全库查找无果")
    form.get_by_label("批准人").fill("王院长")
    form.get_by_role("button", name="确认遗失并注销").dblclick()
    expect(page.locator(".flash-success")).to_have_text("已确认遗失并注销，移出档案室")
    expect(page.locator("#status")).to_contain_text("已移出档案室")
    latest = page.locator("table.history tbody tr").first
    expect(latest).to_contain_text("确认遗失注销：两次全库查找无果（批准人：王院长）")
    expect(page.locator("#write-off-form")).to_have_count(0)
    with committed_db.reader() as session:
        assert session.scalar(select(func.count()).select_from(Event)
                              .where(Event.kind == "folder.written_off")) == 1


def test_a_folder_lost_while_lent_is_written_off_and_its_loan_shows_as_written_off(page: Page, live_server: str,
                                                                                    committed_db: Database) -> None:
    """遗失注销 walked as a clerk: lend a folder at the desk (事由说明 left blank), register it lost on its loan page,
    confirm it lost on the locate page with a double click — one write-off — then the folder's loan history and the
    register (filtered to 遗失注销) show the loan written off with its date, reason and approver, never returned."""
    with committed_db.transaction() as session:
        made = build_archive(session, now=utcnow() - timedelta(days=1))
        home = made["homes"][0]
        folder = folder_code(home.village.full_code, home.number).value
    browser_sign_in(page, live_server, "clerk1", PASSWORD)
    page.goto(f"{live_server}/lending/checkout")
    page.locator("#code").fill(folder)
    page.locator("#borrower").select_option("wang")
    page.locator("#purpose").select_option(label="随访")
    page.get_by_role("button", name="借出", exact=True).dblclick()  # data-once: one loan, its success shown
    expect(page.locator(".flash-success")).to_contain_text("已借出给 王村医")
    loan_url = page.url

    page.locator("#lost-note").fill("村医搬家时遗失")
    page.get_by_role("button", name="登记丢失").dblclick()
    expect(page.locator("#loan-state")).to_have_text("已登记丢失")

    page.goto(f"{live_server}/locations/locate?q={folder}")
    form = page.locator("#write-off-form")
    form.get_by_label("原因（查找经过）").fill("村医处两次查找无果")
    form.get_by_label("批准人").fill("周院长")
    form.get_by_role("button", name="确认遗失并注销").dblclick()
    expect(page.locator(".flash-success")).to_have_text("已确认遗失并注销，移出档案室")
    latest = page.locator("table.history tbody tr").first
    expect(latest).to_contain_text("确认遗失注销：村医处两次查找无果（批准人：周院长）")
    loan_row = page.locator("#folder-loans tbody tr")
    expect(loan_row).to_have_count(1)
    expect(loan_row.locator("td.loan-state")).to_have_text("遗失注销")
    expect(loan_row).to_contain_text("周院长")
    expect(loan_row).to_contain_text("村医处两次查找无果")

    page.goto(loan_url)
    expect(page.locator("#loan-state")).to_have_text("遗失注销")
    expect(page.locator("#write-off-approver")).to_have_text("周院长")
    expect(page.locator("#lost-note")).to_have_count(0)
    with committed_db.reader() as session:
        loan = session.scalars(select(Loan)).one()
        assert (loan.state, loan.returned_at, loan.write_off_approver) == ("written_off", None, "周院长")
        assert session.scalar(select(func.count()).select_from(Event)
                              .where(Event.kind == "loan.written_off")) == 1
        month = rules_month(loan.out_at)

    page.goto(f"{live_server}/lending/?month={month}")
    page.locator("#state-filter").select_option("written_off")
    page.get_by_role("button", name="筛选").click()
    rows = page.locator("table.loans tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.locator("td.loan-state")).to_contain_text("遗失注销")
    expect(rows.locator("td.loan-state")).to_contain_text("周院长")


def rules_month(out_at: datetime) -> str:
    """The register month (YYYY-MM, the site's time zone) a loan made at `out_at` (UTC) is listed under."""
    return f"{local_time(out_at, load_rules([shipped_rules_file()]).timezone):%Y-%m}"
