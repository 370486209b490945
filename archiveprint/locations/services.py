"""Location use cases: apply a layout, shelve a village, move, take out, put back, close and reopen folders.

Every change of a folder's place or state appends a `folder_movements` row, updates the folder's one
`folder_positions` row (guarded by its version, so a racing change fails instead of overwriting) and writes an event,
all in the caller's transaction. Re-layout is in `relayout.py`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from archiveprint.errors import N_, Conflict, InvalidValue, Message, NotConfigured, joined
from archiveprint.eventlog import Event, record_event
from archiveprint.locations.layout import BlockSummary, Layout, LayoutDiff, diff_layout, summarize
from archiveprint.locations.models import FolderMovement, FolderPosition, Shelf, StorageLayout
from archiveprint.locations.planner import PlanFolder, PlanShelf, grow_run, place_in_run, village_order
from archiveprint.locations.queries import (
    WRITTEN_OFF,
    current_layout,
    display_code,
    find_shelf,
    full_address,
    list_shelves,
)
from archiveprint.register.models import Household, Resident, Village

STATE_TEXT = {"on_shelf": N_("在架"), "out": N_("已取出"), "missing": N_("下落不明"), "gone": N_("已移出档案室")}


class OccupiedShelves(Conflict):
    """A layout change would remove or shrink shelves that still hold folders; nothing was changed."""

    def __init__(self, message: str, folders: list[BlockedFolder]) -> None:
        super().__init__(message, field="架位", value=", ".join(sorted({f.shelf_code for f in folders})))
        self.folders = folders


class NeedsRelayout(Conflict):
    """A village's new folders do not fit without moving others. The message (also `plain`) is the reason alone: the
    web app offers 重新排架 as a link, the command line prints its command (the hint)."""

    def __init__(self, plain: str, village: str) -> None:
        super().__init__(plain, field="村(居)委会", value=village,
                         hint=f"请运行 archiveprint relayout --village {village}", action="relayout",
                         action_args={"village": village})
        self.plain = plain
        self.village = village


# --- the one primitive every change goes through -------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    """The folder's whole position after a change (shelf None = no longer in the archive room)."""

    kind: str
    shelf: Shelf | None
    slot: int | None
    state: str
    holder: str = ""
    reason: str = ""


def _last_seq(session: Session, household_id: int) -> int:
    return session.scalar(select(func.coalesce(func.max(FolderMovement.seq), 0))
                          .where(FolderMovement.household_id == household_id)) or 0


def apply_change(session: Session, household: Household, change: Change, *, event: Event, actor: str,
                 now: datetime, expected_version: int | None = None, position: FolderPosition | None = None,
                 first: bool = False) -> FolderPosition | None:
    """Write one movement and bring the folder's current row in line with it. The row's version is checked by the
    UPDATE itself (SQLAlchemy's version counter), so of two clerks changing the same folder one gets a Conflict.
    `first`: the caller knows the folder was never shelved (no look-ups; a racing shelve still fails on the keys)."""
    if position is None and not first:
        position = session.get(FolderPosition, household.id)
    version = position.version if position is not None else 0 if first else _last_seq(session, household.id)
    if expected_version is not None and expected_version != version:
        raise Conflict("该档案袋的位置刚被别人改过，请刷新后再试", field="档案袋", value=display_code(household))
    if change.shelf is None:
        if position is not None:
            session.delete(position)
        position = None
    elif position is None:
        position = FolderPosition(household_id=household.id, shelf=change.shelf, slot=change.slot,
                                  state=change.state, holder=change.holder, since=now, version=version + 1)
        session.add(position)
    else:
        if (position.shelf_id, position.slot, position.state) != (change.shelf.id, change.slot, change.state):
            position.since = now
        position.shelf, position.slot = change.shelf, change.slot
        position.state, position.holder = change.state, change.holder
        position.version = version + 1
    session.add(FolderMovement(household_id=household.id, seq=version + 1, kind=change.kind,
                               shelf_id=change.shelf.id if change.shelf else None, slot=change.slot,
                               state=change.state, holder=change.holder, reason=change.reason, at=now, actor=actor,
                               event_id=event.id))
    return position


