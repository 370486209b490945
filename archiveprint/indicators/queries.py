"""The read side of supervision: 常住人口 in force, 建档率 per village and population against the year's targets, who
is missing, and 纸质档案在架率 — counted from the register, the services done and the shelves.

建档人数 (the numerator) is counted on a reference day, `as_of`: the year's last day, or today for the current year.
A resident counts who had a record by then (登记日期 on or before it, or none given) and was not closed (结案:
death, moving away, lost) on or before it — so a record closed this year leaves both numerator and, as the village
committee counts 常住人口, the denominator. A resident counts in the village of their household now (a move within
the township counts in the new village). Key populations are the register's own rule (Population.clause).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from archiveprint.due.models import ServiceVisit
from archiveprint.due.schedules import load_schedules
from archiveprint.errors import N_, NotFound
from archiveprint.indicators.models import PopulationFigure
from archiveprint.indicators.services import FIGURE_LABELS
from archiveprint.indicators.targets import OVERALL, Measure, Targets
from archiveprint.locations.models import FolderPosition
from archiveprint.register.models import Household, Resident, Village
from archiveprint.register.names import SEX_CODES
from archiveprint.register.populations import load_populations

TOTAL_NAME = N_("合计")
# Why a rate is not shown as a number: no figure entered, a figure of 0, or more records than people.
NOTES = {"unknown": N_("未录入常住人口"), "zero": N_("常住人口为 0"), "over": N_("建档人数多于常住人口，请核对")}
NO_FIGURE_NOTE = N_("无人数来源")  # a measure with no figure (targets.yaml): the register cannot tell the denominator


def as_of_day(year: int, today: date) -> date:
    """The day a year's 建档人数 is counted on: its last day, or today while it runs (or before it begins)."""
    return min(date(year, 12, 31), today) if year <= today.year else today


def counted(as_of: date) -> ColumnElement[bool]:
    """A resident with a record on `as_of`: registered by then (or no date given) and not closed by then."""
    return and_(or_(Resident.registered_on.is_(None), Resident.registered_on <= as_of),
                or_(Resident.status == "active", and_(Resident.closed_on.is_not(None), Resident.closed_on > as_of)))


# --- 常住人口 -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FigureView:
    """One figure as the list shows it: in force or history."""

    id: int
    village_code: str
    village_name: str
    year: int
    values: dict[str, int | None]
    source: str
    recorded_by: str
    recorded_at: str
    current: bool

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "village": self.village_code, "village_name": self.village_name, "year": self.year,
                **self.values, "source": self.source, "recorded_by": self.recorded_by,
                "recorded_at": self.recorded_at, "current": self.current}

    def text_lines(self) -> list[str]:
        given = "，".join(f"{FIGURE_LABELS[key]} {value}" for key, value in self.values.items() if value is not None)
        old = "" if self.current else "  [已被更正]"
        return [f"{self.year}  {self.village_code} {self.village_name}：{given}（{self.source}，{self.recorded_by}，"
                f"{self.recorded_at}）{old}"]


def list_figures(session: Session, *, year: int | None = None, village_id: int | None = None,
                 history: bool = False) -> list[FigureView]:
    """The figures in force by year (latest first) and village code; with `history`, the corrected ones too, each
    after the one that replaced it."""
    stmt = (select(PopulationFigure, Village)
            .join(Village, Village.id == PopulationFigure.village_id)
            .order_by(PopulationFigure.year.desc(), Village.code, PopulationFigure.id.desc()))
    if year is not None:
        stmt = stmt.where(PopulationFigure.year == year)
    if village_id is not None:
        stmt = stmt.where(PopulationFigure.village_id == village_id)
    views: list[FigureView] = []
    seen: set[tuple[int, int]] = set()
    for figure, village in session.execute(stmt):
        current = (figure.village_id, figure.year) not in seen
        seen.add((figure.village_id, figure.year))
        if current or history:  # the village as the site names it (Village.ref): 12 digits for one taken over
            views.append(FigureView(figure.id, village.ref, village.name, figure.year, figure.values(), figure.source,
                                    figure.recorded_by, f"{figure.recorded_at:%Y-%m-%d %H:%M}", current))
    return views


def figures_in_force(session: Session, year: int) -> dict[int, PopulationFigure]:
    """Village id → the figure in force for `year` (villages with none are absent)."""
    found: dict[int, PopulationFigure] = {}
    for figure in session.scalars(select(PopulationFigure).where(PopulationFigure.year == year)
                                  .order_by(PopulationFigure.id)):
        found[figure.village_id] = figure
    return found


