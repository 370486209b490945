"""Read side of lending: borrowers, open loans (for locate and inventory), overdue lists, the register, the queue."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.base import ExecutableOption
from sqlalchemy.sql.elements import ColumnElement

from archiveprint.accounts.models import User
from archiveprint.clock import local_time
from archiveprint.errors import InvalidValue, NotFound
from archiveprint.lending.models import (
    LOAN_FILTERS,
    LOAN_STATE_TEXT,
    REQUEST_STATE_TEXT,
    Borrower,
    Loan,
    LoanRequest,
)
from archiveprint.lending.rules import LendingRules, LoanRule, missing_requirements, site_rules
from archiveprint.locations.queries import FolderStatus, Place, StatusProvider, WrittenOff, find_places
from archiveprint.pdf.barcodes import is_valid_check, with_check
from archiveprint.register.codes import folder_code
from archiveprint.register.models import Household, PopulationTag, Resident, Village, resident_tags
from archiveprint.register.services import find_village
from archiveprint.register.text import clean_code

LOAN_PREFIX = "L"
DEFAULT_TIMEZONE = "Asia/Shanghai"


# --- loan numbers (借阅单号) ------------------------------------------------------------------------------------

def loan_code(loan_id: int) -> str:
    """The receipt's number and barcode: L + 8 digits + ISO 7064 check digit (L000001234 → L0000012347)."""
    return LOAN_PREFIX + with_check(f"{loan_id:08d}")


def parse_loan_code(text: str) -> int | None:
    """The loan id a scanned receipt number names, or None when the text is not a loan number."""
    compact = clean_code(text).upper()
    if not re.fullmatch(r"L\d{9}", compact):
        return None
    if not is_valid_check(compact[1:]):
        raise InvalidValue("借阅单号校验位错误（可能扫描或输入有误）", field="借阅单号", value=text)
    return int(compact[1:9])


def folder_display(household: Household) -> str:
    return folder_code(household.village.full_code, household.number).display


def folder_value(household: Household) -> str:
    return folder_code(household.village.full_code, household.number).value


# --- borrowers ------------------------------------------------------------------------------------------------

def find_borrower(session: Session, text: str) -> Borrower:
    """A borrower by key (what `borrower add` was given), else by name when exactly one active borrower has it."""
    key = (text or "").strip()
    if not key:
        raise InvalidValue("请指定借阅人", field="借阅人")
    borrower = session.scalar(select(Borrower).where(Borrower.key == key))  # its villages read if a rule asks
    if borrower is not None:
        return borrower
    named = list(session.scalars(select(Borrower).where(Borrower.name == key, Borrower.active.is_(True))
                                 .options(selectinload(Borrower.villages))))
    if len(named) == 1:
        return named[0]
    if named:
        raise InvalidValue("有 {count} 个借阅人叫这个名字，请用编号：{keys}",
                           params={"count": len(named), "keys": "、".join(b.key for b in named)},
                           field="借阅人", value=key)
    raise NotFound("没有这个借阅人（请先登记为借阅人）", field="借阅人", value=key)


def list_borrowers(session: Session, *, include_inactive: bool = False) -> list[Borrower]:
    stmt = select(Borrower).options(selectinload(Borrower.villages), selectinload(Borrower.user))
    if not include_inactive:
        stmt = stmt.where(Borrower.active.is_(True))
    return list(session.scalars(stmt.order_by(Borrower.kind, Borrower.key)))


def find_borrower_id_of(session: Session, user: User) -> int | None:
    """The borrower a user is registered as (whose own requests a page lists), if any."""
    return session.scalar(select(Borrower.id).where(Borrower.user_id == user.id))


# --- open loans ------------------------------------------------------------------------------------------------

def find_open_loan(session: Session, household_id: int) -> Loan | None:
    return session.scalar(select(Loan).where(Loan.household_id == household_id, Loan.is_open())
                          .options(selectinload(Loan.borrower)))


def find_last_loan(session: Session, household_id: int) -> Loan | None:
    return session.scalar(select(Loan).where(Loan.household_id == household_id)
                          .order_by(Loan.out_at.desc(), Loan.id.desc()).limit(1))


