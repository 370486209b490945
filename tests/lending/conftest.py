"""Lending fixtures: a small shelved archive, borrowers of each kind, users who may approve, and a clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from archiveprint.accounts.models import User
from archiveprint.accounts.services import create_user
from archiveprint.lending.borrowers import add_borrower
from archiveprint.lending.models import Borrower
from archiveprint.lending.rules import LendingRules, load_rules, shipped_rules_file
from archiveprint.locations.layout import parse_layout
from archiveprint.locations.services import apply_layout, shelve_village
from archiveprint.register import services
from archiveprint.register.codes import folder_code
from archiveprint.register.models import Household, Resident
from tests.conftest import ACTOR, setup_township

# 列 1-2 × 面 A,B × 层 1-3 = 12 shelves of 4 folders for villages.
LAYOUT = """\
name: 借阅测试档案室
growth_reserve: 0.25
rooms:
  - code: K1
    name: 一号库房
    blocks:
      - code: M
        kind: 密集架
        levels: 列 1-2 × 面 A,B × 层 1-3
        capacity: 4
"""
T0 = datetime(2026, 11, 25, 1, 0)  # UTC: 09:00 in Beijing, so the local day is 2026-11-25
TODAY = date(2026, 11, 25)
PASSWORD = "long-enough-1"


class Clock:
    """Each call is one minute later, so events and movements have distinct, known times."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Desk:
    """Everything a lending test needs, made in the test's own transaction."""

    session: Session
    rules: LendingRules
    clock: Clock
    homes: list[Household]  # village 201, shelved
    west: list[Household]  # village 202, shelved
    unshelved: Household  # village 001, never shelved
    doctor: Borrower  # staff, tied to user doctor1
    village_doctor: Borrower  # village doctor of 201
    cdc: Borrower  # an outside unit
    director: User  # may approve
    doctor_user: User

    def code(self, household: Household) -> str:
        return folder_code(household.village.full_code, household.number).value

    def resident(self, household: Household) -> Resident:
        return household.members[0]


@pytest.fixture(scope="session")
def rules() -> LendingRules:
    return load_rules([shipped_rules_file()])


def make_households(session: Session, village: str, count: int, surname: str) -> list[Household]:
    out = []
    found = services.find_village(session, village)
    for n in range(count):
        household = services.create_household(session, found, head_name=f"{surname}户{n + 1}",
                                              external_no=f"{village}-{n + 1}", actor=ACTOR)
        services.register_resident(session, household, name=f"{surname}{n + 1}号", sex="1", relation_to_head="户主",
                                   actor=ACTOR)
        out.append(household)
    return out


def build_archive(session: Session, *, now: datetime = T0) -> dict[str, object]:
    """Township, layout, households of 201 and 202 shelved, one of 001 not shelved, users and borrowers."""
    setup_township(session)
    apply_layout(session, parse_layout(LAYOUT, source="lending.yaml"), actor=ACTOR, now=now)
    homes = make_households(session, "201", 6, "张")
    west = make_households(session, "202", 3, "李")
    unshelved = make_households(session, "001", 1, "赵")[0]
    shelve_village(session, services.find_village(session, "201"), actor=ACTOR, now=now)
    shelve_village(session, services.find_village(session, "202"), actor=ACTOR, now=now)
    director = create_user(session, "director", PASSWORD, "admin", display_name="周院长")
    doctor_user = create_user(session, "doctor1", PASSWORD, "doctor", display_name="钱医生")
    create_user(session, "clerk1", PASSWORD, "clerk", display_name="孙管理员")
    doctor = add_borrower(session, "doctor1", kind="staff", username="doctor1", unit="全科", actor=ACTOR, now=now)
    village_doctor = add_borrower(session, "wang", kind="village_doctor", name="王村医", unit="东村卫生室",
                                  villages=["201"], actor=ACTOR, now=now)
    cdc = add_borrower(session, "cdc", kind="external", name="县疾控中心", unit="县疾病预防控制中心",
                       contact_person="吴科长", letter_ref="疾控函〔2026〕12号", actor=ACTOR, now=now)
    session.flush()
    return {"homes": homes, "west": west, "unshelved": unshelved, "doctor": doctor, "village_doctor": village_doctor,
            "cdc": cdc, "director": director, "doctor_user": doctor_user}


@pytest.fixture
def desk(session: Session, rules: LendingRules) -> Desk:
    made = build_archive(session)
    return Desk(session=session, rules=rules, clock=Clock(), **made)  # type: ignore[arg-type]


@pytest.fixture
def lend(desk: Desk) -> Callable[..., object]:
    """`lend(household, borrower=…, purpose=…)`: a check-out with defaults, one clock tick later."""
    from archiveprint.lending.services import check_out

    def make(household: Household, borrower: Borrower | None = None, purpose: str = "随访", **kw: object) -> object:
        return check_out(desk.session, desk.code(household), borrower=borrower or desk.doctor, purpose=purpose,
                         rules=desk.rules, actor=ACTOR, now=desk.clock(), **kw)  # type: ignore[arg-type]
    return make
