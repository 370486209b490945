"""The scan journal: offline scans replayed in order, each applied once; conflicts reported and kept, never applied."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from archiveprint.errors import InvalidValue
from archiveprint.lending.journal import ScanInput, replay_scans, submit_scan
from archiveprint.lending.models import Loan, LoanScan
from archiveprint.lending.queries import find_open_loan, loan_code
from archiveprint.lending.services import return_folder
from tests.conftest import ACTOR
from tests.lending.conftest import T0, TODAY


def scan(client_id: str, minutes: int, action: str, code: str, **kw: object) -> ScanInput:
    return ScanInput(client_id=client_id, client_at=T0 + timedelta(minutes=minutes), action=action, code=code,
                     station="desk-1", **kw)  # type: ignore[arg-type]


def test_a_journal_replayed_twice_applies_each_scan_once(desk):
    code = desk.code(desk.homes[0])
    journal = [scan("scan-0001", 1, "out", code, borrower="doctor1", purpose="随访"),
               scan("scan-0002", 2, "renew", code),
               scan("scan-0003", 3, "return", code),
               scan("scan-0004", 4, "return", code)]
    now = T0 + timedelta(hours=2)  # the station was offline; the server hears of it two hours later
    first = replay_scans(desk.session, journal, rules=desk.rules, actor=ACTOR, now=now)
    assert [o.outcome for o in first] == ["applied", "applied", "applied", "unchanged"]
    assert not any(o.replayed for o in first)
    loan = desk.session.scalar(select(Loan))
    assert loan.out_at == T0 + timedelta(minutes=1)  # when it happened at the desk, not when the server heard
    assert loan.returned_at == T0 + timedelta(minutes=3) and loan.renewals == 1
    assert first[0].loan == loan_code(loan.id)
    again = replay_scans(desk.session, journal, rules=desk.rules, actor=ACTOR, now=now + timedelta(minutes=5))
    assert [o.outcome for o in again] == ["applied", "applied", "applied", "unchanged"]
    assert all(o.replayed for o in again)
    assert [o.message for o in again] == [o.message for o in first]
    assert desk.session.scalar(select(func.count(Loan.id))) == 1
    assert desk.session.scalar(select(func.count(LoanScan.id))) == 4


def test_an_offline_check_out_of_a_folder_lent_meanwhile_is_reported_not_applied(desk, lend):
    code = desk.code(desk.homes[0])
    desk.clock.advance(minutes=30)
    online = lend(desk.homes[0], borrower=desk.village_doctor)  # at T0+31 min, while desk-1 was offline
    offline = scan("scan-0100", 40, "out", code, borrower="doctor1", purpose="随访")
    outcome = submit_scan(desk.session, offline, rules=desk.rules, actor=ACTOR, now=T0 + timedelta(hours=1))
    assert outcome.outcome == "conflict" and not outcome.ok
    assert "已借出给 王村医（东村卫生室）" in outcome.message
    assert find_open_loan(desk.session, desk.homes[0].id).id == online.id
    stored = desk.session.scalar(select(LoanScan).where(LoanScan.client_id == "scan-0100"))
    assert (stored.outcome, stored.loan_id) == ("conflict", None)
    again = submit_scan(desk.session, offline, rules=desk.rules, actor=ACTOR, now=T0 + timedelta(hours=2))
    assert (again.outcome, again.replayed) == ("conflict", True)


def test_a_return_scanned_before_the_current_loan_began_is_a_conflict(desk, lend):
    code = desk.code(desk.homes[0])
    desk.clock.advance(minutes=30)
    lend(desk.homes[0])  # lent at T0+31 min
    stale = scan("scan-0200", 10, "return", code)  # a return scanned offline at T0+10 min belongs to an older loan
    outcome = submit_scan(desk.session, stale, rules=desk.rules, actor=ACTOR, now=T0 + timedelta(hours=1))
    assert outcome.outcome == "conflict" and "不属于这笔借阅" in outcome.message
    assert find_open_loan(desk.session, desk.homes[0].id) is not None


def test_an_offline_check_out_older_than_the_last_return_is_a_conflict(desk, lend):
    code = desk.code(desk.homes[0])
    lend(desk.homes[0])
    desk.clock.advance(minutes=60)
    return_folder(desk.session, code, rules=desk.rules, actor=ACTOR, now=desk.clock())  # returned at T0+62 min
    outcome = submit_scan(desk.session, scan("scan-0300", 30, "out", code, borrower="wang", purpose="随访"),
                          rules=desk.rules, actor=ACTOR, now=T0 + timedelta(hours=2))
    assert outcome.outcome == "conflict" and "早于该档案袋最近一次归还" in outcome.message


def test_rejected_scans_are_kept_and_a_reused_client_id_is_refused(desk):
    code = desk.code(desk.homes[0])
    bad = submit_scan(desk.session, scan("scan-0400", 1, "out", "nonsense", borrower="doctor1", purpose="随访"),
                      rules=desk.rules, actor=ACTOR, now=T0 + timedelta(hours=1))
    assert bad.outcome == "rejected" and "无法识别的条码" in bad.message
    reused = submit_scan(desk.session, scan("scan-0400", 2, "return", code), rules=desk.rules, actor=ACTOR,
                         now=T0 + timedelta(hours=1))
    assert reused.outcome == "rejected" and "已用于另一次扫描" in reused.message
    future = submit_scan(desk.session, scan("scan-0401", 600, "return", code), rules=desk.rules, actor=ACTOR,
                         now=T0 + timedelta(hours=1))
    assert future.outcome == "rejected" and "晚于服务器时间" in future.message


def test_a_replayed_release_goes_to_the_requester_with_the_due_date_of_the_scan_day(desk):
    from archiveprint.lending.requests import request_folders

    request_folders(desk.session, [desk.code(desk.homes[1])], borrower=desk.village_doctor, purpose="入户服务",
                    rules=desk.rules, actor=ACTOR, now=T0)
    late_evening = ScanInput(client_id="scan-0500", client_at=T0 + timedelta(hours=15, minutes=30), action="out",
                             code=desk.code(desk.homes[1]))  # 00:30 on the 26th in Beijing
    outcome = submit_scan(desk.session, late_evening, rules=desk.rules, actor=ACTOR, now=T0 + timedelta(days=1))
    assert outcome.outcome == "applied"
    loan = find_open_loan(desk.session, desk.homes[1].id)
    assert loan.borrower_id == desk.village_doctor.id and loan.due_on == TODAY + timedelta(days=15)


@pytest.mark.parametrize(("data", "field"), [
    ({"client_id": "short", "client_at": "2026-11-25T08:00:00Z", "action": "out", "code": "F1"}, "client_id"),
    ({"client_id": "abcdefgh", "client_at": "2026-11-25T08:00:00Z", "action": "lend", "code": "F1"}, "action"),
    ({"client_id": "abcdefgh", "client_at": "yesterday", "action": "out", "code": "F1"}, "client_at"),
    ({"client_id": "abcdefgh", "client_at": "2026-11-25T08:00:00Z", "action": "out", "code": ""}, "code"),
])
def test_journal_entries_are_checked_field_by_field(data, field):
    with pytest.raises(InvalidValue) as error:
        ScanInput.from_json(data)
    assert error.value.field == field


def test_journal_times_with_a_zone_are_stored_as_utc():
    parsed = ScanInput.from_json({"client_id": "abcdefgh", "client_at": "2026-11-25T09:01:00+08:00",
                                  "action": "return", "code": "F1", "station": "desk-2"})
    assert parsed.client_at == T0 + timedelta(minutes=1) and parsed.station == "desk-2"
