"""Request use cases (调阅申请): ask for folders, record the application and consent, approve, refuse, cancel, and
close the requests nobody fulfilled (expire)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NoReturn

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from archiveprint.accounts.models import User
from archiveprint.accounts.roles import can
from archiveprint.errors import N_, ArchiveprintError, Conflict, InvalidValue, PermissionDenied, joined
from archiveprint.eventlog import record_event
from archiveprint.lending.models import REQUEST_STATE_TEXT, Borrower, LoanDocument, LoanRequest
from archiveprint.lending.queries import find_request, folder_display, folder_value, request_missing
from archiveprint.lending.rules import LendingRules
from archiveprint.lending.services import check_purpose, close_open_request, resolve, rule_for
from archiveprint.register.models import Household, Village

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
MEDIA_TYPES = ((b"%PDF-", "application/pdf"), (b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))
CONSENT_BY = {"resident": "居民本人", "guardian": "监护人"}


@dataclass(frozen=True)
class Upload:
    """A scanned document as received: its file name and bytes."""

    filename: str
    content: bytes


@dataclass
class RequestBatch:
    """What a request for one folder or a list did: new requests, ones already open (a double submit), problems."""

    created: list[LoanRequest] = field(default_factory=list)
    existing: list[LoanRequest] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (code as typed, why)

    @property
    def requests(self) -> list[LoanRequest]:
        return self.created + self.existing

    def as_json(self) -> dict[str, object]:
        return {"ok": not self.problems, "created": len(self.created), "existing": len(self.existing),
                "requests": [{"request": r.id, "folder_display": folder_display(r.household), "new": r in self.created,
                              "needed_on": r.needed_on.isoformat() if r.needed_on else None} for r in self.requests],
                "problems": [{"code": code, "error": error} for code, error in self.problems]}

    def text_lines(self) -> list[str]:
        """One line a request (the problems are listed apart)."""
        return [f"申请 #{r.id}  {folder_display(r.household)}  "
                f"{'已登记' if r in self.created else '已有申请（未重复登记）'}" for r in self.requests]


def request_folders(session: Session, codes: Sequence[str], *, borrower: Borrower, purpose: str,
                    purpose_note: str = "", needed_on: date | None = None, rules: LendingRules, actor: str,
                    now: datetime) -> RequestBatch:
    """A doctor or village doctor asks for folders (one, or a list for tomorrow's clinic). Asking twice for the same
    folder finds the open request instead of adding another (the database holds one open request per folder and
    borrower). Codes that name nothing, or folders the borrower may not have, are reported and skipped."""
    if not borrower.active:
        raise Conflict("该借阅人已停用", field="借阅人", value=borrower.key)
    purpose_code = rules.purpose(purpose)
    note = purpose_note.strip()
    # Asking again for a folder whose old request has gone stale starts a new request instead of reviving one that
    # the next look at the queue would close.
    expire_requests(session, rules=rules, actor=actor, now=now, borrower_id=borrower.id)
    batch = RequestBatch()
    seen: set[int] = set()
    for code in codes:
        if not code.strip():
            continue
        try:
            scanned = resolve(session, code)
            household = scanned.household
            if household.id in seen:
                continue
            seen.add(household.id)
            rule = rule_for(session, rules, borrower.kind, household)
            if rule.own_villages_only and household.village_id not in {v.id for v in borrower.villages}:
                raise PermissionDenied("{label}只能申请本人负责的村的档案",
                                       params={"label": rule.label}, field="档案袋",
                                       value=folder_display(household))
            check_purpose(rules, rule, purpose_code, note)
        except ArchiveprintError as error:
            batch.problems.append((code, str(error)))
            continue
        request = _open_request(session, household.id, borrower.id)
        if request is not None:
            if needed_on is not None and request.needed_on != needed_on:
                request.needed_on = needed_on
            batch.existing.append(request)
            continue
        request = LoanRequest(household_id=household.id, resident_id=scanned.resident.id if scanned.resident else None,
                              borrower_id=borrower.id, purpose=purpose_code, purpose_note=note[:200],
                              needed_on=needed_on, status="open", created_at=now, created_by=actor)
        try:
            with session.begin_nested():
                session.add(request)
                session.flush()
        except IntegrityError:  # the same request, submitted twice at the same moment
            twin = _open_request(session, household.id, borrower.id)
            if twin is None:
                raise
            batch.existing.append(twin)
            continue
        record_event(session, "loan_request.created", "loan_request", request.id, actor=actor, now=now,
                     household=household.id, folder=folder_value(household), borrower=borrower.key,
                     purpose=purpose_code, needed_on=needed_on)
        batch.created.append(request)
    session.flush()
    return batch


def _open_request(session: Session, household_id: int, borrower_id: int) -> LoanRequest | None:
    return session.scalar(select(LoanRequest).where(LoanRequest.household_id == household_id,
                                                    LoanRequest.borrower_id == borrower_id,
                                                    LoanRequest.status == "open"))


def _open(session: Session, request_id: int | str) -> LoanRequest:
    request = find_request(session, request_id)
    if request.status != "open":
        _closed(request)
    return request


def _closed(request: LoanRequest) -> NoReturn:
    raise Conflict("该申请{state}，不能再更改",
                   params={"state": REQUEST_STATE_TEXT[request.status]}, field="申请编号", value=request.id)


# --- evidence ------------------------------------------------------------------------------------------------------

def record_evidence(session: Session, request_id: int | str, *, application_ref: str | None = None,
                    application_scan: Upload | None = None, consent_by: str | None = None,
                    consent_ref: str | None = None, consent_signer: str = "", consent_scan: Upload | None = None,
                    actor: str, now: datetime) -> LoanRequest:
    """Attach the written application (reference and scan) and the resident's or guardian's consent to a request.
    Changing the evidence of an approved request withdraws the approval: the approver must see what is released."""
    request = _open(session, request_id)
    changed: list[str] = []
    if application_ref is not None:
        ref = application_ref.strip()
        if not ref:
            raise InvalidValue("申请编号不能为空", field="书面申请")
        request.application_ref = ref[:100]
        changed.append("application")
    if consent_by is not None or consent_ref is not None:
        by = (consent_by or "").strip()
        if by in CONSENT_BY.values():
            by = next(k for k, v in CONSENT_BY.items() if v == by)
        if by not in CONSENT_BY:
            raise InvalidValue("同意人应为 resident（居民本人）或 guardian（监护人）", field="同意人", value=consent_by)
        ref = (consent_ref or "").strip()
        if not ref:
            raise InvalidValue("请写明同意书编号或说明", field="同意书")
        signer = consent_signer.strip()
        if by == "guardian" and not signer:
            raise InvalidValue("监护人同意时请写明监护人姓名", field="监护人")
        request.consent_by, request.consent_ref, request.consent_signer = by, ref[:100], signer[:64]
        changed.append("consent")
    documents = []
    for kind, upload in (("application", application_scan), ("consent", consent_scan)):
        if upload is not None:
            documents.append(_document(request, kind, upload, actor=actor, now=now))
            changed.append(f"{kind}_scan")
    if not changed:
        raise InvalidValue("没有要登记的材料", field="材料")
    withdrawn = request.approved_at is not None
    if withdrawn:
        request.approver_id, request.approved_at, request.approval_opinion = None, None, ""
    session.add_all(documents)
    record_event(session, "loan_request.evidence", "loan_request", request.id, actor=actor, now=now,
                 changed=changed, application_ref=request.application_ref, consent_by=request.consent_by,
                 consent_ref=request.consent_ref, documents=[d.sha256 for d in documents],
                 approval_withdrawn=withdrawn)
    session.flush()
    return request


def _document(request: LoanRequest, kind: str, upload: Upload, *, actor: str, now: datetime) -> LoanDocument:
    content = upload.content
    label = N_("书面申请扫描件") if kind == "application" else N_("同意书扫描件")
    if not content:
        raise InvalidValue("文件是空的", field=label, value=upload.filename)
    if len(content) > MAX_DOCUMENT_BYTES:
        raise InvalidValue("文件超过 {megabytes} MB",
                           params={"megabytes": MAX_DOCUMENT_BYTES // 1024 // 1024}, field=label, value=upload.filename)
    media_type = next((media for magic, media in MEDIA_TYPES if content.startswith(magic)), None)
    if media_type is None:
        raise InvalidValue("扫描件应为 PDF、JPEG 或 PNG 文件", field=label, value=upload.filename)
    name = upload.filename.replace("\\", "/").rsplit("/", 1)[-1][:200] or f"{kind}"
    return LoanDocument(request=request, kind=kind, filename=name, media_type=media_type,
                        sha256=hashlib.sha256(content).hexdigest(), size=len(content), content=content,
                        added_at=now, added_by=actor)


# --- approval ------------------------------------------------------------------------------------------------------

def _check_approver(request: LoanRequest, approver: User, rules: LendingRules) -> None:
    if not approver.active or not can(approver.role, "approve_loans"):
        raise PermissionDenied("该用户没有审批借阅的权限（approve_loans）", field="审批人", value=approver.username)
    if (not rules.evidence.approver_may_be_requester and request.borrower.user_id is not None
            and request.borrower.user_id == approver.id):
        raise PermissionDenied("不能审批自己的借阅申请", field="审批人", value=approver.username)


def approve_request(session: Session, request_id: int | str, *, approver: User, opinion: str = "",
                    rules: LendingRules, actor: str, now: datetime) -> LoanRequest:
    """An approver (a user with approve_loans) agrees to release the folder, after the application and consent the
    rule asks for are on record (申请 → 审批 → 借出)."""
    request = _open(session, request_id)
    _check_approver(request, approver, rules)
    rule = rule_for(session, rules, request.borrower.kind, request.household)
    before = [m for m in request_missing(request, rule, rules) if m != "审批"]
    if before:
        raise Conflict("审批前请先登记：{missing}",
                       params={"missing": joined(before)}, field="借阅申请", value=request.id)
    request.approver_id, request.approved_at, request.approval_opinion = approver.id, now, opinion.strip()[:200]
    record_event(session, "loan_request.approved", "loan_request", request.id, actor=actor, now=now,
                 approver=approver.username, household=request.household_id)
    session.flush()
    return request


def refuse_request(session: Session, request_id: int | str, *, approver: User, reason: str, rules: LendingRules,
                   actor: str, now: datetime) -> LoanRequest:
    """An approver turns a request down (with the reason, which the register keeps)."""
    request = _open(session, request_id)
    _check_approver(request, approver, rules)
    if not reason.strip():
        raise InvalidValue("不批准时请写明理由", field="理由")
    if not close_open_request(session, request, "refused", reason.strip(), now=now):
        _closed(request)
    request.approval_opinion = reason.strip()[:200]
    record_event(session, "loan_request.refused", "loan_request", request.id, actor=actor, now=now,
                 approver=approver.username, household=request.household_id)
    session.flush()
    return request


def cancel_request(session: Session, request_id: int | str, *, reason: str = "", actor: str,
                   now: datetime) -> LoanRequest:
    """Withdraw a request (no longer needed); cancelling a cancelled request is not an error."""
    request = find_request(session, request_id)
    if request.status == "cancelled":
        return request
    request = _open(session, request_id)
    if not close_open_request(session, request, "cancelled", reason.strip(), now=now):
        _closed(request)
    record_event(session, "loan_request.cancelled", "loan_request", request.id, actor=actor, now=now,
                 household=request.household_id)
    session.flush()
    return request


@dataclass(frozen=True)
class RequestDetail:
    """Where a request stands, in plain values: its papers, who approved it, what is missing before release."""

    request_id: int
    status: str
    borrower_key: str
    folder_display: str
    purpose: str
    application_ref: str | None
    consent_by: str | None
    consent_ref: str | None
    documents: tuple[tuple[str, str, str], ...]  # (kind, file name, sha256)
    approver: str | None  # username
    missing: tuple[str, ...]

    @property
    def ready(self) -> bool:
        return self.status == "open" and not self.missing

    def as_json(self) -> dict[str, object]:
        return {"ok": True, "request": self.request_id, "status": self.status, "borrower": self.borrower_key,
                "folder_display": self.folder_display, "purpose": self.purpose,
                "application_ref": self.application_ref, "consent_by": self.consent_by,
                "consent_ref": self.consent_ref,
                "documents": [{"kind": k, "filename": f, "sha256": h} for k, f, h in self.documents],
                "approver": self.approver, "missing": list(self.missing), "ready": self.ready}

    def text_lines(self, done: str = "") -> list[str]:
        """`done`: what the command just did (材料已登记, 已批准 …); then what is still missing, or that it may go."""
        lines = [f"申请 #{self.request_id}  {self.folder_display}  {done}"]
        if self.missing:
            lines.append(f"  放行前尚缺：{'、'.join(self.missing)}")
        elif self.ready:
            lines.append("  材料齐全，可以放行（扫描档案袋：archiveprint lend out 编号）")
        return lines


def request_detail(session: Session, request_id: int, rules: LendingRules) -> RequestDetail:
    request = find_request(session, request_id)
    rule = rule_for(session, rules, request.borrower.kind, request.household)
    missing = request_missing(request, rule, rules) if request.status == "open" else []
    return RequestDetail(request.id, request.status, request.borrower.key, folder_display(request.household),
                         request.purpose, request.application_ref or None, request.consent_by or None,
                         request.consent_ref or None,
                         tuple((d.kind, d.filename, d.sha256) for d in request.documents),
                         request.approver.username if request.approver else None, tuple(missing))


# --- expiry --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ExpiredRequest:
    """A request closed as expired (or, in a dry run, one that would be), in plain values."""

    request_id: int
    household_id: int
    folder_display: str
    borrower_key: str
    borrower: str
    asked_on: date  # the archive's calendar day it was made
    needed_on: date | None

    def as_json(self) -> dict[str, object]:
        return {"request": self.request_id, "household": self.household_id, "folder_display": self.folder_display,
                "borrower": self.borrower_key, "borrower_display": self.borrower,
                "asked_on": self.asked_on.isoformat(),
                "needed_on": self.needed_on.isoformat() if self.needed_on else None}

    def text_lines(self) -> list[str]:
        needed = f"  用档 {self.needed_on:%Y-%m-%d}" if self.needed_on else ""
        return [f"申请 #{self.request_id}  {self.folder_display}  {self.borrower}  申请于 {self.asked_on:%Y-%m-%d}"
                f"{needed}"]


def expiry_reason(rules: LendingRules) -> str:
    return f"超过 {rules.request_expiry_days} 天未放行，已自动关闭"


def _stale(rules: LendingRules, today: date) -> ColumnElement[bool] | None:
    """Open requests whose day — the later of the day asked and the day needed — is before the cutoff."""
    cutoff = rules.request_expiry_cutoff(today)
    if cutoff is None:
        return None
    return and_(LoanRequest.status == "open", LoanRequest.created_at < rules.day_start(cutoff),
                or_(LoanRequest.needed_on.is_(None), LoanRequest.needed_on < cutoff))


def expire_requests(session: Session, *, rules: LendingRules, actor: str, now: datetime, today: date | None = None,
                    borrower_id: int | None = None, dry_run: bool = False) -> list[ExpiredRequest]:
    """Close the open requests nobody released within `request_expiry_days` (status expired, with the reason and a
    `loan_request.expired` event each). One conditional UPDATE, so it is cheap enough to run whenever the queue is
    read and idempotent: a request already released, cancelled or expired — by a clerk scanning its folder at this
    very moment, or by another reader of the queue — is left alone. `dry_run` only lists what would be closed."""
    today = today or rules.local_date(now)
    stale = _stale(rules, today)
    if stale is None:
        return []
    if borrower_id is not None:
        stale = and_(stale, LoanRequest.borrower_id == borrower_id)
    if dry_run:
        ids = list(session.scalars(select(LoanRequest.id).where(stale)))
    else:
        reason = expiry_reason(rules)
        ids = list(session.scalars(
            update(LoanRequest).where(stale).values(status="expired", closed_at=now, closed_reason=reason)
            .returning(LoanRequest.id).execution_options(synchronize_session=False)))
    if not ids:
        return []
    requests = list(session.scalars(
        select(LoanRequest).where(LoanRequest.id.in_(ids)).order_by(LoanRequest.id)
        .options(selectinload(LoanRequest.borrower),
                 selectinload(LoanRequest.household).selectinload(Household.village).selectinload(Village.township))
        .execution_options(populate_existing=True)))
    out = []
    for request in requests:
        household = request.household
        out.append(ExpiredRequest(request.id, household.id, folder_display(household), request.borrower.key,
                                  request.borrower.display, rules.local_date(request.created_at), request.needed_on))
        if not dry_run:
            record_event(session, "loan_request.expired", "loan_request", request.id, actor=actor, now=now,
                         household=household.id, folder=folder_value(household), borrower=request.borrower.key,
                         asked_on=rules.local_date(request.created_at), needed_on=request.needed_on,
                         expiry_days=rules.request_expiry_days, reason=request.closed_reason)
    session.flush()
    return out
