"""Lending pages: the scan station, register, request queue and requests, overdue, loans, check-out, borrowers and
the dashboard (the scan station itself talks to web/api.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from archiveprint.db import utcnow
from archiveprint.errors import ArchiveprintError, InvalidValue
from archiveprint.lending import requests as reqs
from archiveprint.lending import services
from archiveprint.lending.borrowers import add_borrower as register_borrower
from archiveprint.lending.borrowers import borrower_for_user
from archiveprint.lending.documents import print_overdue_slips, print_receipt, print_register
from archiveprint.lending.models import LOAN_FILTERS, Loan
from archiveprint.lending.queries import (
    count_dashboard,
    find_borrower,
    find_borrower_id_of,
    list_borrowers,
    list_overdue,
    list_queue,
    list_register,
    list_requests,
    loan_code,
    loan_view,
    overdue_by_village,
)
from archiveprint.lending.requests import ExpiredRequest, expire_requests
from archiveprint.lending.rules import LendingRules
from archiveprint.register.queries import list_villages
from archiveprint.register.services import village_refs
from archiveprint.web.auth import current_account, current_actor, requires
from archiveprint.web.i18n import BORROWER_KIND_LABELS
from archiveprint.web.responses import audit_shown, change, flash_refusal, form_text, printed_pdf, refused
from archiveprint.web.session import db_session, lending_rules, today

bp = Blueprint("lending", __name__, url_prefix="/lending")
CODES_MAX = 200  # folders in one request (a day's clinic list)
MY_REQUESTS = 30  # the requester's latest requests shown under the request form


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


# --- the scan station ----------------------------------------------------------------------------------------

@bp.get("/scan")
@requires("lend")
def scan() -> ResponseReturnValue:
    """One input a keyboard-wedge scanner types into; modes, feedback and the offline journal live in scan.js."""
    rules = lending_rules()
    return render_template("web/lending/scan.html", purposes=rules.purposes, conditions=rules.conditions)


# --- dashboard --------------------------------------------------------------------------------------------------

@bp.get("/dashboard")
@requires("view_person")
def dashboard() -> ResponseReturnValue:
    return render_template("web/lending/dashboard.html", board=count_dashboard(db_session(), today=today()))


# --- the register (借阅登记) ---------------------------------------------------------------------------------------

def _month() -> str:
    """The register's month, YYYY-MM as asked (this month if not)."""
    return (request.args.get("month") or f"{today():%Y-%m}").strip()[:7]


@bp.get("/")
@requires("lend")
def register() -> ResponseReturnValue:
    """Loans made in a month, filtered by village, borrower and state (open, overdue, returned, lost, written off);
    the printable monthly register."""
    rules = lending_rules()
    month = _month()
    village = request.args.get("village", "").strip()
    borrower = request.args.get("borrower", "").strip()
    state = request.args.get("state", "").strip() or ("open" if request.args.get("open") == "1" else "")
    if state not in LOAN_FILTERS:
        state = ""
    try:
        views = list_register(db_session(), month, rules=rules)
    except InvalidValue as error:
        flash_refusal(error)
        month, views = f"{today():%Y-%m}", list_register(db_session(), f"{today():%Y-%m}", rules=rules)
    rows = [v for v in views if v.matches(village=village, borrower=borrower, state=state, today=today())]
    villages = [v for v, _h, _r in list_villages(db_session())]
    audit_shown("view", [v.household_id for v in rows], f"lending register {month}")
    return render_template("web/lending/register.html", rows=rows, month=month, village=village, borrower=borrower,
                           state=state, states=LOAN_FILTERS, villages=villages, borrowers=_borrower_choices())


@bp.get("/register.pdf")
@requires("lend")
def register_pdf() -> ResponseReturnValue:
    month = _month()
    return printed_pdf(lambda: print_register(db_session(), month, user=current_account().user,
                                              rules=lending_rules(), now=utcnow())[0], f"借阅登记表-{month}.pdf")


def _borrower_choices() -> list[tuple[str, str]]:
    return [(b.key, b.display) for b in list_borrowers(db_session())]


