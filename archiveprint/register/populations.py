"""Key populations (重点人群) as data — templates/register/populations.yaml — and the one SQL rule for membership."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Literal

from pydantic import Field, RootModel, field_validator
from sqlalchemy import ColumnElement, and_, false, or_, select

from archiveprint import resources
from archiveprint.configfile import Invalid, Schema, read_yaml
from archiveprint.errors import N_, NotFound
from archiveprint.register.models import PopulationTag, Resident, resident_tags

WHAT = N_("重点人群定义")
UNKNOWN_ID = N_("没有这个重点人群；可用：{allowed}")
DATE_COLUMNS = {"due_date": Resident.due_date, "delivery_date": Resident.delivery_date,
                "tb_treatment_start": Resident.tb_treatment_start}


@dataclass(frozen=True)
class Population:
    """One key population: who belongs, by age, tags, register dates and sex (any of age/tags/dates)."""

    id: str
    name: str
    tags: tuple[str, ...] = ()
    min_age: int | None = None
    max_age: int | None = None
    dates: tuple[str, ...] = ()
    sex: str | None = None

    def clause(self, on: date) -> ColumnElement[bool]:
        """The SQL condition on Resident: in this population on day `on` (ages in whole years on that day)."""
        rules: list[ColumnElement[bool]] = []
        if self.min_age is not None or self.max_age is not None:
            age_rule: list[ColumnElement[bool]] = [Resident.birth_date.is_not(None)]
            if self.min_age is not None:  # born on or before the day they turned min_age
                age_rule.append(Resident.birth_date <= years_before(on, self.min_age))
            if self.max_age is not None:  # not yet max_age + 1
                age_rule.append(Resident.birth_date > years_before(on, self.max_age + 1))
            rules.append(and_(*age_rule))
        if self.tags:
            # `id + 0`: a membership test, never an index key. Within a village doctor's villages SQLite would
            # otherwise look up every tagged id in every household (0.7 s instead of 7 ms for 30,000 residents).
            rules.append((Resident.id + 0).in_(
                select(resident_tags.c.resident_id).join(PopulationTag, PopulationTag.id == resident_tags.c.tag_id)
                .where(PopulationTag.name.in_(self.tags))))
        rules.extend(DATE_COLUMNS[name].is_not(None) for name in self.dates)
        rule = or_(*rules) if rules else false()
        return rule & (Resident.sex == self.sex) if self.sex else rule

    def holds(self, *, birth_date: date | None, tags: list[str], dates: dict[str, date | None], sex: str,
              on: date) -> bool:
        """The same rule in Python, for one resident already loaded."""
        if self.sex and sex != self.sex:
            return False
        if birth_date is not None and (self.min_age is not None or self.max_age is not None):
            too_young = self.min_age is not None and birth_date > years_before(on, self.min_age)
            too_old = self.max_age is not None and birth_date <= years_before(on, self.max_age + 1)
            if not (too_young or too_old):
                return True
        return bool(set(self.tags) & set(tags)) or any(dates.get(name) for name in self.dates)


def years_before(day: date, years: int) -> date:
    """The same day `years` earlier (29 February → 28 February in a common year)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


class _Age(Schema):
    min: int | None = Field(default=None, ge=0, le=150)
    max: int | None = Field(default=None, ge=0, le=150)


class _PopulationFile(Schema):
    id: str
    name: str
    tags: list[str] = Field(default_factory=list)
    age: _Age | None = None
    dates: list[str] = Field(default_factory=list)
    sex: Literal["1", "2"] | None = None

    @field_validator("dates")
    @classmethod
    def _known_dates(cls, dates: list[str]) -> list[str]:
        unknown = [name for name in dates if name not in DATE_COLUMNS]
        if unknown:
            raise Invalid(N_("没有这种登记日期；可用：{allowed}"), {"allowed": "、".join(DATE_COLUMNS)},
                          value="、".join(unknown))
        return dates


_PopulationsFile = RootModel[list[_PopulationFile]]


@cache
def load_populations() -> dict[str, Population]:
    """Every population of templates/register/populations.yaml, by id, in the file's order."""
    path = resources.template_dir() / "register" / "populations.yaml"
    document = read_yaml(path, what=WHAT)
    found: dict[str, Population] = {}
    for index, raw in enumerate(document.validate(_PopulationsFile).root):
        if raw.id in found:
            raise document.error(N_("人群编号重复"), at=(index, "id"), value=raw.id)
        found[raw.id] = Population(id=raw.id, name=raw.name, tags=tuple(raw.tags), dates=tuple(raw.dates),
                                   min_age=raw.age.min if raw.age else None, max_age=raw.age.max if raw.age else None,
                                   sex=raw.sex)
    return found


def known_id(population: str, *, at: tuple[str, ...] = ()) -> str:
    """A population id as another configuration file names it (sets.yaml, schedules.yaml); refused with the ids."""
    if population not in load_populations():
        raise Invalid(UNKNOWN_ID, {"allowed": "、".join(load_populations())}, at=at, value=population)
    return population


def find_population(key: str) -> Population:
    """A population by id or by name; refused with the choices named."""
    for population in load_populations().values():
        if key in (population.id, population.name):
            return population
    choices = "、".join(f"{p.id}（{p.name}）" for p in load_populations().values())
    raise NotFound(N_("没有这个重点人群。可选：{choices}"), params={"choices": choices}, field="人群", value=key)
