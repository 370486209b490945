"""Concurrency: one open loan per folder, one open request per folder and borrower, one application per scan, and a
request either released or expired — never both."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from archiveprint.errors import ArchiveprintError, Conflict
from archiveprint.eventlog import Event
from archiveprint.lending import services
from archiveprint.lending.journal import ScanInput, submit_scan
from archiveprint.lending.models import Loan, LoanRequest, LoanScan
from archiveprint.lending.queries import find_borrower
from archiveprint.lending.requests import expire_requests, request_folders
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
    # Each loser is told one thing, whichever way it lost: with the service's check, the winner's loan (the
    # check found it, or the index refused the insert and the winner, committed by then, was looked up); with
    # the check blinded (that look-up too), only that someone just lent it.
    winner = f"（L{loans[0]:08d}"  # the winner's loan number without its check digit
    messages = {r.message for r in refusals}
    if precheck:
        (message,) = messages
        assert message.startswith("该档案袋已借出给 ") and winner in message, message
    else:
        assert messages == {"该档案袋刚被别人借出"}
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


# --- a release racing an expiry ------------------------------------------------------------------------------------

STALE = T0 - timedelta(days=10)  # older than the shipped request_expiry_days (7) on T0


def _stale_requests(committed_db, rules) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """The archive with one stale open request by doctor1 for each shelved folder: request id by folder code."""
    with committed_db.transaction() as session:
        made = build_archive(session)
        codes = [folder_code(h.village.full_code, h.number).value for h in made["homes"] + made["west"]]
        batch = request_folders(session, codes, borrower=find_borrower(session, "doctor1"), purpose="复诊",
                                rules=rules, actor=ACTOR, now=STALE)
        return {code: request.id for code, request in zip(codes, batch.created, strict=True)}


def _released_xor_expired(committed_db, request_ids) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Each request ends released with its loan and one check-out event, or expired with one expiry event and no
    loan; never both, never neither."""
    outcome = {"released": 0, "expired": 0}
    with committed_db.reader() as session:
        for request_id in request_ids:
            request = session.get(LoanRequest, request_id)
            loans = session.scalar(select(func.count(Loan.id)).where(Loan.request_id == request_id))
            expiries = session.scalar(select(func.count(Event.id)).where(
                Event.kind == "loan_request.expired", Event.entity_id == str(request_id)))
            assert (request.status, loans, expiries) in (("released", 1, 0), ("expired", 0, 1)), request_id
            outcome[request.status] += 1
        checked_out = session.scalar(select(func.count(Event.id)).where(Event.kind == "loan.checked_out"))
        assert checked_out == outcome["released"] == session.scalar(select(func.count(Loan.id)))
    return outcome


def test_an_expiry_committed_while_a_release_is_under_way_makes_the_release_fail(committed_db, rules, backend,
                                                                               monkeypatch):
    """The clerk's scan has read the request as open; the queue is read (expiring it) before the scan writes. On
    PostgreSQL the expiry commits in between and the release must refuse; on SQLite the scan holds the write lock,
    so the expiry waits and then finds the request released. Either way: one outcome.

    The scan goes on when the expiry has committed (PostgreSQL) or has reached the BEGIN IMMEDIATE that cannot
    finish while the scan's transaction holds SQLite's write lock: events, not a wait by the clock."""
    requests = _stale_requests(committed_db, rules)
    code, request_id = next(iter(requests.items()))
    read, expired, expiry_queued = threading.Event(), threading.Event(), threading.Event()
    expiring: list[int] = []  # the expiry thread's id
    original = services._matching_request

    def matching(session, household, borrower):  # type: ignore[no-untyped-def]
        found = original(session, household, borrower)
        read.set()
        assert (expired if backend == "postgresql" else expiry_queued).wait(30)
        return found
    monkeypatch.setattr(services, "_matching_request", matching)

    def begins(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        if statement == "BEGIN IMMEDIATE" and threading.get_ident() in expiring:
            expiry_queued.set()
    event.listen(committed_db.engine, "before_cursor_execute", begins)

    def release() -> object:
        try:
            with committed_db.transaction() as session:
                return services.check_out(session, code, rules=rules, actor="clerk", now=T0).id
        except ArchiveprintError as error:
            return error

    def expire() -> list[int]:
        expiring.append(threading.get_ident())
        assert read.wait(30)
        with committed_db.transaction() as session:
            done = [item.request_id for item in expire_requests(session, rules=rules, actor="queue", now=T0)]
        expired.set()
        return done

    try:
        with ThreadPoolExecutor(2) as pool:
            released, closed = pool.submit(release), pool.submit(expire)
            result, expired_ids = released.result(), closed.result()
    finally:
        event.remove(committed_db.engine, "before_cursor_execute", begins)
    if backend == "postgresql":
        assert isinstance(result, Conflict) and "该借阅申请刚被关闭（已过期）" in str(result)
        assert request_id in expired_ids
    else:
        assert isinstance(result, int) and request_id not in expired_ids
    outcome = _released_xor_expired(committed_db, [request_id])
    assert outcome == ({"released": 0, "expired": 1} if backend == "postgresql" else {"released": 1, "expired": 0})


def test_clerks_releasing_while_the_queue_is_read_release_or_expire_each_request_once(committed_db, rules):
    requests = _stale_requests(committed_db, rules)
    codes = list(requests)
    readers = 3

    def work(n: int) -> object:
        with committed_db.transaction() as session:
            if n < readers:
                return [item.request_id for item in expire_requests(session, rules=rules, actor=f"queue{n}",
                                                                    now=T0)]
            return services.check_out(session, codes[n - readers], rules=rules, actor=f"clerk{n}", now=T0).id

    gate = threading.Barrier(readers + len(codes))

    def run(n: int) -> object:
        gate.wait()
        try:
            return work(n)
        except ArchiveprintError as error:  # expired first: 没有待放行的申请 / 刚被关闭
            return error
    with ThreadPoolExecutor(readers + len(codes)) as pool:
        results = list(pool.map(run, range(readers + len(codes))))
    expired_ids = [request_id for batch in results[:readers] for request_id in batch]  # type: ignore[attr-defined]
    assert len(expired_ids) == len(set(expired_ids))  # no request closed twice by two readers
    loans = [r for r in results[readers:] if isinstance(r, int)]
    refused = [r for r in results[readers:] if isinstance(r, ArchiveprintError)]
    assert len(loans) + len(refused) == len(codes)
    reasons = {str(r) for r in refused}
    assert all("待放行的借阅申请" in reason or "刚被关闭（已过期）" in reason for reason in reasons), reasons
    outcome = _released_xor_expired(committed_db, requests.values())
    assert outcome == {"released": len(loans), "expired": len(expired_ids)}