def find_open_loans(session: Session, household_ids: Iterable[int]) -> dict[int, Loan]:
    """Open loans (lent or lost while lent) by household id, in a query per 500 ids: inventory counts a lent
    folder as accounted for, not missing."""
    ids = list(dict.fromkeys(household_ids))
    out: dict[int, Loan] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for loan in session.scalars(select(Loan).where(Loan.household_id.in_(chunk), Loan.is_open())
                                    .options(selectinload(Loan.borrower))):
            out[loan.household_id] = loan
    return out


@dataclass(frozen=True)
class LoanStatus(FolderStatus):
    """A folder that is lent, as locate shows it: 借出给 王医生（东村卫生室） 于 2026-11-20 应还 2026-12-04."""

    out_on: date | None = None
    due_on: date | None = None
    loan: str = ""  # loan number
    lost: bool = False

    @property
    def text(self) -> str:
        lent = f"借出给 {self.holder} 于 {self.out_on:%Y-%m-%d}"
        if self.lost:
            return f"{lent} 后登记丢失（自 {self.since:%Y-%m-%d}）" if self.since else f"{lent} 后登记丢失"
        return f"{lent} 应还 {self.due_on:%Y-%m-%d}"

    def as_json(self) -> dict[str, object]:
        return {**super().as_json(), "out_on": self.out_on.isoformat() if self.out_on else None,
                "due_on": self.due_on.isoformat() if self.due_on else None, "loan": self.loan, "lost": self.lost}


def loan_statuses(session: Session, household_ids: Sequence[int], *,
                  timezone: str = DEFAULT_TIMEZONE) -> dict[int, FolderStatus]:
    """The locations status provider: for folders that are lent, who has them, since when and until when."""
    out: dict[int, FolderStatus] = {}
    for household_id, loan in find_open_loans(session, household_ids).items():
        out[household_id] = LoanStatus(
            code="missing" if loan.lost_at else "lent", since=loan.lost_at or loan.out_at,
            holder=loan.borrower.display, out_on=local_time(loan.out_at, timezone).date(), due_on=loan.due_on,
            loan=loan_code(loan.id), lost=loan.lost_at is not None)
    return out


def status_provider(rules: LendingRules | None = None) -> StatusProvider:
    """`loan_statuses` in the site's time zone, for locations' `find_places(…, providers=[…])`."""
    timezone = (rules or site_rules(default_instance_dir())).timezone

    def provide(session: Session, household_ids: Sequence[int]) -> Mapping[int, FolderStatus]:
        return loan_statuses(session, household_ids, timezone=timezone)
    return provide


def default_instance_dir() -> Path:
    """The instance folder as the CLI and the web app find it (ARCHIVEPRINT_INSTANCE, else ./instance)."""
    return Path(os.environ.get("ARCHIVEPRINT_INSTANCE") or Path.cwd() / "instance")


def count_waiting(session: Session, household_id: int, *, except_borrower: int | None = None) -> int:
    """Open requests for a folder by other borrowers (they block a renewal)."""
    stmt = select(func.count(LoanRequest.id)).where(LoanRequest.household_id == household_id,
                                                    LoanRequest.status == "open")
    if except_borrower is not None:
        stmt = stmt.where(LoanRequest.borrower_id != except_borrower)
    return session.scalar(stmt) or 0


# --- one loan, as the receipt, the CLI and the API show it ----------------------------------------------------

