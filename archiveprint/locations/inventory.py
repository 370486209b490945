"""Inventory (盘点): count a fixed range of shelves by scan or scanner file, reconcile, mark missing, close.

A count covers only the shelves chosen when it starts (a range in filling order, a list, or a village's run), so a
partial count never reports the rest of the room as missing. Scans are append-only rows; a re-sent scan (same client
id) or re-uploaded file (same sha256) adds nothing, while a folder genuinely read twice is reported as such. Lending
sits above locations, so who has a lent folder comes in through `providers` (`lending.queries.status_provider`).
Reading a scanner's file is in scanfiles.py, the signed record (PDF) in documents.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from archiveprint.accounts.models import User
from archiveprint.accounts.services import audit
from archiveprint.clock import local_time, utc_from_local, zone
from archiveprint.errors import N_, ArchiveprintError, Conflict, InvalidValue, Message, NotFound, joined
from archiveprint.eventlog import record_event
from archiveprint.locations.models import (
    FolderPosition,
    Inventory,
    InventoryScan,
    InventoryShelf,
    InventoryUpload,
    Shelf,
    add_numbered,
)
from archiveprint.locations.queries import (
    STATUS_TEXT,
    Place,
    StatusProvider,
    display_code,
    find_places,
    find_shelf,
    shelf_range,
)
from archiveprint.locations.scanfiles import CodeLine, decode_codes_file, parse_codes_file
from archiveprint.locations.services import put_back, report_missing
from archiveprint.register.models import Household, Village
from archiveprint.register.queries import resolve_scan
from archiveprint.register.services import find_village

PREFIX = "PD"
# Report order; the Chinese names are the printed headings.
CATEGORIES = {
    "found": "在架（位置正确）",
    "recovered": "找回（此前已登记下落不明）",
    "misplaced": "错架（放错位置）",
    "out_of_range": "不属本次盘点范围",
    "closed": "结案档案（应在结案区）",
    "lent": "借出或取出（不算缺失）",
    "missing": "缺失（未扫到）",
    "unknown": "无法识别或无此档案",
    "twice": "重复扫描",
}
Progress = Callable[[int, int], None]


# --- starting a count -----------------------------------------------------------------------------------------

def start_inventory(session: Session, *, counters: Sequence[str], first: str | None = None, last: str | None = None,
                    shelves: Sequence[str] = (), village: str | None = None, supervisor: str = "", actor: str,
                    now: datetime) -> Inventory:
    """Open a numbered count over exactly one scope: `first`…`last` (location codes or addresses, in filling order),
    a list of `shelves`, or a `village`'s run. The shelves are frozen now; later layout changes do not widen it."""
    names = [n.strip() for n in counters if n and n.strip()]
    if not names:
        raise InvalidValue("请写明盘点人", field="盘点人")
    scopes = [bool(first or last), bool(shelves), bool(village)]
    if sum(scopes) != 1:
        raise InvalidValue("请只选一种盘点范围：起止架位、架位列表或村", field="盘点范围")
    village_row = None
    if first or last:
        chosen = shelf_range(session, first, last, field="盘点范围")
        start, end = chosen[0], chosen[-1]
        scope, text = "range", f"{start.code} … {end.code}（{len(chosen)} 层）"
    elif shelves:
        found = {find_shelf(session, code)[0] for code in shelves if code.strip()}
        chosen = sorted(found, key=lambda s: s.seq)
        listed = "、".join(s.code for s in chosen)
        scope, text = "shelves", (listed if len(listed) < 260 else listed[:256] + " …") + f"（{len(chosen)} 层）"
    else:
        assert village is not None
        village_row = find_village(session, village)
        chosen = list(session.scalars(select(Shelf).where(Shelf.retired_at.is_(None),
                                                          Shelf.village_id == village_row.id).order_by(Shelf.seq)))
        if not chosen:
            raise Conflict("该村还没有分配架位", field="村(居)委会", value=village,
                           hint="先运行 archiveprint shelve", action="shelve_all")
        scope = "village"
        text = f"村 {village_row.code} {village_row.name}：{chosen[0].code} … {chosen[-1].code}（{len(chosen)} 层）"
    if not chosen:
        raise InvalidValue("盘点范围内没有架位", field="盘点范围")
    inventory = Inventory(scope=scope, scope_text=text, village=village_row, counters="、".join(names)[:200],
                          supervisor=supervisor.strip()[:64], state="open", started_at=now, started_by=actor,
                          marked_missing=0, marked_found=0)
    add_numbered(session, inventory, PREFIX, now.year)
    for seq, shelf in enumerate(chosen, start=1):
        session.add(InventoryShelf(inventory=inventory, shelf_id=shelf.id, seq=seq))
    record_event(session, "inventory.started", "inventory", inventory.id, actor=actor, now=now,
                 number=inventory.number, scope=scope, range=text, shelves=len(chosen), counters=names)
    session.flush()
    return inventory


