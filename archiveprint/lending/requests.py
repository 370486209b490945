"""Request use cases (调阅申请): ask for folders, record the application and consent, approve, refuse, cancel."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archiveprint.accounts.models import User
from archiveprint.accounts.roles import can
from archiveprint.errors import ArchiveprintError, Conflict, InvalidValue, PermissionDenied
from archiveprint.eventlog import record_event
from archiveprint.lending.models import Borrower, LoanDocument, LoanRequest
from archiveprint.lending.queries import find_request, folder_display, folder_value, request_missing
from archiveprint.lending.rules import LendingRules
from archiveprint.lending.services import check_purpose, resolve, rule_for

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
                raise PermissionDenied(f"{rule.label}只能申请本人负责的村的档案", field="档案袋",
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
        state = {"released": "已放行", "cancelled": "已取消", "refused": "未获批准"}[request.status]
        raise Conflict(f"该申请{state}，不能再更改", field="申请编号", value=request.id)
    return request


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
    label = "书面申请扫描件" if kind == "application" else "同意书扫描件"
    if not content:
        raise InvalidValue("文件是空的", field=label, value=upload.filename)
    if len(content) > MAX_DOCUMENT_BYTES:
        raise InvalidValue(f"文件超过 {MAX_DOCUMENT_BYTES // 1024 // 1024} MB", field=label, value=upload.filename)
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
        raise Conflict(f"审批前请先登记：{'、'.join(before)}", field="借阅申请", value=request.id)
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
    request.status, request.closed_at, request.closed_reason = "refused", now, reason.strip()[:200]
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
    request.status, request.closed_at, request.closed_reason = "cancelled", now, reason.strip()[:200]
    record_event(session, "loan_request.cancelled", "loan_request", request.id, actor=actor, now=now,
                 household=request.household_id)
    session.flush()
    return request
