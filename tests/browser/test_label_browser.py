"""Labels in headless Chromium: mark used cells on the sheet map, preview, print, download; calibrate a printer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from archiveprint.accounts.services import create_user
from archiveprint.db import Database
from archiveprint.labels.services import label_stocks
from archiveprint.register.codes import folder_code
from archiveprint.register.models import Household, Village
from tests.labels.scan import cell_image
from tests.pdfcheck import compact, decode_barcodes, page_texts, rasterize, read
from tests.web.conftest import PASSWORD, seed_people

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots")
DPI = 200


def sign_in(page: Page, live_server: str, database: Database, role: str = "clerk") -> None:
    with database.transaction() as session:
        create_user(session, f"{role}1", PASSWORD, role, display_name="王标签")
    page.goto(f"{live_server}/login")
    page.get_by_label("用户名").fill(f"{role}1")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator(".who-name")).to_have_text("王标签")


def watch_for_errors(page: Page) -> list[str]:
    """Console errors and uncaught exceptions (a CSP violation shows up here too)."""
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def east_folder_codes(database: Database) -> list[str]:
    with database.reader() as session:
        households = session.scalars(select(Household).join(Household.village).where(Village.code == "201")
                                     .order_by(Household.number)).all()
        return [folder_code(household.village.full_code, household.number).value for household in households]


def test_folder_labels_for_a_village_start_after_the_cells_marked_used(page: Page, live_server, committed_db,
                                                                      tmp_path):
    seed_people(committed_db)
    problems = watch_for_errors(page)
    sign_in(page, live_server, committed_db)
    dialect = committed_db.engine.dialect.name
    SHOTS.mkdir(exist_ok=True)

    page.get_by_role("link", name="标签", exact=True).click()
    expect(page.locator("h1")).to_have_text("标签")
    page.wait_for_load_state("domcontentloaded")  # labels.js (deferred) has run: the map answers clicks
    cells = page.locator("#sheet-map [data-cell]")
    page.get_by_label("标签种类").select_option("spine")  # the spine label's stock comes with it: A4 2×7
    expect(page.get_by_label("标签纸", exact=True)).to_have_value("a4-2x7")
    expect(cells).to_have_count(14)
    expect(page.locator("#stock-geometry")).to_contain_text("2 列 × 7 行，每张 14 格")
    page.get_by_label("标签种类").select_option("folder")
    expect(page.get_by_label("标签纸", exact=True)).to_have_value("a4-3x8")
    expect(page.locator("#stock-geometry")).to_contain_text("3 列 × 8 行，每张 24 格；标签 63.5 × 33.9 mm")
    expect(cells).to_have_count(24)
    page.get_by_label("村(居)委会").select_option("201")

    page.locator('#sheet-map [data-cell="1"]').click()
    page.locator('#sheet-map [data-cell="2"]').click()
    expect(page.get_by_label("已用格子")).to_have_value("1,2")
    expect(page.locator('#sheet-map [data-cell="2"]')).to_have_attribute("aria-checked", "true")
    expect(page.locator('#sheet-map [data-cell="3"]')).to_have_class(re.compile(r"\bfirst\b"))
    page.get_by_role("button", name="预览").click()

    expect(page.locator("#preview-labels")).to_have_text("2")
    expect(page.locator("#preview-sheets")).to_have_text("1")
    expect(page.locator("#label-count")).to_contain_text("2 张标签，共 1 页")
    image = page.locator("#preview-image")
    expect(image).to_be_visible()
    width = image.evaluate("image => image.complete ? image.naturalWidth : 0")
    assert 594 <= width <= 596, width  # decoded under the page's CSP (img-src data:)
    expect(page.get_by_label("已用格子")).to_have_value("1,2")  # the choices stay for 开始打印
    expect(page.locator('#sheet-map [data-cell="1"]')).to_have_class(re.compile(r"\bused\b"))
    page.screenshot(path=str(SHOTS / f"labels-centre-{dialect}.png"), full_page=True)

    page.get_by_role("button", name="开始打印").click()
    expect(page).to_have_url(re.compile(r"/print/jobs/\d+$"))
    expect(page.locator("#job-status")).to_have_text("完成", timeout=120_000)
    expect(page.locator("#job-done")).to_contain_text("已生成 1 页")
    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile("下载")).first.click()
    download = info.value
    assert download.suggested_filename == "户档案袋标签-东村-20261125.pdf"  # issue #10.14
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)

    (_sheet,) = read(saved).pages
    pdf = saved.read_bytes()
    image = rasterize(pdf, 0, DPI)
    stock = label_stocks()["a4-3x8"]
    found = {index: decode_barcodes(cell_image(image, stock, index, DPI)) for index in range(1, stock.per_page + 1)}
    codes = east_folder_codes(committed_db)
    assert {index: texts for index, texts in found.items() if texts} == {3: [codes[0]], 4: [codes[1]]}
    assert len(decode_barcodes(image)) == 2
    assert "张三丰" in compact(page_texts(pdf)[0])
    assert problems == [], problems


def test_calibrate_a_printer_from_two_measurements_and_find_it_listed(page: Page, live_server, committed_db,
                                                                     tmp_path):
    problems = watch_for_errors(page)
    sign_in(page, live_server, committed_db)
    dialect = committed_db.engine.dialect.name
    SHOTS.mkdir(exist_ok=True)

    page.goto(f"{live_server}/labels")
    page.get_by_role("link", name="打印机校准").click()
    page.get_by_label("打印机名称").fill("二楼激光")
    page.get_by_label("标签纸", exact=True).select_option("a4-3x8")
    page.get_by_role("button", name="下一步").click()
    expect(page.locator("#nominal-first")).to_contain_text("应为 左 39.0 mm、上 29.9 mm")
    expect(page.locator("#current-offset")).to_have_text("未校正")

    with page.expect_download() as info:
        page.get_by_role("link", name="打印校准页（PDF）").click()
    sheet = tmp_path / info.value.suggested_filename
    info.value.save_as(sheet)
    (only,) = read(sheet).pages
    assert "标签校准页" in compact(only.extract_text())

    page.get_by_label("① 到左边（毫米）").fill("39.6")
    page.get_by_label("① 到上边（毫米）").fill("29.4")
    page.screenshot(path=str(SHOTS / f"labels-calibrate-{dialect}.png"), full_page=True)
    page.get_by_role("button", name="保存校准").click()
    expect(page.locator(".flash")).to_contain_text("已保存打印机“二楼激光”")
    expect(page.locator("#current-offset")).to_contain_text("右移 -0.60 mm")
    with page.expect_download() as info:
        page.locator("#test-sheet").click()
    assert info.value.suggested_filename == "测试页-a4-3x8-二楼激光.pdf"
    page.screenshot(path=str(SHOTS / f"labels-calibrated-{dialect}.png"), full_page=True)

    page.get_by_role("link", name="全部打印机").click()
    rows = page.locator("table.printers tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("二楼激光")
    expect(rows.first).to_contain_text("-0.60 mm")
    expect(rows.first).to_contain_text("300 dpi")
    assert problems == [], problems
