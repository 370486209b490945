"""Archive-room pages: the storage map, a shelf's folders, locate with history and folder actions, the re-layout
planner, pick lists and loading a storage layout (every page that names people leaves an audit row)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import to_utc
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from sqlalchemy.orm import Session
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from archiveprint.accounts.services import audit
from archiveprint.db import utcnow
from archiveprint.errors import ArchiveprintError, Conflict, InvalidValue, NotConfigured, NotFound
from archiveprint.locations.models import FolderPosition, Shelf
from archiveprint.locations.queries import (
    OVERFLOW_SOON,
    FolderLocation,
    StatusProvider,
    display_code,
    find_capacity,
    find_household_ids,
    find_picklist,
    find_places,
    find_position_at,
    list_movements,
    list_shelf_labels,
    list_shelves,
    list_touches,
    locate,
    locations_of,
)
from archiveprint.register.codes import folder_code
from archiveprint.register.models import Household
from archiveprint.register.queries import classify_query
from archiveprint.web.auth import current_account, requires
from archiveprint.web.errors import refusal_text
from archiveprint.web.i18n import CLOSE_REASON_LABELS, shelf_address
from archiveprint.web.responses import flash_refusal
from archiveprint.web.session import READ_METHODS, db_session, rollback, state, today

bp = Blueprint("locations", __name__, url_prefix="/locations")
QUERY_MAX = 100
PICK_MAX = 500  # lines in a pick list
LAYOUT_MAX = 512 * 1024  # a layout file is a few KB
HIGH_FILL = 0.9
SOON = OVERFLOW_SOON  # a village this close to overflowing is flagged on the map


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


def status_providers() -> list[StatusProvider]:
    """What lending knows about folders that are out (lent to whom, since when), for locate and the register."""
    from archiveprint.lending.queries import status_provider
    from archiveprint.lending.rules import site_rules

    return [status_provider(site_rules(state().settings.instance_dir))]


def _audit(action: str, household_ids: Iterable[int], detail: str) -> None:
    """One audit row per folder whose people a page shows, committed before the page is sent."""
    session = db_session()
    if request.method in READ_METHODS:
        session.commit()  # end the read snapshot first (see web/session.commit_audit)
    user = current_account().user
    for household_id in dict.fromkeys(household_ids):
        audit(session, user, action, "household", household_id, detail=detail)
    session.commit()


def _actor() -> str:
    return current_account().username


# --- the storage map --------------------------------------------------------------------------------------------

@dataclass
class MapCell:
    code: str
    address: str
    village: str
    used: int
    capacity: int

    @property
    def fill(self) -> str:
        if not self.used:
            return "empty"
        if self.used >= self.capacity:
            return "full"
        return "high" if self.used / self.capacity >= HIGH_FILL else "ok"


@dataclass
class MapGroup:
    """One face of a 列 (or one cabinet): its 节 as columns and 层 as rows."""

    title: str
    columns: list[str] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)
    cells: dict[tuple[str, str], MapCell] = field(default_factory=dict)
    villages: list[str] = field(default_factory=list)


@dataclass
class MapRoom:
    code: str
    name: str
    groups: dict[tuple[str, ...], MapGroup] = field(default_factory=dict)
    shelves: int = 0
    used: int = 0
    capacity: int = 0


def _storage_map(shelves: Sequence[Shelf], used: dict[str, int]) -> list[MapRoom]:
    """Shelves grouped by every level but the last two, which become the grid (节 across, 层 down)."""
    rooms: dict[str, MapRoom] = {}
    for shelf in shelves:
        room = rooms.setdefault(shelf.room_code, MapRoom(shelf.room_code, shelf.room_name))
        texts = [str(c[2]) for c in shelf.coordinates]
        head, (column, row) = (texts[:-2], texts[-2:]) if len(texts) >= 2 else ([], (texts[0], ""))
        key = (shelf.block_code, *head)
        title = " ".join(filter(None, [shelf.block_name, *head])) or shelf.kind
        group = room.groups.setdefault(key, MapGroup(title))
        if column not in group.columns:
            group.columns.append(column)
        if row not in group.rows:
            group.rows.append(row)
        village = shelf.village.code if shelf.village else ""
        if village and village not in group.villages:
            group.villages.append(village)
        cell = MapCell(shelf.code, shelf.address, village, used.get(shelf.code, 0), shelf.capacity)
        group.cells[(row, column)] = cell
        room.shelves += 1
        room.used += cell.used
        room.capacity += cell.capacity
    return list(rooms.values())


@bp.get("/")
@requires("view_person")
def index() -> ResponseReturnValue:
    session = db_session()
    shelves = list_shelves(session, None)
    capacity = find_capacity(session)
    rooms = _storage_map(shelves, {fill.code: fill.used for fill in capacity.shelves})
    waiting = sum(v.unshelved for v in capacity.villages)
    return render_template("web/locations/map.html", rooms=rooms, villages=capacity.villages, soon=SOON,
                           totals=capacity.totals(), waiting=waiting)


@bp.get("/shelves/<code>")
@requires("view_person")
def shelf(code: str) -> ResponseReturnValue:
    """One shelf's folders in position order, with what its shelf label says."""
    session = db_session()
    found = session.scalar(select(Shelf).where(Shelf.code == code, Shelf.retired_at.is_(None)))
    if found is None:
        raise NotFound("没有这个架位", field="架位", value=code)
    ids = list(session.scalars(select(FolderPosition.household_id).where(FolderPosition.shelf_id == found.id)))
    folders = sorted(locations_of(session, {i: [] for i in ids}, providers=status_providers()),
                     key=lambda loc: loc.place.slot or 0)
    (shelf_label,) = list_shelf_labels(session, codes=[found.code]) or [None]
    neighbours = {s.seq: s for s in list_shelves(session, found.purpose)}
    previous = max((seq for seq in neighbours if seq < found.seq), default=None)
    following = min((seq for seq in neighbours if seq > found.seq), default=None)
    _audit("view", ids, f"shelf {found.code}")
    return render_template("web/locations/shelf.html", shelf=found, folders=folders, shelf_label=shelf_label,
                           previous=neighbours.get(previous) if previous else None,
                           following=neighbours.get(following) if following else None)


