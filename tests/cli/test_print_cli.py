"""`archiveprint print forms` on a real database: the documented --json object, exit codes, the PDF it writes."""

from __future__ import annotations

import json
from datetime import date
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from archiveprint.accounts.models import AuditEntry
from archiveprint.cli import AppContext, main
from archiveprint.register import services
from tests.conftest import ACTOR, setup_township
from tests.pdfcheck import compact, page_texts, read


@pytest.fixture
def cli(cli_env):
    with cli_env.transaction() as session:
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


# The head's new-record set (新建档套表), page by page, with what the register prefills on each form: written out
# here from the resident the fixture registers, not computed by forms/context.py (the code under test).
HEAD_SET = [  # (form, pages, values printed on them)
    ("cover", 1, ["13012310020100001", "欧阳𠮷", "东村2组8号", "13800138000", "诸福屯镇", "东村", "诸福屯镇卫生院",
                  "2021", "04", "05"]),  # 建档日期 2021-04-05 as 年/月/日
    ("personal_info", 1, ["欧阳𠮷", "20100001", "2", "19500203", "11010519491231002X", "13800138000"]),
    ("health_check", 4, ["欧阳𠮷", "20100001"]),
]  # the 信息卡 prints in its own sets (cards_a4, cards_stock): a set prints on one paper size (issue #12)


def test_new_record_set_for_a_village_with_json_and_every_prefilled_value_on_its_form(cli, committed_db, tmp_path,
                                                                                     monkeypatch):
    from archiveprint.forms import services as print_services

    ticks = iter([100.0, 102.5])  # the job's start and end on the performance counter
    monkeypatch.setattr(print_services, "time", SimpleNamespace(perf_counter=lambda: next(ticks)))
    out = tmp_path / "v.pdf"
    result = cli("print", "forms", "--set", "新建档套表", "--village", "东村", "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data == {"pages": 12, "residents": 2, "seconds": 2.5, "output": str(out),  # 2 × (1 + 1 + 4) pages
                    "outputs": [str(out)], "population": None}  # 新建档套表 is for everyone
    texts = [compact(t) for t in page_texts(out)]
    assert len(read(out).pages) == len(texts) == 12
    page = 0
    for form_id, pages, values in HEAD_SET:  # the head's set comes first: each prefilled value on its own form
        form_text = "".join(texts[page:page + pages])
        for value in values:
            assert value in form_text, f"{form_id}: {value} not printed"
        page += pages
    assert "王堃" in "".join(texts[6:]) and "王堃" not in "".join(texts[:6])  # then the spouse's set
    with committed_db.reader() as session:
        assert session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "print")) == 2
    sizes = {(round(float(p.mediabox.width)), round(float(p.mediabox.height))) for p in read(out).pages}
    assert sizes == {(595, 842)}  # A4 only: no card page stops the office printer


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


def test_issue_12_instructions_once_or_after_each_form(cli, tmp_path):
    def printed(*args: str) -> list[str]:
        out = tmp_path / f"{len(list(tmp_path.glob('*.pdf')))}.pdf"
        result = cli("print", "forms", *args, "-o", str(out), "--json")
        assert result.exit_code == 0, result.output
        texts = [compact(text) for text in page_texts(out)]
        assert json.loads(result.stdout)["pages"] == len(texts)
        return ["I" if text.startswith("高血压患者随访服务记录表填表说明") else "F" for text in texts]

    assert printed("--set", "hypertension", "--blank", "--copies", "2") == ["F", "F"]  # none unless asked
    assert printed("--set", "hypertension", "--blank", "--copies", "2", "--instructions", "per-form") == [
        "F", "I", "F", "I"]
    assert printed("--set", "hypertension", "--village", "201", "--everyone", "--instructions", "once") == [
        "I", "F", "F"]
    wrong = cli("print", "forms", "--set", "hypertension", "--blank", "--instructions", "twice", "-o",
                str(tmp_path / "x.pdf"))
    assert wrong.exit_code == 2 and "none" in wrong.output and "per-form" in wrong.output
