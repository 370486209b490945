"""The scan station's JSON API (/api/v1): same sign-in and CSRF as the pages, JSON answers and errors only."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from archiveprint.accounts.services import audit
from archiveprint.db import utcnow
from archiveprint.errors import ArchiveprintError, InvalidValue
from archiveprint.inspections.queries import find_folder as find_inspection_folder
from archiveprint.inspections.queries import find_inspection, list_open_inspections
from archiveprint.lending.journal import ScanInput, ScanOutcome, submit_scan
from archiveprint.lending.queries import (
    count_dashboard,
    folder_display,
    list_borrowers,
    list_loans,
    list_queue,
    list_register,
    state_condition,
    status_provider,
)
from archiveprint.lending.services import home_address, resolve
from archiveprint.locations import inventory as inv
from archiveprint.locations.models import InventoryScan
from archiveprint.locations.queries import locate as locate_folders
from archiveprint.web.auth import NotPermitted, current_account, current_actor, requires
from archiveprint.web.i18n import BORROWER_KIND_LABELS, message_of
from archiveprint.web.lending import expire_stale
from archiveprint.web.responses import audit_shown
from archiveprint.web.session import db_session, lending_rules, rollback, today

bp = Blueprint("api", __name__, url_prefix="/api/v1")
BATCH_MAX = 500  # scans in one journal flush; a station offline for a whole day holds a few hundred
QUERY_MAX = 100
# How the station colours an outcome: green, amber (nothing changed, or a folder that is not where it should be), red.
LEVELS = {"applied": "ok", "unchanged": "warn", "conflict": "error", "rejected": "error"}
MODES = {"out": "out", "checkout": "out", "check_out": "out", "return": "return", "renew": "renew"}
HTTP_TEXT = {400: _l("请求有误"), 401: _l("请先登录"), 403: _l("没有权限使用此功能"), 404: _l("没有这个接口或对象"),
             405: _l("请求方法不对"), 413: _l("请求内容太大")}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    # Flask-Login answers 401 (no redirect to the sign-in page) for this blueprint; the handler below makes it JSON.
    app.login_manager.blueprint_login_views["api"] = None  # type: ignore[attr-defined]


# --- errors: always JSON ------------------------------------------------------------------------------------------

def _error(status: int, message: object, *, field: str | None = None, value: object = None) -> Response:
    """An error answer; `message` in the request's language (the station shows it as it is)."""
    response = jsonify(ok=False, error=str(message), field=field, value=None if value is None else str(value))
    response.status_code = status
    return response


@bp.errorhandler(ArchiveprintError)
def _domain_error(error: ArchiveprintError) -> ResponseReturnValue:
    rollback()
    return _error(error.status, message_of(error), field=error.field, value=error.value)


@bp.errorhandler(CSRFError)
def _csrf_error(_exc: CSRFError) -> ResponseReturnValue:
    rollback()
    return _error(400, _("缺少或已过期的安全令牌（X-CSRFToken），请刷新页面"), field="X-CSRFToken")


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> ResponseReturnValue:
    rollback()
    code = error.code or 500
    if isinstance(error, NotPermitted):
        return _error(403, _("没有权限（需要 %(permission)s）", permission=error.permission), field="权限",
                      value=error.permission)
    return _error(code, HTTP_TEXT.get(code, _("请求有误") if code < 500 else _("系统出错")))


@bp.errorhandler(Exception)
def _unexpected(error: Exception) -> ResponseReturnValue:
    if isinstance(error, HTTPException):
        return _http_error(error)
    current_app.logger.exception("API error")
    rollback()
    return _error(500, _("系统出错，已记录；扫描已保留在本机，稍后会重新提交"))


