"""Read side of inspections: find one, its folders and pick list, a folder's sheet, the result with its rates, the
整改 tasks, and the rates per village across inspections."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from archiveprint.due.models import ServiceVisit
from archiveprint.due.schedules import load_schedules
from archiveprint.errors import N_, Conflict, Message, NotFound
from archiveprint.forms.by_sex import for_resident
from archiveprint.forms.catalog import load_catalog
from archiveprint.inspections.checklist import Checklist
from archiveprint.inspections.draw import Interval, wilson
from archiveprint.inspections.models import Inspection, InspectionFolder, InspectionTask
from archiveprint.locations.queries import PickList, StatusProvider, find_places, picklist_of
from archiveprint.register.models import Resident
from archiveprint.register.names import SEX_CODES, is_head
from archiveprint.register.populations import load_populations
from archiveprint.register.queries import resolve_scan

RATE_CONFIDENCE = 0.95  # the interval every rate is shown with
OUTCOME_TEXT = {"pending": "未读完", "qualified": "合格", "failed": "不合格", "unavailable": "未调到",
                "replaced": "已替换"}
NOT_IN_INSPECTION = N_("该档案袋不在本次抽查中")


def checklist_of(inspection: Inspection) -> Checklist:
    """The checklist the inspection was drawn with (kept with it, whatever the file says now)."""
    return Checklist.from_json(inspection.checklist)


def method_of(inspection: Inspection) -> Message:
    """The method in words, as drawn (a Message: the web shows it in the reader's language)."""
    return Message.from_values(inspection.method)


# --- finding ------------------------------------------------------------------------------------------------------

def find_inspection(session: Session, key: str | int) -> Inspection:
    """An inspection by id or by number (CC-2026-0001)."""
    text = str(key).strip()
    found = session.get(Inspection, int(text)) if text.isdigit() and len(text) < 10 else session.scalar(
        select(Inspection).where(Inspection.number == text.upper()))
    if found is None:
        raise NotFound(N_("没有这次抽查"), field=N_("抽查"), value=text)
    return found


def list_open_inspections(session: Session) -> list[Inspection]:
    """The inspections still being read, the latest first."""
    return list(session.scalars(select(Inspection).where(Inspection.status == "open")
                                .order_by(Inspection.inspected_on.desc(), Inspection.id.desc())))


def find_folder(session: Session, inspection: Inspection, text: str) -> InspectionFolder:
    """A folder of the inspection by its number in the draw (3), its folder code (scanned) or a member's archive
    code; one the draw replaced is refused with what replaced it."""
    text = text.strip()
    if text.isdigit() and len(text) <= 4:
        found = next((f for f in inspection.folders if f.seq == int(text)), None)
    else:
        household = resolve_scan(session, text).household
        found = next((f for f in inspection.folders if f.household_id == household.id), None)
    if found is None:
        raise NotFound(NOT_IN_INSPECTION, field=N_("档案袋"), value=text)
    if found.state == "replaced":
        raise Conflict(N_("该档案袋已被替补替换：{note}"), params={"note": found.note}, field=N_("档案袋"),
                       value=found.folder)
    return found


def find_folder_by_id(inspection: Inspection, folder_id: int) -> InspectionFolder:
    found = next((f for f in inspection.folders if f.id == folder_id), None)
    if found is None:
        raise NotFound(NOT_IN_INSPECTION, field=N_("档案袋"), value=folder_id)
    return found


def inspection_picklist(session: Session, inspection: Inspection,
                        providers: Sequence[StatusProvider] = ()) -> PickList:
    """The folders to pull (not those replaced), in shelf walking order: the existing pick list."""
    wanted = {f.household_id: list(f.residents) for f in inspection.folders if f.state != "replaced"}
    return picklist_of(session, wanted, providers=providers)


@dataclass(frozen=True)
class DrawnFolder:
    """A drawn folder with where it stands now."""

    seq: int
    folder: str
    village: str
    village_name: str
    head_name: str
    address: str  # its shelf position now ("" when it has none)
    status: str  # at the draw: on_shelf / lent / missing …
    status_text: str
    state: str  # sampled / unavailable / replaced
    note: str

    def as_json(self) -> dict[str, object]:
        return {"seq": self.seq, "folder": self.folder, "village": self.village, "village_name": self.village_name,
                "head_name": self.head_name, "address": self.address or None, "status": self.status,
                "status_text": self.status_text, "state": self.state, "note": self.note}


@dataclass(frozen=True)
class Drawn:
    """An inspection's draw as the inspector reads it back: the method, the villages' shares, the folders."""

    id: int
    number: str
    method: Message
    seed: str
    size: int
    frame: int
    frame_digest: str
    strata: list[dict[str, Any]]
    folders: list[DrawnFolder]

    @property
    def away(self) -> list[DrawnFolder]:
        """Folders not on their shelves when drawn (lent, out, missing, never shelved) that are still in the sample:
        the inspector insists on them, or replaces them."""
        return [f for f in self.folders if f.state != "replaced" and f.status not in ("on_shelf", "closed")]

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "number": self.number, "method": str(self.method), "seed": self.seed,
                "size": self.size, "frame": self.frame, "frame_digest": self.frame_digest,
                "villages": [{"village": s["village"], "name": s["name"], "frame": s["frame"], "size": s["size"]}
                             for s in self.strata],
                "folders": [f.as_json() for f in self.folders]}

    def text_lines(self) -> list[str]:
        lines = [f"抽查 {self.number}（编号 {self.id}）：抽取 {self.size} 袋 / 抽样框 {self.frame} 袋",
                 f"方法：{self.method}",
                 "各村：" + "，".join(f"{s['name']} {s['size']}/{s['frame']}" for s in self.strata)]
        lines += [f"{f.seq:>4}. {f.folder}  {f.village_name}  {f.head_name}  {f.address or '—'}  {f.status_text}"
                  f"{'  [已替换：' + f.note + ']' if f.state == 'replaced' else ''}" for f in self.folders]
        if self.away:
            lines.append(f"注意：{len(self.away)} 袋抽取时不在架（" + "、".join(f"{f.folder} {f.status_text}"
                                                                  for f in self.away) + "），请调回或替换")
        return lines