def find_inventory(session: Session, key: str | int) -> Inventory:
    """A count by its number (PD-2026-0001) or id."""
    text = str(key).strip().upper()
    stmt = select(Inventory).options(selectinload(Inventory.shelves).selectinload(InventoryShelf.shelf))
    inventory = session.scalar(stmt.where(Inventory.id == int(text)) if text.isdigit()
                               else stmt.where(Inventory.number == text))
    if inventory is None:
        raise NotFound("没有这次盘点", field="盘点编号", value=key)
    return inventory


@dataclass(frozen=True)
class InventorySummary:
    id: int
    number: str
    state: str
    scope_text: str
    counters: str
    started_at: datetime
    closed_at: datetime | None
    scans: int

    def as_json(self) -> dict[str, object]:
        return {**asdict(self), "started_at": self.started_at.isoformat(),
                "closed_at": self.closed_at.isoformat() if self.closed_at else None}

    def text_lines(self) -> list[str]:
        state = "进行中" if self.state == "open" else "已结束"
        return [f"{self.number}  {state}  {self.started_at:%Y-%m-%d}  {self.scope_text}  盘点人 {self.counters}  "
                f"扫描 {self.scans}"]


def list_inventories(session: Session, *, state: str | None = None) -> list[InventorySummary]:
    """Counts, newest first, with how many scans each holds."""
    counts = (select(InventoryScan.inventory_id, func.count().label("n")).group_by(InventoryScan.inventory_id)
              .subquery())
    stmt = (select(Inventory, func.coalesce(counts.c.n, 0)).outerjoin(counts, counts.c.inventory_id == Inventory.id)
            .order_by(Inventory.id.desc()))
    if state is not None:
        stmt = stmt.where(Inventory.state == state)
    return [InventorySummary(i.id, i.number, i.state, i.scope_text, i.counters, i.started_at, i.closed_at, n)
            for i, n in session.execute(stmt)]


def _open(inventory: Inventory) -> None:
    if inventory.state != "open":
        raise Conflict("这次盘点已结束，不能再记录扫描", field="盘点编号", value=inventory.number)


# --- scanning -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ScanOutcome:
    """What one scan at the station did: a shelf label selects the shelf; a folder is checked at once."""

    kind: str  # shelf / folder / unknown
    code: str
    message: str
    category: str | None = None  # as in CATEGORIES (twice when read before)
    folder: str = ""
    head_name: str = ""
    home: str = ""  # where the folder belongs
    shelf: str | None = None  # shelf it was found on (or the shelf the label selected)
    scan_id: int | None = None
    replayed: bool = False  # a re-sent client id: nothing was added

    def as_json(self) -> dict[str, object]:
        return asdict(self)

    def text_lines(self) -> list[str]:
        return [f"{self.folder or self.code}  {self.head_name}  {self.message}".replace("    ", " ")]