# --- overdue ------------------------------------------------------------------------------------------------------

@bp.get("/overdue")
@requires("lend")
def overdue() -> ResponseReturnValue:
    village = request.args.get("village", "").strip() or None
    items = list_overdue(db_session(), today=today(), rules=lending_rules(), village=village)
    audit_shown("view", [i.loan.household_id for i in items], "lending overdue")
    return render_template("web/lending/overdue.html", by_village=overdue_by_village(items), village=village or "",
                           count=len(items), day=today())


@bp.get("/overdue.pdf")
@requires("lend")
def overdue_pdf() -> ResponseReturnValue:
    village = request.args.get("village", "").strip() or None
    return printed_pdf(lambda: print_overdue_slips(db_session(), today=today(), village=village,
                                                   user=current_account().user, rules=lending_rules(),
                                                   now=utcnow())[0], f"逾期通知单-{today():%Y-%m-%d}.pdf")


# --- one loan -----------------------------------------------------------------------------------------------------

def _loan(loan_id: int) -> Loan:
    loan = db_session().get(Loan, loan_id)
    if loan is None:
        abort(404)
    return loan


@bp.get("/loans/<int:loan_id>")
@requires("lend")
def loan(loan_id: int) -> ResponseReturnValue:
    found = _loan(loan_id)
    rules = lending_rules()
    view = loan_view(db_session(), found, rules)
    home = services.home_address(db_session(), found.household)
    audit_shown("view", [view.household_id], f"loan {view.code}")
    return render_template("web/lending/loan.html", loan=view, home=home, conditions=rules.conditions)


@bp.get("/loans/<int:loan_id>/receipt.pdf")
@requires("lend")
def receipt(loan_id: int) -> ResponseReturnValue:
    return printed_pdf(lambda: print_receipt(db_session(), _loan(loan_id).id, user=current_account().user,
                                             rules=lending_rules(), now=utcnow()), f"借阅凭条-{loan_code(loan_id)}.pdf")


def _loan_change(loan_id: int, make: Callable[[str, LendingRules], str]) -> ResponseReturnValue:
    """A change to one loan (by its loan number), from its page and back to it."""
    target = url_for("lending.loan", loan_id=loan_id)
    code = loan_code(_loan(loan_id).id)
    rules = lending_rules()
    return change(lambda: make(code, rules), target)


@bp.post("/loans/<int:loan_id>/renew")
@requires("lend")
def renew(loan_id: int) -> ResponseReturnValue:
    def make(code: str, rules: LendingRules) -> str:
        renewed = services.renew(db_session(), code, rules=rules, actor=current_actor(), now=utcnow())
        return _("已续借，应还 %(day)s", day=f"{renewed.due_on:%Y-%m-%d}")
    return _loan_change(loan_id, make)


@bp.post("/loans/<int:loan_id>/return")
@requires("lend")
def give_back(loan_id: int) -> ResponseReturnValue:
    return _loan_change(loan_id, lambda code, rules: services.return_folder(
        db_session(), code, condition=form_text("condition") or None, note=form_text("note"), rules=rules,
        actor=current_actor(), now=utcnow()).message)


@bp.post("/loans/<int:loan_id>/lost")
@requires("lend")
def lost(loan_id: int) -> ResponseReturnValue:
    return _loan_change(loan_id, lambda code, rules: services.declare_lost(
        db_session(), code, note=form_text("note"), rules=rules, actor=current_actor(), now=utcnow()).message)


@bp.post("/loans/<int:loan_id>/found")
@requires("lend")
def found(loan_id: int) -> ResponseReturnValue:
    return _loan_change(loan_id, lambda code, rules: services.declare_found(
        db_session(), code, condition=form_text("condition") or None, note=form_text("note"), rules=rules,
        actor=current_actor(), now=utcnow()).message)


# --- check-out at the desk (without a scanner) --------------------------------------------------------------------

@bp.get("/checkout")
@requires("lend")
def checkout_form() -> ResponseReturnValue:
    return render_template("web/lending/checkout.html", purposes=lending_rules().purposes,
                           borrowers=_borrower_choices(), code=request.args.get("code", "")[:40])