def flush_or_conflict(session: Session, what: str) -> None:
    """Flush, turning the database's refusals (a taken position, a racing change) into a Chinese Conflict."""
    try:
        session.flush()
    except (IntegrityError, StaleDataError):
        raise Conflict("{what}：位置已被占用，或该档案袋刚被别人改过，请刷新后再试", params={"what": what}) from None


def _event(session: Session, kind: str, household: Household, *, actor: str, now: datetime,
           **data: object) -> Event:
    event = record_event(session, kind, "household", household.id, actor=actor, now=now,
                         folder=display_code(household), **data)
    session.flush()
    return event


def _single(session: Session, household: Household, change: Change, kind: str, *, actor: str, now: datetime,
            expected_version: int | None, **data: object) -> FolderPosition | None:
    with session.begin_nested():
        event = _event(session, kind, household, actor=actor, now=now, **data)
        position = apply_change(session, household, change, event=event, actor=actor, now=now,
                                expected_version=expected_version)
        flush_or_conflict(session, N_("未能记录"))
    return position


def _position_or_fail(session: Session, household: Household) -> FolderPosition:
    position = session.get(FolderPosition, household.id)
    if position is None:
        raise Conflict("该档案袋还没有上架", field="档案袋", value=display_code(household))
    return position


# --- moving one folder ---------------------------------------------------------------------------------------

def move_folder(session: Session, household: Household, to: str, *, reason: str = "",
                expected_version: int | None = None, actor: str, now: datetime) -> FolderPosition:
    """Give a folder a new place (a typed location code or address, with or without 第N位)."""
    shelf, slot = find_shelf(session, to)
    position = session.get(FolderPosition, household.id)
    if slot is None:
        slot = _free_slot(session, shelf, household)
    holder = session.scalar(select(FolderPosition).where(FolderPosition.shelf_id == shelf.id,
                                                         FolderPosition.slot == slot))
    if holder is not None and holder.household_id != household.id:
        raise Conflict("该位置已有档案袋 {folder}", params={"folder": display_code(holder.household)}, field="位置",
                       value=full_address(shelf, slot, current_layout(session).position_format))
    if position is not None and (position.shelf_id, position.slot) == (shelf.id, slot):
        return position
    state = position.state if position is not None else "on_shelf"
    kind = "move" if position is not None or _last_seq(session, household.id) else "shelve"
    change = Change(kind, shelf, slot, state, position.holder if position else "", reason)
    moved = _single(session, household, change, "folder.moved", actor=actor, now=now,
                    expected_version=expected_version, to=shelf.code, slot=slot, reason=reason)
    assert moved is not None
    return moved


def _free_slot(session: Session, shelf: Shelf, household: Household) -> int:
    """A free position on the shelf that keeps household order among the folders already there, else the first."""
    taken = dict(session.execute(select(FolderPosition.slot, Household.number)
                                 .join(Household, Household.id == FolderPosition.household_id)
                                 .where(FolderPosition.shelf_id == shelf.id,
                                        FolderPosition.household_id != household.id)).all())
    free = [s for s in range(1, shelf.capacity + 1) if s not in taken]
    if not free:
        raise Conflict("该层已放满", field="位置", value=shelf.code)
    lower = max((s for s, n in taken.items() if n < household.number), default=0)
    higher = min((s for s, n in taken.items() if n > household.number), default=shelf.capacity + 1)
    in_order = [s for s in free if lower < s < higher]
    return in_order[0] if in_order else free[0]


def take_out(session: Session, household: Household, *, holder: str, reason: str = "",
             expected_version: int | None = None, actor: str, now: datetime) -> FolderPosition:
    """The folder leaves its shelf (for a clinic, a loan …); its position stays reserved until it comes back."""
    position = _position_or_fail(session, household)
    if position.state != "on_shelf":
        raise Conflict("该档案袋现在{state}，不能再取出", params={"state": STATE_TEXT[position.state]}, field="档案袋",
                       value=display_code(household))
    holder = holder.strip()
    if not holder:
        raise InvalidValue("取出时要写明交给谁或去向", field="去向")
    change = Change("take_out", position.shelf, position.slot, "out", holder[:64], reason)
    out = _single(session, household, change, "folder.taken_out", actor=actor, now=now,
                  expected_version=expected_version, holder=holder, reason=reason)
    assert out is not None
    return out


