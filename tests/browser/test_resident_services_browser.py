"""#12 in Chromium: a clerk enters a 预产期 on a resident's page and records the first antenatal check, after which
find_due no longer lists it; a village doctor cannot record for a resident outside their villages (404)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from archiveprint.accounts.services import create_user
from archiveprint.db import Database
from archiveprint.due.models import ServiceVisit
from archiveprint.due.queries import find_due
from archiveprint.register import services
from archiveprint.register.models import Household
from tests.browser.conftest import sign_in
from tests.conftest import ACTOR, TODAY
from tests.web.conftest import PASSWORD, seed_people

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots")


@pytest.fixture
def mother(committed_db: Database) -> str:
    """王芳, 30, daughter-in-law in 张三丰's household in 东村 (201), with no dates yet; a clerk and two doctors."""
    people = seed_people(committed_db)
    with committed_db.transaction() as session:
        home = session.get(Household, people.household)
        code = services.register_resident(session, home, name="王芳", sex="2", birth_date=date(1996, 4, 2),
                                          relation_to_head="儿媳", actor=ACTOR).archive_code
        create_user(session, "clerk1", PASSWORD, "clerk", display_name="王档案")
        create_user(session, "west", PASSWORD, "village_doctor", display_name="西村村医",
                    villages=[services.find_village(session, "202")])
    return code


def due_for(database: Database, code: str) -> list[tuple[str, str]]:
    with database.reader() as session:
        return [(item.schedule, item.visit_name) for item in find_due(session, TODAY).items
                if item.archive_code == code]


def test_a_clerk_enters_a_due_date_and_records_the_visit_it_made_due(page: Page, live_server, committed_db,
                                                                     mother):
    sign_in(page, live_server, "clerk1", PASSWORD)
    page.goto(f"{live_server}/?q=王芳")
    page.get_by_role("link", name="王芳", exact=True).click()
    card = page.locator("#services")
    expect(card.locator("#date-due_date")).to_have_text("—")
    expect(card.locator("table.service-visits")).to_have_count(0)
    expect(card).to_contain_text("暂无登记的服务")
    assert due_for(committed_db, mother) == []  # no 预产期: nothing maternal is due

    dates = page.locator("#dates-form")
    dates.get_by_label("预产期").fill("2027-05-27")  # 28 weeks before it: 2026-11-12, this month
    dates.get_by_role("button", name="保存日期").click()
    expect(page.locator(".flash-success")).to_have_text("已保存：预产期 2027-05-27")
    expect(page.locator("#date-due_date")).to_have_text("2027-05-27")
    assert due_for(committed_db, mother) == [("prenatal", "第1次产前检查（孕13周前）")]

    form = page.locator("#service-form")
    visit = form.get_by_label("第几次服务")
    expect(visit).to_be_disabled()  # until a schedule with visits is chosen
    expect(form.get_by_label("服务日期")).to_have_value(TODAY.isoformat())
    form.get_by_label("服务项目").select_option(label="高血压患者随访")
    expect(visit).to_be_disabled()  # a quarterly follow-up has no visit to choose
    form.get_by_label("服务项目").select_option(label="孕期健康管理")
    expect(visit).to_be_enabled()
    expect(visit.locator("optgroup:not([hidden])")).to_have_count(1)
    expect(visit.locator("optgroup:not([hidden])")).to_have_attribute("label", "孕期健康管理")
    form.get_by_role("button", name="登记这次服务").click()  # no visit chosen yet: said plainly, nothing kept
    expect(page.locator(".flash-error")).to_contain_text("请选择是“孕期健康管理”的哪一次服务")

    form.get_by_label("服务项目").select_option(label="孕期健康管理")
    visit.select_option(label="第1次产前检查（孕13周前）")
    form.get_by_label("备注").fill("建册")
    form.get_by_role("button", name="登记这次服务").click()
    expect(page.locator(".flash-success")).to_have_text(
        f"已登记：孕期健康管理 · 第1次产前检查（孕13周前）（{TODAY.isoformat()}）")
    rows = page.locator("table.service-visits tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td")).to_have_text([TODAY.isoformat(), "孕期健康管理", "第1次产前检查（孕13周前）",
                                                    "建册", "clerk1", "撤销记录"])
    assert due_for(committed_db, mother) == []
    SHOTS.mkdir(exist_ok=True)
    card.screenshot(path=str(SHOTS / f"resident-services-{committed_db.engine.dialect.name}.png"))

    rows.first.get_by_role("button", name="撤销记录").click()  # recorded by mistake: it is due again
    expect(page.locator(".flash-success")).to_contain_text("已撤销")
    expect(rows.first).to_have_class("voided")
    expect(rows.first).to_contain_text("已撤销")
    assert due_for(committed_db, mother) == [("prenatal", "第1次产前检查（孕13周前）")]


def test_a_village_doctor_cannot_record_for_a_resident_outside_their_villages(page: Page, live_server,
                                                                             committed_db, mother):
    sign_in(page, live_server, "west", PASSWORD)
    opened = page.goto(f"{live_server}/residents/{mother}")
    assert opened is not None and opened.status == 404
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")  # the page's own (sign-out) form
    for path, form in (("services", {"schedule": "prenatal", "visit": "prenatal:first", "done_on": "2026-11-25"}),
                       ("dates", {"due_date": "2027-05-27"})):
        answer = page.request.post(f"{live_server}/residents/{mother}/{path}", form={"csrf_token": token, **form},
                                   max_redirects=0)
        assert answer.status == 404, path
    with committed_db.reader() as session:
        assert session.scalars(select(ServiceVisit)).all() == []
    assert due_for(committed_db, mother) == []
