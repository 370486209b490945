"""A set names the population it is for (issue #12 §3): printed for a village it prints that population by default,
everyone when asked, never narrows a list of codes, and leaves blank prints alone (SQLite and PostgreSQL)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from archiveprint.errors import InvalidValue, NotFound
from archiveprint.forms.catalog import load_catalog, load_sets
from archiveprint.forms.preview import plan_print
from archiveprint.forms.services import EVERYONE, PrintOptions, Scope, print_forms, resolve_scope
from archiveprint.forms.sets import as_form_set, create_form_set
from archiveprint.register.models import Resident
from tests.conftest import ACTOR, TODAY
from tests.forms.patients import seed_patients
from tests.pdfcheck import compact, read

SET_POPULATIONS = {"hypertension": "hypertension", "diabetes": "diabetes", "mental": "mental",
                   "tuberculosis": "tuberculosis", "elderly_annual": "elderly", "child_tcm": "children",
                   "newborn": "children", "child_check": "children", "maternal": "maternal"}


@pytest.fixture
def village(session, township):
    return seed_patients(session)


def names_on_pages(pdf: Path, names: list[str]) -> list[list[str]]:
    """Which of `names` each page of the PDF prints (poppler's pdftotext: pypdf takes ~0.4 s a stamped form page,
    which made this the slowest test of the suite)."""
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    return [[name for name in names if name in compact(page)] for page in text.split("\f")[:-1]]


def test_every_built_in_set_names_its_population_or_none():
    sets = load_catalog().sets
    assert {key: s.population for key, s in sets.items() if s.population} == SET_POPULATIONS
    assert sets["annual_check"].population is None and sets["new_record"].population is None


def test_a_hypertension_set_for_a_village_prints_its_20_patients_and_everyone_only_when_asked(session, village,
                                                                                              tmp_path):
    form_set = load_catalog().form_set("hypertension")
    scope = resolve_scope(session, village="东村", form_set=form_set, today=TODAY)
    assert (scope.population, scope.on) == ("hypertension", TODAY)
    plan = plan_print(session, form_set, scope, PrintOptions())
    assert plan.headline == "高血压随访 · 东村 · 高血压患者：20 人，20 页"
    result = print_forms(session, form_set, scope, tmp_path / "h.pdf", today=TODAY)
    assert (result.residents, result.pages, result.population) == (20, 20, "hypertension")
    assert result.as_json()["population"] == "hypertension"
    everybody = village.patients + village.others + village.west_patients
    pages = names_on_pages(tmp_path / "h.pdf", everybody)
    assert len(read(tmp_path / "h.pdf").pages) == 20
    assert sorted(name for found in pages for name in found) == sorted(village.patients)  # one patient a page

    scope = resolve_scope(session, village="东村", population=EVERYONE, form_set=form_set, today=TODAY)
    assert scope.population is None
    assert plan_print(session, form_set, scope, PrintOptions()).headline == "高血压随访 · 东村：90 人，90 页"
    result = print_forms(session, form_set, scope, tmp_path / "all.pdf", today=TODAY)
    assert (result.residents, result.pages, result.population) == (90, 90, None)
    found = {name for names in names_on_pages(tmp_path / "all.pdf", everybody) for name in names}
    assert found == set(village.patients + village.others)


def test_a_tag_and_the_population_combine_and_another_population_may_be_chosen(session, village, tmp_path):
    form_set = load_catalog().form_set("hypertension")
    scope = resolve_scope(session, village="201", tag="2型糖尿病", form_set=form_set, today=TODAY)
    result = print_forms(session, form_set, scope, tmp_path / "t.pdf", today=TODAY)
    assert result.residents == len(village.diabetic_patients) == 5
    assert sorted(n for names in names_on_pages(tmp_path / "t.pdf", village.patients) for n in names) \
        == sorted(village.diabetic_patients)
    # A tag alone (no village): the site's patients with that tag, 西村's too; by population name
    scope = resolve_scope(session, tag="高血压", population="高血压患者", form_set=form_set, today=TODAY)
    assert plan_print(session, form_set, scope, PrintOptions()).residents == 23
    # The children's set for the same village: 0～6 by age on the day (born 2023, no tag)
    children = load_catalog().form_set("newborn")
    scope = resolve_scope(session, village="201", form_set=children, today=TODAY)
    plan = plan_print(session, children, scope, PrintOptions())
    assert plan.headline == f"新生儿访视 · 东村 · 0～6岁儿童：10 人，{10 * plan.pages_per_resident} 页"
    # A population chosen for a set of no population, and on its own: every member of the site
    scope = resolve_scope(session, population="hypertension", form_set=load_catalog().form_set("new_record"),
                          today=TODAY)
    assert scope == Scope(population="hypertension", on=TODAY)
    assert plan_print(session, form_set, scope, PrintOptions()).residents == 23


def test_a_list_of_codes_is_never_narrowed_and_blank_prints_are_unaffected(session, village, tmp_path):
    form_set = load_catalog().form_set("hypertension")
    codes = tuple(session.scalars(select(Resident.archive_code).where(Resident.name.in_(village.others[:3]))))
    scope = resolve_scope(session, codes=codes, village="201", form_set=form_set, today=TODAY)
    assert scope.population is None
    result = print_forms(session, form_set, scope, tmp_path / "c.pdf", today=TODAY)
    assert result.residents == 3 and result.population is None
    with pytest.raises(InvalidValue, match="档案编号按原样打印") as refused:
        resolve_scope(session, codes=codes, population="hypertension", form_set=form_set, today=TODAY)
    assert (refused.value.field, refused.value.value) == ("人群", "高血压患者")

    blank = resolve_scope(session, village="201", form_set=form_set, blank=True, today=TODAY)
    assert blank.population is None  # one blank sheet per resident of the village, as before
    result = print_forms(session, form_set, blank, tmp_path / "b.pdf", options=PrintOptions(blank=True), today=TODAY)
    assert result.pages == 90
    nothing = resolve_scope(session, form_set=form_set, today=TODAY)
    assert nothing == Scope() and nothing.empty  # no scope: blank copies, as before
    with pytest.raises(NotFound, match="没有这个重点人群"):
        resolve_scope(session, village="201", population="没有的人群", form_set=form_set, today=TODAY)


def test_a_custom_set_names_its_population_by_id_or_name(session, village, tmp_path):
    row = create_form_set(session, "慢病随访", ["hypertension_followup", "diabetes_followup"],
                          population="高血压患者", actor=ACTOR)
    assert row.population == "hypertension" and as_form_set(row).population == "hypertension"
    scope = resolve_scope(session, village="201", form_set=as_form_set(row), today=TODAY)
    result = print_forms(session, row.key, scope, tmp_path / "k.pdf", kind="set", today=TODAY)
    assert (result.residents, result.pages) == (20, 40)
    plain = create_form_set(session, "随访二", ["hypertension_followup"], actor=ACTOR)
    assert plain.population is None
    with pytest.raises(NotFound, match="没有这个重点人群"):
        create_form_set(session, "随访三", ["hypertension_followup"], population="nobody", actor=ACTOR)


def test_a_job_keeps_the_scope_with_its_population_and_day():
    scope = Scope(village="201", tag="高血压", population="children", on=TODAY)
    assert Scope.from_json(scope.as_json()) == scope
    assert Scope.from_json({"codes": [], "household_id": None, "village": "201", "tag": None}) == Scope(village="201")


def test_a_sets_file_naming_an_unknown_population_is_refused_with_its_file_and_line(tmp_path):
    path = tmp_path / "sets.yaml"
    path.write_text("- id: hypertension\n  name: 高血压随访\n  forms: [hypertension_followup]\n"
                    "  population: hypertensive\n", encoding="utf-8")
    with pytest.raises(InvalidValue) as error:
        load_sets(path, load_catalog().forms)
    assert (error.value.row, error.value.field, error.value.value) == (4, "population", "hypertensive")
    assert str(error.value).startswith(
        "第4行，「population」，值“hypertensive”：表单套组 sets.yaml：没有这个重点人群；可用：")
    assert "hypertension" in str(error.value) and "children" in str(error.value)
