"""`archiveprint print forms --set hypertension --village 东村` prints the set's population, says so before printing,
and `--everyone` / `--population` choose otherwise (issue #12 §3; SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from archiveprint.cli import AppContext, main
from tests.conftest import setup_township
from tests.forms.patients import seed_patients
from tests.pdfcheck import read


@pytest.fixture
def cli(cli_env):
    with cli_env.transaction() as session:
        setup_township(session)
        seed_patients(session)

    def run(*args: str):
        return CliRunner().invoke(main, list(args), obj=AppContext(), catch_exceptions=False)
    return run


def test_a_village_print_of_a_follow_up_set_prints_its_patients_and_says_so_first(cli, tmp_path):
    out = tmp_path / "h.pdf"
    result = cli("print", "forms", "--set", "高血压随访", "--village", "东村", "-o", str(out))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "高血压随访 · 东村 · 高血压患者：20 人，20 页"  # before printing, from the same scope
    assert lines[-1].startswith("已生成 20 页（20 人）")
    assert len(read(out).pages) == 20

    everyone = cli("print", "forms", "--set", "hypertension", "--village", "201", "--everyone", "-o",
                   str(tmp_path / "all.pdf"), "--json")
    assert everyone.exit_code == 0, everyone.output
    data = json.loads(everyone.stdout)  # stdout holds the JSON alone; the line before printing goes to stderr
    assert (data["residents"], data["pages"], data["population"]) == (90, 90, None)
    assert "高血压随访 · 东村：90 人，90 页" in everyone.stderr
    assert len(read(tmp_path / "all.pdf").pages) == 90

    chosen = cli("print", "forms", "--set", "new_record", "--village", "201", "--population", "children", "-o",
                 str(tmp_path / "c.pdf"), "--json")
    assert chosen.exit_code == 0, chosen.output
    assert (json.loads(chosen.stdout)["residents"], json.loads(chosen.stdout)["population"]) == (10, "children")


def test_population_choices_that_cannot_hold_are_refused(cli, tmp_path):
    both = cli("print", "forms", "--set", "hypertension", "--village", "201", "--everyone", "--population",
               "hypertension", "-o", str(tmp_path / "x.pdf"))
    assert both.exit_code == 2 and "只能选一个" in both.output
    unknown = cli("print", "forms", "--set", "hypertension", "--village", "201", "--population", "nobody", "-o",
                  str(tmp_path / "x.pdf"), "--json")
    assert unknown.exit_code == 1
    assert "没有这个重点人群。可选：children（0～6岁儿童）" in json.loads(unknown.stdout)["error"]
    codes = cli("print", "forms", "--set", "hypertension", "--code", "13012310020100002", "--population",
                "hypertension", "-o", str(tmp_path / "x.pdf"))
    assert codes.exit_code == 1 and "档案编号按原样打印" in codes.output
    # a code given explicitly is printed though the resident (a spouse) is no patient
    spouse = cli("print", "forms", "--set", "hypertension", "--code", "13012310020100002", "-o",
                 str(tmp_path / "s.pdf"), "--json")
    assert json.loads(spouse.stdout)["residents"] == 1


def test_forms_list_names_each_sets_population(cli):
    result = cli("forms", "list", "--json")
    sets = {s["id"]: s["population"] for s in json.loads(result.stdout)["sets"]}
    assert sets["hypertension"] == "hypertension" and sets["elderly_annual"] == "elderly"
    assert sets["annual_check"] is None
    text = cli("forms", "list").stdout
    assert "高血压随访：hypertension_followup（高血压患者）" in text
