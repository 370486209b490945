"""Issue #10.6–10.8 in headless Chromium, as a clerk walks them: the first import of a new site (villages
registered from the check page and from the 村(居)委会 page), what the import fixed, and 待核实."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from archiveprint.db import Database
from archiveprint.register import services
from archiveprint.register.idcard import make_id_number
from archiveprint.register.models import Resident, Village
from tests.browser.test_register_browser import sign_in
from tests.conftest import ACTOR
from tests.web.conftest import write_export

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots")


@pytest.fixture
def live_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    return getattr(request, "param", {})


@pytest.fixture
def new_site(committed_db: Database) -> Database:
    """A fresh installation: the township is set, no village is registered yet."""
    with committed_db.transaction() as session:
        services.configure_township(session, "130123", "正定县", "100", "诸福屯镇", actor=ACTOR)
    return committed_db


def platform_export(path: Path) -> Path:
    """12 members of 东关村 (205) and 3 of 南村 (203): a file with nothing wrong in it."""
    rows = []
    for serial in range(1, 13):
        number = make_id_number("130123", date(1960, 1, serial), 2 * serial + 1)
        rows.append((f"13012310020500{serial:03d}", f"东关{serial}", "男", f"1960-01-{serial:02d}", number, "户主",
                     f"东关{serial}", f"G{serial}", f"东关村{serial}号", "东关村", "", "2020-01-01", ""))
    for serial in range(1, 4):
        number = make_id_number("130123", date(1970, 2, serial), 2 * serial + 1)
        rows.append((f"13012310020300{serial:03d}", f"南{serial}", "男", f"1970-02-{serial:02d}", number, "户主",
                     f"南{serial}", f"S{serial}", f"南村{serial}号", "南村", "", "2020-01-01", ""))
    return write_export(path, rows)


def count(database: Database, model: type) -> int:
    with database.reader() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _first_import_of_a_new_site(page: Page, live_server: str, database: Database, tmp_path: Path) -> None:
    sign_in(page, live_server, database)
    page.get_by_role("link", name="导入").click()
    page.set_input_files("#file", str(platform_export(tmp_path / "平台导出.csv")))
    page.get_by_role("button", name="上传并检查").click()

    expect(page.locator(".verdict.bad")).to_contain_text("文件本身不用修改")
    groups = page.locator("table.problems > tbody > tr")
    expect(groups).to_have_count(2)  # one line per village, not one per row
    expect(groups.nth(0)).to_contain_text("村(居)委会“东关村”未登记：12 行")
    expect(groups.nth(0).locator("td.rows")).to_have_text("2–13")
    rows = groups.nth(0).locator("details table.rows-list tbody tr")
    expect(rows.first).to_be_hidden()
    groups.nth(0).get_by_text("逐行列出").click()
    expect(rows).to_have_count(12)
    expect(rows.first).to_be_visible()
    expect(groups.nth(1)).to_contain_text("村(居)委会“南村”未登记：3 行")
    expect(page.get_by_label("东关村 的代码")).to_have_value("205")
    expect(page.get_by_label("南村 的代码")).to_have_value("203")
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"import-new-site-{database.engine.dialect.name}.png"), full_page=True)
    assert count(database, Village) == 0

    page.get_by_role("button", name="登记这 2 个村并重新检查").dblclick()  # a double click registers them once
    expect(page.locator(".verdict.good")).to_contain_text("检查通过")
    expect(page.locator("ul.counts")).to_contain_text("15将新增")
    assert count(database, Village) == 2
    page.get_by_role("button", name="确认导入").click()
    expect(page.locator(".verdict.good")).to_contain_text("已写入：新增 15 人")
    assert count(database, Resident) == 15


def test_issue10_6_first_import_of_a_new_site_registers_its_villages_in_one_click(page: Page, live_server, new_site,
                                                                                 tmp_path):
    _first_import_of_a_new_site(page, live_server, new_site, tmp_path)


@pytest.mark.parametrize("live_settings", [{"import_background_rows": 2}], indirect=True)
def test_issue10_6_a_large_file_checked_in_the_background_shows_the_same_grouped_report(page: Page, live_server,
                                                                                       new_site, tmp_path):
    _first_import_of_a_new_site(page, live_server, new_site, tmp_path)


def test_issue10_6_a_clerk_registers_a_village_on_the_villages_page(page: Page, live_server, new_site):
    sign_in(page, live_server, new_site)
    page.goto(f"{live_server}/villages")
    expect(page.locator("p.empty")).not_to_contain_text("archiveprint")
    page.get_by_role("button", name="登记", exact=True).click()  # both boxes left blank
    expect(page.locator(".field-error")).to_have_text(["请填写村代码（3位数字）", "请填写村(居)委会名称"])
    page.get_by_label("代码").fill("25")
    page.get_by_label("名称").fill("东关村")
    page.get_by_role("button", name="登记", exact=True).click()
    expect(page.locator(".field-error")).to_have_text(["村代码应为3位数字（001–999）"])
    page.get_by_label("代码").fill("205")
    page.get_by_role("button", name="登记", exact=True).click()
    expect(page.locator("table.villages tbody tr")).to_have_count(1)
    expect(page.locator("table.villages tbody tr").first).to_contain_text("205")
    expect(page.locator("table.villages tbody tr").first).to_contain_text("东关村")
    page.get_by_label("代码").fill("206")
    page.get_by_label("名称").fill("东关村")
    page.get_by_role("button", name="登记", exact=True).click()
    expect(page.locator(".field-error")).to_have_text(["村(居)委会“东关村”已登记，代码 205"])
    assert count(new_site, Village) == 1


def test_issue10_7_the_check_lists_the_values_it_normalised(page: Page, live_server, new_site, tmp_path):
    with new_site.transaction() as session:
        services.add_village(session, "201", "东村", actor=ACTOR)
    full = make_id_number("130123", date(1956, 3, 7), 11)
    path = write_export(tmp_path / "东村.csv", [
        ("13012310020100001", "张三丰", "男", "1956/3/7", full[:6] + full[8:17], "户主", "张三丰", "H1", "东村1号",
         "东村", "１３８００１３８０００", "2020/5/1", ""),
        ("13012310020100002", "李 秀英", "女", "1958/6/1", "", "配偶", "张三丰", "H1", "东村1号", "东村", "",
         "2020-05-01", ""),
    ])
    sign_in(page, live_server, new_site)
    page.get_by_role("link", name="导入").click()
    page.set_input_files("#file", str(path))
    page.get_by_role("button", name="上传并检查").click()
    expect(page.locator(".verdict.good")).to_contain_text("检查通过")
    expect(page.locator("ul.counts")).to_contain_text("6已规范")
    fixes = page.locator("table.normalised > tbody > tr")
    expect(fixes).to_have_count(5)
    upgraded = fixes.filter(has_text="15位身份证号升级为18位")
    expect(upgraded.locator("td.example .old")).to_have_text(full[:6] + full[8:17])
    expect(upgraded.locator("td.example .new")).to_have_text(full)
    dates = fixes.filter(has_text="出生日期")
    expect(dates.locator(":scope > td.num")).to_have_text("2")
    dates.get_by_text("逐行列出").click()
    expect(dates.locator("table.rows-list tbody tr")).to_have_text(["21956/3/71956-03-07", "31958/6/11958-06-01"])
    expect(fixes.filter(has_text="全角数字或字母改为半角").locator("td.example .new")).to_have_text("13800138000")
    expect(fixes.filter(has_text="姓名中的空格或间隔号已规范").locator("td.example .new")).to_have_text("李秀英")
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"import-normalised-{new_site.engine.dialect.name}.png"), full_page=True)
    page.get_by_role("button", name="确认导入").click()
    expect(page.locator(".verdict.good")).to_contain_text("已写入：新增 2 人")
    expect(page.locator("table.normalised > tbody > tr")).to_have_count(5)  # still listed after the import


def test_issue10_8_a_questionable_date_and_phone_import_flagged_and_are_cleared(page: Page, live_server, new_site,
                                                                              tmp_path):
    with new_site.transaction() as session:
        services.add_village(session, "201", "东村", actor=ACTOR)
    path = write_export(tmp_path / "东村.csv", [
        ("13012310020100001", "张三丰", "男", "1956-03-07", make_id_number("130123", date(1956, 3, 7), 11), "户主",
         "张三丰", "H1", "东村1号", "东村", "1380013800", "1950-05-01", ""),
        ("13012310020100002", "李秀英", "女", "1958-06-01", "", "配偶", "张三丰", "H1", "东村1号", "东村", "",
         "2020-05-01", ""),
    ])
    sign_in(page, live_server, new_site)
    page.get_by_role("link", name="导入").click()
    page.set_input_files("#file", str(path))
    page.get_by_role("button", name="上传并检查").click()
    expect(page.locator(".verdict.good")).to_contain_text("检查通过")
    flagged = page.locator("table.flagged > tbody > tr")
    expect(flagged).to_have_count(2)
    expect(flagged.nth(0).locator("td")).to_have_text(
        ["2", "建档日期", "1950-05-01（出生日期 1956-03-07） 130123-100-201-00001 张三丰", "建档日期早于出生日期"])
    expect(flagged.nth(1)).to_contain_text("联系电话位数不对")
    page.get_by_role("button", name="确认导入").click()
    expect(page.locator(".verdict.good")).to_contain_text("已写入：新增 2 人")

    page.get_by_role("link", name="查找").first.click()
    page.get_by_role("link", name="待核实（1 人）").click()
    results = page.locator("table.results tbody tr")
    expect(results).to_have_count(1)
    results.first.get_by_role("link", name="张三丰").click()
    expect(page.locator(".title-row .badge-review")).to_have_text("待核实")
    flags = page.locator("table.review-flags tbody tr")
    expect(flags).to_have_count(2)
    expect(flags.nth(1)).to_contain_text("1380013800")
    flags.nth(1).get_by_role("button", name="已核实，清除标记").click()
    expect(flags).to_have_count(1)
    flags.nth(0).get_by_role("button", name="已核实，清除标记").dblclick()  # the second click finds it gone
    expect(page.locator("#review-flags")).to_have_count(0)
    expect(page.locator("table.history")).to_contain_text("已核实")
    with new_site.reader() as session:
        person = session.scalars(select(Resident).where(Resident.name == "张三丰")).one()
        assert (person.review_flags, person.registered_on, person.phone) == (None, date(1950, 5, 1), "1380013800")
    page.get_by_role("link", name="查找").first.click()
    expect(page.get_by_role("link", name="待核实（1 人）")).to_have_count(0)