def record_scan(session: Session, inventory: Inventory, code: str, *, shelf: str | None = None,
                client_id: str | None = None, at: datetime | None = None,
                providers: Sequence[StatusProvider] = (), actor: str, now: datetime) -> ScanOutcome:
    """Record one code read at the station (folder code, resident archive code or a form's re-filing barcode) and
    say at once where it belongs. A shelf's location code selects that shelf instead (the station keeps it and sends
    it as `shelf` with the folders that follow). Re-sending the same `client_id` adds nothing."""
    _open(inventory)
    code = (code or "").strip()
    if not code:
        raise InvalidValue("扫描内容为空", field="条码")
    client_id = (client_id or "").strip()[:64] or None
    if client_id is not None:
        earlier = session.scalar(select(InventoryScan).where(InventoryScan.inventory_id == inventory.id,
                                                             InventoryScan.client_id == client_id))
        if earlier is not None:
            return _outcome(session, inventory, earlier, providers, replayed=True)
    label = session.scalar(select(Shelf).where(Shelf.code == code.upper(), Shelf.retired_at.is_(None)))
    if label is not None:
        in_scope = label.id in {s.shelf_id for s in inventory.shelves}
        note = "" if in_scope else "（不在本次盘点范围内）"
        return ScanOutcome("shelf", code, f"当前架位：{label.address}{note}", shelf=label.code)
    found_on = find_shelf(session, shelf)[0] if shelf and shelf.strip() else None
    scan = _new_scan(session, inventory, code, found_on, client_id=client_id, at=at or now, actor=actor, now=now)
    try:
        with session.begin_nested():
            session.add(scan)
            session.flush()
    except IntegrityError:  # the same client id sent twice at once: the other request stored it
        earlier = session.scalar(select(InventoryScan).where(InventoryScan.inventory_id == inventory.id,
                                                             InventoryScan.client_id == client_id))
        if earlier is None:
            raise
        return _outcome(session, inventory, earlier, providers, replayed=True)
    return _outcome(session, inventory, scan, providers, replayed=False)


def _new_scan(session: Session, inventory: Inventory, code: str, shelf: Shelf | None, *, client_id: str | None,
              at: datetime, actor: str, now: datetime, upload_id: int | None = None,
              line: int | None = None) -> InventoryScan:
    household_id, error = None, ""
    try:
        household_id = resolve_scan(session, code).household.id
    except ArchiveprintError as problem:
        error = str(problem)[:200]
    return InventoryScan(inventory_id=inventory.id, code=code[:64], household_id=household_id, error=error,
                         shelf_id=shelf.id if shelf else None, client_id=client_id, upload_id=upload_id, line=line,
                         scanned_at=at, recorded_at=now, actor=actor)


def _outcome(session: Session, inventory: Inventory, scan: InventoryScan, providers: Sequence[StatusProvider], *,
             replayed: bool) -> ScanOutcome:
    shelf = session.get(Shelf, scan.shelf_id) if scan.shelf_id else None
    if scan.household_id is None:
        said = scan.error if "无法识别" in scan.error else f"无法识别：{scan.error}"  # said once, not twice
        return ScanOutcome("unknown", scan.code, said, "unknown",
                           shelf=shelf.code if shelf else None, scan_id=scan.id, replayed=replayed)
    household = session.get(Household, scan.household_id)
    assert household is not None
    place = find_places(session, [household.id], providers)[household.id]
    scope = {s.shelf.code for s in inventory.shelves}
    category, note = classify_scanned(place, scope, shelf.code if shelf else None,
                                      shelf.purpose if shelf else None)
    reads = len(session.scalars(select(InventoryScan.id).where(InventoryScan.inventory_id == inventory.id,
                                                               InventoryScan.household_id == household.id)).all())
    message = CATEGORIES[category] + (f"：{note}" if note else "")
    if reads > 1:
        category, message = "twice", f"重复扫描（第 {reads} 次）。{message}"
    return ScanOutcome("folder", scan.code, message, category, display_code(household), household.head_name,
                       place.address, shelf.code if shelf else None, scan.id, replayed)


# --- a scanner's stored-codes file (read by scanfiles.py) ------------------------------------------------------

@dataclass(frozen=True)
class UploadResult:
    filename: str
    sha256: str
    encoding: str
    lines: int  # code lines read (shelf labels included)
    scans: int  # scans added (0 when the same file was uploaded before)
    shelves: int  # shelf labels read
    already: bool

    def as_json(self) -> dict[str, object]:
        return asdict(self)

    def text_lines(self) -> list[str]:
        if self.already:
            return [f"这个文件此前已导入过（{self.sha256[:12]}），未重复计数。"]
        return [f"已导入 {self.scans} 次扫描（{self.encoding}，架位标签 {self.shelves} 个）。"]