def find_drawn(session: Session, inspection: Inspection, providers: Sequence[StatusProvider] = ()) -> Drawn:
    """The draw with each folder's shelf address now."""
    places = find_places(session, [f.household_id for f in inspection.folders], providers)
    return Drawn(inspection.id, inspection.number, method_of(inspection), inspection.seed, inspection.size,
                 inspection.frame, inspection.frame_digest, inspection.strata,
                 [DrawnFolder(f.seq, f.folder, f.village_code, f.village_name, f.head_name,
                              places[f.household_id].address if f.household_id in places else "", f.status_at_draw,
                              f.status_text, f.state, f.note) for f in inspection.folders])


# --- one folder: state and what failed ----------------------------------------------------------------------------

def outcome_of(folder: InspectionFolder, checklist: Checklist) -> str:
    """pending (not every item read) / qualified / failed / unavailable / replaced."""
    if folder.state != "sampled":
        return folder.state
    checks = {check.item: check for check in folder.checks}
    if any(item.key not in checks for item in checklist.items):
        return "pending"
    qualified = all(checks[item.key].passed for item in checklist.items if item.qualified)
    return "qualified" if qualified else "failed"


def failed_items(folder: InspectionFolder, checklist: Checklist) -> list[tuple[str, str, str]]:
    """(key, title, note) of the items read as 不合格 (无动态记录 too), in checklist order."""
    checks = {check.item: check for check in folder.checks}
    return [(item.key, item.title, checks[item.key].note) for item in checklist.items
            if item.key in checks and not checks[item.key].passed]


def has_dynamic(folder: InspectionFolder, checklist: Checklist) -> bool | None:
    check = next((c for c in folder.checks if c.item == checklist.dynamic.key), None)
    return None if check is None else check.passed


