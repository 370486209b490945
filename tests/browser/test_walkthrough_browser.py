"""Issue #10 "Done means": the README's walkthrough, on a fresh installation with no demo data, walked in headless
Chromium as a clerk would — the one command-line step (the first administrator), then only the browser: set the
township, import the platform export (registering its villages from the check), load the storage layout, shelve
every folder, print folder labels and forms, lend a folder and return it. Every PDF is opened and its barcodes
decoded."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from urllib.parse import urljoin

import pytest
from click.testing import CliRunner
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from archiveprint.cli import AppContext, main
from archiveprint.db import Database
from archiveprint.eventlog import Event
from archiveprint.labels.services import label_stocks
from archiveprint.lending.models import Loan
from archiveprint.register.codes import folder_code
from archiveprint.register.idcard import make_id_number
from archiveprint.resources import storage_layout_dir
from tests.labels.scan import cell_image
from tests.pdfcheck import compact, decode_barcodes, page_texts, rasterize, read
from tests.web.conftest import write_export

pytestmark = pytest.mark.browser
PASSWORD = "first-admin-2026"
DPI = 200
DAY = re.compile(r"-\d{8}\.pdf$")


@pytest.fixture
def live_app(live_app: Flask) -> Flask:
    """A fresh installation runs on the real clock (loans, the register's month and file names agree)."""
    live_app.config.pop("ARCHIVEPRINT_TODAY", None)
    return live_app


def platform_export(path: Path) -> Path:
    """The platform's export for a new site: 东关村 (205) two households, 南村 (203) one; nothing wrong in it."""
    def person(code: str, name: str, born: date, serial: int, relation: str, head: str, number: str, address: str,
               village: str) -> tuple[str, ...]:
        return (code, name, "男" if serial % 2 else "女", f"{born:%Y-%m-%d}",
                make_id_number("130123", born, serial), relation, head, number, address, village, "",
                "2020-01-01", "")
    return write_export(path, [
        person("13012310020500001", "王建国", date(1960, 1, 1), 1, "户主", "王建国", "G1", "东关村1号", "东关村"),
        person("13012310020500002", "李桂兰", date(1962, 2, 2), 2, "配偶", "王建国", "G1", "东关村1号", "东关村"),
        person("13012310020500003", "赵小平", date(1975, 3, 3), 3, "户主", "赵小平", "G2", "东关村2号", "东关村"),
        person("13012310020300001", "孙大海", date(1958, 4, 4), 5, "户主", "孙大海", "S1", "南村1号", "南村"),
    ])


def create_first_admin(database: Database, instance: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's one command-line step: `archiveprint user create admin --role admin` (password typed twice)."""
    monkeypatch.setenv("DATABASE_URL", database.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ARCHIVEPRINT_INSTANCE", str(instance))
    result = CliRunner().invoke(main, ["user", "create", "admin", "--role", "admin"], obj=AppContext(),
                                input=f"{PASSWORD}\n{PASSWORD}\n", catch_exceptions=False)
    assert result.exit_code == 0, result.output


def download(page: Page, link_name: str | re.Pattern[str], folder: Path) -> Path:
    with page.expect_download() as info:
        page.get_by_role("link", name=link_name).first.click()
    saved = folder / info.value.suggested_filename
    info.value.save_as(saved)
    return saved


def opened_pdf(page: Page, link_name: str, folder: Path) -> Path:
    """A PDF the browser shows inline (a receipt, the register): fetched with the page's own session."""
    href = page.get_by_role("link", name=link_name).first.get_attribute("href")
    assert href
    response = page.request.get(urljoin(page.url, href))
    assert (response.status, response.headers["content-type"]) == (200, "application/pdf")
    saved = folder / f"{link_name}.pdf"
    saved.write_bytes(response.body())
    return saved


def test_issue10_the_readme_walkthrough_on_a_fresh_installation(page: Page, live_server: str, live_app: Flask,
                                                                committed_db: Database, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch):
    problems: list[str] = []  # script errors, CSP violations and server errors (a form sent back with its
    # field errors answers 400, which Chromium logs too: that one is the page working)
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" and "status of 400" not in message.text else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("response", lambda response: problems.append(f"{response.status} {response.url}")
            if response.status >= 500 else None)
    create_first_admin(committed_db, tmp_path / "cli-instance", monkeypatch)

    # Sign in: a fresh installation asks for its township first.
    page.goto(f"{live_server}/login")
    page.get_by_label("用户名").fill("admin")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    notice = page.locator(".setup-needed")
    expect(notice).to_contain_text("这是新安装的档案室：尚未设置本院所属乡镇。")
    notice.get_by_role("link", name="设置本院所属乡镇").click()
    page.get_by_role("button", name="设置本院所属乡镇").click()  # every box left blank
    expect(page.locator(".field-error")).to_have_text(["请填写县级行政区划代码（6位数字）", "请填写县(市、区)名称",
                                                       "请填写乡镇(街道)代码（3位数字）", "请填写乡镇(街道)名称"])
    page.get_by_label("县级行政区划代码").fill("130123")
    page.get_by_label("县(市、区)名称").fill("正定县")
    page.get_by_label("乡镇(街道)代码").fill("100")
    page.get_by_label("乡镇(街道)名称").fill("诸福屯镇")  # 本院名称 left blank: 诸福屯镇卫生院
    page.get_by_role("button", name="设置本院所属乡镇").dblclick()
    expect(page.locator(".flash-success")).to_have_text(
        "已设置本院所属乡镇：正定县 诸福屯镇（档案编号前9位 130123-100）")
    expect(page.locator(".brand-unit")).to_have_text("诸福屯镇卫生院")
    expect(page.locator(".setup-needed")).to_have_count(0)

    # Import the platform export; its villages are registered from the check in one click.
    page.get_by_role("link", name="导入", exact=True).click()
    page.set_input_files("#file", str(platform_export(tmp_path / "平台导出.csv")))
    page.get_by_role("button", name="上传并检查").click()
    expect(page.locator(".verdict.bad")).to_contain_text("文件本身不用修改")
    page.get_by_role("button", name="登记这 2 个村并重新检查").click()
    expect(page.locator(".verdict.good")).to_contain_text("检查通过")
    page.get_by_role("button", name="确认导入").click()
    expect(page.locator(".verdict.good")).to_contain_text("已写入：新增 4 人")

    # Load the storage layout (the shipped example), then shelve every folder from the storage map.
    page.get_by_role("link", name="库房", exact=True).click()
    page.get_by_role("link", name="载入库房布局").first.click()
    page.set_input_files("#layout-upload input[type=file]", str(storage_layout_dir() / "example-township.yaml"))
    page.get_by_role("button", name="上传并预览").click()
    expect(page.locator("#added")).to_have_text("802")
    page.get_by_role("button", name="应用此布局").click()
    page.get_by_role("link", name="库房", exact=True).click()
    offer = page.locator("#shelve-all-offer")
    expect(offer).to_contain_text("3 袋档案还没有上架。")
    offer.get_by_role("link", name="上架全部未上架的档案袋").click()
    expect(page.locator("#shelve-all-placed")).to_have_text("3")
    page.get_by_role("button", name="确认上架").click()
    expect(page.locator(".flash-success")).to_have_text("已上架 3 袋（2 个村）")
    expect(page.locator("#shelve-all-offer")).to_have_count(0)

    # Folder labels for 东关村's households, from the label centre.
    page.get_by_role("link", name="标签", exact=True).click()
    page.wait_for_load_state("domcontentloaded")
    page.get_by_label("标签种类").select_option("folder")
    expect(page.get_by_label("标签纸", exact=True)).to_have_value("a4-3x8")
    page.get_by_label("村(居)委会").select_option("205")
    page.get_by_role("button", name="开始打印").click()
    expect(page.locator("#job-status")).to_have_text("完成", timeout=60_000)
    labels = download(page, re.compile("下载"), tmp_path)
    assert labels.name.startswith("户档案袋标签-东关村-") and DAY.search(labels.name), labels.name
    (_sheet,) = read(labels).pages
    image = rasterize(labels.read_bytes(), 0, DPI)
    stock = label_stocks()["a4-3x8"]
    found = {index: decode_barcodes(cell_image(image, stock, index, DPI)) for index in range(1, stock.per_page + 1)}
    assert {index: codes for index, codes in found.items() if codes} == {
        1: [folder_code("130123100205", 1).value], 2: [folder_code("130123100205", 2).value]}
    assert "王建国" in compact(page_texts(labels)[0])

    # Forms for 东关村 from the print centre.
    page.get_by_role("link", name="打印中心").click()
    page.get_by_label("表单套组").select_option(label="新建档套表")
    page.get_by_label("村(居)委会").select_option("205")
    page.get_by_role("button", name="开始打印").click()
    expect(page.locator("#job-status")).to_have_text("完成", timeout=60_000)
    expect(page.locator("#job-done")).to_contain_text("已生成 18 页")  # 3 residents × 6 A4 pages
    forms = download(page, re.compile("下载"), tmp_path)
    assert forms.name.startswith("新建档套表-东关村-") and DAY.search(forms.name), forms.name
    assert len(read(forms).pages) == 18
    assert "王建国" in compact(page_texts(forms)[1])
    refiling = decode_barcodes(rasterize(forms.read_bytes(), 1, DPI))
    assert len(refiling) == 1 and refiling[0].startswith("13012310020500001"), refiling

    # Lend 王建国's folder to a borrower registered on the 借阅人 page: found by name, 借出 from his page.
    folder = folder_code("130123100205", 1)
    page.get_by_role("link", name="借阅", exact=True).click()
    page.get_by_role("link", name="借阅人", exact=True).click()
    page.get_by_label("编号（登录名或简称，不含空格）").fill("liys")
    page.get_by_label("类别").select_option("village_doctor")
    page.get_by_label("姓名或单位名称").fill("李医生")
    page.get_by_label("村医负责的村（代码或名称，用逗号分隔）").fill("205")
    page.get_by_role("button", name="登记").click()
    expect(page.locator("table.borrowers tbody tr")).to_have_count(1)
    page.get_by_role("searchbox", name="查找居民").first.fill("王建国")
    page.keyboard.press("Enter")
    page.locator("table.results tbody tr").first.get_by_role("link", name="王建国").click()
    expect(page.locator("#folder-address")).to_have_text("一号库房 1列 B面 1节 2层 第1位")  # 南村 took 1层
    page.locator("#action-checkout").click()
    expect(page.get_by_label("档案袋或居民档案编号")).to_have_value(folder.value)
    page.get_by_label("借阅人（不选则放行给申请人）").select_option("liys")
    page.get_by_label("借阅事由").select_option("follow_up")
    page.get_by_role("button", name="借出").click()
    expect(page.locator(".loan-state")).to_have_text("借出中")
    receipt = opened_pdf(page, "借阅凭条（PDF）", tmp_path)
    loan_code = page.locator("h1 .code").inner_text()
    assert set(decode_barcodes(rasterize(receipt.read_bytes(), 0, 300))) == {loan_code, folder.value}

    page.get_by_role("link", name="借阅", exact=True).click()
    rows = page.locator("table.loans tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(loan_code)
    expect(rows.first).to_contain_text("李医生")
    rows.first.get_by_role("link", name=loan_code).click()
    page.get_by_role("button", name="确认归还").click()
    expect(page.locator(".loan-state")).to_have_text("已归还")
    page.get_by_role("link", name="借阅", exact=True).click()
    expect(page.locator("table.loans tbody tr").first).to_contain_text("完好")
    register = opened_pdf(page, "打印本月借阅登记表（PDF）", tmp_path)
    (sheet,) = page_texts(register)
    assert "共1笔，已还1，未还0" in compact(sheet)
    assert f"{folder.display}王建国李医生随访" in compact(sheet) and "完好" in compact(sheet)
    with committed_db.reader() as session:  # the loan and its return are events of the folder's history
        loan = session.scalars(select(Loan)).one()
        assert (loan.out_by, loan.purpose, loan.return_condition) == ("admin", "follow_up", "intact")
        kinds = session.scalars(select(Event.kind).where(Event.entity_type == "loan", Event.entity_id == str(loan.id))
                                .order_by(Event.id)).all()
        assert kinds == ["loan.checked_out", "loan.returned"]
    assert problems == [], problems
