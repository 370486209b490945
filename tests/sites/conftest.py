"""Two populated sites on PostgreSQL (#14 transfers): 诸福屯镇卫生院 (130123-100) and 柏棠镇卫生院 (130123-101), both
with villages 201 东村 and 202 西村, shelved folders, movements, a returned loan, service visits, a folder in the
closed-records area, a never-shelved folder and an inspection."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archiveprint.accounts.scope import AccessScope, apply_scope, site_scope
from archiveprint.accounts.services import create_user
from archiveprint.db import Base
from archiveprint.due.services import record_visit
from archiveprint.inspections.checklist import load_checklist
from archiveprint.inspections.services import draw_inspection
from archiveprint.lending.borrowers import add_borrower
from archiveprint.lending.rules import LendingRules, load_rules, shipped_rules_file
from archiveprint.lending.services import check_out, return_folder
from archiveprint.locations.layout import parse_layout
from archiveprint.locations.services import apply_layout, close_folder, put_back, shelve_village, take_out
from archiveprint.register import services
from archiveprint.register.codes import folder_code
from archiveprint.register.models import Household
from archiveprint.sites.models import Site
from archiveprint.sites.services import add_site
from tests.conftest import ACTOR, setup_township
from tests.locations.conftest import SMALL_LAYOUT, Clock  # 12 village shelves of 4, a closed-records cabinet of 6

PASSWORD = "long-enough-1"


@dataclass
class County:
    session: Session
    first: Site  # 诸福屯镇卫生院: receives
    second: Site  # 柏棠镇卫生院: hands over
    rules: LendingRules
    clock: Clock
    lent: Household  # the second site's folder lent once and returned
    moved: Household  # taken out and put back
    closed: Household  # in the closed-records area
    waiting: Household  # never shelved

    def scope(self, site: Site) -> None:
        apply_scope(self.session, site_scope(self.session, site.id))

    def unscoped(self) -> None:
        apply_scope(self.session, AccessScope())


def code(household: Household) -> str:
    return folder_code(household.village.full_code, household.number).value


def make(session: Session, village: str, count: int, surname: str, *, start: int = 0) -> list[Household]:
    found = services.find_village(session, village)
    out = []
    for n in range(start, start + count):
        household = services.create_household(session, found, head_name=f"{surname}{village}户{n + 1}",
                                              external_no=f"{village}{n + 1:02d}", actor=ACTOR)
        services.register_resident(session, household, name=f"{surname}{village}号{n + 1}", sex="1",
                                   relation_to_head="户主", birth_date=date(1950, 1, 1 + n), actor=ACTOR)
        out.append(household)
    return out


def count_rows(session: Session) -> dict[str, int]:
    """Every table's rows, read from the tables (whatever the session's scope)."""
    return {table.name: session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables}


@pytest.fixture(scope="session")
def rules() -> LendingRules:
    return load_rules([shipped_rules_file()])


def build_county(session: Session, rules: LendingRules) -> County:
    """Both sites with their rows, made in `session` (the caller commits or rolls back)."""
    clock = Clock()
    setup_township(session)
    first = session.scalars(select(Site)).one()
    second = add_site(session, "BT", name="柏棠镇卫生院", county_code="130123", county_name="正定县",
                      township_code="101", actor=ACTOR)
    made: dict[int, dict[str, list[Household]]] = {}
    for site, surname in ((first, "张"), (second, "李")):
        apply_scope(session, site_scope(session, site.id))
        if site is second:
            services.add_village(session, "201", "东村", actor=ACTOR)
            services.add_village(session, "202", "西村", actor=ACTOR)
        apply_layout(session, parse_layout(SMALL_LAYOUT, source="county.yaml"), actor=ACTOR, now=clock())
        made[site.id] = {"201": make(session, "201", 3 if site is first else 4, surname),
                         "202": make(session, "202", 2 if site is first else 3, surname)}
        if site is first:
            make(session, "001", 1, surname)  # never shelved
        for village in ("201", "202"):
            shelve_village(session, services.find_village(session, village), actor=ACTOR, now=clock())
        create_user(session, f"clerk-{site.code}", PASSWORD, "clerk")
    homes, west = made[second.id]["201"], made[second.id]["202"]
    apply_scope(session, site_scope(session, second.id))
    waiting = make(session, "202", 1, "李", start=3)[0]  # registered after shelving: never shelved
    take_out(session, homes[1], holder="门诊", actor=ACTOR, now=clock())
    put_back(session, homes[1], actor=ACTOR, now=clock())
    doctor = add_borrower(session, "wang", kind="village_doctor", name="王村医", unit="东村卫生室", villages=["201"],
                          actor=ACTOR, now=clock())
    check_out(session, code(homes[0]), borrower=doctor, purpose="随访", rules=rules, actor=ACTOR, now=clock())
    return_folder(session, code(homes[0]), rules=rules, actor=ACTOR, now=clock())
    record_visit(session, homes[0].members[0], "elderly", on=date(2026, 6, 3), actor=ACTOR)
    record_visit(session, west[0].members[0], "elderly", on=date(2026, 6, 4), actor=ACTOR)
    closed = homes[3]
    for member in closed.members:
        services.close_resident(session, member, "death", date(2026, 10, 1), actor=ACTOR, now=clock())
    close_folder(session, closed, reason="死亡", actor=ACTOR, now=clock())
    draw_inspection(session, seed="2026", inspector="县督导组", on=date(2026, 11, 1),
                    checklist=load_checklist(Path("/nonexistent-instance")), size=2, minimum=0, villages=["202"],
                    actor=ACTOR, now=clock())
    session.flush()
    apply_scope(session, AccessScope())
    return County(session, first, second, rules, clock, homes[0], homes[1], closed, waiting)


@pytest.fixture
def county(session: Session, rules: LendingRules) -> Iterator[County]:
    if session.get_bind().dialect.name == "sqlite":
        pytest.skip("a transfer needs two sites, and several sites need PostgreSQL (test_sqlite_refuses_a_transfer)")
    yield build_county(session, rules)
    apply_scope(session, AccessScope())
