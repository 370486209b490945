"""全县打印 over two sites in headless Chromium (PostgreSQL) as a 县级打印 user: both sites ticked, the optional
fields left blank, a double click on 开始打印 (one run); the run's page shows 正在规划… while its first step plans
(held until the page is seen), then each site's villages as parts, to the end; the zip holds a folder per site."""

from __future__ import annotations

import re
import threading
import zipfile

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from archiveprint.jobs import county
from archiveprint.jobs.models import RUN, Job
from tests.browser.test_print_browser import sign_in
from tests.security.two_sites import build_two_sites

pytestmark = pytest.mark.browser


def test_a_county_run_over_two_sites_plans_then_prints(page: Page, live_app, live_server, committed_db, tmp_path,
                                                       monkeypatch: pytest.MonkeyPatch):
    build_two_sites(committed_db, live_app.extensions["archiveprint"].settings.instance_dir)
    seen = threading.Event()
    plan_request = county.plan_request

    def held(*args, **kwargs):  # type: ignore[no-untyped-def]  # the first step waits until the page showed it
        seen.wait(60)
        return plan_request(*args, **kwargs)

    monkeypatch.setattr(county, "plan_request", held)
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    sign_in(page, live_server, committed_db, role="county_print")

    page.goto(f"{live_server}/sites/print")
    page.get_by_label("打印内容").select_option(label="个人基本信息表")
    page.get_by_label("ZFT 诸福屯镇卫生院").check()
    page.get_by_label("BT 柏棠镇卫生院").check()
    expect(page.locator("#county-month")).to_have_value("")
    expect(page.locator("#county-villages")).to_have_value("")
    page.get_by_role("button", name="开始打印").dblclick()  # a double click starts one run

    expect(page).to_have_url(re.compile(r"/sites/print/\d+$"))
    expect(page.locator("#run-planning")).to_contain_text("正在规划…")
    expect(page.locator("#run-villages")).to_have_text("2 个机构，每村一个文件")
    seen.set()
    expect(page.locator("#run-villages")).to_have_text("2 个机构，4 个村，每村一个文件", timeout=60_000)
    expect(page.locator("#run-planning")).to_have_count(0)
    expect(page.locator("#job-status")).to_have_text("完成", timeout=120_000)  # jobs.js polls, then reloads
    expect(page.locator("#run-parts [data-site-status]")).to_have_text(["完成", "完成"])
    expect(page.locator("#run-parts [data-part-status]")).to_have_text(["完成"] * 4)
    with committed_db.reader() as session:
        assert session.scalar(select(func.count(Job.id)).where(Job.kind == RUN)) == 1

    with page.expect_download() as info:
        page.locator("#run-zip").click()
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(saved)
    with zipfile.ZipFile(saved) as archive:
        assert sorted(archive.namelist()) == ["柏棠镇卫生院/201-东村.pdf", "柏棠镇卫生院/202-西村.pdf",
                                              "诸福屯镇卫生院/201-东村.pdf", "诸福屯镇卫生院/202-西村.pdf"]
    for _ in range(2):  # a site's zip, built on the first download, the same file on the second
        with page.expect_download() as info:
            page.locator("#site-BT [data-site-zip]").click()
        site_zip = tmp_path / "site.zip"
        info.value.save_as(site_zip)
        with zipfile.ZipFile(site_zip) as archive:
            assert sorted(archive.namelist()) == ["柏棠镇卫生院/201-东村.pdf", "柏棠镇卫生院/202-西村.pdf"]
    assert problems == [], problems