@bp.post("/checkout")
@requires("lend")
def checkout() -> ResponseReturnValue:
    session = db_session()
    try:
        code = form_text("code", 40)
        if not code:
            raise InvalidValue("请输入或扫描档案袋编号", field="档案袋")
        key = form_text("borrower", 64)
        borrower = find_borrower(session, key) if key else None
        made = services.check_out(session, code, borrower=borrower, purpose=form_text("purpose") or None,
                                  purpose_note=form_text("note"), on_site=request.form.get("on_site") == "1",
                                  rules=lending_rules(), actor=current_actor(), now=utcnow())
    except ArchiveprintError as error:
        return refused(error, url_for("lending.checkout_form", code=form_text("code", 40)))
    session.commit()
    flash(_("已借出给 %(who)s，应还 %(day)s", who=made.borrower.display, day=f"{made.due_on:%Y-%m-%d}"), "success")
    return redirect(url_for("lending.loan", loan_id=made.id), code=303)


# --- requests (调阅申请) and the queue ------------------------------------------------------------------------------

@bp.get("/request")
@requires("request_loans")
def request_form() -> ResponseReturnValue:
    """The request form, and under it the requester's own latest requests with their state (已过期 and why)."""
    account = current_account()
    borrowers = _borrower_choices() if account.can("lend") else []
    rules = lending_rules()
    mine = []
    own = find_borrower_id_of(db_session(), account.user)
    if own is not None:
        expire_stale(borrower_id=own)
        mine = list_requests(db_session(), rules=rules, borrower_id=own, limit=MY_REQUESTS)
        audit_shown("view", [view.household_id for view in mine], "my loan requests")
    codes = "\n".join(request.args.getlist("codes"))[:CODES_MAX * 42]  # from a resident or household page
    return render_template("web/lending/request.html", purposes=rules.purposes, borrowers=borrowers, mine=mine,
                           expiry_days=rules.request_expiry_days, codes=codes)


def expire_stale(*, borrower_id: int | None = None) -> list[ExpiredRequest]:
    """Close the requests that waited too long before a list of requests is shown. A read that finds none writes
    nothing; otherwise the read snapshot is ended first, so the UPDATE waits its turn for SQLite's write lock
    (as session.commit_audit does)."""
    session, rules = db_session(), lending_rules()

    def run(dry_run: bool) -> list[ExpiredRequest]:
        return expire_requests(session, rules=rules, actor=current_actor(), now=utcnow(), today=today(),
                               borrower_id=borrower_id, dry_run=dry_run)
    if not run(True):
        return []
    session.commit()
    expired = run(False)
    session.commit()
    return expired


@bp.post("/request")
@requires("request_loans")
def request_folders() -> ResponseReturnValue:
    """One folder or a clinic's list for a date; submitting twice finds the open requests instead of adding."""
    session = db_session()
    account = current_account()
    target = url_for("lending.request_form")
    codes = [c for c in (form_text("codes", CODES_MAX * 42).replace(",", "\n").replace("，", "\n").split()) if c]
    try:
        if not codes:
            raise InvalidValue("请至少写一个档案袋或居民档案编号", field="编号")
        if len(codes) > CODES_MAX:
            raise InvalidValue("一次最多申请 {max} 份", params={"max": CODES_MAX}, field="编号", value=len(codes))
        needed = form_text("needed_on", 10)
        try:
            needed_on = date.fromisoformat(needed) if needed else None
        except ValueError:
            raise InvalidValue("日期应写成 YYYY-MM-DD", field="用档日期", value=needed) from None
        key = form_text("borrower", 64)
        if key and account.can("lend"):
            borrower = find_borrower(session, key)
        else:
            borrower = borrower_for_user(session, account.user, actor=account.username, now=utcnow())
        batch = reqs.request_folders(session, codes, borrower=borrower, purpose=form_text("purpose"),
                                     purpose_note=form_text("note"), needed_on=needed_on, rules=lending_rules(),
                                     actor=account.username, now=utcnow())
    except ArchiveprintError as error:
        return refused(error, target)
    session.commit()
    flash(_("新登记 %(new)s 份；已有申请 %(old)s 份（未重复登记）", new=len(batch.created), old=len(batch.existing)),
          "success")
    for code, why in batch.problems:
        flash(_("未登记 %(code)s：%(why)s", code=code, why=why), "warning")
    return redirect(target, code=303)


