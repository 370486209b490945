"""#14 按村分批 in headless Chromium: tick the villages, preview them, start the run, watch every village finish on
the run's page, download the zip and open each village's PDF; then every village (none ticked) with a double click
on 开始打印: one run."""

from __future__ import annotations

import re
import zipfile

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from archiveprint.jobs.models import RUN, Job
from tests.browser.test_print_browser import sign_in
from tests.jobs.test_print_runs import villages  # noqa: F401  # the fixture: 3 villages, 6 residents
from tests.pdfcheck import read

pytestmark = pytest.mark.browser


def test_a_run_by_village_from_the_print_centre_to_the_zip(page: Page, live_server, committed_db, villages,  # noqa: F811
                                                           tmp_path):
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    sign_in(page, live_server, committed_db)

    page.get_by_role("link", name="打印中心").click()
    page.get_by_label("表单套组").select_option(label="个人基本信息表")
    page.get_by_label("按村分批（每村一个 PDF，打包下载）").check()
    page.get_by_label("201 东村（2人）").check()
    page.get_by_label("001 城关社区（3人）").check()
    page.get_by_role("button", name="预览").click()
    expect(page.locator("#plan-headline")).to_contain_text("2 个村，5 人，5 页")
    expect(page.locator("#run-plan tbody tr")).to_have_text([re.compile("001 城关社区\\s*3\\s*3"),
                                                             re.compile("201 东村\\s*2\\s*2")])
    expect(page.locator(".thumb img")).to_have_count(1)

    page.get_by_role("button", name="开始打印").click()
    expect(page).to_have_url(re.compile(r"/print/jobs/\d+$"))
    expect(page.locator("#run-villages")).to_have_text("2 个村，每村一个文件")
    expect(page.locator("#job-status")).to_have_text("完成", timeout=120_000)  # jobs.js polls, then reloads
    expect(page.locator("#job-done")).to_contain_text("已生成 5 页")
    expect(page.locator("#run-parts [data-part-status]")).to_have_text(["完成", "完成"])
    expect(page.locator("#run-parts tbody tr").nth(1)).to_contain_text("个人基本信息表-东村-20261125.pdf")

    with page.expect_download() as info:
        page.locator("#run-zip").click()
    download = info.value
    assert download.suggested_filename == "个人基本信息表-城关社区、东村-20261125.zip"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    with zipfile.ZipFile(saved) as archive:
        assert [(name, len(read(archive.read(name)).pages)) for name in archive.namelist()] == [
            ("001-城关社区.pdf", 3), ("201-东村.pdf", 2)]

    with page.expect_download() as info:  # one village's own PDF
        page.get_by_role("link", name="个人基本信息表-东村-20261125.pdf").click()
    single = tmp_path / "east.pdf"
    info.value.save_as(single)
    assert len(read(single).pages) == 2
    assert problems == [], problems


def test_a_run_of_every_village_left_unticked_started_with_a_double_click_is_one_run(
        page: Page, live_server, committed_db, villages):  # noqa: F811
    """No village ticked (the optional list left blank: every village), 开始打印 clicked twice without a preview:
    one run, one part per village, every part printed once."""
    sign_in(page, live_server, committed_db)
    page.get_by_role("link", name="打印中心").click()
    page.get_by_label("表单套组").select_option(label="个人基本信息表")
    page.get_by_label("按村分批（每村一个 PDF，打包下载）").check()
    page.get_by_role("button", name="开始打印").dblclick()
    expect(page).to_have_url(re.compile(r"/print/jobs/\d+$"))
    expect(page.locator("#run-villages")).to_have_text("3 个村，每村一个文件")
    expect(page.locator("#job-status")).to_have_text("完成", timeout=120_000)
    expect(page.locator("#run-parts [data-part-status]")).to_have_text(["完成", "完成", "完成"])
    with committed_db.reader() as session:
        runs = session.scalars(select(Job).where(Job.kind == RUN)).all()
        parts = session.scalars(select(Job).where(Job.run_id.is_not(None))).all()
    assert len(runs) == 1 and page.url.endswith(f"/print/jobs/{runs[0].id}")
    assert sorted(part.params["scope"]["village"] for part in parts) == ["001", "201", "202"]