# --- locate and folder actions ----------------------------------------------------------------------------------

class MoveInput(FlaskForm):
    to = StringField(_l("移到（位置编码或完整位置，可带第几位）"),
                     validators=[DataRequired(_l("请填写新位置")), Length(max=120)])
    reason = StringField(_l("原因"), validators=[Length(max=200)])
    version = HiddenField()


class CloseInput(FlaskForm):
    """结案: nothing is chosen for the clerk, neither the reason nor the members; the date defaults to today."""

    reason = SelectField(_l("结案原因"), choices=[SelectChoice("", _l("请选择结案原因")),
                                                *(SelectChoice(k, v) for k, v in CLOSE_REASON_LABELS.items())],
                         validators=[DataRequired(_l("请选择结案原因"))],
                         render_kw={"required": False})  # the server refuses, in words the clerk reads
    on = StringField(_l("结案日期"), validators=[DataRequired(_l("请填写结案日期")), Length(max=10)],
                     render_kw={"type": "date"})
    note = StringField(_l("说明"), validators=[Length(max=200)])


class ReasonInput(FlaskForm):
    """Reopen from the closed area, or report missing: a reason is required."""

    reason = StringField(_l("原因"), validators=[DataRequired(_l("请写明原因")), Length(max=200)])
    version = HiddenField()


class FoundInput(FlaskForm):
    version = HiddenField()


@dataclass
class LocateDetail:
    """Everything the locate page shows for one folder beyond its place."""

    history: list[object]
    touches: list[object]
    on: date | None = None
    at_date: object = None
    closed_members: list[tuple[str, str]] = field(default_factory=list)


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidValue("日期应写成 2026-11-01", field="日期", value=text[:10]) from None


