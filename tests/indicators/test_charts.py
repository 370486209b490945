"""Charts drawn by matplotlib from plain values: the SVG holds one bar per known value, the target line, a note where
a value is unknown, the intervals and the lines (read back by the ids the chart sets); text is drawn as paths; the
same values give the same bytes; PDF and PNG come from the same code; the page's copy needs no inline style."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

import pypdf
import pytest

from archiveprint.indicators.charts import (
    BarChart,
    LineChart,
    Series,
    _render,
    element_ids,
    inline_svg,
    interval_bars,
    render,
    render_inline,
    warm_up,
)
from archiveprint.inspections.draw import wilson

SVG = "{http://www.w3.org/2000/svg}"
VILLAGES = ("东村", "西村", "城关社区", "南村")


def coverage() -> BarChart:
    return BarChart(title="各村建档率（2026 年）", categories=VILLAGES,
                    series=(Series("建档率", (0.7, 0.95, None, 1.08)),), target=0.9, target_label="目标 90%",
                    below_label="低于目标", notes=("", "", "未录入常住人口", ""))


def test_bars_per_village_against_the_target_line() -> None:
    svg = render(coverage())
    ids = element_ids(svg)
    assert [i for i in ids if i.startswith("bar-")] == ["bar-0-0", "bar-0-1", "bar-0-3"]  # 城关社区: no bar
    assert "unknown-0-2" in ids and ids.count("target") == 1 and "title" in ids
    assert [i for i in ids if i.startswith("value-")] == ["value-0-0", "value-0-1", "value-0-3"]
    root = ET.fromstring(svg)
    bars = {g.get("id"): g.find(f"{SVG}path") for g in root.iter(f"{SVG}g") if g.get("id", "").startswith("bar-")}
    heights = {key: _height(path.get("d")) for key, path in bars.items()}
    assert heights["bar-0-1"] / heights["bar-0-0"] == pytest.approx(0.95 / 0.7, rel=1e-3)
    assert heights["bar-0-3"] / heights["bar-0-0"] == pytest.approx(1.08 / 0.7, rel=1e-3)  # over 100 %: drawn so
    fills = {key: re.search(r"fill: (#[0-9a-f]+)", path.get("style")).group(1) for key, path in bars.items()}
    assert fills["bar-0-0"] != fills["bar-0-1"] == fills["bar-0-3"]  # under the target: another colour
    target = next(g for g in root.iter(f"{SVG}g") if g.get("id") == "target").find(f"{SVG}path")
    first, last = _points(target.get("d"))[0], _points(target.get("d"))[-1]
    assert first[1] == pytest.approx(last[1])  # a horizontal line across the plot
    assert root.find(f".//{SVG}text") is None  # every text drawn as glyph paths: the page needs no font


def test_the_same_values_draw_the_same_bytes_and_other_values_another_picture() -> None:
    assert render(coverage()) == render(BarChart(**{**coverage().__dict__}))
    changed = BarChart(**{**coverage().__dict__, "series": (Series("建档率", (0.7, 0.95, None, 0.5)),)})
    assert render(changed) != render(coverage())


def test_paired_bars_with_their_intervals_and_the_trend_lines() -> None:
    chart = interval_bars("抽查", ["东村", "西村", "南村"],
                          [("合格率", [wilson(8, 10), wilson(15, 15), None]),
                           ("使用率", [wilson(9, 10), wilson(12, 15), None])], none="无计入档案")
    assert chart.notes == ("", "", "无计入档案")
    ids = element_ids(render(chart))
    assert sorted(i for i in ids if i.startswith("bar-")) == ["bar-0-0", "bar-0-1", "bar-1-0", "bar-1-1"]
    assert sorted(i for i in ids if i.startswith("interval-")) == ["interval-0-0", "interval-0-1", "interval-1-0",
                                                                   "interval-1-1"]
    assert {"unknown-0-2", "unknown-1-2"} <= set(ids)
    trend = LineChart("历次抽查", ("CC-2026-0001", "CC-2026-0002", "CC-2027-0001"),
                      (Series.of("合格率", [wilson(18, 20), wilson(16, 20), wilson(19, 20)]),
                       Series.of("使用率", [wilson(20, 20), None, wilson(17, 20)])))
    ids = element_ids(render(trend))
    assert {"line-0", "line-1", "band-0", "band-1"} <= set(ids)
    assert [i for i in ids if i.startswith("point-1-")] == ["point-1-0", "point-1-2"]  # no point where unknown


def test_pdf_and_png_from_the_same_code() -> None:
    pdf = pypdf.PdfReader(io.BytesIO(render(coverage(), "pdf")))
    assert len(pdf.pages) == 1 and "/Font" in pdf.pages[0]["/Resources"]  # text kept as text in a PDF
    assert "城关社区" in pdf.pages[0].extract_text()
    png = render(coverage(), "png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(ValueError):
        render(coverage(), "gif")


def test_the_page_copy_needs_no_inline_style_and_its_ids_are_its_own() -> None:
    markup = inline_svg(render(coverage()), prefix="chart-a-", label="各村建档率")
    root = ET.fromstring(markup)
    assert root.get("role") == "img" and root.get("aria-label") == "各村建档率"
    assert root.find(f"{SVG}title").text == "各村建档率"
    assert not [e for e in root.iter() if "style" in e.attrib] and root.find(f".//{SVG}style") is None
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert ids and all(i.startswith("chart-a-") for i in ids) and len(ids) == len(set(ids))
    references = re.findall(r'(?:href="#|url\(#)([^")]+)', markup)
    assert references and set(references) <= set(ids)  # every glyph and clip path found under its new name
    assert "chart-a-bar-0-0" in ids and "chart-a-target" in ids
    assert 'aria-label="各村建档率（2026 年）"' in render_inline(coverage(), prefix="chart-a-")  # titled by its title


def _points(d: str) -> list[tuple[float, float]]:
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", d)]
    return list(zip(numbers[::2], numbers[1::2], strict=False))


def _height(d: str) -> float:
    ys = [y for _x, y in _points(d)]
    return max(ys) - min(ys)


def test_the_warm_up_loads_matplotlib_and_our_font() -> None:
    """`archiveprint serve` calls it at start: the first home page then finds matplotlib loaded."""
    import sys

    warm_up()
    assert "matplotlib" in sys.modules and _render.cache_info().currsize >= 1
