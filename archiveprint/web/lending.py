"""Lending pages: the scan station, register, request queue and requests, overdue, loans, check-out, borrowers and
the dashboard (the scan station itself talks to web/api.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from archiveprint.accounts.services import audit
from archiveprint.db import utcnow
from archiveprint.errors import ArchiveprintError, InvalidValue
from archiveprint.lending.models import Loan
from archiveprint.lending.rules import LendingRules, site_rules
from archiveprint.web.auth import current_account, requires
from archiveprint.web.i18n import label
from archiveprint.web.responses import flash_refusal, pdf_response, refused
from archiveprint.web.session import db_session, state, today

if TYPE_CHECKING:
    from archiveprint.lending.requests import ExpiredRequest

bp = Blueprint("lending", __name__, url_prefix="/lending")
CODES_MAX = 200  # folders in one request (a day's clinic list)
MY_REQUESTS = 30  # the requester's latest requests shown under the request form
REQUEST_STATE_LABELS = {"open": _l("待放行"), "released": _l("已放行"), "cancelled": _l("已取消"),
                        "refused": _l("未获批准"), "expired": _l("已过期")}
BORROWER_KIND_LABELS = {"staff": _l("本院职工"), "village_doctor": _l("村医"), "external": _l("外单位")}
# The lending words we ship (templates/lending/rules.yaml purposes and conditions, and what a request still lacks),
# by their Chinese text: a site that renamed one in its own rules file sees its own word, as written.
LENDING_WORDS = {
    "复诊": _l("复诊"), "随访": _l("随访"), "入户服务": _l("入户服务"), "转诊/会诊": _l("转诊/会诊"),
    "督导检查": _l("督导检查"), "其他": _l("其他"), "完好": _l("完好"), "缺页": _l("缺页"), "破损": _l("破损"),
    "书面申请（申请编号）": _l("书面申请（申请编号）"), "书面申请扫描件": _l("书面申请扫描件"),
    "居民或监护人同意的证明": _l("居民或监护人同意的证明"), "同意书扫描件": _l("同意书扫描件"), "审批": _l("审批"),
}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


def _rules() -> LendingRules:
    return site_rules(state().settings.instance_dir)


def _actor() -> str:
    return current_account().username


def _audit_households(ids: Iterable[int], action: str, detail: str) -> None:
    """One audit row per household shown or printed, committed before the page or PDF leaves."""
    session = db_session()
    if request.method == "GET":
        session.commit()  # end the read snapshot first (see session.commit_audit)
    for household_id in dict.fromkeys(ids):
        audit(session, current_account().user, action, "household", household_id, detail=detail)
    session.commit()


def _done(message: str, target: str) -> ResponseReturnValue:
    db_session().commit()
    flash(message, "success")
    return redirect(target, code=303)


def _form(name: str, limit: int = 200) -> str:
    return (request.form.get(name) or "").strip()[:limit]


# --- the scan station ----------------------------------------------------------------------------------------

@bp.get("/scan")
@requires("lend")
def scan() -> ResponseReturnValue:
    """One input a keyboard-wedge scanner types into; modes, feedback and the offline journal live in scan.js."""
    rules = _rules()
    return render_template("web/lending/scan.html", purposes=rules.purposes, conditions=rules.conditions)


# --- dashboard --------------------------------------------------------------------------------------------------

@bp.get("/dashboard")
@requires("view_person")
def dashboard() -> ResponseReturnValue:
    from archiveprint.lending.queries import count_dashboard

    return render_template("web/lending/dashboard.html", board=count_dashboard(db_session(), today=today()))


# --- the register (借阅登记) ---------------------------------------------------------------------------------------

@bp.get("/")
@requires("lend")
def register() -> ResponseReturnValue:
    """Loans made in a month, filtered by village, borrower and open; the printable monthly register."""
    from archiveprint.lending.queries import list_register
    from archiveprint.register.queries import list_villages

    rules = _rules()
    month = (request.args.get("month") or f"{today():%Y-%m}").strip()[:7]
    village = request.args.get("village", "").strip()
    borrower = request.args.get("borrower", "").strip()
    only_open = request.args.get("open") == "1"
    try:
        views = list_register(db_session(), month, rules=rules)
    except InvalidValue as error:
        flash_refusal(error)
        month, views = f"{today():%Y-%m}", list_register(db_session(), f"{today():%Y-%m}", rules=rules)
    rows = [v for v in views if (not village or v.village == village) and (not borrower or v.borrower_key == borrower)
            and (not only_open or v.returned_at is None)]
    villages = [v for v, _h, _r in list_villages(db_session())]
    _audit_households([v.household_id for v in rows], "view", f"lending register {month}")
    return render_template("web/lending/register.html", rows=rows, month=month, village=village, borrower=borrower,
                           only_open=only_open, villages=villages, borrowers=_borrower_choices())


@bp.get("/register.pdf")
@requires("lend")
def register_pdf() -> ResponseReturnValue:
    from archiveprint.lending.documents import print_register

    month = (request.args.get("month") or f"{today():%Y-%m}").strip()[:7]
    session = db_session()
    session.commit()
    pdf, _count = print_register(session, month, user=current_account().user, rules=_rules(), now=utcnow())
    session.commit()  # the audit rows of every household on it
    return pdf_response(pdf, f"借阅登记表-{month}.pdf")


def _borrower_choices() -> list[tuple[str, str]]:
    from archiveprint.lending.queries import list_borrowers

    return [(b.key, b.display) for b in list_borrowers(db_session())]


# --- overdue ------------------------------------------------------------------------------------------------------

@bp.get("/overdue")
@requires("lend")
def overdue() -> ResponseReturnValue:
    from archiveprint.lending.queries import list_overdue

    village = request.args.get("village", "").strip() or None
    items = list_overdue(db_session(), today=today(), rules=_rules(), village=village)
    groups: dict[str, list[object]] = {}
    names: dict[str, str] = {}
    for item in items:
        groups.setdefault(item.loan.village, []).append(item)
        names[item.loan.village] = item.loan.village_name
    _audit_households([i.loan.household_id for i in items], "view", "lending overdue")
    return render_template("web/lending/overdue.html", groups=groups, names=names, village=village or "",
                           count=len(items), day=today())


@bp.get("/overdue.pdf")
@requires("lend")
def overdue_pdf() -> ResponseReturnValue:
    from archiveprint.lending.documents import print_overdue_slips

    village = request.args.get("village", "").strip() or None
    session = db_session()
    session.commit()
    pdf, _items = print_overdue_slips(session, today=today(), village=village, user=current_account().user,
                                      rules=_rules(), now=utcnow())
    session.commit()
    return pdf_response(pdf, f"逾期通知单-{today():%Y-%m-%d}.pdf")


# --- one loan -----------------------------------------------------------------------------------------------------

def _loan(loan_id: int) -> Loan:
    loan = db_session().get(Loan, loan_id)
    if loan is None:
        abort(404)
    return loan


@bp.get("/loans/<int:loan_id>")
@requires("lend")
def loan(loan_id: int) -> ResponseReturnValue:
    from archiveprint.lending.queries import loan_view
    from archiveprint.lending.services import home_address

    found = _loan(loan_id)
    view = loan_view(db_session(), found, _rules())
    home = home_address(db_session(), found.household)
    _audit_households([view.household_id], "view", f"loan {view.code}")
    return render_template("web/lending/loan.html", loan=view, home=home, conditions=_rules().conditions)


@bp.get("/loans/<int:loan_id>/receipt.pdf")
@requires("lend")
def receipt(loan_id: int) -> ResponseReturnValue:
    from archiveprint.lending.documents import print_receipt
    from archiveprint.lending.queries import loan_code

    session = db_session()
    session.commit()
    pdf = print_receipt(session, _loan(loan_id).id, user=current_account().user, rules=_rules(), now=utcnow())
    session.commit()
    return pdf_response(pdf, f"借阅凭条-{loan_code(loan_id)}.pdf")


def _loan_action(loan_id: int, action: str) -> ResponseReturnValue:
    from archiveprint.lending import services
    from archiveprint.lending.queries import loan_code

    target = url_for("lending.loan", loan_id=loan_id)
    code = loan_code(_loan(loan_id).id)
    rules, now = _rules(), utcnow()
    try:
        if action == "renew":
            renewed = services.renew(db_session(), code, rules=rules, actor=_actor(), now=now)
            message = _("已续借，应还 %(day)s", day=f"{renewed.due_on:%Y-%m-%d}")
        elif action == "return":
            message = services.return_folder(db_session(), code, condition=_form("condition") or None,
                                              note=_form("note"), rules=rules, actor=_actor(), now=now).message
        elif action == "lost":
            message = services.declare_lost(db_session(), code, note=_form("note"), rules=rules, actor=_actor(),
                                            now=now).message
        else:
            message = services.declare_found(db_session(), code, condition=_form("condition") or None,
                                             note=_form("note"), rules=rules, actor=_actor(), now=now).message
    except ArchiveprintError as error:
        return refused(error, target)
    return _done(message, target)


@bp.post("/loans/<int:loan_id>/renew")
@requires("lend")
def renew(loan_id: int) -> ResponseReturnValue:
    return _loan_action(loan_id, "renew")


@bp.post("/loans/<int:loan_id>/return")
@requires("lend")
def give_back(loan_id: int) -> ResponseReturnValue:
    return _loan_action(loan_id, "return")


@bp.post("/loans/<int:loan_id>/lost")
@requires("lend")
def lost(loan_id: int) -> ResponseReturnValue:
    return _loan_action(loan_id, "lost")


@bp.post("/loans/<int:loan_id>/found")
@requires("lend")
def found(loan_id: int) -> ResponseReturnValue:
    return _loan_action(loan_id, "found")


# --- check-out at the desk (without a scanner) --------------------------------------------------------------------

@bp.get("/checkout")
@requires("lend")
def checkout_form() -> ResponseReturnValue:
    return render_template("web/lending/checkout.html", purposes=_rules().purposes, borrowers=_borrower_choices(),
                           code=request.args.get("code", "")[:40])


@bp.post("/checkout")
@requires("lend")
def checkout() -> ResponseReturnValue:
    from archiveprint.lending.queries import find_borrower
    from archiveprint.lending.services import check_out

    session = db_session()
    try:
        code = _form("code", 40)
        if not code:
            raise InvalidValue("请输入或扫描档案袋编号", field="档案袋")
        key = _form("borrower", 64)
        borrower = find_borrower(session, key) if key else None
        made = check_out(session, code, borrower=borrower, purpose=_form("purpose") or None,
                         purpose_note=_form("note"), on_site=request.form.get("on_site") == "1", rules=_rules(),
                         actor=_actor(), now=utcnow())
    except ArchiveprintError as error:
        return refused(error, url_for("lending.checkout_form", code=_form("code", 40)))
    return _done(_("已借出给 %(who)s，应还 %(day)s", who=made.borrower.display, day=f"{made.due_on:%Y-%m-%d}"),
                 url_for("lending.loan", loan_id=made.id))


# --- requests (调阅申请) and the queue ------------------------------------------------------------------------------

@bp.get("/request")
@requires("request_loans")
def request_form() -> ResponseReturnValue:
    """The request form, and under it the requester's own latest requests with their state (已过期 and why)."""
    from sqlalchemy import select

    from archiveprint.lending.models import Borrower
    from archiveprint.lending.queries import list_requests

    account = current_account()
    borrowers = _borrower_choices() if account.can("lend") else []
    rules = _rules()
    mine = []
    own = db_session().scalar(select(Borrower.id).where(Borrower.user_id == account.user.id))
    if own is not None:
        expire_stale(borrower_id=own)
        mine = list_requests(db_session(), rules=rules, borrower_id=own, limit=MY_REQUESTS)
        _audit_households([view.household_id for view in mine], "view", "my loan requests")
    codes = "\n".join(request.args.getlist("codes"))[:CODES_MAX * 42]  # from a resident or household page
    return render_template("web/lending/request.html", purposes=rules.purposes, borrowers=borrowers, mine=mine,
                           expiry_days=rules.request_expiry_days, codes=codes)