@bp.route("/<path:_rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@requires("view_person")
def not_found(_rest: str) -> ResponseReturnValue:
    """Unknown paths under /api/v1 answer JSON too (the app's own 404 page is HTML)."""
    return _error(404, HTTP_TEXT[404], field="路径", value=request.path)


# --- scans ------------------------------------------------------------------------------------------------------

def _body() -> Any:
    data = request.get_json(silent=True)
    if data is None:
        raise InvalidValue("请求内容应为 JSON（Content-Type: application/json）", field="请求内容")
    return data


def scan_input(data: Any, *, now: datetime, station: str = "") -> ScanInput:
    """A scan as the station sends it ({client_id, mode, code, borrower, purpose, condition, note, scanned_at})
    as the journal's ScanInput."""
    if not isinstance(data, Mapping):
        raise InvalidValue("每条扫描记录应为 JSON 对象", field="扫描记录")
    mode = str(data.get("mode") or data.get("action") or "")
    if mode not in MODES:
        raise InvalidValue("mode 应为 out（借出）、return（归还）或 renew（续借）", field="mode", value=mode[:20])
    at = data.get("scanned_at") or data.get("client_at") or now.isoformat() + "Z"
    return ScanInput.from_json({**data, "action": MODES[mode], "client_at": at,
                                "station": data.get("station") or station})


def _scan_json(outcome: ScanOutcome) -> dict[str, object]:
    return {**outcome.as_json(), "level": LEVELS.get(outcome.outcome, "error")}


def _with_folder(session: Session, outcome: ScanOutcome) -> dict[str, object]:
    """Add the folder, its household head and where it belongs (what the clerk needs to shelve it); audited. The
    folder the scan was applied to is not read again."""
    result = _scan_json(outcome)
    household = outcome.household
    if household is None:
        try:
            household = resolve(session, outcome.code, loan_numbers=True).household
        except ArchiveprintError:
            return result
    audit(session, current_account().user, "view", "household", household.id, detail="scan station")
    home = outcome.home if outcome.home is not None else home_address(session, household)
    return {**result, "folder_display": folder_display(household), "head_name": household.head_name,
            "home": home or None}


@bp.post("/scans")
@requires("lend")
def post_scan() -> ResponseReturnValue:
    """One scan, applied once: sending the same client_id again returns the first answer."""
    now = utcnow()
    scan = scan_input(_body(), now=now)
    session = db_session()
    outcome = submit_scan(session, scan, rules=lending_rules(), actor=current_actor(), now=now)
    result = _with_folder(session, outcome)
    session.commit()
    return jsonify(result)


@bp.post("/scans/batch")
@requires("lend")
def post_batch() -> ResponseReturnValue:
    """The station's offline journal, in the order scanned; every scan gets its own answer (a malformed one is
    `rejected` and does not hold up the rest)."""
    data = _body()
    items = data.get("scans") if isinstance(data, Mapping) else data
    if not isinstance(items, list):
        raise InvalidValue("应为扫描记录列表，或含 scans 列表的对象", field="scans")
    if len(items) > BATCH_MAX:
        raise InvalidValue("一次最多提交 {batch_max} 条",
                           params={"batch_max": BATCH_MAX}, field="scans", value=len(items))
    station = str(data.get("station") or "") if isinstance(data, Mapping) else ""
    now = utcnow()
    session = db_session()
    results: list[dict[str, object]] = []
    for index, item in enumerate(items, start=1):
        raw = item if isinstance(item, Mapping) else {}
        try:
            scan = scan_input(item, now=now, station=station)
        except ArchiveprintError as error:
            results.append({"client_id": str(raw.get("client_id") or ""), "action": str(raw.get("mode") or ""),
                            "code": str(raw.get("code") or "")[:40], "outcome": "rejected", "ok": False,
                            "message": _("第%(n)s条：%(message)s", n=index, message=message_of(error)), "loan": None,
                            "replayed": False, "level": "error"})
            continue
        outcome = submit_scan(session, scan, rules=lending_rules(), actor=current_actor(), now=now)
        results.append(_with_folder(session, outcome))
    session.commit()
    return jsonify(ok=all(r["ok"] for r in results), count=len(results),
                   applied=sum(1 for r in results if r["outcome"] == "applied"),
                   conflicts=sum(1 for r in results if r["outcome"] == "conflict"), results=results)


# --- inspection mode (抽查) ------------------------------------------------------------------------------------

@bp.get("/inspections")
@requires("inspect")
def inspections() -> ResponseReturnValue:
    """The open inspections, for the station's selector (no households named)."""
    rows = [{"id": i.id, "number": i.number, "inspector": i.inspector, "inspected_on": i.inspected_on.isoformat(),
             "size": i.size} for i in list_open_inspections(db_session())]
    return jsonify(inspections=rows)


@bp.get("/inspections/<int:inspection_id>/folder")
@requires("inspect")
def inspection_folder(inspection_id: int) -> ResponseReturnValue:
    """A code scanned in inspection mode: the folder it names in that inspection and the address of its checklist
    (a folder not drawn is refused); audited as a view."""
    code = request.args.get("code", "").strip()
    if not code or len(code) > QUERY_MAX:
        raise InvalidValue("请扫描或输入档案袋编号（最多{query_max}个字）", params={"query_max": QUERY_MAX},
                           field="code", value=code[:QUERY_MAX] or None)
    session = db_session()
    found = find_inspection(session, inspection_id)
    folder = find_inspection_folder(session, found, code)
    audit_shown("view", [folder.household_id], f"抽查 {found.number} scan station")
    return jsonify(ok=True, inspection=found.number, folder=folder.folder, seq=folder.seq,
                   village=folder.village_name, head_name=folder.head_name,
                   url=url_for("inspections.folder", inspection_id=found.id, folder_id=folder.id))


# --- reading ----------------------------------------------------------------------------------------------------

@bp.get("/locate")
@requires("view_person")
def locate() -> ResponseReturnValue:
    """Where a folder is, and whether it is there: code, name, pinyin initials, ID number or phone."""
    query = request.args.get("q", "").strip()
    if not query or len(query) > QUERY_MAX:
        raise InvalidValue("请输入要查找的编号或姓名（最多{query_max}个字）",
                           params={"query_max": QUERY_MAX}, field="q", value=query[:QUERY_MAX])
    found = locate_folders(db_session(), query, providers=[status_provider(lending_rules())])
    results = []
    for location in found:
        code = location.place.status.code
        level = "ok" if code in ("on_shelf", "closed") else "warn"
        results.append({**location.as_json(), "level": level})
    audit_shown("search", [f.household_id for f in found], "api locate")
    return jsonify(query=query, count=len(results), results=results,
                   level="error" if not results else results[0]["level"],
                   message="没有找到" if not results else "")


@bp.get("/borrowers")
@requires("lend")
def borrowers() -> ResponseReturnValue:
    """Active borrowers for the station's type-ahead (staff and units, no residents' data)."""
    query = request.args.get("q", "").strip().lower()[:QUERY_MAX]
    rows = []
    for borrower in list_borrowers(db_session()):
        text = f"{borrower.key} {borrower.name} {borrower.unit}".lower()
        if query and query not in text:
            continue
        rows.append({"key": borrower.key, "name": borrower.name, "display": borrower.display,
                     "kind": borrower.kind, "kind_text": str(BORROWER_KIND_LABELS[borrower.kind]),
                     "unit": borrower.unit,
                     "villages": [v.code for v in borrower.villages]})
    return jsonify(count=len(rows), borrowers=rows)


@bp.get("/loans")
@requires("lend")
def loans() -> ResponseReturnValue:
    """Loans made in a month (?month=YYYY-MM, default this month), those of them in one ?state= (open, overdue,
    out, lost, returned, written_off), or, with ?state= and no month, every loan in that state whenever it was
    made (?open=1: every open loan)."""
    rules = lending_rules()
    state = (request.args.get("state") or "").strip()
    if request.args.get("open") in ("1", "true", "yes"):
        state = "open"
    if state and not request.args.get("month"):
        month = None
        views = list_loans(db_session(), state, rules=rules, today=today())
    else:
        month = request.args.get("month") or f"{today():%Y-%m}"
        if state:
            state_condition(state)  # refuses an unknown state
        views = [v for v in list_register(db_session(), month, rules=rules) if v.in_state(state, today())]
    audit_shown("view", [v.household_id for v in views], "api loans")
    return jsonify(month=month, state=state or None, count=len(views), loans=[v.as_json() for v in views])


@bp.get("/queue")
@requires("lend")
def queue() -> ResponseReturnValue:
    """Open requests in walking order, with what each still lacks; requests that waited too long are closed as
    expired first (as the queue page does) and listed under `expired`."""
    expired = expire_stale()
    found = list_queue(db_session(), rules=lending_rules())
    audit_shown("view", [row.household_id for row in found.rows], "api queue")
    return jsonify({**found.as_json(), "expired": [item.as_json() for item in expired]})


@bp.get("/dashboard")
@requires("view_person")
def dashboard() -> ResponseReturnValue:
    """Counts only: lent, overdue, due within seven days, requests waiting — in total and by village."""
    return jsonify(count_dashboard(db_session(), today=today()).as_json())


# --- inventory (盘点) at the station ------------------------------------------------------------------------------

# How the station colours an inventory answer: green where it belongs, amber when it is not, red when unknown.
INVENTORY_LEVELS = {"found": "ok", "recovered": "ok", "misplaced": "warn", "out_of_range": "warn", "closed": "warn",
                    "lent": "warn", "twice": "warn", "unknown": "error"}
CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")


@bp.get("/inventories")
@requires("manage_locations")
def inventories() -> ResponseReturnValue:
    """Counts (?open=1: the open ones) for the station's selector; open ones carry their shelves, so the station
    knows a shelf label of the range at once, even offline. No residents' data."""
    session = db_session()
    wanted = "open" if request.args.get("open") in ("1", "true", "yes") else None
    rows: list[dict[str, object]] = []
    for summary in inv.list_inventories(session, state=wanted):
        item = summary.as_json()
        if summary.state == "open":
            found = inv.find_inventory(session, summary.id)
            item["shelves"] = [{"code": s.shelf.code, "address": s.shelf.address} for s in found.shelves]
        rows.append(item)
    return jsonify(count=len(rows), inventories=rows)


def _scan_time(raw: object, now: datetime) -> datetime:
    """When the code was read at the station (ISO 8601, UTC if it says so), or now."""
    if not raw:
        return now
    try:
        at = datetime.fromisoformat(str(raw))
    except ValueError:
        raise InvalidValue("scanned_at 应为 ISO 8601 时间，如 2026-11-25T08:30:00Z", field="scanned_at",
                           value=str(raw)[:40]) from None
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo is not None else at


@bp.post("/inventories/<int:inventory_id>/scans")
@requires("manage_locations")
def post_inventory_scan(inventory_id: int) -> ResponseReturnValue:
    """One code read in inventory mode, recorded once per client_id: a shelf label selects the shelf, a folder is
    sorted at once (found, misplaced with its home address, unknown …)."""
    data = _body()
    if not isinstance(data, Mapping):
        raise InvalidValue("扫描记录应为 JSON 对象", field="扫描记录")
    client_id = str(data.get("client_id") or "").strip()
    if client_id and not CLIENT_ID.fullmatch(client_id):
        raise InvalidValue("client_id 应为 8–64 个字母、数字或 ._:-", field="client_id", value=client_id[:64])
    code = str(data.get("code") or "").strip()
    if not code or len(code) > 64:
        raise InvalidValue("扫描内容为空或过长", field="code", value=code[:64])
    now = utcnow()
    session = db_session()
    found = inv.find_inventory(session, inventory_id)
    outcome = inv.record_scan(session, found, code, shelf=str(data.get("shelf") or "") or None,
                              client_id=client_id or None, at=_scan_time(data.get("scanned_at"), now),
                              providers=[status_provider(lending_rules())], actor=current_actor(), now=now)
    level = "ok" if outcome.kind == "shelf" else INVENTORY_LEVELS.get(outcome.category or "unknown", "error")
    if outcome.kind == "shelf" and "不在本次盘点范围" in outcome.message:
        level = "warn"
    scan = session.get(InventoryScan, outcome.scan_id) if outcome.scan_id is not None else None
    if scan is not None and scan.household_id is not None:
        audit(session, current_account().user, "view", "household", scan.household_id,
              detail=f"盘点 {found.number} 扫码台")
    session.commit()
    return jsonify({**outcome.as_json(), "client_id": client_id, "ok": True, "level": level,
                    "inventory": found.number})
