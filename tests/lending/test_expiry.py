"""Requests nobody released are closed as expired: when, with what record, and what an expired request still allows."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from archiveprint.errors import Conflict, InvalidValue
from archiveprint.eventlog import Event, list_events
from archiveprint.lending.models import LoanRequest
from archiveprint.lending.queries import list_queue, list_requests
from archiveprint.lending.requests import approve_request, cancel_request, expire_requests, request_folders
from archiveprint.lending.services import check_out
from tests.conftest import ACTOR
from tests.lending.conftest import T0, TODAY

NOW = datetime(2026, 11, 25, 2, 0)  # 10:00 in Beijing on 2026-11-25; with 7 days, the cutoff day is 2026-11-18


def _ask(desk, household, *, at: datetime, borrower=None, needed_on: date | None = None) -> LoanRequest:
    batch = request_folders(desk.session, [desk.code(household)], borrower=borrower or desk.doctor, purpose="复诊",
                            needed_on=needed_on, rules=desk.rules, actor=ACTOR, now=at)
    return batch.requests[0]


def _expired_events(desk) -> int:
    return desk.session.scalar(select(func.count(Event.id)).where(Event.kind == "loan_request.expired")) or 0


def test_open_requests_older_than_the_expiry_are_closed_with_a_reason_and_an_event(desk):
    # Asked oldest-last: each request also closes its borrower's requests that were stale on the day it was made.
    fresh = _ask(desk, desk.homes[4], at=T0)
    released = _ask(desk, desk.homes[5], at=T0 - timedelta(days=30))
    check_out(desk.session, desk.code(desk.homes[5]), rules=desk.rules, actor=ACTOR, now=desk.clock())
    for_later = _ask(desk, desk.homes[3], at=T0 - timedelta(days=20), needed_on=date(2026, 11, 20))
    old = _ask(desk, desk.homes[0], at=T0 - timedelta(days=10))
    late_evening = _ask(desk, desk.homes[1], at=datetime(2026, 11, 17, 15, 30))  # 23:30 on 11-17 in Beijing
    after_midnight = _ask(desk, desk.homes[2], at=datetime(2026, 11, 17, 16, 30))  # 00:30 on 11-18 in Beijing
    assert _expired_events(desk) == 0

    expired = expire_requests(desk.session, rules=desk.rules, actor="clerk1", now=NOW)

    assert [item.request_id for item in expired] == [old.id, late_evening.id]
    assert expired[0].asked_on == date(2026, 11, 15) and expired[0].borrower_key == "doctor1"
    assert expired[0].as_json()["folder_display"] == expired[0].folder_display
    assert (old.status, old.closed_at, old.closed_reason) == ("expired", NOW, "超过 7 天未放行，已自动关闭")
    for waiting in (after_midnight, for_later, fresh):
        assert waiting.status == "open"
    assert released.status == "released"
    event = list_events(desk.session, "loan_request", old.id)[-1]
    assert (event.kind, event.actor) == ("loan_request.expired", "clerk1")
    assert event.data["reason"] == "超过 7 天未放行，已自动关闭" and event.data["expiry_days"] == 7
    assert event.data["asked_on"] == "2026-11-15" and event.data["borrower"] == "doctor1"
    assert sorted(row.request_id for row in list_queue(desk.session, rules=desk.rules).rows) == \
        sorted([after_midnight.id, for_later.id, fresh.id])


def test_expiry_is_idempotent_and_a_dry_run_changes_nothing(desk):
    old = _ask(desk, desk.homes[0], at=T0 - timedelta(days=10))
    planned = expire_requests(desk.session, rules=desk.rules, actor=ACTOR, now=NOW, dry_run=True)
    assert [item.request_id for item in planned] == [old.id]
    desk.session.refresh(old)
    assert old.status == "open" and _expired_events(desk) == 0
    assert [item.request_id for item in expire_requests(desk.session, rules=desk.rules, actor=ACTOR, now=NOW)] == \
        [old.id]
    assert expire_requests(desk.session, rules=desk.rules, actor=ACTOR, now=NOW + timedelta(hours=1)) == []
    assert _expired_events(desk) == 1


def test_the_day_needed_counts_when_it_is_later_than_the_day_asked(desk):
    request = _ask(desk, desk.homes[0], at=datetime(2026, 11, 1, 1, 0), needed_on=date(2026, 11, 20))
    assert expire_requests(desk.session, rules=desk.rules, actor=ACTOR, now=NOW) == []  # 11-20 is after 11-18
    assert expire_requests(desk.session, rules=desk.rules, actor=ACTOR, now=NOW,
                           today=date(2026, 11, 28)) != []
    assert request.status == "expired"


def test_expiry_days_zero_keeps_requests_open(desk):
    _ask(desk, desk.homes[0], at=T0 - timedelta(days=100))
    never = replace(desk.rules, request_expiry_days=0)
    assert expire_requests(desk.session, rules=never, actor=ACTOR, now=NOW) == []
    assert expire_requests(desk.session, rules=never, actor=ACTOR, now=NOW, dry_run=True) == []


def test_an_expired_request_is_not_released_changed_or_cancelled(desk):
    request = _ask(desk, desk.homes[0], at=T0 - timedelta(days=10))
    expire_requests(desk.session, rules=desk.rules, actor=ACTOR, now=NOW)
    with pytest.raises(InvalidValue, match="没有待放行的借阅申请"):
        check_out(desk.session, desk.code(desk.homes[0]), rules=desk.rules, actor=ACTOR, now=NOW)
    with pytest.raises(Conflict, match="该申请已过期，不能再更改"):
        cancel_request(desk.session, request.id, actor=ACTOR, now=NOW)
    with pytest.raises(Conflict, match="已过期"):
        approve_request(desk.session, request.id, approver=desk.director, rules=desk.rules, actor=ACTOR, now=NOW)


def test_asking_again_for_a_stale_request_starts_a_new_one(desk):
    stale = _ask(desk, desk.homes[0], at=T0 - timedelta(days=10))
    other = _ask(desk, desk.homes[1], at=T0 - timedelta(days=10), borrower=desk.village_doctor)
    again = _ask(desk, desk.homes[0], at=NOW)
    assert again.id != stale.id and again.status == "open"
    assert stale.status == "expired"
    assert other.status == "open"  # only the asking borrower's stale requests are closed on the way
    assert desk.session.scalar(select(func.count(LoanRequest.id)).where(LoanRequest.status == "open")) == 2


def test_the_requester_sees_the_expired_state_and_the_reason(desk):
    waiting = _ask(desk, desk.homes[1], at=T0)
    stale = _ask(desk, desk.homes[0], at=T0 - timedelta(days=10))
    mine = _ask(desk, desk.homes[2], at=T0, borrower=desk.village_doctor)
    expire_requests(desk.session, rules=desk.rules, actor=ACTOR, now=NOW)
    views = list_requests(desk.session, rules=desk.rules, borrower_id=desk.doctor.id)
    assert [(v.request_id, v.status, v.status_text) for v in views] == [
        (stale.id, "expired", "已过期"), (waiting.id, "open", "待放行")]  # newest first
    assert views[0].closed_reason == "超过 7 天未放行，已自动关闭"
    assert views[0].closed_at == datetime(2026, 11, 25, 10, 0)  # local time
    assert views[0].head_name == "张1号" and views[0].asked_at.date() == TODAY - timedelta(days=10)
    assert [v.request_id for v in list_requests(desk.session, rules=desk.rules, status="expired")] == [stale.id]
    assert mine.id not in {v.request_id for v in views}
