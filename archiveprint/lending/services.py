"""Loan use cases: check out, return, renew, declare lost and found — each logged, and kept in step with locations."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from archiveprint.errors import N_, Conflict, InvalidValue, Message, NotFound, PermissionDenied, joined
from archiveprint.eventlog import record_event
from archiveprint.lending.models import REQUEST_STATE_TEXT, Borrower, Loan, LoanRequest
from archiveprint.lending.queries import (
    LoanView,
    count_waiting,
    find_last_loan,
    find_open_loan,
    folder_display,
    folder_value,
    loan_code,
    loan_view,
    parse_loan_code,
    request_missing,
    sensitive_households,
)
from archiveprint.lending.rules import REQUIREMENTS, LendingRules, LoanRule, due_date, renewal_refusal, renewed_due
from archiveprint.locations.models import FolderPosition
from archiveprint.locations.queries import find_places
from archiveprint.locations.services import put_back, report_missing, take_out, write_off_folder
from archiveprint.register.models import Household, Resident
from archiveprint.register.queries import resolve_scan

# Every function validates, changes rows, writes its event and flushes; the caller owns the transaction. `now` is when
# the server records the change; `at` (default `now`) is when it happened at the desk — an offline scan replayed later
# carries its own time (see journal.py).
Source = dict[str, object]


@dataclass(frozen=True)
class Scanned:
    """What a scan at the lending desk named: the household folder, maybe a resident, maybe a loan number.

    A caller that has already resolved the scan in this transaction (the scan journal checks its order first)
    passes it on, with the folder's open loan when it looked that up too (`open_loan_known`), so that one scan
    reads its folder and loan once (bench/county_bench.py)."""

    household: Household
    resident: Resident | None
    loan_id: int | None = None
    open_loan: Loan | None = None
    open_loan_known: bool = False

    def with_open_loan(self, session: Session) -> Scanned:
        """The same scan with its folder's open loan looked up (once)."""
        if self.open_loan_known:
            return self
        return replace(self, open_loan=find_open_loan(session, self.household.id), open_loan_known=True)


def resolve(session: Session, code: str, *, loan_numbers: bool = False) -> Scanned:
    """A folder code, a resident's archive code, a form's re-filing barcode — or, where a loan is meant (return,
    renew), the receipt's loan number."""
    if loan_numbers:
        loan_id = parse_loan_code(code)
        if loan_id is not None:
            loan = session.get(Loan, loan_id)
            if loan is None:
                raise NotFound("没有这个借阅单号", field="借阅单号", value=code)
            return Scanned(loan.household, loan.resident, loan.id)
    scan = resolve_scan(session, code)
    return Scanned(scan.household, scan.resident)


def rule_for(session: Session, rules: LendingRules, kind: str, household: Household) -> LoanRule:
    """The rule for this borrower type and folder (stricter when a member is in a sensitive group)."""
    return rules.rule_for(kind, sensitive=bool(sensitive_households(session, [household.id], rules)))


def lent_message(loan: Loan, rules: LendingRules) -> str:
    out_on = rules.local_date(loan.out_at)
    if loan.lost_at is not None:
        return Message("该档案袋借出给 {borrower} 后已登记丢失（{loan}）",
                       {"borrower": loan.borrower.display, "loan": loan_code(loan.id)})
    return Message("该档案袋已借出给 {borrower} 于 {out_on:%Y-%m-%d} 应还 {due_on:%Y-%m-%d}（{loan}）",
                   {"borrower": loan.borrower.display, "out_on": out_on, "due_on": loan.due_on,
                    "loan": loan_code(loan.id)})


# --- check out ------------------------------------------------------------------------------------------------------

