"""Transfers between sites (机构撤并): a whole site, or some of its villages, goes to another site in one transaction.

The folders change custody through the sending site's handover list (移交清单, archiveprint.locations.handover: each
folder is released from its shelf there, with a movement and an event); the villages then change site — and with
them, through the one scope hook, their register, loans history and location history; the folders get places in
the receiving site's rooms by its shelving services (shelve, or one re-layout when they do not fit). Nothing is
renumbered: archive codes and folder codes keep their township. A whole site transferred is closed (read-only
history, `merged_into_id`). One `site.transferred` event names both sites, the villages and the row counts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archiveprint.accounts.scope import AccessScope, apply_scope, current_scope, site_scope
from archiveprint.errors import N_, Conflict, InvalidValue, Message, NotConfigured, NotFound, joined
from archiveprint.eventlog import Event, record_event
from archiveprint.lending.models import Loan, LoanRequest
from archiveprint.lending.queries import with_written_off_loans
from archiveprint.locations.handover import HandoverList, hand_over, select_folders
from archiveprint.locations.models import FolderMovement, FolderPosition, Inventory, Shelf, StorageLayout
from archiveprint.locations.planner import village_order
from archiveprint.locations.queries import (
    PickList,
    ShelfLabel,
    StatusProvider,
    WrittenOff,
    display_code,
    find_places,
    list_shelf_labels,
    list_shelves,
    picklist_of,
    written_off,
)
from archiveprint.locations.relayout import MoveRow, apply_relayout
from archiveprint.locations.services import NeedsRelayout, close_folder, shelve_village, unshelved
from archiveprint.register.models import Household, Resident, Village
from archiveprint.register.services import find_village
from archiveprint.sites.models import Site
from archiveprint.sites.services import find_site

LISTED = 20  # folders named in a refusal before "等共 N 袋"


# --- what a site holds ----------------------------------------------------------------------------------------

COUNTED = ("villages", "households", "residents", "folders_on_shelves", "movements", "loans", "shelves")


def custody_counts(session: Session, site_id: int) -> dict[str, int]:
    """How much a site keeps, read from the tables whatever the session's scope: its villages and, through them,
    households, residents, folders with a place, location history and loans; its shelves."""
    villages, households = Village.__table__, Household.__table__
    in_site = villages.c.site_id == site_id
    by_village = households.join(villages, households.c.village_id == villages.c.id)

    def through_households(table: Any) -> int:
        return session.scalar(select(func.count()).select_from(
            table.join(households, table.c.household_id == households.c.id)
            .join(villages, households.c.village_id == villages.c.id)).where(in_site)) or 0

    return {
        "villages": session.scalar(select(func.count()).select_from(villages).where(in_site)) or 0,
        "households": session.scalar(select(func.count()).select_from(by_village).where(in_site)) or 0,
        "residents": through_households(Resident.__table__),
        "folders_on_shelves": through_households(FolderPosition.__table__),
        "movements": through_households(FolderMovement.__table__),
        "loans": through_households(Loan.__table__),
        "shelves": session.scalar(select(func.count()).select_from(Shelf.__table__)
                                  .where(Shelf.__table__.c.site_id == site_id)) or 0,
    }


# --- the result -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TransferVillage:
    """One village that changes site, as it was before: its code, name and what it holds."""

    code: str  # 12 digits
    name: str
    households: int
    residents: int

    def as_json(self) -> dict[str, object]:
        return {"code": self.code, "name": self.name, "households": self.households, "residents": self.residents}


@dataclass(frozen=True)
class Placement:
    """Where one village's folders went in the receiving site: its run of shelves, how many were placed."""

    village: str  # as the receiving site names it (Village.ref)
    name: str
    placed: int
    run: tuple[str, str] | None

    def as_json(self) -> dict[str, object]:
        return {"village": self.village, "name": self.name, "placed": self.placed,
                "run": list(self.run) if self.run else None}