@dataclass(frozen=True)
class LoanView:
    """Everything about one loan in plain values (no ORM objects leave through here)."""

    id: int
    code: str
    household_id: int
    folder: str
    folder_display: str
    village: str
    village_name: str
    head_name: str
    resident_code: str | None
    resident_name: str | None
    borrower_key: str
    borrower_name: str
    borrower: str  # name（unit）
    borrower_kind: str
    borrower_unit: str
    purpose: str
    purpose_text: str
    purpose_note: str
    on_site: bool
    approver: str
    out_at: datetime  # local wall-clock time
    due_on: date
    renewals: int
    state: str  # out / lost / returned / written_off
    returned_at: datetime | None
    condition: str | None
    condition_text: str
    return_note: str
    request_id: int | None
    written_off_at: datetime | None = None  # 遗失注销 (local wall-clock time): closed without a return
    written_off_by: str = ""
    write_off_reason: str = ""
    write_off_approver: str = ""

    @property
    def state_text(self) -> str:
        """借出中 / 已登记丢失 / 已归还 / 遗失注销."""
        return str(LOAN_STATE_TEXT[self.state])

    @property
    def is_open(self) -> bool:
        return self.state in ("out", "lost")

    @property
    def write_off_text(self) -> str:
        """遗失注销 2026-12-08 14:30（原因：…；批准人：…）, "" when the loan was not written off."""
        if self.written_off_at is None:
            return ""
        return (f"遗失注销 {self.written_off_at:%Y-%m-%d %H:%M}（原因：{self.write_off_reason}；"
                f"批准人：{self.write_off_approver}）")

    def as_json(self) -> dict[str, object]:
        return {"loan": self.id, "loan_code": self.code, "household": self.household_id, "folder": self.folder,
                "folder_display": self.folder_display, "village": self.village, "village_name": self.village_name,
                "head_name": self.head_name, "resident": self.resident_code, "borrower": self.borrower_key,
                "borrower_display": self.borrower, "borrower_kind": self.borrower_kind, "purpose": self.purpose,
                "purpose_text": self.purpose_text, "purpose_note": self.purpose_note, "on_site": self.on_site,
                "approver": self.approver or None, "out_at": self.out_at.isoformat(timespec="minutes"),
                "due_on": self.due_on.isoformat(), "renewals": self.renewals, "state": self.state,
                "returned_at": self.returned_at.isoformat(timespec="minutes") if self.returned_at else None,
                "condition": self.condition, "condition_text": self.condition_text or None,
                "return_note": self.return_note, "request": self.request_id, "state_text": self.state_text,
                "written_off_at": self.written_off_at.isoformat(timespec="minutes") if self.written_off_at else None,
                "written_off_by": self.written_off_by or None, "write_off_reason": self.write_off_reason or None,
                "write_off_approver": self.write_off_approver or None}

    def text_lines(self) -> list[str]:
        """One line as `lend list` prints it; a written-off loan says when, why and who approved it."""
        end = (f"  {self.write_off_text}" if self.state == "written_off"
               else f"  {self.state_text} {self.returned_at:%Y-%m-%d %H:%M}" if self.returned_at
               else f"  {self.state_text}")
        return [f"{self.code}  {self.out_at:%Y-%m-%d}  {self.folder_display}  {self.head_name}  {self.borrower}  "
                f"应还 {self.due_on:%Y-%m-%d}{end}"]

    def detail_lines(self) -> list[str]:
        """The loan as `lend show` prints it, a fact a line."""
        lines = [f"借阅 {self.code}  {self.state_text}", f"  档案袋：{self.folder_display}  户主 {self.head_name}"
                 + (f"  居民 {self.resident_name}" if self.resident_name else ""),
                 f"  借阅人：{self.borrower}", f"  事由：{self.purpose_text}"
                 + (f"（{self.purpose_note}）" if self.purpose_note else ""),
                 *([f"  审批人：{self.approver}"] if self.approver else []),
                 f"  借出：{self.out_at:%Y-%m-%d %H:%M}  应还 {self.due_on:%Y-%m-%d}"
                 + (f"  续借 {self.renewals} 次" if self.renewals else "")]
        if self.written_off_at is not None:
            lines += [f"  遗失注销：{self.written_off_at:%Y-%m-%d %H:%M}（经办人 {self.written_off_by}）",
                      f"  注销原因：{self.write_off_reason}", f"  批准人：{self.write_off_approver}"]
        elif self.returned_at is not None:
            lines.append(f"  归还：{self.returned_at:%Y-%m-%d %H:%M}  {self.condition_text}"
                         + (f"：{self.return_note}" if self.return_note else ""))
        return lines

    def matches(self, *, village: str = "", borrower: str = "", state: str = "", today: date | None = None) -> bool:
        """On a register filtered by village code, borrower key and state (`LOAN_FILTERS`: open, overdue as of
        `today`, out, lost, returned, written_off); a blank filter keeps all."""
        return ((not village or self.village == village) and (not borrower or self.borrower_key == borrower)
                and self.in_state(state, today))

    def in_state(self, state: str, today: date | None = None) -> bool:
        if state == "open":
            return self.is_open
        if state == "overdue":
            return self.is_open and today is not None and self.due_on < today
        return not state or self.state == state


