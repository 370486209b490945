"""Read side of locations: locate folders, their status and history, pick lists, shelf fill and shelf-label data."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import cache
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, literal_column, select
from sqlalchemy.orm import Session, selectinload

from archiveprint.errors import ArchiveprintError, Conflict, InvalidValue, NotConfigured, NotFound
from archiveprint.eventlog import Event
from archiveprint.locations.layout import (
    PURPOSE_TEXT,
    BlockSummary,
    address_key,
    position_text,
    split_position,
    summarize,
)
from archiveprint.locations.models import FolderMovement, FolderPosition, Shelf, StorageLayout
from archiveprint.locations.planner import village_order
from archiveprint.register.codes import folder_code, parse_folder_code
from archiveprint.register.models import Household, Resident, Township, Village
from archiveprint.register.names import is_head
from archiveprint.register.queries import classify_query, resolve_scan, village_clause
from archiveprint.sites.models import HISTORY

LOCATE_LIMIT = 20
OVERFLOW_SOON = 20  # a village with room for fewer new folders than this is warned about
NAME_LIMIT = 50
STATUS_TEXT = {"on_shelf": "在架", "out": "已取出", "lent": "借出", "missing": "下落不明", "closed": "结案区",
               "unshelved": "未上架", "gone": "已移出档案室"}
KIND_TEXT = {"shelve": "上架", "move": "移位", "relayout": "重新排架", "take_out": "取出", "put_back": "归还",
             "missing": "登记下落不明", "found": "找到归位", "close": "移入结案区", "reopen": "从结案区取回",
             "release": "移出档案室"}
HOUSEHOLD_EVENT_TEXT = {"household.created": "建户", "household.updated": "修改户信息"}


# --- shared look-ups -----------------------------------------------------------------------------------------

def display_code(household: Household) -> str:
    return folder_code(household.village.full_code, household.number).display


def current_layout(session: Session) -> StorageLayout:
    layout = session.scalar(select(StorageLayout).order_by(StorageLayout.id.desc()).limit(1))
    if layout is None:
        raise NotConfigured("尚未载入库房布局", hint="请先运行 archiveprint layout apply 布局文件.yaml",
                            action="load_layout")
    return layout


def _format_column() -> Any:
    """The layout's position format as a column: one uncorrelated subquery, so no extra round trip."""
    return (select(StorageLayout.position_format).order_by(StorageLayout.id.desc()).limit(1)
            .scalar_subquery().label("position_format"))


def position_format(session: Session) -> str:
    """How positions are written (第{}位), from the layout in use."""
    return session.scalar(select(_format_column())) or "第{}位"


def full_address(shelf: Shelf, slot: int, fmt: str) -> str:
    return f"{shelf.address} {position_text(fmt, slot)}"


def list_shelves(session: Session, purpose: str | None = "village") -> list[Shelf]:
    """Active shelves (of one purpose, or all) in filling and walking order."""
    stmt = select(Shelf).where(Shelf.retired_at.is_(None)).options(selectinload(Shelf.village))
    if purpose is not None:
        stmt = stmt.where(Shelf.purpose == purpose)
    return list(session.scalars(stmt.order_by(Shelf.seq)))


@dataclass(frozen=True)
class LayoutInUse:
    """The layout in use as `layout show` prints it: where it came from, its blocks, each village's run."""

    name: str
    source: str
    sha256: str
    applied_at: datetime
    actor: str
    shelves: int
    capacity: int
    blocks: list[BlockSummary]
    runs: dict[str, list[str]]  # "201 东村" → the village's shelf codes in filling order

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "source": self.source, "sha256": self.sha256,
                "applied_at": self.applied_at.isoformat(), "actor": self.actor, "shelves": self.shelves,
                "capacity": self.capacity, "blocks": [b.as_json() for b in self.blocks],
                "villages": {k: {"first": v[0], "last": v[-1], "shelves": len(v)} for k, v in self.runs.items()}}

    def text_lines(self) -> list[str]:
        lines = [f"库房布局：{self.name}（{self.source}，{self.applied_at:%Y-%m-%d %H:%M} 由 {self.actor} 载入）"]
        lines += [f"  {block.line()}" for block in self.blocks]
        lines.append(f"合计 {self.shelves} 层架位，可放 {self.capacity} 袋。")
        lines += [f"  村 {village}：{codes[0]} … {codes[-1]}（{len(codes)} 层）"
                  for village, codes in self.runs.items()]
        return lines


def find_layout_in_use(session: Session) -> LayoutInUse:
    """The layout last applied, counted from the active shelves."""
    layout = current_layout(session)
    shelves = list_shelves(session, None)
    runs: dict[str, list[str]] = {}
    for shelf in shelves:
        if shelf.village is not None:
            runs.setdefault(f"{shelf.village.ref} {shelf.village.name}", []).append(shelf.code)
    return LayoutInUse(layout.name, layout.source, layout.sha256, layout.applied_at, layout.actor, len(shelves),
                       sum(s.capacity for s in shelves), summarize([shelf.as_spec() for shelf in shelves]), runs)


