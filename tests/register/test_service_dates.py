"""The service dates' rules (servicedates.date_doubt) as set_dates applies them, a resident registered with dates, and a
service record voided only through its own resident — on both databases."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from archiveprint.due.services import list_visits, record_visit, set_dates, void_visit
from archiveprint.errors import InvalidValue, NotFound
from archiveprint.eventlog import Event
from archiveprint.register import services
from archiveprint.register.servicedates import date_doubt
from tests.conftest import ACTOR, TODAY


@pytest.mark.parametrize(("field", "value", "birth", "sex", "today", "reason"), [
    ("due_date", date(2027, 5, 27), date(1996, 4, 2), "2", TODAY, None),
    ("due_date", date(2027, 9, 22), None, "2", TODAY, "预产期距今超过300天（孕期约280天）"),
    ("due_date", date(2027, 9, 21), None, "2", TODAY, None),  # exactly 300 days ahead
    ("due_date", date(2027, 9, 22), None, "2", None, None),  # no today: not compared with it
    ("due_date", date(1949, 12, 31), None, None, TODAY, "预产期的年份不合理"),
    ("due_date", date(2027, 1, 1), None, "1", TODAY, "性别为男，不应有预产期或分娩日期"),
    ("due_date", date(2027, 1, 1), None, "0", TODAY, None),  # sex unknown: allowed
    ("delivery_date", TODAY, date(1996, 4, 2), "2", TODAY, None),
    ("delivery_date", date(2026, 11, 26), None, "2", TODAY, "分娩日期晚于今天"),
    ("delivery_date", date(1995, 1, 1), date(1996, 4, 2), "2", TODAY, "分娩日期早于出生日期"),
    ("tb_treatment_start", date(2026, 6, 1), date(1950, 1, 1), "1", TODAY, None),
    ("tb_treatment_start", date(2026, 11, 26), None, "1", TODAY, "结核治疗开始日期晚于今天"),
    ("tb_treatment_start", date(1949, 1, 1), None, "1", TODAY, "结核治疗开始日期的年份不合理"),
])
def test_date_doubt(field, value, birth, sex, today, reason):
    assert date_doubt(field, value, today=today, birth_date=birth, sex=sex) == reason


def test_set_dates_refuses_what_cannot_be_right_and_writes_nothing(session, create_household):
    home = create_household()
    wife = services.register_resident(session, home, name="王芳", sex="2", birth_date=date(1996, 4, 2), actor=ACTOR)
    with pytest.raises(InvalidValue) as refused:
        set_dates(session, wife, {"due_date": date(2027, 5, 27), "delivery_date": date(2026, 12, 1)}, actor=ACTOR,
                  today=TODAY)
    assert (refused.value.field, refused.value.value, refused.value.message) == (
        "分娩日期", "2026-12-01", "分娩日期晚于今天")
    assert (wife.due_date, wife.delivery_date) == (None, None)
    assert set_dates(session, wife, {"due_date": date(2027, 5, 27), "delivery_date": None}, actor=ACTOR,
                     today=TODAY) == {"due_date": [None, "2027-05-27"]}
    assert wife.due_date == date(2027, 5, 27)
    assert set_dates(session, wife, {"due_date": None}, actor=ACTOR, today=TODAY) == {"due_date": ["2027-05-27", None]}
    assert wife.due_date is None


def test_a_resident_registered_with_dates(session, create_household):
    home = create_household()
    patient = services.register_resident(session, home, name="李强", sex="1", birth_date=date(1970, 1, 1),
                                         dates={"tb_treatment_start": date(2026, 9, 1)}, actor=ACTOR)
    session.flush()
    session.expire(patient)
    assert (patient.tb_treatment_start, patient.due_date) == (date(2026, 9, 1), None)
    with pytest.raises(InvalidValue, match="不能修改字段"):
        services.register_resident(session, home, name="李四", sex="1", dates={"name": date(2026, 1, 1)},
                                   actor=ACTOR)


def test_a_record_is_voided_only_through_its_own_resident(session, create_household):
    home = create_household()
    wife = services.register_resident(session, home, name="王芳", sex="2", birth_date=date(1996, 4, 2), actor=ACTOR)
    other = services.register_resident(session, home, name="张三", sex="1", actor=ACTOR)
    row = record_visit(session, wife, "prenatal", visit="first", on=date(2026, 11, 20), actor=ACTOR, today=TODAY)
    with pytest.raises(NotFound, match="没有这条服务记录"):
        void_visit(session, row.id, actor=ACTOR, resident=other)
    assert row.voided_at is None
    void_visit(session, row.id, actor=ACTOR, resident=wife)
    assert row.voided_at is not None
    assert [v.id for v in list_visits(session, wife)] == [row.id] and list_visits(session, other) == []
    kinds = session.scalars(select(Event.kind).where(Event.entity_id == wife.archive_code).order_by(Event.id)).all()
    assert kinds[-2:] == ["service.recorded", "service.voided"]