def loan_view(session: Session, loan: Loan, rules: LendingRules) -> LoanView:
    household = session.scalar(select(Household).where(Household.id == loan.household_id)
                               .options(selectinload(Household.village).selectinload(Village.township)))
    assert household is not None
    return _view(loan, household, rules)


def _view(loan: Loan, household: Household, rules: LendingRules) -> LoanView:
    resident = loan.resident
    approver = loan.approver
    return LoanView(
        id=loan.id, code=loan_code(loan.id), household_id=household.id, folder=folder_value(household),
        folder_display=folder_display(household), village=household.village.ref,
        village_name=household.village.name, head_name=household.head_name,
        resident_code=resident.archive_code if resident else None, resident_name=resident.name if resident else None,
        borrower_key=loan.borrower.key, borrower_name=loan.borrower.name, borrower=loan.borrower.display,
        borrower_kind=loan.borrower_kind, borrower_unit=loan.borrower.unit, purpose=loan.purpose,
        purpose_text=rules.purposes.get(loan.purpose, loan.purpose),
        purpose_note=loan.purpose_note, on_site=loan.on_site,
        approver=user_name(approver) if approver else "",
        out_at=local_time(loan.out_at, rules.timezone), due_on=loan.due_on, renewals=loan.renewals,
        state=loan.state, returned_at=local_time(loan.returned_at, rules.timezone) if loan.returned_at else None,
        condition=loan.return_condition, condition_text=rules.conditions.get(loan.return_condition or "", ""),
        return_note=loan.return_note, request_id=loan.request_id,
        written_off_at=local_time(loan.written_off_at, rules.timezone) if loan.written_off_at else None,
        written_off_by=loan.written_off_by or "", write_off_reason=loan.write_off_reason or "",
        write_off_approver=loan.write_off_approver or "")


def user_name(user: User | None) -> str:
    """A user as registers and queues name them: the display name, else the username."""
    return (user.display_name or user.username) if user is not None else ""


def _loan_options() -> list[ExecutableOption]:
    return [selectinload(Loan.borrower), selectinload(Loan.resident), selectinload(Loan.approver),
            selectinload(Loan.household).selectinload(Household.village).selectinload(Village.township)]


# --- overdue ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OverdueLoan:
    loan: LoanView
    days_late: int
    level: int

    def as_json(self) -> dict[str, object]:
        return {**self.loan.as_json(), "days_late": self.days_late, "level": self.level}


def overdue_lines(overdue: Sequence[OverdueLoan]) -> list[str]:
    """Overdue loans as the command line lists them: a heading per village, then one line a folder."""
    lines, village = [], None
    for item in overdue:
        view = item.loan
        if view.village != village:
            village = view.village
            lines.append(f"{view.village} {view.village_name}")
        lost = "（已登记丢失）" if view.state == "lost" else ""
        lines.append(f"  {view.folder_display}  {view.head_name}  {view.borrower}  应还 {view.due_on:%Y-%m-%d}  "
                     f"逾期 {item.days_late} 天{lost}")
    return lines


def list_overdue(session: Session, *, today: date, rules: LendingRules,
                 village: str | None = None) -> list[OverdueLoan]:
    """Open loans past their due date (lost ones too: they are still owed), by village then household."""
    stmt = (select(Loan).join(Household, Household.id == Loan.household_id)
            .join(Village, Village.id == Household.village_id)
            .where(Loan.is_open(), Loan.due_on < today)
            .options(*_loan_options()).order_by(Village.code, Village.id, Household.number))
    if village is not None:  # as the site names it (Village.ref), or its name
        stmt = stmt.where(Village.id == find_village(session, village).id)
    out = []
    for loan in session.scalars(stmt):
        out.append(OverdueLoan(_view(loan, loan.household, rules), (today - loan.due_on).days,
                               rules.overdue_level(loan.due_on, today)))
    return out