@bp.get("/locate")
@requires("view_person")
def locate_page() -> ResponseReturnValue:
    """By folder code, archive code, name, initials, ID number or phone: address, status, members and history."""
    query = request.args.get("q", "").strip()[:QUERY_MAX]
    on = _day(request.args.get("on"))
    session = db_session()
    household_id = request.args.get("household", type=int)
    if household_id is not None and not query:  # from the household page
        household = session.get(Household, household_id)
        if household is None:
            raise NotFound("没有这一户", field="户", value=household_id)
        query = folder_code(household.village.full_code, household.number).value
    found: list[FolderLocation] = locate(session, query, providers=status_providers()) if query else []
    detail = None
    if len(found) == 1:
        household_id = found[0].household_id
        detail = LocateDetail(list_movements(session, household_id), list_touches(session, household_id), on)
        if on is not None:
            detail.at_date = find_position_at(session, household_id, to_utc(datetime.combine(on, time.max)))
        household = session.get(Household, household_id)
        assert household is not None
        detail.closed_members = [(m.archive_code, m.name) for m in household.members if m.status == "closed"]
    if found:
        kind, _key = classify_query(query)
        _audit("view" if detail else "search", [loc.household_id for loc in found], f"locate {kind}")
    version = str(found[0].place.version) if detail else ""
    forms = {"move": MoveInput(version=version),
             "reopen": ReasonInput(version=version, prefix="reopen"),
             "missing": ReasonInput(version=version, prefix="missing"), "found": FoundInput(version=version)}
    return render_template("web/locations/locate.html", query=query, locate_query=query, found=found,
                           detail=detail, forms=forms, on=on)


def _folder(session: Session, household_id: int, version: str | None) -> Household:
    """The folder of an action, refused if someone changed it since the clerk's page was drawn."""
    household = session.get(Household, household_id)
    if household is None:
        raise NotFound("没有这一户", field="户", value=household_id)
    if version:
        place = find_places(session, [household.id])[household.id]
        if str(place.version) != version:
            raise Conflict("该档案袋的位置刚被别人改过，请刷新后再试", field="档案袋", value=display_code(household))
    return household


def _back(household_id: int) -> ResponseReturnValue:
    household = db_session().get(Household, household_id)
    q = folder_code(household.village.full_code, household.number).value if household else ""
    return redirect(url_for("locations.locate_page", q=q), code=303)


def _act(household_id: int, form: FlaskForm, action: str) -> ResponseReturnValue:
    """Run one folder action (POST/Redirect/Get): success or the refusal is flashed on the locate page."""
    if not form.validate_on_submit():
        if form.errors.keys() == {"csrf_token"}:
            abort(400)
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "error")
        return _back(household_id)
    session = db_session()
    try:
        household = _folder(session, household_id, form.version.data)  # type: ignore[attr-defined]
        message = _ACTIONS[action](session, household, form)
        session.commit()
    except ArchiveprintError as error:
        rollback()
        flash_refusal(error)
    else:
        flash(message, "success")
    return _back(household_id)


def _move(session: Session, household: Household, form: MoveInput) -> str:
    from archiveprint.locations.services import move_folder

    version = int(form.version.data) if (form.version.data or "").isdigit() else None
    move_folder(session, household, form.to.data or "", reason=(form.reason.data or "").strip(),
                expected_version=version, actor=_actor(), now=utcnow())
    place = find_places(session, [household.id])[household.id]
    return _("已移到 %(address)s", address=shelf_address(place.address))


def _reopen(session: Session, household: Household, form: ReasonInput) -> str:
    """取回: the folder back from the closed area (when it is there) and the ticked members' records reopened."""
    from archiveprint.locations.services import reopen_folder
    from archiveprint.register.services import reopen_resident

    reason = (form.reason.data or "").strip()
    place = find_places(session, [household.id])[household.id]
    in_closed_area = place.status.code == "closed"
    chosen = set(request.form.getlist("residents"))
    members = [m for m in household.members if m.archive_code in chosen and m.status == "closed"]
    if not in_closed_area and not members:
        raise InvalidValue("请勾选要恢复的成员", field="成员")
    if in_closed_area:
        reopen_folder(session, household, reason=reason, actor=_actor(), now=utcnow())
    for member in members:
        reopen_resident(session, member, why=reason, actor=_actor(), now=utcnow())
    if not in_closed_area:
        return _("已恢复档案：%(names)s", names="、".join(m.name for m in members))
    place = find_places(session, [household.id])[household.id]
    return _("已从结案区取回：%(address)s", address=shelf_address(place.address))


def _missing(session: Session, household: Household, form: ReasonInput) -> str:
    from archiveprint.locations.services import report_missing

    report_missing(session, household, reason=(form.reason.data or "").strip(), actor=_actor(), now=utcnow())
    return _("已登记为下落不明")


def _found(session: Session, household: Household, form: FoundInput) -> str:
    from archiveprint.locations.services import put_back

    put_back(session, household, actor=_actor(), now=utcnow())
    return _("已归位")


