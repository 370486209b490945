"""The home page's numbers (看板): residents and households per village, 建档率 against the targets, where the folders
are, room left on the shelves, the latest inspection and the trend across inspections, recent activity — each read
under the session's scope, so a village doctor's board counts their own villages only."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, case, cast, func, or_, select
from sqlalchemy.orm import Session

from archiveprint.accounts.scope import current_scope
from archiveprint.eventlog import Event
from archiveprint.indicators.queries import Indicators, Rate, ShelfCoverage, find_indicators, find_shelf_coverage
from archiveprint.indicators.targets import OVERALL, Targets
from archiveprint.inspections.draw import Interval, wilson
from archiveprint.inspections.models import Inspection
from archiveprint.inspections.queries import RATE_CONFIDENCE, compute_report
from archiveprint.lending.queries import count_dashboard
from archiveprint.locations.queries import OVERFLOW_SOON, VillageFill, find_capacity
from archiveprint.register.models import Household, Resident

ACTIVITY_DAYS = 7  # recent activity: today and the six days before
NOT_ACTIVITY = "user.%"  # accounts (created, passwords, roles) are the administrator's business, not the archive's


@dataclass(frozen=True)
class VillageLine:
    """One village at a glance: 建档人数, households with an open record, 常住人口 and 建档率."""

    code: str
    name: str
    residents: int  # 建档人数 on the day (the 建档率's numerator)
    households: int  # households with at least one resident whose record is open (有档户数)
    rate: Rate  # 建档率 of everyone, against the year's target

    def as_json(self) -> dict[str, object]:
        return {"village": self.code, "village_name": self.name, "residents": self.residents,
                "households": self.households, **{f"rate_{k}": v for k, v in self.rate.as_json().items()}}


@dataclass(frozen=True)
class FolderCounts:
    """Where the folders of households with an open record are now; lent and overdue from the open loans."""

    households: int
    on_shelf: int
    out: int  # taken out or lent (the shelves' word: not on the shelf, its holder known)
    lent: int  # of those, on an open loan
    overdue: int  # of those, past the loan's due date
    due_soon: int  # loans due within seven days
    missing: int  # registered as not found (下落不明)
    unshelved: int  # never shelved

    @property
    def rate(self) -> float | None:
        """在架率 (None when no household has a record)."""
        return self.on_shelf / self.households if self.households else None

    def as_json(self) -> dict[str, object]:
        rate = self.rate
        return {"households": self.households, "on_shelf": self.on_shelf, "out": self.out, "lent": self.lent,
                "overdue": self.overdue, "due_soon": self.due_soon, "missing": self.missing,
                "unshelved": self.unshelved, "rate": None if rate is None else round(rate, 4)}


@dataclass(frozen=True)
class ShelfRoom:
    """Room on the village shelves: positions free in total (whole site only: a village doctor sees no other
    village's folders, so cannot count the others' room), and each village's room before it overflows."""

    capacity: int | None
    used: int | None
    villages: list[VillageFill]

    @property
    def free(self) -> int | None:
        return None if self.capacity is None or self.used is None else self.capacity - self.used

    @property
    def short(self) -> list[VillageFill]:
        """Villages that overflow within OVERFLOW_SOON more folders, or already have, or have no shelves yet."""
        return [v for v in self.villages if not v.shelves or v.room_left < OVERFLOW_SOON]

    def as_json(self) -> dict[str, object]:
        return {"capacity": self.capacity, "used": self.used, "free": self.free,
                "villages": [v.as_json() for v in self.villages], "short": [v.code for v in self.short]}


@dataclass(frozen=True)
class RatePair:
    """合格率 and 使用率 of one village (or of all shown) with their Wilson intervals; None when nothing counted."""

    code: str
    name: str
    counted: int
    qualified: Interval | None
    usage: Interval | None

    def as_json(self) -> dict[str, object]:
        return {"village": self.code, "name": self.name, "counted": self.counted,
                "qualified": self.qualified.as_json() if self.qualified else None,
                "usage": self.usage.as_json() if self.usage else None}


