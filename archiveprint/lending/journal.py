"""The scan journal: scans from a scan station, each with a client id and time, applied once and in order."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archiveprint.clock import local_time
from archiveprint.errors import N_, ArchiveprintError, Conflict, InvalidValue
from archiveprint.lending import services
from archiveprint.lending.models import SCAN_ACTIONS, Loan, LoanScan
from archiveprint.lending.queries import find_borrower, find_last_loan, loan_code
from archiveprint.lending.rules import LendingRules
from archiveprint.register.models import Household

# A station that cannot reach the server keeps its scans and sends them later, in order. Each scan is applied at most
# once (its client id is unique in `loan_scans`; sending it again returns the stored outcome). A scan that no longer
# fits what the server knows — the folder was lent to someone else meanwhile, or the scan is older than the loan it
# would close — is stored and reported as a conflict, never applied silently.
CLOCK_SKEW = timedelta(minutes=5)  # a station's clock may run this far ahead of the server's
ACTION_TEXT = {"out": N_("借出"), "return": N_("归还"), "renew": N_("续借")}


@dataclass(frozen=True)
class ScanInput:
    """One scan as a station sends it. `client_at` is UTC (naive); `borrower`/`purpose` only for check-outs."""

    client_id: str
    client_at: datetime
    action: str
    code: str
    station: str = ""
    borrower: str = ""
    purpose: str = ""
    purpose_note: str = ""
    on_site: bool = False
    condition: str = ""
    note: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> ScanInput:
        """Parse and check one scan of a JSON journal ({"client_id", "client_at" ISO 8601, "action", "code", …})."""
        if not isinstance(data, Mapping):
            raise InvalidValue("每条扫描记录应为 JSON 对象", field="扫描记录")
        client_id = str(data.get("client_id") or "").strip()
        if not re.fullmatch(r"[A-Za-z0-9._:-]{8,64}", client_id):
            raise InvalidValue("client_id 应为 8–64 个字母、数字或 ._:-", field="client_id", value=client_id[:64])
        action = str(data.get("action") or "")
        if action not in SCAN_ACTIONS:
            raise InvalidValue("action 应为：{actions}",
                               params={"actions": "、".join(SCAN_ACTIONS)}, field="action", value=action)
        raw_at = str(data.get("client_at") or "")
        try:
            at = datetime.fromisoformat(raw_at)
        except ValueError:
            raise InvalidValue("client_at 应为 ISO 8601 时间，如 2026-11-25T08:30:00Z", field="client_at",
                               value=raw_at) from None
        if at.tzinfo is not None:
            at = at.astimezone(UTC).replace(tzinfo=None)
        code = str(data.get("code") or "").strip()
        if not code or len(code) > 40:
            raise InvalidValue("扫描内容为空或过长", field="code", value=code[:40])
        return cls(client_id=client_id, client_at=at, action=action, code=code,
                   station=str(data.get("station") or "")[:64], borrower=str(data.get("borrower") or ""),
                   purpose=str(data.get("purpose") or ""), purpose_note=str(data.get("purpose_note") or ""),
                   on_site=bool(data.get("on_site")), condition=str(data.get("condition") or ""),
                   note=str(data.get("note") or ""))


@dataclass(frozen=True)
class ScanOutcome:
    """What became of one scan: applied / unchanged (nothing to do, e.g. a second return) / conflict / rejected."""

    client_id: str
    action: str
    code: str
    outcome: str
    message: str
    loan: str | None  # loan number
    replayed: bool  # this client id had been received before; the stored outcome is returned
    # The folder the scan was applied to, as this transaction read it (None when it was not applied): the station's
    # answer names it without reading it again. Not part of the answer itself.
    household: Household | None = field(default=None, compare=False, repr=False)
    home: str | None = field(default=None, compare=False, repr=False)  # its home address, when the change read it

    @property
    def ok(self) -> bool:
        return self.outcome in ("applied", "unchanged")

    def as_json(self) -> dict[str, object]:
        return {"client_id": self.client_id, "action": self.action, "code": self.code, "outcome": self.outcome,
                "ok": self.ok, "message": self.message, "loan": self.loan, "replayed": self.replayed}

    def text_lines(self) -> list[str]:
        again = "（此前已提交）" if self.replayed else ""
        return [f"{self.client_id}  {self.action:<6} {self.code}  {self.outcome}{again}  {self.message}"]


def submit_scan(session: Session, scan: ScanInput, *, rules: LendingRules, actor: str, now: datetime) -> ScanOutcome:
    """Apply one scan once. Sending the same client id again (a retry, a replayed journal) returns the first
    outcome; a different scan under a used client id is rejected."""
    stored = _stored(session, scan.client_id)
    if stored is not None:
        return _replayed(stored, scan)
    try:
        with session.begin_nested():
            applied = _apply(session, scan, rules=rules, actor=actor, now=now)
            session.add(LoanScan(client_id=scan.client_id, station=scan.station, action=scan.action,
                                 code=scan.code[:40], client_at=scan.client_at, received_at=now, actor=actor,
                                 outcome=applied.outcome, message=applied.message[:500], loan_id=applied.loan_id))
            session.flush()
    except IntegrityError:  # the same scan arrived twice at once: the other copy was applied
        stored = _stored(session, scan.client_id)
        if stored is None:
            raise
        return _replayed(stored, scan)
    return ScanOutcome(scan.client_id, scan.action, scan.code, applied.outcome, applied.message,
                       loan_code(applied.loan_id) if applied.loan_id else None, False, applied.household, applied.home)


def replay_scans(session: Session, scans: Sequence[ScanInput], *, rules: LendingRules, actor: str,
                 now: datetime) -> list[ScanOutcome]:
    """A station's journal, in the order it was scanned; every scan gets its own outcome."""
    return [submit_scan(session, scan, rules=rules, actor=actor, now=now) for scan in scans]


