"""本月随访包 in the print centre through the real login, CSRF and database: what the packet will hold, the job and
its two files, the audit, a village doctor's own villages, refusals in Chinese."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import select

from archiveprint.accounts.models import AuditEntry
from archiveprint.db import Database
from archiveprint.due.services import set_dates
from archiveprint.forms.catalog import load_catalog
from archiveprint.jobs.models import Job
from archiveprint.jobs.runners import run_job
from archiveprint.register import services
from archiveprint.register.models import Household
from tests.conftest import ACTOR
from tests.pdfcheck import compact, page_texts, read
from tests.web.conftest import People, csrf_token, seed_people
from tests.web.test_print_pages import fetch, job_id_of, wait_until_finished


@dataclass(frozen=True)
class DueTownship:
    """seed_people's register and, due in November 2026: a child's 12-month check (a new sheet; its TCM visit goes
    on the sheet in the folder) in 东村, a pregnant woman's second antenatal visit (a new sheet) in 西村, and in 西村
    a pregnant woman whose 预产期 is not entered (listed as undated). 张三丰 (高血压) is due for his fourth-quarter
    follow-up on the sheet in his folder."""

    people: People
    child: str
    pregnant: str
    undated: str


def seed_due(database: Database) -> DueTownship:
    people = seed_people(database)
    with database.transaction() as session:
        east = session.get(Household, people.household)
        child = services.register_resident(session, east, name="张小宝", sex="1", birth_date=date(2025, 11, 10),
                                           relation_to_head="孙子", actor=ACTOR)
        west = services.create_household(session, services.find_village(session, "202"), head_name="钱芳",
                                         address="西村3组2号", actor=ACTOR)
        pregnant = services.register_resident(session, west, name="钱芳", sex="2", birth_date=date(1998, 4, 2),
                                              relation_to_head="户主", tags=["孕产妇"], actor=ACTOR)
        set_dates(session, pregnant, {"due_date": date(2027, 4, 20)}, actor=ACTOR)
        undated = services.register_resident(session, west, name="孙丽", sex="2", birth_date=date(2000, 1, 5),
                                             relation_to_head="儿媳", tags=["孕产妇"], actor=ACTOR)
        return DueTownship(people=people, child=child.archive_code, pregnant=pregnant.archive_code,
                           undated=undated.archive_code)


@pytest.fixture
def due_township(committed_db: Database) -> DueTownship:
    return seed_due(committed_db)


def due_input(client, **values: object) -> dict[str, object]:
    """The packet page's fields as a browser posts them (month left blank unless given), with the CSRF token."""
    data: dict[str, object] = {"csrf_token": csrf_token(client.get("/print/due")), "month": "", "doctor": ""}
    data.update(values)
    return data


def expected_pages(villages: int, forms: list[str]) -> int:
    """One cover page per village listed (a short list) and the pages of each new sheet."""
    catalog = load_catalog()
    return villages + sum(catalog.forms[form].pages for form in forms)


def audit_rows(database: Database, action: str) -> list[AuditEntry]:
    with database.reader() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def job_row(database: Database, job_id: int) -> Job:
    with database.reader() as session:
        job = session.get(Job, job_id)
        session.expunge(job)
        return job


# --- the page and what the packet will hold -------------------------------------------------------------------

def test_the_print_centre_links_to_the_packet_page_with_this_month_as_default(client, auth, due_township):
    auth.login("clerk")
    centre = client.get("/print").get_data(as_text=True)
    assert 'href="/print/due"' in centre
    page = client.get("/print/due")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "留空即本月（2026-11）" in html
    assert 'type="month"' in html
    assert "201 东村（6人）" in html and "202 西村（3人）" in html


def test_the_preview_shows_who_is_due_by_schedule_new_sheets_and_continued_and_the_undated(client, auth, committed_db,
                                                                                         due_township):
    auth.login("clerk")
    response = client.post("/print/due/preview", data=due_input(client))
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html[:2000]
    assert "预览：2026-11 全部村" in html
    assert re.search(r'id="due-residents">3<', html)
    assert re.search(r'id="due-visits">4<', html)
    assert re.search(r'id="due-forms">2<', html)  # 12～30月龄 for the child, 第2～5次产前随访 for 钱芳
    assert re.search(r'id="due-continued">2<', html)  # 张三丰's 第4栏, the child's TCM 第2栏
    pages = expected_pages(2, ["child_12_30m", "prenatal_followup"])
    assert re.search(rf'id="due-pages">{pages}<', html)
    schedules = re.search(r'id="due-schedules">(.*?)</table>', html, re.S).group(1)
    for name in ("0～6岁儿童健康检查", "儿童中医药健康管理", "孕期健康管理", "高血压患者随访"):
        assert name in schedules
    undated = re.search(r'id="due-undated">(.*?)</div>', html, re.S).group(1)
    assert "孕期健康管理：1 人" in undated and "产后健康管理：1 人" in undated
    assert "预产期、分娩日期、结核治疗开始日期在居民页登记" in undated
    rows = re.findall(r"<tr>\s*<td>(.*?)</td>.*?<a href=\"/residents/(\d+)\">(.*?)</a>.*?</tr>",
                      re.search(r'id="due-list">(.*?)</table>', html, re.S).group(1), re.S)
    # walking order: 东村 household 1 (head first), then 西村
    assert [(village, name) for village, _code, name in rows] == [
        ("东村", "张三丰"), ("东村", "张小宝"), ("东村", "张小宝"), ("西村", "钱芳")]
    assert "新表" in html and "续填第4栏" in html and "续填第2栏" in html
    # the names listed are audited, by household
    viewed = [row for row in audit_rows(committed_db, "view") if "本月随访包预览" in row.detail]
    assert {row.subject_type for row in viewed} == {"household"} and len(viewed) == 2


