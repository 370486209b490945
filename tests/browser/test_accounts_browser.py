"""Accounts in headless Chromium (#11.4/#11.5): the users page walked by an administrator, and change my password."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

from archiveprint.accounts.models import User
from archiveprint.accounts.services import create_user
from archiveprint.db import Database
from tests.browser.conftest import sign_in as browser_sign_in
from tests.conftest import setup_township
from tests.web.conftest import PASSWORD

pytestmark = pytest.mark.browser
NEW_PASSWORD = "brand-new-secret-5"


def sign_in(page: Page, live_server: str, username: str, password: str = PASSWORD) -> None:
    browser_sign_in(page, live_server, username, password, check=False)  # some tries are meant to fail


def test_an_admin_creates_a_village_doctor_resets_a_password_and_deactivates_a_clerk(
        page: Page, browser: Browser, live_server, committed_db: Database):
    with committed_db.transaction() as session:
        setup_township(session)
        create_user(session, "boss", PASSWORD, "admin", display_name="刘院长")
        create_user(session, "zhao", PASSWORD, "clerk", display_name="赵档案")
    clerk_context = browser.new_context()
    clerk = clerk_context.new_page()
    sign_in(clerk, live_server, "zhao")
    expect(clerk.locator(".who-name")).to_have_text("赵档案")

    sign_in(page, live_server, "boss")
    page.get_by_role("link", name="用户", exact=True).click()
    expect(page.locator("h1")).to_contain_text("用户")
    expect(page.locator("table.users tbody tr")).to_have_count(2)

    # A village doctor without a village is refused beside the village boxes; the typed name stays.
    page.get_by_label("用户名").fill("wang")
    page.get_by_label("姓名（显示名）").fill("王村医")
    page.get_by_label("角色").select_option("village_doctor")
    page.get_by_label("初始密码").fill(PASSWORD)
    page.get_by_label("再输一次").fill(PASSWORD)
    page.get_by_role("button", name="创建").click()
    expect(page.locator("#villages-error")).to_have_text("村医至少要负责一个村(居)委会")  # beside the boxes
    expect(page.get_by_label("用户名")).to_have_value("wang")
    page.get_by_label("初始密码").fill(PASSWORD)
    page.get_by_label("再输一次").fill(PASSWORD)
    page.get_by_label("东村").check()
    page.get_by_label("西村").check()
    page.get_by_role("button", name="创建").dblclick()  # a double click creates one user, with no error
    expect(page.locator(".flash-info")).to_have_text("已创建用户 wang")
    expect(page.locator(".flash-error")).to_have_count(0)
    expect(page.get_by_label("东村")).to_be_checked()
    expect(page.get_by_label("西村")).to_be_checked()
    expect(page.get_by_label("城关社区")).not_to_be_checked()
    page.get_by_role("link", name="全部用户").click()
    expect(page.locator("table.users tbody tr").filter(has_text="wang")).to_contain_text("东村、西村")
    with committed_db.reader() as session:
        assert session.scalar(select(func.count()).select_from(User).where(User.username == "wang")) == 1

    # A new password for zhao: the clerk's open browser is signed out on the next click, the new password works.
    page.get_by_role("link", name="管理 zhao").click()
    page.get_by_label("新密码").fill(NEW_PASSWORD)
    page.get_by_label("再输一次").fill(NEW_PASSWORD)
    page.get_by_role("button", name="重设密码").click()
    expect(page.locator(".flash-info")).to_have_text("已重设 zhao 的密码，其已登录的浏览器都已退出")
    clerk.get_by_role("link", name="村(居)委会").click()
    expect(clerk).to_have_url(re.compile(r"/login"))
    sign_in(clerk, live_server, "zhao", NEW_PASSWORD)
    expect(clerk.locator(".who-name")).to_have_text("赵档案")

    # zhao leaves: deactivated, the open browser is signed out at once and cannot sign in again.
    page.get_by_role("button", name="停用此用户").click()
    expect(page.locator(".flash-info")).to_have_text("已停用 zhao，其已登录的浏览器都已退出")
    expect(page.locator("#user-state")).to_have_text("已停用")
    clerk.get_by_role("link", name="查找", exact=True).click()
    expect(clerk).to_have_url(re.compile(r"/login"))
    sign_in(clerk, live_server, "zhao", NEW_PASSWORD)
    expect(clerk.get_by_role("alert")).to_have_text("用户名或密码错误")
    clerk_context.close()

    # The last administrator cannot deactivate themselves.
    page.get_by_role("link", name="全部用户").click()
    page.get_by_role("link", name="管理 boss").click()
    page.get_by_role("button", name="停用此用户").click()
    expect(page.locator(".flash-error")).to_contain_text("boss 是最后一个在用的管理员，不能停用")
    expect(page.locator("#user-state")).to_have_text("在用")


def test_change_my_password_signs_out_my_other_browsers(page: Page, browser: Browser, live_server,
                                                        committed_db: Database):
    with committed_db.transaction() as session:
        create_user(session, "li", PASSWORD, "doctor", display_name="李医生")
    other_context = browser.new_context()
    other = other_context.new_page()
    sign_in(other, live_server, "li")
    expect(other.locator(".who-name")).to_have_text("李医生")

    sign_in(page, live_server, "li")
    page.get_by_role("link", name="修改密码").click()
    expect(page.locator("h1")).to_have_text("修改密码")
    page.get_by_role("button", name="修改密码").click()  # everything left blank
    expect(page.locator(".field-error").first).to_have_text("请填写当前密码")
    page.get_by_label("当前密码").fill("not-my-password")
    page.get_by_label("新密码").fill(NEW_PASSWORD)
    page.get_by_label("再输一次").fill(NEW_PASSWORD)
    page.get_by_role("button", name="修改密码").click()
    expect(page.locator(".flash-error")).to_have_text("「当前密码」：当前密码不正确")
    page.get_by_label("当前密码").fill(PASSWORD)
    page.get_by_label("新密码").fill(NEW_PASSWORD)
    page.get_by_label("再输一次").fill(NEW_PASSWORD)
    page.get_by_role("button", name="修改密码").dblclick()
    expect(page.locator(".flash-info")).to_have_text("密码已修改；其他电脑上的登录都已退出")
    expect(page.locator(".flash-error")).to_have_count(0)
    page.get_by_role("link", name="查找", exact=True).click()  # this browser stays signed in
    expect(page.locator(".who-name")).to_have_text("李医生")

    other.get_by_role("link", name="查找", exact=True).click()
    expect(other).to_have_url(re.compile(r"/login"))
    sign_in(other, live_server, "li", PASSWORD)
    expect(other.get_by_role("alert")).to_have_text("用户名或密码错误")
    sign_in(other, live_server, "li", NEW_PASSWORD)
    expect(other.locator(".who-name")).to_have_text("李医生")
    other_context.close()

    page.get_by_role("button", name="退出").click()
    expect(page).to_have_url(re.compile(r"/login"))


def test_one_site_a_county_admin_creates_a_site_user_and_a_county_user_and_sees_each(page: Page, live_server,
                                                                                    committed_db: Database):
    """#14 on one site: 县级管理员 creates a clerk and a 县级打印 (blank display names, a double click on 创建) and
    lands on each one's page — a county user belongs to no site and its page answered 404 before."""
    with committed_db.transaction() as session:
        setup_township(session)
        create_user(session, "county-adm", PASSWORD, "county_admin", display_name="县管理员")
    sign_in(page, live_server, "county-adm")
    page.get_by_role("link", name="用户", exact=True).click()
    for username, role, site, shown in (("sun", "clerk", "130123100 诸福屯镇卫生院", "130123100 诸福屯镇卫生院"),
                                        ("zhou", "county_print", "全县（县级角色，不属于任何机构）",
                                         "全县（县级角色，不属于任何机构）")):
        page.get_by_label("用户名").fill(username)
        page.locator("#new-user select[name=role]").select_option(role)
        page.get_by_label("所属机构").select_option(label=site)
        page.get_by_label("初始密码").fill(PASSWORD)
        page.get_by_label("再输一次").fill(PASSWORD)
        page.get_by_role("button", name="创建").dblclick()
        expect(page.locator(".flash-info")).to_have_text(f"已创建用户 {username}")
        expect(page.locator(".flash-error")).to_have_count(0)
        expect(page.locator("h1")).to_contain_text(username)
        expect(page.locator("#user-site")).to_contain_text(shown)
        page.get_by_role("link", name="全部用户").click()
    with committed_db.reader() as session:
        made = dict(session.execute(select(User.username, User.site_id).where(User.username.in_(["sun", "zhou"])))
                    .all())
    assert made["sun"] is not None and made["zhou"] is None
    expect(page.locator("table.users tbody tr")).to_have_count(3)