@dataclass(frozen=True)
class VillageOverdue:
    """One village's overdue loans: a block of the overdue page, a slip for the village-doctor meeting."""

    code: str
    name: str
    items: list[OverdueLoan]


def overdue_by_village(overdue: Sequence[OverdueLoan]) -> list[VillageOverdue]:
    """The overdue loans grouped by village, villages and loans in the order of the list."""
    groups: dict[str, VillageOverdue] = {}
    for item in overdue:
        view = item.loan
        groups.setdefault(view.village, VillageOverdue(view.village, view.village_name, [])).items.append(item)
    return list(groups.values())


# --- the monthly lending register (借阅登记表) -------------------------------------------------------------------

def month_bounds(month: str, timezone: str) -> tuple[int, int, datetime, datetime]:
    """'2026-11' → (2026, 11, first moment, first moment of the next month), both as stored UTC times."""
    found = re.fullmatch(r"\s*(\d{4})-(\d{1,2})\s*", month or "")
    if not found or not 1 <= int(found.group(2)) <= 12:
        raise InvalidValue("月份应写成 YYYY-MM，例如 2026-11", field="月份", value=month)
    year, number = int(found.group(1)), int(found.group(2))
    zone = ZoneInfo(timezone)
    start = datetime(year, number, 1, tzinfo=zone)
    end = datetime(year + (number == 12), number % 12 + 1, 1, tzinfo=zone)
    return (year, number, start.astimezone(UTC).replace(tzinfo=None), end.astimezone(UTC).replace(tzinfo=None))


def list_register(session: Session, month: str, *, rules: LendingRules) -> list[LoanView]:
    """The loans made in one month, in the order they were made: one register line each."""
    _, _, start, end = month_bounds(month, rules.timezone)
    stmt = (select(Loan).where(Loan.out_at >= start, Loan.out_at < end).options(*_loan_options())
            .order_by(Loan.out_at, Loan.id))
    return [_view(loan, loan.household, rules) for loan in session.scalars(stmt)]


def list_open_loans(session: Session, *, rules: LendingRules) -> list[LoanView]:
    """Every loan not yet returned (lent, or lost while lent), oldest first."""
    return list_loans(session, "open", rules=rules)


def state_condition(state: str, today: date | None = None) -> ColumnElement[bool]:
    """The SQL condition of a `LOAN_FILTERS` state (overdue: open and due before `today`)."""
    if state not in LOAN_FILTERS:
        raise InvalidValue("借阅状态“{state}”不对，应为：{states}", params={"state": state,
                           "states": "、".join(LOAN_FILTERS)}, field="状态", value=state)
    written_off, returned = Loan.written_off_at.is_not(None), Loan.returned_at.is_not(None)
    conditions: dict[str, ColumnElement[bool]] = {
        "open": Loan.is_open(), "overdue": and_(Loan.is_open(), Loan.due_on < (today or date.max)),
        "out": and_(Loan.is_open(), Loan.lost_at.is_(None)), "lost": and_(Loan.is_open(), Loan.lost_at.is_not(None)),
        "returned": returned, "written_off": written_off}
    return conditions[state]


def list_loans(session: Session, state: str, *, rules: LendingRules, today: date | None = None) -> list[LoanView]:
    """Every loan in one `LOAN_FILTERS` state, whenever it was made (written off: the lost-and-written-off ones),
    oldest first."""
    stmt = (select(Loan).where(state_condition(state, today)).options(*_loan_options())
            .order_by(Loan.out_at, Loan.id))
    return [_view(loan, loan.household, rules) for loan in session.scalars(stmt)]


