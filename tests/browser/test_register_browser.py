"""A clerk's day in headless Chromium: sign in, find by pinyin initials, open resident and household, import."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from archiveprint.accounts.services import create_user
from archiveprint.db import Database
from archiveprint.register.models import Resident
from tests.conftest import setup_township
from tests.web.conftest import PASSWORD, faulty_export, good_export, seed_people

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots")


def sign_in(page: Page, live_server: str, database: Database, role: str = "clerk") -> None:
    with database.transaction() as session:
        create_user(session, f"{role}1", PASSWORD, role, display_name="王档案")
    page.goto(f"{live_server}/login")
    page.get_by_label("用户名").fill(f"{role}1")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator(".who-name")).to_have_text("王档案")


def test_find_by_pinyin_initials_then_open_resident_and_household(page: Page, live_server, committed_db):
    people = seed_people(committed_db)
    sign_in(page, live_server, committed_db)
    page.get_by_role("searchbox", name="查找居民").first.fill("zsf")
    page.keyboard.press("Enter")
    results = page.locator("table.results tbody tr")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("130123-100-201-00002")
    expect(results.first).to_contain_text("张三丰")
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"search-{committed_db.engine.dialect.name}.png"), full_page=True)

    results.first.get_by_role("link", name="张三丰").click()
    expect(page.locator("h1")).to_contain_text("张三丰")
    expect(page.locator("#id-number")).to_have_text(people.head_id_number[:4] + "*" * 10 + people.head_id_number[14:])
    page.get_by_role("button", name="显示完整身份证号").click()
    expect(page.locator("#id-number")).to_have_text(people.head_id_number)

    page.get_by_role("link", name="第1户").click()
    members = page.locator("table.members tbody tr")
    expect(members).to_have_count(3)
    expect(members.nth(0)).to_contain_text("张三丰")
    expect(members.nth(0)).to_contain_text("户主")


def test_import_shows_problems_and_writes_nothing_then_a_good_file_is_confirmed(page: Page, live_server,
                                                                                committed_db, tmp_path):
    with committed_db.transaction() as session:
        setup_township(session)
    sign_in(page, live_server, committed_db)
    page.get_by_role("link", name="导入").click()
    page.set_input_files("#file", str(faulty_export(tmp_path / "东村登记表.csv")))
    page.get_by_role("button", name="上传并检查").click()
    expect(page.locator(".verdict.bad")).to_contain_text("发现 3 个问题")
    problems = page.locator("table.problems tbody tr")
    expect(problems).to_have_count(3)
    expect(problems.nth(0).locator("td")).to_have_text(
        ["3", "身份证号", re.compile(r"^130123196502110"), re.compile("校验位错误")])
    expect(page.get_by_role("button", name="确认导入")).to_have_count(0)
    expect(page.get_by_role("link", name="下载错误报告（.xlsx）")).to_be_visible()
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"import-errors-{committed_db.engine.dialect.name}.png"), full_page=True)
    assert _residents(committed_db) == 0

    page.get_by_role("link", name="重新上传").click()
    page.set_input_files("#file", str(good_export(tmp_path / "register.csv")))
    page.get_by_label("自动登记新村").check()
    page.get_by_role("button", name="上传并检查").click()
    expect(page.locator(".verdict.good")).to_contain_text("检查通过")
    assert _residents(committed_db) == 0
    page.get_by_role("button", name="确认导入").click()
    expect(page.locator(".verdict.good")).to_contain_text("已写入：新增 3 人")
    assert _residents(committed_db) == 3


def _residents(database: Database) -> int:
    with database.reader() as session:
        return session.scalar(select(func.count(Resident.id))) or 0