_ACTIONS = {"move": _move, "reopen": _reopen, "missing": _missing, "found": _found}


@bp.post("/folders/<int:household_id>/move")
@requires("manage_locations")
def move(household_id: int) -> ResponseReturnValue:
    return _act(household_id, MoveInput(), "move")


def _close_page(household: Household, form: CloseInput, chosen: Iterable[str], *, error: str | None = None,
                status: int = 200) -> ResponseReturnValue:
    from archiveprint.register.queries import ordered_members

    place = find_places(db_session(), [household.id], providers=status_providers())[household.id]
    members = ordered_members(household)
    _audit("view", [household.id], "close page")
    return render_template("web/locations/close.html", household=household, folder=display_code(household),
                           place=place, members=members, form=form, chosen=set(chosen), error=error,
                           today_iso=today().isoformat(),
                           active=sum(m.status == "active" for m in members)), status


@bp.get("/folders/<int:household_id>/close")
@requires("manage_locations")
def close_page(household_id: int) -> ResponseReturnValue:
    """结案 asks first: the household, every member with a box to tick (none ticked), the reason (none chosen)
    and the date (today unless changed)."""
    household = _folder(db_session(), household_id, None)
    return _close_page(household, CloseInput(on=today().isoformat()), ())


@bp.post("/folders/<int:household_id>/close")
@requires("manage_locations")
def close(household_id: int) -> ResponseReturnValue:
    """Close the ticked members' records with the reason and date; the folder moves to the closed area only when
    no member is left on file. A refusal redraws the page with the clerk's choices kept."""
    from archiveprint.locations.closing import close_members

    session = db_session()
    household = _folder(session, household_id, None)
    if request.form.get("folder_only") == "1":
        return _close_folder_only(session, household)
    form = CloseInput()
    chosen = request.form.getlist("residents")
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)
        errors = [str(error) for errors in form.errors.values() for error in errors]
        return _close_page(household, form, chosen, error="；".join(errors), status=400)
    try:
        result = close_members(session, household, chosen, form.reason.data or "", _day(form.on.data) or today(),
                               today=today(), note=form.note.data or "", actor=_actor(), now=utcnow())
        session.commit()
    except ArchiveprintError as refusal:
        rollback()
        household = _folder(db_session(), household_id, None)
        return _close_page(household, form, chosen, error=str(refusal), status=refusal.status)
    names = "、".join(result.closed or result.already)
    if result.folder is not None:
        place = find_places(session, [household.id])[household.id]
        flash(_("已结案：%(names)s。全户已结案，档案袋已移入结案区：%(address)s", names=names,
                address=shelf_address(place.address)), "success")
    else:
        flash(_("已结案：%(names)s。该户还有成员在档，档案袋留在原位。", names=names), "success")
    return redirect(url_for("register.household", household_id=household.id), code=303)


def _close_folder_only(session: Session, household: Household) -> ResponseReturnValue:
    """A household whose members were all closed before (one by one, or in the register) whose folder is still on
    its village shelf: the folder goes to the closed area."""
    from archiveprint.locations.services import close_folder

    if not FoundInput().validate_on_submit():
        abort(400)
    try:
        close_folder(session, household, reason="全户已结案", actor=_actor(), now=utcnow())
        session.commit()
    except ArchiveprintError as refusal:
        rollback()
        flash_refusal(refusal)
    else:
        place = find_places(session, [household.id])[household.id]
        flash(_("档案袋已移入结案区：%(address)s", address=shelf_address(place.address)), "success")
    return redirect(url_for("register.household", household_id=household.id), code=303)


@bp.post("/folders/<int:household_id>/reopen")
@requires("manage_locations")
def reopen(household_id: int) -> ResponseReturnValue:
    return _act(household_id, ReasonInput(prefix="reopen"), "reopen")


@bp.post("/folders/<int:household_id>/missing")
@requires("manage_locations")
def missing(household_id: int) -> ResponseReturnValue:
    return _act(household_id, ReasonInput(prefix="missing"), "missing")


@bp.post("/folders/<int:household_id>/found")
@requires("manage_locations")
def found(household_id: int) -> ResponseReturnValue:
    return _act(household_id, FoundInput(), "found")


# --- re-layout ----------------------------------------------------------------------------------------------------