def put_back(session: Session, household: Household, *, expected_version: int | None = None, actor: str,
             now: datetime) -> FolderPosition:
    """The folder is back at its position. Putting back a folder already on its shelf is not an error."""
    position = _position_or_fail(session, household)
    if position.state == "on_shelf":
        return position
    kind = "found" if position.state == "missing" else "put_back"
    change = Change(kind, position.shelf, position.slot, "on_shelf")
    back = _single(session, household, change, f"folder.{kind}", actor=actor, now=now,
                   expected_version=expected_version, was=position.state)
    assert back is not None
    return back


def report_missing(session: Session, household: Household, *, reason: str, actor: str,
                   now: datetime) -> FolderPosition:
    """Not found where it should be (an inventory, a failed pick); the position stays reserved."""
    position = _position_or_fail(session, household)
    if position.state == "missing":
        return position
    change = Change("missing", position.shelf, position.slot, "missing", position.holder, reason)
    missing = _single(session, household, change, "folder.missing", actor=actor, now=now, expected_version=None,
                      reason=reason, was=position.state)
    assert missing is not None
    return missing


def release_folder(session: Session, household: Household, *, reason: str, actor: str, now: datetime) -> None:
    """The folder leaves the archive room for good (handed over to another archive); its history stays."""
    if not reason.strip():
        raise InvalidValue("移出档案室必须写明原因", field="原因")
    _position_or_fail(session, household)
    _single(session, household, Change("release", None, None, "gone", "", reason), "folder.released", actor=actor,
            now=now, expected_version=None, reason=reason)


def write_off_folder(session: Session, household: Household, *, reason: str, approved_by: str, actor: str,
                     now: datetime) -> None:
    """A folder reported missing (下落不明) and not found after a search is confirmed lost (确认遗失/注销): it leaves
    the archive room for good (a `release` movement, its position freed) with a `folder.written_off` event that
    keeps who recorded it, when, why and who approved it. Only a folder registered missing can be written off."""
    reason, approved_by = reason.strip(), approved_by.strip()
    if not reason:
        raise InvalidValue("确认遗失必须写明原因（查找经过）", field="原因")
    if not approved_by:
        raise InvalidValue("确认遗失必须写明批准人", field="批准人")
    position = session.get(FolderPosition, household.id)
    if position is None or position.state != "missing":
        state = (STATE_TEXT[position.state] if position is not None
                 else STATE_TEXT["gone"] if _last_seq(session, household.id) else N_("尚未上架"))
        raise Conflict("档案袋 {folder} 现在{state}：只有登记下落不明、查找无果的档案袋才能确认遗失注销",
                       params={"folder": display_code(household), "state": state}, field="档案袋",
                       value=display_code(household))
    change = Change("release", None, None, "gone", "", f"确认遗失注销：{reason}（批准人：{approved_by}）"[:200])
    _single(session, household, change, WRITTEN_OFF, actor=actor, now=now, expected_version=None,
            reason=reason[:200], approved_by=approved_by[:100], was=position.state, holder=position.holder)


# --- shelving a village ----------------------------------------------------------------------------------------

@dataclass
class ShelveResult:
    village: str
    placed: int
    run: tuple[str, str] | None  # first and last shelf code
    extended_to: int = 0  # shelves in the run after shelving
    folders: list[tuple[str, str]] = field(default_factory=list)  # (folder code, address)

    def as_json(self) -> dict[str, object]:
        return {"village": self.village, "placed": self.placed, "run": list(self.run) if self.run else None,
                "shelves": self.extended_to, "folders": [{"folder": f, "address": a} for f, a in self.folders]}

    def text_lines(self, limit: int = 10) -> list[str]:
        """What was shelved, listing the first `limit` folders."""
        if not self.placed:
            return [f"村 {self.village} 没有待上架的档案袋。"]
        assert self.run is not None
        lines = [f"村 {self.village}：已上架 {self.placed} 袋；本村架位 {self.run[0]} … {self.run[1]}"
                 f"（{self.extended_to} 层）。"]
        lines += [f"  {folder}  {address}" for folder, address in self.folders[:limit]]
        if len(self.folders) > limit:
            lines.append(f"  ……共 {len(self.folders)} 袋，末袋 {self.folders[-1][0]}  {self.folders[-1][1]}")
        return lines


