"""An inspection walked in headless Chromium at tablet width (820 × 1180, touch): the 督导 menu, the draw, the pick
list, a folder scanned at the shelves opening its checklist, every item tapped on big targets, the result and the
signed record PDF; and the scan station's inspection mode opening a checklist (issue #13)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from archiveprint.accounts.services import create_user
from archiveprint.db import Database
from archiveprint.inspections.models import InspectionFolder
from archiveprint.register.codes import folder_code
from tests.browser.conftest import sign_in
from tests.browser.test_register_browser import SHOTS
from tests.inspections.conftest import build_register
from tests.pdfcheck import compact, page_texts

pytestmark = pytest.mark.browser
TABLET = {"width": 820, "height": 1180}
PASSWORD = "tablet-inspector-1"
ITEMS = ("cover", "basic_info", "population_forms", "signatures")


@pytest.fixture
def tablet(browser: Browser) -> Page:
    context = browser.new_context(viewport=TABLET, is_mobile=True, has_touch=True, device_scale_factor=2)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def archive(committed_db: Database) -> dict[str, str]:
    with committed_db.transaction() as session:
        made = build_register(session)
        create_user(session, "dudao", PASSWORD, "viewer", display_name="县督导王")
        create_user(session, "clerk9", PASSWORD, "clerk", display_name="孙管理员")
        first = made["homes"]["001"][0]
        return {"first": folder_code(first.village.full_code, first.number).value}


def overflow(page: Page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth")


def test_an_inspection_from_draw_to_the_signed_record_on_a_tablet(tablet: Page, live_server, archive, committed_db):
    page = tablet
    sign_in(page, live_server, "dudao", PASSWORD)
    page.get_by_role("link", name="督导", exact=True).tap()  # 820 px: the menu stands in the header
    page.locator(".subnav").get_by_role("link", name="抽查", exact=True).tap()
    expect(page.get_by_role("heading", name="督导 · 抽查")).to_be_visible()
    page.locator("#new-inspection").tap()
    page.get_by_label("001 城关社区").check()
    page.locator("#size").fill("3")
    page.locator("#minimum").fill("0")
    page.locator("#seed").fill("20261125")
    expect(page.locator("#inspector")).to_have_value("县督导王")
    assert page.locator("#draw-button").bounding_box()["height"] >= 44
    page.locator("#draw-button").tap()
    expect(page.locator(".flash-success")).to_contain_text("已抽取 CC-2026-0001：3 袋")
    inspection_url = page.url
    inspection_id = int(re.search(r"/inspections/(\d+)$", inspection_url).group(1))
    expect(page.locator(".inspection-folders tbody tr")).to_have_count(3)
    expect(page.locator("dd.method")).to_contain_text("随机种子“20261125”")
    assert overflow(page) <= TABLET["width"]
    page.screenshot(path=str(SHOTS / f"tablet-inspection-{committed_db.engine.dialect.name}.png"), full_page=True)

    # the pick list prints (the existing pick list, in walking order)
    pick = page.request.get(f"{live_server}/inspections/{inspection_id}/picklist.pdf")
    assert pick.ok and "抽查CC-2026-0001" in compact("".join(page_texts(pick.body())))

    # at the shelves: scan the first folder of the pick list, read it, then the next ones by “保存，下一袋”
    first_code = page.locator(".inspection-folders tbody tr .folder-link").first.inner_text()
    with committed_db.reader() as session:
        drawn = {f.folder: f for f in session.query(InspectionFolder).filter_by(inspection_id=inspection_id)}
    scan = page.locator("#scan-code")
    expect(scan).to_be_focused()
    page.keyboard.type(drawn[first_code].folder.replace("-", ""))  # as a scanner reads the label: no dashes
    page.keyboard.press("Enter")
    expect(page.locator(".folder-code")).to_have_text(first_code)
    expect(page.locator(".folder-position")).to_have_text("第 1 / 3 袋")
    for number in range(3):
        expect(page.locator(".folder-position")).to_have_text(f"第 {number + 1} / 3 袋")
        for key in ITEMS:
            target = page.locator(f"#item-{key} .choice-pass span")
            box = target.bounding_box()
            assert box["height"] >= 56 and box["width"] >= 300, key  # a thumb's target at the shelf
            if key == "signatures" and number == 0:
                page.locator("#item-signatures .choice-fail span").tap()
                page.locator("#note-signatures").fill("缺责任医生签字")
            else:
                target.tap()
        page.locator("#seen-dynamic").fill("2026-08-01")
        page.locator("#seen-dynamic").dispatch_event("change")
        expect(page.locator("#item-dynamic input[value=pass]")).to_be_checked()  # the date decides 有/无
        assert overflow(page) <= TABLET["width"]
        if number == 0:
            page.screenshot(path=str(SHOTS / f"tablet-checklist-{committed_db.engine.dialect.name}.png"),
                            full_page=True)
        page.locator("#save-next").tap()
        expect(page.locator(".flash-success")).to_contain_text("已保存")

    # the result: rates with their intervals, the failing folder, then sign
    expect(page).to_have_url(re.compile(r"/result$"))
    overall = page.locator("#rates tr[data-village=all]")
    expect(overall.locator("td.qualified")).to_contain_text("66.7%（20.8%–93.9%）")
    expect(overall.locator("td.usage")).to_contain_text("100.0%")
    expect(page.locator("#failing")).to_contain_text("缺责任医生签字")
    page.locator("#confirm-sign").check()
    page.locator("#sign-button").tap()
    expect(page.locator(".flash-success")).to_contain_text("已签署：整改任务 1 项")
    href = page.locator("#report-pdf").get_attribute("href")
    record = page.request.get(f"{live_server}{href}")
    assert record.ok and record.headers["content-type"] == "application/pdf"
    text = compact("".join(page_texts(record.body())))
    for expected in ("健康档案抽查记录", "CC-2026-0001", "县督导王", "66.7%", "缺责任医生签字", "检查人（签字）"):
        assert expected in text, expected
    assert "未签署" not in text
    page.goto(f"{live_server}/inspections/")
    expect(page.locator("#trend")).to_contain_text("66.7%")


def test_the_scan_station_opens_a_drawn_folders_checklist(page: Page, live_server, archive):
    sign_in(page, live_server, "clerk9", PASSWORD)
    page.goto(f"{live_server}/inspections/new")
    page.get_by_label("001 城关社区").check()
    page.locator("#size").fill("5")
    page.locator("#draw-button").click()
    expect(page.locator(".flash-success")).to_contain_text("已抽取")
    page.get_by_role("link", name="在扫码台核查").click()
    expect(page.locator("#fields-inspect")).to_be_visible()
    expect(page.locator("#scan-inspection")).to_have_value("1")
    expect(page.locator("#scan-code")).to_be_focused()  # the station is ready for the scanner
    page.keyboard.type(archive["first"])
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/inspections/1/folders/\d+$"))
    expect(page.locator(".folder-code")).to_contain_text("F00001")
    page.goto(f"{live_server}/lending/scan")
    page.locator(".mode-inspect").click()
    expect(page.locator("#scan-code")).to_be_focused()
    page.keyboard.type("F1301231002020000" + "10")  # a folder of 202: not drawn
    page.keyboard.press("Enter")
    expect(page.locator("#scan-feedback")).to_have_attribute("data-level", "error")
