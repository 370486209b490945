"""Handover (移交): choose folders, print the numbered handover list in three copies, record the custody change.

The list is kept (`handovers`, `handover_items`) so it can be reprinted (documents.py) and looked up; each folder
leaves the room through `services.release_folder` with the reason "移交给 <接收方>", so its history and events say
where it went.
All or nothing: a folder that is lent, taken out, missing or not on a shelf refuses the whole handover, with the list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from archiveprint.errors import N_, ArchiveprintError, Conflict, InvalidValue, Message, NotFound, joined
from archiveprint.eventlog import Event, record_event
from archiveprint.locations.models import FolderPosition, Handover, HandoverItem, add_numbered
from archiveprint.locations.queries import StatusProvider, WrittenOff, display_code, find_places, shelf_range
from archiveprint.locations.services import release_folder
from archiveprint.register.models import Household, Resident, Village
from archiveprint.register.queries import resolve_scan
from archiveprint.register.services import find_village

PREFIX = "YJ"


@dataclass(frozen=True)
class HandoverLine:
    """One folder on the list: what the paper shows (never an ID number)."""

    seq: int
    household_id: int
    folder: str
    village_code: str
    village_name: str
    household_number: int
    head_name: str
    records: int  # 份数: the residents' records in the folder
    pages: int | None
    address: str  # where it stood
    note: str = ""

    def as_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Refused:
    folder: str
    head_name: str
    why: str
    household_id: int | None = None  # None: a code that names no folder

    def as_json(self) -> dict[str, str]:
        return {"folder": self.folder, "head_name": self.head_name, "why": self.why}


@dataclass
class HandoverList:
    """A handover as previewed (number None) or as recorded."""

    selection: str
    lines: list[HandoverLine]
    refused: list[Refused] = field(default_factory=list)
    skipped: int = 0  # folders of the village or range already handed over earlier
    number: str | None = None
    from_party: str = ""
    to_party: str = ""
    supervisor: str = ""
    reason: str = ""
    handed_at: datetime | None = None
    unshelved: int = 0  # folders never shelved, left off the list when asked to (a transfer between sites)
    written_off: list[WrittenOff] = field(default_factory=list)  # confirmed lost: listed apart, with their record

    @property
    def records(self) -> int:
        return sum(line.records for line in self.lines)

    @property
    def households(self) -> list[int]:
        """Every household the list names: its lines, then the refused folders that name one."""
        return [line.household_id for line in self.lines] + [r.household_id for r in self.refused
                                                             if r.household_id is not None]

    def as_json(self) -> dict[str, object]:
        return {"number": self.number, "recorded": self.number is not None, "selection": self.selection,
                "from_party": self.from_party, "to_party": self.to_party, "supervisor": self.supervisor,
                "reason": self.reason, "handed_at": self.handed_at.isoformat() if self.handed_at else None,
                "folders": len(self.lines), "records": self.records, "skipped": self.skipped,
                "lines": [line.as_json() for line in self.lines], "refused": [r.as_json() for r in self.refused],
                "written_off": [w.as_json() for w in self.written_off]}

    def text_lines(self) -> list[str]:
        """The list as recorded (or previewed); the folders refused are listed apart: `refused`."""
        title = f"移交 {self.number}" if self.number else "移交清单预览（未登记）"
        return [f"{title}：{self.selection}，{len(self.lines)} 袋，{self.records} 份",
                *(f"  {line.seq:>3}. {line.folder}  {line.village_name} 第{line.household_number}户  {line.head_name}"
                  for line in self.lines)]


def select_folders(session: Session, *, village: str | None = None, first: str | None = None,
                   last: str | None = None, codes: Sequence[str] = (), villages: Sequence[str] = (),
                   leave_unshelved: bool = False, providers: Sequence[StatusProvider] = ()) -> HandoverList:
    """The dry run: the folders a village (or several), a shelf range (in filling order) or a list of codes names,
    numbered 1…N in shelf order, and those that cannot be handed over now with the reason. With `leave_unshelved`
    a folder never shelved is left off the list (counted) instead of refused. Nothing is written."""
    codes = [c.strip() for c in codes if c and c.strip()]
    named = [v for v in (village, *villages) if v]
    if sum([bool(named), bool(first or last), bool(codes)]) != 1:
        raise InvalidValue("请只选一种移交范围：村、起止架位或档案袋编号列表", field="移交范围")
    refused: list[Refused] = []
    skipped = unshelved = 0
    if named:
        found = [find_village(session, key) for key in dict.fromkeys(named)]
        ids = list(session.scalars(select(Household.id).where(Household.village_id.in_([v.id for v in found]))))
        selection = "村 " + "、".join(f"{v.ref} {v.name}" for v in found)
    elif first or last:
        chosen = shelf_range(session, first, last, field="移交范围")
        start, end = chosen[0], chosen[-1]
        ids = list(session.scalars(select(FolderPosition.household_id)
                                   .where(FolderPosition.shelf_id.in_([shelf.id for shelf in chosen]))))
        selection = f"架位 {start.code} … {end.code}"
    else:
        ids = []
        for code in codes:
            try:
                ids.append(resolve_scan(session, code).household.id)
            except ArchiveprintError as error:
                refused.append(Refused(code, "", str(error)))
        ids = list(dict.fromkeys(ids))
        selection = f"指定档案袋 {len(codes)} 个编号"
    places = find_places(session, ids, providers)
    households = {h.id: h for h in session.scalars(
        select(Household).where(Household.id.in_(ids))
        .options(selectinload(Household.village).selectinload(Village.township)))} if ids else {}
    records = dict(session.execute(select(Resident.household_id, func.count()).where(Resident.household_id.in_(ids))
                                   .group_by(Resident.household_id)).all()) if ids else {}
    ordered = sorted(ids, key=lambda i: (places[i].seq is None, places[i].seq or 0, places[i].slot or 0,
                                         households[i].village.code, households[i].number))
    lines: list[HandoverLine] = []
    for household_id in ordered:
        place, household = places[household_id], households[household_id]
        status = place.status
        if place.state == "gone" and not codes:
            skipped += 1
            continue
        if status.code == "unshelved" and leave_unshelved:
            unshelved += 1
            continue
        if status.code in ("lent", "out", "missing", "gone", "unshelved"):
            why = {"unshelved": N_("尚未上架"), "gone": N_("已移出档案室")}.get(status.code, status.text)
            refused.append(Refused(display_code(household), household.head_name, why, household.id))
            continue
        lines.append(HandoverLine(len(lines) + 1, household.id, display_code(household), household.village.code,
                                  household.village.name, household.number, household.head_name,
                                  records.get(household.id, 0), None, place.address))
    return HandoverList(selection, lines, refused, skipped, unshelved=unshelved)


def hand_over(session: Session, *, from_party: str, to_party: str, supervisor: str = "", reason: str = "",
              village: str | None = None, first: str | None = None, last: str | None = None,
              codes: Sequence[str] = (), villages: Sequence[str] = (), leave_unshelved: bool = False,
              written_off: Sequence[WrittenOff] = (), providers: Sequence[StatusProvider] = (), actor: str,
              now: datetime) -> HandoverList:
    """Record a handover: number it (YJ-2026-0001), keep its list, and release every folder from the shelves with
    the reason "移交给 <接收方>" — all in the caller's transaction, or nothing when any folder is refused.
    `written_off`: folders of the villages confirmed lost, listed apart (kept in the handover's event, so a reprint
    lists them too)."""
    parties = {N_("移交方"): from_party.strip(), N_("接收方"): to_party.strip()}
    for label, value in parties.items():
        if not value:
            raise InvalidValue("请写明{label}", params={"label": label}, field=label)
    chosen = select_folders(session, village=village, first=first, last=last, codes=codes, villages=villages,
                            leave_unshelved=leave_unshelved, providers=providers)
    if chosen.refused:
        listing = joined((Message("{folder}（{why}）", {"folder": r.folder, "why": r.why})
                          for r in chosen.refused[:20]), N_("；"))
        more = Message(" 等共 {count} 袋", {"count": len(chosen.refused)}) if len(chosen.refused) > 20 else ""
        raise Conflict("以下档案袋现在不能移交，未做任何记录：{listing}{more}",
                       params={"listing": listing, "more": more}, field="移交范围",
                       value=chosen.selection)
    if not chosen.lines:
        raise InvalidValue("所选范围内没有可移交的档案袋", field="移交范围", value=chosen.selection)
    with session.begin_nested():
        handover = Handover(from_party=parties["移交方"][:100], to_party=parties["接收方"][:100],
                            supervisor=supervisor.strip()[:100], reason=reason.strip()[:200],
                            selection=chosen.selection[:300], folders=len(chosen.lines), handed_at=now, actor=actor)
        add_numbered(session, handover, PREFIX, now.year)
        record_event(session, "handover.recorded", "handover", handover.id, actor=actor, now=now,
                     number=handover.number, from_party=handover.from_party, to_party=handover.to_party,
                     supervisor=handover.supervisor, selection=handover.selection, folders=handover.folders,
                     **({"written_off": [w.as_json() for w in written_off]} if written_off else {}))
        households = {h.id: h for h in session.scalars(select(Household).where(
            Household.id.in_([line.household_id for line in chosen.lines])))}
        for line in chosen.lines:
            session.add(HandoverItem(handover_id=handover.id, seq=line.seq, household_id=line.household_id,
                                     folder=line.folder, village_code=line.village_code,
                                     village_name=line.village_name, household_number=line.household_number,
                                     head_name=line.head_name, records=line.records, pages=line.pages,
                                     address=line.address[:220], note=line.note))
            release_folder(session, households[line.household_id],
                           reason=f"移交给 {parties['接收方']}（{handover.number}）"[:200], actor=actor, now=now)
        session.flush()
    done = _as_list(handover, chosen.lines)
    done.written_off = list(written_off)
    return done


def _as_list(handover: Handover, lines: list[HandoverLine]) -> HandoverList:
    return HandoverList(handover.selection, lines, [], 0, handover.number, handover.from_party, handover.to_party,
                        handover.supervisor, handover.reason, handover.handed_at)


def find_handover(session: Session, number: str) -> HandoverList:
    """A recorded handover by its number (YJ-2026-0001), with its lines as they were handed over."""
    handover = session.scalar(select(Handover).where(Handover.number == number.strip().upper())
                              .options(selectinload(Handover.items)))
    if handover is None:
        raise NotFound("没有这次移交", field="移交编号", value=number)
    found = _as_list(handover, [HandoverLine(i.seq, i.household_id, i.folder, i.village_code, i.village_name,
                                             i.household_number, i.head_name, i.records, i.pages, i.address, i.note)
                                for i in handover.items])
    recorded = session.scalar(select(Event.data).where(Event.kind == "handover.recorded",
                                                       Event.entity_type == "handover",
                                                       Event.entity_id == str(handover.id)).limit(1))
    found.written_off = [WrittenOff.from_json(item) for item in (recorded or {}).get("written_off", [])]
    return found


def list_handovers(session: Session) -> list[dict[str, object]]:
    """Every handover, newest first, as plain values."""
    return [{"number": h.number, "from_party": h.from_party, "to_party": h.to_party, "supervisor": h.supervisor,
             "selection": h.selection, "folders": h.folders, "handed_at": h.handed_at.isoformat(), "actor": h.actor}
            for h in session.scalars(select(Handover).order_by(Handover.id.desc()))]