def plan_shelves(shelves: Sequence[Shelf]) -> list[PlanShelf]:
    return [PlanShelf(shelf.id, shelf.capacity, shelf.village.ref if shelf.village else None) for shelf in shelves]


def village_folders(session: Session, shelves: Sequence[Shelf], village_ids: Iterable[int] | None = None,
                    *, unshelved_of: int | None = None,
                    extra: Sequence[Household] = ()) -> tuple[list[PlanFolder], dict[int, Household]]:
    """Folders with a position in the village area (optionally only some villages), plus the never-shelved ones of
    `unshelved_of` and the folders `extra` (received from another site) to place; positions as (index in
    `shelves`, slot)."""
    index = {shelf.id: i for i, shelf in enumerate(shelves)}
    stmt = (select(Household, FolderPosition).join(FolderPosition, FolderPosition.household_id == Household.id)
            .options(selectinload(Household.village).selectinload(Village.township))
            .where(FolderPosition.shelf_id.in_(select(Shelf.id).where(Shelf.retired_at.is_(None),
                                                                      Shelf.purpose == "village"))))
    if village_ids is not None:
        stmt = stmt.where(Household.village_id.in_(list(village_ids)))
    folders: list[PlanFolder] = []
    households: dict[int, Household] = {}
    for household, position in session.execute(stmt):
        households[household.id] = household
        folders.append(PlanFolder(household.id, household.village.ref, household.number,
                                  (index[position.shelf_id], position.slot)))
    waiting = [*unshelved(session, unshelved_of)] if unshelved_of is not None else []
    for household in [*waiting, *extra]:
        if household.id not in households:
            households[household.id] = household
            folders.append(PlanFolder(household.id, household.village.ref, household.number, None))
    return folders, households


def unshelved(session: Session, village_id: int) -> list[Household]:
    """Households of a village whose folder has never been shelved (released folders are not counted)."""
    return list(session.scalars(
        select(Household).where(Household.village_id == village_id,
                                ~exists().where(FolderMovement.household_id == Household.id))
        .options(selectinload(Household.village).selectinload(Village.township)).order_by(Household.number)))