class RelayoutInput(FlaskForm):
    village = HiddenField()
    reserve = HiddenField()
    fingerprint = HiddenField(validators=[DataRequired()])


def _reserve(text: str | None) -> float | None:
    """The growth reserve as a percentage typed by the clerk (blank: the layout's own)."""
    value = (text or "").strip().rstrip("%")
    if not value:
        return None
    if not value.isdigit() or int(value) > 500:
        raise InvalidValue("预留比例应为 0–500 之间的整数（百分比）", field="预留", value=value[:10])
    return int(value) / 100


def _plan(session: Session, village_code: str, reserve: str | None) -> object:
    from archiveprint.locations.relayout import plan_relayout
    from archiveprint.register.services import find_village

    return plan_relayout(session, find_village(session, village_code), reserve=_reserve(reserve))


def _run_capacity(shelves: Sequence[Shelf], runs: dict[str, tuple[str, str, int]]) -> dict[str, int]:
    seqs = {s.code: s.seq for s in shelves}
    out = {}
    for village, (first, last, _count) in runs.items():
        low, high = seqs.get(first, 0), seqs.get(last, -1)
        out[village] = sum(s.capacity for s in shelves if low <= s.seq <= high)
    return out


@bp.get("/relayout")
@requires("manage_locations")
def relayout() -> ResponseReturnValue:
    """Choose a village and a reserve, see the plan: what moves, in walking order, and the shelves it takes."""
    session = db_session()
    villages = find_capacity(session).villages
    village = request.args.get("village", "").strip()[:20]
    reserve = request.args.get("reserve", "").strip()[:10]
    plan, error, status = None, None, 200
    if village:
        try:
            plan = _plan(session, village, reserve)
        except ArchiveprintError as refusal:
            error, status = refusal_text(refusal), refusal.status  # with the page that fixes it
    shelves = list_shelves(session)
    context = {"villages": villages, "village": village, "reserve": reserve, "plan": plan, "error": error}
    if plan is not None:
        context["capacity_before"] = _run_capacity(shelves, plan.runs_before)  # type: ignore[attr-defined]
        context["capacity_after"] = _run_capacity(shelves, plan.runs_after)  # type: ignore[attr-defined]
        context["form"] = RelayoutInput(village=village, reserve=reserve,
                                        fingerprint=plan.fingerprint)  # type: ignore[attr-defined]
        _audit("view", _moved_households(plan), f"relayout plan {village}")
    return render_template("web/locations/relayout.html", **context), status


def _moved_households(plan: object) -> list[int]:
    households = getattr(plan, "households", {})
    plan_steps = getattr(getattr(plan, "plan", None), "steps", ())
    return [step.move.folder for step in plan_steps if step.move.folder in households]


@bp.get("/relayout/print")
@requires("manage_locations")
def relayout_print() -> ResponseReturnValue:
    """The move list and the new shelf labels on a page made for printing."""
    session = db_session()
    village = request.args.get("village", "").strip()[:20]
    plan = _plan(session, village, request.args.get("reserve", "")[:10])
    _audit("print", _moved_households(plan), f"relayout move list {village}")
    return render_template("web/locations/relayout_print.html", plan=plan, village=village, day=today())


@bp.post("/relayout/apply")
@requires("manage_locations")
def relayout_apply() -> ResponseReturnValue:
    """Carry out the plan the clerk saw (same fingerprint) and record every move."""
    from archiveprint.locations.relayout import apply_relayout
    from archiveprint.register.services import find_village

    form = RelayoutInput()
    if not form.validate_on_submit():
        abort(400)
    village, reserve = form.village.data or "", form.reserve.data or ""
    session = db_session()
    try:
        result = apply_relayout(session, find_village(session, village), expected=form.fingerprint.data,
                                reserve=_reserve(reserve), actor=_actor(), now=utcnow())
        session.commit()
    except ArchiveprintError as error:
        rollback()
        flash_refusal(error)
    else:
        flash(_("已重新排架：挪动 %(moved)s 袋，新上架 %(placed)s 袋，需更换 %(labels)s 个架位标签",
                moved=result.moved, placed=result.placed, labels=len(result.labels)), "success")
    return redirect(url_for("locations.relayout", village=village, reserve=reserve), code=303)


# --- first shelving: every waiting folder of every village --------------------------------------------------------

