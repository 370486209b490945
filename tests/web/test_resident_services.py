"""The resident page's 随访服务 card (#12): the dates the schedules count from entered and cleared, services recorded
and voided, each refusal a clear message (never a 500), village doctors kept to their villages, viewers to reading."""

from __future__ import annotations

import re
from datetime import date

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from archiveprint.db import Database
from archiveprint.due.models import ServiceVisit
from archiveprint.due.queries import find_due
from archiveprint.eventlog import Event
from archiveprint.register import services
from archiveprint.register.models import Household, Resident
from tests.conftest import ACTOR, TODAY
from tests.web.conftest import AuthActions, People, csrf_token


@pytest.fixture
def mother(committed_db: Database, people: People) -> str:
    """王芳, 30, in 张三丰's household in 东村: expecting."""
    with committed_db.transaction() as session:
        home = session.get(Household, people.household)
        return services.register_resident(session, home, name="王芳", sex="2", birth_date=date(1996, 4, 2),
                                          relation_to_head="儿媳", actor=ACTOR).archive_code


def page(client: FlaskClient, code: str) -> str:
    response = client.get(f"/residents/{code}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def post(client: FlaskClient, code: str, path: str, **data: str) -> str:
    """Post one of the card's forms as the page does, follow the redirect back and give the page."""
    token = csrf_token(page(client, code))
    response = client.post(f"/residents/{code}/{path}", data={"csrf_token": token, **data})
    assert response.status_code == 303, response.get_data(as_text=True)
    assert response.headers["Location"].endswith(f"/residents/{code}#services")
    return page(client, code)


def refusals(html: str) -> list[str]:
    return re.findall(r'<p class="flash flash-error">(.*?)</p>', html)


def stored(database: Database, code: str) -> Resident:
    with database.reader() as session:
        return session.scalars(select(Resident).where(Resident.archive_code == code)).one()


def visits(database: Database, code: str) -> list[tuple[str, str, date, str, bool]]:
    with database.reader() as session:
        rows = session.scalars(select(ServiceVisit).join(Resident).where(Resident.archive_code == code)
                               .order_by(ServiceVisit.id))
        return [(v.schedule, v.visit, v.done_on, v.note, v.voided_at is not None) for v in rows]


DATES = {"due_date": "", "delivery_date": "", "tb_treatment_start": ""}
WAS = {"was-due_date": "", "was-delivery_date": "", "was-tb_treatment_start": ""}


# --- the dates ------------------------------------------------------------------------------------------------

def test_a_clerk_enters_then_clears_a_due_date_logged_like_any_change(client, auth, committed_db, mother):
    auth.login("clerk")
    html = page(client, mother)
    assert 'id="services"' in html and 'id="dates-form"' in html and 'id="service-form"' in html
    html = post(client, mother, "dates", **{**DATES, **WAS, "due_date": "2027-05-27"})
    assert "已保存：预产期 2027-05-27" in html
    assert '<dd id="date-due_date">2027-05-27</dd>' in html
    assert stored(committed_db, mother).due_date == date(2027, 5, 27)

    # The page now carries the date as it was: emptying the field clears it (and only it).
    html = post(client, mother, "dates", **{**DATES, **WAS, "was-due_date": "2027-05-27"})
    assert "已保存：预产期 —" in html
    assert stored(committed_db, mother).due_date is None
    with committed_db.reader() as session:
        changes = [e.data["changes"] for e in session.scalars(select(Event).where(
            Event.kind == "resident.updated", Event.entity_id == mother).order_by(Event.id))]
    assert changes == [{"due_date": [None, "2027-05-27"]}, {"due_date": ["2027-05-27", None]}]
    assert "预产期" in html and "2027-05-27" in html  # the history shows both changes by the field's name


def test_a_date_entered_meanwhile_by_someone_else_is_not_undone(client, auth, committed_db, mother):
    auth.login("clerk")
    token = csrf_token(page(client, mother))  # the page as loaded: no dates
    with committed_db.transaction() as session:
        other = session.scalars(select(Resident).where(Resident.archive_code == mother)).one()
        services.update_resident(session, other, {"tb_treatment_start": date(2026, 10, 1)}, actor="other-clerk")
    client.post(f"/residents/{mother}/dates", data={"csrf_token": token, **DATES, **WAS, "due_date": "2027-05-27"})
    person = stored(committed_db, mother)
    assert (person.due_date, person.tb_treatment_start) == (date(2027, 5, 27), date(2026, 10, 1))


@pytest.mark.parametrize(("who", "fields", "message"), [
    ("mother", {}, "「日期」：日期没有改动：请填写或修改日期后再保存（清空一栏即清除该日期）"),
    ("mother", {"due_date": "2027-02-30"}, "「预产期」，值“2027-02-30”：日期不存在"),
    ("mother", {"due_date": "下个月"}, "「预产期」，值“下个月”：无法识别的日期格式"),
    ("mother", {"delivery_date": "2026-12-01"}, "「分娩日期」，值“2026-12-01”：分娩日期晚于今天"),
    ("mother", {"delivery_date": "1990-01-01"}, "「分娩日期」，值“1990-01-01”：分娩日期早于出生日期"),
    ("mother", {"due_date": "2028-06-01"}, "预产期距今超过300天（孕期约280天）"),
    ("head", {"due_date": "2027-01-01"}, "「预产期」，值“2027-01-01”：性别为男，不应有预产期或分娩日期"),
    ("head", {"tb_treatment_start": "2026-12-24"}, "结核治疗开始日期晚于今天"),
])
def test_a_date_that_cannot_be_right_is_refused_with_its_field_and_value(client, auth, committed_db, people, mother,
                                                                         who, fields, message):
    code = mother if who == "mother" else people.head
    auth.login("clerk")
    html = post(client, code, "dates", **{**DATES, **WAS, **fields})
    assert any(message in text for text in refusals(html)), refusals(html)
    person = stored(committed_db, code)
    assert (person.due_date, person.delivery_date, person.tb_treatment_start) == (None, None, None)


# --- services -------------------------------------------------------------------------------------------------

def test_a_clerk_records_a_service_it_is_no_longer_due_and_a_void_makes_it_due_again(client, auth, committed_db,
                                                                                      mother):
    auth.login("clerk")
    post(client, mother, "dates", **{**DATES, **WAS, "due_date": "2027-05-27"})  # 28 weeks before: 2026-11-12

    def due() -> list[tuple[str, str]]:
        with committed_db.reader() as session:
            return [(i.schedule, i.visit) for i in find_due(session, TODAY).items if i.archive_code == mother]

    assert due() == [("prenatal", "first")]
    html = post(client, mother, "services", schedule="prenatal", visit="prenatal:first", done_on="2026-11-20",
                note="建册，血常规已做")
    assert "已登记：孕期健康管理 · 第1次产前检查（孕13周前）（2026-11-20）" in html
    assert visits(committed_db, mother) == [("prenatal", "first", date(2026, 11, 20), "建册，血常规已做", False)]
    assert due() == []
    assert "第1次产前检查（孕13周前）" in html and "建册，血常规已做" in html and "clerk-user" in html

    again = post(client, mother, "services", schedule="prenatal", visit="prenatal:first", done_on="2026-11-20")
    assert "「服务日期」，值“2026-11-20”：这次服务已登记过" in again
    assert len(visits(committed_db, mother)) == 1

    with committed_db.reader() as session:
        record = session.scalars(select(ServiceVisit.id)).one()
    html = post(client, mother, f"services/{record}/void")
    assert "已撤销 2026-11-20 的服务记录" in html
    assert f'<tr class="voided" id="service-{record}">' in html and "已撤销" in html
    assert visits(committed_db, mother)[0][-1] is True
    assert due() == [("prenatal", "first")]
    twice = post(client, mother, f"services/{record}/void")
    assert "这条服务记录已撤销" in twice
    with committed_db.reader() as session:
        kinds = [e.kind for e in session.scalars(select(Event).where(Event.entity_id == mother).order_by(Event.id))]
    assert kinds[-2:] == ["service.recorded", "service.voided"]
    assert "登记服务" in html and "撤销服务记录" in html  # in the page's history, by name


def test_a_periodic_follow_up_needs_no_visit(client, auth, committed_db, people):
    auth.login("doctor")
    html = post(client, people.head, "services", schedule="hypertension", visit="", done_on="2026-11-25")
    assert "已登记：高血压患者随访 · 季度随访（2026-11-25）" in html
    assert visits(committed_db, people.head) == [("hypertension", "", date(2026, 11, 25), "", False)]


@pytest.mark.parametrize(("fields", "message"), [
    ({"schedule": "", "visit": "", "done_on": "2026-11-25"}, "「服务项目」：请选择服务项目"),
    ({"schedule": "prenatal", "visit": "", "done_on": "2026-11-25"}, "「服务」：请选择是“孕期健康管理”的哪一次服务"),
    ({"schedule": "prenatal", "visit": "child_checks:m8", "done_on": "2026-11-25"},
     "「服务」，值“m8”：所选的“第几次服务”不属于“孕期健康管理”，请重新选择"),
    ({"schedule": "hypertension", "visit": "prenatal:first", "done_on": "2026-11-25"},
     "所选的“第几次服务”不属于“高血压患者随访”"),
    ({"schedule": "prenatal", "visit": "prenatal:first", "done_on": ""}, "「服务日期」：请填写服务日期"),
    ({"schedule": "prenatal", "visit": "prenatal:first", "done_on": "2026-11-31"},
     "「服务日期」，值“2026-11-31”：日期不存在"),
    ({"schedule": "prenatal", "visit": "prenatal:first", "done_on": "2026-11-26"}, "服务日期不能晚于今天"),
    ({"schedule": "nonsense", "visit": "", "done_on": "2026-11-25"}, "「排期」，值“nonsense”：没有这个服务排期"),
])
def test_what_a_clerk_leaves_out_or_gets_wrong_is_said_plainly(client, auth, committed_db, mother, fields, message):
    auth.login("clerk")
    html = post(client, mother, "services", note="", **fields)
    assert any(message in text for text in refusals(html)), refusals(html)
    assert visits(committed_db, mother) == []


def test_the_refusal_is_in_english_for_an_english_reader(client, auth, mother):
    auth.login("clerk")
    client.set_cookie("lang", "en")
    html = post(client, mother, "services", schedule="", visit="", done_on="2026-11-25", note="")
    assert "Choose the service" in html


def test_a_service_recorded_for_one_resident_cannot_be_voided_through_another(client, auth, committed_db, people,
                                                                             mother):
    auth.login("clerk")
    post(client, mother, "services", schedule="prenatal", visit="prenatal:first", done_on="2026-11-20", note="")
    with committed_db.reader() as session:
        record = session.scalars(select(ServiceVisit.id)).one()
    html = post(client, people.head, f"services/{record}/void")
    assert "「服务记录」，值“" in html and "没有这条服务记录" in html
    assert visits(committed_db, mother)[0][-1] is False


# --- who may ------------------------------------------------------------------------------------------------

def test_a_village_doctor_records_in_their_villages_and_finds_no_one_elsewhere(client, auth, committed_db, people,
                                                                               mother):
    auth.login("clerk", username="clerk2")
    post(client, mother, "services", schedule="prenatal", visit="prenatal:first", done_on="2026-11-20", note="")
    with committed_db.reader() as session:
        record = session.scalars(select(ServiceVisit.id)).one()
    auth.logout()

    auth.login("village_doctor", username="west", villages=("202",))
    token = csrf_token(client.get("/"))
    for path, data in ((f"/residents/{mother}/services", {"schedule": "prenatal", "visit": "prenatal:v2",
                                                          "done_on": "2026-11-25"}),
                       (f"/residents/{mother}/dates", {**DATES, **WAS, "due_date": "2027-05-27"}),
                       (f"/residents/{mother}/services/{record}/void", {})):
        response = client.post(path, data={"csrf_token": token, **data})
        assert response.status_code == 404, path
    assert client.get(f"/residents/{mother}").status_code == 404
    assert visits(committed_db, mother) == [("prenatal", "first", date(2026, 11, 20), "", False)]
    assert stored(committed_db, mother).due_date is None
    auth.logout()

    auth.login("village_doctor", username="east", villages=("201",))
    html = post(client, mother, "services", schedule="prenatal", visit="prenatal:v2", done_on="2026-11-25", note="")
    assert "已登记：孕期健康管理" in html
    assert [v[1] for v in visits(committed_db, mother)] == ["first", "v2"]


def test_a_viewer_reads_the_services_but_changes_nothing(client, auth: AuthActions, committed_db, people, mother):
    auth.login("clerk", username="clerk2")
    post(client, mother, "services", schedule="prenatal", visit="prenatal:first", done_on="2026-11-20", note="备注甲")
    auth.logout()
    auth.login("viewer")
    html = page(client, mother)
    assert "第1次产前检查（孕13周前）" in html and "备注甲" in html
    assert 'id="service-form"' not in html and 'id="dates-form"' not in html and "/void" not in html
    token = csrf_token(html)
    for path in ("services", "dates", "services/1/void"):
        response = client.post(f"/residents/{mother}/{path}", data={"csrf_token": token, "schedule": "prenatal",
                                                                    "visit": "prenatal:v2", "done_on": "2026-11-25"})
        assert response.status_code == 403, path
    assert len(visits(committed_db, mother)) == 1
