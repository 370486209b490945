"""Concurrency: one open loan per folder, one open request per folder and borrower, one application per scan."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from archiveprint.errors import Conflict
from archiveprint.eventlog import Event
from archiveprint.lending import services
from archiveprint.lending.journal import ScanInput, submit_scan
from archiveprint.lending.models import Loan, LoanRequest, LoanScan
from archiveprint.lending.queries import find_borrower
from archiveprint.lending.requests import request_folders
from archiveprint.locations.models import FolderPosition
from archiveprint.register.codes import folder_code
from archiveprint.register.models import Household
from tests.conftest import ACTOR
from tests.lending.conftest import T0, build_archive

# Threads on real commits (committed_db), on SQLite and PostgreSQL: the database decides.
THREADS = 50


def _archive(committed_db) -> str:  # type: ignore[no-untyped-def]
    """Build the archive with real commits; the code of the first folder of village 201."""
    with committed_db.transaction() as session:
        made = build_archive(session)
        household = made["homes"][0]
        return folder_code(household.village.full_code, household.number).value


def _race(count: int, work):  # type: ignore[no-untyped-def]
    """Run `work(n)` in `count` threads released together; each returns what it got (a result or the error)."""
    gate = threading.Barrier(count)

    def run(n: int) -> object:
        gate.wait()
        try:
            return work(n)
        except Conflict as error:
            return error
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


@pytest.mark.parametrize("precheck", [True, False], ids=["service-check", "index-only"])
def test_fifty_clerks_lending_one_folder_make_exactly_one_loan(committed_db, rules, monkeypatch, precheck):
    """With `index-only`, the service's own "already lent?" look-up is blinded: the partial unique index alone
    must stop the other 49."""
    code = _archive(committed_db)
    if not precheck:
        monkeypatch.setattr(services, "find_open_loan", lambda session, household_id: None)
    borrowers = ["doctor1", "wang"]

    def lend(n: int) -> int:
        with committed_db.transaction() as session:
            borrower = find_borrower(session, borrowers[n % 2])
            return services.check_out(session, code, borrower=borrower, purpose="随访", rules=rules, actor=f"clerk{n}",
                             now=T0 + timedelta(seconds=n)).id

    results = _race(THREADS, lend)
    loans = [r for r in results if isinstance(r, int)]
    refusals = [r for r in results if isinstance(r, Conflict)]
    assert len(loans) == 1 and len(refusals) == THREADS - 1
    expected = "已借出给" if precheck else "刚被别人借出"
    assert all(expected in str(r) or "刚被别人借出" in str(r) for r in refusals), {str(r) for r in refusals}
    assert all(r.field == "档案袋" for r in refusals)
    with committed_db.reader() as session:
        assert session.scalar(select(func.count(Loan.id))) == 1
        household_id = session.scalar(select(Loan.household_id))
        position = session.get(FolderPosition, household_id)
        assert position.state == "out"  # the winner's take-out, written once
        assert session.scalar(select(func.count(Event.id)).where(Event.kind == "loan.checked_out")) == 1


def test_two_clerks_returning_one_folder_both_succeed_and_it_is_returned_once(committed_db, rules):
    code = _archive(committed_db)
    with committed_db.transaction() as session:
        services.check_out(session, code, borrower=find_borrower(session, "doctor1"), purpose="随访", rules=rules,
                  actor=ACTOR, now=T0)

    def give_back(n: int) -> str:
        with committed_db.transaction() as session:
            return services.return_folder(session, code, rules=rules, actor=f"clerk{n}",
                                 now=T0 + timedelta(minutes=5, seconds=n)).outcome

    outcomes = _race(8, give_back)
    assert sorted(outcomes) == ["already_returned"] * 7 + ["returned"]
    with committed_db.reader() as session:
        assert session.scalar(select(func.count(Event.id)).where(Event.kind == "loan.returned")) == 1


def test_a_request_submitted_many_times_at_once_is_recorded_once(committed_db, rules):
    code = _archive(committed_db)

    def ask(n: int) -> int:
        with committed_db.transaction() as session:
            batch = request_folders(session, [code], borrower=find_borrower(session, "doctor1"), purpose="复诊",
                                    rules=rules, actor=ACTOR, now=T0 + timedelta(seconds=n))
            return batch.requests[0].id

    ids = _race(10, ask)
    assert len(set(ids)) == 1
    with committed_db.reader() as session:
        assert session.scalar(select(func.count(LoanRequest.id))) == 1


def test_the_same_offline_scan_sent_by_two_tabs_at_once_is_applied_once(committed_db, rules):
    code = _archive(committed_db)
    entry = ScanInput(client_id="tab-scan-0001", client_at=T0, action="out", code=code, borrower="wang",
                      purpose="随访")

    def send(n: int) -> tuple[str, bool]:
        with committed_db.transaction() as session:
            outcome = submit_scan(session, entry, rules=rules, actor=ACTOR, now=T0 + timedelta(minutes=1))
            return outcome.outcome, outcome.replayed

    outcomes = _race(10, send)
    assert sorted(outcomes) == [("applied", False)] + [("applied", True)] * 9
    with committed_db.reader() as session:
        assert session.scalar(select(func.count(Loan.id))) == 1
        assert session.scalar(select(func.count(LoanScan.id))) == 1
        assert session.scalar(select(func.count(Household.id))) == 10