@dataclass
class Transfer:
    """A transfer as previewed (`dry_run`) or as carried out, with what its documents need: the handover list
    (three copies), the pick list in the old rooms' walking order and the receiving site's changed shelf labels."""

    source: str  # site codes
    target: str
    source_name: str
    target_name: str
    whole_site: bool
    villages: list[TransferVillage]
    handover: HandoverList | None  # None: no folder stood on a shelf
    picklist: PickList
    before: dict[str, dict[str, int]]  # "source"/"target" → custody_counts
    after: dict[str, dict[str, int]]
    placements: list[Placement] = field(default_factory=list)
    closed_area: int = 0  # folders that went to the receiving site's closed-records area (结案区)
    moves: list[MoveRow] = field(default_factory=list)  # a re-layout's moves in the receiving site, if one was needed
    labels: list[ShelfLabel] = field(default_factory=list)
    unshelved: int = 0  # never-shelved folders that came along (no list line, no pick)
    written_off: list[WrittenOff] = field(default_factory=list)  # confirmed lost: listed apart on the handover list
    fingerprint: str = ""
    event_id: int | None = None
    dry_run: bool = True

    @property
    def folders(self) -> int:
        return len(self.handover.lines) if self.handover else 0

    @property
    def number(self) -> str | None:
        return self.handover.number if self.handover else None

    def documents(self) -> list[dict[str, object]]:
        """What is to be printed, with how many lines each: the three documents of a transfer."""
        out: list[dict[str, object]] = []
        if self.handover is not None:
            out.append({"key": "handover", "title": DOCUMENT_TITLES["handover"], "lines": self.folders, "copies": 3})
            out.append({"key": "picklist", "title": DOCUMENT_TITLES["picklist"], "lines": len(self.picklist.rows),
                        "copies": 1})
        if self.labels:
            out.append({"key": "labels", "title": DOCUMENT_TITLES["labels"], "lines": len(self.labels), "copies": 1})
        return out

    def as_json(self) -> dict[str, object]:
        return {"source": self.source, "target": self.target, "source_name": self.source_name,
                "target_name": self.target_name, "whole_site": self.whole_site, "dry_run": self.dry_run,
                "villages": [v.as_json() for v in self.villages], "handover": self.number,
                "folders": self.folders, "unshelved": self.unshelved,
                "written_off": [w.as_json() for w in self.written_off], "closed_area": self.closed_area,
                "placements": [p.as_json() for p in self.placements], "moves": [m.as_json() for m in self.moves],
                "labels": [label.code for label in self.labels], "before": self.before, "after": self.after,
                "documents": self.documents(), "fingerprint": self.fingerprint, "event": self.event_id}

    def text_lines(self) -> list[str]:
        what = "整个机构" if self.whole_site else "村 " + "、".join(f"{v.code} {v.name}" for v in self.villages)
        head = "移交预览（未写入；去掉 --dry-run 即执行）" if self.dry_run else "已移交"
        lines = [f"{head}：{self.source} {self.source_name} → {self.target} {self.target_name}，{what}"]
        number = f" {self.number}" if self.number else "（预览）"
        lines.append(f"  移交清单{number}：{self.folders} 袋；随同转入未上架 {self.unshelved} 袋"
                     if self.handover else f"  没有在架的档案袋；随同转入未上架 {self.unshelved} 袋")
        if self.written_off:
            lines.append(f"  已确认遗失注销 {len(self.written_off)} 袋（清单上另列，不移交实物）："
                         + "、".join(w.folder for w in self.written_off[:LISTED]))
        width = max(len(self.source), len(self.target))
        lines.append(f"  {'':<{width}}     " + "  ".join(f"{COUNT_TEXT[k]:>6}" for k in COUNTED))
        for side, code in (("source", self.source), ("target", self.target)):
            for when, counts in (("移交前", self.before), ("移交后", self.after)):
                if counts:
                    lines.append(f"  {code:<{width}} {when}  " + "  ".join(f"{counts[side][k]:>6}" for k in COUNTED))
        for placement in self.placements:
            run = f"{placement.run[0]} … {placement.run[1]}" if placement.run else "—"
            lines.append(f"  村 {placement.village} {placement.name}：上架 {placement.placed} 袋，架位 {run}")
        if self.closed_area:
            lines.append(f"  结案区：{self.closed_area} 袋")
        if self.moves:
            lines.append(f"  接收机构需重新排架：挪动 {len([m for m in self.moves if m.source])} 袋")
        lines.append(f"  需更换的架位标签：{len(self.labels)} 个")
        if self.dry_run:
            lines += [f"  将打印：{d['title']}，{d['lines']} 行" for d in self.documents()]
            lines.append(f"  核对码 {self.fingerprint}（执行时加 --expect {self.fingerprint}）")
        return lines


