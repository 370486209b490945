"""Inspection fixtures: a shelved register of three villages with key populations, one folder lent, one missing, one
household closed, and services registered for some residents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from archiveprint.due.services import record_visit
from archiveprint.indicators.services import record_figures, values_of
from archiveprint.inspections.checklist import Checklist, load_checklist
from archiveprint.inspections.services import draw_inspection, record_check, sign_inspection
from archiveprint.lending.borrowers import add_borrower
from archiveprint.lending.rules import LendingRules, load_rules, shipped_rules_file
from archiveprint.lending.services import check_out
from archiveprint.locations.layout import parse_layout
from archiveprint.locations.services import apply_layout, report_missing, shelve_village
from archiveprint.register import services
from archiveprint.register.codes import folder_code
from archiveprint.register.models import Household
from tests.conftest import ACTOR, setup_township
from tests.lending.conftest import LAYOUT as LENDING_LAYOUT

LAYOUT = LENDING_LAYOUT.replace("capacity: 4", "capacity: 20")  # 12 shelves of 20 folders
NOW = datetime(2026, 11, 25, 1, 0)
ON = date(2026, 11, 25)
SIZES = {"001": 5, "201": 40, "202": 15}  # households per village; 201's 40th is closed (no active resident)


@dataclass
class Register:
    """What the tests read back: households by village (in number order) and the special ones."""

    session: Session
    homes: dict[str, list[Household]]
    lent: Household  # 201 第2户
    missing: Household  # 201 第3户
    closed: Household  # 201 第40户, every member 结案
    rules: LendingRules

    def code(self, household: Household) -> str:
        return folder_code(household.village.full_code, household.number).value


def build_register(session: Session, *, now: datetime = NOW) -> dict[str, object]:
    """Villages 201 (40 households), 202 (15), 001 (5); a head and a spouse in each; every third head 高血压, heads
    of odd households 65 or over; shelved; 201-2 lent, 201-3 missing, 201-40 closed."""
    setup_township(session)
    apply_layout(session, parse_layout(LAYOUT, source="inspect.yaml"), actor=ACTOR, now=now)
    homes: dict[str, list[Household]] = {}
    for village, count in SIZES.items():
        found = services.find_village(session, village)
        homes[village] = []
        for n in range(1, count + 1):
            household = services.create_household(session, found, head_name=f"户主{village}-{n}",
                                                  address=f"{found.name}{n}号", actor=ACTOR)
            born = date(1950, 3, 1) if n % 2 else date(1985, 3, 1)
            services.register_resident(session, household, name=f"户主{village}-{n}", sex="1", birth_date=born,
                                       relation_to_head="户主", tags=["高血压"] if n % 3 == 0 else [], actor=ACTOR)
            services.register_resident(session, household, name=f"配偶{village}-{n}", sex="2",
                                       birth_date=date(1988, 5, 5), relation_to_head="配偶", actor=ACTOR)
            homes[village].append(household)
        shelve_village(session, found, actor=ACTOR, now=now)
    closed = homes["201"][-1]
    for member in closed.members:
        services.close_resident(session, member, "moved", date(2026, 1, 1), actor=ACTOR)
    rules = load_rules([shipped_rules_file()])
    doctor = add_borrower(session, "doc", kind="staff", name="钱医生", unit="全科", actor=ACTOR, now=now)
    check_out(session, folder_code(homes["201"][1].village.full_code, 2).value, borrower=doctor, purpose="随访",
              rules=rules, actor=ACTOR, now=now)
    report_missing(session, homes["201"][2], reason="盘点未见", actor=ACTOR, now=now)
    head = homes["201"][0].members[0]
    record_visit(session, head, "elderly", on=date(2026, 6, 3), actor=ACTOR)
    session.flush()
    return {"homes": homes, "lent": homes["201"][1], "missing": homes["201"][2], "closed": closed, "rules": rules}


@pytest.fixture
def register(session: Session) -> Register:
    return Register(session=session, **build_register(session))  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def checklist() -> Checklist:
    return load_checklist(Path("/nonexistent-instance"))


SPRING = date(2026, 5, 20)


def build_inspected_town(session: Session) -> dict[str, object]:
    """The register above with 常住人口 and two signed inspections, every number known (the 看板's tests):

    Residents with a record: 001 10, 201 78 (its 40th household closed), 202 30 — 118; households with one: 5, 39, 15.
    Folders: 57 on their shelves, 201-2 lent (due 2026-12-09), 201-3 missing. 常住人口 2026: 201 100 (65+: 25),
    202 40, 001 not entered (so the township's 建档率 is unknown). 65+ (odd heads, born 1950): 3, 20, 8.
    Inspections of every folder of 001 and 202 (20): CC-2026-0001 on 2026-05-20, two folders of 001 failing
    (合格 18/20, 动态记录 20/20); CC-2026-0002 on 2026-11-25, one folder of 001 failing its cover and one without
    动态记录, three of 202 failing signatures (合格 001 4/5, 202 12/15 → 16/20; 动态记录 4/5, 15/15 → 19/20).
    """
    checklist = load_checklist(Path("/nonexistent-instance"))
    made = build_register(session)
    record_figures(session, services.find_village(session, "201"), 2026, values_of(100, age65=25), source="t",
                   actor=ACTOR)
    record_figures(session, services.find_village(session, "202"), 2026, values_of(40), source="t", actor=ACTOR)
    fails = {SPRING: {"001": {0: ("cover",), 1: ("signatures",)}},
             ON: {"001": {0: ("cover",)}, "202": {0: ("signatures",), 1: ("signatures",), 2: ("signatures",)}}}
    stale = {ON: {"001": {1}}}  # folders whose latest 动态记录 is more than 12 months old
    inspections = []
    for day in (SPRING, ON):
        inspection = draw_inspection(session, seed=f"town-{day}", size=20, minimum=0, villages=["001", "202"],
                                     inspector="县督导组", on=day, checklist=checklist, actor=ACTOR, now=NOW)
        for village in ("001", "202"):
            folders = [f for f in inspection.folders if f.village_code == village]
            for n, folder in enumerate(folders):
                failed = fails[day].get(village, {}).get(n, ())
                for item in checklist.items:
                    if item.kind == "dynamic":
                        old = n in stale.get(day, {}).get(village, set())
                        seen = day - timedelta(days=400 if old else 30)
                        record_check(session, folder, item.key, passed=None, seen_on=seen, actor=ACTOR, now=NOW)
                    else:
                        record_check(session, folder, item.key, passed=item.key not in failed,
                                     note="缺" if item.key in failed else "", actor=ACTOR, now=NOW)
        sign_inspection(session, inspection, actor="县督导组", now=NOW)
        inspections.append(inspection)
    session.flush()
    return {**made, "inspections": inspections}
