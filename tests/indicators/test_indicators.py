"""建档率, who is missing and 在架率 on a register built in the test, with the answers worked out by hand (SQLite and
PostgreSQL): unknown and zero denominators, closed records, people who moved, history of figures, the scope."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from archiveprint.accounts.scope import AccessScope, apply_scope
from archiveprint.errors import InvalidValue, NotFound
from archiveprint.eventlog import Event
from archiveprint.indicators.models import PopulationFigure
from archiveprint.indicators.queries import (
    Rate,
    as_of_day,
    find_indicators,
    find_missing,
    find_shelf_coverage,
    find_unshelved_residents,
    list_figures,
)
from archiveprint.indicators.services import record_figures, values_of
from archiveprint.indicators.targets import site_targets
from archiveprint.register import services
from tests.conftest import ACTOR
from tests.indicators.conftest import TODAY, Town


def rows(session: Session, year: int = 2026):  # type: ignore[no-untyped-def]
    result = find_indicators(session, year, targets=site_targets(None), today=TODAY)
    return {row.code: row for row in result.villages}, result


def test_overall_rate_per_village_counts_open_records_where_people_live_now(session: Session, town: Town) -> None:
    villages, result = rows(session)
    east, west, town_centre = villages["201"].rates["overall"], villages["202"].rates["overall"], \
        villages["001"].rates["overall"]
    assert (east.residents, east.population, east.rate) == (7, 10, 0.7)  # 辛 moved in; 己 died: not counted
    assert (east.target, east.gap) == (0.9, 2)  # 9 needed
    assert (west.residents, west.population, west.rate, west.gap) == (1, 4, 0.25, 3)  # 癸 closed, 辛 moved out
    assert (town_centre.residents, town_centre.population, town_centre.rate, town_centre.gap) == (1, None, None, None)
    assert town_centre.note == "unknown" and town_centre.note_text() == "未录入常住人口"
    total = result.total.rates["overall"]
    assert (total.residents, total.population, total.rate) == (9, None, None)  # one village unknown: total unknown
    assert result.not_entered == ["城关社区"]
    assert result.as_of == TODAY


def test_key_populations_zero_and_missing_figures(session: Session, town: Town) -> None:
    east = rows(session)[0]["201"].rates
    assert (east["elderly"].residents, east["elderly"].population, east["elderly"].rate) == (3, 3, 1.0)
    assert east["elderly"].gap == 0 and east["elderly"].met is True
    assert (east["children"].residents, east["children"].population, east["children"].rate) == (1, 1, 1.0)
    maternal = east["maternal"]
    assert (maternal.residents, maternal.population, maternal.rate, maternal.note) == (1, 0, None, "zero")
    assert maternal.gap == 0  # 0 people needed of 0
    hypertension = east["hypertension"]  # no figure in the targets file: unknown, said differently
    assert (hypertension.residents, hypertension.population, hypertension.rate) == (1, None, None)
    assert hypertension.note_text() == "无人数来源"
    west = rows(session)[0]["202"].rates
    assert (west["elderly"].residents, west["elderly"].population, west["elderly"].note) == (1, None, "unknown")


def test_a_past_year_counts_on_its_last_day(session: Session, town: Town) -> None:
    villages, result = rows(session, 2025)
    assert result.as_of == date(2025, 12, 31)
    east = villages["201"].rates["overall"]
    assert (east.residents, east.population) == (7, None)  # 己 still alive, 庚 not yet registered; no 2025 figure
    assert villages["202"].rates["overall"].residents == 2  # 癸 still there (辛 is counted where they live now)
    assert as_of_day(2027, TODAY) == TODAY


def test_the_township_total_is_known_when_every_village_has_a_figure(session: Session, town: Town) -> None:
    record_figures(session, services.find_village(session, "001"), 2026, values_of(2), source="t", actor=ACTOR)
    total = rows(session)[1].total.rates["overall"]
    assert (total.residents, total.population, total.rate, total.gap) == (9, 16, 0.5625, 6)  # ceil(14.4) = 15


def test_rate_rules() -> None:
    assert Rate(100, 95, 0.9).gap == 0 and Rate(100, 89, 0.9).gap == 1 and Rate(37, 0, 0.95).gap == 36
    assert Rate(0, 10).rate is None and Rate(0, 10).note == "zero"
    assert Rate(10, 12).note == "over" and Rate(10, 12).rate == 1.2
    assert Rate(None, 1, 0.9).gap is None and Rate(None, 1).as_json()["rate"] is None
    assert Rate(3, 2).as_json() == {"population": 3, "residents": 2, "rate": 0.6667, "target": None, "gap": None,
                                    "note": None}


def test_who_is_missing_their_annual_check(session: Session, town: Town) -> None:
    missing = find_missing(session, 2026, "elderly", targets=site_targets(None), today=TODAY)
    assert [(p.name, p.village, p.last_service) for p in missing.people] == [
        ("乙", "201", date(2025, 5, 1)), ("辛", "201", None), ("壬", "202", None)]  # 壬's visit was voided
    assert missing.members == 4 and missing.schedule_name
    east = services.find_village(session, "201")
    assert [p.name for p in find_missing(session, 2026, "65岁及以上老年人", targets=site_targets(None), today=TODAY,
                                         village_id=east.id).people] == ["乙", "辛"]
    with pytest.raises(NotFound):
        find_missing(session, 2026, "overall", targets=site_targets(None), today=TODAY)


def test_paper_folders_on_their_shelves(session: Session, town: Town) -> None:
    coverage = find_shelf_coverage(session)
    by_code = {row.code: row for row in coverage.villages}
    east = by_code["201"]  # h1 on shelf, h2 taken out, h4 missing; h3 holds only 己 (closed): not counted
    assert (east.households, east.states, east.residents_unshelved) == (
        3, {"on_shelf": 1, "out": 1, "missing": 1, "unshelved": 0}, 1)
    assert east.rate == pytest.approx(1 / 3)
    west = by_code["202"]  # h5 (壬); h6 only closed 癸; h7 empty since 辛 moved
    assert (west.households, west.states["unshelved"], west.rate, west.residents_unshelved) == (1, 1, 0.0, 1)
    assert (coverage.total.households, coverage.total.states["on_shelf"]) == (5, 1)
    assert [(p.name, p.state) for p in find_unshelved_residents(session)] == [
        ("子", "unshelved"), ("庚", "missing"), ("壬", "unshelved")]


def test_a_figure_corrected_is_a_new_row_and_an_event_the_same_figure_writes_nothing(session: Session,
                                                                                    town: Town) -> None:
    east = services.find_village(session, "201")
    events = len(session.scalars(select(Event).where(Event.kind == "population.recorded")).all())
    same = record_figures(session, east, 2026, values_of(10, age65=3, age0_6=1, maternal=0), source="t", actor=ACTOR)
    assert same.action == "unchanged"
    assert len(session.scalars(select(Event).where(Event.kind == "population.recorded")).all()) == events
    shown = list_figures(session, year=2026, village_id=east.id, history=True)
    assert [(view.values["residents"], view.current) for view in shown] == [(10, True), (8, False)]
    assert [view.values["residents"] for view in list_figures(session, year=2026)] == [10, 4]
    event = session.scalars(select(Event).where(Event.kind == "population.recorded")
                            .order_by(Event.id.desc())).first()
    assert event is not None and event.entity_id == "202" and event.data["after"]["residents"] == 4


@pytest.mark.parametrize(("values", "field"), [
    (values_of(None), "常住人口"), (values_of(-1), "常住人口"), (values_of(5, age65=6), "65岁及以上"),
    (values_of(5, age65=3, age0_6=3), "0-6岁"), (values_of(5, maternal=-2), "孕产妇")])
def test_impossible_figures_are_refused_naming_the_field(session: Session, township, values, field) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidValue) as caught:
        record_figures(session, services.find_village(session, "201"), 2026, values, source="t", actor=ACTOR)
    assert caught.value.field == field


def test_a_year_out_of_range_is_refused(session: Session, township) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidValue) as caught:
        record_figures(session, services.find_village(session, "201"), 1890, values_of(5), source="t", actor=ACTOR)
    assert caught.value.field == "年份" and caught.value.value == 1890


def test_figures_are_append_only_in_the_database(session: Session, town: Town) -> None:
    figure = session.scalars(select(PopulationFigure)).first()
    assert figure is not None
    with pytest.raises(Exception, match="append-only"), session.begin_nested():
        figure.residents = 99
        session.flush()


def test_a_village_doctor_sees_their_villages_figures_and_rates_only(session: Session, town: Town) -> None:
    east = services.find_village(session, "201")
    apply_scope(session, AccessScope.villages([east.id]))
    try:
        assert {view.village_code for view in list_figures(session, history=True)} == {"201"}
        villages, result = rows(session)
        assert list(villages) == ["201"]
        assert result.total.rates["overall"].population == 10  # their villages' total
        assert [p.village for p in find_missing(session, 2026, "elderly", targets=site_targets(None),
                                                today=TODAY).people] == ["201", "201"]
        assert [row.code for row in find_shelf_coverage(session).villages] == ["201"]
    finally:
        apply_scope(session, AccessScope())