def upload_codes(session: Session, inventory: Inventory, data: bytes, *, filename: str, timezone: str,
                 progress: Progress | None = None, actor: str, now: datetime) -> UploadResult:
    """Add a scanner's stored codes, all or nothing: any bad line (or unknown shelf) refuses the whole file with
    the line numbers. A shelf label read in the file sets the shelf for the codes after it (the counter scans the
    shelf label, then its folders). A scanner writes the room's wall-clock time: times in the file are read in
    `timezone` (the site rules' IANA name, passed in by the caller) and stored as UTC; without one, `now`."""
    zone(timezone)  # an unknown zone name refuses the file before anything is read
    _open(inventory)
    digest = hashlib.sha256(data).hexdigest()
    text, encoding = decode_codes_file(data)
    if session.scalar(select(InventoryUpload.id).where(InventoryUpload.inventory_id == inventory.id,
                                                       InventoryUpload.sha256 == digest)) is not None:
        return UploadResult(filename, digest, encoding, 0, 0, 0, True)
    lines, problems = parse_codes_file(text)
    shelves = {s.code: s for s in session.scalars(select(Shelf).where(Shelf.retired_at.is_(None)))}
    resolved: list[tuple[CodeLine, Shelf | None]] = []
    current: Shelf | None = None
    labels = 0
    for item in lines:
        if item.code.upper() in shelves and item.shelf is None:
            current, labels = shelves[item.code.upper()], labels + 1
            continue
        where = current
        if item.shelf is not None:
            where = shelves.get(item.shelf.upper())
            if where is None:
                try:
                    where = find_shelf(session, item.shelf)[0]
                except ArchiveprintError:
                    problems.append((item.line, Message("没有这个架位“{shelf}”", {"shelf": item.shelf})))
                    continue
        resolved.append((item, where))
    if problems:
        problems.sort()
        listing = joined((Message("第{row}行：{why}", {"row": n, "why": why}) for n, why in problems[:10]), N_("；"))
        more = Message("（共 {count} 行有问题）", {"count": len(problems)}) if len(problems) > 10 else ""
        raise InvalidValue("文件有错误，未导入任何扫描：{listing}{more}",
                           params={"listing": listing, "more": more}, row=problems[0][0], field="文件",
                           value=filename)
    with session.begin_nested():
        upload = InventoryUpload(inventory_id=inventory.id, filename=filename[:255], sha256=digest,
                                 encoding=encoding, lines=len(lines), scans=len(resolved), uploaded_at=now,
                                 actor=actor)
        session.add(upload)
        try:
            session.flush()
        except IntegrityError:
            raise Conflict("同一文件正在被另一人导入，请稍后查看盘点结果", field="文件", value=filename) from None
        for done, (item, where) in enumerate(resolved, start=1):
            at = utc_from_local(item.at, timezone) if item.at is not None else now
            session.add(_new_scan(session, inventory, item.code, where, client_id=None, at=at, actor=actor, now=now,
                                  upload_id=upload.id, line=item.line))
            if progress is not None and (done % 200 == 0 or done == len(resolved)):
                session.flush()
                progress(done, len(resolved))
        record_event(session, "inventory.uploaded", "inventory", inventory.id, actor=actor, now=now,
                     number=inventory.number, filename=filename, sha256=digest, scans=len(resolved))
        session.flush()
    return UploadResult(filename, digest, encoding, len(lines), len(resolved), labels, False)


# --- reconciling ------------------------------------------------------------------------------------------------