def test_a_month_with_nobody_due_says_so_and_is_not_printed(client, auth, committed_db, due_township, recording):
    auth.login("clerk")
    preview = client.post("/print/due/preview", data=due_input(client, month="2026-08", villages=["001"]))
    assert "这个月所选的村没有到期的服务，不需要打印" in preview.get_data(as_text=True)
    response = client.post("/print/due/start", data=due_input(client, month="2026-08", villages=["001"]))
    assert response.status_code == 400
    assert "2026-08 城关社区没有到期的服务，不需要打印随访包" in response.get_data(as_text=True)
    assert recording.submitted == []
    with committed_db.reader() as session:
        assert session.scalars(select(Job)).all() == []


def test_a_bad_month_is_refused_in_chinese_not_a_500(client, auth, due_township):
    auth.login("clerk")
    response = client.post("/print/due/preview", data=due_input(client, month="2026-13"))
    assert response.status_code == 400
    assert "没有这个月份：2026-13" in response.get_data(as_text=True)
    response = client.post("/print/due/preview", data=due_input(client, month="十二月"))
    assert response.status_code == 400
    assert "月份的格式为“年-月”" in response.get_data(as_text=True)


def test_a_name_the_font_lacks_is_refused_before_the_job(client, auth, committed_db, due_township, recording):
    lacking = "张\U00031350"  # a CJK Extension G character the shipped font does not have
    with committed_db.transaction() as session:
        household = services.create_household(session, services.find_village(session, "001"), head_name=lacking,
                                              actor=ACTOR)
        services.register_resident(session, household, name=lacking, sex="1", relation_to_head="户主",
                                   tags=["高血压"], actor=ACTOR)
    auth.login("clerk")
    preview = client.post("/print/due/preview", data=due_input(client, villages=["001"])).get_data(as_text=True)
    assert "姓名含字体缺少的字" in preview and "\U00031350" in preview
    response = client.post("/print/due/start", data=due_input(client, villages=["001"]))
    assert response.status_code == 400
    assert "1 份档案的姓名或地址含字体缺少的字" in response.get_data(as_text=True)
    assert recording.submitted == []


