"""Every main page at phone width (390 px) and on a desk PC (1366 px): nothing widens the page, the top menu folds
away on a phone and opens with one tap, wide tables scroll inside themselves, and the scan station and locate page
keep their input at the top with thumb-sized buttons (issue #10.15)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from archiveprint.db import Database
from archiveprint.lending.queries import find_borrower
from archiveprint.lending.requests import request_folders
from archiveprint.lending.rules import load_rules, shipped_rules_file
from archiveprint.lending.services import check_out
from archiveprint.locations.models import Shelf
from archiveprint.register.codes import folder_code
from archiveprint.register.models import Resident
from tests.browser.test_register_browser import SHOTS
from tests.conftest import ACTOR
from tests.lending.conftest import PASSWORD, T0, build_archive

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1366, "height": 768}
MENU = ("查找", "村(居)委会", "库房", "盘点", "移交", "导入", "打印中心", "标签", "借阅", "扫码台")


def seed(database: Database) -> dict[str, str]:
    """An archive with something in every table: two shelved villages, loans, an open request."""
    now = T0  # the live app's today is 2026-11-25: the loans are this month's register
    with database.transaction() as session:
        made = build_archive(session, now=now)
        rules = load_rules([shipped_rules_file()])
        codes = [folder_code(h.village.full_code, h.number).value for h in made["homes"]]
        for minute, code in enumerate(codes[:3]):
            check_out(session, code, borrower=made["doctor"], purpose="随访", purpose_note="高血压随访，入户测量血压",
                      rules=rules, actor=ACTOR, now=now + timedelta(minutes=minute))
        request_folders(session, [codes[4]], borrower=find_borrower(session, "wang"), purpose="入户服务",
                        rules=rules, actor=ACTOR, now=now + timedelta(minutes=9))
        resident = session.scalars(select(Resident).order_by(Resident.archive_code)).first()
        shelf = session.scalars(select(Shelf).order_by(Shelf.id)).first()
        return {"folder": codes[5], "resident": resident.archive_code, "household": str(resident.household_id),
                "shelf": shelf.code, "surname": "张"}


def main_pages(data: dict[str, str]) -> list[str]:
    return [
        f"/?q={data['surname']}", f"/residents/{data['resident']}", f"/households/{data['household']}", "/villages",
        "/import", "/print", "/print/sets", "/print/jobs", "/labels", "/labels/stocks", "/labels/printers",
        "/labels/calibrate", "/locations/", f"/locations/shelves/{data['shelf']}", "/locations/locate",
        f"/locations/locate?q={data['surname']}", f"/locations/locate?q={data['folder']}", "/locations/layout",
        "/locations/relayout", "/locations/picklist", "/inventory/", "/inventory/new", "/handover/", "/lending/",
        "/lending/dashboard", "/lending/overdue", "/lending/queue", "/lending/scan", "/lending/checkout",
        "/lending/request", "/lending/borrowers", "/supervision/indicators", "/supervision/population",
    ]


def sign_in_as_director(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/login")
    page.get_by_label("用户名").fill("director")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator(".who-name")).to_have_text("周院长")


def overflow(page: Page) -> int:
    """How wide the page is laid out (a phone browser zooms out to show all of it, so the window's own width
    would grow with the page: compare with the device's width instead)."""
    return page.evaluate("() => document.documentElement.scrollWidth")


@pytest.fixture
def phone(browser: Browser) -> Page:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    yield context.new_page()
    context.close()


@pytest.fixture
def desk(browser: Browser) -> Page:
    context = browser.new_context(viewport=DESK)
    yield context.new_page()
    context.close()


def test_issue_10_15_every_main_page_fits_a_phone_and_the_menu_folds(phone: Page, live_server, committed_db):
    data = seed(committed_db)
    sign_in_as_director(phone, live_server)
    menu = phone.locator("#site-menu")
    toggle = phone.get_by_text("菜单", exact=True)
    too_wide = {}
    for path in main_pages(data):
        phone.goto(f"{live_server}{path}")
        expect(phone.locator("main h1").first).to_be_visible()
        width = overflow(phone)
        if width > PHONE["width"]:
            too_wide[path] = width
        expect(menu).to_be_hidden()
    assert too_wide == {}
    SHOTS.mkdir(exist_ok=True)
    phone.screenshot(path=str(SHOTS / f"phone-borrowers-{committed_db.engine.dialect.name}.png"))

    phone.goto(f"{live_server}/lending/")
    table = phone.locator("main table.grid").first
    assert table.evaluate("t => t.scrollWidth > t.clientWidth")  # the register's columns scroll inside the table
    assert table.evaluate("t => getComputedStyle(t).overflowX") == "auto"

    expect(toggle).to_be_visible()
    toggle.tap()
    expect(menu).to_be_visible()
    for name in MENU:
        expect(menu.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(menu.get_by_role("button", name="退出")).to_be_visible()
    assert overflow(phone) <= PHONE["width"]
    phone.screenshot(path=str(SHOTS / f"phone-menu-{committed_db.engine.dialect.name}.png"))
    menu.get_by_role("link", name="借阅", exact=True).tap()
    expect(phone).to_have_url(f"{live_server}/lending/")
    expect(menu).to_be_hidden()  # a new page starts with the menu folded again


def test_issue_10_15_scan_station_and_locate_are_one_handed_on_a_phone(phone: Page, live_server, committed_db):
    data = seed(committed_db)
    sign_in_as_director(phone, live_server)
    phone.goto(f"{live_server}/lending/scan")
    scan = phone.locator("#scan-code")
    expect(scan).to_be_focused()
    box = scan.bounding_box()
    modes = phone.locator(".scan-modes")
    assert box["y"] < modes.bounding_box()["y"]  # the scan box comes before anything else in the station
    assert box["y"] + box["height"] < PHONE["height"] / 2
    assert box["width"] >= 300 and box["height"] >= 48
    for button in phone.locator(".scan-modes .mode").all():
        size = button.bounding_box()
        assert size["height"] >= 44 and size["width"] >= 70
    phone.locator(".scan-modes .mode-out").tap()
    expect(phone.locator("#fields-out")).to_be_visible()
    assert phone.locator("#scan-borrower").bounding_box()["width"] >= 300
    phone.locator(".scan-modes .mode-locate").tap()
    scan.fill(data["folder"])
    scan.press("Enter")
    expect(phone.locator("#scan-message")).to_contain_text("张6号")
    phone.screenshot(path=str(SHOTS / f"phone-scan-{committed_db.engine.dialect.name}.png"))
    assert overflow(phone) <= PHONE["width"]

    phone.goto(f"{live_server}/locations/locate")
    search = phone.get_by_role("searchbox", name="找档案袋")
    expect(search).to_be_focused()
    assert search.bounding_box()["y"] < PHONE["height"] / 3
    button = phone.locator(".locate-form button")
    assert button.bounding_box()["height"] >= 44
    search.fill(data["folder"])
    button.tap()
    expect(phone.locator("#address")).to_be_visible()
    for submit in phone.locator(".folder-actions button").all():
        assert submit.bounding_box()["height"] >= 44
    assert overflow(phone) <= PHONE["width"]


def test_issue_10_15_desk_width_shows_the_menu_inline(desk: Page, live_server, committed_db):
    data = seed(committed_db)
    sign_in_as_director(desk, live_server)
    menu = desk.locator("#site-menu")
    for path in main_pages(data):
        desk.goto(f"{live_server}{path}")
        expect(menu).to_be_visible()
        assert overflow(desk) <= DESK["width"], path
    expect(desk.get_by_text("菜单", exact=True)).to_be_hidden()
    header = desk.locator(".top-inner").bounding_box()
    assert header["height"] < 80, header  # one line: brand, search, menu, user and language side by side
    for name in MENU:
        link = menu.get_by_role("link", name=name, exact=True)
        expect(link).to_be_visible()
        assert link.bounding_box()["y"] < header["y"] + header["height"]
    desk.screenshot(path=str(SHOTS / f"desk-menu-{committed_db.engine.dialect.name}.png"))
    desk.get_by_role("link", name="库房", exact=True).click()
    expect(desk.locator("main h1").first).to_be_visible()