# --- 建档率 ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rate:
    """建档率 = residents (建档人数) / population (常住人口, or the key population's figure); None when unknown."""

    population: int | None
    residents: int
    target: float | None = None
    has_figure: bool = True  # False: the measure names no figure at all (not a figure left unentered)

    @property
    def rate(self) -> float | None:
        if self.population is None or self.population == 0:
            return None
        return self.residents / self.population

    @property
    def note(self) -> str | None:
        """unknown / zero / over / None (a rate to show as it is)."""
        if self.population is None:
            return "unknown"
        if self.population == 0:
            return "zero"
        return "over" if self.residents > self.population else None

    @property
    def gap(self) -> int | None:
        """People still to be given a record to reach the target (还差 N 人); 0 when met, None when unknown."""
        if self.target is None or self.population is None:
            return None
        needed = math.ceil(round(self.target * self.population, 6))
        return max(needed - self.residents, 0)

    @property
    def met(self) -> bool | None:
        rate = self.rate
        return None if rate is None or self.target is None else rate >= self.target - 1e-9

    def note_text(self) -> str:
        if self.note == "unknown" and not self.has_figure:
            return NO_FIGURE_NOTE
        return NOTES[self.note] if self.note else ""

    def as_json(self) -> dict[str, object]:
        rate = self.rate
        return {"population": self.population, "residents": self.residents,
                "rate": None if rate is None else round(rate, 4), "target": self.target, "gap": self.gap,
                "note": self.note}

    def text(self) -> str:
        rate = self.rate
        shown = f"{rate:.1%}" if rate is not None else self.note_text()
        gap = f"，还差 {self.gap} 人" if self.gap else ""
        population = "—" if self.population is None else self.population
        return f"{self.residents}/{population} {shown}{gap}"


@dataclass
class VillageRates:
    """One village's (or the township's) rates: `overall` and each key population, by measure id."""

    code: str | None  # None: the township's total
    name: str
    rates: dict[str, Rate]
    entered: bool  # a 常住人口 figure is in force for the year

    def as_json(self) -> dict[str, object]:
        overall = self.rates.get(OVERALL, Rate(None, 0))
        return {"village": self.code, "village_name": self.name, **overall.as_json(),
                "populations": {key: rate.as_json() for key, rate in self.rates.items() if key != OVERALL}}


@dataclass
class Indicators:
    """建档率 of a year: per village, the township's total, the targets in force and what each measure is."""

    year: int
    as_of: date
    measures: tuple[Measure, ...]
    targets: dict[str, float]
    villages: list[VillageRates] = field(default_factory=list)
    total: VillageRates | None = None

    @property
    def not_entered(self) -> list[str]:
        """Villages with no 常住人口 for the year (their rates, and the township's, are unknown)."""
        return [village.name for village in self.villages if not village.entered]

    def as_json(self) -> dict[str, object]:
        return {"year": self.year, "as_of": self.as_of.isoformat(), "targets": self.targets,
                "measures": [{"id": m.id, "name": m.name, "figure": m.figure, "share": m.share, "service": m.service}
                             for m in self.measures],
                "villages": [village.as_json() for village in self.villages],
                "total": self.total.as_json() if self.total else None, "not_entered": self.not_entered}

    def text_lines(self) -> list[str]:
        lines = [f"{self.year}年建档率（建档人数/常住人口，截至 {self.as_of}）"]
        for row in [*self.villages, *([self.total] if self.total else [])]:
            label = f"{row.code} {row.name}" if row.code else row.name
            lines.append(f"{label}：" + "；".join(f"{m.name} {row.rates[m.id].text()}" for m in self.measures))
        if self.not_entered:
            lines.append(f"未录入{self.year}年常住人口：{'、'.join(self.not_entered)}")
        return lines


def _counts(session: Session, as_of: date, rule: ColumnElement[bool] | None = None) -> dict[int, int]:
    """Village id (of the household) → residents with a record on `as_of` (within `rule`)."""
    stmt = (select(Household.village_id, func.count(Resident.id)).join(Household, Household.id == Resident.household_id)
            .where(counted(as_of)).group_by(Household.village_id))
    if rule is not None:
        stmt = stmt.where(rule)
    return {village_id: count for village_id, count in session.execute(stmt)}