def check_out(session: Session, code: str, *, borrower: Borrower | None = None, purpose: str | None = None,
              purpose_note: str = "", on_site: bool = False, rules: LendingRules, actor: str, now: datetime,
              at: datetime | None = None, source: Source | None = None, scanned: Scanned | None = None) -> Loan:
    """Lend a folder by scan. Without a borrower, the folder goes to whoever requested it (the clerk scans the
    folders of the request queue). The database allows one open loan per folder: of two clerks lending the same
    folder at once, one gets a Conflict. `scanned`: `code` already resolved by the caller in this transaction."""
    at = at or now
    scanned = (scanned or resolve(session, code)).with_open_loan(session)
    household = scanned.household
    existing = scanned.open_loan
    if existing is not None:
        raise Conflict(lent_message(existing, rules), field="档案袋", value=folder_display(household))
    _check_not_gone(session, household)
    request = _matching_request(session, household, borrower)
    if borrower is None:
        assert request is not None
        borrower = request.borrower
    if not borrower.active:
        raise Conflict("该借阅人已停用", field="借阅人", value=borrower.key)
    rule = rule_for(session, rules, borrower.kind, household)
    if rule.own_villages_only and household.village_id not in {v.id for v in borrower.villages}:
        raise PermissionDenied("{label}只能借阅本人负责的村的档案（该档案袋属于 {name}）",
                               params={"label": rule.label, "name": household.village.name},
                               field="档案袋", value=folder_display(household))
    # Whoever approved the request is the loan's approver, whether or not this borrower's rule asked for approval.
    approver_id = request.approver_id if request is not None else None
    if rule.requirements:
        if request is None:
            raise PermissionDenied("{label}借阅须先登记借阅申请（{documents}）",
                                   params={"label": rule.label, "documents": joined(_labels(rule))},
                                   field="借阅申请", value=folder_display(household))
        missing = request_missing(request, rule, rules)
        if missing:
            raise PermissionDenied("放行前尚缺：{missing}",
                                   params={"missing": joined(missing)}, field="借阅申请", value=request.id)
    purpose_text = purpose or (request.purpose if request else None)
    if not purpose_text:
        raise InvalidValue("请写明借阅事由：{purposes}",
                           params={"purposes": joined(rules.purposes.values())}, field="借阅事由")
    purpose_code = rules.purpose(purpose_text)
    note = (purpose_note or (request.purpose_note if request else "")).strip()
    check_purpose(rules, rule, purpose_code, note)
    on_site = on_site or not rule.may_leave_building
    resident = scanned.resident or (request.resident if request else None)
    loan = Loan(household_id=household.id, resident_id=resident.id if resident else None,
                borrower_id=borrower.id, request_id=request.id if request else None, borrower_kind=borrower.kind,
                purpose=purpose_code, purpose_note=note[:200], on_site=on_site, approver_id=approver_id, out_at=at,
                out_by=actor, due_on=due_date(rule, rules.local_date(at), on_site=on_site, calendar=rules.calendar),
                renewals=0)
    try:
        with session.begin_nested():
            session.add(loan)
            session.flush()
    except IntegrityError:
        winner = find_open_loan(session, household.id)
        message = lent_message(winner, rules) if winner else N_("该档案袋刚被别人借出")
        raise Conflict(message, field="档案袋", value=folder_display(household)) from None
    if request is not None and not close_open_request(session, request, "released", f"已借出 {loan_code(loan.id)}",
                                                      now=now):
        raise Conflict("该借阅申请刚被关闭（{state}），请重新扫描",
                       params={"state": REQUEST_STATE_TEXT[request.status]}, field="借阅申请",
                       value=request.id)
    record_event(session, "loan.checked_out", "loan", loan.id, actor=actor, now=now, household=household.id,
                 folder=folder_value(household), borrower=borrower.key, borrower_kind=borrower.kind,
                 purpose=purpose_code, on_site=on_site, due_on=loan.due_on, request=request.id if request else None,
                 at=at, **(source or {}))
    session.flush()
    leave_shelf(session, household, holder=borrower.display, reason=f"借阅 {loan_code(loan.id)}", actor=actor,
                now=now)
    return loan