@dataclass(frozen=True)
class FolderView:
    """One drawn folder as the result lists it."""

    id: int
    seq: int
    household_id: int
    folder: str
    village: str
    village_name: str
    head_name: str
    status_at_draw: str
    status_text: str
    state: str
    note: str
    outcome: str
    dynamic: bool | None
    seen_on: date | None
    failed: tuple[tuple[str, str, str], ...]  # (key, title, note)
    checks: dict[str, dict[str, Any]]  # item key → passed, note, seen_on

    @property
    def outcome_text(self) -> str:
        return OUTCOME_TEXT[self.outcome]

    def as_json(self) -> dict[str, object]:
        return {"seq": self.seq, "folder": self.folder, "village": self.village, "village_name": self.village_name,
                "head_name": self.head_name, "status_at_draw": self.status_at_draw, "status_text": self.status_text,
                "state": self.state, "note": self.note, "outcome": self.outcome, "dynamic": self.dynamic,
                "seen_on": self.seen_on.isoformat() if self.seen_on else None,
                "failed": [{"item": key, "title": title, "note": note} for key, title, note in self.failed],
                "checks": {key: {**value, "seen_on": value["seen_on"].isoformat() if value["seen_on"] else None}
                           for key, value in self.checks.items()}}


def folder_view(folder: InspectionFolder, checklist: Checklist) -> FolderView:
    dynamic = next((c for c in folder.checks if c.item == checklist.dynamic.key), None)
    return FolderView(
        id=folder.id, seq=folder.seq, household_id=folder.household_id, folder=folder.folder,
        village=folder.village_code, village_name=folder.village_name, head_name=folder.head_name,
        status_at_draw=folder.status_at_draw, status_text=folder.status_text, state=folder.state, note=folder.note,
        outcome=outcome_of(folder, checklist), dynamic=has_dynamic(folder, checklist),
        seen_on=dynamic.seen_on if dynamic else None, failed=tuple(failed_items(folder, checklist)),
        checks={c.item: {"passed": c.passed, "note": c.note, "seen_on": c.seen_on} for c in folder.checks})


# --- the result -------------------------------------------------------------------------------------------------

@dataclass
class Tally:
    """The counts of one village (or all) and its two rates with their Wilson intervals."""

    village: str
    name: str
    frame: int = 0  # folders in the sampling frame
    drawn: int = 0  # folders to read (replaced ones not counted)
    read: int = 0  # read to the end
    unavailable: int = 0
    pending: int = 0
    qualified_hits: int = 0
    dynamic_hits: int = 0
    counted: int = 0  # the denominator of both rates (抽查档案总份数)

    @property
    def qualified(self) -> Interval | None:
        return wilson(self.qualified_hits, self.counted, RATE_CONFIDENCE)

    @property
    def usage(self) -> Interval | None:
        return wilson(self.dynamic_hits, self.counted, RATE_CONFIDENCE)

    def as_json(self) -> dict[str, object]:
        qualified, usage = self.qualified, self.usage
        return {"village": self.village, "name": self.name, "frame": self.frame, "drawn": self.drawn,
                "read": self.read, "unavailable": self.unavailable, "pending": self.pending, "counted": self.counted,
                "qualified": qualified.as_json() if qualified else None, "usage": usage.as_json() if usage else None}


