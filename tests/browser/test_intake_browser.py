"""#15 回收归档 in headless Chromium: a clerk uploads a scanned stack, watches it being read, opens the page with no
mark, finds the resident it was written for, files it by hand, sets the stranger's page aside and ends on the filing
list in walking order — with its PDF."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from archiveprint.accounts.services import create_user
from archiveprint.db import Database
from archiveprint.intake.models import IntakePage
from tests.intake.conftest import print_stack, scanned_stack, seed_register
from tests.intake.scanner import Scanner
from tests.web.conftest import PASSWORD

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots")


def test_a_clerk_takes_in_a_stack_assigns_the_unmarked_page_by_hand_and_gets_the_filing_list(
        page: Page, live_server: str, committed_db: Database, tmp_path: Path) -> None:
    with committed_db.transaction() as session:
        seed_register(session)
        create_user(session, "clerk1", PASSWORD, "clerk", display_name="王档案")
    printed = print_stack(committed_db, tmp_path)
    stack, truths = scanned_stack(printed, tmp_path / "东村交回.pdf", which=slice(2, None),
                                  scanner=Scanner(mode="bw", seed=21))
    marked = sum(1 for truth in truths if truth.kind == "marked")
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    dialect = committed_db.engine.dialect.name
    SHOTS.mkdir(exist_ok=True)

    page.goto(f"{live_server}/login")
    page.get_by_label("用户名").fill("clerk1")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("link", name="回收归档").click()
    expect(page.locator("h1")).to_have_text("回收归档")
    page.get_by_label("扫描文件（PDF 或多页 TIFF，可多选）").set_input_files(str(stack))
    page.get_by_role("button", name="上传并读取").click()
    expect(page).to_have_url(re.compile(r"/intake/\d+$"))
    expect(page.locator("#batch-status")).to_have_text("完成", timeout=120_000)  # jobs.js polls, then reloads
    expect(page.locator("#count-filed")).to_have_text(f"已归档 {marked}")
    expect(page.locator("#count-unreadable")).to_have_text("待处理 2")
    batch_url = page.url
    page.screenshot(path=str(SHOTS / f"intake-batch-{dialect}.png"), full_page=True)

    page.locator("#waiting tr", has_text="没有读到归档条码").get_by_role("link", name="查看并处理").click()
    expect(page.locator("#page-reason")).to_have_text("没有读到归档条码")
    expect(page.locator("#page-image")).to_be_visible()
    # the scan, drawn: fetched after the page, so waited for (a broken image is complete with naturalWidth 0 and fails)
    page.wait_for_function("() => { const image = document.querySelector('#page-image');"
                           " return image.complete && image.naturalWidth > 500; }", timeout=30_000)
    page.get_by_label("这一页是谁的").fill("钱小宝")
    page.get_by_role("button", name="搜索").click()
    expect(page.get_by_label(re.compile("钱小宝"))).to_be_checked()
    page.get_by_label("表单").select_option(label="高血压患者随访服务记录表（1 页）")
    page.get_by_label("第几页").fill("1")
    page.screenshot(path=str(SHOTS / f"intake-assign-{dialect}.png"), full_page=True)
    page.get_by_role("button", name="归档到所选居民").click()
    expect(page.locator(".flash-success")).to_contain_text("钱小宝")

    expect(page.locator("#page-reason")).to_have_text("条码中的档案编号不在本院登记中")  # the next page that waits
    page.get_by_role("button", name="放在一边（不归档）").click()
    expect(page).to_have_url(batch_url)
    expect(page.locator("#count-filed")).to_have_text(f"已归档 {marked + 1}")
    expect(page.locator("#count-unreadable")).to_have_text("待处理 0")
    expect(page.locator("#waiting")).to_have_count(0)
    rows = page.locator("#filing-list tbody tr")
    expect(rows).to_have_count(marked + 1)
    expect(page.locator("#filing-list")).to_contain_text("钱小宝")
    folders = page.locator("#filing-list tr.folder-first")
    expect(folders).to_have_count(4)
    expect(folders.first).to_contain_text("东村")
    page.screenshot(path=str(SHOTS / f"intake-filing-{dialect}.png"), full_page=True)

    href = page.get_by_role("link", name="打印归档清单（PDF）").get_attribute("href") or ""
    pdf = page.request.get(live_server + href)
    assert pdf.ok and pdf.body().startswith(b"%PDF")
    with committed_db.reader() as session:
        by_hand = session.scalars(select(IntakePage).where(IntakePage.how == "manual")).one()
        assert (by_hand.outcome, printed.names[by_hand.archive_code]) == ("filed", "钱小宝")
    assert problems == [], problems