def with_written_off_loans(session: Session, records: Sequence[WrittenOff]) -> list[WrittenOff]:
    """Folders confirmed lost, each lost while lent naming its loan written off with it (遗失注销): the handover
    list's lost-and-written-off lines name it: L…（borrower）."""
    ids = [record.household_id for record in records]
    loans: dict[int, Loan] = {}
    for start in range(0, len(ids), 500):
        for loan in session.scalars(select(Loan).where(Loan.household_id.in_(ids[start:start + 500]),
                                                       Loan.written_off_at.is_not(None))
                                    .options(selectinload(Loan.borrower)).order_by(Loan.written_off_at, Loan.id)):
            loans[loan.household_id] = loan  # the latest one wins
    return [replace(record, loan=f"{loan_code(loan.id)}（{loan.borrower.display}）")
            if (loan := loans.get(record.household_id)) is not None else record for record in records]


def list_folder_loans(session: Session, household_id: int, *, rules: LendingRules) -> list[LoanView]:
    """A folder's loans (its loan history), newest first."""
    stmt = (select(Loan).where(Loan.household_id == household_id).options(*_loan_options())
            .order_by(Loan.out_at.desc(), Loan.id.desc()))
    return [_view(loan, loan.household, rules) for loan in session.scalars(stmt)]


# --- the request queue (调档队列) --------------------------------------------------------------------------------

@dataclass(frozen=True)
class QueueRow:
    """One open request as the clerk walks the shelves: where the folder is, for whom, and whether it may go."""

    number: int
    request_id: int
    household_id: int
    folder: str
    folder_display: str
    village: str
    village_name: str
    household_number: int
    head_name: str
    place: Place
    borrower_key: str
    borrower: str
    purpose: str
    purpose_text: str
    needed_on: date | None
    missing: tuple[str, ...]  # what must still be recorded before release
    approver: str = ""  # who approved (name), "" while not approved
    approved_at: datetime | None = None  # local wall-clock time
    approval_opinion: str = ""

    @property
    def ready(self) -> bool:
        """Nothing missing, and the folder is in the room (on its shelf, in the closed area, or not shelved yet)."""
        return not self.missing and self.place.status.code in ("on_shelf", "closed", "unshelved")

    def as_json(self) -> dict[str, object]:
        return {"number": self.number, "request": self.request_id, "household": self.household_id,
                "folder": self.folder, "folder_display": self.folder_display, "village": self.village,
                "village_name": self.village_name, "head_name": self.head_name,
                "location": self.place.address or None, "status": self.place.status.code,
                "status_text": self.place.status.text, "borrower": self.borrower_key,
                "borrower_display": self.borrower, "purpose": self.purpose, "purpose_text": self.purpose_text,
                "needed_on": self.needed_on.isoformat() if self.needed_on else None,
                "missing": list(self.missing), "ready": self.ready, "approver": self.approver or None,
                "approved_at": self.approved_at.isoformat(timespec="minutes") if self.approved_at else None,
                "approval_opinion": self.approval_opinion}


@dataclass
class Queue:
    rows: list[QueueRow] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {"rows": [row.as_json() for row in self.rows], "count": len(self.rows),
                "ready": sum(1 for row in self.rows if row.ready)}

    def text_lines(self) -> list[str]:
        """The rows in walking order; a row that may not go yet says what it waits for."""
        if not self.rows:
            return ["没有待放行的申请。"]
        return [f"{row.number:>3}. {row.place.address or '—':<28} {row.folder_display}  {row.head_name}  "
                f"→ {row.borrower}（{row.purpose_text}）  #{row.request_id}"
                + ("" if row.ready else f"  [{'、'.join(row.missing) or row.place.status.text}]") for row in self.rows]