@dataclass
class InspectionReport:
    """The result of an inspection as it stands (final once signed): rates per village and overall, the folders
    that failed and why, what is still to read."""

    id: int
    number: str
    status: str
    inspected_on: date
    inspector: str
    scope_text: str
    method: Message
    seed: str
    checklist: Checklist
    signed_at: datetime | None
    signed_by: str | None
    villages: list[Tally]
    overall: Tally
    folders: list[FolderView]
    weighted: dict[str, float | None] = field(default_factory=dict)

    @property
    def failing(self) -> list[FolderView]:
        return [f for f in self.folders if f.outcome in ("failed", "unavailable")]

    @property
    def pending(self) -> list[FolderView]:
        return [f for f in self.folders if f.outcome == "pending"]

    def item_failures(self) -> list[tuple[str, str, int]]:
        """(key, title, folders that failed it), in checklist order."""
        return [(item.key, item.title, sum(1 for f in self.folders if f.outcome in ("qualified", "failed")
                                           and any(key == item.key for key, _t, _n in f.failed)))
                for item in self.checklist.items]

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "number": self.number, "status": self.status,
                "inspected_on": self.inspected_on.isoformat(), "inspector": self.inspector, "scope": self.scope_text,
                "method": str(self.method), "seed": self.seed, "checklist": self.checklist.name,
                "signed_at": self.signed_at.isoformat() if self.signed_at else None, "signed_by": self.signed_by,
                "confidence": RATE_CONFIDENCE, "unavailable_rule": self.checklist.unavailable,
                "villages": [tally.as_json() for tally in self.villages], "overall": self.overall.as_json(),
                "weighted": self.weighted,
                "items": [{"item": key, "title": title, "failed": count} for key, title, count in self.item_failures()],
                "failing": [f.as_json() for f in self.failing], "pending": [f.folder for f in self.pending],
                "folders": [f.as_json() for f in self.folders]}

    def text_lines(self) -> list[str]:
        lines = [f"抽查 {self.number}（{'已签署' if self.status == 'signed' else '进行中'}）  {self.inspected_on}  "
                 f"检查人 {self.inspector}", f"范围：{self.scope_text}", f"方法：{self.method}",
                 "合格率 = 抽查合格档案份数 / 抽查档案总份数；使用率 = 有动态记录的档案份数 / 抽查档案总份数"
                 "（一户档案袋为一份；括号内为 95% Wilson 区间）"]
        for tally in [*self.villages, self.overall]:
            lines.append(f"  {tally.name}：抽 {tally.drawn} 袋，计入 {tally.counted}，未读完 {tally.pending}；"
                         f"合格率 {_rate(tally.qualified)}；使用率 {_rate(tally.usage)}")
        if self.failing:
            lines.append("不合格档案：")
            for f in self.failing:
                what = "；".join(f"{title}{'：' + note if note else ''}" for _k, title, note in f.failed) \
                    if f.outcome == "failed" else f"未调到：{f.note}"
                lines.append(f"  {f.seq:>3}. {f.folder} {f.village_name} {f.head_name}  {what}")
        if self.pending:
            lines.append(f"未读完：{'、'.join(f.folder for f in self.pending)}")
        return lines


def _rate(interval: Interval | None) -> str:
    return interval.text() if interval else "—（无计入档案）"


def compute_report(session: Session, inspection: Inspection) -> InspectionReport:
    """Count every village and the whole: a folder read to the end counts in both rates (合格 when every item that
    counts towards 合格 passed, 有动态记录 when the dynamic item did); a folder not produced counts as failing both
    or not at all, as the checklist's `unavailable` says; one not read to the end is pending and not counted."""
    folders = list(session.scalars(select(InspectionFolder).where(InspectionFolder.inspection_id == inspection.id)
                                   .options(selectinload(InspectionFolder.checks)).order_by(InspectionFolder.seq)))
    checklist = checklist_of(inspection)
    views = [folder_view(f, checklist) for f in folders]
    tallies = {s["village"]: Tally(s["village"], s["name"], frame=s["frame"]) for s in inspection.strata}
    overall = Tally("", "合计", frame=inspection.frame)
    for view in views:
        if view.outcome == "replaced":
            continue
        for tally in (tallies.setdefault(view.village, Tally(view.village, view.village_name)), overall):
            tally.drawn += 1
            if view.outcome == "pending":
                tally.pending += 1
            elif view.outcome == "unavailable":
                tally.unavailable += 1
                tally.counted += checklist.unavailable == "fail"
            else:
                tally.read += 1
                tally.counted += 1
                tally.qualified_hits += view.outcome == "qualified"
                tally.dynamic_hits += bool(view.dynamic)
    villages = list(tallies.values())
    return InspectionReport(
        id=inspection.id, number=inspection.number, status=inspection.status, inspected_on=inspection.inspected_on,
        inspector=inspection.inspector, scope_text=inspection.scope_text, method=method_of(inspection),
        seed=inspection.seed, checklist=checklist, signed_at=inspection.signed_at, signed_by=inspection.signed_by,
        villages=villages, overall=overall, folders=views, weighted=_weighted(villages))


