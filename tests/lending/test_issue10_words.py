"""Issue #10.11–#10.13 at the lending desk: no CLI advice, a village doctor whose account names villages can request
at once, no doubled words at the scan station, and our lending words in English."""

from __future__ import annotations

import pytest

from archiveprint.accounts.services import create_user
from archiveprint.errors import NotConfigured, NotFound
from archiveprint.lending.borrowers import borrower_for_user
from archiveprint.lending.queries import find_borrower, status_provider
from archiveprint.locations import inventory as inv
from archiveprint.register.services import find_village
from tests.conftest import ACTOR
from tests.lending.conftest import PASSWORD


def test_issue_10_11_an_unknown_borrower_is_not_told_to_run_a_command(desk):
    with pytest.raises(NotFound) as error:
        find_borrower(desk.session, "nobody")
    assert error.value.message == "没有这个借阅人（请先登记为借阅人）"
    assert "archiveprint" not in str(error.value)


def test_issue_10_11_a_village_doctor_user_with_villages_becomes_their_borrower_on_first_request(desk):
    user = create_user(desk.session, "liu", PASSWORD, "village_doctor", display_name="刘村医")
    user.villages = [find_village(desk.session, "202"), find_village(desk.session, "201")]
    desk.session.flush()
    borrower = borrower_for_user(desk.session, user, actor=ACTOR, now=desk.clock())
    assert (borrower.key, borrower.kind, borrower.name) == ("liu", "village_doctor", "刘村医")
    assert borrower.user_id == user.id
    assert [v.code for v in borrower.villages] == ["201", "202"]
    assert borrower_for_user(desk.session, user, actor=ACTOR, now=desk.clock()).id == borrower.id


def test_issue_10_11_a_village_doctor_user_without_villages_is_told_who_registers_them(desk):
    user = create_user(desk.session, "zhao", PASSWORD, "village_doctor", display_name="赵村医")
    with pytest.raises(NotConfigured) as error:
        borrower_for_user(desk.session, user, actor=ACTOR, now=desk.clock())
    assert "archiveprint" not in str(error.value) and "“借阅人”页" in str(error.value)


def test_issue_10_12_an_unreadable_barcode_at_the_station_says_so_once(desk):
    count = inv.start_inventory(desk.session, counters=["孙管理员"], first="K1-M-1-A-2", last="K1-M-1-A-3",
                                supervisor="周院长", actor=ACTOR, now=desk.clock())
    unknown = inv.record_scan(desk.session, count, "ABC", shelf=None, providers=[status_provider(desk.rules)],
                              actor=ACTOR, now=desk.clock())
    assert unknown.kind == "unknown"
    assert unknown.message.count("无法识别") == 1, unknown.message
    assert "无法识别的条码：" in unknown.message


def test_issue_10_11_returning_an_unshelved_folder_says_where_it_goes_without_a_command(desk, lend):
    from archiveprint.lending.services import return_folder

    lend(desk.unshelved)
    returned = return_folder(desk.session, desk.code(desk.unshelved), rules=desk.rules, actor=ACTOR, now=desk.clock())
    assert "该档案袋尚未上架，请交档案室上架" in returned.message and "archiveprint" not in returned.message