@bp.get("/queue")
@requires("lend")
def queue() -> ResponseReturnValue:
    expired = expire_stale()
    found = list_queue(db_session(), rules=lending_rules())
    audit_shown("view", [row.household_id for row in found.rows], "lending queue")
    return render_template("web/lending/queue.html", queue=found, expired=expired,
                           expiry_days=lending_rules().request_expiry_days,
                           can_approve=current_account().can("approve_loans"))


def _upload(name: str) -> reqs.Upload | None:
    upload = request.files.get(name)
    if upload is None or not upload.filename:
        return None
    return reqs.Upload(upload.filename, upload.read())


@bp.post("/requests/<int:request_id>/evidence")
@requires("lend")
def evidence(request_id: int) -> ResponseReturnValue:
    def make() -> str:
        consent_by = form_text("consent_by") or None
        reqs.record_evidence(db_session(), request_id, application_ref=form_text("application_ref") or None,
                             application_scan=_upload("application_scan"), consent_by=consent_by,
                             consent_ref=form_text("consent_ref") if consent_by else None,
                             consent_signer=form_text("consent_signer"), consent_scan=_upload("consent_scan"),
                             actor=current_actor(), now=utcnow())
        return _("材料已登记（申请 #%(id)s）", id=request_id)
    return change(make, url_for("lending.queue"))


@bp.post("/requests/<int:request_id>/approve")
@requires("approve_loans")
def approve(request_id: int) -> ResponseReturnValue:
    account, rules = current_account(), lending_rules()

    def make() -> str:
        reqs.approve_request(db_session(), request_id, approver=account.user, opinion=form_text("opinion"),
                             rules=rules, actor=account.username, now=utcnow())
        return _("已批准（申请 #%(id)s）", id=request_id)
    return change(make, url_for("lending.queue"))


@bp.post("/requests/<int:request_id>/refuse")
@requires("approve_loans")
def refuse(request_id: int) -> ResponseReturnValue:
    account, rules = current_account(), lending_rules()

    def make() -> str:
        reqs.refuse_request(db_session(), request_id, approver=account.user, reason=form_text("reason"), rules=rules,
                            actor=account.username, now=utcnow())
        return _("未批准（申请 #%(id)s）", id=request_id)
    return change(make, url_for("lending.queue"))


@bp.post("/requests/<int:request_id>/cancel")
@requires("lend")
def cancel(request_id: int) -> ResponseReturnValue:
    def make() -> str:
        reqs.cancel_request(db_session(), request_id, reason=form_text("reason"), actor=current_actor(), now=utcnow())
        return _("已撤销（申请 #%(id)s）", id=request_id)
    return change(make, url_for("lending.queue"))


# --- borrowers --------------------------------------------------------------------------------------------------

@bp.get("/borrowers")
@requires("lend")
def borrowers() -> ResponseReturnValue:
    return render_template("web/lending/borrowers.html", borrowers=list_borrowers(db_session(), include_inactive=True),
                           kinds=BORROWER_KIND_LABELS)


@bp.post("/borrowers")
@requires("lend")
def add_borrower() -> ResponseReturnValue:
    villages = [v for v in form_text("villages").replace("，", ",").replace("、", ",").split(",") if v.strip()]

    def make() -> str:
        made = register_borrower(db_session(), form_text("key", 64), kind=form_text("kind", 16),
                                 name=form_text("name", 64), username=form_text("username", 64) or None,
                                 unit=form_text("unit", 128), contact_person=form_text("contact_person", 64),
                                 phone=form_text("phone", 32), letter_ref=form_text("letter_ref", 100),
                                 villages=village_refs(db_session(), villages), actor=current_actor(), now=utcnow())
        return _("已登记借阅人 %(key)s %(name)s", key=made.key, name=made.display)
    return change(make, url_for("lending.borrowers"))