def _matching_request(session: Session, household: Household, borrower: Borrower | None) -> LoanRequest | None:
    """The open request this check-out fulfils: the borrower's own, or — when no borrower was named — the only one."""
    stmt = select(LoanRequest).where(LoanRequest.household_id == household.id, LoanRequest.status == "open")
    if borrower is not None:
        return session.scalar(stmt.where(LoanRequest.borrower_id == borrower.id))
    requests = list(session.scalars(stmt.order_by(LoanRequest.id)))
    if not requests:
        raise InvalidValue("该档案袋没有待放行的借阅申请；直接借出请填写借阅人", field="借阅人",
                           value=folder_display(household))
    if len(requests) > 1:
        names = "、".join(r.borrower.key for r in requests)
        raise InvalidValue("该档案袋有 {count} 人申请（{names}），请指定借阅人",
                           params={"count": len(requests), "names": names}, field="借阅人",
                           value=folder_display(household))
    return requests[0]


def close_open_request(session: Session, request: LoanRequest, status: str, reason: str, *, now: datetime) -> bool:
    """Close a request that is still open (a conditional UPDATE); False when someone closed it meanwhile — released,
    expired, cancelled or refused — so of a release and an expiry racing each other exactly one happens."""
    done = session.scalar(
        update(LoanRequest).where(LoanRequest.id == request.id, LoanRequest.status == "open")
        .values(status=status, closed_at=now, closed_reason=reason[:200])
        .returning(LoanRequest.id).execution_options(synchronize_session=False))
    session.refresh(request)
    return done is not None


def check_purpose(rules: LendingRules, rule: LoanRule, purpose: str, note: str) -> None:
    if purpose not in rule.purposes:
        allowed = joined(rules.purposes[p] for p in rule.purposes)
        raise PermissionDenied("{label}的借阅事由只能是：{allowed}",
                               params={"label": rule.label, "allowed": allowed}, field="借阅事由",
                               value=rules.purposes[purpose])
    if purpose in rules.purposes_needing_note and not note:
        raise InvalidValue("借阅事由为“{purpose}”时请写明具体事由",
                           params={"purpose": rules.purposes[purpose]}, field="事由说明")


def _labels(rule: LoanRule) -> list[str]:
    return [REQUIREMENTS[name] for name in rule.requirements]


# --- return -----------------------------------------------------------------------------------------------------

OUTCOME_TEXT = {"returned": "已归还", "found": "已找回", "already_returned": "已归还过（重复扫描）",
                "not_lent": "没有借出记录", "on_shelf": "在架",
                "written_off": "这笔借阅已遗失注销（档案袋已确认遗失），不能归还"}


@dataclass(frozen=True)
class ReturnResult:
    """What a return (or found) scan did, and where the folder goes now."""

    outcome: str  # returned / found / already_returned / not_lent / on_shelf / written_off
    household: Household
    loan: Loan | None
    home: str  # the folder's home address ("" when it has none)
    message: str

    @property
    def changed(self) -> bool:
        return self.outcome in ("returned", "found")


@dataclass(frozen=True)
class ReturnView:
    """A return (or found) scan as the desk shows it, in plain values: what happened and where the folder goes."""

    outcome: str
    changed: bool
    message: str
    folder_display: str
    home: str
    loan: LoanView | None

    def as_json(self) -> dict[str, object]:
        return {"ok": True, "outcome": self.outcome, "changed": self.changed, "message": self.message,
                "folder_display": self.folder_display, "home": self.home or None,
                "loan": self.loan.as_json() if self.loan else None}

    def text_lines(self) -> list[str]:
        return [f"{self.folder_display}  {self.message}"]


def return_view(session: Session, result: ReturnResult, rules: LendingRules) -> ReturnView:
    return ReturnView(result.outcome, result.changed, result.message, folder_display(result.household), result.home,
                      loan_view(session, result.loan, rules) if result.loan else None)