def classify_scanned(place: Place, scope: set[str], found_on: str | None,
                     found_purpose: str | None) -> tuple[str, str]:
    """Category and note for a folder that was read: where it was found against where it belongs."""
    status = place.status
    if status.code == "lent" or (status.code == "missing" and getattr(status, "lost", False)):
        return "lent", f"{status.text}；本次在架上扫到，请核对借阅记录"
    if place.state in ("gone", "unshelved"):
        return "out_of_range", STATUS_TEXT[place.state]
    if place.state == "missing":
        wrong = found_on is not None and found_on != place.shelf_code
        return "recovered", f"现在 {found_on}，应放回 {place.address}" if wrong else f"应在 {place.address}"
    note = f"记录为{status.text}，本次在架上扫到" if place.state == "out" else ""
    if place.shelf_code not in scope:
        if status.code == "closed" and found_purpose != "closed":
            return "closed", _join(f"应放入 {place.address}", note)
        return "out_of_range", _join(f"应在 {place.address}", note)
    if found_on is not None and found_on != place.shelf_code:
        return "misplaced", _join(f"在 {found_on} 扫到，应在 {place.address}", note)
    return "found", note


def _join(*parts: str) -> str:
    return "；".join(p for p in parts if p)


def classify_unscanned(place: Place) -> tuple[str, str]:
    """Category and note for a folder that belongs in the range but was not read."""
    status = place.status
    if status.code == "lent":
        return "lent", status.text
    if place.state == "out":
        return "lent", status.text
    if place.state == "missing":
        return "missing", f"此前已登记：{status.text}"
    return "missing", ""


@dataclass(frozen=True)
class InventoryRow:
    """One line of the report (plain values only, so a closed count keeps its report as JSON)."""

    category: str
    folder: str = ""
    head_name: str = ""
    home: str = ""  # the address where it belongs
    home_shelf: str | None = None
    found_on: str | None = None  # shelf code where it was read
    note: str = ""
    code: str = ""  # as scanned (unknown codes)
    count: int = 1  # reads (twice)
    household_id: int | None = None
    sort: tuple[int, int] = (0, 0)

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data["sort"] = list(self.sort)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InventoryRow:
        return cls(**{**data, "sort": tuple(data.get("sort") or (0, 0))})


@dataclass
class InventoryReport:
    """The reconciled count: every category with its rows, and the totals the signed record prints."""

    number: str
    state: str
    scope_text: str
    counters: str
    supervisor: str
    started_at: datetime
    closed_at: datetime | None
    expected: int  # folders whose home is in the range
    scans: int  # reads recorded (shelf labels not counted)
    folders_scanned: int
    rows: dict[str, list[InventoryRow]] = field(default_factory=dict)
    marked_missing: int = 0
    marked_found: int = 0

    @property
    def counts(self) -> dict[str, int]:
        return {category: len(self.rows.get(category, [])) for category in CATEGORIES}

    def household_ids(self) -> list[int]:
        return list(dict.fromkeys(r.household_id for rows in self.rows.values() for r in rows if r.household_id))

    def as_json(self) -> dict[str, Any]:
        return {"number": self.number, "state": self.state, "range": self.scope_text, "counters": self.counters,
                "supervisor": self.supervisor, "started_at": self.started_at.isoformat(),
                "closed_at": self.closed_at.isoformat() if self.closed_at else None, "expected": self.expected,
                "scans": self.scans, "folders_scanned": self.folders_scanned, "counts": self.counts,
                "marked_missing": self.marked_missing, "marked_found": self.marked_found,
                "rows": {c: [r.as_json() for r in self.rows.get(c, [])] for c in CATEGORIES}}

    def text_lines(self, limit: int = 50) -> list[str]:
        """The totals, then the rows that need attention (up to `limit` per category)."""
        lines = [f"盘点 {self.number}（{'进行中' if self.state == 'open' else '已结束'}）：{self.scope_text}",
                 f"  盘点人：{self.counters}；应在架 {self.expected} 袋，扫描 {self.scans} 次，"
                 f"{self.folders_scanned} 袋"]
        lines += [f"  {CATEGORIES[category]}：{count}" for category, count in self.counts.items()]
        for category in ("missing", "misplaced", "unknown", "twice", "lent", "recovered", "closed", "out_of_range"):
            lines += [f"    [{CATEGORIES[category][:2]}] {row.folder or row.code}  {row.head_name}  "
                      f"{row.home}  {row.note}".rstrip() for row in self.rows.get(category, [])[:limit]]
        return lines

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InventoryReport:
        return cls(data["number"], data["state"], data["range"], data["counters"], data["supervisor"],
                   datetime.fromisoformat(data["started_at"]),
                   datetime.fromisoformat(data["closed_at"]) if data["closed_at"] else None, data["expected"],
                   data["scans"], data["folders_scanned"],
                   {c: [InventoryRow.from_json(r) for r in rows] for c, rows in data["rows"].items()},
                   data["marked_missing"], data["marked_found"])


