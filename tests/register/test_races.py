"""Concurrency: clerks creating records at the same moment never get the same archive code."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

from sqlalchemy import func, select

from archiveprint.register import services
from archiveprint.register.models import Household, Resident
from tests.conftest import ACTOR, setup_township

THREADS = 8
PER_THREAD = 15


def test_threads_racing_for_serials_get_distinct_contiguous_codes(committed_db):
    with committed_db.transaction() as session:
        setup_township(session)

    def allocate(_: int) -> list[str]:
        codes = []
        for _ in range(PER_THREAD):
            with committed_db.transaction() as session:
                village = services.find_village(session, "201")
                codes.append(services.allocate_serial(session, village).value)
        return codes

    with ThreadPoolExecutor(THREADS) as pool:
        codes = [code for batch in pool.map(allocate, range(THREADS)) for code in batch]
    serials = sorted(int(code[-5:]) for code in codes)
    assert serials == list(range(1, THREADS * PER_THREAD + 1))


def test_concurrent_registrations_in_one_household_all_land_with_unique_codes(committed_db):
    with committed_db.transaction() as session:
        setup_township(session)
        household = services.create_household(session, services.find_village(session, "202"),
                                              head_name="李四", actor=ACTOR)
        household_id = household.id

    def register(n: int) -> str:
        with committed_db.transaction() as session:
            household = session.get(Household, household_id)
            resident = services.register_resident(session, household, name=f"李{n}", sex="1",
                                                  birth_date=date(1980, 1, 1), actor=ACTOR)
            return resident.archive_code

    with ThreadPoolExecutor(THREADS) as pool:
        codes = list(pool.map(register, range(40)))
    assert len(set(codes)) == 40
    with committed_db.reader() as session:
        assert session.scalar(select(func.count(Resident.id))) == 40