def return_folder(session: Session, code: str, *, condition: str | None = None, note: str = "",
                  rules: LendingRules, actor: str, now: datetime, at: datetime | None = None,
                  source: Source | None = None, scanned: Scanned | None = None) -> ReturnResult:
    """Take a folder back by scan. Scanning it twice is a success, not an error; a folder that was never lent is
    simply sent home. The clerk is told the folder's home position. `scanned`: `code` already resolved by the
    caller in this transaction."""
    at = at or now
    scanned = scanned or resolve(session, code, loan_numbers=True)
    household = scanned.household
    condition_code = rules.condition(condition)
    note = note.strip()
    if condition_code != "intact" and not note:
        raise InvalidValue("归还状况为“{condition}”时请写明情况（如缺哪几页）",
                           params={"condition": rules.conditions[condition_code]},
                           field="归还备注", value=rules.conditions[condition_code])
    loan = scanned.with_open_loan(session).open_loan
    if loan is None or (scanned.loan_id is not None and scanned.loan_id != loan.id):
        return _nothing_open(session, household, scanned.loan_id, actor=actor, now=now)
    outcome = "found" if loan.lost_at is not None else "returned"
    if not _close(session, loan, at=at, condition=condition_code, note=note, actor=actor):
        session.refresh(loan)
        home = home_address(session, household)
        return ReturnResult("already_returned", household, loan, home,
                            f"{OUTCOME_TEXT['already_returned']}。{_home_text(home)}")
    record_event(session, f"loan.{outcome}", "loan", loan.id, actor=actor, now=now, household=household.id,
                 folder=folder_value(household), borrower=loan.borrower.key, condition=condition_code,
                 days_late=max(0, (rules.local_date(at) - loan.due_on).days), at=at, **(source or {}))
    session.flush()
    back_home(session, household, actor=actor, now=now)
    text = OUTCOME_TEXT[outcome]
    if condition_code != "intact":
        text += f"（{rules.conditions[condition_code]}：{note}）"
    home = home_address(session, household)
    return ReturnResult(outcome, household, loan, home, f"{text}。{_home_text(home)}")


def _close(session: Session, loan: Loan, *, at: datetime, condition: str, note: str, actor: str) -> bool:
    """Close the loan unless someone else just did (a conditional UPDATE: two clerks returning it both succeed)."""
    done = session.scalar(
        update(Loan).where(Loan.id == loan.id, Loan.is_open())
        .values(returned_at=at, returned_by=actor, return_condition=condition, return_note=note[:200])
        .returning(Loan.id).execution_options(synchronize_session=False))
    if done is None:
        return False
    session.refresh(loan, ["returned_at", "returned_by", "return_condition", "return_note"])  # what changed
    return True


def _nothing_open(session: Session, household: Household, loan_id: int | None, *, actor: str,
                  now: datetime) -> ReturnResult:
    last = session.get(Loan, loan_id) if loan_id is not None else find_last_loan(session, household.id)
    back_home(session, household, actor=actor, now=now)
    home = home_address(session, household)
    if last is not None and last.written_off_at is not None:
        return ReturnResult("written_off", household, last, home, OUTCOME_TEXT["written_off"])
    if last is not None and last.returned_at is not None:
        return ReturnResult("already_returned", household, last, home,
                            f"{OUTCOME_TEXT['already_returned']}。{_home_text(home)}")
    return ReturnResult("not_lent", household, None, home, f"该档案袋没有借出记录，无需归还。{_home_text(home)}")


# --- renew -------------------------------------------------------------------------------------------------------

def renew(session: Session, code: str, *, rules: LendingRules, actor: str, now: datetime, at: datetime | None = None,
          source: Source | None = None, scanned: Scanned | None = None) -> Loan:
    """Move the due date on (续借), as often as the borrower type's rule allows and nobody else is waiting.
    `scanned`: `code` already resolved by the caller in this transaction."""
    at = at or now
    scanned = (scanned or resolve(session, code, loan_numbers=True)).with_open_loan(session)
    household = scanned.household
    loan = scanned.open_loan
    if loan is None or (scanned.loan_id is not None and scanned.loan_id != loan.id):
        raise Conflict("该档案袋现在没有借出，不能续借", field="档案袋", value=folder_display(household))
    rule = rule_for(session, rules, loan.borrower_kind, household)
    refusal = renewal_refusal(rule, renewals=loan.renewals, on_site=loan.on_site, lost=loan.lost_at is not None,
                              waiting=count_waiting(session, household.id, except_borrower=loan.borrower_id))
    if refusal:
        raise Conflict(refusal, field="续借", value=loan_code(loan.id))
    old_due = loan.due_on
    new_due = renewed_due(rule, old_due, rules.local_date(at), calendar=rules.calendar)
    done = session.scalar(
        update(Loan).where(Loan.id == loan.id, Loan.renewals == loan.renewals, Loan.is_open())
        .values(due_on=new_due, renewals=Loan.renewals + 1, renewed_at=at)
        .returning(Loan.id).execution_options(synchronize_session=False))
    if done is None:
        raise Conflict("这笔借阅刚被别人续借或归还，请重新扫描", field="续借", value=loan_code(loan.id))
    session.refresh(loan)
    record_event(session, "loan.renewed", "loan", loan.id, actor=actor, now=now, household=household.id,
                 folder=folder_value(household), old_due=old_due, due_on=new_due, renewals=loan.renewals, at=at,
                 **(source or {}))
    session.flush()
    return loan