def _stored(session: Session, client_id: str) -> LoanScan | None:
    return session.scalar(select(LoanScan).where(LoanScan.client_id == client_id))


def _replayed(stored: LoanScan, scan: ScanInput) -> ScanOutcome:
    if (stored.action, stored.code) != (scan.action, scan.code[:40]):
        return ScanOutcome(scan.client_id, scan.action, scan.code, "rejected",
                           "该 client_id 已用于另一次扫描，未处理", None, False)
    return ScanOutcome(stored.client_id, stored.action, stored.code, stored.outcome, stored.message,
                       loan_code(stored.loan_id) if stored.loan_id else None, True)


class _Applied(NamedTuple):
    outcome: str
    message: str
    loan_id: int | None
    household: Household | None = None  # the folder, when the scan was applied
    home: str | None = None  # its home address, when the change read it


def _apply(session: Session, scan: ScanInput, *, rules: LendingRules, actor: str, now: datetime) -> _Applied:
    """What became of the scan. The change runs in its own savepoint, so a refusal leaves nothing behind. The scan is
    resolved once (by the order check) and passed on."""
    source = {"client_id": scan.client_id, "station": scan.station, "received_at": now}
    try:
        if scan.client_at > now + CLOCK_SKEW:
            raise InvalidValue("扫描时间晚于服务器时间（请校对扫描站时钟）", field="client_at",
                               value=scan.client_at.isoformat(timespec="seconds"))
        with session.begin_nested():
            scanned = _check_order(session, scan, rules)
            if scan.action == "out":
                borrower = find_borrower(session, scan.borrower) if scan.borrower.strip() else None
                loan = services.check_out(session, scan.code, borrower=borrower, purpose=scan.purpose or None,
                                          purpose_note=scan.purpose_note, on_site=scan.on_site, rules=rules,
                                          actor=actor, now=now, at=scan.client_at, source=source, scanned=scanned)
                given = "已放行给申请人" if borrower is None else "已借出给"
                return _Applied("applied", f"{given} {loan.borrower.display}，应还 {loan.due_on:%Y-%m-%d}",
                                loan.id, scanned.household)
            if scan.action == "renew":
                loan = services.renew(session, scan.code, rules=rules, actor=actor, now=now, at=scan.client_at,
                                      source=source, scanned=scanned)
                return _Applied("applied", f"已续借，应还 {loan.due_on:%Y-%m-%d}", loan.id, scanned.household)
            result = services.return_folder(session, scan.code, condition=scan.condition or None, note=scan.note,
                                            rules=rules, actor=actor, now=now, at=scan.client_at, source=source,
                                            scanned=scanned)
            return _Applied("applied" if result.changed else "unchanged", result.message,
                            result.loan.id if result.loan else None, scanned.household, result.home)
    except Conflict as error:
        return _Applied("conflict", str(error), None)
    except ArchiveprintError as error:
        return _Applied("rejected", str(error), None)


def _check_order(session: Session, scan: ScanInput, rules: LendingRules) -> services.Scanned:
    """Refuse a scan whose time contradicts the record: an offline check-out made before the folder's last return
    was booked, or a return or renewal scanned before the loan it would touch began. The scan as resolved (with
    the folder's open loan, for a return or renewal) is passed on to the change."""
    scanned = services.resolve(session, scan.code, loan_numbers=scan.action != "out")
    household = scanned.household
    when = f"{local_time(scan.client_at, rules.timezone):%Y-%m-%d %H:%M}"
    if scan.action == "out":
        last = find_last_loan(session, household.id)
        if last is not None and last.returned_at is not None and last.returned_at > scan.client_at:
            raise Conflict("这次借出扫描（{when}）早于该档案袋最近一次归还（"
                           "{returned_at:%Y-%m-%d %H:%M}），请核对后重新扫描",
                           params={"when": when, "returned_at": local_time(last.returned_at, rules.timezone)},
                           field="档案袋", value=scan.code)
        return scanned
    scanned = scanned.with_open_loan(session)
    loan: Loan | None = scanned.open_loan
    if loan is not None and loan.out_at > scan.client_at:
        raise Conflict("这次{action}扫描（{when}）早于当前这笔借阅的借出时间（"
                       "{out_at:%Y-%m-%d %H:%M}，{loan}），"
                       "不属于这笔借阅，未处理",
                       params={"action": ACTION_TEXT[scan.action], "when": when,
                               "out_at": local_time(loan.out_at, rules.timezone), "loan": loan_code(loan.id)},
                       field="档案袋", value=scan.code)
    return scanned
