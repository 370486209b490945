"""#14 county print runs (jobs/county.py) on one site, both backends: planned per site and village in the site's
scope, parts named with the site (in the zip's site folder and in their own files' names), the run's row the
installation's; villages named across sites; the command line's --sites/--all-sites (two sites:
tests/security/test_site_county_print.py)."""

from __future__ import annotations

import json
import zipfile
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from archiveprint.cli import AppContext, main
from archiveprint.db import Database
from archiveprint.errors import InvalidValue, NotFound
from archiveprint.forms.services import PrintOptions
from archiveprint.forms.sets import FORM
from archiveprint.jobs import runs
from archiveprint.jobs.county import CountyChoice, plan_county_due, plan_county_forms
from archiveprint.jobs.models import Job, installation_run
from archiveprint.sites.models import Site
from tests.conftest import ACTOR, TODAY
from tests.jobs.test_print_runs import run_parts, settings, state, villages  # noqa: F401  # fixtures


def _plan(database: Database, **choice: tuple[str, ...]):  # type: ignore[no-untyped-def]
    return plan_county_forms(database, CountyChoice(**choice), "personal_info", PrintOptions(), set_kind=FORM,
                             today=TODAY)


def test_a_county_run_is_planned_per_site_and_village_and_zipped_in_site_folders(
        committed_db, villages, settings):  # noqa: F811
    with committed_db.reader() as session:
        site = session.scalars(select(Site)).one()
    plan = _plan(committed_db)
    assert [(part.site, part.site_code, part.village) for part, _ in plan.parts] == [
        (site.name, site.code, "001"), (site.name, site.code, "201"), (site.name, site.code, "202")]
    assert all(params["site_id"] == site.id for _part, params in plan.parts)
    assert plan.params["sites"] == [site.code] and plan.pages == 6
    assert plan.parts[1][1]["download_stem"] == f"个人基本信息表-{site.name}-东村-{TODAY:%Y%m%d}"
    with committed_db.transaction() as session:
        run = runs.create_run(session, plan.kind, plan.params, plan.parts, actor=ACTOR)
        run_id, ids = run.id, runs.part_ids(session, run.id)
    with committed_db.reader() as session:
        row = session.get(Job, run_id)
        assert row is not None and row.site_id is None and installation_run(row)
        assert {job.site_id for job in session.scalars(select(Job).where(Job.run_id == run_id))} == {site.id}
    run_parts(committed_db, settings, ids)
    found = state(committed_db, run_id)
    assert found.status == "done" and found.as_json()["sites"][0]["pages"] == 6
    with zipfile.ZipFile(found.run.outputs[0]) as archive:
        assert archive.namelist() == [f"{site.name}/001-城关社区.pdf", f"{site.name}/201-东村.pdf",
                                      f"{site.name}/202-西村.pdf"]
    own = runs.site_zip(found, site.code, settings.instance_dir)
    assert own is not None and own.name.endswith(f"-{site.code}.zip") and own != Path(found.run.outputs[0])
    assert runs.site_zip(found, "NOPE", settings.instance_dir) is None


def test_villages_are_named_across_sites_and_refusals_say_which(committed_db, villages):  # noqa: F811
    plan = _plan(committed_db, villages=("西村", "001"))
    assert [part.village for part, _ in plan.parts] == ["001", "202"]
    with pytest.raises(NotFound, match="所选机构都没有这个村"):
        _plan(committed_db, villages=("999",))
    with pytest.raises(NotFound, match="没有机构代码为 NOPE 的机构"):
        _plan(committed_db, sites=("NOPE",))
    with pytest.raises(InvalidValue, match="没有到期的服务"):
        plan_county_due(committed_db, CountyChoice(), date(2026, 11, 1), today=TODAY)
    with pytest.raises(InvalidValue, match="空白表不按村打印") as refused:
        plan_county_forms(committed_db, CountyChoice(), "personal_info", PrintOptions(blank=True), set_kind=FORM,
                          today=TODAY)
    assert "：空白表" in str(refused.value)  # the site is named before the reason


def test_the_command_line_prints_a_county_run_and_refuses_mixed_options(
        committed_db, villages, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("DATABASE_URL", committed_db.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ARCHIVEPRINT_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("ARCHIVEPRINT_SITE", raising=False)

    def cli(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(main, list(args), obj=AppContext(), catch_exceptions=False)

    output = str(tmp_path / "county.zip")
    result = cli("print", "forms", "--form", "personal_info", "--all-sites", "--village", "201", "-o", output,
                 "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output[result.output.index("{"):])
    assert shown["status"] == "done" and shown["pages"] == 2 and len(shown["sites"]) == 1
    assert json.loads(cli("jobs", "show", str(shown["run"]), "--json").output)["parts"][0]["site"]
    with committed_db.transaction() as session:  # its part failed: `jobs rerun` prints it again, once
        session.execute(update(Job).where(Job.run_id == shown["run"]).values(status="failed", error="测试"))
        session.execute(update(Job).where(Job.id == shown["run"]).values(status="partial"))
    rerun = cli("jobs", "rerun", str(shown["run"]), "--json").output
    again = json.loads(rerun[rerun.index("{"):])
    assert again["status"] == "done" and again["pages"] == 2 and len(again["parts"]) == 1
    for args, said in ((("--sites", "X", "--all-sites"), "只能选一个"), (("--sites", " , "), "请写机构代码")):
        refused = cli("print", "forms", "--form", "personal_info", *args, "-o", output)
        assert refused.exit_code == 2 and said in refused.output
    refused = cli("print", "due", "--all-sites", "--doctor", "wang", "-o", output)
    assert refused.exit_code == 2 and "不按村医选村" in refused.output
    refused = cli("print", "forms", "--form", "personal_info", "--all-sites", "--code", "1", "-o", output)
    assert refused.exit_code == 2 and "不能按档案编号或户打印" in refused.output
    monkeypatch.setenv("ARCHIVEPRINT_SITE", "X")
    refused = cli("print", "due", "--all-sites", "-o", output)
    assert refused.exit_code == 2 and "ARCHIVEPRINT_SITE" in refused.output
