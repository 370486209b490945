"""The 看板's numbers on a town with known answers (tests/inspections/conftest.py: build_inspected_town): residents
and households per village, 建档率 against the target with an unknown denominator said so, the folders, the room on
the shelves, the latest inspection and the trend; a village doctor's board counts their village only; recent
activity counts changes per kind and names nobody — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from archiveprint.accounts.scope import AccessScope, apply_scope
from archiveprint.eventlog import record_event
from archiveprint.indicators.dashboard import find_activity, find_dashboard
from archiveprint.indicators.targets import site_targets
from archiveprint.inspections.draw import wilson
from archiveprint.inspections.queries import compute_report
from archiveprint.register.services import find_village
from tests.inspections.conftest import ON, build_inspected_town

MIDNIGHT = datetime(2026, 11, 24, 16, 0)  # 2026-11-25 00:00 in Beijing, as the database stores it


@pytest.fixture
def town(session: Session) -> dict[str, object]:
    return build_inspected_town(session)


def board(session: Session):  # type: ignore[no-untyped-def]
    return find_dashboard(session, 2026, targets=site_targets(Path("/nonexistent-instance")), today=ON,
                          day_start=MIDNIGHT)


def test_the_whole_township_at_a_glance(session: Session, town) -> None:  # type: ignore[no-untyped-def]
    found = board(session)
    assert found.whole_site
    lines = {line.code: line for line in found.villages}
    assert {code: (line.residents, line.households, line.rate.population) for code, line in lines.items()} == {
        "001": (10, 5, None), "201": (78, 39, 100), "202": (30, 15, 40)}
    assert (lines["201"].rate.rate, lines["201"].rate.gap, lines["201"].rate.target) == (0.78, 12, 0.9)
    assert (lines["202"].rate.rate, lines["202"].rate.gap) == (0.75, 6)
    assert (lines["001"].rate.rate, lines["001"].rate.note) == (None, "unknown")  # not entered: not 0 %, not 100 %
    assert (found.total.residents, found.total.households) == (118, 59)
    assert (found.total.rate.rate, found.total.rate.note) == (None, "unknown")  # one village unknown: all unknown
    elderly = found.indicators.total.rates["elderly"]
    assert (elderly.residents, elderly.population) == (31, None)
    folders = found.folders
    assert (folders.households, folders.on_shelf, folders.out, folders.lent, folders.overdue, folders.missing,
            folders.unshelved) == (59, 57, 1, 1, 0, 1, 0)
    assert folders.rate == pytest.approx(57 / 59)
    assert (found.room.capacity, found.room.used, found.room.free) == (240, 60, 180)
    assert [(v.code, v.room_left) for v in found.room.short] == [("001", 15)]


def test_the_latest_inspection_and_the_trend(session: Session, town) -> None:  # type: ignore[no-untyped-def]
    found = board(session)
    spring, autumn = town["inspections"]
    latest = found.latest
    assert (latest.number, latest.status, latest.pending) == ("CC-2026-0002", "signed", 0)
    assert latest.overall.qualified == wilson(16, 20) and latest.overall.usage == wilson(19, 20)
    report = compute_report(session, autumn)
    assert latest.overall.qualified == report.overall.qualified  # the villages together are the whole
    pairs = {pair.code: pair for pair in latest.villages}
    assert (pairs["001"].qualified, pairs["001"].usage) == (wilson(4, 5), wilson(4, 5))
    assert (pairs["202"].qualified, pairs["202"].usage) == (wilson(12, 15), wilson(15, 15))
    assert "201" not in pairs  # not drawn
    assert [(line.number, line.overall.qualified, line.overall.usage) for line in found.trend] == [
        ("CC-2026-0001", wilson(18, 20), wilson(20, 20)), ("CC-2026-0002", wilson(16, 20), wilson(19, 20))]
    assert [line.id for line in found.trend] == [spring.id, autumn.id] and found.open_inspections == 0
    assert found.as_json()["latest_inspection"]["overall"]["qualified"]["hits"] == 16


def test_a_village_doctor_counts_their_village_only(session: Session, town) -> None:  # type: ignore[no-untyped-def]
    apply_scope(session, AccessScope.villages([find_village(session, "202").id]))
    found = board(session)
    assert not found.whole_site
    assert [(line.code, line.residents, line.households) for line in found.villages] == [("202", 30, 15)]
    assert (found.total.residents, found.total.rate.population, found.total.rate.rate) == (30, 40, 0.75)
    assert (found.folders.households, found.folders.on_shelf, found.folders.lent, found.folders.missing) == \
        (15, 15, 0, 0)
    assert found.room.capacity is None and found.room.free is None  # the others' room is not theirs to count
    assert [v.code for v in found.room.villages] == ["202"]
    assert [pair.code for pair in found.latest.villages] == ["202"]
    assert (found.latest.overall.qualified, found.latest.overall.usage) == (wilson(12, 15), wilson(15, 15))
    assert [line.overall.qualified for line in found.trend] == [wilson(15, 15), wilson(12, 15)]


def test_recent_activity_counts_changes_per_kind_and_a_village_doctor_sees_their_own(session: Session, town) \
        -> None:  # type: ignore[no-untyped-def]
    homes = town["homes"]
    east, west = homes["201"][0], homes["202"][0]
    later = datetime(2030, 1, 10, 2, 0)  # a day of its own: only the events below fall in its week
    day_start = datetime(2030, 1, 9, 16, 0)
    for when, kind, entity, key in (
            (later, "resident.registered", "resident", west.members[0].archive_code),
            (later, "resident.registered", "resident", east.members[0].archive_code),
            (datetime(2030, 1, 5, 3, 0), "resident.registered", "resident", west.members[1].archive_code),
            (datetime(2030, 1, 4, 3, 0), "folder.taken_out", "household", west.id),
            (datetime(2030, 1, 4, 5, 0), "folder.taken_out", "household", east.id),
            (datetime(2030, 1, 1, 3, 0), "folder.moved", "household", west.id),  # eight days before: not counted
            (later, "population.recorded", "village", "201"),
            (later, "user.password_changed", "user", 1)):  # an account's change: not the archive's activity
        record_event(session, kind, entity, key, actor="王档案", now=when)
    session.flush()
    found = {a.kind: a for a in find_activity(session, day_start=day_start, whole_site=True)}
    assert {kind: (a.today, a.week) for kind, a in found.items()} == {
        "resident.registered": (2, 3), "folder.taken_out": (0, 2), "population.recorded": (1, 1)}
    assert found["folder.taken_out"].last_at == datetime(2030, 1, 4, 5, 0)
    assert found["resident.registered"].last_actor == "王档案"
    apply_scope(session, AccessScope.villages([find_village(session, "202").id]))
    own = {a.kind: (a.today, a.week) for a in find_activity(session, day_start=day_start, whole_site=False)}
    assert own == {"resident.registered": (1, 2), "folder.taken_out": (0, 1)}