def find_indicators(session: Session, year: int, *, targets: Targets, today: date) -> Indicators:
    """建档率 of every village the session may see and of them together, overall and per key population."""
    as_of = as_of_day(year, today)
    in_force = targets.for_year(year)
    result = Indicators(year=year, as_of=as_of, measures=targets.measures, targets=in_force)
    populations = load_populations()
    counts = {m.id: _counts(session, as_of, None if m.id == OVERALL else populations[m.id].clause(as_of))
              for m in targets.measures}
    figures = figures_in_force(session, year)
    villages = list(session.scalars(select(Village).order_by(Village.code)))
    for village in villages:
        figure = figures.get(village.id)
        values = figure.values() if figure is not None else {}
        result.villages.append(VillageRates(village.ref, village.name, {
            m.id: Rate(m.denominator(values), counts[m.id].get(village.id, 0), in_force.get(m.id),
                       m.figure is not None) for m in targets.measures}, figure is not None))
    total: dict[str, Rate] = {}
    for m in targets.measures:
        parts = [row.rates[m.id].population for row in result.villages]
        population = sum(p for p in parts if p is not None) if parts and None not in parts else None
        total[m.id] = Rate(population, sum(row.rates[m.id].residents for row in result.villages), in_force.get(m.id),
                           m.figure is not None)
    result.total = VillageRates(None, TOTAL_NAME, total, bool(villages) and all(v.entered for v in result.villages))
    return result


# --- who is missing -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MissingPerson:
    """A member of a key population with no service of its schedule recorded in the year."""

    archive_code: str
    name: str
    sex: str
    birth_date: date | None
    village: str
    village_name: str
    household_id: int
    household_number: int
    last_service: date | None

    def as_json(self) -> dict[str, object]:
        return {"archive_code": self.archive_code, "name": self.name, "sex": SEX_CODES.get(self.sex, ""),
                "birth_date": self.birth_date.isoformat() if self.birth_date else None, "village": self.village,
                "village_name": self.village_name, "household": self.household_number,
                "last_service": self.last_service.isoformat() if self.last_service else None}


@dataclass
class MissingList:
    """Who of a key population has no service of its schedule recorded in a year."""

    year: int
    as_of: date
    measure: Measure
    schedule_name: str
    people: list[MissingPerson] = field(default_factory=list)
    members: int = 0

    def as_json(self) -> dict[str, object]:
        return {"year": self.year, "as_of": self.as_of.isoformat(), "population": self.measure.id,
                "population_name": self.measure.name, "schedule": self.measure.service,
                "schedule_name": self.schedule_name, "members": self.members, "missing": len(self.people),
                "people": [person.as_json() for person in self.people]}

    def text_lines(self) -> list[str]:
        lines = [f"{self.measure.name}：{self.members} 人中 {len(self.people)} 人{self.year}年未登记"
                 f"{self.schedule_name}"]
        return lines + [f"{p.village_name} 第{p.household_number}户  {p.archive_code}  {p.name}  "
                        f"最近一次：{p.last_service or '无记录'}" for p in self.people]


def find_missing(session: Session, year: int, measure_key: str, *, targets: Targets, today: date,
                 village_id: int | None = None) -> MissingList:
    """The members of a key population counted in its 建档率 who have no service of the measure's schedule
    recorded (and not voided) in `year`, in household order; with the latest such service ever, if any."""
    measure = targets.measure(measure_key)
    if measure is None or measure.id == OVERALL:
        choices = "、".join(f"{m.id}（{m.name}）" for m in targets.measures if m.id != OVERALL)
        raise NotFound(N_("没有这个重点人群。可选：{choices}"), params={"choices": choices}, field="人群",
                       value=measure_key)
    if measure.service is None:
        raise NotFound(N_("该人群没有指定服务排期，无法列出未服务的人"), field="人群", value=measure_key)
    as_of = as_of_day(year, today)
    schedule = load_schedules()[measure.service]
    rule = and_(counted(as_of), load_populations()[measure.id].clause(as_of))
    visits = (ServiceVisit.resident_id == Resident.id, ServiceVisit.schedule == schedule.id,
              ServiceVisit.voided_at.is_(None))
    served = exists().where(*visits, ServiceVisit.done_on >= date(year, 1, 1),
                            ServiceVisit.done_on <= date(year, 12, 31))
    last = select(func.max(ServiceVisit.done_on)).where(*visits).scalar_subquery()
    stmt = (select(Resident.archive_code, Resident.name, Resident.sex, Resident.birth_date, Village.code, Village.name,
                   Household.id, Household.number, last)
            .join(Household, Household.id == Resident.household_id).join(Village, Village.id == Household.village_id)
            .where(rule, ~served).order_by(Village.code, Household.number, Resident.archive_code))
    members = select(func.count(Resident.id)).join(Household, Household.id == Resident.household_id).where(rule)
    if village_id is not None:
        stmt = stmt.where(Household.village_id == village_id)
        members = members.where(Household.village_id == village_id)
    result = MissingList(year, as_of, measure, schedule.name, members=session.scalar(members) or 0)
    result.people = [MissingPerson(*row) for row in session.execute(stmt)]
    return result


# --- 纸质档案在架率 ----------------------------------------------------------------------------------------------

