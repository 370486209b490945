"""本月随访包 in headless Chromium: a clerk from the print centre to the finished job with the default inputs, both
PDFs downloaded and read; a village doctor offered only his own villages; a viewer kept out, as from the print
centre; 按村分批 with the optional fields blank and a double click, to the run's zip."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from archiveprint.accounts.services import create_user
from archiveprint.db import Database
from archiveprint.jobs.models import Job
from archiveprint.register import services
from tests.pdfcheck import compact, page_texts, read
from tests.web.conftest import PASSWORD
from tests.web.test_due_pages import seed_due

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots")


def sign_in(page: Page, live_server: str, database: Database, role: str, *, villages: tuple[str, ...] = ()) -> None:
    with database.transaction() as session:
        create_user(session, f"{role}1", PASSWORD, role, display_name="李随访",
                    villages=[services.find_village(session, code) for code in villages] or None)
    page.goto(f"{live_server}/login")
    page.get_by_label("用户名").fill(f"{role}1")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator(".who-name")).to_have_text("李随访")


def test_a_clerk_prints_this_months_packet_with_the_defaults_and_downloads_both_files(
        page: Page, live_server, committed_db, tmp_path):
    seed_due(committed_db)
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    sign_in(page, live_server, committed_db, "clerk")
    dialect = committed_db.engine.dialect.name
    SHOTS.mkdir(exist_ok=True)

    page.get_by_role("link", name="打印中心").click()
    page.get_by_role("link", name="本月随访包").click()
    expect(page.locator("h1")).to_have_text("本月随访包")
    expect(page.get_by_label("月份")).to_have_value("")  # left blank: this month
    expect(page.locator("#month-hint")).to_have_text("留空即本月（2026-11）。")
    page.get_by_role("button", name="预览").click()

    expect(page.locator("h2")).to_have_text("预览：2026-11 全部村")
    expect(page.locator("#due-residents")).to_have_text("3")
    expect(page.locator("#due-forms")).to_have_text("2")
    expect(page.locator("#due-continued")).to_have_text("2")
    pages = int(page.locator("#due-pages").inner_text())
    expect(page.locator("#due-undated")).to_contain_text("孕期健康管理：1 人")
    expect(page.locator("#due-list tbody tr")).to_have_count(4)
    expect(page.locator("#due-list tbody tr").first).to_contain_text("张三丰")
    page.screenshot(path=str(SHOTS / f"due-packet-{dialect}.png"), full_page=True)

    page.get_by_role("button", name="开始打印").click()
    expect(page).to_have_url(re.compile(r"/print/jobs/\d+$"))
    expect(page.locator("#job-status")).to_have_text("完成", timeout=120_000)  # jobs.js polls, then reloads
    expect(page.locator("#job-done")).to_contain_text(f"已生成 {pages} 页")
    job_id = int(page.url.rsplit("/", 1)[1])
    with committed_db.reader() as session:
        job = session.scalars(select(Job).where(Job.id == job_id)).one()
        assert job.kind == "due" and job.pages == pages and job.params["villages"] is None
    page.screenshot(path=str(SHOTS / f"due-job-{dialect}.png"), full_page=True)

    links = page.get_by_role("link", name=re.compile("^下载"))
    expect(links).to_have_count(2)
    saved = []
    names = ("本月随访包-全部村-2026年11月-20261125.pdf", "调档单-全部村-2026年11月-20261125.pdf")
    for index, name in enumerate(names):
        with page.expect_download() as info:
            links.nth(index).click()
        assert info.value.suggested_filename == name
        saved.append(tmp_path / name)
        info.value.save_as(saved[-1])

    packet, picklist = saved
    assert len(read(packet).pages) == pages
    texts = [compact(text) for text in page_texts(packet)]
    assert "本月随访包" in texts[0] and "随访名单" in texts[0] and "张小宝" in texts[0]
    assert "钱芳" in texts[1]
    pick = compact(" ".join(page_texts(picklist)))
    assert "调档单" in pick and "张三丰" in pick and "钱芳" in pick
    assert problems == [], problems


def test_a_village_doctor_is_offered_only_his_own_villages(page: Page, live_server, committed_db):
    seed_due(committed_db)
    sign_in(page, live_server, committed_db, "village_doctor", villages=("202",))
    page.goto(f"{live_server}/print/due")
    boxes = page.locator("fieldset.villages input[type=checkbox]")
    expect(boxes).to_have_count(1)
    expect(page.get_by_label("202 西村")).to_be_visible()
    expect(page.get_by_label("村医")).to_have_count(0)
    page.get_by_role("button", name="预览").click()
    expect(page.locator("h2")).to_have_text("预览：2026-11 西村")
    expect(page.locator("#due-list tbody tr")).to_have_count(1)
    expect(page.locator("#due-list")).to_contain_text("钱芳")
    expect(page.locator("#due-list")).not_to_contain_text("张三丰")


def test_a_viewer_does_not_see_the_packet_as_he_does_not_see_the_print_centre(page: Page, live_server, committed_db):
    seed_due(committed_db)
    sign_in(page, live_server, committed_db, "viewer")
    expect(page.get_by_role("link", name="打印中心")).to_have_count(0)
    response = page.goto(f"{live_server}/print/due")
    assert response is not None and response.status == 403


def test_a_clerk_prints_the_packet_by_village_with_a_double_click_and_downloads_the_zip(
        page: Page, live_server, committed_db, tmp_path):
    """按村分批 with every optional field left blank (this month, every village, no doctor) and 开始打印 clicked
    twice: one run, a part per village with someone due, and one zip holding each village's packet and pick list."""
    seed_due(committed_db)
    sign_in(page, live_server, committed_db, "clerk")
    page.goto(f"{live_server}/print/due")
    page.get_by_label("按村分批").check()
    page.get_by_role("button", name="开始打印").dblclick()
    expect(page).to_have_url(re.compile(r"/print/jobs/\d+$"))
    expect(page.locator("#job-status")).to_have_text("完成", timeout=120_000)
    statuses = page.locator("#run-parts [data-part-status]")
    expect(statuses.first).to_have_text("完成")
    with committed_db.reader() as session:
        runs = session.scalars(select(Job).where(Job.kind == "run")).all()
        parts = session.scalars(select(Job).where(Job.run_id.is_not(None)).order_by(Job.id)).all()
    assert len(runs) == 1 and page.url.endswith(f"/print/jobs/{runs[0].id}")
    assert parts and all(part.status == "done" and part.kind == "due" for part in parts)
    expect(statuses).to_have_text(["完成"] * len(parts))

    with page.expect_download() as info:
        page.locator("#run-zip").click()
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(saved)
    assert saved.suffix == ".zip" and "2026年11月" in saved.name
    with zipfile.ZipFile(saved) as archive:
        names = archive.namelist()
        assert len(names) == 2 * len(parts)
        for part in parts:
            stem = f"{part.params['villages'][0]}-{part.params['villages_text']}"
            assert {f"{stem}.pdf", f"{stem}-调档单.pdf"} <= set(names), names
            assert len(read(archive.read(f"{stem}.pdf")).pages) == part.pages
