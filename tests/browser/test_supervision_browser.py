"""督导 at tablet width in Chromium: a clerk enters 城关社区's 常住人口 from the 督导 menu and reads the village's
建档率, its gap to the target and the footnote that defines it; nothing widens the page (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy.orm import Session

from archiveprint.accounts.services import create_user
from archiveprint.db import Database
from tests.browser.conftest import sign_in
from tests.indicators.conftest import build_town

pytestmark = pytest.mark.browser
TABLET = {"width": 768, "height": 1024}
PASSWORD = "correct-horse-9"


def test_a_clerk_enters_a_population_and_reads_the_village_rate_and_its_definition(
        browser: Browser, live_server: str, committed_db: Database) -> None:
    with Session(committed_db.engine) as session:
        build_town(session)
        create_user(session, "wang", PASSWORD, "clerk", display_name="王档案")
        session.commit()
    context = browser.new_context(viewport=TABLET, locale="zh-CN")
    page = context.new_page()
    sign_in(page, live_server, "wang", PASSWORD)

    page.get_by_text("菜单", exact=True).click()  # the menu folds at tablet width
    page.get_by_role("link", name="督导", exact=True).click()
    expect(page.locator("#rates-001 td[data-measure=overall]")).to_contain_text("未录入常住人口")
    expect(page.locator("#not-entered")).to_contain_text("城关社区")

    page.locator(".subnav").get_by_role("link", name="常住人口", exact=True).click()
    page.locator("#village-001").get_by_role("link", name="录入").click()
    expect(page.locator("#figure-village")).to_have_value("001")
    page.get_by_label("常住人口", exact=True).fill("2")
    page.get_by_label("65岁及以上").fill("1")
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".flash-success")).to_contain_text("已录入 城关社区 2026 年常住人口")
    expect(page.locator("#village-001")).to_contain_text("网页录入")

    page.locator(".subnav").get_by_role("link", name="指标", exact=True).click()
    cell = page.locator("#rates-001 td[data-measure=overall]")
    expect(cell).to_contain_text("50.0%")  # 子, 1 of 2
    expect(cell).to_contain_text("1/2")
    expect(cell).to_contain_text("还差 1 人")  # 90 % of 2 is 1.8: 2 needed
    expect(page.locator("#rates-001 td[data-measure=elderly]")).to_contain_text("0.0%")  # 子 is 46: 0 of 1
    header = page.locator("#col-overall")
    expect(header).to_have_attribute("title", "建档率 = 建档人数 / 辖区内常住居民数 × 100%")
    header.locator("sup a").click()
    definition = page.locator("#def-rate")
    expect(definition).to_contain_text("健康档案建档率 = 建档人数 / 辖区内常住居民数 × 100%")
    expect(definition).to_contain_text("截至 2026-11-25")
    assert page.url.endswith("#def-rate")
    expect(page.locator("#rates-total td[data-measure=overall]")).to_contain_text("56.2%")  # 9 of 16
    assert page.evaluate("document.documentElement.scrollWidth") <= TABLET["width"]
    context.close()
