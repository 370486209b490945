"""A site that took over a village of another township (机构撤并) keeps two villages coded 201: its own 东村 and the
other township's. Every filter by village names them apart (`Village.ref`: 201, or 130123101201): the lending
register and the overdue list, the due packet, an inspection's strata and folder codes, the indicators; a person who
types the bare 3-digit code (a command's --village, a text box) is refused, naming the code and both candidates."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import select

from archiveprint.db import Database
from archiveprint.due.queries import find_due
from archiveprint.due.services import packet_villages
from archiveprint.errors import InvalidValue
from archiveprint.indicators.importer import import_figures
from archiveprint.indicators.services import VillageFinder
from archiveprint.inspections.checklist import load_checklist
from archiveprint.inspections.services import draw_inspection
from archiveprint.lending.borrowers import add_borrower
from archiveprint.lending.queries import list_overdue, list_register, status_provider
from archiveprint.lending.rules import LendingRules
from archiveprint.lending.services import check_out
from archiveprint.register.models import Household, Village
from archiveprint.register.services import find_village, village_refs
from archiveprint.sites.transfer import transfer_villages
from tests.conftest import ACTOR
from tests.sites.conftest import County, build_county, code

TAKEN = "130123101201"  # 柏棠镇's 东村, kept by 诸福屯镇卫生院 after the transfer


def take_over(county: County) -> None:
    transfer_villages(county.session, "BT", county.first.code, villages=["201"],
                      providers=[status_provider(county.rules)], actor=ACTOR, now=county.clock())
    county.scope(county.first)


def village_of(county: County, household_id: int) -> Village:
    household = county.session.get(Household, household_id)
    assert household is not None
    return household.village


def test_a_typed_3_digit_code_is_refused_when_the_site_keeps_two(county: County) -> None:
    take_over(county)
    s = county.session
    with pytest.raises(InvalidValue) as refused:
        find_village(s, "201", typed=True)
    message = str(refused.value)
    assert "村代码 201 不唯一" in message and "130123100201" in message and TAKEN in message
    assert find_village(s, TAKEN, typed=True).township.code == "101"
    assert find_village(s, "202", typed=True).township.code == "100"  # 202 was not taken over: still unique
    assert find_village(s, "201").township.code == "100"  # as Village.ref names it: the site's own
    assert village_refs(s, [TAKEN, "202", TAKEN]) == [TAKEN, "202"]
    with pytest.raises(InvalidValue, match="村代码 201 不唯一"):
        VillageFinder(s).get("201")
    assert VillageFinder(s).get(TAKEN).township.code == "101"
    assert VillageFinder(s).get("130123100201").township.code == "100"


def test_a_population_sheet_names_the_row_of_an_ambiguous_code(county: County, tmp_path: Path) -> None:
    take_over(county)
    sheet = tmp_path / "pop.csv"
    sheet.write_text("村(居)委会,年份,常住人口\n202,2026,900\n201,2026,1200\n" + TAKEN + ",2026,800\n",
                     encoding="utf-8")
    report = import_figures(county.session, sheet, name=sheet.name, actor=ACTOR)
    assert not report.applied
    assert [(p.row, p.column, p.value) for p in report.problems] == [(3, "村(居)委会", "201")]
    assert "村代码 201 不唯一" in str(report.problems[0].reason) and TAKEN in str(report.problems[0].reason)


def test_the_lending_register_and_overdue_list_tell_the_two_villages_apart(county: County) -> None:
    take_over(county)
    s = county.session
    doctor = add_borrower(s, "zhao", kind="staff", name="赵医生", actor=ACTOR, now=county.clock())
    own = s.scalars(select(Household).join(Village).where(Village.code == "201",
                                                          Village.township_id == county.first.township_id)).first()
    assert own is not None
    for household in (own, s.get(Household, county.moved.id)):
        check_out(s, code(household), borrower=doctor, purpose="随访", rules=county.rules, actor=ACTOR,
                  now=county.clock())
    views = list_register(s, f"{county.clock.now:%Y-%m}", rules=county.rules)
    assert {v.village for v in views} == {"201", TAKEN}
    # the taken-over village's loans: the one its old site made (returned, it came along) and the new one
    assert [v.household_id for v in views if v.matches(village=TAKEN)] == [county.lent.id, county.moved.id]
    assert [v.household_id for v in views if v.matches(village="201")] == [own.id]
    later = date(2027, 6, 1)
    assert [o.loan.household_id for o in list_overdue(s, today=later, rules=county.rules, village=TAKEN)] \
        == [county.moved.id]
    assert [o.loan.household_id for o in list_overdue(s, today=later, rules=county.rules, village="201")] \
        == [own.id]


def test_the_due_packet_and_an_inspection_take_the_village_asked_for(county: County) -> None:
    take_over(county)
    s = county.session
    taken = find_village(s, TAKEN)
    home = find_village(s, "201")
    assert packet_villages(s, villages=[TAKEN]) == [TAKEN]
    for ref, village in ((TAKEN, taken), ("201", home)):
        due = find_due(s, date(2027, 1, 1), villages=[ref])
        assert due.items and {village_of(county, item.household_id).id for item in due.items} == {village.id}

    drawn = draw_inspection(s, seed="2027", inspector="县督导组", on=date(2027, 1, 5),
                            checklist=load_checklist(Path("/nonexistent-instance")),
                            size=4, minimum=1, villages=[TAKEN, "201"], actor=ACTOR, now=county.clock())
    assert drawn.scope["villages"] == [TAKEN, "201"]
    assert [stratum["village"] for stratum in drawn.strata] == ["201", TAKEN]  # own villages first
    for folder in drawn.folders:
        village = village_of(county, folder.household_id)
        assert folder.village_code == village.ref
        assert folder.folder.startswith("130123-101-201-" if village.id == taken.id else "130123-100-201-")


def test_the_command_line_refuses_an_ambiguous_code_naming_the_candidates(
        cli_env: Database, run_cli: Callable[..., Result], rules: LendingRules) -> None:
    if cli_env.is_sqlite:
        pytest.skip("a transfer needs two sites, and several sites need PostgreSQL")
    with cli_env.transaction() as session:
        build_county(session, rules)
    moved = run_cli("site", "transfer", "--from", "BT", "--to", "130123100", "--village", "201", "--json")
    assert moved.exit_code == 0, moved.output
    refused = run_cli("--site", "130123100", "lend", "overdue", "--village", "201", "--json")
    assert refused.exit_code == 1
    error = json.loads(refused.output)["error"]
    assert "村代码 201 不唯一" in error and "130123100201" in error and TAKEN in error
    listed = run_cli("--site", "130123100", "lend", "overdue", "--village", TAKEN, "--json")
    assert listed.exit_code == 0 and json.loads(listed.output)["village"] == TAKEN
    drawn = run_cli("--site", "130123100", "inspect", "draw", "--seed", "1", "--village", "201", "--inspector", "县",
                    "--json")
    assert drawn.exit_code == 1 and "村代码 201 不唯一" in json.loads(drawn.output)["error"]
    doctor = run_cli("--site", "130123100", "user", "create", "cundoc", "--role", "village_doctor", "--village", "201",
                     "--password", "Pw-long-enough-12")
    assert doctor.exit_code == 1 and "村代码 201 不唯一" in doctor.output
    doctor = run_cli("--site", "130123100", "user", "create", "cundoc", "--role", "village_doctor", "--village", TAKEN,
                     "--password", "Pw-long-enough-12")
    assert doctor.exit_code == 0, doctor.output
    shown = json.loads(run_cli("--site", "130123100", "user", "list", "--json").output)
    assert [row["villages"] for row in shown if row["username"] == "cundoc"] == [[TAKEN]]
