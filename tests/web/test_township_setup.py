"""Issue #10.11 and the first run in the web: a fresh installation is set up in the browser (本院所属乡镇), and no
page ever shows command-line advice; a missing step is named with a link to the page that does it."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from flask_login import login_user
from sqlalchemy import func, select

from archiveprint.accounts.models import User
from archiveprint.errors import TOWNSHIP_NOT_SET, ArchiveprintError, NotConfigured, TownshipNotSet
from archiveprint.eventlog import Event
from archiveprint.register.models import Township
from archiveprint.web.auth import Account
from tests.conftest import setup_township
from tests.pdfcheck import compact, page_texts
from tests.web.conftest import csrf_token

CLI_ADVICE = re.compile(r"archiveprint [a-z]")  # a command to type (the footer's bare name is not advice)
SETUP = {"county_code": "130123", "county_name": "正定县", "code": "100", "name": "诸福屯镇", "unit_name": ""}


def townships(database) -> list[tuple[str, str, str, str, str]]:
    with database.reader() as session:
        return [(t.county_code, t.county_name, t.code, t.name, t.unit_name)
                for t in session.scalars(select(Township))]


def test_issue10_11_a_page_needing_the_township_leads_an_admin_to_the_setup_form(client, auth, committed_db):
    auth.login("admin")
    page = client.get("/villages")
    assert not CLI_ADVICE.search(page.get_data(as_text=True))
    response = client.post("/villages", data={"code": "201", "name": "东村", "csrf_token": csrf_token(page)})
    assert response.status_code == 303
    assert response.headers["Location"] == "/settings/township"
    assert "这是新安装的档案室：尚未设置本院所属乡镇。" in client.get("/import").get_data(as_text=True)
    setup = client.get("/settings/township?next=/villages")
    html = setup.get_data(as_text=True)
    assert "县级行政区划代码" in html and not CLI_ADVICE.search(html)


def test_issue10_11_township_setup_validates_in_chinese_and_sets_it_once(client, auth, committed_db):
    auth.login("admin")
    page = client.get("/settings/township")
    token = csrf_token(page)
    blank = client.post("/settings/township", data={"csrf_token": token})
    assert blank.status_code == 400
    html = blank.get_data(as_text=True)
    for message in ("请填写县级行政区划代码（6位数字）", "请填写县(市、区)名称", "请填写乡镇(街道)代码（3位数字）",
                    "请填写乡镇(街道)名称"):
        assert message in html
    wrong = client.post("/settings/township", data={**SETUP, "county_code": "13012", "code": "000",
                                                    "csrf_token": token})
    assert wrong.status_code == 400
    html = wrong.get_data(as_text=True)
    assert "县级行政区划代码应为6位数字" in html and "乡镇(街道)代码应为3位数字（001–999）" in html
    assert townships(committed_db) == []

    done = client.post("/settings/township?next=/villages", data={**SETUP, "code": "１００", "csrf_token": token})
    assert (done.status_code, done.headers["Location"]) == (303, "/villages")
    assert townships(committed_db) == [("130123", "正定县", "100", "诸福屯镇", "诸福屯镇卫生院")]
    shown = client.get("/settings/township").get_data(as_text=True)
    assert "诸福屯镇卫生院" in shown and "130123-100" in shown and 'name="county_code"' not in shown
    assert '<a href="/settings/township" id="township-link">正定县 诸福屯镇</a>' in shown  # every page's foot

    again = client.post("/settings/township", data={**SETUP, "code": "200", "name": "别的镇", "csrf_token": token})
    assert (again.status_code, again.headers["Location"]) == (303, "/settings/township")
    assert townships(committed_db) == [("130123", "正定县", "100", "诸福屯镇", "诸福屯镇卫生院")]
    with committed_db.reader() as session:
        assert session.scalar(select(func.count()).select_from(Event)
                              .where(Event.kind == "township.configured")) == 1


def test_issue10_11_other_roles_are_asked_to_fetch_an_admin(client, auth, committed_db):
    auth.login("clerk")
    page = client.get("/settings/township")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "请管理员先设置本院所属乡镇" in html and 'name="county_code"' not in html
    refused = client.post("/settings/township", data={**SETUP, "csrf_token": csrf_token(client.get("/"))})
    assert refused.status_code == 403
    assert townships(committed_db) == []
    assert "请管理员先设置本院所属乡镇" in client.get("/").get_data(as_text=True)


def test_issue10_11_a_missing_layout_names_the_page_not_the_command(client, auth, committed_db):
    with committed_db.transaction() as session:
        setup_township(session)
    auth.login("clerk")
    page = client.get("/inventory/new")
    response = client.post("/inventory/new", data={"scope": "village", "village": "201", "counters": "李四",
                                                   "csrf_token": csrf_token(page)})
    html = response.get_data(as_text=True)
    assert not CLI_ADVICE.search(html)
    assert "该村还没有分配架位" in html
    assert '<a class="refusal-action" href="/locations/shelve-all">上架全部未上架的档案袋</a>' in html


def test_issue10_11_domain_errors_carry_the_command_only_as_a_cli_hint():
    error = TownshipNotSet()
    assert (str(error), error.action) == (TOWNSHIP_NOT_SET, "setup_township")
    assert "archiveprint township set" in (error.hint or "")
    layout = NotConfigured("尚未载入库房布局", hint="请先运行 archiveprint layout apply 布局文件.yaml")
    assert isinstance(layout, ArchiveprintError) and "archiveprint" not in str(layout)


def test_issue10_11_the_cli_still_prints_the_command(committed_db, tmp_path, monkeypatch):
    from archiveprint.cli import AppContext, main

    url = committed_db.engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("ARCHIVEPRINT_INSTANCE", str(tmp_path / "instance"))
    result = CliRunner().invoke(main, ["village", "add", "201", "东村"], obj=AppContext())
    assert result.exit_code == 1
    assert result.output.splitlines() == ["错误：尚未设置本院所属乡镇",
                                          "请先运行 archiveprint township set（或载入演示数据）"]


def test_issue10_11_the_relayout_page_without_a_layout_links_to_loading_one(client, auth, committed_db):
    with committed_db.transaction() as session:
        setup_township(session)
    auth.login("clerk")
    page = client.get("/locations/relayout?village=201")
    html = page.get_data(as_text=True)
    assert page.status_code == 409
    assert ('<p class="field-error refusal">尚未载入库房布局 '
            '<a class="refusal-action" href="/locations/layout">载入库房布局</a></p>') in html
    assert not CLI_ADVICE.search(html)


@pytest.mark.parametrize(("role", "offered"), [("clerk", True), ("viewer", False)])
def test_issue10_11_the_error_page_offers_the_step_only_to_a_role_that_may_take_it(app, auth, committed_db, role,
                                                                                  offered):
    from archiveprint.web.errors import handle_domain_error

    refusal = NotConfigured("尚未载入库房布局", hint="请先运行 archiveprint layout apply 布局文件.yaml",
                            action="load_layout")
    username = auth.create(role)
    with app.test_request_context("/"), committed_db.reader() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        login_user(Account(user, "token"))
        body, status = handle_domain_error(refusal)
    assert status == 409 and "尚未载入库房布局" in body and not CLI_ADVICE.search(body)
    assert ('<a class="button" href="/locations/layout">载入库房布局</a>' in body) is offered


def test_issue10_11_a_calibration_sheet_from_the_web_names_the_page_from_the_cli_the_command(
        client, auth, committed_db, tmp_path, monkeypatch):
    auth.login("clerk")
    sheet = client.get("/labels/calibrate/sheet.pdf?stock=a4-3x8")
    assert (sheet.status_code, sheet.mimetype) == (200, "application/pdf")
    (web_text,) = page_texts(sheet.data)
    assert "3把量到的数字填入网页：标签→打印机校准" in compact(web_text)
    assert not CLI_ADVICE.search(web_text)

    from archiveprint.cli import AppContext, main

    monkeypatch.setenv("DATABASE_URL", committed_db.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ARCHIVEPRINT_INSTANCE", str(tmp_path / "instance"))
    target = tmp_path / "calibrate.pdf"
    result = CliRunner().invoke(main, ["print", "labels", "--kind", "calibration", "--stock", "a4-3x8", "-o",
                                       str(target)], obj=AppContext(), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (cli_text,) = page_texts(target)
    assert "archiveprintlabelsprintercalibrate打印机名--stocka4-3x8" in compact(cli_text)
