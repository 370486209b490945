"""`archiveprint print forms` on a real database: the documented --json object, exit codes, the PDF it writes."""

from __future__ import annotations

import json
from datetime import date

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from archiveprint.accounts.models import AuditEntry
from archiveprint.cli import AppContext, main
from archiveprint.forms.catalog import load_catalog
from archiveprint.forms.context import person_values, slot_values
from archiveprint.register import services
from tests.conftest import ACTOR, setup_township
from tests.pdfcheck import A4_PT, compact, page_texts, read


@pytest.fixture
def cli(committed_db, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", committed_db.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ARCHIVEPRINT_INSTANCE", str(tmp_path / "instance"))
    with committed_db.transaction() as session:
        setup_township(session)
        household = services.create_household(session, services.find_village(session, "201"), head_name="欧阳𠮷",
                                              address="东村2组8号", actor=ACTOR)
        services.register_resident(session, household, name="欧阳𠮷", sex="2", birth_date=date(1950, 2, 3),
                                   id_number="11010519491231002X", phone="13800138000", relation_to_head="户主",
                                   registered_on=date(2021, 4, 5), actor=ACTOR)
        services.register_resident(session, household, name="王堃", sex="1", birth_date=date(1948, 1, 1),
                                   relation_to_head="配偶", actor=ACTOR)

    def run(*args: str):
        return CliRunner().invoke(main, list(args), obj=AppContext(), catch_exceptions=False)
    return run


def test_new_record_set_for_a_village_with_json_and_every_prefilled_value_on_its_form(cli, committed_db, tmp_path):
    out = tmp_path / "v.pdf"
    result = cli("print", "forms", "--set", "新建档套表", "--village", "东村", "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    forms = [load_catalog().form(f) for f in load_catalog().form_set("new_record").forms]
    per_resident = sum(f.pages for f in forms)
    assert (data["pages"], data["residents"], data["output"]) == (2 * per_resident, 2, str(out))
    assert data["seconds"] > 0
    texts = [compact(t) for t in page_texts(out)]
    assert len(read(out).pages) == len(texts) == data["pages"]
    with committed_db.reader() as session:
        township = services.get_township(session)
        head = services.get_resident(session, "13012310020100001")
        expected = person_values(head, township, today=date.today())
        page = 0
        for form in forms:  # the head's set comes first: check each prefilled value on its own form's pages
            form_text = "".join(texts[page:page + form.pages])
            for slot, value in slot_values(form, expected).items():
                assert compact(value) in form_text, f"{form.id}: {slot}={value} not printed"
            page += form.pages
        assert session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "print")) == 2
    sizes = {(round(float(p.mediabox.width)), round(float(p.mediabox.height))) for p in read(out).pages}
    assert sizes == {tuple(round(v) for v in A4_PT), (243, 153)}  # A4 forms and the ID-1 card


def test_blank_copies_and_refused_requests(cli, tmp_path):
    result = cli("print", "forms", "--set", "hypertension", "--blank", "--copies", "3", "-o",
                 str(tmp_path / "b.pdf"), "--json")
    assert json.loads(result.stdout)["pages"] == 3
    unknown = cli("print", "forms", "--set", "没有的套组", "--village", "201", "-o", str(tmp_path / "x.pdf"))
    assert unknown.exit_code == 1 and "没有这个表单套组" in unknown.output
    village = cli("print", "forms", "--form", "personal_info", "--village", "999", "-o", str(tmp_path / "y.pdf"))
    assert village.exit_code == 1 and "没有这个村" in village.output
    assert cli("print", "forms", "--village", "201", "-o", str(tmp_path / "z.pdf")).exit_code == 2


def test_issue_10_3_form_and_set_are_chosen_explicitly(cli, tmp_path):
    single = cli("print", "forms", "--form", "encounter", "--blank", "--copies", "2", "-o", str(tmp_path / "f.pdf"),
                 "--json")
    assert single.exit_code == 0, single.output
    assert json.loads(single.stdout)["pages"] == 2
    texts = [compact(text) for text in page_texts(tmp_path / "f.pdf")]
    assert ["接诊记录表" in t and "会诊记录表" not in t for t in texts] == [True, True]
    both = cli("print", "forms", "--set", "encounter", "--blank", "-o", str(tmp_path / "s.pdf"), "--json")
    assert json.loads(both.stdout)["pages"] == 2
    first, second = (compact(text) for text in page_texts(tmp_path / "s.pdf"))
    assert "接诊记录表" in first and "会诊记录表" in second

    as_set = cli("print", "forms", "--set", "personal_info", "--blank", "-o", str(tmp_path / "x.pdf"))
    assert as_set.exit_code == 1
    assert "“personal_info”是单张表单“个人基本信息表”，不是套组：请用 --form personal_info" in as_set.output
    as_form = cli("print", "forms", "--form", "new_record", "--blank", "-o", str(tmp_path / "x.pdf"))
    assert as_form.exit_code == 1 and "是套组“新建档套表”，不是单张表单：请用 --set new_record" in as_form.output
    unknown = cli("print", "forms", "--form", "没有的表", "--blank", "-o", str(tmp_path / "x.pdf"))
    assert unknown.exit_code == 1 and "没有这种表单。可选的单张表单：card（" in unknown.output
    assert "encounter（接诊记录表）" in unknown.output
    neither = cli("print", "forms", "--blank", "-o", str(tmp_path / "x.pdf"))
    both_given = cli("print", "forms", "--set", "encounter", "--form", "encounter", "--blank", "-o",
                     str(tmp_path / "x.pdf"))
    assert neither.exit_code == both_given.exit_code == 2 and "二选一" in both_given.output