def _weighted(villages: list[Tally]) -> dict[str, float | None]:
    """The township's rates estimated with each village weighted by its share of the frame (the plain rates weigh
    a small village drawn at its minimum as much as a large one): over the villages with folders counted."""
    counted = [t for t in villages if t.counted]
    frame = sum(t.frame for t in counted)
    if not frame:
        return {"qualified": None, "usage": None}
    return {"qualified": round(sum(t.frame * t.qualified_hits / t.counted for t in counted) / frame, 4),
            "usage": round(sum(t.frame * t.dynamic_hits / t.counted for t in counted) / frame, 4)}


# --- a folder's sheet: who is read, the forms their populations need, the latest service registered ---------------

@dataclass(frozen=True)
class ResidentRead:
    """A record read in the folder, with what the register says the inspector should find in it."""

    archive_code: str
    name: str
    sex: str
    age: int | None
    relation: str
    populations: tuple[str, ...]  # names
    forms: tuple[str, ...]  # titles of the forms its populations need by the inspection's day
    last_visit: date | None  # the latest service registered (archiveprint due record), not voided
    last_visit_schedule: str

    def as_json(self) -> dict[str, object]:
        return {"archive_code": self.archive_code, "name": self.name, "sex": SEX_CODES.get(self.sex, ""),
                "age": self.age, "relation": self.relation, "populations": list(self.populations),
                "forms": list(self.forms), "last_visit": self.last_visit.isoformat() if self.last_visit else None,
                "last_visit_schedule": self.last_visit_schedule}


@dataclass(frozen=True)
class FolderSheet:
    """What the checklist page of one folder shows."""

    folder: InspectionFolder
    view: FolderView
    residents: list[ResidentRead]
    previous: int | None  # the folder before and after in pick-list order (ids), for 上一袋 / 下一袋
    following: int | None

    @property
    def hint(self) -> date | None:
        """The latest service registered for any record read: a hint for the 动态记录 item (the folder decides)."""
        return max((r.last_visit for r in self.residents if r.last_visit), default=None)


def _age(birth: date | None, on: date) -> int | None:
    if birth is None:
        return None
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def required_forms(resident: Resident, on: date) -> tuple[list[str], list[str]]:
    """(population names, form ids) the register expects in a resident's record by `on`: each population's
    periodic sheets, and the sheets of every anchored visit already due (a child's checks up to its age)."""
    tags = resident.tag_names
    dates = {"due_date": resident.due_date, "delivery_date": resident.delivery_date,
             "tb_treatment_start": resident.tb_treatment_start}
    populations = [p for p in load_populations().values()
                   if p.holds(birth_date=resident.birth_date, tags=tags, dates=dates, sex=resident.sex, on=on)]
    ids = {p.id for p in populations}
    forms: list[str] = []
    for schedule in load_schedules().values():
        if schedule.population not in ids:
            continue
        if schedule.every is not None:
            forms.extend(schedule.forms)
            continue
        anchor = next((getattr(resident, name) for name in schedule.anchor if getattr(resident, name)), None)
        if anchor is not None:
            forms.extend(form for visit in schedule.visits if visit.due_on(anchor) <= on for form in visit.forms)
    catalog = load_catalog()
    known = [catalog.forms[form_id] for form_id in dict.fromkeys(forms) if form_id in catalog.forms]
    return [p.name for p in populations], [form.id for form in for_resident(known, resident.sex)]


