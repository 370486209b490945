"""Inventory (盘点) and handover (移交) pages: start, report (kept live by inventory.js while clerks scan), scanner-file
upload, close and the signed record; the handover form, its dry-run preview, confirmation and the three-copy list
(every page naming people is audited)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, abort, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from archiveprint.db import utcnow
from archiveprint.errors import N_, ArchiveprintError, InvalidValue
from archiveprint.locations import documents
from archiveprint.locations import handover as ho
from archiveprint.locations import inventory as inv
from archiveprint.locations.models import Inventory
from archiveprint.locations.queries import list_shelves
from archiveprint.register.queries import list_villages
from archiveprint.web.auth import current_account, current_actor, requires
from archiveprint.web.locations import status_providers
from archiveprint.web.responses import audit_shown, form_text, note_refusal, printed_pdf, refused
from archiveprint.web.session import db_session, lending_rules

bp = Blueprint("inventory", __name__, url_prefix="/inventory")
handover_bp = Blueprint("handover", __name__, url_prefix="/handover")
UPLOAD_MAX = 4 * 1024 * 1024  # a scanner's stored codes: a few hundred KB for a whole room
CODES_MAX = 2000  # pasted folder codes in one handover
NAMES = re.compile(r"[、,，;；\s]+")
# How the page colours a category: green, amber (not where it should be), red (missing, unknown).
LEVELS = {"found": "ok", "recovered": "ok", "misplaced": "warn", "out_of_range": "warn", "closed": "warn",
          "lent": "warn", "twice": "warn", "missing": "error", "unknown": "error"}

# The category headings as locations/inventory.py prints them, in the interface language.
CATEGORY_LABELS = {"found": _l("在架（位置正确）"), "recovered": _l("找回（此前已登记下落不明）"),
                   "misplaced": _l("错架（放错位置）"), "out_of_range": _l("不属本次盘点范围"),
                   "closed": _l("结案档案（应在结案区）"), "lent": _l("借出或取出（不算缺失）"),
                   "missing": _l("缺失（未扫到）"), "unknown": _l("无法识别或无此档案"), "twice": _l("重复扫描")}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(handover_bp)


def _timezone() -> str:
    """The site's time zone (the lending rules' `timezone`): scanner files carry wall-clock times in it."""
    return lending_rules().timezone


# --- inventory ----------------------------------------------------------------------------------------------------

def _inventory(inventory_id: int) -> Inventory:
    try:
        return inv.find_inventory(db_session(), inventory_id)
    except ArchiveprintError:
        abort(404)


@bp.get("/")
@requires("view_reports")
def index() -> ResponseReturnValue:
    return render_template("web/inventory/list.html", inventories=inv.list_inventories(db_session()))


def _start_choices() -> dict[str, object]:
    session = db_session()
    return {"shelves": list_shelves(session, None), "villages": [v for v, _h, _r in list_villages(session)]}


@bp.get("/new")
@requires("manage_locations")
def new() -> ResponseReturnValue:
    return render_template("web/inventory/new.html", values={"scope": "range"}, **_start_choices())


@bp.post("/new")
@requires("manage_locations")
def start() -> ResponseReturnValue:
    """Open a count over one scope; the shelves are frozen now, so the rest of the room is never reported."""
    scope = form_text("scope", 10)
    values = {key: form_text(key) for key in ("scope", "first", "last", "village", "counters", "supervisor")}
    try:
        counters = [n for n in NAMES.split(values["counters"]) if n]
        if scope == "village":
            if not values["village"]:
                raise InvalidValue("请选择村(居)委会", field="盘点范围")
            made = inv.start_inventory(db_session(), counters=counters, village=values["village"],
                                       supervisor=values["supervisor"], actor=current_actor(), now=utcnow())
        else:
            if not (values["first"] and values["last"]):
                raise InvalidValue("请给出起始架位和结束架位", field="盘点范围",
                                   value=values["first"] or values["last"] or None)
            made = inv.start_inventory(db_session(), counters=counters, first=values["first"], last=values["last"],
                                       supervisor=values["supervisor"], actor=current_actor(), now=utcnow())
    except ArchiveprintError as error:
        note_refusal(error)
        return render_template("web/inventory/new.html", values=values, **_start_choices()), 400
    db_session().commit()
    flash(_("已开始盘点 %(number)s：%(range)s", number=made.number, range=made.scope_text), "success")
    return redirect(url_for("inventory.show", inventory_id=made.id), code=303)


@bp.get("/<int:inventory_id>")
@requires("view_reports")
def show(inventory_id: int) -> ResponseReturnValue:
    """The live report: counts per category, the latest reads and every table; each household it names gets an
    audit row. While the count is open, inventory.js keeps the counts and the latest reads current (live.json)."""
    session = db_session()
    found = _inventory(inventory_id)
    report, recent = inv.live_report(session, found, providers=status_providers())
    latest = _scans_json(recent)
    session.commit()  # the read snapshot ends before the audit rows are written (see session.commit_audit)
    inv.audit_report(session, report, current_account().user, "view", now=utcnow())
    session.commit()
    return render_template("web/inventory/show.html", inventory=found, report=report, categories=CATEGORY_LABELS,
                           levels=LEVELS, latest=latest, live=_live_texts(report),
                           last_scan=max((line["id"] for line in latest), default=0))


@bp.get("/<int:inventory_id>/live.json")
@requires("view_reports")
def live(inventory_id: int) -> ResponseReturnValue:
    """What the open count's page polls: the counts (numbers only) and the reads after scan id `after` (the newest
    the page shows). It names no more than the page does, and each household a new read names gets its view audit
    row, so polling does not repeat the audit of what the page already showed."""
    found = _inventory(inventory_id)
    after = max(request.args.get("after", default=0, type=int) or 0, 0)
    report, recent = inv.live_report(db_session(), found, after=after, providers=status_providers())
    latest = _scans_json(recent)
    audit_shown("view", [line.household_id for line in recent if line.household_id is not None],
                f"盘点 {report.number}")
    return jsonify(number=report.number, state=report.state, expected=report.expected, scans=report.scans,
                   folders_scanned=report.folders_scanned, counts=report.counts, text=_live_texts(report),
                   latest=latest, last_scan=max([after, *(line["id"] for line in latest)]))


def _scans_json(recent: list[inv.RecentScan]) -> list[dict[str, Any]]:
    """The reads as the page and live.json show them: the time in the site's time zone (scans are stored in UTC),
    the category in words; no household id."""
    zone = _timezone()
    return [{**line.as_json(zone), "label": str(CATEGORY_LABELS.get(line.category, "—")),
             "level": LEVELS.get(line.category, "none")} for line in recent]


def _live_texts(report: inv.InventoryReport) -> dict[str, str]:
    """The sentences with numbers in them, in the interface language, for the page and for live.json."""
    counts = report.counts
    return {"expected": _("%(n)s 袋", n=report.expected),
            "scanned": _("%(scans)s 次，%(folders)s 袋", scans=report.scans, folders=report.folders_scanned),
            "mark_missing": _("将未扫到的 %(n)s 袋登记为下落不明", n=counts["missing"]),
            "mark_found": _("将找回的 %(n)s 袋登记为已归位", n=counts["recovered"])}


@bp.post("/<int:inventory_id>/upload")
@requires("manage_locations")
def upload(inventory_id: int) -> ResponseReturnValue:
    """A scanner's stored codes, all or nothing; the same file again adds nothing."""
    target = url_for("inventory.show", inventory_id=inventory_id)
    found = _inventory(inventory_id)
    file = request.files.get("codes")
    try:
        if file is None or not file.filename:
            raise InvalidValue("请选择扫描枪导出的文件", field="文件")
        data = file.read(UPLOAD_MAX + 1)
        if len(data) > UPLOAD_MAX:
            raise InvalidValue("文件太大（最多 {megabytes} MB）",
                               params={"megabytes": UPLOAD_MAX // 1024 // 1024}, field="文件", value=file.filename)
        result = inv.upload_codes(db_session(), found, data, filename=file.filename, timezone=_timezone(),
                                  actor=current_actor(), now=utcnow())
    except ArchiveprintError as error:
        return refused(error, target)
    db_session().commit()
    if result.already:
        flash(_("文件 %(name)s 已导入过（内容相同），这次没有增加任何扫描", name=result.filename), "warning")
    else:
        flash(_("已导入 %(name)s：%(scans)s 条扫描，%(shelves)s 个架位标签", name=result.filename,
                scans=result.scans, shelves=result.shelves), "success")
    return redirect(target, code=303)


@bp.post("/<int:inventory_id>/close")
@requires("manage_locations")
def close(inventory_id: int) -> ResponseReturnValue:
    target = url_for("inventory.show", inventory_id=inventory_id)
    found = _inventory(inventory_id)
    if request.form.get("confirm") != "1":
        return refused(InvalidValue("请勾选“确认结束盘点”", field="确认"), target)
    try:
        report = inv.close_inventory(db_session(), found, mark_missing=request.form.get("mark_missing") == "1",
                                     mark_found=request.form.get("mark_found") == "1", providers=status_providers(),
                                     actor=current_actor(), now=utcnow())
    except ArchiveprintError as error:
        return refused(error, target)
    db_session().commit()
    flash(_("盘点 %(number)s 已结束：登记下落不明 %(missing)s 袋，找回归位 %(found)s 袋", number=report.number,
            missing=report.marked_missing, found=report.marked_found), "success")
    return redirect(target, code=303)


@bp.get("/<int:inventory_id>/record.pdf")
@requires("view_reports")
def record_pdf(inventory_id: int) -> ResponseReturnValue:
    """The signed 盘点记录; printing it writes an audit row for every household it names."""
    found = _inventory(inventory_id)
    return printed_pdf(lambda: documents.print_inventory(db_session(), found, user=current_account().user,
                                                         providers=status_providers(), now=utcnow(),
                                                         timezone=_timezone()), f"盘点记录-{found.number}.pdf")


# --- handover -----------------------------------------------------------------------------------------------------

HANDOVER_FIELDS = ("scope", "village", "first", "last", "codes", "from_party", "to_party", "supervisor", "reason")


def _handover_values() -> dict[str, str]:
    return {key: form_text(key, CODES_MAX * 24 if key == "codes" else 200) for key in HANDOVER_FIELDS}


def _selection(values: dict[str, str]) -> dict[str, Any]:
    """The scope the form names, as select_folders/hand_over arguments (exactly one of them)."""
    scope = values["scope"]
    if scope == "village":
        if not values["village"]:
            raise InvalidValue("请选择村(居)委会", field="移交范围")
        return {"village": values["village"]}
    if scope == "codes":
        codes = [c for c in NAMES.split(values["codes"]) if c]
        if not codes:
            raise InvalidValue("请至少写一个档案袋编号", field="档案袋编号")
        if len(codes) > CODES_MAX:
            raise InvalidValue("一次最多 {codes_max} 个编号",
                               params={"codes_max": CODES_MAX}, field="档案袋编号", value=len(codes))
        return {"codes": codes}
    if not (values["first"] and values["last"]):
        raise InvalidValue("请给出起始架位和结束架位", field="移交范围",
                           value=values["first"] or values["last"] or None)
    return {"first": values["first"], "last": values["last"]}


def _handover_form(values: dict[str, str], status: int = 200) -> ResponseReturnValue:
    choices = _start_choices()
    return render_template("web/inventory/handover_new.html", values=values, **choices), status


@handover_bp.get("/")
@requires("view_reports")
def handovers() -> ResponseReturnValue:
    rows = [{**row, "handed_at": datetime.fromisoformat(str(row["handed_at"]))}
            for row in ho.list_handovers(db_session())]
    return render_template("web/inventory/handover_list.html", handovers=rows)


@handover_bp.route("/new", methods=["GET", "POST"])
@requires("manage_locations")
def handover_new() -> ResponseReturnValue:
    """The form (a POST comes back from the preview with the values to change)."""
    return _handover_form(_handover_values() if request.method == "POST" else {"scope": "village"})


@handover_bp.post("/preview")
@requires("manage_locations")
def handover_preview() -> ResponseReturnValue:
    """The dry run: the numbered list and the folders refused, nothing written but the audit rows."""
    values = _handover_values()
    try:
        for label, key in ((N_("移交方"), "from_party"), (N_("接收方"), "to_party")):
            if not values[key]:
                raise InvalidValue("请写明{label}", params={"label": label}, field=label)
        chosen = ho.select_folders(db_session(), providers=status_providers(), **_selection(values))
    except ArchiveprintError as error:
        note_refusal(error)
        return _handover_form(values, 400)
    db_session().rollback()  # nothing of the dry run is kept
    audit_shown("view", chosen.households, "移交预览")
    return render_template("web/inventory/handover_preview.html", values=values, chosen=chosen)


@handover_bp.post("/confirm")
@requires("manage_locations")
def handover_confirm() -> ResponseReturnValue:
    """Record it: number, list and custody change in one transaction, or nothing when a folder is refused."""
    values = _handover_values()
    try:
        made = ho.hand_over(db_session(), from_party=values["from_party"], to_party=values["to_party"],
                            supervisor=values["supervisor"], reason=values["reason"], providers=status_providers(),
                            actor=current_actor(), now=utcnow(), **_selection(values))
    except ArchiveprintError as error:
        note_refusal(error)
        return _handover_form(values, 409 if error.status == 409 else 400)
    db_session().commit()
    flash(_("已登记移交 %(number)s：%(n)s 袋交给 %(to)s", number=made.number, n=len(made.lines), to=made.to_party),
          "success")
    return redirect(url_for("handover.handover_show", number=made.number), code=303)


def _handover(number: str) -> ho.HandoverList:
    try:
        return ho.find_handover(db_session(), number)
    except ArchiveprintError:
        abort(404)


@handover_bp.get("/<number>")
@requires("view_reports")
def handover_show(number: str) -> ResponseReturnValue:
    found = _handover(number)
    audit_shown("view", [line.household_id for line in found.lines], f"移交 {found.number}")
    return render_template("web/inventory/handover_show.html", handover=found)


@handover_bp.get("/<number>/list.pdf")
@requires("view_reports")
def handover_pdf(number: str) -> ResponseReturnValue:
    """The 移交清单 in three copies (reprintable any time); audited as a print for every household on it."""
    found = _handover(number)
    return printed_pdf(lambda: documents.print_handover(db_session(), found, user=current_account().user,
                                                        now=utcnow(), timezone=_timezone()),
                       f"移交清单-{found.number}.pdf")