def test_a_name_the_font_lacks_added_after_the_check_fails_the_job_with_a_chinese_message(
        app, client, auth, committed_db, due_township, recording):
    auth.login("clerk")
    job_id = job_id_of(client.post("/print/due/start", data=due_input(client, villages=["201"])))
    with committed_db.transaction() as session:  # meanwhile, someone is registered whose name the font lacks
        services.register_resident(session, session.get(Household, due_township.people.household),
                                   name="张\U00031350", sex="1", birth_date=date(2025, 11, 3), relation_to_head="孙子",
                                   actor=ACTOR)
    run_job(job_id, settings=app.extensions["archiveprint"].settings, database=committed_db)
    page = client.get(f"/print/jobs/{job_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "打印失败：「字形」：1 份档案的姓名或地址含字体缺少的字" in html
    assert 'href="/print/due"' in html  # 重新选择并打印 goes back to the packet page
    assert client.get(f"/print/jobs/{job_id}.json").get_json()["status"] == "failed"
    assert [row for row in audit_rows(committed_db, "print")] == []


def test_choosing_a_village_doctor_prints_his_villages(client, auth, due_township):
    auth.create("village_doctor", "doc-west", villages=("202",))
    auth.login("clerk")
    page = client.get("/print/due").get_data(as_text=True)
    assert "village_doctor显示名（西村）" in page
    html = client.post("/print/due/preview", data=due_input(client, doctor="doc-west")).get_data(as_text=True)
    assert "预览：2026-11 西村" in html
    assert re.search(r'id="due-residents">1<', html) and "钱芳" in html and "张三丰" not in html


# --- the job: both files, pages, audit -----------------------------------------------------------------------

def test_printing_writes_the_packet_and_the_pick_list_and_audits_each_resident(client, auth, committed_db,
                                                                               due_township, tmp_path):
    auth.login("clerk")
    response = client.post("/print/due/start", data=due_input(client, villages=["201", "202"]))
    job_id = job_id_of(response)
    state = wait_until_finished(client, job_id)
    assert state["status"] == "done", state
    job = job_row(committed_db, job_id)
    assert job.kind == "due"
    assert job.params["month"] == "2026-11" and job.params["villages"] == ["201", "202"]
    pages = expected_pages(2, ["child_12_30m", "prenatal_followup"])
    assert job.pages == pages == job.params["expected_pages"]

    html = client.get(f"/print/jobs/{job_id}").get_data(as_text=True)
    assert "3 人，4 项服务" in html
    links = re.findall(r'href="(/print/jobs/\d+/files/[^"]+)">下载 ([^<]+)</a>', html)
    assert [shown for _url, shown in links] == ["本月随访包-东村、西村-2026年11月-20261125.pdf",
                                                "调档单-东村、西村-2026年11月-20261125.pdf"]
    packet = tmp_path / "packet.pdf"
    packet.write_bytes(fetch(client, links[0][0]))
    picklist = tmp_path / "picklist.pdf"
    with client.get(links[1][0]) as download:
        assert "filename*=UTF-8''" in download.headers["Content-Disposition"]
        picklist.write_bytes(download.get_data())
    assert len(read(packet).pages) == pages
    texts = [compact(text) for text in page_texts(packet)]
    assert "本月随访包" in texts[0] and "东村" in texts[0] and "张小宝" in texts[0]
    assert "西村" in texts[1] and "钱芳" in texts[1]
    assert any("张小宝" in text for text in texts[2:]) and any("钱芳" in text for text in texts[2:])
    pick = compact(" ".join(page_texts(picklist)))
    assert "调档单" in pick and "张三丰" in pick and "钱芳" in pick

    printed = [row for row in audit_rows(committed_db, "print") if "本月随访包 2026-11" in row.detail]
    assert sorted(row.subject_id for row in printed) == sorted(
        [due_township.people.head, due_township.child, due_township.pregnant])
    assert all(row.username == "clerk-user" for row in printed)
    with_forms = {row.subject_id for row in printed if "预填表单" in row.detail}
    assert with_forms == {due_township.child, due_township.pregnant}
    exports = [row for row in audit_rows(committed_db, "export") if row.subject_type == "print_job"]
    assert len(exports) == 2

    jobs = client.get("/print/jobs").get_data(as_text=True)
    assert "本月随访包" in jobs and "2026-11，东村、西村" in jobs


# --- who may --------------------------------------------------------------------------------------------------

def test_a_village_doctor_gets_his_own_villages_only_and_by_default(client, auth, committed_db, due_township):
    auth.login("village_doctor", username="doc-west", villages=("202",))
    page = client.get("/print/due").get_data(as_text=True)
    assert "202 西村" in page and "201 东村" not in page
    assert 'name="doctor"' not in page  # no choosing another doctor
    html = client.post("/print/due/preview", data=due_input(client)).get_data(as_text=True)
    assert "预览：2026-11 西村" in html
    assert "钱芳" in html and "张三丰" not in html and "张小宝" not in html
    # another village, or another doctor, is refused
    other = client.post("/print/due/preview", data=due_input(client, villages=["201"]))  # not found, as out of scope
    assert other.status_code == 404 and "「村(居)委会」，值“201”：没有这个村(居)委会" in other.get_data(as_text=True)
    assert client.post("/print/due/start", data=due_input(client, doctor="someone")).status_code == 400

    job_id = job_id_of(client.post("/print/due/start", data=due_input(client)))
    assert wait_until_finished(client, job_id)["status"] == "done"
    job = job_row(committed_db, job_id)
    assert job.params["villages"] == ["202"]
    assert job.pages == expected_pages(1, ["prenatal_followup"])
    printed = [row.subject_id for row in audit_rows(committed_db, "print")]
    assert printed == [due_township.pregnant]


def test_a_village_doctor_without_villages_is_told_why(client, auth, due_township):
    auth.login("village_doctor", username="doc-none")
    response = client.post("/print/due/preview", data=due_input(client))
    assert response.status_code == 400
    assert "您还没有负责的村(居)委会" in response.get_data(as_text=True)


def test_a_viewer_cannot_open_or_print_the_packet_as_in_the_print_centre(client, auth, due_township, recording):
    auth.login("viewer")
    assert client.get("/print/due").status_code == 403
    assert client.get("/print").status_code == 403
    page = client.get("/")
    data = {"csrf_token": csrf_token(page), "month": "", "doctor": ""}
    assert client.post("/print/due/preview", data=data).status_code == 403
    assert client.post("/print/due/start", data=data).status_code == 403
    assert recording.submitted == []