def shelve_village(session: Session, village: Village, *, received: Sequence[Household] = (), actor: str,
                   now: datetime) -> ShelveResult:
    """Give every never-shelved folder of a village its home position, in household order, after the folders
    already there; the village's run grows over free neighbouring shelves, and a new village gets the first free
    shelves between its neighbours in code order (with the layout's growth reserve). `received`: folders of the
    village that come from another site's shelves (机构撤并), placed the same way."""
    layout = current_layout(session)
    ref = village.ref
    new = unshelved(session, village.id)
    if not new and not received:
        return ShelveResult(ref, 0, None)
    shelves = list_shelves(session)
    folders, households = village_folders(session, shelves, [village.id], unshelved_of=village.id, extra=received)
    plan_shelves_ = plan_shelves(shelves)
    has_run = any(s.village == ref for s in plan_shelves_)
    reserve = layout.growth_reserve
    need = len(folders) if has_run else max(len(folders) + 1, math.ceil(len(folders) * (1 + reserve)))
    order = sorted({s.village for s in plan_shelves_ if s.village}, key=village_order)
    skip = 0 if has_run else _room_for_earlier(session, village, order, reserve)
    run = grow_run(plan_shelves_, ref, need, order, skip=skip)
    if run is None:
        room = N_("没有足够的连续空架位") if not has_run else N_("本村架位已满，相邻也没有空架位")
        raise NeedsRelayout(Message("村(居)委会 {code} {name}：{room}（需要 {need} 个位置），需要重新排架",
                                    {"code": ref, "name": village.name, "room": room, "need": need}), ref)
    plan = place_in_run(plan_shelves_, [f for f in folders if f.village == ref], run)
    if plan.moves:
        raise NeedsRelayout(Message("村(居)委会 {code} 的新档案袋无法在不挪动已上架档案袋的情况下按户号插入"
                                    "（需挪动 {moves} 袋），需要重新排架",
                                    {"code": ref, "moves": len(plan.moves)}), ref)
    moved_before = {h.id for h in received}  # released in their old site: their history goes on
    with session.begin_nested():
        for shelf in shelves[run[0]:run[1] + 1]:
            shelf.village = village
        event = record_event(session, "location.shelved", "village", village.id, actor=actor, now=now,
                             village=ref, count=len(plan.placed),
                             run=[shelves[run[0]].code, shelves[run[1]].code])
        session.flush()
        result = ShelveResult(ref, len(plan.placed), (shelves[run[0]].code, shelves[run[1]].code),
                              run[1] - run[0] + 1)
        for move in plan.placed:
            shelf, slot = shelves[move.target[0]], move.target[1]
            household = households[move.folder]
            apply_change(session, household, Change("shelve", shelf, slot, "on_shelf"), event=event, actor=actor,
                         now=now, first=household.id not in moved_before)
            result.folders.append((display_code(household), full_address(shelf, slot, layout.position_format)))
        flush_or_conflict(session, Message("村(居)委会 {code} 上架", {"code": ref}))
    return result


def _room_for_earlier(session: Session, village: Village, allocated: Sequence[str], reserve: float) -> int:
    """Positions to leave free in front of a new run: villages whose code comes between the previous allocated
    village and this one and already have households, so that they fit there later without a re-layout."""
    ref = village_order(village.ref)
    previous = max((village_order(code) for code in allocated if village_order(code) < ref), default=(False, ""))
    counts = session.execute(select(Village, func.count(Household.id))
                             .join(Household, Household.village_id == Village.id)
                             .where(Village.township_id == village.township_id)
                             .group_by(Village.id)).all()
    return sum(max(n + 1, math.ceil(n * (1 + reserve))) for other, n in counts
               if previous < village_order(other.ref) < ref)


# --- closed records (结案) -------------------------------------------------------------------------------------

def close_folder(session: Session, household: Household, *, reason: str = "", on: date | None = None, actor: str,
                 now: datetime) -> FolderPosition:
    """Move a folder whose members are all closed to the closed-records area (next free position there); the
    reason (全户迁出, 死亡 …) goes into the movement and its event, and so does the 结案 date when given."""
    active = session.scalar(select(func.count(Resident.id)).where(Resident.household_id == household.id,
                                                                Resident.status == "active"))
    if active:
        raise Conflict("该户还有 {active} 人的档案未结案，档案袋不能移入结案区",
                       params={"active": active}, field="档案袋",
                       value=display_code(household))
    position = session.get(FolderPosition, household.id)
    if position is not None and position.shelf.purpose == "closed":
        return position
    if position is not None and position.state != "on_shelf":
        raise Conflict("该档案袋现在{state}，请先归还再移入结案区",
                       params={"state": STATE_TEXT[position.state]}, field="档案袋",
                       value=display_code(household))
    shelf, slot = _closed_slot(session)
    change = Change("close", shelf, slot, "on_shelf", "", reason.strip()[:200])
    closed = _single(session, household, change, "folder.closed", actor=actor, now=now, expected_version=None,
                     to=shelf.code, slot=slot, reason=reason.strip(), **({"on": on} if on else {}))
    assert closed is not None
    return closed


