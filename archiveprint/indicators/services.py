"""常住人口 figures entered or corrected: checked, kept as a new row when they differ from the figure in force, and
recorded as an event."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiveprint.errors import N_, InvalidValue, Message, NotFound
from archiveprint.eventlog import record_event
from archiveprint.indicators.models import KEY_FIGURES, PopulationFigure
from archiveprint.register.models import Village
from archiveprint.register.services import ambiguous_code, get_township
from archiveprint.register.text import clean

FIRST_YEAR, LAST_YEAR = 1990, 2100
# How the pages, the sheet and the messages name each figure.
FIGURE_LABELS: dict[str, str] = {"residents": N_("常住人口"), "age65": N_("65岁及以上"), "age0_6": N_("0-6岁"),
                                 "maternal": N_("孕产妇")}
YEAR_LABEL = N_("年份")
VILLAGE_LABEL = N_("村(居)委会")
WEB_SOURCE = N_("网页录入")
CLI_SOURCE = N_("命令行")
_COMMITTEE_SUFFIXES = ("村民委员会", "居民委员会", "社区居委会", "村委会", "居委会")
_WHOLE = re.compile(r"^\d{1,3}(?:,\d{3})+$|^\d+$")


@dataclass(frozen=True)
class FigureProblem:
    """One figure that breaks a rule: which field, the value given, why."""

    field: str
    value: object
    reason: Message


def check_figures(year: int | None, values: Mapping[str, int | None]) -> list[FigureProblem]:
    """Every rule a village's figures for a year must keep: a year 1990–2100, 常住人口 given and not negative, each
    key figure not negative and not above 常住人口, and 65岁及以上 with 0-6岁 together not above 常住人口."""
    problems: list[FigureProblem] = []
    if year is not None and not FIRST_YEAR <= year <= LAST_YEAR:
        problems.append(FigureProblem(YEAR_LABEL, year, Message(N_("年份应在 {first}–{last} 之间"),
                                                                {"first": FIRST_YEAR, "last": LAST_YEAR})))
    residents = values.get("residents")
    if residents is None:
        problems.append(FigureProblem(FIGURE_LABELS["residents"], None, Message(N_("常住人口必须填写"))))
    for key in ("residents", *KEY_FIGURES):
        value = values.get(key)
        if value is not None and value < 0:
            problems.append(FigureProblem(FIGURE_LABELS[key], value, Message(N_("人数不能为负数"))))
        elif value is not None and residents is not None and key != "residents" and value > residents:
            problems.append(FigureProblem(FIGURE_LABELS[key], value, Message(
                N_("不能多于常住人口（{residents}）"), {"residents": residents})))
    age65, age0_6 = values.get("age65"), values.get("age0_6")
    if residents is not None and age65 is not None and age0_6 is not None and age65 + age0_6 > residents:
        problems.append(FigureProblem(FIGURE_LABELS["age0_6"], age0_6, Message(
            N_("65岁及以上与0-6岁合计（{total}）多于常住人口（{residents}）"),
            {"total": age65 + age0_6, "residents": residents})))
    return problems


def parse_count(value: object) -> int | None:
    """A cell or a typed field as a head count: None when empty; 1234, "1,234", "１２３４", "1234人" and a whole
    1234.0 are 1234. Anything else (a fraction, words) raises ValueError."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ValueError(value)
    text = clean(value).removesuffix("人").strip()
    if not text:
        return None
    negative = text.startswith("-")
    digits = text.removeprefix("-").strip()
    if not _WHOLE.fullmatch(digits):
        raise ValueError(value)
    number = int(digits.replace(",", ""))
    return -number if negative else number