def list_queue(session: Session, *, rules: LendingRules, needed_by: date | None = None,
               borrower_id: int | None = None) -> Queue:
    """Open requests in walking order (locations' shelf order: room, column, side, section, level, position);
    folders that are not on a shelf come last, by village and household."""
    stmt = (select(LoanRequest).where(LoanRequest.status == "open")
            .options(selectinload(LoanRequest.borrower), selectinload(LoanRequest.documents),
                     selectinload(LoanRequest.approver),
                     selectinload(LoanRequest.household).selectinload(Household.village)
                     .selectinload(Village.township)))
    if needed_by is not None:
        stmt = stmt.where(or_(LoanRequest.needed_on.is_(None), LoanRequest.needed_on <= needed_by))
    if borrower_id is not None:
        stmt = stmt.where(LoanRequest.borrower_id == borrower_id)
    requests = list(session.scalars(stmt))
    ids = list({r.household_id for r in requests})
    places = find_places(session, ids, [status_provider(rules)])
    sensitive = sensitive_households(session, ids, rules)

    def walking(request: LoanRequest) -> tuple[int, int, int, str, int, int]:
        place = places[request.household_id]
        on_shelf = place.state == "on_shelf" and place.seq is not None
        return (0 if on_shelf else 1, place.seq or 0 if on_shelf else 0, place.slot or 0 if on_shelf else 0,
                request.household.village.code, request.household.number, request.id)

    queue = Queue()
    for number, request in enumerate(sorted(requests, key=walking), start=1):
        household = request.household
        rule = rules.rule_for(request.borrower.kind, sensitive=household.id in sensitive)
        missing = request_missing(request, rule, rules)
        queue.rows.append(QueueRow(
            number, request.id, household.id, folder_value(household), folder_display(household),
            household.village.code, household.village.name, household.number, household.head_name,
            places[household.id], request.borrower.key, request.borrower.display, request.purpose,
            rules.purposes.get(request.purpose, request.purpose), request.needed_on, tuple(missing),
            user_name(request.approver) if request.approved_at else "",
            local_time(request.approved_at, rules.timezone) if request.approved_at else None,
            request.approval_opinion if request.approved_at else ""))
    return queue


def request_missing(request: LoanRequest, rule: LoanRule, rules: LendingRules) -> list[str]:
    """What a request still lacks under `rule` before its folder may be released."""
    kinds = {document.kind for document in request.documents}
    return missing_requirements(rule, rules.evidence, application_ref=request.application_ref,
                                application_scan="application" in kinds, consent_ref=request.consent_ref,
                                consent_scan="consent" in kinds, approved=request.approved_at is not None)


def sensitive_households(session: Session, household_ids: Sequence[int], rules: LendingRules) -> set[int]:
    """Which of these households have a member in a sensitive population group."""
    if not household_ids or not rules.sensitive_tags:
        return set()
    return set(session.scalars(
        select(Resident.household_id).distinct().join(resident_tags, resident_tags.c.resident_id == Resident.id)
        .join(PopulationTag, PopulationTag.id == resident_tags.c.tag_id)
        .where(Resident.household_id.in_(list(household_ids)), PopulationTag.name.in_(rules.sensitive_tags))))


@dataclass(frozen=True)
class RequestView:
    """One request as its requester follows it: 待放行, 已放行, 已取消, 未获批准 or 已过期, and why."""

    request_id: int
    household_id: int
    folder_display: str
    head_name: str
    borrower_key: str
    purpose_text: str
    asked_at: datetime  # local wall-clock time
    needed_on: date | None
    status: str
    status_text: str
    closed_at: datetime | None  # local wall-clock time
    closed_reason: str

    def as_json(self) -> dict[str, object]:
        return {"request": self.request_id, "household": self.household_id, "folder_display": self.folder_display,
                "head_name": self.head_name, "borrower": self.borrower_key, "purpose_text": self.purpose_text,
                "asked_at": self.asked_at.isoformat(timespec="minutes"),
                "needed_on": self.needed_on.isoformat() if self.needed_on else None, "status": self.status,
                "status_text": self.status_text,
                "closed_at": self.closed_at.isoformat(timespec="minutes") if self.closed_at else None,
                "closed_reason": self.closed_reason}

    def text_lines(self) -> list[str]:
        reason = f"（{self.closed_reason}）" if self.closed_reason else ""
        return [f"#{self.request_id}  {self.folder_display}  {self.head_name}  {self.borrower_key}  "
                f"申请于 {self.asked_at:%Y-%m-%d}  {self.status_text}{reason}"]


