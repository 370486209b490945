"""Charts drawn on the server by matplotlib from plain values — bars per village against a target line, paired bars
with their confidence intervals, trend lines — as SVG (text drawn as paths: no web font needed), PDF or PNG."""

from __future__ import annotations

import base64
import io
import threading
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from archiveprint.pdf.fonts import font_path

CHART_FONT = "NotoSansCJKsc-Regular.otf"  # the shipped sans (fonts/), also the web UI's face
FORMATS = ("svg", "pdf", "png")
PALETTE = ("#2b6cb0", "#dd7a1f", "#2f855a", "#805ad5")  # one colour per series, readable in grey print too
BELOW = "#c05621"  # a single series' bar under its target
TARGET = "#c53030"
UNKNOWN = "#718096"
MANY_LABELS = 16  # more bars than this: no value written above each bar (the table beside gives them)
SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
_lock = threading.Lock()  # matplotlib's font cache and rcParams are process-wide: one drawing at a time


class Point(Protocol):
    """A rate with its interval (inspections.draw.Interval is one)."""

    @property
    def rate(self) -> float: ...
    @property
    def low(self) -> float: ...
    @property
    def high(self) -> float: ...


@dataclass(frozen=True)
class Series:
    """One set of fractions over the chart's categories (one bar colour, or one line); None where unknown.
    `lows`/`highs`, when given, are each value's interval (same length; None where there is none)."""

    name: str
    values: tuple[float | None, ...]
    lows: tuple[float | None, ...] = ()
    highs: tuple[float | None, ...] = ()

    @classmethod
    def of(cls, name: str, points: Sequence[Point | None]) -> Series:
        """A series of rates with their intervals (an inspection's Wilson intervals), None where nothing counted."""
        return cls(name, tuple(p.rate if p else None for p in points), tuple(p.low if p else None for p in points),
                   tuple(p.high if p else None for p in points))


@dataclass(frozen=True)
class BarChart:
    """Bars per category (a village), one per series side by side, against an optional target line. Every text is
    given already in the reader's language."""

    title: str
    categories: tuple[str, ...]
    series: tuple[Series, ...]
    target: float | None = None
    target_label: str = ""  # e.g. 目标 90%
    notes: tuple[str, ...] = ()  # per category, written where its value is unknown (未录入常住人口, 无计入档案 …)
    below_label: str = ""  # with one series and a target: the legend's word for a bar under it (低于目标)
    width: float = 7.6  # inches
    height: float = 3.4


@dataclass(frozen=True)
class LineChart:
    """Lines across ordered categories (inspections, oldest first), each with its interval as a band."""

    title: str
    categories: tuple[str, ...]
    series: tuple[Series, ...]
    width: float = 7.6
    height: float = 3.0


Chart = BarChart | LineChart


def fitted_width(bars: int) -> float:
    """A chart's width in inches: room for its bars, no wider than a page's column (7.6 in)."""
    return min(7.6, 2.8 + 0.34 * bars)


def interval_bars(title: str, categories: Sequence[str], series: Sequence[tuple[str, Sequence[Point | None]]], *,
                  none: str) -> BarChart:
    """Rates with their intervals per category (an inspection's 合格率 and 使用率 per village), one colour per
    series; `none` is written where nothing was counted."""
    return BarChart(title=title, categories=tuple(categories),
                    series=tuple(Series.of(name, points) for name, points in series),
                    notes=tuple(none if all(points[i] is None for _n, points in series) else ""
                                for i in range(len(categories))),
                    width=fitted_width(len(categories) * len(series)))


