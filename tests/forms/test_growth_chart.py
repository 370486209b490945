"""男童 / 女童生长发育监测图: the reference curves are vector lines drawn from the table in the form's folder (WHO
2006 percentiles), and a set prints each child the chart of his or her sex."""

from __future__ import annotations

import re
from datetime import date

import pytest

from archiveprint.errors import InvalidValue
from archiveprint.forms.by_sex import check_groups, for_resident, load_groups
from archiveprint.forms.catalog import load_catalog
from archiveprint.forms.layout import layout_form
from archiveprint.forms.preview import plan_print
from archiveprint.forms.render import render_blank_html
from archiveprint.forms.services import PrintOptions, print_forms, resolve_scope
from archiveprint.forms.tables import read_table
from tests.conftest import TODAY
from tests.pdfcheck import compact, page_texts, read

CATALOG = load_catalog()
CHARTS = ("growth_chart_boys", "growth_chart_girls")
PERCENTILES = ("P3", "P15", "P50", "P85", "P97")


def curves(html: str) -> tuple[dict[str, list[tuple[float, float]]], list[float]]:
    """The drawn polylines by data-curve ("wfa weight P50" …) as (x, y) in mm, and the plot geometry."""
    plot = [float(v) for v in re.search(r'data-plot="([^"]+)"', html).group(1).split()]  # type: ignore[union-attr]
    found = {}
    for name, points in re.findall(r'data-curve="([^"]+)" points="([^"]*)"', html):
        found[name] = [tuple(float(v) for v in point.split(",")) for point in points.split()]
    return found, plot  # type: ignore[return-value]


@pytest.mark.parametrize(("form_id", "median_36"), [("growth_chart_boys", 14.3429), ("growth_chart_girls", 13.8503)])
def test_the_curves_are_the_reference_table_drawn_to_scale(form_id, median_36):
    form = CATALOG.form(form_id)
    rows = read_table(form.folder, "reference.csv")
    drawn, (left, top, width, height, units, cm0) = curves(render_blank_html(form))
    assert len(drawn) == 3 * len(PERCENTILES)  # weight, length (0–24 months) and height (24–36) × 5 percentiles
    per_month, per_unit = width / 36, height / units
    for name, points in drawn.items():
        indicator, measure, key = name.split()
        table = [r for r in rows if r["indicator"] == indicator and r["measure"] == measure and r["month"] <= 36]
        assert [r["month"] for r in table] == [round((x - left) / per_month, 2) for x, _ in points]
        scale, offset = (2, 0) if measure == "weight" else (1, cm0)
        for row, (_, y) in zip(table, points, strict=True):
            value = (units - (y - top) / per_unit) / scale + offset
            assert value == pytest.approx(row[key], abs=0.01), f"{name} at {row['month']} months"
    median = next(r for r in rows if r["indicator"] == "wfa" and r["month"] == 36)
    assert median["M"] == median_36  # WHO 2006 weight-for-age, 36 months


@pytest.mark.parametrize("form_id", CHARTS)
def test_the_chart_is_vector_drawing_not_a_picture(form_id):
    pdf = layout_form(CATALOG.form(form_id)).pdf
    raw = pdf.replace(b" ", b"")
    assert b"/Subtype/Image" not in raw and b"/Image" not in raw
    text = compact(page_texts(pdf)[0])
    assert all(str(month) in text for month in range(0, 37, 2))


@pytest.mark.parametrize("form_id", CHARTS)
def test_the_reference_table_names_its_source(form_id):
    head = (CATALOG.form(form_id).folder / "reference.csv").read_text(encoding="utf-8").split("\n", 8)[:8]
    comment = " ".join(line for line in head if line.startswith("#"))
    assert "WHO Child Growth Standards" in comment and "Geneva, 2006" in comment
    sex = "boys" if form_id.endswith("boys") else "girls"
    assert f"(2006), {sex}" in comment


def test_a_table_outside_the_forms_folder_is_refused():
    folder = CATALOG.form("growth_chart_boys").folder
    for name in ("../growth_chart_girls/reference.csv", "form.yaml", "missing.csv"):
        with pytest.raises(InvalidValue):
            read_table(folder, name)


def test_each_child_gets_the_chart_of_his_or_her_sex():
    check_groups(CATALOG, load_groups())
    forms = [CATALOG.form(f) for f in CATALOG.form_set("儿童健康检查").forms]
    ids = {sex: [f.id for f in for_resident(forms, sex)] for sex in ("1", "2", "0", "9", None)}
    assert ids["1"][-1] == "growth_chart_boys" and ids["2"][-1] == "growth_chart_girls"
    assert ids["0"] == ids["9"] == ids[None] == ids["1"]  # no sex known: the group's first
    assert all(len(chosen) == 4 for chosen in ids.values())
    with pytest.raises(InvalidValue, match="页数"):
        check_groups(CATALOG, {"mixed": {"1": "growth_chart_boys", "2": "health_check"}})


@pytest.mark.parametrize("options", [PrintOptions(), PrintOptions(duplex=True), PrintOptions(blank=True)],
                         ids=["plain", "duplex", "blank-per-resident"])
def test_a_village_print_gives_boys_and_girls_their_charts_and_the_counted_pages(session, create_household,
                                                                                 create_resident, tmp_path, options):
    household = create_household("201", head_name="张建华")
    create_resident(household, name="张建华", relation_to_head="户主", sex="1", birth_date=date(1994, 5, 12))
    create_resident(household, name="张小雨", relation_to_head="女", sex="2", birth_date=date(2026, 3, 10))
    create_resident(household, name="张小山", relation_to_head="子", sex="1", birth_date=date(2024, 7, 1))
    form_set = CATALOG.form_set("儿童健康检查")
    scope = resolve_scope(session, village="201")
    plan = plan_print(session, form_set, scope, options)
    result = print_forms(session, form_set, scope, tmp_path / "c.pdf", options=options, today=TODAY)
    texts = [compact(t) for t in page_texts(tmp_path / "c.pdf")]
    assert plan.pages == result.pages == len(read(tmp_path / "c.pdf").pages)
    if options.blank:
        assert result.pages == 3 * 5 and plan.pages_per_resident == 5
        return
    assert plan.pages_per_resident == 4
    charts = {name: title for text in texts for name in ("张建华", "张小雨", "张小山")
              for title in ("男童生长发育监测图", "女童生长发育监测图") if name in text and title in text}
    assert charts == {"张建华": "男童生长发育监测图", "张小雨": "女童生长发育监测图", "张小山": "男童生长发育监测图"}