def reconcile(session: Session, inventory: Inventory, *,
              providers: Sequence[StatusProvider] = ()) -> InventoryReport:
    """Sort every folder of the range and every read into the categories. A closed count returns the report as it
    was closed (the signed record does not change when folders move afterwards)."""
    if inventory.state == "closed" and inventory.result:
        return InventoryReport.from_json(inventory.result)
    scope_ids = {s.shelf_id for s in inventory.shelves}
    scope = {s.shelf.code for s in inventory.shelves}
    expected_ids = list(session.scalars(select(FolderPosition.household_id)
                                        .where(FolderPosition.shelf_id.in_(scope_ids))))
    scans = list(session.scalars(select(InventoryScan).where(InventoryScan.inventory_id == inventory.id)
                                 .order_by(InventoryScan.id)))
    shelf_codes = dict(session.execute(select(Shelf.id, Shelf.code)).all())
    shelf_purpose = dict(session.execute(select(Shelf.code, Shelf.purpose)).all())
    reads: dict[int, list[InventoryScan]] = {}
    for scan in scans:
        if scan.household_id is not None:
            reads.setdefault(scan.household_id, []).append(scan)
    ids = list(dict.fromkeys([*expected_ids, *reads]))
    places = find_places(session, ids, providers)
    households = _households(session, ids)
    report = InventoryReport(inventory.number, inventory.state, inventory.scope_text, inventory.counters,
                             inventory.supervisor, inventory.started_at, inventory.closed_at, len(expected_ids),
                             len(scans), len(reads), {c: [] for c in CATEGORIES}, inventory.marked_missing,
                             inventory.marked_found)

    def row(category: str, household_id: int, note: str, found_on: str | None = None, count: int = 1) -> None:
        place, household = places[household_id], households[household_id]
        report.rows[category].append(InventoryRow(
            category, display_code(household), household.head_name, place.address, place.shelf_code, found_on, note,
            count=count, household_id=household_id, sort=(place.seq or 1 << 30, place.slot or 0)))

    for household_id, seen in reads.items():
        found_on = next((shelf_codes[s.shelf_id] for s in reversed(seen) if s.shelf_id), None)
        category, note = classify_scanned(places[household_id], scope, found_on,
                                          shelf_purpose.get(found_on) if found_on else None)
        row(category, household_id, note, found_on)
        if len(seen) > 1:
            where = "、".join(dict.fromkeys(shelf_codes[s.shelf_id] for s in seen if s.shelf_id))
            row("twice", household_id, f"扫到 {len(seen)} 次" + (f"（{where}）" if where else ""), found_on,
                count=len(seen))
    for household_id in expected_ids:
        if household_id not in reads:
            category, note = classify_unscanned(places[household_id])
            row(category, household_id, note)
    for scan in scans:
        if scan.household_id is None:
            report.rows["unknown"].append(InventoryRow(
                "unknown", found_on=shelf_codes.get(scan.shelf_id) if scan.shelf_id else None, note=scan.error,
                code=scan.code, sort=(scan.line or 0, scan.id)))
    for category, rows in report.rows.items():
        if category != "unknown":
            rows.sort(key=lambda r: (r.sort, r.folder))
    return report


def _households(session: Session, ids: Iterable[int]) -> dict[int, Household]:
    ids = list(ids)
    out: dict[int, Household] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        out.update({h.id: h for h in session.scalars(
            select(Household).where(Household.id.in_(chunk))
            .options(selectinload(Household.village).selectinload(Village.township)))})
    return out


# --- the latest reads, for the count's page while clerks scan -------------------------------------------------

LATEST = 10


