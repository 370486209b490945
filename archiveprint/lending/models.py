"""Lending tables: borrowers, requests with their evidence, loans (one open per folder) and the scan journal."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    and_,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

# Imported at run time, not only for type checking: the relationships below name these classes, and a command that
# imports only lending must still be able to configure its mappers.
from archiveprint.accounts.models import User
from archiveprint.db import Base, site_column, unique_in_site, utcnow
from archiveprint.errors import N_
from archiveprint.register.models import Household, Resident, Village

BORROWER_KINDS = ("staff", "village_doctor", "external")
REQUEST_STATES = ("open", "released", "cancelled", "refused", "expired")
REQUEST_STATE_TEXT = {"open": N_("待放行"), "released": N_("已放行"), "cancelled": N_("已取消"),
                      "refused": N_("未获批准"), "expired": N_("已过期")}
CONDITIONS = ("intact", "missing_pages", "damaged")
SCAN_ACTIONS = ("out", "return", "renew")
SCAN_OUTCOMES = ("applied", "unchanged", "conflict", "rejected")
DOCUMENT_KINDS = ("application", "consent")
OPEN_LOAN = "returned_at IS NULL AND written_off_at IS NULL"  # neither returned nor written off (遗失注销)
LOAN_STATES = ("out", "lost", "returned", "written_off")
LOAN_STATE_TEXT = {"out": N_("借出中"), "lost": N_("已登记丢失"), "returned": N_("已归还"),
                   "written_off": N_("遗失注销")}
# What a list of loans may be filtered by: a state, or open (out or lost) and overdue (open, past its due date).
LOAN_FILTERS = ("open", "overdue", "out", "lost", "returned", "written_off")
OPEN_REQUEST = "status = 'open'"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


borrower_villages = Table(
    "borrower_villages",
    Base.metadata,
    Column("borrower_id", ForeignKey("borrowers.id", ondelete="CASCADE"), primary_key=True),
    Column("village_id", ForeignKey("villages.id"), primary_key=True),
)


class Borrower(Base):
    """Who may borrow a folder (借阅人): a staff member, a village doctor (tied to villages) or an outside unit."""

    __tablename__ = "borrowers"
    __table_args__ = (CheckConstraint(_in("kind", BORROWER_KINDS), name="kind"), unique_in_site("key"))

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int | None] = site_column()
    key: Mapped[str] = mapped_column(String(64))  # what the clerk types: --borrower KEY (unique in its site)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    unit: Mapped[str] = mapped_column(String(128), default="")  # 单位/部门 (卫生室, 科室, 外单位名称)
    contact_person: Mapped[str] = mapped_column(String(64), default="")  # outside units: 联系人
    phone: Mapped[str] = mapped_column(String(32), default="")
    letter_ref: Mapped[str] = mapped_column(String(100), default="")  # outside units: 介绍信编号
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    user: Mapped[User | None] = relationship()
    villages: Mapped[list[Village]] = relationship(secondary=borrower_villages, order_by="Village.code")
    loans: Mapped[list[Loan]] = relationship(back_populates="borrower")
    requests: Mapped[list[LoanRequest]] = relationship(back_populates="borrower")

    @property
    def display(self) -> str:
        """Name and unit, as the register and locate print them: 王医生（东村卫生室）."""
        return f"{self.name}（{self.unit}）" if self.unit else self.name


class LoanRequest(Base):
    """A request for a folder (调阅申请), with what its rule asks for: application, consent, approval.

    At most one open request per folder and borrower: a double-submitted request finds the first one.
    """

    __tablename__ = "loan_requests"
    __table_args__ = (
        CheckConstraint(_in("status", REQUEST_STATES), name="status"),
        CheckConstraint("consent_by IN ('', 'resident', 'guardian')", name="consent_by"),
        Index("ux_loan_requests_open", "household_id", "borrower_id", unique=True,
              sqlite_where=text(OPEN_REQUEST), postgresql_where=text(OPEN_REQUEST)),
        Index("ix_loan_requests_status_needed", "status", "needed_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"))
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    purpose_note: Mapped[str] = mapped_column(String(200), default="")
    needed_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default="open")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))
    application_ref: Mapped[str] = mapped_column(String(100), default="")
    consent_by: Mapped[str] = mapped_column(String(12), default="")  # resident / guardian
    consent_ref: Mapped[str] = mapped_column(String(100), default="")
    consent_signer: Mapped[str] = mapped_column(String(64), default="")  # the guardian's name, when not the resident
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime)
    approval_opinion: Mapped[str] = mapped_column(String(200), default="")
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_reason: Mapped[str] = mapped_column(String(200), default="")

    household: Mapped[Household] = relationship()
    resident: Mapped[Resident | None] = relationship()
    borrower: Mapped[Borrower] = relationship(back_populates="requests")
    approver: Mapped[User | None] = relationship()
    documents: Mapped[list[LoanDocument]] = relationship(back_populates="request", order_by="LoanDocument.id")
    loan: Mapped[Loan | None] = relationship(back_populates="request")


class LoanDocument(Base):
    """A scanned paper behind a request: the written application or the consent (PDF, JPEG or PNG)."""

    __tablename__ = "loan_documents"
    __table_args__ = (CheckConstraint(_in("kind", DOCUMENT_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("loan_requests.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    filename: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    added_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    added_by: Mapped[str] = mapped_column(String(64))

    request: Mapped[LoanRequest] = relationship(back_populates="documents")


class Loan(Base):
    """One check-out of a household folder (借阅). Open until it is returned (`returned_at`) or, lost while lent and
    never found, written off (遗失注销: `written_off_at`, with who, why and who approved it; the folder never came
    back, so it is not a return). The database allows one open loan per folder (a partial unique index), so two
    clerks can never lend the same folder twice."""

    __tablename__ = "loans"
    __table_args__ = (
        CheckConstraint("return_condition IS NULL OR " + _in("return_condition", CONDITIONS), name="condition"),
        CheckConstraint("renewals >= 0", name="renewals"),
        Index("ux_loans_open_household", "household_id", unique=True,
              sqlite_where=text(OPEN_LOAN), postgresql_where=text(OPEN_LOAN)),
        Index("ix_loans_due_open", "due_on", sqlite_where=text(OPEN_LOAN), postgresql_where=text(OPEN_LOAN)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"))  # whose record it was lent for
    borrower_id: Mapped[int] = mapped_column(ForeignKey("borrowers.id"), index=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("loan_requests.id"), unique=True)
    borrower_kind: Mapped[str] = mapped_column(String(16))  # the rule it was lent under
    purpose: Mapped[str] = mapped_column(String(16))
    purpose_note: Mapped[str] = mapped_column(String(200), default="")
    on_site: Mapped[bool] = mapped_column(Boolean, default=False)  # 室内查阅: back the same day
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    out_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    out_by: Mapped[str] = mapped_column(String(64))
    due_on: Mapped[date] = mapped_column(Date)
    renewals: Mapped[int] = mapped_column(Integer, default=0)
    renewed_at: Mapped[datetime | None] = mapped_column(DateTime)
    lost_at: Mapped[datetime | None] = mapped_column(DateTime)
    lost_note: Mapped[str] = mapped_column(String(200), default="")
    returned_at: Mapped[datetime | None] = mapped_column(DateTime)
    returned_by: Mapped[str | None] = mapped_column(String(64))
    return_condition: Mapped[str | None] = mapped_column(String(16))
    return_note: Mapped[str] = mapped_column(String(200), default="")
    written_off_at: Mapped[datetime | None] = mapped_column(DateTime)  # 遗失注销: closed without a return
    written_off_by: Mapped[str | None] = mapped_column(String(64))
    write_off_reason: Mapped[str | None] = mapped_column(String(200))  # 原因（查找经过）
    write_off_approver: Mapped[str | None] = mapped_column(String(64))  # 批准人

    household: Mapped[Household] = relationship()
    resident: Mapped[Resident | None] = relationship()
    borrower: Mapped[Borrower] = relationship(back_populates="loans")
    request: Mapped[LoanRequest | None] = relationship(back_populates="loan")
    approver: Mapped[User | None] = relationship()

    @property
    def state(self) -> str:
        """out / lost / returned / written_off."""
        if self.written_off_at is not None:
            return "written_off"
        if self.returned_at is not None:
            return "returned"
        return "lost" if self.lost_at is not None else "out"

    @classmethod
    def is_open(cls) -> ColumnElement[bool]:
        """The SQL condition of an open loan (lent, or lost while lent): neither returned nor written off."""
        return and_(cls.returned_at.is_(None), cls.written_off_at.is_(None))


class LoanScan(Base):
    """One scan from a scan station, kept by its client id so a replayed offline journal applies each scan once
    and a scan that conflicts with what the server knows is reported (and stays reported) instead of applied."""

    __tablename__ = "loan_scans"
    __table_args__ = (
        CheckConstraint(_in("action", SCAN_ACTIONS), name="action"),
        CheckConstraint(_in("outcome", SCAN_OUTCOMES), name="outcome"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int | None] = site_column(foreign_key=False)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    station: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(8))
    code: Mapped[str] = mapped_column(String(40))
    client_at: Mapped[datetime] = mapped_column(DateTime)
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(10))
    message: Mapped[str] = mapped_column(String(500), default="")
    loan_id: Mapped[int | None] = mapped_column(ForeignKey("loans.id"), index=True)

    loan: Mapped[Loan | None] = relationship()