class ShelveAllInput(FlaskForm):
    fingerprint = HiddenField(validators=[DataRequired()])


@bp.get("/shelve-all")
@requires("manage_locations")
def shelve_all_page() -> ResponseReturnValue:
    """上架全部未上架的档案袋, previewed: per village how many folders get a home and which shelves it takes; nothing
    is written (the same services run and are rolled back)."""
    from archiveprint.locations.shelveall import shelve_all

    session = db_session()
    try:
        preview = shelve_all(session, actor=_actor(), now=utcnow())
    except NotConfigured:
        rollback()
        flash(_("尚未载入库房布局。"), "error")  # the map offers 载入库房布局
        return redirect(url_for("locations.index"), code=303)
    except ArchiveprintError as refusal:
        rollback()
        flash_refusal(refusal)
        return redirect(url_for("locations.index"), code=303)
    rollback()  # a preview writes nothing
    return render_template("web/locations/shelve_all.html", preview=preview,
                           form=ShelveAllInput(fingerprint=preview.fingerprint))


@bp.post("/shelve-all")
@requires("manage_locations")
def shelve_all_apply() -> ResponseReturnValue:
    """Shelve what the preview showed (same fingerprint), every move recorded; back on the storage map."""
    from archiveprint.locations.shelveall import shelve_all

    form = ShelveAllInput()
    if not form.validate_on_submit():
        abort(400)
    session = db_session()
    try:
        result = shelve_all(session, expected=form.fingerprint.data, actor=_actor(), now=utcnow())
        session.commit()
    except ArchiveprintError as refusal:
        rollback()
        flash_refusal(refusal)
        return redirect(url_for("locations.shelve_all_page"), code=303)
    shelved_villages = [v for v in result.villages if v.placed]
    flash(_("已上架 %(n)s 袋（%(villages)s 个村）", n=result.placed, villages=len(shelved_villages)), "success")
    for village in result.refused:
        flash(_("%(village)s 未上架：%(why)s", village=f"{village.code} {village.name}", why=village.refusal),
              "warning")
    return redirect(url_for("locations.index"), code=303)


# --- pick lists ---------------------------------------------------------------------------------------------------

class PicklistInput(FlaskForm):
    codes = TextAreaField(_l("档案袋编号、档案编号或姓名（每行一个）"),
                          validators=[DataRequired(_l("请至少填写一个")), Length(max=PICK_MAX * 40)])


