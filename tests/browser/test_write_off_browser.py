"""确认遗失/注销 in headless Chromium: a clerk registers a folder missing on the locate page, is refused a write-off
without an approver, then confirms it lost with a double click — one write-off, the folder out of the room, its
history saying why and who approved it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from archiveprint.db import Database
from archiveprint.eventlog import Event
from tests.browser.test_locations_browser import shelved
from tests.browser.test_register_browser import sign_in

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
