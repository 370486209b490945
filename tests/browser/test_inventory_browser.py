"""Inventory and handover in headless Chromium: start a count for a range, scan a shelf label and folders at the
scan station in inventory mode, read the categories, close with mark-missing and fetch the signed record; the count's
page following scans without a reload; preview and confirm a handover (issue #5)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from archiveprint.db import Database, utcnow
from archiveprint.lending.queries import status_provider
from archiveprint.lending.rules import load_rules, shipped_rules_file
from archiveprint.locations import inventory as inv
from archiveprint.register.codes import folder_code
from tests.lending.conftest import PASSWORD, build_archive
from tests.pdfcheck import compact, page_texts

pytestmark = pytest.mark.browser


@pytest.fixture
def codes(committed_db: Database) -> dict[str, list[str]]:
    with committed_db.transaction() as session:
        made = build_archive(session, now=utcnow() - timedelta(days=1))
        return {key: [folder_code(h.village.full_code, h.number).value for h in made[key]] for key in ("homes", "west")}


def sign_in(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/login")
    page.get_by_label("用户名").fill("clerk1")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()


def scanner(page: Page, code: str) -> None:
    """What a USB scanner does: types the code into the focused input, then Enter."""
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def test_count_a_range_at_the_scan_station_then_close_with_mark_missing(page: Page, live_server, codes):
    sign_in(page, live_server)
    page.goto(f"{live_server}/inventory/new")
    page.locator("#first").fill("K1-M-1-A-2")
    page.locator("#last").fill("K1-M-1-A-3")
    page.get_by_role("button", name="开始盘点").click()
    expect(page.locator(".flash-success")).to_contain_text("已开始盘点 PD-2026-0001")

    page.locator("#continue-scanning").click()
    expect(page.locator("#fields-inventory")).to_be_visible()
    expect(page.locator("#scan-inventory")).to_have_value("1")
    expect(page.locator("#scan-code")).to_be_focused()
    shelf, feedback = page.locator("#scan-shelf"), page.locator("#scan-feedback")
    message = page.locator("#scan-message")
    scanner(page, "K1-M-1-A-3")
    expect(shelf).to_have_text("当前架位：一号库房 1列 A面 3层（K1-M-1-A-3）")
    scanner(page, codes["homes"][4])
    expect(feedback).to_have_attribute("data-level", "ok")
    expect(message).to_contain_text("在架（位置正确）")
    scanner(page, codes["homes"][0])  # 201-1 belongs on A-2
    expect(feedback).to_have_attribute("data-level", "warn")
    expect(message).to_contain_text("错架（放错位置）：在 K1-M-1-A-3 扫到，应在 一号库房 1列 A面 2层 第1位")
    scanner(page, "F130123100201999")
    expect(feedback).to_have_attribute("data-level", "error")
    expect(message).to_contain_text("无法识别")
    scanner(page, "K1-M-1-A-2")
    expect(shelf).to_contain_text("K1-M-1-A-2")
    page.context.set_offline(True)  # the network drops: the scan waits in the journal with its shelf
    scanner(page, codes["homes"][1])
    expect(page.locator("#scan-offline")).to_have_text("离线：1 条待提交")
    expect(page.locator("#scan-log li").first).to_have_attribute("data-level", "pending")
    page.context.set_offline(False)  # sent on the browser's online event (or the 5 s retry)
    expect(page.locator("#scan-log li").first).to_have_attribute("data-level", "ok", timeout=12000)
    expect(page.locator("#scan-journal")).to_be_hidden()  # every scan answered

    page.goto(f"{live_server}/inventory/1")
    counts = page.locator("#inventory-counts")
    for category, number in (("found", "2"), ("misplaced", "1"), ("unknown", "1"), ("missing", "3")):
        expect(counts.locator(f'[data-category="{category}"] .n')).to_have_text(number)
    expect(page.locator("#cat-misplaced")).to_contain_text("一号库房 1列 A面 2层 第1位")
    page.get_by_label("将未扫到的 3 袋登记为下落不明").check()
    page.get_by_label("确认结束盘点").check()
    page.locator("#close-form").get_by_role("button", name="结束盘点").click()
    expect(page.locator(".flash-success")).to_contain_text("登记下落不明 3 袋")
    pdf = page.request.get(f"{live_server}{page.locator('#record-pdf').get_attribute('href')}")
    assert pdf.headers["content-type"] == "application/pdf"
    text = compact("".join(page_texts(pdf.body())))
    assert "档案盘点记录" in text and "PD-2026-0001" in text and "错架（放错位置）" in text


def test_the_count_page_follows_scans_from_the_station_without_a_reload(page: Page, live_server, committed_db, codes):
    with committed_db.transaction() as session:
        inv.start_inventory(session, counters=["孙管理员"], first="K1-M-1-A-2", last="K1-M-1-A-3", actor="clerk1",
                            now=utcnow())
    sign_in(page, live_server)
    page.goto(f"{live_server}/inventory/1")
    counts = page.locator("#inventory-counts")
    expect(counts.locator('[data-category="missing"] .n')).to_have_text("6")
    expect(page.locator("#latest-scans-empty")).to_be_visible()
    page.evaluate("window.notReloaded = true")

    def station_scan(code: str, shelf: str) -> None:
        """A clerk at the scan station, elsewhere: the scan is recorded and committed, the page is not touched."""
        with committed_db.transaction() as session:
            inv.record_scan(session, inv.find_inventory(session, 1), code, shelf=shelf,
                            providers=[status_provider(load_rules([shipped_rules_file()]))], actor="clerk1",
                            now=utcnow())

    station_scan(codes["homes"][0], "K1-M-1-A-3")  # 201-1 belongs on A-2: misplaced
    expect(counts.locator('[data-category="misplaced"] .n')).to_have_text("1", timeout=12000)
    expect(counts.locator('[data-category="missing"] .n')).to_have_text("5")
    expect(page.locator("#inventory-scanned")).to_have_text("1 次，1 袋")
    expect(page.get_by_label("将未扫到的 5 袋登记为下落不明")).to_be_visible()  # the close form's numbers follow too
    rows = page.locator("#latest-scans-rows tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(folder_code("130123100201", 1).display)
    expect(rows.first).to_contain_text("错架（放错位置）")
    expect(page.locator("#inventory-stale")).to_be_visible()  # the tables below are as loaded: 刷新 shows them
    station_scan(codes["homes"][4], "K1-M-1-A-3")
    expect(counts.locator('[data-category="found"] .n')).to_have_text("1", timeout=12000)
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("在架（位置正确）")  # the newest on top
    assert page.evaluate("window.notReloaded") is True

    with committed_db.transaction() as session:  # closed at another desk: the page reloads to the closed state
        inv.close_inventory(session, inv.find_inventory(session, 1), actor="clerk1", now=utcnow())
    expect(page.locator("h1 .badge-closed")).to_be_visible(timeout=12000)
    expect(page.locator("#close-form")).to_have_count(0)


def test_issue_10_5_the_new_scans_notice_only_when_something_changed(page: Page, live_server, committed_db, codes):
    with committed_db.transaction() as session:
        inv.start_inventory(session, counters=["孙管理员"], first="K1-M-1-A-2", last="K1-M-1-A-3", actor="clerk1",
                            now=utcnow())
        inv.record_scan(session, inv.find_inventory(session, 1), codes["homes"][0], shelf="K1-M-1-A-3",
                        providers=[status_provider(load_rules([shipped_rules_file()]))], actor="clerk1",
                        now=utcnow())
    sign_in(page, live_server)
    with page.expect_response(lambda r: "/live.json" in r.url):  # the open page asks; nothing new came in
        page.goto(f"{live_server}/inventory/1")
    expect(page.locator("#inventory-stale")).to_be_hidden()
    page.get_by_label("确认结束盘点").check()
    page.locator("#close-form").get_by_role("button", name="结束盘点").click()
    expect(page.locator(".flash-success")).to_contain_text("盘点 PD-2026-0001 已结束")
    for _visit in range(2):  # a closed count never changes: no notice, on this visit or any later one
        expect(page.locator("h1 .badge-closed")).to_be_visible()
        expect(page.get_by_text("有新的扫描")).to_have_count(0)
        page.goto(f"{live_server}/inventory/")
        page.goto(f"{live_server}/inventory/1")


def test_handover_preview_then_confirm(page: Page, live_server, codes):
    sign_in(page, live_server)
    page.goto(f"{live_server}/handover/new")
    page.locator("#village").select_option("202")
    page.locator("#to_party").fill("县档案馆")
    page.locator("#supervisor").fill("周院长")
    page.get_by_role("button", name="预览移交清单").click()
    expect(page.locator("#handover-lines tbody tr")).to_have_count(3)
    expect(page.locator(".verdict.good")).to_contain_text("全部 3 袋可以移交")
    page.get_by_role("button", name="确认移交并登记").click()
    expect(page.locator(".flash-success")).to_contain_text("已登记移交 YJ-2026-0001：3 袋交给 县档案馆")
    expect(page.locator("#handover-pdf")).to_be_visible()
