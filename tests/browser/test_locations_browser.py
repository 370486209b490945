"""The archive room in headless Chromium: storage map → shelf → folders, locate from the search box, move / 结案 /
取回 on the locate page, and a re-layout previewed then applied (issue #5)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from archiveprint.db import Database
from archiveprint.locations.services import apply_layout, shelve_village
from archiveprint.register import services
from tests.browser.test_register_browser import SHOTS, sign_in
from tests.conftest import ACTOR
from tests.locations.conftest import T0, small_layout
from tests.web.conftest import People, seed_people

pytestmark = pytest.mark.browser
FIRST = "一号库房 1列 A面 1层"


def shelved(database: Database, *, extra: tuple[str, ...] = ()) -> People:
    """The web test register on the small layout, both villages shelved (then `extra` unshelved 东村 heads)."""
    people = seed_people(database)
    with database.transaction() as session:
        apply_layout(session, small_layout(), actor=ACTOR, now=T0)
        for minute, code in enumerate(("201", "202"), start=1):
            shelve_village(session, services.find_village(session, code), actor=ACTOR,
                           now=T0 + timedelta(minutes=minute))
        east = services.find_village(session, "201")
        for name in extra:
            household = services.create_household(session, east, head_name=name, actor=ACTOR)
            services.register_resident(session, household, name=name, sex="1", relation_to_head="户主", actor=ACTOR)
    return people


def test_map_to_shelf_to_folders_and_locate_from_the_search_box(page: Page, live_server, committed_db):
    shelved(committed_db)
    sign_in(page, live_server, committed_db, role="doctor")
    page.get_by_role("banner").get_by_role("link", name="库房", exact=True).click()  # the menu (the 看板 links it too)
    cell = page.locator('a[data-shelf="K1-M-1-A-1"]')
    expect(cell).to_have_attribute("title", re.compile(rf"{FIRST}.*2/4"))
    expect(page.locator("td.cell.fill-ok")).to_have_count(2)  # 东村's and 西村's first shelves
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"storage-map-{committed_db.engine.dialect.name}.png"), full_page=True)
    cell.click()
    expect(page.locator("h1")).to_have_text(FIRST)
    rows = page.locator("table.shelf-folders tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("张三丰")
    expect(rows.nth(1)).to_contain_text("<b>王</b>")

    page.get_by_role("searchbox", name="查找居民").first.fill("zsf")
    page.keyboard.press("Enter")
    place = page.locator("table.results tbody tr td.place")
    expect(place).to_contain_text(f"{FIRST} 第1位")
    place.get_by_role("link").click()
    expect(page.locator("#address")).to_contain_text(f"{FIRST} 第1位")
    expect(page.locator("#status")).to_have_text("在架")
    expect(page.locator("table.members tbody tr")).to_have_count(3)


def test_move_close_and_reopen_on_the_locate_page(page: Page, live_server, committed_db):
    shelved(committed_db)
    sign_in(page, live_server, committed_db)
    page.goto(f"{live_server}/locations/locate?q=zsf")
    move = page.locator("#move-form")
    move.get_by_label("移到").fill("一号库房 2列 B面 3层 第2位")
    move.get_by_role("button", name="移到新位置").click()
    expect(page.locator(".flash-success")).to_have_text("已移到 一号库房 2列 B面 3层 第2位")
    expect(page.locator("#address")).to_contain_text("一号库房 2列 B面 3层 第2位")

    page.locator("#close-link").get_by_role("link", name="结案…").click()
    close = page.locator("#close-form")
    for name in ("张三丰", "李秀英", "张伟"):
        close.get_by_label(f"结案 {name}").check()
    close.get_by_label("结案原因").select_option(label="迁出")
    close.get_by_label("说明").fill("全户迁往石家庄")
    close.get_by_role("button", name="确认结案").click()
    expect(page.locator(".flash-success")).to_contain_text("档案袋已移入结案区：二号库房 结案柜 1柜 1层 第1位")
    page.locator("dd.place").get_by_role("link").click()
    expect(page.locator("#status")).to_have_text("结案区")
    expect(page.locator("table.members tbody tr.closed")).to_have_count(3)

    # 2列 B面 is outside 东村's run, so the folder returns to its home position in the run.
    reopen = page.locator("#reopen-form")
    reopen.get_by_label("原因").fill("登记错误")
    reopen.get_by_role("button", name="取回本村架位").click()
    expect(page.locator(".flash-success")).to_contain_text(f"已从结案区取回：{FIRST} 第1位")
    expect(page.locator("#status")).to_have_text("在架")
    expect(page.locator("table.members tbody tr.closed")).to_have_count(0)
    history = page.locator("table.history tbody tr")
    expect(history).to_have_count(4)
    expect(history.first).to_contain_text("从结案区取回")


def test_issue_10_2_close_one_member_then_the_whole_household_then_take_it_back(page: Page, live_server,
                                                                                 committed_db):
    people = shelved(committed_db)
    sign_in(page, live_server, committed_db)
    page.goto(f"{live_server}/households/{people.household}")
    page.locator("#household-close").get_by_role("link", name="结案…").click()
    expect(page.locator("h1")).to_contain_text("东村 第1户 · 户主 张三丰")
    close = page.locator("#close-form")
    for name in ("张三丰", "李秀英", "张伟"):  # every member whose record could close is named, none ticked
        expect(close.get_by_label(f"结案 {name}")).not_to_be_checked()
    expect(close.get_by_label("结案原因")).to_have_value("")
    expect(close.get_by_label("结案日期")).to_have_value("2026-11-25")

    close.get_by_label("结案 张伟").check()
    close.get_by_role("button", name="确认结案").click()  # no reason chosen
    expect(page.locator("#close-error")).to_have_text("请选择结案原因")
    expect(close.get_by_label("结案 张伟")).to_be_checked()  # the clerk's choice is kept
    expect(page.locator("table.members tbody tr.closed")).to_have_count(0)

    close.get_by_label("结案原因").select_option(label="死亡")
    close.get_by_label("结案日期").fill("2026-11-20")
    close.get_by_role("button", name="确认结案").dblclick()
    expect(page.locator(".flash-success")).to_have_text("已结案：张伟。该户还有成员在档，档案袋留在原位。")
    expect(page.locator("table.members tbody tr.closed")).to_have_count(1)
    expect(page.locator("table.members tbody tr.closed")).to_contain_text("张伟")
    expect(page.locator("dd.place")).to_contain_text(f"{FIRST} 第1位")
    page.get_by_role("link", name="张伟").first.click()
    history = page.locator("table.history tbody tr").filter(has_text="结案")
    expect(history).to_have_count(1)
    expect(history).to_contain_text("原因：死亡")
    expect(history).to_contain_text("日期：2026-11-20")
    page.go_back()

    page.locator("#household-close").get_by_role("link", name="结案…").click()
    expect(close.get_by_label("结案 张伟")).to_have_count(0)  # already closed: nothing to tick
    close.get_by_label("结案 张三丰").check()
    close.get_by_label("结案 李秀英").check()
    close.get_by_label("结案原因").select_option(label="迁出")
    close.get_by_role("button", name="确认结案").click()
    expect(page.locator(".flash-success")).to_have_text(
        "已结案：张三丰、李秀英。全户已结案，档案袋已移入结案区：二号库房 结案柜 1柜 1层 第1位")
    expect(page.locator("#household-close")).to_have_count(0)

    page.locator("dd.place").get_by_role("link").click()
    expect(page.locator("#status")).to_have_text("结案区")
    reopen = page.locator("#reopen-form")
    reopen.get_by_label("原因").fill("登记错误")
    reopen.get_by_role("button", name="取回本村架位").click()
    expect(page.locator(".flash-success")).to_contain_text(f"已从结案区取回：{FIRST} 第1位")
    expect(page.locator("#status")).to_have_text("在架")
    expect(page.locator("table.members tbody tr.closed")).to_have_count(0)


def test_issue_10_9_first_shelving_of_every_village_from_the_storage_map(page: Page, live_server, committed_db):
    seed_people(committed_db)  # a fresh install: households of 东村 and 西村, a layout, nothing shelved
    with committed_db.transaction() as session:
        apply_layout(session, small_layout(), actor=ACTOR, now=T0)
    sign_in(page, live_server, committed_db)
    page.get_by_role("banner").get_by_role("link", name="库房", exact=True).click()  # the menu (the 看板 links it too)
    offer = page.locator("#shelve-all-offer")
    expect(offer).to_contain_text("3 袋档案还没有上架。")
    offer.get_by_role("link", name="上架全部未上架的档案袋").click()

    expect(page.locator("#shelve-all-placed")).to_have_text("3")
    expect(page.locator("#shelve-all-villages")).to_have_text("2")
    rows = page.locator("table.shelve-all-villages tbody tr")
    expect(rows.nth(0)).to_contain_text("K1-M-1-A-1 … K1-M-1-A-1")
    expect(rows.nth(1)).to_contain_text("K1-M-1-A-2 … K1-M-1-A-2")
    page.get_by_role("button", name="确认上架").dblclick()

    expect(page.locator(".flash-success")).to_have_text("已上架 3 袋（2 个村）")
    expect(page.locator("#shelve-all-offer")).to_have_count(0)
    east, west = page.locator('tr[data-village="201"]'), page.locator('tr[data-village="202"]')
    expect(east.locator("td.overflow")).to_contain_text("再有 3 袋就会超出")  # 2 folders on a shelf of 4
    expect(west.locator("td.overflow")).to_have_text("还能放 43 袋 （本村架位 3 袋，其后空架位 40 袋）")
    expect(page.locator("table.village-fill")).not_to_contain_text("还没有分配架位")

    for row in (east, west):
        expect(row.locator("td").nth(5)).to_have_text("0")  # 待上架: every folder has its address
    page.goto(f"{live_server}/locations/locate?q=zsf")
    expect(page.locator("#address")).to_contain_text(f"{FIRST} 第1位")
    page.goto(f"{live_server}/locations/locate?q=<b>王</b>")
    expect(page.locator("#address")).to_contain_text(f"{FIRST} 第2位")
    page.goto(f"{live_server}/locations/locate?q=赵老汉")
    expect(page.locator("#address")).to_contain_text("一号库房 1列 A面 2层 第1位")


def test_issue_10_11_to_13_locate_in_words_a_clerk_reads_in_both_languages(page: Page, live_server, committed_db):
    seed_people(committed_db)
    with committed_db.transaction() as session:  # 东村 shelved, 西村 waiting
        apply_layout(session, small_layout(), actor=ACTOR, now=T0)
        shelve_village(session, services.find_village(session, "201"), actor=ACTOR, now=T0)
    sign_in(page, live_server, committed_db)
    page.get_by_role("searchbox", name="查找居民").first.fill("赵老汉")
    page.keyboard.press("Enter")
    expect(page.locator("table.results tbody tr td.place")).to_have_text("未上架")  # said once
    page.goto(f"{live_server}/locations/locate?q=zsf")
    touches = page.locator("ul.touches")
    expect(touches).to_contain_text("建户")
    expect(touches).not_to_contain_text("household.created")
    page.get_by_role("link", name="English").click()
    expect(page.locator("#address")).to_contain_text("一号库房 Column 1 Side A Shelf 1 Position 1")
    expect(touches).to_contain_text("Household created")
    expect(touches).to_contain_text("Shelve")
    page.get_by_role("link", name="K1-M-1-A-1").click()
    expect(page.locator("h1")).to_have_text("一号库房 Column 1 Side A Shelf 1")


def test_relayout_preview_then_apply(page: Page, live_server, committed_db):
    shelved(committed_db, extra=("孙甲", "孙乙", "孙丙"))
    sign_in(page, live_server, committed_db)
    page.goto(f"{live_server}/locations/relayout")
    page.get_by_label("需要扩充架位的村(居)委会").select_option("201")
    page.get_by_label("预留增长").fill("0")
    page.get_by_role("button", name="预览方案").click()
    expect(page.locator("#placed")).to_have_text("3")
    moves = page.locator("table.moves tbody tr")
    expect(moves.filter(has_text="赵老汉")).to_have_count(1)
    moved = page.locator("#moved").inner_text()
    page.get_by_role("button", name="执行方案").click()
    expect(page.locator(".flash-success")).to_contain_text(f"已重新排架：挪动 {moved} 袋，新上架 3 袋")
    expect(page.locator("#moved")).to_have_text("0")
    expect(page.locator("#placed")).to_have_text("0")