def render(chart: Chart, fmt: str = "svg") -> bytes:
    """The chart as SVG, PDF or PNG bytes. The same values draw the same bytes, kept in memory: a page shown again
    with unchanged data draws nothing."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown chart format {fmt!r}")
    return _render(chart, fmt)


@lru_cache(maxsize=128)
def _render(chart: Chart, fmt: str) -> bytes:
    with _lock:
        figure_class, rc_context, ticker, patch = _matplotlib()
        with rc_context(_STYLE):
            figure = figure_class(figsize=(chart.width, chart.height), layout="constrained")
            axes = figure.add_subplot()
            if isinstance(chart, BarChart):
                _draw_bars(axes, chart, patch)
            else:
                _draw_lines(axes, chart)
            axes.yaxis.set_major_formatter(ticker.PercentFormatter(xmax=1, decimals=0))
            axes.set_title(chart.title, loc="left", fontsize=11, gid="title")
            out = io.BytesIO()
            metadata = {"svg": {"Date": None}, "pdf": {"CreationDate": None}, "png": {"Software": None}}[fmt]
            figure.savefig(out, format=fmt, metadata=metadata, dpi=144 if fmt == "png" else "figure")
            return out.getvalue()


_STYLE: dict[str, Any] = {
    "svg.fonttype": "path",  # glyphs as paths: the page shows the chart without any font of its own
    "svg.hashsalt": "archiveprint",  # stable ids, so the same chart is the same bytes
    "pdf.fonttype": 42,
    "font.size": 8.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.grid.axis": "y",
    "grid.color": "#e2e8f0",
    "axes.axisbelow": True,
    "legend.frameon": False,
}


def warm_up() -> None:
    """Pay at start what the first chart would: importing matplotlib and reading our font (about 1–2 s).
    `archiveprint serve` runs it in a thread, so the first home page after a restart is as quick as the next."""
    render(BarChart(title="建档率", categories=("村",), series=(Series("建档率", (0.5,)),), target=0.9), "svg")


def _matplotlib() -> tuple[Any, Any, Any, Any]:
    """matplotlib with the Agg backend and our CJK sans registered (once per process)."""
    import matplotlib  # lazy: matplotlib (with numpy, ~0.5 s) only when a chart is drawn

    matplotlib.use("Agg")
    from matplotlib import font_manager, ticker  # lazy: matplotlib only when a chart is drawn
    from matplotlib.figure import Figure  # lazy: matplotlib only when a chart is drawn
    from matplotlib.patches import Patch  # lazy: matplotlib only when a chart is drawn

    family = _font_family(font_manager)
    _STYLE["font.family"] = [family, "sans-serif"]
    return Figure, matplotlib.rc_context, ticker, Patch


_registered: dict[str, str] = {}


def _font_family(font_manager: Any) -> str:
    path = str(font_path(CHART_FONT))
    if path not in _registered:
        font_manager.fontManager.addfont(path)
        _registered[path] = font_manager.FontProperties(fname=path).get_name()
    return _registered[path]


def _top(chart: BarChart | LineChart) -> float:
    """The y axis runs to 100 % at least, higher when a value or an interval goes beyond (建档率 over 100 %)."""
    values = [v for s in chart.series for v in (*s.values, *s.highs) if v is not None]
    target = chart.target if isinstance(chart, BarChart) and chart.target is not None else 0.0
    return max(1.0, target, *values) * 1.08


def _draw_bars(axes: Any, chart: BarChart, patch: Any) -> None:
    count, many = len(chart.series), len(chart.categories) * len(chart.series) > MANY_LABELS
    width = 0.8 / max(count, 1)
    top = _top(chart)
    legend = [patch(color=PALETTE[s % len(PALETTE)], label=series.name) for s, series in enumerate(chart.series)]
    below_seen = False
    for s, series in enumerate(chart.series):
        offset = (s - (count - 1) / 2) * width
        for i, value in enumerate(series.values):
            x = i + offset
            if value is None:
                note = chart.notes[i] if i < len(chart.notes) and chart.notes[i] else "?"
                axes.text(x, top * 0.02, note, rotation=90, ha="center", va="bottom",
                          fontsize=7.5, color=UNKNOWN, gid=f"unknown-{s}-{i}")
                continue
            below = count == 1 and chart.target is not None and value < chart.target - 1e-9
            below_seen = below_seen or below
            bar = axes.bar(x, value, width * 0.92, color=BELOW if below else PALETTE[s % len(PALETTE)])
            bar.patches[0].set_gid(f"bar-{s}-{i}")
            low, high = _interval(series, i)
            if low is not None and high is not None:  # one path: the whisker and its two caps
                cap, nan = width * 0.2, float("nan")
                axes.plot([x - cap, x + cap, nan, x, x, nan, x - cap, x + cap],
                          [low, low, nan, low, high, nan, high, high], color="#1a202c", linewidth=1,
                          solid_capstyle="butt", gid=f"interval-{s}-{i}")
            if not many:
                axes.text(x, (high if high is not None else value) + top * 0.01, f"{value:.0%}", ha="center",
                          va="bottom", fontsize=7, gid=f"value-{s}-{i}")
    if below_seen and chart.below_label:
        legend.append(patch(color=BELOW, label=chart.below_label))
    if chart.target is not None:
        legend.append(axes.axhline(chart.target, color=TARGET, linestyle="--", linewidth=1.2, gid="target",
                                   label=chart.target_label or None))
    slanted = len(chart.categories) > 6
    axes.set_xticks(range(len(chart.categories)), chart.categories, rotation=40 if slanted else 0,
                    ha="right" if slanted else "center", rotation_mode="anchor")
    axes.set_xlim(-0.6, len(chart.categories) - 0.4)
    axes.set_ylim(0, top)
    _legend(axes, legend)


def _legend(axes: Any, handles: list[Any]) -> None:
    """Below the plot, centred: it never hides a bar, a point or the title, however narrow the chart."""
    axes.figure.legend(handles=handles, loc="outside lower center", fontsize=7.5, ncols=len(handles),
                       handlelength=1.6)


def _interval(series: Series, i: int) -> tuple[float | None, float | None]:
    if not series.lows or not series.highs:
        return None, None
    return series.lows[i], series.highs[i]


def _draw_lines(axes: Any, chart: LineChart) -> None:
    """A line per series, broken where a value is unknown, each point labelled, its interval a light band."""
    xs = list(range(len(chart.categories)))
    nan = float("nan")
    handles = []
    for s, series in enumerate(chart.series):
        colour = PALETTE[s % len(PALETTE)]
        if series.lows and series.highs:
            axes.fill_between(xs, [nan if v is None else v for v in series.lows],
                              [nan if v is None else v for v in series.highs], color=colour, alpha=0.15,
                              linewidth=0, gid=f"band-{s}")
        (line,) = axes.plot(xs, [nan if v is None else v for v in series.values], color=colour, marker="o",
                            markersize=4, linewidth=1.8, label=series.name, gid=f"line-{s}")
        handles.append(line)
        for x, value in zip(xs, series.values, strict=True):
            if value is not None:
                axes.annotate(f"{value:.0%}", (x, value), textcoords="offset points", xytext=(0, 6), ha="center",
                              fontsize=7, color=colour, gid=f"point-{s}-{x}")
    axes.set_xticks(xs, chart.categories)
    axes.set_xlim(-0.5, max(len(chart.categories) - 0.5, 0.5))
    axes.set_ylim(0, _top(chart))
    _legend(axes, handles)


# --- the SVG in a page ------------------------------------------------------------------------------------------

@lru_cache(maxsize=64)
def render_inline(chart: Chart, *, prefix: str) -> str:
    """The chart as SVG markup for a page (inline_svg), titled by its title; kept in memory like render's bytes."""
    return inline_svg(render(chart), prefix=prefix, label=chart.title)