DOCUMENT_TITLES = {"handover": N_("移交清单（一式三份）"), "picklist": N_("调档单（原库房行走顺序）"),
                   "labels": N_("架位标签（接收机构）")}
COUNT_TEXT = {"villages": "村", "households": "户", "residents": "人", "folders_on_shelves": "在架",
              "movements": "位置记录", "loans": "借阅", "shelves": "架位"}


# --- carrying it out ------------------------------------------------------------------------------------------

def transfer_villages(session: Session, source: str, target: str, *, villages: Sequence[str] = (),
                      supervisor: str = "", expected: str | None = None, providers: Sequence[StatusProvider] = (),
                      dry_run: bool = False, actor: str, now: datetime) -> Transfer:
    """Transfer the villages named (their 3- or 12-digit codes or names; none: the whole site) from site `source`
    to site `target` (site codes), all in the caller's transaction; with `dry_run` everything is done in a
    savepoint that is rolled back, so the preview is what would be done. `expected`: the fingerprint of the
    preview the clerk confirmed, which must still match. Refused, with nothing written, when a folder is lent or
    asked for, taken out or missing."""
    if session.get_bind().dialect.name == "sqlite":
        raise Conflict("机构之间移交需要两个机构，多个机构需要 PostgreSQL 数据库；SQLite 只有一个机构", field="数据库",
                       value="SQLite")
    sending, receiving = find_site(session, source), find_site(session, target)
    if sending.id == receiving.id:
        raise InvalidValue("移交方和接收方是同一个机构", field="接收机构", value=target)
    for site in (sending, receiving):
        if site.closed:
            raise Conflict("机构“{name}”已撤并，不能再移交或接收档案", params={"name": site.name}, field="机构",
                           value=site.code)
    scope = current_scope(session)
    savepoint = session.begin_nested()
    try:
        result = _transfer(session, sending, receiving, villages, supervisor=supervisor, providers=providers,
                           actor=actor, now=now, dry_run=dry_run)
        if expected is not None and expected != result.fingerprint:
            raise Conflict("预览之后档案或架位有了变化，请重新预览后再确认移交", field="移交", value=expected)
        if dry_run:
            savepoint.rollback()
        else:
            savepoint.commit()
    except BaseException:
        if savepoint.is_active:
            savepoint.rollback()
        raise
    finally:
        apply_scope(session, scope)
        session.expire_all()  # what was loaded in one site's scope (a township's villages …) is read again
    return result