def folder_sheet(session: Session, inspection: Inspection, folder: InspectionFolder,
                 order: Sequence[int] = ()) -> FolderSheet:
    """The folder's records to read (head first) with their populations, the forms expected and the latest service
    registered; `order` is the folders' ids in pick-list order (for the previous and next links)."""
    codes = list(folder.residents)
    residents = sorted(session.scalars(select(Resident).where(Resident.archive_code.in_(codes))),
                       key=lambda r: (not is_head(r.relation_to_head), r.archive_code))
    latest = _latest_visits(session, [r.id for r in residents])
    catalog = load_catalog()
    schedules = load_schedules()
    read = []
    for resident in residents:
        names, forms = required_forms(resident, inspection.inspected_on)
        visit = latest.get(resident.id)
        read.append(ResidentRead(
            archive_code=resident.archive_code, name=resident.name, sex=resident.sex,
            age=_age(resident.birth_date, inspection.inspected_on), relation=resident.relation_to_head,
            populations=tuple(names), forms=tuple(catalog.forms[f].title for f in forms),
            last_visit=visit[0] if visit else None,
            last_visit_schedule=schedules[visit[1]].name if visit and visit[1] in schedules else (visit[1] if visit
                                                                                                 else "")))
    ids = list(order)
    index = ids.index(folder.id) if folder.id in ids else -1
    return FolderSheet(folder=folder, view=folder_view(folder, checklist_of(inspection)), residents=read,
                       previous=ids[index - 1] if index > 0 else None,
                       following=ids[index + 1] if 0 <= index < len(ids) - 1 else None)


def _latest_visits(session: Session, resident_ids: list[int]) -> dict[int, tuple[date, str]]:
    """Each resident's latest service registered and not voided: (day, schedule id)."""
    if not resident_ids:
        return {}
    latest = (select(ServiceVisit.resident_id, func.max(ServiceVisit.done_on).label("day"))
              .where(ServiceVisit.resident_id.in_(resident_ids), ServiceVisit.voided_at.is_(None))
              .group_by(ServiceVisit.resident_id).subquery())
    rows = session.execute(select(ServiceVisit.resident_id, ServiceVisit.done_on, ServiceVisit.schedule)
                           .join(latest, (latest.c.resident_id == ServiceVisit.resident_id)
                                 & (latest.c.day == ServiceVisit.done_on))
                           .where(ServiceVisit.voided_at.is_(None)).order_by(ServiceVisit.id))
    return {resident_id: (day, schedule) for resident_id, day, schedule in rows}


# --- lists: inspections, trend, tasks -----------------------------------------------------------------------------

@dataclass(frozen=True)
class InspectionSummary:
    id: int
    number: str
    inspected_on: date
    inspector: str
    scope_text: str
    size: int
    status: str
    read: int
    qualified: Interval | None
    usage: Interval | None

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "number": self.number, "inspected_on": self.inspected_on.isoformat(),
                "inspector": self.inspector, "scope": self.scope_text, "size": self.size, "status": self.status,
                "read": self.read, "qualified": self.qualified.as_json() if self.qualified else None,
                "usage": self.usage.as_json() if self.usage else None}

    def text_lines(self) -> list[str]:
        state = "已签署" if self.status == "signed" else f"进行中（已读 {self.read}/{self.size}）"
        return [f"{self.number}  {self.inspected_on}  {self.inspector}  {self.scope_text}  {self.size} 袋  {state}  "
                f"合格率 {_rate(self.qualified)}  使用率 {_rate(self.usage)}"]


def list_inspections(session: Session) -> list[InspectionSummary]:
    """Every inspection, the latest first, with its overall rates (as signed, or as they stand)."""
    out = []
    for inspection in session.scalars(select(Inspection).order_by(Inspection.inspected_on.desc(),
                                                                  Inspection.id.desc())):
        report = compute_report(session, inspection)
        out.append(InspectionSummary(inspection.id, inspection.number, inspection.inspected_on, inspection.inspector,
                                     inspection.scope_text, report.overall.drawn, inspection.status,
                                     report.overall.read + report.overall.unavailable, report.overall.qualified,
                                     report.overall.usage))
    return out


@dataclass(frozen=True)
class TrendCell:
    qualified: float | None
    usage: float | None
    counted: int

    def as_json(self) -> dict[str, object]:
        return {"qualified": self.qualified, "usage": self.usage, "counted": self.counted}


