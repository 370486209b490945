"""What each 建档率 is measured against and the year's targets, as data: templates/indicators/targets.yaml, with a
site's <instance>/indicator_targets.yaml merged over it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from archiveprint import resources
from archiveprint.configfile import Invalid, Schema, merge_documents, read_yaml
from archiveprint.due.schedules import load_schedules
from archiveprint.errors import N_
from archiveprint.register.populations import load_populations

WHAT = N_("建档率目标")
SITE_FILE = "indicator_targets.yaml"
OVERALL = "overall"
OVERALL_NAME = N_("全体常住居民")
Figure = Literal["residents", "age65", "age0_6", "maternal"]
# The shipped populations' and schedules' names (data, shown through gettext): marked here for the translations.
SHIPPED_NAMES = (N_("0～6岁儿童"), N_("65岁及以上老年人"), N_("高血压患者"), N_("2型糖尿病患者"),
                 N_("严重精神障碍患者"), N_("肺结核患者"), N_("孕产妇"), N_("0～6岁儿童健康检查"),
                 N_("孕期健康管理"), N_("高血压患者随访"), N_("2型糖尿病患者随访"), N_("严重精神障碍患者随访"),
                 N_("肺结核患者随访"), N_("老年人年度健康管理"))


@dataclass(frozen=True)
class Measure:
    """One rate: everyone (`overall`) or a key population, its denominator figure and the service whose absence
    in the year lists who is missing."""

    id: str
    name: str
    figure: str | None = None
    share: float | None = None
    service: str | None = None

    def denominator(self, figures: dict[str, int | None]) -> int | None:
        """The rate's denominator from a village's figures (None when the figure was not given)."""
        if self.figure is None:
            return None
        value = figures.get(self.figure)
        if value is None:
            return None
        return value if self.share is None else round(value * self.share)


@dataclass(frozen=True)
class Targets:
    """The measures in file order and the targets of each year written."""

    measures: tuple[Measure, ...]
    by_year: dict[int, dict[str, float]]
    sources: tuple[str, ...]

    def for_year(self, year: int) -> dict[str, float]:
        """The targets in force in `year`: the latest year written on or before it (none before the first)."""
        written = [known for known in self.by_year if known <= year]
        return self.by_year[max(written)] if written else {}

    def measure(self, key: str) -> Measure | None:
        return next((m for m in self.measures if key in (m.id, m.name)), None)


class _Measure(Schema):
    figure: Figure | None = None
    share: float | None = Field(default=None, gt=0, le=1)
    service: str | None = None

    @field_validator("service")
    @classmethod
    def _known_schedule(cls, value: str | None) -> str | None:
        if value is not None and value not in load_schedules():
            raise Invalid(N_("没有这个服务排期；可用：{allowed}"), {"allowed": "、".join(load_schedules())})
        return value

    @model_validator(mode="after")
    def _share_needs_figure(self) -> _Measure:
        if self.share is not None and self.figure is None:
            raise Invalid(N_("写了 share 就要写 figure（按哪个人数估算）"), at=("share",), value=self.share)
        return self


class _TargetsFile(Schema):
    measures: dict[str, _Measure]
    targets: dict[str, dict[str, float]] = Field(default_factory=dict)

    @field_validator("measures")
    @classmethod
    def _known_measures(cls, value: dict[str, _Measure]) -> dict[str, _Measure]:
        allowed = [OVERALL, *load_populations()]
        unknown = [key for key in value if key not in allowed]
        if unknown:
            raise Invalid(N_("没有这个重点人群；可用：{allowed}"), {"allowed": "、".join(allowed)}, at=(unknown[0],),
                          value=unknown[0])
        return value

    @model_validator(mode="after")
    def _targets(self) -> _TargetsFile:
        for year, rates in self.targets.items():
            if not (year.isdigit() and 1990 <= int(year) <= 2100):
                raise Invalid(N_("年份应为 1990–2100 之间的四位数"), at=("targets", year), value=year)
            for key, rate in rates.items():
                if key not in self.measures:
                    raise Invalid(N_("目标所指的指标未在 measures 中定义；可用：{allowed}"),
                                  {"allowed": "、".join(self.measures)}, at=("targets", year, key), value=key)
                if not 0 < rate <= 1:
                    raise Invalid(N_("目标应为 0–1 之间的小数（0.9 即 90%）"), at=("targets", year, key), value=rate)
        return self


def shipped_targets_file() -> Path:
    return resources.template_dir() / "indicators" / "targets.yaml"


def targets_files(instance_dir: Path | None) -> list[Path]:
    """The shipped file, then the site's <instance>/indicator_targets.yaml when there is one."""
    paths = [shipped_targets_file()]
    if instance_dir is not None and (Path(instance_dir) / SITE_FILE).is_file():
        paths.append(Path(instance_dir) / SITE_FILE)
    return paths


def site_targets(instance_dir: Path | None) -> Targets:
    """The targets in force for an installation (read again when a file changes)."""
    return _cached(tuple((str(p), p.stat().st_mtime_ns) for p in targets_files(instance_dir)))


@lru_cache(maxsize=8)
def _cached(stamped: tuple[tuple[str, int], ...]) -> Targets:
    return load_targets([Path(path) for path, _ in stamped])


def load_targets(paths: list[Path]) -> Targets:
    """Read and merge the files in order (a later file overrides), then check the result."""
    document = merge_documents([read_yaml(path, what=WHAT, source=path.name) for path in paths])
    raw = document.validate(_TargetsFile)
    populations = load_populations()
    measures = tuple(Measure(id=key, name=OVERALL_NAME if key == OVERALL else populations[key].name,
                             figure=value.figure, share=value.share, service=value.service)
                     for key, value in raw.measures.items())
    return Targets(measures=measures, by_year={int(year): dict(rates) for year, rates in raw.targets.items()},
                   sources=tuple(str(p) for p in paths))