def _transfer(session: Session, sending: Site, receiving: Site, named: Sequence[str], *, supervisor: str,
              providers: Sequence[StatusProvider], actor: str, now: datetime, dry_run: bool) -> Transfer:
    # 1. In the sending site: what goes, whether it may go now, the pick list, then the handover.
    apply_scope(session, site_scope(session, sending.id))
    chosen = _villages(session, sending, named)
    whole = not named
    if whole:
        _no_open_inventory(session)
    ids = [v.id for v in chosen]
    _nothing_out(session, ids)
    refs = [v.ref for v in chosen]
    preview = select_folders(session, villages=refs, leave_unshelved=True, providers=providers)
    if preview.refused:
        listing = joined((Message("{folder}（{why}）", {"folder": r.folder, "why": r.why})
                          for r in preview.refused[:LISTED]), N_("；"))
        raise Conflict("以下档案袋现在不能移交，请先归还或找到后再移交（查找无果的，先确认遗失注销），未做任何记录："
                       "{listing}{more}",
                       params={"listing": listing, "more": _more(len(preview.refused))}, field="移交范围",
                       value=preview.selection)
    lost = with_written_off_loans(session, written_off(session, ids))
    places = find_places(session, [line.household_id for line in preview.lines])
    closed_area = {i for i, place in places.items() if place.status.code == "closed"}
    picklist = picklist_of(session, {line.household_id: [] for line in preview.lines}, providers=providers)
    listed = [TransferVillage(v.full_code, v.name, *_sizes(session, v)) for v in chosen]
    before = {"source": custody_counts(session, sending.id), "target": custody_counts(session, receiving.id)}
    handed: HandoverList | None = None
    if preview.lines:
        _receiving_has_room_for_folders(session, receiving)
        reason = (f"机构撤并：{sending.name}并入{receiving.name}" if whole
                  else f"村(居)委会划归{receiving.name}")
        handed = hand_over(session, from_party=sending.name, to_party=receiving.name, supervisor=supervisor,
                           reason=reason, villages=refs, leave_unshelved=True, written_off=lost, providers=providers,
                           actor=actor, now=now)
    for shelf in session.scalars(select(Shelf).where(Shelf.village_id.in_(ids))):
        shelf.village = None  # the village's run is free again in the sending site
    session.flush()

    # 2. The custody change: the villages (and through them everything of theirs) belong to the receiving site.
    apply_scope(session, AccessScope(several_sites=True))
    for village in chosen:
        village.site = receiving
    if whole:
        sending.status, sending.closed_at, sending.merged_into_id = "closed", now, receiving.id
    session.flush()

    # 3. In the receiving site: places for the folders, by its shelving services.
    apply_scope(session, site_scope(session, receiving.id))
    received = [h for h in session.scalars(select(Household).where(
        Household.id.in_([line.household_id for line in handed.lines] if handed else [])))]
    result = Transfer(sending.code, receiving.code, sending.name, receiving.name, whole, listed, handed, picklist,
                      before, {}, unshelved=preview.unshelved, written_off=lost, dry_run=dry_run)
    _place(session, result, chosen, received, closed_area, handed, actor=actor, now=now)
    result.after = {"source": custody_counts(session, sending.id), "target": custody_counts(session, receiving.id)}
    result.fingerprint = _fingerprint(result)
    event = record_event(session, "site.transferred", "site", sending.id, actor=actor, now=now,
                         **{"from": sending.code, "to": receiving.code}, whole_site=whole,
                         villages=[v.code for v in listed], handover=result.number, folders=result.folders,
                         unshelved=result.unshelved, closed_area=result.closed_area,
                         written_off=[w.as_json() for w in lost],
                         moved=len([m for m in result.moves if m.source]), before=before, after=result.after)
    event.site_id = receiving.id  # the receiving site's history; the sending site's is its handover
    session.flush()
    if dry_run and handed is not None:
        handed.number = handed.handed_at = None  # a preview: the number is given when it is carried out
    result.event_id = None if dry_run else event.id
    return result


def _villages(session: Session, sending: Site, named: Sequence[str]) -> list[Village]:
    """The villages named (in the sending site's scope), or all of them; refused when there are none."""
    if named:
        found = list({v.id: v for v in (find_village(session, key, typed=True) for key in named)}.values())
    else:
        found = list(session.scalars(select(Village)))
    if not found:
        raise InvalidValue("{name}没有村(居)委会可移交", params={"name": sending.name}, field="移交机构",
                           value=sending.code)
    return sorted(found, key=lambda v: village_order(v.ref))


def _sizes(session: Session, village: Village) -> tuple[int, int]:
    households = session.scalar(select(func.count()).select_from(Household)
                                .where(Household.village_id == village.id)) or 0
    residents = session.scalar(select(func.count()).select_from(Resident).join(
        Household, Household.id == Resident.household_id).where(Household.village_id == village.id)) or 0
    return households, residents


def _more(count: int) -> Message | str:
    return Message(" 等共 {count} 袋", {"count": count}) if count > LISTED else ""


def _nothing_out(session: Session, village_ids: list[int]) -> None:
    """Open loans and requests are refused, naming the folders: they must be returned (or the requests closed)
    first — a loan belongs to the sending site's borrower and desk, which the receiving site does not see."""
    households = select(Household.id).where(Household.village_id.in_(village_ids))
    _refuse_any(session, select(Household).join(Loan, Loan.household_id == Household.id)
                .where(Household.id.in_(households), Loan.is_open()),
                N_("以下档案袋借出未还，请先归还再移交，未做任何记录：{listing}{more}"), field=N_("借阅"))
    _refuse_any(session, select(Household).join(LoanRequest, LoanRequest.household_id == Household.id)
                .where(Household.id.in_(households), LoanRequest.status == "open"),
                N_("以下档案袋有待放行的调阅申请，请先放行归还或取消后再移交，未做任何记录：{listing}{more}"),
                field=N_("调阅申请"))


def _refuse_any(session: Session, stmt: Any, template: Message, *, field: str) -> None:
    found = session.scalars(stmt.order_by(Household.village_id, Household.number)).all()
    if found:
        listing = joined((Message("{folder} {head}", {"folder": display_code(h), "head": h.head_name})
                          for h in found[:LISTED]), N_("；"))
        raise Conflict(template, params={"listing": listing, "more": _more(len(found))}, field=field,
                       value=display_code(found[0]))