def _closed_slot(session: Session) -> tuple[Shelf, int]:
    shelves = list_shelves(session, "closed")
    if not shelves:
        raise NotConfigured("库房布局中没有结案区（purpose: closed 的架组）")
    used = {(shelf_id, slot) for shelf_id, slot in session.execute(
        select(FolderPosition.shelf_id, FolderPosition.slot).where(
            FolderPosition.shelf_id.in_([s.id for s in shelves])))}
    spots = [(shelf, slot) for shelf in shelves for slot in range(1, shelf.capacity + 1)]
    last = max((i for i, (shelf, slot) in enumerate(spots) if (shelf.id, slot) in used), default=-1)
    for shelf, slot in spots[last + 1:] + spots[:last + 1]:
        if (shelf.id, slot) not in used:
            return shelf, slot
    raise Conflict("结案区已满，请在库房布局中扩大结案区", field="结案区", value=len(spots))


def reopen_folder(session: Session, household: Household, *, reason: str, actor: str,
                  now: datetime) -> FolderPosition:
    """Bring a folder back from the closed-records area to its village: its old position if still free, else a
    free position that keeps household order."""
    if not reason.strip():
        raise InvalidValue("从结案区取回必须写明原因", field="原因")
    position = _position_or_fail(session, household)
    if position.shelf.purpose != "closed":
        raise Conflict("该档案袋不在结案区", field="档案袋", value=display_code(household))
    shelf, slot = _home_again(session, household)
    change = Change("reopen", shelf, slot, position.state, position.holder, reason)
    back = _single(session, household, change, "folder.reopened", actor=actor, now=now, expected_version=None,
                   to=shelf.code, slot=slot, reason=reason)
    assert back is not None
    return back


def _home_again(session: Session, household: Household) -> tuple[Shelf, int]:
    old = session.execute(select(FolderMovement.shelf_id, FolderMovement.slot)
                          .join(Shelf, Shelf.id == FolderMovement.shelf_id)
                          .where(FolderMovement.household_id == household.id, Shelf.purpose == "village",
                                 Shelf.retired_at.is_(None))
                          .order_by(FolderMovement.seq.desc()).limit(1)).first()
    if old is not None:
        taken = session.scalar(select(FolderPosition.household_id).where(FolderPosition.shelf_id == old[0],
                                                                         FolderPosition.slot == old[1]))
        shelf = session.get(Shelf, old[0])
        if taken is None and shelf is not None and shelf.village_id == household.village_id:
            return shelf, old[1]
    shelves = list_shelves(session)
    folders, _ = village_folders(session, shelves, [household.village_id])
    ref = household.village.ref
    mine = [f for f in folders if f.key != household.id] + [PlanFolder(household.id, ref, household.number, None)]
    planned = plan_shelves(shelves)
    run = grow_run(planned, ref, len(mine), sorted({s.village for s in planned if s.village}, key=village_order))
    if run is not None:
        plan = place_in_run(planned, mine, run)
        if not plan.moves:
            for shelf in shelves[run[0]:run[1] + 1]:
                shelf.village = household.village
            target = plan.targets[household.id]
            return shelves[target[0]], target[1]
    raise Conflict("村(居)委会 {code} 的架位中没有能保持户号顺序的空位，需要重新排架",
                   params={"code": ref}, field="档案袋", value=display_code(household),
                   hint=f"请先运行 archiveprint relayout --village {ref}", action="relayout",
                   action_args={"village": ref})


# --- applying a layout ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BlockedFolder:
    shelf_code: str
    address: str
    folder: str
    head_name: str
    why: str  # removed / smaller / purpose

    def as_json(self) -> dict[str, str]:
        return {"shelf": self.shelf_code, "address": self.address, "folder": self.folder, "head": self.head_name,
                "why": self.why}


BLOCK_REASONS = {"removed": N_("架位被删除"), "smaller": N_("容量变小"), "purpose": N_("用途改变")}