# --- lost and found ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LostResult:
    household: Household
    loan: Loan | None
    changed: bool
    message: str

    def as_json(self) -> dict[str, object]:
        return {"ok": True, "changed": self.changed, "message": self.message,
                "folder_display": folder_display(self.household),
                "loan_code": loan_code(self.loan.id) if self.loan else None}

    def text_lines(self) -> list[str]:
        return [f"{folder_display(self.household)}  {self.message}"]


def declare_lost(session: Session, code: str, *, note: str, rules: LendingRules, actor: str,
                 now: datetime) -> LostResult:
    """A lent folder the borrower cannot return, or a folder not found on its shelf (下落不明). The loan stays open
    (the folder is still owed); `declare_found` or a return scan closes it."""
    note = (note or "").strip()
    if not note:
        raise InvalidValue("请写明情况（最后在哪里、谁经手）", field="说明")
    scanned = resolve(session, code, loan_numbers=True)
    household = scanned.household
    loan = find_open_loan(session, household.id)
    if loan is not None:
        if loan.lost_at is not None:
            return LostResult(household, loan, False, f"已于 {rules.local_date(loan.lost_at):%Y-%m-%d} 登记丢失")
        loan.lost_at, loan.lost_note = now, note[:200]
        record_event(session, "loan.lost", "loan", loan.id, actor=actor, now=now, household=household.id,
                     folder=folder_value(household), borrower=loan.borrower.key)
        session.flush()
        mark_missing(session, household, reason=f"借阅 {loan_code(loan.id)} 登记丢失", actor=actor, now=now)
        return LostResult(household, loan, True, f"已登记丢失：{lent_message(loan, rules)}")
    if not mark_missing(session, household, reason=note, actor=actor, now=now):
        raise Conflict("该档案袋没有借出，也尚未上架，无法登记下落不明", field="档案袋",
                       value=folder_display(household))
    return LostResult(household, None, True, "已登记下落不明（不在架上，也没有借出）")


def declare_found(session: Session, code: str, *, condition: str | None = None, note: str = "",
                  rules: LendingRules, actor: str, now: datetime) -> ReturnResult:
    """A lost or missing folder is back: its loan is closed (as returned, with its condition) and it goes home."""
    scanned = resolve(session, code, loan_numbers=True)
    household = scanned.household
    loan = find_open_loan(session, household.id)
    if loan is not None and loan.lost_at is None:
        raise Conflict("该档案袋借出中（未登记丢失），请用归还：{lent}",
                       params={"lent": lent_message(loan, rules)}, field="档案袋",
                       value=folder_display(household))
    if loan is not None:
        return return_folder(session, code, condition=condition, note=note, rules=rules, actor=actor, now=now)
    state = folder_state(session, household)
    if state == "missing":
        back_home(session, household, actor=actor, now=now)
        home = home_address(session, household)
        return ReturnResult("found", household, None, home, f"已找回。{_home_text(home)}")
    if state in ("on_shelf", "closed"):
        return ReturnResult("on_shelf", household, None, home_address(session, household),
                            "该档案袋在架，无需登记找回")
    raise Conflict("该档案袋没有登记丢失或下落不明", field="档案袋", value=folder_display(household))