def _no_open_inventory(session: Session) -> None:
    """A site that closes keeps no count open (it could never be closed afterwards)."""
    open_count = session.scalar(select(Inventory.number).where(Inventory.state == "open").limit(1))
    if open_count is not None:
        raise Conflict("盘点 {number} 尚未结束，请先结束盘点再移交整个机构", params={"number": open_count},
                       field="盘点", value=open_count)


def _receiving_has_room_for_folders(session: Session, receiving: Site) -> None:
    layouts = StorageLayout.__table__  # the receiving site's, read from the table in the sending site's scope
    has_layout = session.scalar(select(layouts.c.id).where(layouts.c.site_id == receiving.id).limit(1))
    if has_layout is None:
        raise NotConfigured("接收机构“{name}”尚未载入库房布局，无法给移交来的档案袋安排架位",
                            params={"name": receiving.name},
                            hint=f"请先运行 archiveprint --site {receiving.code} layout apply 布局文件.yaml")


def _place(session: Session, result: Transfer, villages: list[Village], received: list[Household],
           closed_area: set[int], handed: HandoverList | None, *, actor: str, now: datetime) -> None:
    """Shelve each village's folders in the receiving site (its own villages keep their places); when one does
    not fit without moving others, one re-layout of the whole village area places them all instead. Folders that
    stood in the closed-records area go to the receiving site's, if it has one."""
    closed_shelves = list_shelves(session, "closed")
    to_close = [h for h in received if h.id in closed_area] if closed_shelves else []
    to_shelve = [h for h in received if h not in to_close]
    by_village: dict[int, list[Household]] = {}
    for household in to_shelve:
        by_village.setdefault(household.village_id, []).append(household)
    touched: set[str] = set()
    try:
        with session.begin_nested():
            for village in villages:
                done = shelve_village(session, village, received=by_village.get(village.id, []), actor=actor,
                                      now=now)
                if done.placed:
                    result.placements.append(Placement(village.ref, village.name, done.placed, done.run))
                    touched |= _run_codes(session, done.run)
    except NeedsRelayout:
        result.placements, touched = [], set()
        waiting = [*to_shelve, *(h for v in villages for h in unshelved(session, v.id))]
        planned = apply_relayout(session, None, extra=waiting, actor=actor, now=now)
        result.moves = planned.rows
        touched = {label.code for label in planned.labels}
        for village in villages:
            mine = [m for m in planned.rows if m.village == village.ref and not m.aside and not m.source]
            run = planned.runs_after.get(village.ref)
            result.placements.append(Placement(village.ref, village.name, len(mine), run[:2] if run else None))
    number = handed.number if handed else ""
    for household in to_close:
        close_folder(session, household, reason=f"机构撤并移交 {number}", actor=actor, now=now)
    result.closed_area = len(to_close)
    result.labels = list_shelf_labels(session, codes=sorted(touched)) if touched else []


def _run_codes(session: Session, run: tuple[str, str] | None) -> set[str]:
    """The shelf codes of a run (first … last in filling order): each gets a new label."""
    if run is None:
        return set()
    shelves = list_shelves(session)
    seqs = {shelf.code: shelf.seq for shelf in shelves}
    low, high = seqs[run[0]], seqs[run[1]]
    return {shelf.code for shelf in shelves if low <= shelf.seq <= high}


def _fingerprint(result: Transfer) -> str:
    """What the clerk confirms: the villages, the folders on the list, where they go and the counts."""
    text = repr((result.source, result.target, [v.code for v in result.villages],
                 [line.household_id for line in result.handover.lines] if result.handover else [],
                 [p.as_json() for p in result.placements], [m.as_json() for m in result.moves],
                 result.unshelved, result.closed_area, [w.household_id for w in result.written_off],
                 result.before))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def find_transfer(session: Session, event_id: int) -> dict[str, Any]:
    """What the `site.transferred` event of a transfer records (read from the table, whatever the scope)."""
    events = Event.__table__
    row = session.execute(select(events.c.data, events.c.occurred_at, events.c.actor)
                          .where(events.c.id == event_id, events.c.kind == "site.transferred")).first()
    if row is None:
        raise NotFound("没有这次移交", field="移交", value=event_id)
    return {**row.data, "at": row.occurred_at, "actor": row.actor, "event": event_id}