@dataclass(frozen=True)
class InspectionLine:
    """An inspection's rates over the villages shown: per village and together."""

    id: int
    number: str
    inspected_on: date
    status: str  # signed, or open (the rates as they stand)
    villages: list[RatePair]
    overall: RatePair
    pending: int  # folders not read to the end yet (open inspections)

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "number": self.number, "inspected_on": self.inspected_on.isoformat(),
                "status": self.status, "villages": [v.as_json() for v in self.villages],
                "overall": self.overall.as_json(), "pending": self.pending}


@dataclass(frozen=True)
class Activity:
    """One kind of change in the last days: how many today and in the week, and the latest one's time and actor."""

    kind: str
    today: int
    week: int
    last_at: datetime
    last_actor: str

    def as_json(self) -> dict[str, object]:
        return {"kind": self.kind, "today": self.today, "week": self.week, "last_at": self.last_at.isoformat(),
                "last_actor": self.last_actor}


@dataclass
class Dashboard:
    """Everything the home page shows, counted under one scope on one day."""

    today: date
    whole_site: bool
    indicators: Indicators
    villages: list[VillageLine]
    total: VillageLine
    folders: FolderCounts
    room: ShelfRoom
    latest: InspectionLine | None
    trend: list[InspectionLine] = field(default_factory=list)
    open_inspections: int = 0
    activity: list[Activity] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {"date": self.today.isoformat(), "whole_site": self.whole_site,
                "villages": [v.as_json() for v in self.villages], "total": self.total.as_json(),
                "indicators": self.indicators.as_json(), "folders": self.folders.as_json(),
                "room": self.room.as_json(), "latest_inspection": self.latest.as_json() if self.latest else None,
                "trend": [line.as_json() for line in self.trend], "open_inspections": self.open_inspections,
                "activity": [a.as_json() for a in self.activity]}


def find_dashboard(session: Session, year: int, *, targets: Targets, today: date,
                   day_start: datetime) -> Dashboard:
    """The home page's numbers for `year` (建档率 counted as of `today` in the current year). `day_start` is the
    site's midnight today as the database stores time (naive UTC), for counting today's activity."""
    whole_site = current_scope(session).whole_site
    indicators = find_indicators(session, year, targets=targets, today=today)
    shelves = find_shelf_coverage(session)
    villages, total = _village_lines(indicators, shelves)
    loans = count_dashboard(session, today=today)
    states = shelves.total.states
    folders = FolderCounts(shelves.total.households, states["on_shelf"], states["out"], loans.total("lent"),
                           loans.total("overdue"), loans.total("due_this_week"), states["missing"],
                           states["unshelved"])
    codes = {line.code: line.name for line in villages}
    signed, latest_open = _inspections(session)
    trend = [line for line in (_line(session, i, codes) for i in signed) if line.overall.counted]
    latest = trend[-1] if trend else None
    if latest is None and latest_open is not None:
        latest = _line(session, latest_open, codes)
    opened = session.scalar(select(func.count(Inspection.id)).where(Inspection.status == "open")) or 0
    return Dashboard(today=today, whole_site=whole_site, indicators=indicators, villages=villages, total=total,
                     folders=folders, room=_room(session, whole_site), latest=latest, trend=trend,
                     open_inspections=opened, activity=find_activity(session, day_start=day_start,
                                                                     whole_site=whole_site))


def _village_lines(indicators: Indicators, shelves: ShelfCoverage) -> tuple[list[VillageLine], VillageLine]:
    households = {row.code: row.households for row in shelves.villages}
    lines = [VillageLine(row.code or "", row.name, row.rates[OVERALL].residents, households.get(row.code, 0),
                         row.rates[OVERALL]) for row in indicators.villages]
    assert indicators.total is not None
    total = VillageLine("", str(indicators.total.name), indicators.total.rates[OVERALL].residents,
                        shelves.total.households, indicators.total.rates[OVERALL])
    return lines, total


