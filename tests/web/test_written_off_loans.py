"""遗失注销: a loan whose folder was lost while lent and then written off shows as written off — with its date,
reason and approver — and never as returned: the register and its state filter, the loan page, the folder's loan
history on the locate page, the monthly register PDF, /api/v1/loans, `lend list` and `lend show` (both --json)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from click.testing import Result

from archiveprint.db import Database
from archiveprint.lending.documents import register_context
from archiveprint.lending.queries import find_borrower, list_loans, list_register, loan_code
from archiveprint.lending.rules import load_rules, shipped_rules_file
from archiveprint.lending.services import check_out, declare_lost, return_folder, write_off
from archiveprint.register.codes import folder_code
from tests.conftest import ACTOR
from tests.lending.conftest import build_archive
from tests.web.test_lending_pages import sign_in

NOVEMBER = datetime(2026, 11, 2, 2, 0)


@pytest.fixture
def loans(committed_db: Database) -> dict[str, object]:
    """Three loans of November: one lost and written off, one returned, one still out."""
    rules = load_rules([shipped_rules_file()])
    with committed_db.transaction() as session:
        made = build_archive(session, now=NOVEMBER - timedelta(days=1))
        codes = [folder_code(h.village.full_code, h.number).value for h in made["homes"]]
        wang = find_borrower(session, "wang")
        gone, back, out = (check_out(session, c, borrower=wang, purpose="随访", rules=rules, actor=ACTOR,
                                     now=NOVEMBER + timedelta(hours=n)) for n, c in enumerate(codes[:3]))
        declare_lost(session, codes[0], note="村医搬家时遗失", rules=rules, actor=ACTOR,
                     now=NOVEMBER + timedelta(days=1))
        write_off(session, codes[0], reason="两次全库查找无果", approved_by="周院长", actor="clerk1",
                  now=datetime(2026, 11, 10, 2, 30))
        return_folder(session, codes[1], rules=rules, actor=ACTOR, now=NOVEMBER + timedelta(days=2))
        return {"codes": codes, "gone": gone.id, "back": back.id, "out": out.id}


def test_lists_and_filters_tell_a_written_off_loan_from_a_return(client, loans, committed_db):
    rules = load_rules([shipped_rules_file()])
    with committed_db.reader() as session:
        views = {v.id: v for v in list_register(session, "2026-11", rules=rules)}
        gone = views[loans["gone"]]
        assert (gone.state, gone.state_text, gone.returned_at) == ("written_off", "遗失注销", None)
        assert (gone.written_off_at, gone.write_off_reason, gone.write_off_approver) == (
            datetime(2026, 11, 10, 10, 30), "两次全库查找无果", "周院长")  # local time (Asia/Shanghai)
        assert [v.id for v in views.values() if v.matches(state="returned")] == [loans["back"]]
        assert [v.id for v in views.values() if v.matches(state="open")] == [loans["out"]]
        assert [v.id for v in list_loans(session, "written_off", rules=rules)] == [loans["gone"]]
        context = register_context(list(views.values()), month="2026-11", unit="卫生院", rules=rules)
        assert (context["returned"], context["open"], context["written_off"]) == (1, 1, 1)
        assert context["rows"][0]["returned"] == "" and context["rows"][0]["remark"] == "遗失注销 11-10"

    sign_in(client)
    page = client.get("/lending/?month=2026-11&state=written_off").get_data(as_text=True)
    assert loan_code(loans["gone"]) in page and loan_code(loans["back"]) not in page
    assert "遗失注销" in page and "周院长" in page and "两次全库查找无果" in page
    page = client.get("/lending/?month=2026-11&state=returned").get_data(as_text=True)
    assert loan_code(loans["back"]) in page and loan_code(loans["gone"]) not in page

    page = client.get(f"/lending/loans/{loans['gone']}").get_data(as_text=True)
    assert 'id="loan-state">遗失注销' in page and "已归还" not in page
    assert "2026-11-10 10:30" in page and "两次全库查找无果" in page and "周院长" in page
    assert "确认归还" not in page and "登记找回" not in page  # nothing left to do on it

    page = client.get(f"/locations/locate?q={loans['codes'][0]}").get_data(as_text=True)
    assert 'id="folder-loans"' in page and "遗失注销" in page and "周院长" in page

    api = client.get("/api/v1/loans?state=written_off").json
    assert api["count"] == 1 and api["loans"][0]["state"] == "written_off"
    assert (api["loans"][0]["returned_at"], api["loans"][0]["written_off_at"], api["loans"][0]["write_off_reason"],
            api["loans"][0]["write_off_approver"]) == (None, "2026-11-10T10:30", "两次全库查找无果", "周院长")
    month = client.get("/api/v1/loans?month=2026-11&state=returned").json
    assert [row["loan"] for row in month["loans"]] == [loans["back"]]
    refused = client.get("/api/v1/loans?state=gone")
    assert refused.status_code == 400 and "gone" in refused.get_data(as_text=True)


def test_the_cli_lists_and_shows_a_written_off_loan(loans, run_cli: Callable[..., Result]):
    listed = run_cli("lend", "list", "--state", "written_off", "--json")
    assert listed.exit_code == 0
    data = json.loads(listed.output)
    assert [row["loan"] for row in data["loans"]] == [loans["gone"]]
    assert data["loans"][0]["state_text"] == "遗失注销" and data["loans"][0]["returned_at"] is None
    text = run_cli("lend", "list", "--month", "2026-11").output
    assert "遗失注销 2026-11-10 10:30（原因：两次全库查找无果；批准人：周院长）" in text
    assert text.count("已归还") == 1
    shown = run_cli("lend", "show", loan_code(loans["gone"])).output
    assert "遗失注销" in shown and "注销原因：两次全库查找无果" in shown and "批准人：周院长" in shown
    assert "归还：" not in shown
    history = json.loads(run_cli("lend", "show", loans["codes"][0], "--json").output)
    assert [row["state"] for row in history["loans"]] == ["written_off"]
