"""Custom form sets on both databases: the rules, the unique name, finding them, printing with them."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from archiveprint.errors import Conflict, InvalidValue, NotFound
from archiveprint.eventlog import Event
from archiveprint.forms.catalog import FormSet
from archiveprint.forms.services import Scope, print_forms, resolve_scope
from archiveprint.forms.sets import create_form_set, delete_form_set, find_form_set, list_custom_sets, list_form_sets
from tests.conftest import ACTOR, TODAY
from tests.pdfcheck import compact, page_texts


def test_a_custom_set_is_found_by_key_and_name_after_the_built_in_ones(session):
    row = create_form_set(session, " 慢病随访 ", ["hypertension_followup", "diabetes_followup"],
                          description="两种随访表", actor=ACTOR)
    assert row.key.startswith("custom_") and row.name == "慢病随访" and row.created_by == ACTOR
    for key in (row.key, "慢病随访"):
        found = find_form_set(session, key)
        assert found == FormSet(id=row.key, name="慢病随访", forms=("hypertension_followup", "diabetes_followup"),
                                description="两种随访表", builtin=False)
    assert find_form_set(session, "new_record").builtin and find_form_set(session, "cover").forms == ("cover",)
    assert [s.name for s in list_form_sets(session)][-1] == "慢病随访"
    events = session.scalars(select(Event).where(Event.kind == "form_set.created")).all()
    assert [(e.entity_id, e.data["forms"]) for e in events] == [(row.key, ["hypertension_followup",
                                                                           "diabetes_followup"])]
    with pytest.raises(NotFound, match="没有这个表单套组"):
        find_form_set(session, "没有的套组")


@pytest.mark.parametrize(("name", "forms", "error", "message"), [
    ("", ["cover"], InvalidValue, "套组名称不能为空"),
    ("长" * 65, ["cover"], InvalidValue, "套组名称最多64个字"),
    ("无表单", [], InvalidValue, "请至少选择一张表单"),
    ("未知表单", ["cover", "no_such_form"], InvalidValue, "no_such_form.*没有这种表单"),
    ("重复", ["cover", "personal_info", "cover"], InvalidValue, "居民健康档案封面.*只能选一次"),
    ("新建档套表", ["cover"], Conflict, "已有同名的内置套组或表单"),
    ("personal_info", ["cover"], Conflict, "已有同名的内置套组或表单"),
])
def test_a_bad_custom_set_is_refused_with_a_chinese_reason(session, name, forms, error, message):
    with pytest.raises(error, match=message):
        create_form_set(session, name, forms, actor=ACTOR)
    assert list_custom_sets(session) == []


def test_a_second_set_of_the_same_name_is_a_conflict(session):
    create_form_set(session, "随访", ["hypertension_followup"], actor=ACTOR)
    with pytest.raises(Conflict, match="已有同名的自定义套组"):
        create_form_set(session, "随访", ["diabetes_followup"], actor=ACTOR)
    assert len(list_custom_sets(session)) == 1


def test_two_supervisors_saving_one_name_at_once_leave_one_set(committed_db):
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def save(forms: list[str]) -> None:
        barrier.wait()
        try:
            with committed_db.transaction() as session:
                create_form_set(session, "同名", forms, actor=ACTOR)
            outcomes.append("saved")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=save, args=([form],)) for form in ("cover", "encounter")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "saved"]
    with committed_db.reader() as session:
        assert [row.name for row in list_custom_sets(session)] == ["同名"]


def test_deleting_a_custom_set_keeps_the_built_in_ones(session):
    row = create_form_set(session, "临时", ["encounter"], actor=ACTOR)
    assert delete_form_set(session, row.key, actor=ACTOR) == "临时"
    assert list_custom_sets(session) == []
    with pytest.raises(NotFound, match="没有这个自定义套组"):
        delete_form_set(session, row.key, actor=ACTOR)
    with pytest.raises(InvalidValue, match="内置套组不能删除"):
        delete_form_set(session, "new_record", actor=ACTOR)
    assert session.scalar(select(Event.data).where(Event.kind == "form_set.deleted")) == {"name": "临时",
                                                                                         "forms": ["encounter"]}


def test_print_forms_takes_a_custom_key_or_a_form_set(session, create_resident, tmp_path):
    create_resident(name="王大山")
    row = create_form_set(session, "首页两张", ["personal_info", "cover"], actor=ACTOR)
    by_key = print_forms(session, row.key, resolve_scope(session, village="201"), tmp_path / "k.pdf", today=TODAY)
    assert (by_key.pages, by_key.set_name) == (2, "首页两张")
    texts = [compact(text) for text in page_texts(tmp_path / "k.pdf")]
    assert "个人基本信息表" in texts[0] and "居民健康档案" in texts[1]
    adhoc = FormSet(id="adhoc", name="临时", forms=("encounter",), builtin=False)
    blank = print_forms(session, adhoc, Scope(), tmp_path / "b.pdf", today=TODAY)
    assert blank.pages == 1

