"""The home page's 看板 in Chromium: a 督导 (viewer) signs in and sees the numbers with their charts drawn on the
server (inline SVG: bars per village and the target line, the inspection's bars with their intervals, the trend) —
and nothing that changes anything: no form but search and sign-out, and a change posted by hand is refused (403);
on a phone nothing widens the page.
A village doctor sees only their own village (SQLite and PostgreSQL)."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy.orm import Session

from archiveprint.accounts.services import create_user
from archiveprint.db import Database
from archiveprint.register.services import find_village
from tests.browser.conftest import sign_in
from tests.inspections.conftest import build_inspected_town

pytestmark = pytest.mark.browser
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
PASSWORD = "correct-horse-9"
SCREENSHOT = os.environ.get("ARCHIVEPRINT_SCREENSHOT")  # a path: save the viewer's board there (docs/images)


@pytest.fixture
def town(committed_db: Database) -> None:
    with Session(committed_db.engine) as session:
        build_inspected_town(session)
        create_user(session, "county", PASSWORD, "viewer", display_name="县督导组")
        create_user(session, "doc202", PASSWORD, "village_doctor", display_name="西村村医",
                    villages=[find_village(session, "202")])
        session.commit()


def test_a_viewer_sees_the_board_with_its_charts_and_can_change_nothing(browser: Browser, live_server: str,
                                                                        town: None) -> None:
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    sign_in(page, live_server, "county", PASSWORD)
    expect(page.get_by_role("searchbox").first).to_be_visible()  # the search box a clerk relies on stays on top
    expect(page.locator("#tile-residents .n")).to_have_text("118")
    expect(page.locator("#tile-households .n")).to_have_text("59")
    expect(page.locator("#tile-rate")).to_contain_text("未录入常住人口")  # 001 has no figure: the total is unknown
    expect(page.locator("#tile-lent .n")).to_have_text("1")
    expect(page.locator("#tile-missing .n")).to_have_text("1")
    expect(page.locator("#tile-qualified .n")).to_have_text("80.0%")
    expect(page.locator("#tile-usage .n")).to_have_text("95.0%")

    coverage = page.locator("#chart-coverage svg")
    expect(coverage).to_have_attribute("role", "img")
    expect(coverage.locator("[id^='chart-coverage-bar-']")).to_have_count(2)  # 201 and 202; 001 is unknown
    expect(coverage.locator("#chart-coverage-target")).to_have_count(1)
    expect(coverage.locator("#chart-coverage-unknown-0-0")).to_have_count(1)
    assert coverage.bounding_box()["width"] > 250
    inspection = page.locator("#chart-inspection svg")
    expect(inspection.locator("[id^='chart-inspection-bar-']")).to_have_count(4)  # 2 villages × 合格率, 使用率
    expect(inspection.locator("[id^='chart-inspection-interval-']")).to_have_count(4)
    expect(page.locator("#chart-trend svg [id^='chart-trend-line-']")).to_have_count(2)

    # a footnote takes the reader to the definition
    page.locator("#tile-shelf sup a").click()
    expect(page.locator("#def-shelf")).to_contain_text("纸质档案在架率 = 档案袋在架的户数")
    if SCREENSHOT:
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=SCREENSHOT, full_page=True)

    # nothing to change: the only forms are the search boxes and sign-out
    forms = page.locator("main form")
    for i in range(forms.count()):
        assert forms.nth(i).get_attribute("method") in (None, "get"), forms.nth(i).inner_html()[:200]
    expect(page.locator("main button:not([type=submit])")).to_have_count(0)
    token = page.locator("header input[name=csrf_token]").first.get_attribute("value")
    for path, data in (("/supervision/population", {"village": "001", "year": "2026", "residents": "9"}),
                       ("/villages", {"code": "203", "name": "南村"}), ("/lending/checkout", {}),
                       ("/locations/shelve-all", {}), ("/inspections/tasks/1/done", {})):
        answer = page.request.post(f"{live_server}{path}", form={"csrf_token": token, **data})
        assert answer.status == 403, (path, answer.status)
    assert not errors, errors  # nothing blocked by the Content-Security-Policy (the charts use no inline style)
    page.set_viewport_size(PHONE)  # on a phone the charts shrink to the screen and nothing widens the page
    page.reload()
    assert page.locator("#chart-coverage svg").bounding_box()["width"] <= PHONE["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    context.close()


def test_a_village_doctor_sees_their_village_only(browser: Browser, live_server: str, town: None) -> None:
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_server, "doc202", PASSWORD)
    expect(page.locator("#board h2")).to_contain_text("西村")
    expect(page.locator("#tile-residents .n")).to_have_text("30")
    expect(page.locator("#tile-rate .n")).to_have_text("75.0%")
    expect(page.locator("#board-villages tbody tr")).to_have_count(1)
    expect(page.locator("#board-village-202")).to_contain_text("40")
    expect(page.locator("#chart-coverage svg [id^='chart-coverage-bar-']")).to_have_count(1)
    expect(page.locator("#latest-qualified")).to_contain_text("80.0%")  # 202: 12 of 15
    expect(page.locator("#latest-usage")).to_contain_text("100.0%")
    expect(page.locator("#tile-room")).to_have_count(0)  # the other villages' room is not his to count
    expect(page.locator("main")).not_to_contain_text("东村")
    context.close()