def inline_svg(svg: bytes, *, prefix: str, label: str) -> str:
    """matplotlib's SVG made fit to sit inside an HTML page under a strict Content-Security-Policy (no inline
    styles): style attributes become presentation attributes, the <style> and metadata go, every id is prefixed
    (several charts on one page), and `label` is its accessible name. The drawn size stays (width, height, viewBox):
    the page's CSS lets it shrink to fit a narrow screen."""
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)
    root = ET.fromstring(svg)
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag in (f"{{{SVG_NS}}}style", f"{{{SVG_NS}}}metadata"):
                parent.remove(child)
    href = f"{{{XLINK_NS}}}href"
    for element in root.iter():
        for declaration in element.attrib.pop("style", "").split(";"):
            key, _, value = declaration.partition(":")
            if key.strip():
                element.set(key.strip(), value.strip())
        if "id" in element.attrib:
            element.set("id", prefix + element.attrib["id"])
        if element.get(href, "").startswith("#"):
            element.set(href, "#" + prefix + element.attrib[href][1:])
        for key in ("clip-path", "mask", "fill", "stroke"):
            if element.get(key, "").startswith("url(#"):
                element.set(key, "url(#" + prefix + element.attrib[key][5:])
    root.set("stroke-linejoin", "round")  # what the dropped <style> said for every element
    root.set("stroke-linecap", "butt")
    root.set("role", "img")
    root.set("aria-label", label)
    root.set("class", "chart")
    title = ET.Element(f"{{{SVG_NS}}}title")
    title.text = label
    root.insert(0, title)
    return ET.tostring(root, encoding="unicode")


def data_url(svg: bytes) -> str:
    """The SVG as a data: URL (a print template's <img>: WeasyPrint draws it as vectors)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def element_ids(svg: bytes | str) -> list[str]:
    """Every id in an SVG, in document order (what a test or a caller reads back: bar-0-3, target, line-1 …)."""
    text = svg.encode() if isinstance(svg, str) else svg
    return [element.attrib["id"] for element in ET.fromstring(text).iter() if "id" in element.attrib]