def find_shelf(session: Session, text: str) -> tuple[Shelf, int | None]:
    """A shelf by location code or printed address, with the position if one was given (…#17, … 第17位)."""
    shelf_part, slot = split_position(text)
    code = shelf_part.strip()
    shelf = session.scalar(select(Shelf).where(Shelf.code.in_({code, code.upper()}), Shelf.retired_at.is_(None)))
    if shelf is None:
        key = address_key(code)
        shelf = next((s for s in list_shelves(session, None) if address_key(s.address) == key), None)
    if shelf is None:
        raise NotFound("没有这个架位（可写位置编码如 K1-M-3-A-2-4，或完整位置如 一号库房 3列 A面 2节 4层）",
                       field="位置", value=text)
    if slot is not None and not 1 <= slot <= shelf.capacity:
        raise InvalidValue("该层只有 {capacity} 个位置", params={"capacity": shelf.capacity}, field="位置", value=text)
    return shelf, slot


def shelf_range(session: Session, first: str | None, last: str | None, *, field: str) -> list[Shelf]:
    """The active shelves from `first` to `last` in filling order (both ends required, in order) — the scope of an
    inventory or a handover; `field` names the form field in the error."""
    if not (first and last):
        raise InvalidValue("起止架位要同时给出", field=field, value=first or last)
    start, _ = find_shelf(session, first)
    end, _ = find_shelf(session, last)
    if start.seq > end.seq:
        raise InvalidValue("起始架位 {start} 在结束架位 {end} 之后（按上架顺序）",
                           params={"start": start.code, "end": end.code}, field=field,
                           value=f"{first} … {last}")
    shelves = list(session.scalars(select(Shelf).where(Shelf.retired_at.is_(None), Shelf.seq >= start.seq,
                                                       Shelf.seq <= end.seq).order_by(Shelf.seq)))
    if not shelves:
        raise InvalidValue("这个范围里没有在用的架位", field=field, value=f"{first} … {last}")
    return shelves


def find_household(session: Session, text: str) -> Household:
    """The folder a clerk scanned or typed: a folder code, or a resident's archive code (their household's folder)."""
    return resolve_scan(session, text).household


# --- status and place ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FolderStatus:
    """What a clerk needs to know before walking to the shelf: 在架, 借出给…自…, 下落不明, 结案区 …"""

    code: str
    since: datetime | None = None
    holder: str = ""

    @property
    def text(self) -> str:
        base = STATUS_TEXT.get(self.code, self.code)
        if self.code in ("out", "lent") and self.holder:
            base = f"{base}：{self.holder}"
        if self.since and self.code not in ("on_shelf", "unshelved", "closed"):
            base = f"{base}（自 {self.since:%Y-%m-%d}）"
        return base

    def as_json(self) -> dict[str, object]:
        return {"code": self.code, "text": self.text, "since": self.since.isoformat() if self.since else None,
                "holder": self.holder}


WRITTEN_OFF = "folder.written_off"  # the event of a folder confirmed lost (确认遗失/注销): who, when, why, approved by


@dataclass(frozen=True)
class WrittenOff:
    """A folder confirmed lost (确认遗失/注销), with its loss record: who recorded it, when, why, who approved it."""

    household_id: int
    folder: str
    village_name: str
    household_number: int
    head_name: str
    at: datetime
    actor: str
    reason: str
    approved_by: str
    loan: str = ""  # lost while lent: the loan written off with it (遗失注销), as lending names it; "" if none

    def as_json(self) -> dict[str, object]:
        return {"household_id": self.household_id, "folder": self.folder, "village_name": self.village_name,
                "household_number": self.household_number, "head_name": self.head_name, "at": self.at.isoformat(),
                "actor": self.actor, "reason": self.reason, "approved_by": self.approved_by,
                **({"loan": self.loan} if self.loan else {})}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WrittenOff:
        """As `as_json` kept it (in a handover's event)."""
        return cls(int(data["household_id"]), str(data["folder"]), str(data["village_name"]),
                   int(data["household_number"]), str(data["head_name"]), datetime.fromisoformat(str(data["at"])),
                   str(data["actor"]), str(data["reason"]), str(data["approved_by"]), str(data.get("loan", "")))


def written_off(session: Session, village_ids: Sequence[int]) -> list[WrittenOff]:
    """The folders of these villages confirmed lost and not back since (no position), in village and household
    order, each with its latest loss record."""
    households = session.execute(
        select(Household.id, Household.number, Household.head_name, Village.name, Village.code)
        .join(Village, Village.id == Household.village_id)
        .where(Household.village_id.in_(village_ids),
               ~select(FolderPosition.household_id).where(FolderPosition.household_id == Household.id).exists())
        .order_by(Village.code, Household.number)).all() if village_ids else []
    by_id = {str(row[0]): row for row in households}
    records: dict[str, Event] = {}
    ids = list(by_id)
    for start in range(0, len(ids), 500):
        for event in session.scalars(select(Event).where(Event.kind == WRITTEN_OFF, Event.entity_type == "household",
                                                         Event.entity_id.in_(ids[start:start + 500]))
                                     .order_by(Event.id)):
            records[event.entity_id] = event  # the latest one wins
    out = []
    for key, (household_id, number, head, village_name, _code) in by_id.items():
        event = records.get(key)
        if event is not None:
            out.append(WrittenOff(household_id, str(event.data.get("folder", "")), village_name, number, head,
                                  event.occurred_at, event.actor, str(event.data.get("reason", "")),
                                  str(event.data.get("approved_by", ""))))
    return out


# A higher job (lending) says more about folders that are out: it gets household ids and answers with a status
# (e.g. FolderStatus("lent", since, "张医生（东村卫生室）")) for the ones it knows. Locations never imports it.
StatusProvider = Callable[[Session, Sequence[int]], Mapping[int, FolderStatus]]


