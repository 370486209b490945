"""The print centre in headless Chromium: choose, preview, start, watch the job finish, download the PDF."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from archiveprint.accounts.services import create_user
from archiveprint.db import Database
from tests.pdfcheck import compact, page_texts, read
from tests.web.conftest import PASSWORD, seed_people

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots")


def sign_in(page: Page, live_server: str, database: Database, role: str = "clerk") -> None:
    with database.transaction() as session:
        create_user(session, f"{role}1", PASSWORD, role, display_name="李打印")
    page.goto(f"{live_server}/login")
    page.get_by_label("用户名").fill(f"{role}1")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator(".who-name")).to_have_text("李打印")


def test_preview_then_print_a_village_and_download_the_pdf(page: Page, live_server, committed_db, tmp_path):
    seed_people(committed_db)
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    sign_in(page, live_server, committed_db)
    dialect = committed_db.engine.dialect.name
    SHOTS.mkdir(exist_ok=True)

    page.get_by_role("link", name="打印中心").click()
    expect(page.locator("h1")).to_have_text("打印中心")
    page.get_by_label("表单套组").select_option(label="新建档套表")
    page.get_by_label("村(居)委会").select_option("201")
    page.get_by_role("button", name="预览").click()

    # 东村: 5 residents × 6 pages (封面, 个人基本信息表, 健康体检表 ×4; the 信息卡 prints in its own sets)
    expect(page.locator("#preview-residents")).to_have_text("5")
    expect(page.locator("#preview-pages")).to_have_text("30")
    expect(page.locator("#page-count")).to_contain_text("5 人，共 30 页")
    thumbs = page.locator(".thumb img")
    expect(thumbs).to_have_count(6)
    widths = thumbs.evaluate_all("images => images.map(image => image.complete ? image.naturalWidth : 0)")
    assert widths == [331] * 6, widths  # decoded under the page's CSP (img-src data:); A4 pages only
    expect(page.locator(".thumb figcaption").nth(2)).to_contain_text("健康体检表")
    expect(page.get_by_label("村(居)委会")).to_have_value("201")  # the choices stay for 开始打印
    page.screenshot(path=str(SHOTS / f"print-centre-{dialect}.png"), full_page=True)

    page.get_by_role("button", name="开始打印").click()
    expect(page).to_have_url(re.compile(r"/print/jobs/\d+$"))
    expect(page.locator("#job-status")).to_have_text("完成", timeout=120_000)  # jobs.js polls, then reloads
    expect(page.locator("#job-done")).to_contain_text("已生成 30 页")
    expect(page.locator("#job-progress")).to_have_attribute("value", "100")
    page.screenshot(path=str(SHOTS / f"print-job-{dialect}.png"), full_page=True)

    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile("下载")).first.click()
    download = info.value
    assert download.suggested_filename == "新建档套表-东村-20261125.pdf"  # issue #10.14
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    pdf = read(saved)
    assert len(pdf.pages) == 30
    assert "张三丰" in compact(page_texts(saved)[1])  # the head of household 1 comes first: 个人基本信息表

    page.get_by_role("link", name="全部打印任务").click()
    rows = page.locator("table.jobs tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("新建档套表")
    expect(rows.first).to_contain_text("东村")
    expect(rows.first).to_contain_text("完成")
    assert problems == [], problems


def test_an_admin_defines_a_custom_set_and_it_is_offered_for_printing(page: Page, live_server, committed_db):
    seed_people(committed_db)
    sign_in(page, live_server, committed_db, role="admin")
    page.goto(f"{live_server}/print/sets")
    page.get_by_label("套组名称").fill("慢病随访")
    page.get_by_label("第1张").select_option(label="高血压患者随访服务记录表")
    page.get_by_label("第2张").select_option(label="2型糖尿病患者随访服务记录表")
    page.get_by_role("button", name="保存套组").click()
    expect(page.locator(".flash")).to_contain_text("已保存套组“慢病随访”")
    expect(page.locator("table.custom-sets tbody tr")).to_have_count(1)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"print-sets-{committed_db.engine.dialect.name}.png"), full_page=True)
    page.locator("table.custom-sets").get_by_role("link", name="打印").click()
    expect(page.get_by_label("表单套组").locator("option:checked")).to_have_text("慢病随访")
    page.get_by_label("人群分类").select_option("高血压")
    page.get_by_role("button", name="预览").click()
    expect(page.locator("#page-count")).to_contain_text("1 人，共 2 页")
    expect(page.locator(".thumb img")).to_have_count(2)

    page.goto(f"{live_server}/print/sets")
    page.get_by_role("button", name="删除 慢病随访").click()
    expect(page.locator(".flash")).to_contain_text("已删除套组“慢病随访”")
    expect(page.locator("table.custom-sets")).to_have_count(0)


def test_a_bad_household_is_explained_in_chinese(page: Page, live_server, committed_db):
    seed_people(committed_db)
    sign_in(page, live_server, committed_db)
    page.goto(f"{live_server}/print")
    page.get_by_label("户（村代码-户号）").fill("201-99")
    page.get_by_role("button", name="开始打印").click()
    expect(page.locator("#print-error")).to_contain_text("没有这一户")



def test_issue_10_3_one_form_chosen_under_single_forms_prints_only_that_form(page: Page, live_server, committed_db,
                                                                            tmp_path):
    seed_people(committed_db)
    sign_in(page, live_server, committed_db)
    page.get_by_role("link", name="打印中心").click()
    choice = page.get_by_label("表单套组")
    choice.select_option(label="接诊记录表")
    expect(choice.locator("option:checked")).to_have_text("接诊记录表")
    assert choice.locator("option:checked").evaluate("option => option.parentElement.label") == "单张表单"
    page.get_by_label("户（村代码-户号）").fill("201-1")
    page.get_by_role("button", name="预览").click()
    expect(page.locator("#page-count")).to_contain_text("3 人，共 3 页")
    expect(page.locator(".thumb figcaption")).to_have_text(["接诊记录表"])

    page.get_by_role("button", name="开始打印").click()
    expect(page.locator("#job-status")).to_have_text("完成", timeout=120_000)
    expect(page.locator("#job-done")).to_contain_text("已生成 3 页")
    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile("下载")).first.click()
    assert info.value.suggested_filename == "接诊记录表-东村第1户-20261125.pdf"  # issue #10.14
    saved = tmp_path / "encounter.pdf"
    info.value.save_as(saved)
    texts = [compact(text) for text in page_texts(saved)]
    assert len(read(saved).pages) == 3
    assert [("接诊记录表" in text, "会诊记录表" in text) for text in texts] == [(True, False)] * 3
    assert [name for name in ("张三丰", "李秀英", "张伟") if any(name in text for text in texts)] == [
        "张三丰", "李秀英", "张伟"]


def test_issue_10_17_the_first_preview_after_a_restart_reads_the_blank_forms_from_disk(
        page: Page, live_server, live_app, committed_db, monkeypatch):
    from archiveprint.forms import layout
    from archiveprint.forms.catalog import load_catalog

    seed_people(committed_db)
    cache = layout.layout_cache_dir(live_app.extensions["archiveprint"].settings.instance_dir)
    catalog = load_catalog()
    earlier = layout.LayoutEngine(cache)  # the run before the restart laid 新建档套表 out once
    for form_id in catalog.form_set("new_record").forms:
        earlier.layout(catalog.form(form_id))
    assert earlier.laid_out == 3
    restarted = layout.LayoutEngine(cache)  # a new process: nothing in memory
    monkeypatch.setattr(layout, "_engine", restarted)

    sign_in(page, live_server, committed_db)
    page.get_by_role("link", name="打印中心").click()
    page.get_by_label("表单套组").select_option(label="新建档套表")
    page.get_by_label("户（村代码-户号）").fill("201-1")
    page.get_by_role("button", name="预览").click()
    expect(page.locator("#page-count")).to_contain_text("3 人，共 18 页")
    expect(page.locator(".thumb img")).to_have_count(6)
    assert restarted.laid_out == 0  # WeasyPrint was not called: every blank page came from the disk cache


def test_issue_12_the_clerk_asks_for_the_filling_instructions_and_gets_their_pages(page: Page, live_server,
                                                                                  committed_db, tmp_path):
    seed_people(committed_db)
    sign_in(page, live_server, committed_db)
    page.get_by_role("link", name="打印中心").click()
    page.get_by_label("表单套组").select_option(label="高血压患者随访服务记录表")
    page.get_by_label("空白表（不预填）").check()
    page.get_by_label("份数").fill("2")
    expect(page.get_by_label("填表说明")).to_have_value("none")
    page.get_by_label("填表说明").select_option(label="每张表后各附一份（适合空白表）")
    page.get_by_role("button", name="预览").click()

    expect(page.locator("#preview-pages")).to_have_text("4")  # 2 copies × (the form + its 填表说明)
    expect(page.locator("#instruction-pages")).to_have_text("其中填表说明 2 页。")
    expect(page.locator(".thumb figcaption")).to_have_text(["高血压患者随访服务记录表",
                                                            "高血压患者随访服务记录表填表说明"])
    expect(page.get_by_label("填表说明")).to_have_value("per_form")  # kept for 开始打印

    page.get_by_role("button", name="开始打印").click()
    expect(page.locator("#job-status")).to_have_text("完成", timeout=120_000)
    expect(page.locator("#job-done")).to_contain_text("已生成 4 页")
    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile("下载")).first.click()
    saved = tmp_path / "instructions.pdf"
    info.value.save_as(saved)
    texts = [compact(text) for text in page_texts(saved)]
    assert len(read(saved).pages) == len(texts) == 4
    assert [text.startswith("高血压患者随访服务记录表填表说明") for text in texts] == [False, True, False, True]
    assert "如××市人民医院心内科" in texts[1]
