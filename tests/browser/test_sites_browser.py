"""#14 in headless Chromium: a 县级督导 signs in to an installation of two sites, is sent to 全县机构, enters
诸福屯镇卫生院 and finds its 张三丰 only, switches to 柏棠镇卫生院 from the menu and finds that site's 张三丰 only
(PostgreSQL only: SQLite holds one site); a 县级管理员 adds sites on a fresh installation and enters one."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

from archiveprint.accounts.models import AuditEntry, User
from archiveprint.accounts.services import create_user
from archiveprint.db import Database
from archiveprint.sites.models import Site
from tests.browser.conftest import sign_in
from tests.security.two_sites import PASSWORD, build_two_sites

pytestmark = pytest.mark.browser


def test_a_county_supervisor_enters_one_site_then_switches_to_another(page: Page, live_app: Flask,
                                                                      live_server: str,
                                                                      committed_db: Database) -> None:
    sites = build_two_sites(committed_db, live_app.extensions["archiveprint"].settings.instance_dir)
    with committed_db.transaction() as session:
        create_user(session, "county-sup", PASSWORD, "county_supervisor", display_name="县督导")
    sign_in(page, live_server, "county-sup", PASSWORD)
    expect(page.locator("h1")).to_have_text("全县机构")  # sent here before anything of a site is shown
    rows = page.locator("#sites tbody tr")
    expect(rows).to_have_count(2)

    for name, mine, other in (("诸福屯镇卫生院", sites.a, sites.b), ("柏棠镇卫生院", sites.b, sites.a)):
        rows.filter(has_text=name).get_by_role("button", name="进入").click()
        expect(page.locator(".flash-success")).to_contain_text(name)
        expect(page.locator("#nav-sites")).to_contain_text(name)
        search = page.get_by_role("banner").get_by_role("search")
        search.get_by_role("searchbox").fill("张三丰")
        search.get_by_role("button", name="查找").click()
        expect(page.locator(f'main a[href="/residents/{mine.resident}"]')).not_to_have_count(0)
        expect(page.locator(f'a[href="/residents/{other.resident}"]')).to_have_count(0)
        expect(page.locator(".brand-unit")).to_have_text(name)
        page.locator("#nav-sites").click()  # 切换机构
        expect(page.locator("h1")).to_have_text("全县机构")
        expect(rows.filter(has_text=name)).to_contain_text("当前")


def test_a_county_admin_creates_a_site_user_and_a_county_user_and_sees_each(page: Page, live_app: Flask,
                                                                           live_server: str,
                                                                           committed_db: Database) -> None:
    """县级管理员, without choosing a site: 全县机构 → 管理用户 lists both sites' users; a clerk for 柏棠镇卫生院 and a
    县级督导 are created (blank display names, a double click on 创建) and each lands on a page showing them."""
    build_two_sites(committed_db, live_app.extensions["archiveprint"].settings.instance_dir)
    with committed_db.transaction() as session:
        create_user(session, "county-adm", PASSWORD, "county_admin", display_name="县管理员")
    sign_in(page, live_server, "county-adm", PASSWORD)
    expect(page.locator("h1")).to_have_text("全县机构")
    page.locator("#users-link").click()
    expect(page.locator("table.users tbody tr")).to_have_count(5)  # two sites' clerk and admin, and county-adm
    expect(page.locator("table.users")).to_contain_text("ZFT 诸福屯镇卫生院")

    for username, role, site, shown in (("sun", "clerk", "BT 柏棠镇卫生院", "BT 柏棠镇卫生院"),
                                        ("zhou", "county_supervisor", "全县（县级角色，不属于任何机构）",
                                         "全县（县级角色，不属于任何机构）")):
        page.get_by_label("用户名").fill(username)
        page.locator("#new-user select[name=role]").select_option(role)  # "县级角色" is in the site label too
        page.get_by_label("所属机构").select_option(label=site)
        page.get_by_label("初始密码").fill(PASSWORD)
        page.get_by_label("再输一次").fill(PASSWORD)
        page.get_by_role("button", name="创建").dblclick()  # one user, no error
        expect(page.locator(".flash-info")).to_have_text(f"已创建用户 {username}")
        expect(page.locator(".flash-error")).to_have_count(0)
        expect(page.locator("h1")).to_contain_text(username)  # the display name is the user name
        expect(page.locator("#user-site")).to_contain_text(shown)
        page.get_by_role("link", name="全部用户").click()
    expect(page.locator("table.users tbody tr")).to_have_count(7)
    with committed_db.reader() as session:
        made = dict(session.execute(select(User.username, User.site_id).where(User.username.in_(["sun", "zhou"])))
                    .all())
        bt = session.scalars(select(Site.id).where(Site.code == "BT")).one()
    assert made == {"sun": bt, "zhou": None}


def test_a_county_admin_creates_a_village_doctor_of_a_site_with_its_village_in_one_submit(
        page: Page, browser: Browser, live_app: Flask, live_server: str, committed_db: Database) -> None:
    """Two sites, each with 201 东村 and 202 西村. 县级管理员, in no site: on 管理用户 chooses 村医 and 柏棠镇卫生院,
    and the boxes offered are 柏棠镇卫生院's villages only. With none ticked (and the display name blank) 创建 is
    refused beside the boxes; with its 东村 ticked, a double click creates one user, who signs in and finds 东村's
    张三丰 of 柏棠镇卫生院 only — not 诸福屯镇卫生院's, nor 西村's 宋远桥."""
    sites = build_two_sites(committed_db, live_app.extensions["archiveprint"].settings.instance_dir)
    with committed_db.transaction() as session:
        create_user(session, "county-adm", PASSWORD, "county_admin", display_name="县管理员")
    sign_in(page, live_server, "county-adm", PASSWORD)
    page.locator("#users-link").click()
    form = page.locator("#new-user")
    form.get_by_label("用户名").fill("li")
    form.locator("select[name=role]").select_option("village_doctor")
    expect(form.locator("#villages-field")).to_contain_text("请先在上面的“所属机构”中选择机构")  # 全县: none
    expect(form.get_by_role("checkbox")).to_have_count(0)
    form.get_by_label("所属机构").select_option(label="BT 柏棠镇卫生院")
    boxes = form.get_by_role("checkbox")  # the visible ones: 柏棠镇卫生院's two villages
    expect(boxes).to_have_count(2)
    expect(form.locator(f'.site-villages[data-site="{sites.b.id}"]')).to_contain_text("BT 柏棠镇卫生院")
    expect(form.locator(f'.site-villages[data-site="{sites.a.id}"]')).to_be_hidden()

    form.get_by_label("初始密码").fill(PASSWORD)
    form.get_by_label("再输一次").fill(PASSWORD)
    form.get_by_role("button", name="创建").dblclick()  # no village ticked
    expect(page.locator("#villages-error")).to_have_text("村医至少要负责一个村(居)委会")
    expect(page.locator(".flash-error")).to_have_count(0)
    expect(form.get_by_label("用户名")).to_have_value("li")
    expect(form.get_by_label("所属机构")).to_have_value(str(sites.b.id))
    assert _count(committed_db, select(func.count()).select_from(User).where(User.username == "li")) == 0

    form.get_by_label("初始密码").fill(PASSWORD)
    form.get_by_label("再输一次").fill(PASSWORD)
    form.get_by_role("checkbox", name="东村").check()
    form.get_by_role("button", name="创建").dblclick()  # one user, no error
    expect(page.locator(".flash-info")).to_have_text("已创建用户 li")
    expect(page.locator(".flash-error")).to_have_count(0)
    expect(page.locator("#user-site")).to_contain_text("BT 柏棠镇卫生院")
    expect(page.get_by_role("checkbox", name="东村")).to_be_checked()
    expect(page.get_by_role("checkbox", name="西村")).not_to_be_checked()
    with committed_db.reader() as session:
        made = session.scalars(select(User).where(User.username == "li")).all()
        assert [(user.site_id, [(v.site_id, v.code) for v in user.villages]) for user in made] == [
            (sites.b.id, [(sites.b.id, "201")])]

    doctor_context = browser.new_context()
    doctor = doctor_context.new_page()
    sign_in(doctor, live_server, "li", PASSWORD)
    search = doctor.get_by_role("banner").get_by_role("search")
    search.get_by_role("searchbox").fill("张三丰")
    search.get_by_role("button", name="查找").click()
    expect(doctor.locator(f'main a[href="/residents/{sites.b.resident}"]')).not_to_have_count(0)
    expect(doctor.locator(f'a[href="/residents/{sites.a.resident}"]')).to_have_count(0)
    search.get_by_role("searchbox").fill("宋远桥")  # 柏棠镇卫生院's 西村: not the doctor's
    search.get_by_role("button", name="查找").click()
    expect(doctor.locator("main")).to_contain_text("宋远桥")  # what was asked, as typed
    expect(doctor.locator('main a[href^="/residents/"]')).to_have_count(0)
    doctor_context.close()


def _count(database: Database, stmt: Any) -> int:
    with database.reader() as session:
        return session.scalar(stmt) or 0


def test_a_county_administrator_adds_sites_with_a_double_click_and_enters_one(page: Page, live_server: str,
                                                                              committed_db: Database) -> None:
    """A fresh installation: 新增机构 with 乡镇(街道)名称 left blank (taken from the name), clicked twice, adds one
    site; a second is added on PostgreSQL and refused in words on SQLite (one site only); 进入 clicked twice is
    entered (and audited) once."""
    with committed_db.transaction() as session:
        create_user(session, "county-admin", PASSWORD, "county_admin", display_name="县卫生健康局")
    sign_in(page, live_server, "county-admin", PASSWORD)
    page.goto(f"{live_server}/sites")
    rows = page.locator("#sites tbody tr")
    expect(rows).to_have_count(0)
    for code, name, township in (("BT", "柏棠镇卫生院", "101"), ("XA", "新安镇中心卫生院", "102")):
        page.get_by_label("机构代码").fill(code)
        page.get_by_label("机构名称").fill(name)
        page.get_by_label("县级行政区划代码").fill("130123")
        page.get_by_label("县(市、区)名称").fill("正定县")
        page.get_by_label("乡镇(街道)代码").fill(township)
        page.get_by_role("button", name="新增机构").dblclick()
        if code == "XA" and committed_db.is_sqlite:
            expect(page.locator(".flash-error")).to_contain_text("SQLite 只支持一个机构")
            expect(page.locator("main")).not_to_contain_text("DATABASE_URL")
            break
        expect(page.locator(".flash-success")).to_have_text(f"已新增机构：{name}（{code}）")
        expect(rows.filter(has_text=name)).to_contain_text(name.removesuffix("卫生院").removesuffix("中心"))
    expect(rows).to_have_count(1 if committed_db.is_sqlite else 2)
    assert _count(committed_db, select(func.count()).select_from(Site)) == rows.count()

    rows.filter(has_text="柏棠镇卫生院").get_by_role("button", name="进入").dblclick()
    expect(page.locator(".flash-success")).to_contain_text("现在在 柏棠镇卫生院 工作")
    assert _count(committed_db, select(func.count()).select_from(AuditEntry)
                  .where(AuditEntry.action == "enter", AuditEntry.subject_id == "BT")) == 1