@dataclass
class LayoutReport:
    """The preview of a layout (and, when applied, what was done)."""

    layout: Layout
    diff: LayoutDiff
    summary: list[BlockSummary]
    blocked: list[BlockedFolder]
    warnings: list[str]
    applied: bool = False

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.layout.name, "source": self.layout.source, "sha256": self.layout.sha256,
            "shelves": len(self.layout.shelves), "capacity": self.layout.capacity,
            "blocks": [b.as_json() for b in self.summary],
            "added": [s.code for s in self.diff.added], "removed": [s.code for s in self.diff.removed],
            "changed": [{"code": c.after.code, "fields": list(c.fields)} for c in self.diff.changed],
            "unchanged": self.diff.unchanged, "reordered": self.diff.reordered,
            "blocked": [b.as_json() for b in self.blocked], "warnings": self.warnings, "applied": self.applied,
        }

    def text_lines(self, limit: int = 10) -> list[str]:
        """The preview (or what was applied): blocks, the change against the layout in use, what is in the way."""
        layout, diff = self.layout, self.diff
        lines = [f"库房布局：{layout.name}（{layout.source}）"]
        lines += [f"  {block.line()}" for block in self.summary]
        lines.append(f"合计 {len(layout.shelves)} 层架位，可放 {layout.capacity} 袋。")
        lines.append(f"与当前布局相比：新增 {len(diff.added)} 层，删除 {len(diff.removed)} 层，"
                     f"变更 {len(diff.changed)} 层，不变 {diff.unchanged} 层"
                     f"{'，取档顺序有变化' if diff.reordered else ''}。")
        for title, codes in (("新增", [s.code for s in diff.added]), ("删除", [s.code for s in diff.removed])):
            if codes:
                more = f" …（共 {len(codes)} 层）" if len(codes) > limit else ""
                lines.append(f"  {title}：{'、'.join(codes[:limit])}{more}")
        for change in diff.changed[:limit]:
            parts = [f"{name} {getattr(change.before, name)} → {getattr(change.after, name)}" for name in change.fields]
            lines.append(f"  变更 {change.after.code}：{'；'.join(parts)}")
        if self.blocked:
            lines.append(f"不能应用：{len(self.blocked)} 袋档案还在要删除、缩小或改用途的架位上，请先移走：")
            lines += [f"  {b.folder} {b.head_name}  {b.address}（{BLOCK_REASONS[b.why]}）" for b in self.blocked]
        lines += [f"注意：{warning}" for warning in self.warnings]
        # a report comes back applied, or as the preview (a blocked change that is not a preview raises instead)
        lines.append("已应用。" if self.applied else "（预览，未写入；去掉 --dry-run 即可应用。）")
        return lines


def apply_layout(session: Session, layout: Layout, *, dry_run: bool = False, actor: str,
                 now: datetime) -> LayoutReport:
    """Load an edited layout without losing a folder: shelves that disappear, shrink below an occupied position
    or change purpose must be empty, or the whole change is refused with the list of folders in the way."""
    existing = {shelf.code: shelf for shelf in session.scalars(select(Shelf))}
    active = [shelf for shelf in existing.values() if shelf.retired_at is None]
    diff = diff_layout([shelf.as_spec() for shelf in active], layout)
    report = LayoutReport(layout, diff, summarize(layout.shelves), _blocked(session, diff), [])
    if dry_run:
        report.warnings = _run_warnings(session, layout, existing)
        return report
    if report.blocked:
        listing = joined((Message("{folder}（{address}，{why}）",
                                  {"folder": b.folder, "address": b.address, "why": BLOCK_REASONS[b.why]})
                          for b in report.blocked[:20]), N_("；"))
        more = Message(" 等共 {count} 袋", {"count": len(report.blocked)}) if len(report.blocked) > 20 else ""
        raise OccupiedShelves(Message("以下档案袋还在要删除或缩小的架位上，请先移走：{listing}{more}",
                                      {"listing": listing, "more": more}), report.blocked)
    with session.begin_nested():
        for spec in layout.shelves:
            shelf = existing.get(spec.code)
            if shelf is None:
                shelf = Shelf(code=spec.code, created_at=now)
                session.add(shelf)
            shelf.address, shelf.room_code, shelf.room_name = spec.address, spec.room_code, spec.room_name
            shelf.block_code, shelf.block_name, shelf.kind = spec.block_code, spec.block_name, spec.kind
            shelf.coordinates = [[c.label, c.code, c.text] for c in spec.coordinates]
            shelf.capacity, shelf.width_mm, shelf.seq, shelf.retired_at = spec.capacity, spec.width_mm, spec.seq, None
            if spec.purpose != shelf.purpose:
                shelf.village = None
            shelf.purpose = spec.purpose
        for removed in diff.removed:
            shelf = existing[removed.code]
            shelf.retired_at, shelf.village = now, None
        session.flush()
        _fill_run_gaps(session)
        session.add(StorageLayout(name=layout.name, source=layout.source, sha256=layout.sha256, text=layout.text,
                                  folder_thickness_mm=layout.folder_thickness_mm,
                                  growth_reserve=layout.growth_reserve, position_format=layout.position_format,
                                  shelves=len(layout.shelves), applied_at=now, actor=actor))
        record_event(session, "layout.applied", "storage_layout", layout.sha256[:16], actor=actor, now=now,
                     name=layout.name, source=layout.source, shelves=len(layout.shelves),
                     added=len(diff.added), removed=len(diff.removed), changed=len(diff.changed))
        session.flush()
    report.warnings = _run_warnings(session, layout, None)
    report.applied = True
    return report