def write_off(session: Session, code: str, *, reason: str, approved_by: str, actor: str,
              now: datetime) -> LostResult:
    """确认遗失/注销: a folder registered missing (下落不明, or lost while lent) and not found after a search leaves
    the archive for good, with who, when, why and who approved it (locations.services.write_off_folder). A loan
    lost is closed with it as written off (遗失注销: `written_off_at`/`_by`, the reason and the approver; not a
    return, `returned_at` stays empty): nobody owes the folder any longer. A folder still lent and not registered
    lost is refused."""
    household = resolve(session, code, loan_numbers=True).household
    loan = find_open_loan(session, household.id)
    if loan is not None and loan.lost_at is None:
        raise Conflict("档案袋 {folder} 借出未还（未登记丢失），不能确认遗失：请先归还，或先登记丢失",
                       params={"folder": folder_display(household)}, field="档案袋", value=folder_display(household))
    write_off_folder(session, household, reason=reason, approved_by=approved_by, actor=actor, now=now)
    if loan is not None:
        done = session.scalar(
            update(Loan).where(Loan.id == loan.id, Loan.is_open())
            .values(written_off_at=now, written_off_by=actor, write_off_reason=reason.strip()[:200],
                    write_off_approver=approved_by.strip()[:64])
            .returning(Loan.id).execution_options(synchronize_session=False))
        if done is None:  # closed by someone else since it was read: the folder's own write-off above is refused
            raise Conflict("借阅 {loan} 刚被别人归还或注销，请刷新后再看", params={"loan": loan_code(loan.id)},
                           field="借阅", value=loan_code(loan.id))
        session.refresh(loan, ["written_off_at", "written_off_by", "write_off_reason", "write_off_approver"])
        record_event(session, "loan.written_off", "loan", loan.id, actor=actor, now=now, household=household.id,
                     folder=folder_value(household), borrower=loan.borrower.key, reason=reason.strip(),
                     approved_by=approved_by.strip())
        session.flush()
    return LostResult(household, loan, True, f"已确认遗失并注销（批准人：{approved_by.strip()}），移出档案室")


# --- locations: the folder leaves its shelf, comes back, goes missing -------------------------------------------

def folder_state(session: Session, household: Household) -> str:
    """Locations' view of the folder: on_shelf / closed / out / missing / unshelved / gone."""
    return find_places(session, [household.id])[household.id].status.code


def home_address(session: Session, household: Household) -> str:
    """Where the folder belongs (its position stays reserved while it is out); "" when it has none."""
    return find_places(session, [household.id])[household.id].address


def _home_text(home: str) -> str:
    if home:
        return f"请放回 {home}"
    return "该档案袋尚未上架，请交档案室上架"


def _check_not_gone(session: Session, household: Household) -> None:
    if folder_state(session, household) == "gone":
        raise Conflict("该档案袋已移出档案室，不能借出", field="档案袋", value=folder_display(household))


def leave_shelf(session: Session, household: Household, *, holder: str, reason: str, actor: str,
                now: datetime) -> None:
    """Record in locations that the folder left its shelf for a borrower. A folder locations thinks is out or
    missing is in the clerk's hand, so it is first booked back; a folder never shelved has no position to leave."""
    position = _position(session, household)
    if position is None:
        return
    if position.state != "on_shelf":
        put_back(session, household, actor=actor, now=now)
    take_out(session, household, holder=holder[:64], reason=reason, actor=actor, now=now)


def back_home(session: Session, household: Household, *, actor: str, now: datetime) -> None:
    """Record in locations that the folder is back at its position (nothing to do when it already is)."""
    position = _position(session, household)
    if position is not None and position.state != "on_shelf":
        put_back(session, household, actor=actor, now=now)


def _position(session: Session, household: Household) -> FolderPosition | None:
    """The folder's current position with its shelf (which the movement names), in one statement."""
    return session.get(FolderPosition, household.id, options=[joinedload(FolderPosition.shelf)])


def mark_missing(session: Session, household: Household, *, reason: str, actor: str, now: datetime) -> bool:
    """Record in locations that nobody knows where the folder is; False when it has no position to mark."""
    if session.get(FolderPosition, household.id) is None:
        return False
    report_missing(session, household, reason=reason[:200], actor=actor, now=now)
    return True
