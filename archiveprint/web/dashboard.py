"""The home page's 看板 under the search box: indicators/dashboard.py's numbers in the reader's language, with charts
drawn on the server by matplotlib (indicators/charts.py) and set in the page as SVG. Only reading: no form, no
button that changes anything."""

from __future__ import annotations

from datetime import datetime, time

from flask_babel import gettext as _
from markupsafe import Markup

from archiveprint import clock
from archiveprint.indicators.charts import (
    BarChart,
    Chart,
    LineChart,
    Series,
    fitted_width,
    interval_bars,
    render_inline,
)
from archiveprint.indicators.dashboard import Dashboard, InspectionLine, find_dashboard
from archiveprint.indicators.targets import OVERALL, site_targets
from archiveprint.locations.queries import OVERFLOW_SOON
from archiveprint.web.auth import current_account
from archiveprint.web.i18n import shown_message
from archiveprint.web.session import db_session, lending_rules, state, today


def home_board() -> dict[str, object] | None:
    """What the home page shows below the search box, or None for a role that may not see the indicators."""
    if not current_account().can("view_indicators"):
        return None
    day = today()
    day_start = clock.utc_from_local(datetime.combine(day, time()), lending_rules().timezone)
    board = find_dashboard(db_session(), day.year, targets=site_targets(state().settings.instance_dir), today=day,
                           day_start=day_start)
    charts = {"coverage": coverage_chart(board), "inspection": inspection_chart(board.latest),
              "trend": trend_chart(board)}
    return {"board": board, "charts": {key: _svg(key, chart) for key, chart in charts.items() if chart is not None},
            "overflow_soon": OVERFLOW_SOON}


def _svg(key: str, chart: Chart) -> Markup:
    """The chart's SVG (drawn once per distinct data, then from memory) as markup for the page."""
    return Markup(render_inline(chart, prefix=f"chart-{key}-"))  # drawn by us: names are paths, never markup


def coverage_chart(board: Dashboard) -> BarChart | None:
    """建档率 per village against the year's target; a village whose rate is unknown says why instead of a bar."""
    if not board.villages:
        return None
    target = board.indicators.targets.get(OVERALL)
    rates = [line.rate for line in board.villages]
    return BarChart(
        title=_("各村建档率（%(year)s 年）", year=board.indicators.year),
        categories=tuple(line.name for line in board.villages),
        series=(Series(_("建档率"), tuple(rate.rate for rate in rates)),),
        target=target, target_label=_("目标 %(rate)s", rate=f"{target:.0%}") if target is not None else "",
        below_label=_("低于目标"), width=fitted_width(len(rates)),
        notes=tuple(shown_message(rate.note_text()) if rate.rate is None else "" for rate in rates))


def inspection_chart(line: InspectionLine | None) -> BarChart | None:
    """The latest inspection's 合格率 and 使用率 per village, each with its 95 % interval (as its printed record)."""
    if line is None or not line.villages:
        return None
    return interval_bars(_("%(number)s 各村合格率与使用率（95%% 置信区间）", number=line.number),
                         [pair.name for pair in line.villages],
                         [(_("档案合格率"), [pair.qualified for pair in line.villages]),
                          (_("档案使用率"), [pair.usage for pair in line.villages])], none=_("无计入档案"))


def trend_chart(board: Dashboard) -> LineChart | None:
    """合格率 and 使用率 across the signed inspections (the villages shown together), each with its interval."""
    if not board.trend:
        return None
    return LineChart(
        title=_("历次抽查的合格率与使用率"),
        categories=tuple(f"{line.number}\n{line.inspected_on:%Y-%m-%d}" for line in board.trend),
        series=(Series.of(_("档案合格率"), [line.overall.qualified for line in board.trend]),
                Series.of(_("档案使用率"), [line.overall.usage for line in board.trend])),
        width=fitted_width(2 * len(board.trend)))
