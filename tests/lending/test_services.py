"""Check-out, return, renewal, lost and found on both databases: rules applied, events written, locations in step."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from archiveprint.errors import Conflict, InvalidValue, NotFound, PermissionDenied
from archiveprint.eventlog import Event, list_events
from archiveprint.lending.borrowers import add_borrower, set_borrower_active
from archiveprint.lending.models import Loan
from archiveprint.lending.queries import (
    LoanStatus,
    find_open_loans,
    list_overdue,
    loan_code,
    loan_statuses,
    status_provider,
)
from archiveprint.lending.services import check_out, declare_found, declare_lost, renew, return_folder
from archiveprint.locations.models import FolderPosition
from archiveprint.locations.queries import find_places, list_movements
from archiveprint.register.services import set_tags
from tests.conftest import ACTOR
from tests.lending.conftest import T0, TODAY


def _position(desk, household) -> FolderPosition:
    position = desk.session.get(FolderPosition, household.id)
    desk.session.refresh(position)
    return position


# --- check out -----------------------------------------------------------------------------------------------------

def test_check_out_by_folder_code_sets_the_due_date_logs_and_takes_the_folder_off_its_shelf(desk, lend):
    household = desk.homes[0]
    loan = lend(household, purpose="复诊")
    assert (loan.borrower_id, loan.purpose, loan.on_site, loan.renewals) == (desk.doctor.id, "revisit", False, 0)
    assert loan.due_on == TODAY + timedelta(days=14)
    assert loan.out_at == T0 + timedelta(minutes=1) and loan.out_by == ACTOR
    events = list_events(desk.session, "loan", loan.id)
    assert [e.kind for e in events] == ["loan.checked_out"]
    assert events[0].data["borrower"] == "doctor1" and events[0].data["due_on"] == "2026-12-09"
    position = _position(desk, household)
    assert (position.state, position.holder) == ("out", "钱医生（全科）")
    assert list_movements(desk.session, household.id)[-1].kind == "take_out"


def test_check_out_by_a_residents_code_lends_their_household_folder_and_remembers_whom_for(desk):
    household = desk.homes[1]
    resident = desk.resident(household)
    loan = check_out(desk.session, resident.archive_code, borrower=desk.doctor, purpose="随访", rules=desk.rules,
                     actor=ACTOR, now=desk.clock())
    assert (loan.household_id, loan.resident_id) == (household.id, resident.id)


def test_locate_shows_whom_the_folder_was_lent_to_and_when_it_is_due(desk, lend):
    household = desk.homes[0]
    lend(household)
    place = find_places(desk.session, [household.id], [status_provider(desk.rules)])[household.id]
    assert place.status.code == "lent"
    assert place.status.text == "借出给 钱医生（全科） 于 2026-11-25 应还 2026-12-09"
    assert place.address  # its home position stays reserved while it is out
    assert place.status.as_json()["due_on"] == "2026-12-09"
    on_shelf = find_places(desk.session, [desk.homes[1].id], [status_provider(desk.rules)])[desk.homes[1].id]
    assert on_shelf.status.code == "on_shelf"


def test_a_folder_lent_before_it_was_ever_shelved_shows_as_lent_not_unshelved(desk, lend):
    household = desk.unshelved
    lend(household)
    place = find_places(desk.session, [household.id], [status_provider(desk.rules)])[household.id]
    assert place.status.code == "lent" and place.status.text.startswith("借出给 钱医生")


def test_inventory_query_gives_open_loans_by_household(desk, lend):
    lent = [desk.homes[0], desk.west[0]]
    for household in lent:
        lend(household)
    ids = [h.id for h in desk.homes + desk.west]
    assert set(find_open_loans(desk.session, ids)) == {h.id for h in lent}
    assert find_open_loans(desk.session, []) == {}


def test_a_lent_folder_cannot_be_lent_again_and_the_refusal_says_to_whom(desk, lend):
    household = desk.homes[0]
    first = lend(household)
    with pytest.raises(Conflict) as error:
        lend(household, borrower=desk.village_doctor)
    assert f"已借出给 钱医生（全科） 于 2026-11-25 应还 2026-12-09（{loan_code(first.id)}）" in str(error.value)
    assert error.value.field == "档案袋"
    assert desk.session.scalar(select(func.count(Loan.id))) == 1


def test_the_database_itself_refuses_a_second_open_loan(desk, lend):
    household = desk.homes[0]
    loan = lend(household)
    twin = Loan(household_id=household.id, borrower_id=desk.village_doctor.id, borrower_kind="village_doctor",
                purpose="follow_up", out_at=loan.out_at, out_by=ACTOR, due_on=loan.due_on)
    with pytest.raises(IntegrityError), desk.session.begin_nested():
        desk.session.add(twin)
        desk.session.flush()


def test_village_doctors_borrow_only_from_their_own_villages(desk, lend):
    lend(desk.homes[0], borrower=desk.village_doctor, purpose="入户服务")
    with pytest.raises(PermissionDenied) as error:
        lend(desk.west[0], borrower=desk.village_doctor)
    assert "只能借阅本人负责的村" in str(error.value) and "西村" in str(error.value)


def test_purposes_are_checked_against_the_borrowers_rule(desk, lend):
    with pytest.raises(PermissionDenied, match="村医的借阅事由只能是"):
        lend(desk.homes[0], borrower=desk.village_doctor, purpose="督导检查")
    with pytest.raises(InvalidValue) as error:
        lend(desk.homes[0], purpose="其他")
    assert error.value.field == "事由说明"
    loan = lend(desk.homes[0], purpose="其他", purpose_note="医保核查")
    assert (loan.purpose, loan.purpose_note) == ("other", "医保核查")
    with pytest.raises(InvalidValue, match="借阅事由应为"):
        lend(desk.homes[1], purpose="看看")


def test_bad_scans_are_chinese_errors_naming_the_value(desk):
    with pytest.raises(InvalidValue) as error:
        check_out(desk.session, "hello", borrower=desk.doctor, purpose="随访", rules=desk.rules, actor=ACTOR,
                  now=desk.clock())
    assert error.value.field == "条码" and error.value.value == "hello"
    with pytest.raises(NotFound):
        check_out(desk.session, "F130123100201999991", borrower=desk.doctor, purpose="随访", rules=desk.rules,
                  actor=ACTOR, now=desk.clock())


def test_an_inactive_borrower_cannot_borrow(desk, lend):
    set_borrower_active(desk.session, desk.doctor, False, actor=ACTOR, now=desk.clock())
    with pytest.raises(Conflict, match="停用"):
        lend(desk.homes[0])


def test_a_folder_never_shelved_can_still_be_lent_and_returned(desk, lend):
    household = desk.unshelved
    loan = lend(household)
    assert desk.session.get(FolderPosition, household.id) is None
    result = return_folder(desk.session, desk.code(household), rules=desk.rules, actor=ACTOR, now=desk.clock())
    assert result.outcome == "returned" and result.loan.id == loan.id
    assert "尚未上架" in result.message and result.home == ""


def test_on_site_reading_is_due_the_same_day_and_cannot_be_renewed(desk, lend):
    loan = lend(desk.homes[0], on_site=True)
    assert loan.on_site and loan.due_on == TODAY
    with pytest.raises(Conflict, match="室内查阅不能续借"):
        renew(desk.session, desk.code(desk.homes[0]), rules=desk.rules, actor=ACTOR, now=desk.clock())


# --- return ------------------------------------------------------------------------------------------------------

def test_return_by_scan_closes_the_loan_puts_the_folder_home_and_says_where(desk, lend):
    household = desk.homes[0]
    loan = lend(household)
    result = return_folder(desk.session, desk.code(household), rules=desk.rules, actor=ACTOR, now=desk.clock())
    assert result.outcome == "returned" and result.changed
    assert (loan.returned_at, loan.return_condition, loan.returned_by) == (T0 + timedelta(minutes=2), "intact", ACTOR)
    position = _position(desk, household)
    assert position.state == "on_shelf"
    assert result.home and result.message.endswith(f"请放回 {result.home}")
    assert [e.kind for e in list_events(desk.session, "loan", loan.id)] == ["loan.checked_out", "loan.returned"]


def test_scanning_a_return_twice_is_a_success_not_an_error(desk, lend):
    household = desk.homes[0]
    loan = lend(household)
    first = return_folder(desk.session, desk.code(household), rules=desk.rules, actor=ACTOR, now=desk.clock())
    again = return_folder(desk.session, desk.code(household), rules=desk.rules, actor=ACTOR, now=desk.clock())
    by_receipt = return_folder(desk.session, loan_code(loan.id), rules=desk.rules, actor=ACTOR, now=desk.clock())
    assert first.outcome == "returned"
    assert again.outcome == by_receipt.outcome == "already_returned" and not again.changed
    assert again.loan.id == loan.id and "重复扫描" in again.message
    assert loan.returned_at == T0 + timedelta(minutes=2)  # the second scan changed nothing
    assert len(list_events(desk.session, "loan", loan.id)) == 2


def test_returning_a_folder_that_was_never_lent_just_sends_it_home(desk):
    result = return_folder(desk.session, desk.code(desk.homes[2]), rules=desk.rules, actor=ACTOR, now=desk.clock())
    assert result.outcome == "not_lent" and result.loan is None and "没有借出记录" in result.message


def test_condition_on_return_needs_a_note_when_not_intact(desk, lend):
    household = desk.homes[0]
    loan = lend(household)
    with pytest.raises(InvalidValue) as error:
        return_folder(desk.session, desk.code(household), condition="缺页", rules=desk.rules, actor=ACTOR,
                      now=desk.clock())
    assert error.value.field == "归还备注"
    result = return_folder(desk.session, desk.code(household), condition="缺页", note="缺体检表第3页",
                           rules=desk.rules, actor=ACTOR, now=desk.clock())
    assert (loan.return_condition, loan.return_note) == ("missing_pages", "缺体检表第3页")
    assert "缺页：缺体检表第3页" in result.message


# --- renew ----------------------------------------------------------------------------------------------------------

def test_renewal_moves_the_due_date_as_often_as_the_rule_allows(desk, lend):
    household = desk.homes[0]
    loan = lend(household)
    renewed = renew(desk.session, loan_code(loan.id), rules=desk.rules, actor=ACTOR, now=desk.clock())
    assert (renewed.due_on, renewed.renewals) == (date(2026, 12, 23), 1)
    with pytest.raises(Conflict, match="最多续借 1 次"):
        renew(desk.session, desk.code(household), rules=desk.rules, actor=ACTOR, now=desk.clock())
    assert [e.kind for e in list_events(desk.session, "loan", loan.id)] == ["loan.checked_out", "loan.renewed"]


def test_a_waiting_request_blocks_renewal(desk, lend):
    from archiveprint.lending.requests import request_folders

    household = desk.homes[0]
    lend(household)
    request_folders(desk.session, [desk.code(household)], borrower=desk.village_doctor, purpose="随访",
                    rules=desk.rules, actor=ACTOR, now=desk.clock())
    with pytest.raises(Conflict, match="另有 1 人在等"):
        renew(desk.session, desk.code(household), rules=desk.rules, actor=ACTOR, now=desk.clock())


def test_renewing_a_folder_not_lent_is_refused(desk):
    with pytest.raises(Conflict, match="没有借出"):
        renew(desk.session, desk.code(desk.homes[0]), rules=desk.rules, actor=ACTOR, now=desk.clock())


# --- overdue, lost and found --------------------------------------------------------------------------------------

def test_overdue_lists_open_loans_past_due_by_village_with_levels(desk, lend):
    lend(desk.homes[1])
    lend(desk.west[0])
    lend(desk.homes[0], borrower=desk.village_doctor)
    later = TODAY + timedelta(days=30)
    overdue = list_overdue(desk.session, today=later, rules=desk.rules)
    assert [(o.loan.village, o.loan.folder) for o in overdue] == [
        ("201", desk.code(desk.homes[0])), ("201", desk.code(desk.homes[1])), ("202", desk.code(desk.west[0]))]
    assert {(o.days_late, o.level) for o in overdue} == {(16, 2)}
    assert [o.loan.village for o in list_overdue(desk.session, today=later, rules=desk.rules, village="西村")] == \
        ["202"]
    assert list_overdue(desk.session, today=TODAY, rules=desk.rules) == []


def test_a_lost_loan_stays_open_until_found_and_locate_says_so(desk, lend):
    household = desk.homes[0]
    loan = lend(household)
    with pytest.raises(InvalidValue):
        declare_lost(desk.session, desk.code(household), note=" ", rules=desk.rules, actor=ACTOR, now=desk.clock())
    lost = declare_lost(desk.session, desk.code(household), note="村医说放在卫生室找不到", rules=desk.rules,
                        actor=ACTOR, now=desk.clock())
    assert lost.changed and loan.state == "lost" and _position(desk, household).state == "missing"
    again = declare_lost(desk.session, desk.code(household), note="再报一次", rules=desk.rules, actor=ACTOR,
                         now=desk.clock())
    assert not again.changed
    status = loan_statuses(desk.session, [household.id])[household.id]
    assert isinstance(status, LoanStatus) and status.text.startswith("借出给 钱医生（全科） 于 2026-11-25 后登记丢失")
    with pytest.raises(Conflict):
        lend(household, borrower=desk.village_doctor)  # still owed: it cannot go to anyone else
    found = declare_found(desk.session, desk.code(household), condition="破损", note="封皮撕裂", rules=desk.rules,
                          actor=ACTOR, now=desk.clock())
    assert found.outcome == "found" and loan.state == "returned" and loan.return_condition == "damaged"
    assert _position(desk, household).state == "on_shelf"
    kinds = [e.kind for e in list_events(desk.session, "loan", loan.id)]
    assert kinds == ["loan.checked_out", "loan.lost", "loan.found"]


def test_a_folder_missing_from_its_shelf_is_declared_and_recovered(desk):
    household = desk.homes[3]
    result = declare_lost(desk.session, desk.code(household), note="盘点未找到", rules=desk.rules, actor=ACTOR,
                          now=desk.clock())
    assert result.loan is None and _position(desk, household).state == "missing"
    found = declare_found(desk.session, desk.code(household), rules=desk.rules, actor=ACTOR, now=desk.clock())
    assert found.outcome == "found" and _position(desk, household).state == "on_shelf"
    assert declare_found(desk.session, desk.code(household), rules=desk.rules, actor=ACTOR,
                         now=desk.clock()).outcome == "on_shelf"


def test_found_on_a_loan_that_is_not_lost_says_to_return_it(desk, lend):
    lend(desk.homes[0])
    with pytest.raises(Conflict, match="请用归还"):
        declare_found(desk.session, desk.code(desk.homes[0]), rules=desk.rules, actor=ACTOR, now=desk.clock())


def test_a_missing_folder_scanned_for_check_out_is_booked_back_then_lent(desk, lend):
    household = desk.homes[3]
    declare_lost(desk.session, desk.code(household), note="盘点未找到", rules=desk.rules, actor=ACTOR, now=desk.clock())
    lend(household)
    kinds = [m.kind for m in list_movements(desk.session, household.id)]
    assert kinds[-3:] == ["missing", "found", "take_out"]


# --- borrowers --------------------------------------------------------------------------------------------------------

def test_borrowers_are_checked_when_registered(desk):
    now = desk.clock()
    with pytest.raises(InvalidValue, match="村医须写明负责的村"):
        add_borrower(desk.session, "li", kind="village_doctor", name="李村医", actor=ACTOR, now=now)
    with pytest.raises(InvalidValue) as error:
        add_borrower(desk.session, "ins", kind="external", name="保险公司", unit="某保险", actor=ACTOR, now=now)
    assert error.value.field == "联系人"
    with pytest.raises(Conflict, match="编号已存在"):
        add_borrower(desk.session, "wang", kind="staff", name="王", actor=ACTOR, now=now)
    with pytest.raises(Conflict, match="该用户已登记"):
        add_borrower(desk.session, "qian", kind="staff", username="doctor1", actor=ACTOR, now=now)
    with pytest.raises(NotFound):
        add_borrower(desk.session, "x", kind="staff", username="ghost", actor=ACTOR, now=now)
    with pytest.raises(InvalidValue, match="不能含空格"):
        add_borrower(desk.session, "a b", kind="staff", name="甲", actor=ACTOR, now=now)
    two = add_borrower(desk.session, "zhao", kind="village_doctor", name="赵村医", villages=["201", "西村"],
                       actor=ACTOR, now=now)
    assert [v.code for v in two.villages] == ["201", "202"]
    assert desk.session.scalar(select(Event.kind).where(Event.entity_type == "borrower",
                                                        Event.entity_id == str(two.id))) == "borrower.added"


def test_sensitive_households_need_approval_and_consent_even_for_staff(desk, lend):
    household = desk.homes[4]
    set_tags(desk.session, desk.resident(household), ["严重精神障碍"], actor=ACTOR)
    with pytest.raises(PermissionDenied, match="须先登记借阅申请（审批、居民或监护人同意）"):
        lend(household)
    lend(desk.homes[5])  # an ordinary household is lent without paperwork
