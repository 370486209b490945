"""Issue #12 §3 in headless Chromium: choosing 高血压随访 and a village shows the set's population before printing,
and the job prints only those residents."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_print_browser import SHOTS, sign_in
from tests.conftest import setup_township
from tests.forms.patients import seed_patients
from tests.pdfcheck import compact, page_texts, read

pytestmark = pytest.mark.browser


def test_a_follow_up_set_for_a_village_defaults_to_its_population_and_prints_only_them(page: Page, live_server,
                                                                                       committed_db, tmp_path):
    with committed_db.transaction() as session:
        setup_township(session)
        village = seed_patients(session)
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    sign_in(page, live_server, committed_db)
    page.get_by_role("link", name="打印中心").click()
    population = page.get_by_label("重点人群")
    expect(population).to_have_value("all")  # 新建档套表, the first set, is for everyone

    page.get_by_label("表单套组").select_option(label="高血压随访")
    expect(population.locator("option:checked")).to_have_text("高血压患者")  # the set's population, by default
    page.get_by_label("村(居)委会").select_option("201")
    page.get_by_role("button", name="预览").click()
    expect(page.locator("#plan-headline")).to_have_text("高血压随访 · 东村 · 高血压患者：20 人，20 页")
    expect(page.locator("#preview-residents")).to_have_text("20")
    expect(page.locator("#population-note")).to_contain_text("只打印高血压患者")
    expect(population).to_have_value("hypertension")  # the choices stay for 开始打印
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"print-population-{committed_db.engine.dialect.name}.png"), full_page=True)

    page.get_by_role("button", name="开始打印").click()
    expect(page).to_have_url(re.compile(r"/print/jobs/\d+$"))
    expect(page.locator("#job-status")).to_have_text("完成", timeout=120_000)
    expect(page.locator("#job-done")).to_contain_text("已生成 20 页")
    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile("下载")).first.click()
    download = info.value
    assert download.suggested_filename == "高血压随访-东村-高血压患者-20261125.pdf"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert len(read(saved).pages) == 20
    printed = [name for text in page_texts(saved) for name in village.patients + village.others
               if name in compact(text)]
    assert sorted(printed) == sorted(village.patients)

    page.goto(f"{live_server}/print")  # choosing everyone instead: the whole village, said before printing
    page.get_by_label("表单套组").select_option(label="高血压随访")
    page.get_by_label("村(居)委会").select_option("201")
    population.select_option(label="全部居民")
    page.get_by_role("button", name="预览").click()
    expect(page.locator("#plan-headline")).to_have_text("高血压随访 · 东村：90 人，90 页")
    page.get_by_label("表单套组").select_option(label="新建档套表")
    expect(population).to_have_value("all")
    page.get_by_label("表单套组").select_option(label="儿童健康检查")
    expect(population.locator("option:checked")).to_have_text("0～6岁儿童")
    assert problems == [], problems
