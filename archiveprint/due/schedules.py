"""Service schedules as data: templates/due/schedules.yaml, a site's <instance>/due_schedules.yaml over it."""

from __future__ import annotations

import calendar
import os
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, RootModel, ValidationInfo, model_validator

from archiveprint import resources
from archiveprint.configfile import Document, Invalid, Schema, read_yaml
from archiveprint.errors import N_, NotFound
from archiveprint.forms.catalog import load_catalog
from archiveprint.register.populations import DATE_COLUMNS, known_id

WHAT = N_("服务排期")
PERIODS = ("month", "quarter", "half_year", "year")
PERIOD_MONTHS = {"month": 1, "quarter": 3, "half_year": 6, "year": 12}
PERIOD_WORDS = {"month": "每月", "quarter": "每季度", "half_year": "每半年", "year": "每年"}


@dataclass(frozen=True)
class Visit:
    """One visit of a schedule: due `after` its anchor date; written on `forms`, in `column` of their sheet."""

    id: str
    name: str
    forms: tuple[str, ...]
    days: int = 0
    weeks: int = 0
    months: int = 0
    column: int = 1

    def due_on(self, anchor: date) -> date:
        return add_months(anchor, self.months) + timedelta(days=self.days, weeks=self.weeks)


@dataclass(frozen=True)
class Schedule:
    """A service schedule: periodic (`every`) or anchored on a register date (`anchor` + `visits`)."""

    id: str
    name: str
    population: str
    every: str | None = None
    visit: str = ""  # a periodic schedule's visit, in words
    forms: tuple[str, ...] = ()  # a periodic schedule's sheets
    columns: int = 1  # a periodic schedule's visits per sheet
    in_month_of: str | None = None  # a periodic schedule due only in the month of this date (生日月体检)
    anchor: tuple[str, ...] = ()
    visits: tuple[Visit, ...] = ()
    catch_up_months: int = 0

    def period(self, month: date) -> tuple[date, date]:
        """The calendar period (first day, last day) of a periodic schedule that holds `month`."""
        assert self.every is not None
        length = PERIOD_MONTHS[self.every]
        first = date(month.year, (month.month - 1) // length * length + 1, 1)
        return first, add_months(first, length) - timedelta(days=1)

    def describe(self) -> str:
        """When it is due, in words: 每季度 / 每年（生日所在月） / the visits' names."""
        if self.every is None:
            return "、".join(visit.name for visit in self.visits)
        return PERIOD_WORDS[self.every] + ("（生日所在月）" if self.in_month_of == "birth_date" else "")

    def column_of(self, month: date) -> int:
        """Which column of its sheet a periodic visit falls in: the period's place in the year, sheet by sheet."""
        assert self.every is not None
        index = (month.month - 1) // PERIOD_MONTHS[self.every]
        return index % self.columns + 1


def add_months(day: date, months: int) -> date:
    """The same day `months` later (or earlier), the month's last day when it is shorter (31 Jan + 1 → 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


class _After(Schema):
    days: int = Field(default=0, ge=-400, le=4000)
    weeks: int = Field(default=0, ge=-60, le=600)
    months: int = Field(default=0, ge=-24, le=240)


class _VisitFile(Schema):
    id: str
    name: str
    after: _After
    forms: list[str] = Field(default_factory=list)
    column: int = Field(default=1, ge=1, le=12)


class _ScheduleFile(Schema):
    id: str
    name: str = ""
    population: str = ""
    enabled: bool = True
    every: Literal["month", "quarter", "half_year", "year"] | None = None
    visit: str = ""
    forms: list[str] = Field(default_factory=list)
    columns: int = Field(default=1, ge=1, le=12)
    in_month_of: str | None = None
    anchor: list[str] = Field(default_factory=list)
    visits: list[_VisitFile] = Field(default_factory=list)
    catch_up_months: int = Field(default=0, ge=0, le=12)

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> _ScheduleFile:
        if not self.enabled:
            return self
        if not self.name:
            raise Invalid(N_("缺少字段"), at=("name",))
        known_id(self.population, at=("population",))
        if (self.every is None) == (not self.anchor):
            raise Invalid(N_("排期应写 every（按周期）或 anchor + visits（按日期）其中之一"), value=None)
        if self.anchor and not self.visits:
            raise Invalid(N_("按日期的排期至少要有一次服务（visits）"), at=("visits",), value=None)
        unknown_dates = [name for name in [*self.anchor, self.in_month_of or "birth_date"]
                         if name not in ("birth_date", *DATE_COLUMNS)]
        if unknown_dates:
            raise Invalid(N_("没有这种登记日期；可用：{allowed}"),
                          {"allowed": "、".join(("birth_date", *DATE_COLUMNS))},
                          value="、".join(unknown_dates))
        forms = (info.context or {}).get("forms", ())
        named = [*self.forms, *(form for visit in self.visits for form in visit.forms)]
        unknown = [form for form in named if form not in forms]
        if unknown:
            raise Invalid(N_("排期引用了不存在的表单"), value="、".join(unknown))
        ids = [visit.id for visit in self.visits]
        if len(set(ids)) != len(ids):
            raise Invalid(N_("同一排期中服务编号重复"), at=("visits",), value="、".join(sorted(ids)))
        return self


_SchedulesFile = RootModel[list[_ScheduleFile] | None]


def site_schedules_file() -> Path:
    """Where a site overrides or adds schedules: <instance>/due_schedules.yaml."""
    return Path(os.environ.get("ARCHIVEPRINT_INSTANCE") or Path.cwd() / "instance") / "due_schedules.yaml"


def _read(document: Document) -> list[_ScheduleFile]:
    return document.validate(_SchedulesFile, context={"forms": load_catalog().forms}).root or []


def _schedule(raw: _ScheduleFile) -> Schedule:
    return Schedule(
        id=raw.id, name=raw.name, population=raw.population, every=raw.every, visit=raw.visit,
        forms=tuple(raw.forms), columns=raw.columns, in_month_of=raw.in_month_of, anchor=tuple(raw.anchor),
        catch_up_months=raw.catch_up_months,
        visits=tuple(Visit(id=v.id, name=v.name, forms=tuple(v.forms), days=v.after.days, weeks=v.after.weeks,
                           months=v.after.months, column=v.column) for v in raw.visits))


def load_schedules() -> dict[str, Schedule]:
    """The schedules in force, by id in file order: the shipped ones, each replaced or switched off by the site's
    file where it names the same id, then the site's own. Read again only when either file changes (a page shows
    them on every resident)."""
    shipped = resources.template_dir() / "due" / "schedules.yaml"
    site = site_schedules_file()
    return dict(_load(shipped, _stamp(shipped), site, _stamp(site)))


def _stamp(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


@lru_cache(maxsize=4)
def _load(shipped: Path, _shipped_stamp: int | None, site: Path,
          site_stamp: int | None) -> tuple[tuple[str, Schedule], ...]:
    chosen: dict[str, _ScheduleFile] = {}
    for raw in _read(read_yaml(shipped, what=WHAT)):
        chosen[raw.id] = raw
    if site_stamp is not None:
        for raw in _read(read_yaml(site, what=WHAT, source=str(site.name))):
            chosen[raw.id] = raw
    return tuple((key, _schedule(raw)) for key, raw in chosen.items() if raw.enabled)


def find_schedule(key: str) -> Schedule:
    """A schedule by id or by name; refused with the choices named."""
    schedules = load_schedules()
    for schedule in schedules.values():
        if key in (schedule.id, schedule.name):
            return schedule
    choices = "、".join(f"{s.id}（{s.name}）" for s in schedules.values())
    raise NotFound(N_("没有这个服务排期。可选：{choices}"), params={"choices": choices}, field="排期", value=key)