def _blocked(session: Session, diff: LayoutDiff) -> list[BlockedFolder]:
    reasons: dict[str, tuple[str, int]] = {s.code: ("removed", 0) for s in diff.removed}
    for change in diff.changed:
        if "purpose" in change.fields:
            reasons[change.after.code] = ("purpose", 0)
        elif "capacity" in change.fields and change.after.capacity < change.before.capacity:
            reasons[change.after.code] = ("smaller", change.after.capacity)
    if not reasons:
        return []
    rows = session.execute(select(Shelf, FolderPosition, Household)
                           .join(FolderPosition, FolderPosition.shelf_id == Shelf.id)
                           .join(Household, Household.id == FolderPosition.household_id)
                           .options(selectinload(Household.village).selectinload(Village.township))
                           .where(Shelf.code.in_(list(reasons)))
                           .order_by(Shelf.seq, FolderPosition.slot))
    out = []
    for shelf, position, household in rows:
        why, keep = reasons[shelf.code]
        if why == "smaller" and position.slot <= keep:
            continue
        out.append(BlockedFolder(shelf.code, f"{shelf.address} 第{position.slot}位", display_code(household),
                                 household.head_name, why))
    return out


def _fill_run_gaps(session: Session) -> None:
    """A new shelf added inside a village's run (between two of its shelves) joins that run."""
    shelves = list_shelves(session)
    for i, shelf in enumerate(shelves):
        if shelf.village is not None:
            continue
        before = next((s.village for s in reversed(shelves[:i]) if s.village is not None), None)
        after = next((s.village for s in shelves[i + 1:] if s.village is not None), None)
        if before is not None and before is after:
            shelf.village = before
    session.flush()


def _run_warnings(session: Session, layout: Layout, existing: dict[str, Shelf] | None) -> list[str]:
    """Villages whose shelves are no longer one unbroken run, or no longer in village-code order."""
    if existing is None:
        pairs = [(s.seq, s.village.ref if s.village else None) for s in list_shelves(session)]
    else:
        pairs = []
        for spec in layout.shelves:
            shelf = existing.get(spec.code)
            if spec.purpose == "village":
                pairs.append((spec.seq, shelf.village.ref if shelf is not None and shelf.village
                              and shelf.purpose == "village" else None))
    pairs.sort()
    warnings = []
    runs: dict[str, list[int]] = {}
    for index, (_, code) in enumerate(pairs):
        if code is not None:
            runs.setdefault(code, []).append(index)
    for code, indexes in sorted(runs.items()):
        if indexes[-1] - indexes[0] + 1 != len(indexes) and any(
                pairs[i][1] not in (code, None) for i in range(indexes[0], indexes[-1] + 1)):
            warnings.append(f"村 {code} 的架位被其他村隔开，不再连续，需要为该村重新排架")
    firsts = sorted((indexes[0], code) for code, indexes in runs.items())
    if [code for _, code in firsts] != sorted(runs, key=village_order):
        warnings.append("各村架位不再按村代码顺序排列，需要重新排架")
    return warnings