@dataclass
class Trend:
    """合格率 and 使用率 per village across the signed inspections, oldest first (a village not drawn: None)."""

    inspections: list[tuple[int, str, date]]  # (id, number, day)
    villages: list[tuple[str, str, list[TrendCell | None]]]  # (code, name, one cell per inspection)
    overall: list[TrendCell | None]

    def as_json(self) -> dict[str, object]:
        return {"inspections": [{"id": i, "number": n, "inspected_on": d.isoformat()} for i, n, d in self.inspections],
                "villages": [{"village": code, "name": name, "cells": [c.as_json() if c else None for c in cells]}
                             for code, name, cells in self.villages],
                "overall": [c.as_json() if c else None for c in self.overall]}

    def text_lines(self) -> list[str]:
        if not self.inspections:
            return ["（还没有已签署的抽查）"]
        lines = ["村(居)委会  " + "  ".join(f"{n}（{d}）" for _i, n, d in self.inspections)]
        for _code, name, cells in [*self.villages, ("", "合计", self.overall)]:
            lines.append(f"{name}  " + "  ".join(
                f"合格 {_percent(c.qualified)} 使用 {_percent(c.usage)}（{c.counted}）" if c else "—" for c in cells))
        return lines


def _percent(value: float | None) -> str:
    return f"{value:.1%}" if value is not None else "—"


def _cell(tally: dict[str, Any]) -> TrendCell:
    def rate(key: str) -> float | None:
        value = tally.get(key)
        return float(value["rate"]) if value else None
    return TrendCell(rate("qualified"), rate("usage"), int(tally.get("counted") or 0))


def find_trend(session: Session) -> Trend:
    """The rates as signed, per village, across every signed inspection."""
    signed = list(session.scalars(select(Inspection).where(Inspection.status == "signed")
                                  .order_by(Inspection.inspected_on, Inspection.id)))
    names: dict[str, str] = {}
    for inspection in signed:
        for tally in (inspection.result or {}).get("villages", []):
            names.setdefault(tally["village"], tally["name"])
    villages = []
    for code in sorted(names):
        cells: list[TrendCell | None] = []
        for inspection in signed:
            tally = next((t for t in (inspection.result or {}).get("villages", []) if t["village"] == code), None)
            cells.append(_cell(tally) if tally else None)
        villages.append((code, names[code], cells))
    overall: list[TrendCell | None] = [_cell((i.result or {}).get("overall") or {}) for i in signed]
    return Trend([(i.id, i.number, i.inspected_on) for i in signed], villages, overall)


@dataclass(frozen=True)
class TaskView:
    id: int
    inspection_id: int
    number: str
    folder: str
    village_name: str
    head_name: str
    household_id: int
    text: str
    state: str
    created_at: datetime
    done_at: datetime | None
    done_by: str | None
    done_note: str

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "inspection": self.number, "folder": self.folder, "village": self.village_name,
                "head_name": self.head_name, "text": self.text, "state": self.state,
                "done_at": self.done_at.isoformat() if self.done_at else None, "done_by": self.done_by,
                "done_note": self.done_note}

    def text_lines(self) -> list[str]:
        done = f"  已完成（{self.done_by} {self.done_at:%Y-%m-%d}）{self.done_note}" if self.done_at else ""
        return [f"{self.id:>5}  {self.number}  {self.folder} {self.village_name} {self.head_name}  {self.text}{done}"]


def list_tasks(session: Session, *, inspection_id: int | None = None, only_open: bool = False) -> list[TaskView]:
    """整改 tasks, open ones first, in the order the inspections made them."""
    stmt = select(InspectionTask).options(selectinload(InspectionTask.folder), selectinload(InspectionTask.inspection))
    if inspection_id is not None:
        stmt = stmt.where(InspectionTask.inspection_id == inspection_id)
    if only_open:
        stmt = stmt.where(InspectionTask.state == "open")
    tasks = session.scalars(stmt.order_by(InspectionTask.state.desc(), InspectionTask.id))
    return [TaskView(t.id, t.inspection_id, t.inspection.number, t.folder.folder, t.folder.village_name,
                     t.folder.head_name, t.household_id, t.text, t.state, t.created_at, t.done_at, t.done_by,
                     t.done_note) for t in tasks]