def _pick_codes(session: Session, lines: Sequence[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Codes as typed, and names (or phone, ID number) turned into the one folder they name."""
    codes: list[str] = []
    refused: list[tuple[str, str]] = []
    for line in lines:
        kind, _key = classify_query(line)
        if kind in ("folder", "code"):
            codes.append(line)
            continue
        matched = find_household_ids(session, line, limit=2)
        if len(matched) == 1:
            household = session.get(Household, next(iter(matched)))
            assert household is not None
            codes.append(folder_code(household.village.full_code, household.number).value)
        else:
            refused.append((line, _("没有找到") if not matched else _("有多户匹配，请写档案编号")))
    return codes, refused


def _picklist(form: PicklistInput) -> object:
    lines = [line.strip() for line in (form.codes.data or "").splitlines() if line.strip()]
    if len(lines) > PICK_MAX:
        raise InvalidValue(f"一次最多 {PICK_MAX} 行", field="调档单", value=len(lines))
    session = db_session()
    codes, refused = _pick_codes(session, lines)
    result = find_picklist(session, codes, providers=status_providers())
    result.not_found.extend(refused)
    return result


@bp.route("/picklist", methods=["GET", "POST"])
@requires("view_person")
def picklist() -> ResponseReturnValue:
    """Paste a doctor's list: the folders in walking order, those not on their shelves last."""
    form = PicklistInput()
    result = None
    if request.method == "POST":
        if not form.validate_on_submit():
            return render_template("web/locations/picklist.html", form=form, result=None), 400
        result = _picklist(form)
        _audit("view", [row.location.household_id for row in result.rows], "picklist")  # type: ignore[attr-defined]
    return render_template("web/locations/picklist.html", form=form, result=result)


@bp.post("/picklist.pdf")
@requires("print")
def picklist_pdf() -> ResponseReturnValue:
    """调档单 as an A4 PDF (the same template the command line prints)."""
    import io

    from archiveprint.locations.picklist import render_picklist_pdf
    from archiveprint.register.services import get_township

    form = PicklistInput()
    if not form.validate_on_submit():
        abort(400)
    result = _picklist(form)
    unit = get_township(db_session()).unit_name
    pdf = render_picklist_pdf(result, day=today(), unit=unit)  # type: ignore[arg-type]
    _audit("print", [row.location.household_id for row in result.rows], "picklist pdf")  # type: ignore[attr-defined]
    return send_file(io.BytesIO(pdf), mimetype="application/pdf", as_attachment=False,
                     download_name=f"调档单-{today():%Y%m%d}.pdf", max_age=0)


# --- storage layout ---------------------------------------------------------------------------------------------

class LayoutUploadInput(FlaskForm):
    file = FileField(_l("库房布局文件（.yaml）"), validators=[FileRequired(_l("请选择布局文件"))])


class LayoutApplyInput(FlaskForm):
    text = TextAreaField(validators=[DataRequired(), Length(max=LAYOUT_MAX)])
    source = HiddenField(validators=[Length(max=200)])


def _layout_page(*, report: object = None, error: str | None = None, apply: LayoutApplyInput | None = None,
                 status: int = 200, upload: LayoutUploadInput | None = None) -> ResponseReturnValue:
    from archiveprint.locations.layout import summarize
    from archiveprint.locations.queries import current_layout
    from archiveprint.locations.services import BLOCK_REASONS

    session = db_session()
    try:
        current = current_layout(session)
    except ArchiveprintError:
        current = None
    blocks = summarize([s.as_spec() for s in list_shelves(session, None)])
    return render_template("web/locations/layout.html", current=current, blocks=blocks, report=report, error=error,
                           apply=apply, upload=upload or LayoutUploadInput(), reasons=BLOCK_REASONS), status


@bp.get("/layout")
@requires("manage_locations")
def layout() -> ResponseReturnValue:
    return _layout_page()


def _dry_run(text: str, source: str) -> object:
    from archiveprint.locations.layout import parse_layout
    from archiveprint.locations.services import apply_layout

    session = db_session()
    try:
        return apply_layout(session, parse_layout(text, source=source), dry_run=True, actor=_actor(),
                            now=utcnow())
    finally:
        rollback()  # a preview writes nothing


@bp.post("/layout/preview")
@requires("manage_locations")
def layout_preview() -> ResponseReturnValue:
    """Upload a layout and see what it would change; folders on shelves that would go are listed."""
    upload = LayoutUploadInput()
    if not upload.validate_on_submit():
        return _layout_page(upload=upload, status=400)
    data = upload.file.data.read(LAYOUT_MAX + 1)
    source = (upload.file.data.filename or "layout.yaml")[-100:]
    try:
        if len(data) > LAYOUT_MAX:
            raise InvalidValue("库房布局文件太大", field="文件", value=source)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidValue("库房布局文件应为 UTF-8 编码", field="文件", value=source) from None
        report = _dry_run(text, source)
    except ArchiveprintError as error:
        return _layout_page(error=str(error), status=error.status)
    blocked = getattr(report, "blocked", [])
    if blocked:
        _audit("view", [], f"layout preview {source}: {len(blocked)} folders blocked")
    return _layout_page(report=report, apply=LayoutApplyInput(text=text, source=source))


@bp.post("/layout/apply")
@requires("manage_locations")
def layout_apply() -> ResponseReturnValue:
    from archiveprint.locations.layout import parse_layout
    from archiveprint.locations.services import OccupiedShelves, apply_layout

    form = LayoutApplyInput()
    if not form.validate_on_submit():
        abort(400)
    text, source = form.text.data or "", form.source.data or "layout.yaml"
    session = db_session()
    try:
        report = apply_layout(session, parse_layout(text, source=source), actor=_actor(), now=utcnow())
        session.commit()
    except OccupiedShelves as error:
        rollback()
        return _layout_page(report=_dry_run(text, source), error=error.message, status=409)
    except ArchiveprintError as error:
        rollback()
        return _layout_page(error=str(error), status=error.status)
    flash(_("已载入库房布局“%(name)s”：%(shelves)s 层架位", name=report.layout.name,
            shelves=len(report.layout.shelves)), "success")
    for warning in report.warnings:
        flash(warning, "warning")
    return redirect(url_for("locations.layout"), code=303)

