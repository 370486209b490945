"""Issue #10.3: a single form and a set with the same id (encounter) never stand for each other."""

from __future__ import annotations

import pytest

from archiveprint.errors import NotFound
from archiveprint.forms.services import Scope, print_forms
from archiveprint.forms.sets import AmbiguousPrint, UnknownPrint, find_form_set
from tests.conftest import TODAY
from tests.pdfcheck import compact, page_texts


def test_issue_10_3_the_kind_decides_between_the_set_and_the_form_of_one_id(session):
    assert find_form_set(session, "encounter", kind="set").forms == ("encounter", "consultation")
    assert find_form_set(session, "encounter", kind="form").forms == ("encounter",)
    assert find_form_set(session, "接诊记录表", kind="form").forms == ("encounter",)
    assert find_form_set(session, "接诊与会诊", kind="set").name == "接诊与会诊"
    with pytest.raises(AmbiguousPrint, match="既是套组“接诊与会诊”，也是单张表单“接诊记录表”"):
        find_form_set(session, "encounter")
    assert find_form_set(session, "personal_info").forms == ("personal_info",)  # one kind only: no doubt


def test_issue_10_3_a_key_of_the_other_kind_or_unknown_is_refused_naming_the_choices(session):
    with pytest.raises(UnknownPrint, match="是单张表单“个人基本信息表”，不是套组") as as_set:
        find_form_set(session, "personal_info", kind="set")
    assert (as_set.value.other, as_set.value.key) == ("form", "personal_info")
    with pytest.raises(UnknownPrint, match="是套组“新建档套表”，不是单张表单"):
        find_form_set(session, "new_record", kind="form")
    with pytest.raises(NotFound) as unknown:
        find_form_set(session, "没有的", kind="set")
    assert "没有这个表单套组。可选的套组：new_record（新建档套表）、" in str(unknown.value)
    assert "encounter（接诊与会诊）" in str(unknown.value) and "单张表单" not in str(unknown.value)


def test_issue_10_3_printing_the_form_encounter_prints_only_that_form(session, tmp_path):
    single = print_forms(session, "encounter", Scope(), tmp_path / "f.pdf", kind="form", today=TODAY)
    texts = [compact(text) for text in page_texts(tmp_path / "f.pdf")]
    (page,) = texts
    assert single.pages == 1 and "接诊记录表" in page and "会诊记录表" not in page
    both = print_forms(session, "encounter", Scope(), tmp_path / "s.pdf", kind="set", today=TODAY)
    first, second = (compact(text) for text in page_texts(tmp_path / "s.pdf"))
    assert both.pages == 2 and "接诊记录表" in first and "会诊记录表" in second