def list_requests(session: Session, *, rules: LendingRules, borrower_id: int | None = None,
                  status: str | None = None, limit: int = 50) -> list[RequestView]:
    """The latest requests (newest first), of one borrower or all, in any state or one."""
    stmt = (select(LoanRequest).options(selectinload(LoanRequest.borrower),
                                        selectinload(LoanRequest.household).selectinload(Household.village)
                                        .selectinload(Village.township))
            .order_by(LoanRequest.id.desc()).limit(limit))
    if borrower_id is not None:
        stmt = stmt.where(LoanRequest.borrower_id == borrower_id)
    if status is not None:
        stmt = stmt.where(LoanRequest.status == status)
    return [RequestView(
        r.id, r.household_id, folder_display(r.household), r.household.head_name, r.borrower.key,
        rules.purposes.get(r.purpose, r.purpose), local_time(r.created_at, rules.timezone), r.needed_on, r.status,
        REQUEST_STATE_TEXT.get(r.status, r.status), local_time(r.closed_at, rules.timezone) if r.closed_at else None,
        r.closed_reason) for r in session.scalars(stmt)]


def find_request(session: Session, request_id: int | str) -> LoanRequest:
    try:
        number = int(str(request_id).strip())
    except ValueError:
        raise InvalidValue("申请编号应为数字", field="申请编号", value=request_id) from None
    request = session.scalar(select(LoanRequest).where(LoanRequest.id == number)
                             .options(selectinload(LoanRequest.borrower), selectinload(LoanRequest.documents)))
    if request is None:
        raise NotFound("没有这个借阅申请", field="申请编号", value=request_id)
    return request


# --- the lending dashboard (借阅概况) -----------------------------------------------------------------------------

@dataclass(frozen=True)
class VillageCounts:
    village: str
    village_name: str
    lent: int
    overdue: int
    due_this_week: int
    waiting: int

    def as_json(self) -> dict[str, object]:
        return {"village": self.village, "village_name": self.village_name, "lent": self.lent,
                "overdue": self.overdue, "due_this_week": self.due_this_week, "waiting": self.waiting}


@dataclass(frozen=True)
class Dashboard:
    """Counts only (no names): open loans, overdue, due within seven days, open requests — in total and by village."""

    today: date
    villages: list[VillageCounts]

    def total(self, name: str) -> int:
        return sum(getattr(row, name) for row in self.villages)

    def as_json(self) -> dict[str, object]:
        return {"date": self.today.isoformat(), "lent": self.total("lent"), "overdue": self.total("overdue"),
                "due_this_week": self.total("due_this_week"), "waiting": self.total("waiting"),
                "villages": [row.as_json() for row in self.villages]}


def count_dashboard(session: Session, *, today: date) -> Dashboard:
    """Two grouped queries, whatever the number of loans: open loans and open requests by village."""
    week_end = today + timedelta(days=7)
    loans = session.execute(
        select(Village.code, Village.name, func.count(Loan.id),
               func.sum(case((Loan.due_on < today, 1), else_=0)),
               func.sum(case(((Loan.due_on >= today) & (Loan.due_on <= week_end), 1), else_=0)))
        .join(Household, Household.id == Loan.household_id).join(Village, Village.id == Household.village_id)
        .where(Loan.is_open()).group_by(Village.code, Village.name)).all()
    waiting = session.execute(
        select(Village.code, Village.name, func.count(LoanRequest.id))
        .join(Household, Household.id == LoanRequest.household_id).join(Village, Village.id == Household.village_id)
        .where(LoanRequest.status == "open").group_by(Village.code, Village.name)).all()
    rows: dict[str, list[object]] = {}
    for code, name, lent, overdue, due in loans:
        rows[code] = [name, int(lent or 0), int(overdue or 0), int(due or 0), 0]
    for code, name, count in waiting:
        rows.setdefault(code, [name, 0, 0, 0, 0])[4] = int(count or 0)
    return Dashboard(today, [VillageCounts(code, str(v[0]), *(int(n) for n in v[1:]))  # type: ignore[call-overload]
                             for code, v in sorted(rows.items())])
