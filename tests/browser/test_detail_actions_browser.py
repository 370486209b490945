"""Issue #10.10 in Chromium: a resident's and a household's page say where the folder is and lead on — print forms,
print labels, request, lend, move, history — each link landing on its page with the right thing filled in; a shelf
page's 打印架位标签 fills in the shelf. A doctor is offered only what a doctor may do."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from archiveprint.db import Database, utcnow
from archiveprint.locations.models import FolderPosition, Shelf
from archiveprint.register.codes import folder_code
from tests.browser.conftest import sign_in as browser_sign_in
from tests.lending.conftest import PASSWORD, build_archive

pytestmark = pytest.mark.browser


@pytest.fixture
def first(committed_db: Database) -> dict[str, str]:
    """张1号 of 东村 (201), household 1, on its shelf: codes as the pages should fill them in."""
    with committed_db.transaction() as session:
        home = build_archive(session, now=utcnow() - timedelta(days=1))["homes"][0]
        shelf = session.scalar(select(Shelf.code).join(FolderPosition, FolderPosition.shelf_id == Shelf.id)
                               .where(FolderPosition.household_id == home.id))
        return {"resident": home.members[0].archive_code, "folder": folder_code(home.village.full_code, 1).value,
                "display": folder_code(home.village.full_code, 1).display, "shelf": shelf}


def sign_in(page: Page, live_server: str, username: str) -> None:
    browser_sign_in(page, live_server, username, PASSWORD)


def follow(page: Page, name: str, path: str) -> None:
    page.locator("#folder-panel").get_by_role("link", name=name, exact=True).click()
    expect(page).to_have_url(re.compile(re.escape(path)))


def test_issue_10_10_from_search_to_a_resident_and_on_to_every_next_step(page: Page, live_server, first):
    sign_in(page, live_server, "clerk1")
    page.goto(f"{live_server}/?q=张1号")
    page.get_by_role("link", name="张1号", exact=True).click()
    expect(page).to_have_url(re.compile(f"/residents/{first['resident']}"))
    panel = page.locator("#folder-panel")
    expect(panel).to_contain_text(first["display"])
    expect(page.locator("#folder-address")).to_contain_text("一号库房")
    expect(page.locator("#folder-status")).to_have_text("在架")
    resident_url = page.url

    follow(page, "打印表单", "/print")
    expect(page.locator("#codes")).to_have_value(first["resident"])  # this resident; the set is chosen there
    expect(page.locator("#household")).to_have_value("")
    expect(page.locator("#form_set")).to_be_visible()
    page.goto(resident_url)
    follow(page, "打印标签", "/labels")
    expect(page.locator("#household")).to_have_value("201-1")
    expect(page.locator("#kind")).to_have_value("folder")
    page.goto(resident_url)
    follow(page, "申请调档", "/lending/request")
    expect(page.locator("#codes")).to_have_value(first["folder"])
    page.goto(resident_url)
    follow(page, "借出", "/lending/checkout")
    expect(page.locator("#code")).to_have_value(first["folder"])
    page.goto(resident_url)
    follow(page, "移动", "/locations/locate")
    expect(page.locator("#move-form")).to_be_visible()
    expect(page.locator("#address")).to_contain_text("一号库房")
    page.goto(resident_url)
    follow(page, "位置与借阅记录", "/locations/locate")
    expect(page.get_by_role("heading", name="位置记录")).to_be_visible()
    expect(page.locator("table.history")).to_contain_text("上架")

    page.goto(resident_url)  # on to the household: its folder, and the print centre filled with the household
    page.get_by_role("link", name="第1户").click()
    expect(page).to_have_url(re.compile("/households/"))
    expect(page.locator("#folder-status")).to_have_text("在架")
    follow(page, "打印表单", "/print")
    expect(page.locator("#household")).to_have_value("201-1")
    expect(page.locator("#codes")).to_have_value("")

    page.goto(f"{live_server}/locations/shelves/{first['shelf']}")  # a shelf page: its label, filled in
    page.get_by_role("link", name="打印架位标签").click()
    expect(page).to_have_url(re.compile("/labels"))
    expect(page.locator("#kind")).to_have_value("shelf")
    expect(page.locator("#codes")).to_have_value(first["shelf"])


def test_issue_10_10_a_doctor_is_offered_only_what_a_doctor_may_do(page: Page, live_server, first):
    sign_in(page, live_server, "doctor1")
    page.goto(f"{live_server}/residents/{first['resident']}")
    actions = page.locator("#folder-panel .folder-actions")
    for offered in ("打印表单", "打印标签", "申请调档", "位置与借阅记录"):
        expect(actions.get_by_role("link", name=offered, exact=True)).to_be_visible()
    for withheld in ("借出", "移动"):
        expect(actions.get_by_role("link", name=withheld, exact=True)).to_have_count(0)
    follow(page, "申请调档", "/lending/request")
    expect(page.locator("#codes")).to_have_value(first["folder"])