def parse_year(value: object) -> int | None:
    """A year as 2026, "2026" or "2026年" (None when empty); anything else raises ValueError."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = clean(value).removesuffix("年").strip()
    if not text:
        return None
    if not re.fullmatch(r"\d{4}", text):
        raise ValueError(value)
    return int(text)


class VillageFinder:
    """Villages of the archive's township by 3-digit code (a number Excel shortened, 1 for 001, too), 12-digit code
    or name (with or without 村民委员会/居委会 …), looked up once for a whole sheet."""

    def __init__(self, session: Session) -> None:
        self.prefix = get_township(session).prefix
        villages = list(session.scalars(select(Village).order_by(Village.code)))
        self.by_ref = {village.ref: village for village in villages}  # 201, or 12 digits for a village taken over
        self.by_code: dict[str, list[Village]] = {}
        for village in villages:
            self.by_code.setdefault(village.code, []).append(village)
        self.by_name = {village.name: village for village in villages}

    def find(self, value: object) -> Village | None:
        """The village named; a 3-digit code shared by a village of the site's own and one taken over from another
        township (机构撤并) is refused, naming both: the 12-digit code says which."""
        text = clean(value).replace(" ", "")
        if not text:
            return None
        if text.isdigit():
            if len(text) == 12:
                home = self.by_ref.get(text[9:]) if text.startswith(self.prefix) else None
                return home or self.by_ref.get(text)
            if len(text) > 3:
                return None
            found = self.by_code.get(text.zfill(3), [])
            if len(found) > 1:
                raise ambiguous_code(text.zfill(3), found)
            return found[0] if found else None
        if text in self.by_name:
            return self.by_name[text]
        for suffix in _COMMITTEE_SUFFIXES:
            if text.endswith(suffix) and text.removesuffix(suffix) in self.by_name:
                return self.by_name[text.removesuffix(suffix)]
            if text + suffix in self.by_name:
                return self.by_name[text + suffix]
        return None

    def get(self, value: object) -> Village:
        village = self.find(value)
        if village is None:
            raise NotFound(N_("没有这个村(居)委会"), field=VILLAGE_LABEL, value=clean(value))
        return village


def latest_figure(session: Session, village_id: int, year: int) -> PopulationFigure | None:
    """The figure in force for a village and year: its latest row."""
    return session.scalar(select(PopulationFigure).where(PopulationFigure.village_id == village_id,
                                                         PopulationFigure.year == year)
                          .order_by(PopulationFigure.id.desc()).limit(1))


@dataclass(frozen=True)
class FigureChange:
    """What recording a village's figures did: `added` (the first for the year), `changed` or `unchanged` (the same
    as the figure in force: nothing written)."""

    village_code: str
    village_name: str
    year: int
    values: dict[str, int | None]
    action: str
    before: dict[str, int | None] | None = None

    def as_json(self) -> dict[str, object]:
        return {"village": self.village_code, "village_name": self.village_name, "year": self.year, **self.values,
                "action": self.action, "before": self.before}

    def text_lines(self) -> list[str]:
        words = {"added": "已录入", "changed": "已更正", "unchanged": "与现有数字相同，未改动"}[self.action]
        given = "，".join(f"{FIGURE_LABELS[key]} {value}" for key, value in self.values.items() if value is not None)
        return [f"{self.village_name}（{self.village_code}）{self.year}年：{given}（{words}）"]


def record_figures(session: Session, village: Village, year: int, values: Mapping[str, int | None], *,
                   source: str, actor: str, now: datetime | None = None) -> FigureChange:
    """A village's 常住人口 (and key figures) for a year: a new row when they differ from the figure in force (the
    old one stays as history), nothing when they are the same. Refused with the field and value when a rule is
    broken."""
    given = {key: values.get(key) for key in ("residents", *KEY_FIGURES)}
    problems = check_figures(year, given)
    if problems:
        first = problems[0]
        raise InvalidValue(first.reason, field=first.field, value=first.value)
    current = latest_figure(session, village.id, year)
    before = current.values() if current is not None else None
    if before == given:
        return FigureChange(village.ref, village.name, year, given, "unchanged", before)
    row = PopulationFigure(village_id=village.id, year=year, source=source[:255], recorded_by=actor, **given)
    if now is not None:
        row.recorded_at = now
    session.add(row)
    session.flush()
    record_event(session, "population.recorded", "village", village.code, actor=actor, now=now, figure_id=row.id,
                 year=year, source=row.source, before=before, after=given)
    return FigureChange(village.ref, village.name, year, given, "added" if current is None else "changed", before)


def values_of(residents: int | None, *, age65: int | None = None, age0_6: int | None = None,
              maternal: int | None = None) -> dict[str, int | None]:
    """The figures as record_figures takes them."""
    return {"residents": residents, "age65": age65, "age0_6": age0_6, "maternal": maternal}
