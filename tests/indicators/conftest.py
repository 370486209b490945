"""A small township with known answers for every indicator (see the table in `town`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pytest
from sqlalchemy.orm import Session

from archiveprint.due.services import record_visit, void_visit
from archiveprint.indicators.services import record_figures, values_of
from archiveprint.locations.services import apply_layout, report_missing, shelve_village, take_out
from archiveprint.register import services
from archiveprint.register.models import Household, Resident
from tests.conftest import ACTOR, setup_township
from tests.locations.conftest import small_layout

NOW = datetime(2026, 11, 25, 8, 0)
TODAY = date(2026, 11, 25)


@dataclass
class Town:
    """The people and households built, by a short key."""

    people: dict[str, Resident]
    households: dict[str, Household]


def build_town(session: Session, *, figures: bool = True, shelves: bool = True) -> Town:
    """东村 201, 西村 202, 城关社区 001 (no figure). As of 2026-11-25:

    201: 甲 (1950, 高血压), 乙 (1958), 丙 (1990), 丁 (2023), 戊 (1985, 孕产妇), 庚 (registered 2026-06-01), 辛 (1960,
         moved in from 202) count: 7 of 常住人口 10 (a first figure of 8 was corrected); 65+: 甲 乙 辛 = 3 of 3;
         0-6: 丁 = 1 of 1; 孕产妇: 戊 = 1 of 0. 己 (1940) died 2026-03-01: counts in 2025, not in 2026.
    202: 壬 (1955) counts; 癸 moved away (结案) 2026-05-01; 辛 moved to 201. 1 of 4, 65+ figure not given.
    001: 子 counts; no figure.
    Services: 甲 elderly check 2026-04-01; 乙 2025-05-01 (last year); 壬 one in 2026, voided.
    Shelves: 201 shelved; 丙's household taken out, 庚's reported missing; 202 and 001 never shelved.
    """
    setup_township(session)
    village = {code: services.find_village(session, code) for code in ("201", "202", "001")}
    homes: dict[str, Household] = {}
    people: dict[str, Resident] = {}

    def home(key: str, code: str) -> Household:
        homes[key] = services.create_household(session, village[code], head_name=key, external_no=key, actor=ACTOR)
        return homes[key]

    def person(key: str, household: Household, born: date, *, sex: str = "1", tags: tuple[str, ...] = (),
               registered: date = date(2020, 5, 1)) -> Resident:
        people[key] = services.register_resident(session, household, name=key, sex=sex, birth_date=born,
                                                 registered_on=registered, tags=tags, actor=ACTOR)
        return people[key]

    h1, h2, h3, h4 = home("h1", "201"), home("h2", "201"), home("h3", "201"), home("h4", "201")
    person("甲", h1, date(1950, 1, 1), tags=("高血压",))
    person("乙", h1, date(1958, 2, 2), sex="2")
    person("丙", h2, date(1990, 3, 3))
    person("丁", h2, date(2023, 4, 4))
    person("戊", h2, date(1985, 5, 5), sex="2", tags=("孕产妇",))
    person("己", h3, date(1940, 6, 6))
    person("庚", h4, date(1970, 7, 7), registered=date(2026, 6, 1))
    h5, h6, h7, h8 = home("h5", "202"), home("h6", "202"), home("h7", "202"), home("h8", "001")
    person("壬", h5, date(1955, 8, 8))
    person("癸", h6, date(1975, 9, 9))
    person("辛", h7, date(1960, 10, 10))
    person("子", h8, date(1980, 11, 11))
    session.flush()
    services.close_resident(session, people["己"], "death", date(2026, 3, 1), actor=ACTOR)
    services.close_resident(session, people["癸"], "moved", date(2026, 5, 1), actor=ACTOR)
    services.move_resident(session, people["辛"], h1, relation_to_head="其他", actor=ACTOR)
    record_visit(session, people["甲"], "elderly", on=date(2026, 4, 1), actor=ACTOR)
    record_visit(session, people["乙"], "elderly", on=date(2025, 5, 1), actor=ACTOR)
    void_visit(session, record_visit(session, people["壬"], "elderly", on=date(2026, 2, 1), actor=ACTOR).id,
               actor=ACTOR)
    if figures:
        record_figures(session, village["201"], 2026, values_of(8), source="t", actor=ACTOR)
        record_figures(session, village["201"], 2026, values_of(10, age65=3, age0_6=1, maternal=0), source="t",
                       actor=ACTOR)
        record_figures(session, village["202"], 2026, values_of(4), source="t", actor=ACTOR)
    if shelves:
        apply_layout(session, small_layout(), actor=ACTOR, now=NOW)
        shelve_village(session, village["201"], actor=ACTOR, now=NOW)
        take_out(session, h2, holder="门诊", actor=ACTOR, now=NOW)
        report_missing(session, h4, reason="盘点未见", actor=ACTOR, now=NOW)
    session.flush()
    return Town(people, homes)


@pytest.fixture
def town(session: Session) -> Town:
    return build_town(session)
