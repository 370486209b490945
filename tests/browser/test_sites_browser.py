"""#14 in headless Chromium: a 县级督导 signs in to an installation of two sites, is sent to 全县机构, enters
诸福屯镇卫生院 and finds its 张三丰 only, switches to 柏棠镇卫生院 from the menu and finds that site's 张三丰 only.
PostgreSQL only (SQLite holds one site)."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from archiveprint.accounts.services import create_user
from archiveprint.db import Database
from tests.browser.conftest import sign_in
from tests.security.two_sites import PASSWORD, build_two_sites

pytestmark = pytest.mark.browser


def test_a_county_supervisor_enters_one_site_then_switches_to_another(page: Page, live_app: Flask,
                                                                      live_server: str,
                                                                      committed_db: Database) -> None:
    sites = build_two_sites(committed_db, live_app.extensions["archiveprint"].settings.instance_dir)
    with committed_db.transaction() as session:
        create_user(session, "county-sup", PASSWORD, "county_supervisor", display_name="县督导")
    sign_in(page, live_server, "county-sup", PASSWORD)
    expect(page.locator("h1")).to_have_text("全县机构")  # sent here before anything of a site is shown
    rows = page.locator("#sites tbody tr")
    expect(rows).to_have_count(2)

    for name, mine, other in (("诸福屯镇卫生院", sites.a, sites.b), ("柏棠镇卫生院", sites.b, sites.a)):
        rows.filter(has_text=name).get_by_role("button", name="进入").click()
        expect(page.locator(".flash-success")).to_contain_text(name)
        expect(page.locator("#nav-sites")).to_contain_text(name)
        search = page.get_by_role("banner").get_by_role("search")
        search.get_by_role("searchbox").fill("张三丰")
        search.get_by_role("button", name="查找").click()
        expect(page.locator(f'main a[href="/residents/{mine.resident}"]')).not_to_have_count(0)
        expect(page.locator(f'a[href="/residents/{other.resident}"]')).to_have_count(0)
        expect(page.locator(".brand-unit")).to_have_text(name)
        page.locator("#nav-sites").click()  # 切换机构
        expect(page.locator("h1")).to_have_text("全县机构")
        expect(rows.filter(has_text=name)).to_contain_text("当前")