SHELF_STATES = ("on_shelf", "out", "missing", "unshelved")


@dataclass(frozen=True)
class ShelfRow:
    """One village's folders (or the township's): households with a record, and where their folders are."""

    code: str | None
    name: str
    households: int  # households with at least one resident whose record is open (在档)
    states: dict[str, int]  # on_shelf / out / missing / unshelved → households
    residents_unshelved: int  # residents in档 whose folder is not shelved or not found

    @property
    def rate(self) -> float | None:
        return self.states["on_shelf"] / self.households if self.households else None

    def as_json(self) -> dict[str, object]:
        rate = self.rate
        return {"village": self.code, "village_name": self.name, "households": self.households, **self.states,
                "rate": None if rate is None else round(rate, 4), "residents_unshelved": self.residents_unshelved}

    def text_lines(self) -> list[str]:
        rate = f"{self.rate:.1%}" if self.rate is not None else "无在档户"
        label = f"{self.code} {self.name}" if self.code else self.name
        return [f"{label}：在架 {self.states['on_shelf']}/{self.households} 户 {rate}；取出/借出 {self.states['out']}，"
                f"下落不明 {self.states['missing']}，未上架 {self.states['unshelved']}；"
                f"档案袋未上架或下落不明的在档居民 {self.residents_unshelved} 人"]


@dataclass
class ShelfCoverage:
    villages: list[ShelfRow]
    total: ShelfRow

    def as_json(self) -> dict[str, object]:
        return {"villages": [row.as_json() for row in self.villages], "total": self.total.as_json()}

    def text_lines(self) -> list[str]:
        return [line for row in [*self.villages, self.total] for line in row.text_lines()]


def _open_households() -> ColumnElement[bool]:
    return Household.id.in_(select(Resident.household_id).where(Resident.status == "active"))


def _not_shelved() -> ColumnElement[bool]:
    """The household's folder has no position yet, or is registered as not found (下落不明)."""
    found = aliased(FolderPosition)
    return ~exists().where(found.household_id == Household.id, found.state != "missing").correlate(Household)


def find_shelf_coverage(session: Session) -> ShelfCoverage:
    """纸质档案在架率 per village and in total: households with a record whose folder is on its shelf now."""
    states: dict[int, dict[str, int]] = {}
    for village_id, state, count in session.execute(
            select(Household.village_id, FolderPosition.state, func.count(Household.id))
            .outerjoin(FolderPosition, FolderPosition.household_id == Household.id)
            .where(_open_households()).group_by(Household.village_id, FolderPosition.state)):
        row = states.setdefault(village_id, dict.fromkeys(SHELF_STATES, 0))
        row[state or "unshelved"] += count
    unshelved = dict(session.execute(
        select(Household.village_id, func.count(Resident.id)).join(Household, Household.id == Resident.household_id)
        .where(Resident.status == "active", _not_shelved()).group_by(Household.village_id)).all())
    rows = []
    for village in session.scalars(select(Village).order_by(Village.code)):
        counts = states.get(village.id, dict.fromkeys(SHELF_STATES, 0))
        rows.append(ShelfRow(village.ref, village.name, sum(counts.values()), counts, unshelved.get(village.id, 0)))
    total_states = {state: sum(row.states[state] for row in rows) for state in SHELF_STATES}
    total = ShelfRow(None, TOTAL_NAME, sum(row.households for row in rows), total_states,
                     sum(row.residents_unshelved for row in rows))
    return ShelfCoverage(rows, total)


@dataclass(frozen=True)
class UnshelvedPerson:
    archive_code: str
    name: str
    village: str
    village_name: str
    household_id: int
    household_number: int
    state: str  # unshelved / missing

    def as_json(self) -> dict[str, object]:
        return {"archive_code": self.archive_code, "name": self.name, "village": self.village,
                "village_name": self.village_name, "household": self.household_number, "state": self.state}


def find_unshelved_residents(session: Session, *, village_id: int | None = None,
                             limit: int | None = None) -> list[UnshelvedPerson]:
    """Residents in档 whose household folder has no shelf position or is registered as not found, in household
    order."""
    stmt = (select(Resident.archive_code, Resident.name, Village.code, Village.name, Household.id, Household.number,
                   FolderPosition.state)
            .join(Household, Household.id == Resident.household_id).join(Village, Village.id == Household.village_id)
            .outerjoin(FolderPosition, FolderPosition.household_id == Household.id)
            .where(Resident.status == "active", _not_shelved())
            .order_by(Village.code, Household.number, Resident.archive_code))
    if village_id is not None:
        stmt = stmt.where(Household.village_id == village_id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [UnshelvedPerson(*row[:-1], row[-1] or "unshelved") for row in session.execute(stmt)]