def _room(session: Session, whole_site: bool) -> ShelfRoom:
    capacity = find_capacity(session)
    if not whole_site:
        return ShelfRoom(None, None, capacity.villages)
    area = capacity.totals().get("village", {"capacity": 0, "used": 0})
    return ShelfRoom(area["capacity"], area["used"], capacity.villages)


# --- inspections ------------------------------------------------------------------------------------------------

def _inspections(session: Session) -> tuple[list[Inspection], Inspection | None]:
    """The signed inspections, oldest first, and the newest open one."""
    signed = list(session.scalars(select(Inspection).where(Inspection.status == "signed")
                                  .order_by(Inspection.inspected_on, Inspection.id)))
    latest_open = session.scalars(select(Inspection).where(Inspection.status == "open")
                                  .order_by(Inspection.inspected_on.desc(), Inspection.id.desc()).limit(1)).first()
    return signed, latest_open


def _line(session: Session, inspection: Inspection, codes: Mapping[str, str]) -> InspectionLine:
    """The rates over the villages shown (`codes`: those the session may see): a signed inspection as it was
    signed, an open one as it stands. A village doctor's "together" is their villages' folders together."""
    if inspection.status == "signed" and inspection.result:
        result: dict[str, Any] = inspection.result
        pending = 0
    else:
        report = compute_report(session, inspection)
        result = report.as_json()
        pending = sum(t.pending for t in report.villages if t.village in codes)
    tallies = [t for t in result.get("villages", []) if t["village"] in codes]
    villages = [_pair(t["village"], t["name"], [t]) for t in tallies if t.get("drawn")]
    return InspectionLine(inspection.id, inspection.number, inspection.inspected_on, inspection.status, villages,
                          _pair("", "", tallies), pending)


def _pair(code: str, name: str, tallies: Iterable[dict[str, Any]]) -> RatePair:
    counted = qualified = dynamic = 0
    for tally in tallies:
        counted += int(tally.get("counted") or 0)
        qualified += int((tally.get("qualified") or {}).get("hits") or 0)
        dynamic += int((tally.get("usage") or {}).get("hits") or 0)
    return RatePair(code, name, counted, wilson(qualified, counted, RATE_CONFIDENCE),
                    wilson(dynamic, counted, RATE_CONFIDENCE))


# --- recent activity --------------------------------------------------------------------------------------------

def _in_scope() -> Any:
    """Events about a resident or a household the session may see (the scope hook limits both subqueries)."""
    return or_(and_(Event.entity_type == "resident", Event.entity_id.in_(select(Resident.archive_code))),
               and_(Event.entity_type == "household",
                    Event.entity_id.in_(select(cast(Household.id, String)))))


def find_activity(session: Session, *, day_start: datetime, whole_site: bool,
                  days: int = ACTIVITY_DAYS) -> list[Activity]:
    """Changes per kind today and over the last `days` days (counts only, nobody named), the latest first; changes
    to user accounts are left out. A village doctor sees the changes to their villages' residents and households
    only."""
    since = day_start - timedelta(days=days - 1)
    window = and_(Event.occurred_at >= since, Event.kind.not_like(NOT_ACTIVITY))
    where = window if whole_site else and_(window, _in_scope())
    rows = session.execute(
        select(Event.kind, func.count(Event.id), func.sum(case((Event.occurred_at >= day_start, 1), else_=0)),
               func.max(Event.id)).where(where).group_by(Event.kind)).all()
    latest = {event_id: (actor, at) for event_id, actor, at in session.execute(
        select(Event.id, Event.actor, Event.occurred_at).where(Event.id.in_([row[3] for row in rows])))} \
        if rows else {}
    found = [Activity(kind, int(today or 0), int(week), latest[last][1], latest[last][0])
             for kind, week, today, last in rows]
    return sorted(found, key=lambda a: a.last_at, reverse=True)