@dataclass(frozen=True)
class Place:
    """Where a folder belongs and whether it is there."""

    household_id: int
    shelf_code: str | None
    address: str  # full, with the position: 一号库房 3列 A面 2节 4层 第17位 ("" when it has none)
    seq: int | None
    slot: int | None
    state: str  # on_shelf / out / missing / unshelved / gone
    version: int
    status: FolderStatus

    def as_json(self) -> dict[str, object]:
        return {"shelf": self.shelf_code, "address": self.address or None, "slot": self.slot, "state": self.state,
                "version": self.version, "status": self.status.as_json()}


_PLACE_COLUMNS = (FolderPosition.slot, FolderPosition.state, FolderPosition.holder, FolderPosition.since,
                  FolderPosition.version, Shelf.code, Shelf.address, Shelf.seq, Shelf.purpose)


def _place(household_id: int, row: Sequence[Any], fmt: str) -> Place:
    """A Place from the `_PLACE_COLUMNS` of one row (plain tuples: locate builds no ORM objects)."""
    slot, state, holder, since, version, code, address, seq, purpose = row
    if state == "on_shelf":
        status = FolderStatus("closed" if purpose == "closed" else "on_shelf", since)
    else:
        status = FolderStatus(state, since, holder)
    return Place(household_id, code, f"{address} {position_text(fmt, slot)}", seq, slot, state, version, status)


def find_places(session: Session, household_ids: Iterable[int],
                providers: Sequence[StatusProvider] = ()) -> dict[int, Place]:
    """Place and status of many folders in one or two queries per 500 (no N+1), whatever their number."""
    ids = list(dict.fromkeys(household_ids))
    places: dict[int, Place] = {}
    for chunk in _chunks(ids):
        for row in session.execute(select(FolderPosition.household_id, *_PLACE_COLUMNS, _format_column())
                                   .join(Shelf, Shelf.id == FolderPosition.shelf_id)
                                   .where(FolderPosition.household_id.in_(chunk))):
            places[row[0]] = _place(row[0], row[1:-1], row[-1] or "第{}位")
    return _complete(session, places, ids, providers)


def find_place(session: Session, household_id: int, providers: Sequence[StatusProvider] = ()) -> Place:
    """One folder's place and status."""
    return find_places(session, [household_id], providers)[household_id]


def find_folder(session: Session, household_id: int, *, version: str | None = None) -> Household:
    """The household whose folder a clerk acts on, refused if the folder moved since the clerk's page was drawn
    (`version`, the place's version as the page holds it; none: not checked)."""
    household = session.get(Household, household_id)
    if household is None:
        raise NotFound("没有这一户", field="户", value=household_id)
    if version and str(find_place(session, household.id).version) != version:
        raise Conflict("该档案袋的位置刚被别人改过，请刷新后再试", field="档案袋", value=display_code(household))
    return household


def _complete(session: Session, places: dict[int, Place], ids: Sequence[int],
              providers: Sequence[StatusProvider]) -> dict[int, Place]:
    """Folders without a position (never shelved, or released), then what higher jobs know about those out or
    unshelved (a loan)."""
    missing = [i for i in ids if i not in places]
    for chunk in _chunks(missing):
        last = dict(session.execute(select(FolderMovement.household_id, func.max(FolderMovement.seq))
                                    .where(FolderMovement.household_id.in_(chunk))
                                    .group_by(FolderMovement.household_id)).all())
        for household_id in chunk:
            state = "gone" if household_id in last else "unshelved"
            places[household_id] = Place(household_id, None, "", None, None, state, last.get(household_id, 0),
                                         FolderStatus(state))
    # A folder lent before it was ever shelved is still lent: ask about unshelved folders too.
    out_ids = [i for i, p in places.items() if p.state in ("out", "missing", "unshelved")]
    for provider in providers:
        if not out_ids:
            break
        for household_id, status in provider(session, out_ids).items():
            if household_id in places:
                places[household_id] = _with_status(places[household_id], status)
    return places


def _with_status(place: Place, status: FolderStatus) -> Place:
    return Place(place.household_id, place.shelf_code, place.address, place.seq, place.slot, place.state,
                 place.version, status)


