"""#14 transfers between sites in headless Chromium: the county administrator chooses the sites, is refused a
transfer to the same site, previews the counts and the documents, confirms, and downloads the handover list (three
copies), the pick list and the new shelf labels; the site handed over is then 已撤并 in the list of sites. Then
one village with the optional 监交人 left blank and a double click on 确认移交: exactly one transfer."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from archiveprint.accounts.services import create_user
from archiveprint.db import Database
from archiveprint.eventlog import Event
from archiveprint.lending.rules import LendingRules
from archiveprint.locations.models import Handover
from tests.browser.conftest import sign_in
from tests.pdfcheck import compact, page_texts
from tests.sites import conftest as county_fixtures
from tests.sites.conftest import PASSWORD, build_county

pytestmark = pytest.mark.browser
rules = county_fixtures.rules  # the shipped lending rules


@pytest.fixture
def county_db(committed_db: Database, rules: LendingRules) -> Database:
    if committed_db.is_sqlite:
        pytest.skip("a transfer needs two sites, and several sites need PostgreSQL")
    with committed_db.transaction() as session:
        build_county(session, rules)
        create_user(session, "county", PASSWORD, "county_admin", display_name="县卫生健康局")
    return committed_db


def test_county_admin_previews_confirms_and_prints_a_transfer(page: Page, live_server: str,
                                                             county_db: Database) -> None:
    sign_in(page, live_server, "county", PASSWORD)
    page.goto(f"{live_server}/sites")
    page.locator("#transfer-link").click()
    page.get_by_label("移交机构").select_option("BT")
    page.get_by_label("接收机构").select_option("BT")
    page.get_by_role("button", name="预览").click()
    expect(page.locator(".flash-error")).to_contain_text("移交方和接收方是同一个机构")
    expect(page.locator("#transfer-preview")).to_have_count(0)

    page.get_by_label("接收机构").select_option("130123100")
    page.get_by_label("监交人").fill("县卫生健康局 周科长")
    page.get_by_role("button", name="预览").click()
    expect(page.locator("#transfer-preview")).to_be_visible()
    expect(page.locator("#whole-site")).to_be_visible()
    expect(page.locator("#transfer-folders")).to_contain_text("在架 7 袋列入移交清单；未上架 1 袋随同转入")
    documents = page.locator("#transfer-documents li")
    expect(documents).to_have_text(["移交清单（一式三份）：7 行", "调档单（原库房行走顺序）：7 行",
                                    "架位标签（接收机构）：3 行"])
    counts = page.locator("#transfer-counts tbody tr")
    expect(counts).to_have_count(4)
    expect(counts.nth(1)).to_contain_text("移交后")  # the sending site after: nothing left in its custody
    expect(counts.nth(1).locator("td.num").first).to_have_text("0")

    page.get_by_role("button", name="确认移交").click()
    expect(page.locator(".flash-success")).to_contain_text("已移交：柏棠镇卫生院 → 诸福屯镇卫生院，7 袋")
    files = page.locator("#transfer-files a")
    expect(files).to_have_count(3)
    texts = {}
    for index in range(3):
        with page.expect_download() as caught:
            files.nth(index).click()
        download = caught.value
        texts[download.suggested_filename] = compact("".join(page_texts(download.path().read_bytes())))
    assert sorted(texts) == sorted(["移交清单-YJ-2026-0001.pdf", "调档单-YJ-2026-0001.pdf", "架位标签-"
                                    + page.url.rsplit("/", 1)[1] + ".pdf"])
    handover = texts["移交清单-YJ-2026-0001.pdf"]
    assert all(copy in handover for copy in ("移交方留存", "接收方留存", "监交方留存"))
    assert "调档单" in texts["调档单-YJ-2026-0001.pdf"]

    page.goto(f"{live_server}/sites")
    expect(page.locator("#sites tr", has_text="柏棠镇卫生院")).to_contain_text("已撤并")


def test_some_villages_with_the_supervisor_left_blank_and_a_double_click_are_transferred_once(
        page: Page, live_server: str, county_db: Database) -> None:
    """Only 东村 (by its 3-digit code), 监交人 left blank, 确认移交 clicked twice: one transfer, one handover list;
    the sending site stays active with its other village."""
    sign_in(page, live_server, "county", PASSWORD)
    page.goto(f"{live_server}/sites/transfer")
    page.get_by_label("移交机构").select_option("BT")
    page.get_by_label("接收机构").select_option("130123100")
    page.get_by_label("只移交这些村(居)委会").fill("201")
    page.get_by_role("button", name="预览").dblclick()
    expect(page.locator("#transfer-preview")).to_be_visible()
    expect(page.locator("#whole-site")).to_have_count(0)
    expect(page.locator("#transfer-preview dd").nth(2)).to_contain_text("东村")
    expect(page.locator("#transfer-preview dd").nth(2)).not_to_contain_text("西村")

    page.get_by_role("button", name="确认移交").dblclick()
    expect(page.locator(".flash-success")).to_contain_text("已移交：柏棠镇卫生院 → 诸福屯镇卫生院")
    expect(page.locator("#transfer-done")).to_contain_text("YJ-2026-0001")
    expect(page.locator("#transfer-files a")).not_to_have_count(0)
    with county_db.reader() as session:
        events = session.scalars(select(Event).where(Event.kind == "site.transferred")).all()
        handovers = session.scalar(select(func.count()).select_from(Handover.__table__)
                                   .where(Handover.__table__.c.number.like("YJ-%")))
        assert len(events) == 1 and events[0].data["villages"] == ["130123101201"]
        assert handovers == 1  # and no second list for a second click
    page.goto(f"{live_server}/sites")
    expect(page.locator("#sites tr", has_text="柏棠镇卫生院")).not_to_contain_text("已撤并")