@dataclass(frozen=True)
class RecentScan:
    """One read as the count's page lists it: only what the report names already (folder, head, shelf, category)."""

    id: int
    scanned_at: datetime  # UTC, naive, as stored
    folder: str  # the folder's display code, or the code as read when it names no folder
    head_name: str
    shelf: str | None  # where it was read, when known
    category: str  # the report's category for its folder (unknown for a code that names none)
    household_id: int | None

    def as_json(self, timezone: str) -> dict[str, object]:
        """The read as a page lists it: the time in the site's zone (`timezone`), no household id."""
        return {"id": self.id, "at": f"{local_time(self.scanned_at, timezone):%Y-%m-%d %H:%M:%S}",
                "folder": self.folder, "head_name": self.head_name, "shelf": self.shelf or "—",
                "category": self.category}


def live_report(session: Session, inventory: Inventory, *, after: int = 0, limit: int = LATEST,
                providers: Sequence[StatusProvider] = ()) -> tuple[InventoryReport, list[RecentScan]]:
    """The report and the latest reads after scan id `after` (what a page already shows), newest first. The reads
    are fetched before reconciling, so the report covers each of them even while clerks go on scanning."""
    scans = list(session.scalars(select(InventoryScan).where(InventoryScan.inventory_id == inventory.id,
                                                             InventoryScan.id > after)
                                 .order_by(InventoryScan.id.desc()).limit(limit)))
    report = reconcile(session, inventory, providers=providers)
    rows = {r.household_id: r for category, listed in report.rows.items() if category not in ("twice", "unknown")
            for r in listed if r.household_id is not None}
    shelf_ids = {s.shelf_id for s in scans if s.shelf_id}
    shelves = dict(session.execute(select(Shelf.id, Shelf.code).where(Shelf.id.in_(shelf_ids))).all()) \
        if shelf_ids else {}
    recent = []
    for scan in scans:
        shelf = shelves.get(scan.shelf_id) if scan.shelf_id else None
        row = rows.get(scan.household_id) if scan.household_id is not None else None
        if row is None:  # a code that names no folder (the report lists those by the code as read)
            recent.append(RecentScan(scan.id, scan.scanned_at, scan.code, "", shelf, "unknown", None))
        else:
            recent.append(RecentScan(scan.id, scan.scanned_at, row.folder, row.head_name, shelf, row.category,
                                     scan.household_id))
    return report, recent


# --- closing ----------------------------------------------------------------------------------------------------

def close_inventory(session: Session, inventory: Inventory, *, mark_missing: bool = False, mark_found: bool = False,
                    providers: Sequence[StatusProvider] = (), actor: str, now: datetime) -> InventoryReport:
    """End the count in one transaction: optionally mark the folders not read as missing (下落不明, through
    `services.report_missing`, with their movements and events) and put recovered ones back on their shelf
    (`services.put_back`); the report as closed is kept for the signed record."""
    _open(inventory)
    report = reconcile(session, inventory, providers=providers)
    households = _households(session, report.household_ids())
    marked = found = 0
    with session.begin_nested():
        if mark_missing:
            for row in report.rows["missing"]:
                position = session.get(FolderPosition, row.household_id)
                if position is not None and position.state == "on_shelf":
                    report_missing(session, households[row.household_id], reason=f"盘点 {inventory.number} 未扫到",
                                   actor=actor, now=now)
                    marked += 1
        if mark_found:
            for row in report.rows["recovered"]:
                put_back(session, households[row.household_id], actor=actor, now=now)
                found += 1
        inventory.state, inventory.closed_at, inventory.closed_by = "closed", now, actor
        inventory.marked_missing, inventory.marked_found = marked, found
        report.state, report.closed_at, report.marked_missing, report.marked_found = "closed", now, marked, found
        inventory.result = report.as_json()
        record_event(session, "inventory.closed", "inventory", inventory.id, actor=actor, now=now,
                     number=inventory.number, counts=report.counts, marked_missing=marked, marked_found=found)
        session.flush()
    return report


# --- audit ------------------------------------------------------------------------------------------------------

def audit_report(session: Session, report: InventoryReport, user: User | None, action: str, *,
                 now: datetime) -> None:
    """A report names households: one audit row each, as for any view or print of a person's data."""
    for household_id in report.household_ids():
        audit(session, user, action, "household", household_id, detail=f"盘点 {report.number}", now=now)
