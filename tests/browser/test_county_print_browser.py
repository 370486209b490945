"""#14 全县打印 in headless Chromium as a 县级打印 user: from 全县机构 to the county print page, every optional field
left blank (all sites, all villages, this month), a double click on 开始打印 (one run), each site's and part's
progress to the end, the whole zip (a folder per site) and the site's own zip downloaded."""

from __future__ import annotations

import re
import zipfile

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from archiveprint.jobs.models import RUN, Job
from tests.browser.test_print_browser import sign_in
from tests.jobs.test_print_runs import villages  # noqa: F401  # the fixture: 3 villages, 6 residents
from tests.pdfcheck import read

pytestmark = pytest.mark.browser


def test_a_county_print_run_from_the_sites_page_to_the_zip(page: Page, live_server, committed_db, villages,  # noqa: F811
                                                           tmp_path):
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    sign_in(page, live_server, committed_db, role="county_print")

    page.locator("#nav-sites").click()
    page.locator("#county-print-link").click()
    expect(page.get_by_role("heading", name="全县打印")).to_be_visible()
    page.get_by_label("打印内容").select_option(label="个人基本信息表")
    expect(page.locator("#county-month")).to_have_value("")  # blank: this month (only the packet reads it)
    expect(page.locator("#county-villages")).to_have_value("")  # blank: every village of every site
    expect(page.locator("#county-sites input:checked")).to_have_count(0)  # none ticked: every active site
    page.get_by_role("button", name="开始打印").dblclick()  # a double click starts one run

    expect(page).to_have_url(re.compile(r"/sites/print/\d+$"))
    expect(page.locator("#run-villages")).to_have_text("1 个机构，3 个村，每村一个文件")
    expect(page.locator("#job-status")).to_have_text("完成", timeout=120_000)  # jobs.js polls, then reloads
    expect(page.locator("#job-done")).to_contain_text("已生成 6 页")
    expect(page.locator("#run-parts [data-site-status]")).to_have_text(["完成"])
    expect(page.locator("#run-parts [data-part-status]")).to_have_text(["完成", "完成", "完成"])
    with committed_db.reader() as session:
        assert session.scalar(select(func.count(Job.id)).where(Job.kind == RUN)) == 1

    with page.expect_download() as info:
        page.locator("#run-zip").click()
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(saved)
    assert saved.name.startswith("个人基本信息表-") and saved.suffix == ".zip"
    with zipfile.ZipFile(saved) as archive:
        names = archive.namelist()
        assert [name.split("/", 1)[1] for name in names] == ["001-城关社区.pdf", "201-东村.pdf", "202-西村.pdf"]
        assert [len(read(archive.read(name)).pages) for name in names] == [3, 2, 1]

    with page.expect_download() as info:  # the site's own zip
        page.locator("[data-site-zip]").click()
    site_zip = tmp_path / "site.zip"
    info.value.save_as(site_zip)
    with zipfile.ZipFile(site_zip) as archive:
        assert len(archive.namelist()) == 3

    with page.expect_download() as info:  # one part's PDF, named with its site and village
        page.locator("#run-parts a", has_text="东村").first.click()
    assert "东村" in info.value.suggested_filename
    page.get_by_role("link", name="返回全县打印").click()
    expect(page.locator("#county-runs tbody tr")).to_have_count(1)
    assert problems == [], problems