def _chunks(items: Sequence[int], size: int = 500) -> Iterable[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# --- locate --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Member:
    archive_code: str
    name: str
    relation: str
    status: str  # active / closed


@dataclass(frozen=True)
class FolderLocation:
    """One folder found: its code, household, members and place."""

    household_id: int
    folder: str  # 19 characters, as the barcode holds it
    folder_display: str
    village: str
    village_name: str
    household_number: int
    head_name: str
    members: tuple[Member, ...]
    place: Place
    matched: tuple[str, ...] = ()  # archive codes of the residents the query matched

    def as_json(self) -> dict[str, object]:
        return {"folder": self.folder, "folder_display": self.folder_display, "household": self.household_id,
                "village": self.village, "village_name": self.village_name, "household_number": self.household_number,
                "head_name": self.head_name, "location": self.place.address or None, "shelf": self.place.shelf_code,
                "status": self.place.status.code, "status_text": self.place.status.text,
                "since": self.place.status.since.isoformat() if self.place.status.since else None,
                "version": self.place.version, "matched": list(self.matched),
                "members": [{"archive_code": m.archive_code, "name": m.name, "relation": m.relation,
                             "status": m.status} for m in self.members]}


def locate(session: Session, query: str, *, providers: Sequence[StatusProvider] = (),
           limit: int = LOCATE_LIMIT) -> list[FolderLocation]:
    """Folder code, archive code, name (or its start), pinyin initials, ID number or phone → folders with places."""
    matched = find_household_ids(session, query, limit=limit)
    return locations_of(session, matched, providers=providers)


def find_household_ids(session: Session, query: str, *, limit: int = LOCATE_LIMIT) -> dict[int, list[str]]:
    """Households a query names, best first, each with the archive codes of the residents that matched."""
    kind, key = classify_query(query)
    if kind == "empty":
        return {}
    if kind == "folder":
        code = parse_folder_code(key)
        found = session.scalar(_folder_statement(), {"county": code.village_prefix[:6],
                                                     "township": code.village_prefix[6:9],
                                                     "village": code.village_prefix[9:],
                                                     "number": code.household_number})
        return {found: []} if found is not None else {}
    stmt = select(Resident.household_id, Resident.archive_code)
    if kind == "code":
        rows = session.execute(stmt.where(Resident.archive_code == key)).all()
    elif kind == "id_number":
        rows = session.execute(stmt.where(Resident.id_number == key)).all()
    elif kind == "phone":
        rows = session.execute(stmt.where(Resident.phone == key).limit(NAME_LIMIT)).all()
    elif kind == "short_code":
        rows = session.execute(stmt.join(Village, Village.id == Resident.village_id)
                               .where(Village.code == key[:3], Resident.serial == int(key[3:]))).all()
    elif kind == "initials":
        rows = _prefix_rows(session, Resident.name_initials, key)
    else:
        rows = _prefix_rows(session, Resident.name, key)  # the exact name sorts before every longer one
    out: dict[int, list[str]] = {}
    for household_id, code in rows:
        if household_id not in out and len(out) >= limit:
            break
        out.setdefault(household_id, []).append(code)
    return out


def _prefix_rows(session: Session, column: Any, prefix: str) -> list[tuple[int, str]]:
    """Residents whose name (or initials) is `prefix` or starts with it, at most NAME_LIMIT, in index order: byte
    order puts the exact matches ("张三", by archive code) before the longer ones ("张三丰").

    One index range scan that stops at the limit on both databases. PostgreSQL: LIKE on the text_pattern_ops index
    (right under any collation), ordered `USING ~<~` so that the planner walks that index instead of guessing how
    many rows a LIKE keeps and scanning the table (a 100 ms seq scan for initials such as "lzh" that have thousands
    of exact matches and no longer ones). SQLite, whose LIKE ignores case and so skips indexes: a range on the
    BINARY-ordered index."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    stmt = _prefix_statement(column.key, postgresql)
    if postgresql:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        values = {"pattern": f"{escaped}%"}
    else:
        values = {"low": prefix, "high": prefix + "\U0010ffff"}
    return [(household_id, code) for household_id, code in session.execute(stmt, values)]


# Locate's statements are built once with bound parameters: building a 20-column joined SELECT in Python cost more
# than running it (bench/locate.py); SQLAlchemy's compiled cache then serves every look-up.

@cache
def _folder_statement() -> Select[Any]:
    return (select(Household.id).join(Village, Village.id == Household.village_id)
            .join(Township, Township.id == Village.township_id)
            .where(Township.county_code == bindparam("county"), Township.code == bindparam("township"),
                   Village.code == bindparam("village"), Household.number == bindparam("number")))


@cache
def _prefix_statement(key: str, postgresql: bool) -> Select[Any]:
    column = getattr(Resident, key)
    stmt = select(Resident.household_id, Resident.archive_code)
    if postgresql:
        target = column.expression
        stmt = stmt.where(column.like(bindparam("pattern"), escape="\\")).order_by(
            literal_column(f"{target.table.name}.{target.name} USING ~<~"), Resident.archive_code)
    else:
        stmt = stmt.where(column >= bindparam("low"), column < bindparam("high")).order_by(column,
                                                                                         Resident.archive_code)
    return stmt.limit(NAME_LIMIT)


@cache
def _locations_statement() -> Select[Any]:
    """One row per member, each carrying its household, village, position, shelf and the position format."""
    return (select(Household.id, Household.number, Household.head_name, Village.code, Village.name,
                   Township.county_code, Township.code, Resident.archive_code, Resident.name,
                   Resident.relation_to_head, Resident.status, *_PLACE_COLUMNS, _format_column())
            .join(Village, Village.id == Household.village_id).join(Township, Township.id == Village.township_id)
            .outerjoin(Resident, Resident.household_id == Household.id)
            .outerjoin(FolderPosition, FolderPosition.household_id == Household.id)
            .outerjoin(Shelf, Shelf.id == FolderPosition.shelf_id)
            .where(Household.id.in_(bindparam("ids", expanding=True))))


def locations_of(session: Session, matched: Mapping[int, Sequence[str]], *,
                 providers: Sequence[StatusProvider] = ()) -> list[FolderLocation]:
    """Folders with their household, members and place in one query per 500 folders (plain rows, no ORM objects):
    one row per member, each carrying its household, village, position, shelf and the position format."""
    heads: dict[int, tuple[Any, ...]] = {}
    places: dict[int, Place] = {}
    members: dict[int, list[Member]] = {}
    for chunk in _chunks(list(matched)):
        rows = session.execute(_locations_statement(), {"ids": chunk})
        for row in rows:
            household_id = row[0]
            heads[household_id] = tuple(row[1:7])
            if row[7] is not None:
                members.setdefault(household_id, []).append(Member(*row[7:11]))
            if row[11] is not None:
                places[household_id] = _place(household_id, row[11:20], row[20] or "第{}位")
    places = _complete(session, places, list(heads), providers)
    out = []
    for household_id, codes in matched.items():
        if household_id not in heads:
            continue
        number, head_name, village, village_name, county, township = heads[household_id]
        code = folder_code(county + township + village, number)
        ordered = tuple(sorted(members.get(household_id, []), key=lambda m: (not is_head(m.relation), m.archive_code)))
        out.append(FolderLocation(household_id, code.value, code.display, village, village_name, number, head_name,
                                  ordered, places[household_id], tuple(codes)))
    return out


# --- history -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MovementView:
    seq: int
    at: datetime
    kind: str
    address: str
    shelf_code: str | None
    slot: int | None
    state: str
    holder: str
    reason: str
    actor: str

    @property
    def kind_text(self) -> str:
        return KIND_TEXT.get(self.kind, self.kind)

    def as_json(self) -> dict[str, object]:
        return {"seq": self.seq, "at": self.at.isoformat(), "kind": self.kind, "kind_text": self.kind_text,
                "address": self.address or None, "shelf": self.shelf_code, "slot": self.slot, "state": self.state,
                "holder": self.holder, "reason": self.reason, "actor": self.actor}


def list_movements(session: Session, household_id: int, *, until: datetime | None = None) -> list[MovementView]:
    """The folder's whole location history, oldest first (optionally only up to a moment)."""
    fmt = position_format(session)
    # Through the relationship: the shelves of a site the folder came from (机构撤并) are read with its history.
    stmt = (select(FolderMovement).options(selectinload(FolderMovement.shelf))
            .where(FolderMovement.household_id == household_id).order_by(FolderMovement.seq))
    if until is not None:
        stmt = stmt.where(FolderMovement.at <= until)
    return [MovementView(m.seq, m.at, m.kind, full_address(s, m.slot, fmt) if s is not None and m.slot else "",
                         s.code if s is not None else None, m.slot, m.state, m.holder, m.reason, m.actor)
            for m in session.scalars(stmt) for s in (m.shelf,)]


def find_position_at(session: Session, household_id: int, at: datetime) -> MovementView | None:
    """Where the folder was at a moment: the last movement at or before it (None: not shelved yet)."""
    history = list_movements(session, household_id, until=at)
    return history[-1] if history else None


@dataclass(frozen=True)
class Touch:
    """Someone who handled the folder or changed its record, with what they did and when."""

    actor: str
    count: int
    first: datetime
    last: datetime
    actions: tuple[str, ...]
    codes: tuple[str, ...] = ()  # movement kinds (shelve, move …) and event kinds (household.created …)

    def as_json(self) -> dict[str, object]:
        return {"actor": self.actor, "count": self.count, "first": self.first.isoformat(),
                "last": self.last.isoformat(), "actions": list(self.actions)}


@dataclass(frozen=True)
class LocatedFolder:
    """A folder as `locate` shows it: where it is and, when asked, where it was at the end of a day and its history
    with who handled it."""

    location: FolderLocation
    on: date | None = None
    position_on: MovementView | None = None  # where it was at the end of `on` (None: not shelved yet)
    history: list[MovementView] | None = None
    touches: list[Touch] | None = None

    def as_json(self) -> dict[str, object]:
        data = self.location.as_json()
        if self.on is not None:
            data["on"] = {"date": self.on.isoformat(),
                          "position": self.position_on.as_json() if self.position_on else None}
        if self.history is not None:
            data["history"] = [m.as_json() for m in self.history]
        if self.touches is not None:
            data["touched_by"] = [t.as_json() for t in self.touches]
        return data

    def text_lines(self) -> list[str]:
        location, place = self.location, self.location.place
        members = "、".join(f"{m.name}（{m.relation or '成员'}{'，已结案' if m.status == 'closed' else ''}）"
                           for m in location.members)
        lines = [f"{location.folder_display}  {location.village_name} 第{location.household_number}户  "
                 f"户主 {location.head_name}",
                 f"  位置：{place.address or '—'}{f'（{place.shelf_code}）' if place.shelf_code else ''}",
                 f"  状态：{place.status.text}",
                 f"  成员：{members or '—'}"]
        if self.on is not None:
            at = self.position_on
            lines.append(f"  {self.on.isoformat()} 当天结束时：{(at.address or at.kind_text) if at else '尚未上架'}")
        lines += [f"    {m.at.isoformat()[:16]}  {m.kind_text}  {m.address or ''}  {m.holder or ''} "
                  f"{m.reason or ''}  （{m.actor}）" for m in self.history or []]
        if self.touches:
            lines.append("  经手人：" + "、".join(f"{t.actor}（{t.count} 次，最近 {t.last.isoformat()[:10]}）"
                                             for t in self.touches))
        return lines


def find_located_folder(session: Session, location: FolderLocation, *, on: date | None = None,
                        history: bool = False) -> LocatedFolder:
    """A located folder with its position at the end of day `on` and, with `history`, its movements and handlers."""
    household_id = location.household_id
    return LocatedFolder(location, on,
                        find_position_at(session, household_id, datetime.combine(on, time.max)) if on else None,
                        list_movements(session, household_id) if history else None,
                        list_touches(session, household_id) if history else None)


def list_touches(session: Session, household_id: int) -> list[Touch]:
    """Who has touched the folder: every actor of its movements and of the household's own events. `codes` are
    the movement kinds and event kinds (for the web page's words), `actions` the same in Chinese (command line)."""
    entries: list[tuple[str, datetime, str]] = [
        (actor, at, kind) for actor, at, kind in session.execute(
            select(FolderMovement.actor, FolderMovement.at, FolderMovement.kind)
            .where(FolderMovement.household_id == household_id))]
    entries += [(actor, at, kind) for actor, at, kind in session.execute(
        select(Event.actor, Event.occurred_at, Event.kind)
        .where(Event.entity_type == "household", Event.entity_id == str(household_id),
               ~Event.kind.startswith("folder.")).execution_options(**{HISTORY: True}))]
    by_actor: dict[str, list[tuple[datetime, str]]] = {}
    for actor, at, action in entries:
        by_actor.setdefault(actor, []).append((at, action))
    out = []
    for actor, items in by_actor.items():
        items.sort()
        codes = tuple(dict.fromkeys(a for _, a in items))
        out.append(Touch(actor, len(items), items[0][0], items[-1][0],
                         tuple(KIND_TEXT.get(code, HOUSEHOLD_EVENT_TEXT.get(code, code)) for code in codes), codes))
    return sorted(out, key=lambda t: t.last, reverse=True)


@dataclass(frozen=True)
class FolderDetail:
    """What the locate page shows of one folder beyond its place."""

    history: list[MovementView]
    touches: list[Touch]
    at_date: MovementView | None  # where it was at the moment asked about (None: not asked, or not yet shelved)
    closed_members: list[tuple[str, str]]  # (archive code, name) of the members whose records are closed


def find_folder_detail(session: Session, household_id: int, *, at: datetime | None = None) -> FolderDetail:
    """One folder's history, who touched it, where it was at `at`, and the members a clerk may reopen."""
    household = session.get(Household, household_id)
    assert household is not None
    return FolderDetail(list_movements(session, household_id), list_touches(session, household_id),
                        find_position_at(session, household_id, at) if at is not None else None,
                        [(m.archive_code, m.name) for m in household.members if m.status == "closed"])


def replay_positions(session: Session) -> dict[int, tuple[int, int, str, str]]:
    """Current positions rebuilt from the history alone (latest movement per folder; released folders drop out):
    household id → (shelf id, slot, state, holder). Must equal `folder_positions` row for row."""
    latest = (select(FolderMovement.household_id, func.max(FolderMovement.seq).label("seq"))
              .group_by(FolderMovement.household_id).subquery())
    rows = session.execute(select(FolderMovement).join(latest, and_(
        latest.c.household_id == FolderMovement.household_id, latest.c.seq == FolderMovement.seq)))
    return {m.household_id: (m.shelf_id, m.slot, m.state, m.holder) for (m,) in rows if m.shelf_id is not None}


def current_positions(session: Session) -> dict[int, tuple[int, int, str, str]]:
    return {p.household_id: (p.shelf_id, p.slot, p.state, p.holder)
            for p in session.scalars(select(FolderPosition))}


# --- pick lists ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PickRow:
    number: int
    location: FolderLocation
    requested: tuple[str, ...]  # what was asked for (codes as typed)

    @property
    def wanted(self) -> str:
        """The requested residents' names (or the head's, when the folder itself was asked for)."""
        names = [m.name for m in self.location.members if m.archive_code in self.location.matched]
        return "、".join(names) if names else self.location.head_name


@dataclass
class PickList:
    rows: list[PickRow]
    not_found: list[tuple[str, str]] = field(default_factory=list)  # (code as typed, why)

    def as_json(self) -> dict[str, object]:
        return {"rows": [{"number": r.number, "requested": list(r.requested), "wanted": r.wanted,
                          **r.location.as_json()} for r in self.rows],
                "not_found": [{"code": c, "error": e} for c, e in self.not_found]}

    def text_lines(self) -> list[str]:
        """The rows in walking order (what was not found is listed apart: `not_found`)."""
        return [f"{row.number:>3}. {row.location.place.address or '—':<28} {row.location.folder_display}  "
                f"{row.location.head_name}  {row.location.place.status.text}" for row in self.rows]


def find_picklist(session: Session, codes: Sequence[str], *,
                  providers: Sequence[StatusProvider] = ()) -> PickList:
    """Folders for a list of folder or archive codes (a doctor's list for tomorrow's clinic) in walking order:
    folders on their shelves by shelf and position, then those that are not (out, missing, not shelved)."""
    wanted: dict[int, list[str]] = {}
    asked: dict[int, list[str]] = {}
    not_found: list[tuple[str, str]] = []
    for code in codes:
        if not code.strip():
            continue
        try:
            scan = resolve_scan(session, code)
        except ArchiveprintError as error:
            not_found.append((code, str(error)))
            continue
        wanted.setdefault(scan.household.id, [])
        asked.setdefault(scan.household.id, []).append(code)
        if scan.resident is not None:
            wanted[scan.household.id].append(scan.resident.archive_code)
    return picklist_of(session, wanted, asked, not_found, providers=providers)


def picklist_of(session: Session, wanted: dict[int, list[str]], asked: dict[int, list[str]] | None = None,
                not_found: list[tuple[str, str]] | None = None, *,
                providers: Sequence[StatusProvider] = ()) -> PickList:
    """The pick list of folders already known by household id (→ the archive codes wanted from each; `asked`: what
    was typed for each, by default those codes), in walking order: a caller that has the households (the monthly
    packet) skips resolving thousands of scanned codes one by one."""
    asked = asked if asked is not None else wanted
    located = locations_of(session, wanted, providers=providers)

    def walking(location: FolderLocation) -> tuple[int, int, int, str]:
        place = location.place
        on_shelf = place.state == "on_shelf" and place.seq is not None
        return (0 if on_shelf else 1, place.seq or 0, place.slot or 0, location.folder)

    rows = [PickRow(i, loc, tuple(asked[loc.household_id]))
            for i, loc in enumerate(sorted(located, key=walking), start=1)]
    return PickList(rows, not_found or [])


def find_pick_codes(session: Session, lines: Sequence[str]) -> tuple[list[str], list[tuple[str, int]]]:
    """A pick list as typed: codes stay as they are, a name (or phone, ID number) becomes the folder code of the one
    household it names. The lines naming no single household come back with how many they name (0, or 2: several)."""
    codes: list[str] = []
    unmatched: list[tuple[str, int]] = []
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
            unmatched.append((line, len(matched)))
    return codes, unmatched


# --- capacity and shelf labels -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ShelfFill:
    code: str
    address: str
    purpose: str
    village: str | None
    capacity: int
    used: int
    last_slot: int

    @property
    def fill(self) -> float:
        return self.used / self.capacity

    def as_json(self) -> dict[str, object]:
        return {"code": self.code, "address": self.address, "purpose": self.purpose, "village": self.village,
                "capacity": self.capacity, "used": self.used, "fill": round(self.fill, 3)}


@dataclass(frozen=True)
class VillageFill:
    """A village's run of shelves and how much room is left for new households (which go after the last folder)."""

    code: str
    name: str
    shelves: int
    first_shelf: str | None
    last_shelf: str | None
    capacity: int
    used: int
    households: int
    unshelved: int
    room_in_run: int  # positions after the last folder in the run
    room_next_to_run: int  # free shelves right after the run that shelving takes over without moving anyone, less
    # what villages not yet shelved will take there (they get the first free shelves after their neighbour)

    @property
    def room_left(self) -> int:
        """New folders that still fit without a re-layout (negative: already short by that many)."""
        return self.room_in_run + self.room_next_to_run - self.unshelved

    @property
    def message(self) -> str:
        if not self.shelves:
            return f"村 {self.code} 还没有分配架位（{self.unshelved} 袋待上架）"
        if self.room_left < 0:
            return f"村 {self.code} 已超出 {-self.room_left} 袋，请运行 relayout --village {self.code}"
        if self.room_left < OVERFLOW_SOON:
            return f"村 {self.code} 再有 {self.room_left + 1} 袋就会超出"
        return f"村 {self.code} 还能放 {self.room_left} 袋（本村架位 {self.room_in_run} 袋）"

    def as_json(self) -> dict[str, object]:
        return {"code": self.code, "name": self.name, "shelves": self.shelves, "first_shelf": self.first_shelf,
                "last_shelf": self.last_shelf, "capacity": self.capacity, "used": self.used,
                "fill": round(self.used / self.capacity, 3) if self.capacity else None,
                "households": self.households, "unshelved": self.unshelved, "room_in_run": self.room_in_run,
                "room_next_to_run": self.room_next_to_run, "room_left": self.room_left,
                "overflow_in": self.room_left + 1 if self.shelves and self.room_left >= 0 else None,
                "message": self.message}


@dataclass
class Capacity:
    shelves: list[ShelfFill]
    villages: list[VillageFill]

    def totals(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for shelf in self.shelves:
            entry = out.setdefault(shelf.purpose, {"shelves": 0, "capacity": 0, "used": 0})
            entry["shelves"] += 1
            entry["capacity"] += shelf.capacity
            entry["used"] += shelf.used
        return out

    def as_json(self) -> dict[str, object]:
        return {"totals": self.totals(), "villages": [v.as_json() for v in self.villages],
                "shelves": [s.as_json() for s in self.shelves]}

    def text_lines(self, *, shelves: bool = False) -> list[str]:
        """Totals per purpose, then each village's run and room (and, with `shelves`, every shelf's fill)."""
        lines = []
        for purpose, total in self.totals().items():
            fill = total["used"] / total["capacity"] if total["capacity"] else 0
            lines.append(f"{PURPOSE_TEXT.get(purpose, purpose)}：{total['shelves']} 层，"
                         f"{total['used']}/{total['capacity']} 袋（{fill:.0%}）")
        for v in self.villages:
            fill_text = f"{v.used / v.capacity:.0%}" if v.capacity else "—"
            run = f"{v.first_shelf} … {v.last_shelf}（{v.shelves} 层）" if v.shelves else "未分配架位"
            lines.append(f"  {v.code} {v.name}：{run}，{v.used}/{v.capacity} 袋（{fill_text}），待上架 {v.unshelved}。"
                         f"{v.message}")
        if shelves:
            lines += [f"    {s.code:<16} {s.village or '':<4} {s.used:>3}/{s.capacity:<3} {s.fill:>5.0%}  {s.address}"
                      for s in self.shelves]
        return lines


def find_capacity(session: Session) -> Capacity:
    """Fill per shelf and per village, and how many more folders each village takes before it overflows."""
    shelves = list_shelves(session, None)
    usage = {shelf_id: (count, last) for shelf_id, count, last in session.execute(
        select(FolderPosition.shelf_id, func.count(), func.max(FolderPosition.slot))
        .group_by(FolderPosition.shelf_id))}
    fills = [ShelfFill(s.code, s.address, s.purpose, s.village.ref if s.village else None, s.capacity,
                       *usage.get(s.id, (0, 0))) for s in shelves]
    area = [f for f in fills if f.purpose == "village"]
    households = dict(session.execute(select(Household.village_id, func.count()).group_by(Household.village_id))
                      .all())
    never = dict(session.execute(
        select(Household.village_id, func.count()).where(
            ~select(FolderMovement.id).where(FolderMovement.household_id == Household.id).exists())
        .group_by(Household.village_id)).all())
    allocated = sorted({f.village for f in area if f.village}, key=village_order)
    pending = _pending_needs(session, allocated, never)
    villages = []
    for village in sorted(session.scalars(select(Village)), key=lambda v: village_order(v.ref)):
        ref = village.ref
        indexes = [i for i, f in enumerate(area) if f.village == ref]
        run = [area[i] for i in indexes]
        room_in_run = room_next = 0
        if run:
            last = max((i for i, f in enumerate(run) if f.used), default=-1)
            room_in_run = (run[last].capacity - run[last].last_slot if last >= 0 else 0) + sum(
                f.capacity for f in run[last + 1:])
            for f in area[indexes[-1] + 1:]:
                if f.village is not None:
                    break
                room_next += f.capacity
            after = [code for code in allocated if village_order(code) > village_order(ref)]
            following = village_order(after[0]) if after else None
            room_next = max(0, room_next - sum(
                need for code, need in pending.items()
                if village_order(code) > village_order(ref) and (following is None or village_order(code) < following)))
        if not run and not households.get(village.id):
            continue
        villages.append(VillageFill(ref, village.name, len(run), run[0].code if run else None,
                                    run[-1].code if run else None, sum(f.capacity for f in run),
                                    sum(f.used for f in run), households.get(village.id, 0),
                                    never.get(village.id, 0), room_in_run, room_next))
    return Capacity(fills, villages)


def _pending_needs(session: Session, allocated: Sequence[str], never: Mapping[int, int]) -> dict[str, int]:
    """Villages with folders waiting but no shelves yet, and the positions shelving will give each (its folders
    plus the layout's growth reserve, as `services.shelve_village` counts them)."""
    waiting = {village_id: n for village_id, n in never.items() if n}
    if not waiting:
        return {}
    reserve = session.scalar(select(StorageLayout.growth_reserve).order_by(StorageLayout.id.desc()).limit(1)) or 0.0
    codes = {village.id: village.ref for village in session.scalars(select(Village).where(
        Village.id.in_(list(waiting))))}
    return {codes[village_id]: max(n + 1, math.ceil(n * (1 + reserve))) for village_id, n in waiting.items()
            if codes[village_id] not in allocated}


@dataclass(frozen=True)
class ShelfLabel:
    """What a shelf label prints: location code (for the barcode), address, village and folder range."""

    code: str
    address: str
    village_code: str | None
    village_name: str
    village_prefix: str  # 12 digits, to build folder codes
    first_number: int | None
    last_number: int | None
    folder_count: int
    capacity: int

    @property
    def range_text(self) -> str:
        if self.first_number is None or not self.village_prefix:
            return ""
        first = folder_code(self.village_prefix, self.first_number).short
        last = folder_code(self.village_prefix, self.last_number or self.first_number).short
        return f"{first} — {last}"

    def as_json(self) -> dict[str, object]:
        return {"code": self.code, "address": self.address, "village": self.village_code,
                "village_name": self.village_name, "village_prefix": self.village_prefix,
                "first_number": self.first_number, "last_number": self.last_number,
                "folder_count": self.folder_count, "capacity": self.capacity, "range": self.range_text}


def list_shelf_labels(session: Session, codes: Sequence[str] | None = None,
                      village: str | None = None) -> list[ShelfLabel]:
    """Shelf-label data for some shelves (by location code), one village's run, or every active shelf."""
    stmt = (select(Shelf).where(Shelf.retired_at.is_(None))
            .options(selectinload(Shelf.village).selectinload(Village.township)).order_by(Shelf.seq))
    if codes is not None:
        stmt = stmt.where(Shelf.code.in_(list(codes)))
    if village is not None:
        stmt = stmt.join(Village, Village.id == Shelf.village_id).where(village_clause(village))
    shelves = list(session.scalars(stmt))
    ranges = {shelf_id: (low, high, count) for shelf_id, low, high, count in session.execute(
        select(FolderPosition.shelf_id, func.min(Household.number), func.max(Household.number), func.count())
        .join(Household, Household.id == FolderPosition.household_id)
        .join(Shelf, Shelf.id == FolderPosition.shelf_id)
        .where(FolderPosition.shelf_id.in_([s.id for s in shelves]), Household.village_id == Shelf.village_id)
        .group_by(FolderPosition.shelf_id))} if shelves else {}
    out = []
    for shelf in shelves:
        low, high, count = ranges.get(shelf.id, (None, None, 0))
        v = shelf.village
        out.append(ShelfLabel(shelf.code, shelf.address, v.ref if v else None, v.name if v else "",
                              v.full_code if v else "", low, high, count, shelf.capacity))
    return out
