"""Issue #11.8 in headless Chromium: a clerk uploads a zip bomb, is told at once why it was refused, then imports."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_register_browser import _residents, sign_in
from tests.conftest import setup_township
from tests.register.test_file_limits import write_sheet, wrong_header_then
from tests.web.conftest import good_export

pytestmark = pytest.mark.browser


def test_issue_11_8_a_hostile_file_is_refused_at_once_and_the_next_file_imports(page: Page, live_server,
                                                                                committed_db, tmp_path):
    with committed_db.transaction() as session:
        setup_township(session)
    sign_in(page, live_server, committed_db)
    page.get_by_role("link", name="导入").click()
    bomb = write_sheet(tmp_path / "花名册.xlsx", wrong_header_then(400_000))  # 18 MB of XML in 200 KB
    page.set_input_files("#file", str(bomb))
    page.get_by_role("button", name="上传并检查").click()
    expect(page.locator("main")).to_contain_text("文件过大，未导入：Excel 文件中“xl/worksheets/sheet1.xml”的压缩比")
    expect(page.locator("main")).to_contain_text("超过上限 100 倍")
    expect(page.locator("main")).not_to_contain_text("Traceback")
    assert _residents(committed_db) == 0

    page.goto(f"{live_server}/import")  # the clerk goes back to the upload page and picks the right file
    page.set_input_files("#file", str(good_export(tmp_path / "register.csv")))
    page.get_by_label("自动登记新村").check()
    page.get_by_role("button", name="上传并检查").click()
    expect(page.locator(".verdict.good")).to_contain_text("检查通过")
    page.get_by_role("button", name="确认导入").dblclick()  # a double click imports once
    expect(page.locator(".verdict.good")).to_contain_text("已写入：新增 3 人")
    assert _residents(committed_db) == 3