def expire_stale(*, borrower_id: int | None = None) -> list[ExpiredRequest]:
    """Close the requests that waited too long before a list of requests is shown. A read that finds none writes
    nothing; otherwise the read snapshot is ended first, so the UPDATE waits its turn for SQLite's write lock
    (as session.commit_audit does)."""
    from archiveprint.lending.requests import expire_requests

    session, rules = db_session(), _rules()

    def run(dry_run: bool) -> list[ExpiredRequest]:
        return expire_requests(session, rules=rules, actor=_actor(), now=utcnow(), today=today(),
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
    from archiveprint.lending.borrowers import borrower_for_user
    from archiveprint.lending.queries import find_borrower
    from archiveprint.lending.requests import request_folders as ask

    session = db_session()
    account = current_account()
    target = url_for("lending.request_form")
    codes = [c for c in (_form("codes", CODES_MAX * 42).replace(",", "\n").replace("，", "\n").split()) if c]
    try:
        if not codes:
            raise InvalidValue("请至少写一个档案袋或居民档案编号", field="编号")
        if len(codes) > CODES_MAX:
            raise InvalidValue(f"一次最多申请 {CODES_MAX} 份", field="编号", value=len(codes))
        needed = _form("needed_on", 10)
        try:
            needed_on = date.fromisoformat(needed) if needed else None
        except ValueError:
            raise InvalidValue("日期应写成 YYYY-MM-DD", field="用档日期", value=needed) from None
        key = _form("borrower", 64)
        if key and account.can("lend"):
            borrower = find_borrower(session, key)
        else:
            borrower = borrower_for_user(session, account.user, actor=account.username, now=utcnow())
        batch = ask(session, codes, borrower=borrower, purpose=_form("purpose"), purpose_note=_form("note"),
                    needed_on=needed_on, rules=_rules(), actor=account.username, now=utcnow())
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
    from archiveprint.lending.queries import list_queue

    expired = expire_stale()
    found = list_queue(db_session(), rules=_rules())
    _audit_households([row.household_id for row in found.rows], "view", "lending queue")
    return render_template("web/lending/queue.html", queue=found, expired=expired,
                           expiry_days=_rules().request_expiry_days,
                           can_approve=current_account().can("approve_loans"))


def _request_action(request_id: int, action: str) -> ResponseReturnValue:
    from archiveprint.lending import requests as reqs

    session = db_session()
    account = current_account()
    rules, now = _rules(), utcnow()
    try:
        if action == "evidence":
            application_file, consent_file = _file("application_scan"), _file("consent_scan")
            application = reqs.Upload(*application_file) if application_file else None
            consent = reqs.Upload(*consent_file) if consent_file else None
            consent_by = _form("consent_by") or None
            reqs.record_evidence(session, request_id, application_ref=_form("application_ref") or None,
                                 application_scan=application, consent_by=consent_by,
                                 consent_ref=_form("consent_ref") if consent_by else None,
                                 consent_signer=_form("consent_signer"), consent_scan=consent,
                                 actor=account.username, now=now)
            message = _("材料已登记（申请 #%(id)s）", id=request_id)
        elif action == "approve":
            reqs.approve_request(session, request_id, approver=account.user, opinion=_form("opinion"), rules=rules,
                                 actor=account.username, now=now)
            message = _("已批准（申请 #%(id)s）", id=request_id)
        elif action == "refuse":
            reqs.refuse_request(session, request_id, approver=account.user, reason=_form("reason"), rules=rules,
                                actor=account.username, now=now)
            message = _("未批准（申请 #%(id)s）", id=request_id)
        else:
            reqs.cancel_request(session, request_id, reason=_form("reason"), actor=account.username, now=now)
            message = _("已撤销（申请 #%(id)s）", id=request_id)
    except ArchiveprintError as error:
        return refused(error, url_for("lending.queue"))
    return _done(message, url_for("lending.queue"))


def _file(name: str) -> tuple[str, bytes] | None:
    upload = request.files.get(name)
    if upload is None or not upload.filename:
        return None
    return upload.filename, upload.read()


@bp.post("/requests/<int:request_id>/evidence")
@requires("lend")
def evidence(request_id: int) -> ResponseReturnValue:
    return _request_action(request_id, "evidence")


@bp.post("/requests/<int:request_id>/approve")
@requires("approve_loans")
def approve(request_id: int) -> ResponseReturnValue:
    return _request_action(request_id, "approve")


@bp.post("/requests/<int:request_id>/refuse")
@requires("approve_loans")
def refuse(request_id: int) -> ResponseReturnValue:
    return _request_action(request_id, "refuse")


@bp.post("/requests/<int:request_id>/cancel")
@requires("lend")
def cancel(request_id: int) -> ResponseReturnValue:
    return _request_action(request_id, "cancel")


# --- borrowers --------------------------------------------------------------------------------------------------

@bp.get("/borrowers")
@requires("lend")
def borrowers() -> ResponseReturnValue:
    from archiveprint.lending.queries import list_borrowers

    return render_template("web/lending/borrowers.html", borrowers=list_borrowers(db_session(), include_inactive=True),
                           kinds=BORROWER_KIND_LABELS)


@bp.post("/borrowers")
@requires("lend")
def add_borrower() -> ResponseReturnValue:
    from archiveprint.lending.borrowers import add_borrower as add

    villages = [v for v in _form("villages").replace("，", ",").replace("、", ",").split(",") if v.strip()]
    try:
        made = add(db_session(), _form("key", 64), kind=_form("kind", 16), name=_form("name", 64),
                   username=_form("username", 64) or None, unit=_form("unit", 128),
                   contact_person=_form("contact_person", 64), phone=_form("phone", 32),
                   letter_ref=_form("letter_ref", 100), villages=villages, actor=_actor(), now=utcnow())
    except ArchiveprintError as error:
        return refused(error, url_for("lending.borrowers"))
    return _done(_("已登记借阅人 %(key)s %(name)s", key=made.key, name=made.display), url_for("lending.borrowers"))


def moment(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else "—"


@bp.app_template_filter("request_state")
def _request_state(code: str) -> str:
    return str(REQUEST_STATE_LABELS.get(code, code))


@bp.app_template_filter("borrower_kind")
def _borrower_kind(code: str) -> str:
    return label(BORROWER_KIND_LABELS, code)  # type: ignore[arg-type]


@bp.app_template_filter("lending_word")
def lending_word(text: str) -> str:
    """A purpose, return condition or missing step in the current language (a site's own word stays as written)."""
    return label(LENDING_WORDS, text)  # type: ignore[arg-type]


@bp.app_template_filter("local_moment")
def _local_moment(value: datetime | None) -> str:
    """Loan views carry local wall-clock times already."""
    return moment(value)
