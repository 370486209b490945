"""The home page's 看板 with the test client on a town with known answers (tests/inspections/conftest.py:
build_inspected_town), SQLite and PostgreSQL: the search box stays on top; the numbers shown are the known ones,
each with its definition; an unknown denominator says so; the charts are SVG set in the page (bars, target line,
intervals, trend lines), drawn once per data and drawn again when the data change; a 督导 is offered nothing to change;
a village doctor's board is their village's; English."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from archiveprint.db import Database
from archiveprint.indicators import charts
from archiveprint.indicators.services import record_figures, values_of
from archiveprint.register.services import find_village
from tests.conftest import ACTOR
from tests.inspections.conftest import build_inspected_town
from tests.web.conftest import AuthActions


@pytest.fixture
def town(committed_db: Database) -> None:
    with Session(committed_db.engine) as session:
        build_inspected_town(session)
        session.commit()


def section(html: str, element_id: str) -> str:
    """The markup from the element with this id to the end of its <section> (or </tr> for a row)."""
    start = html.index(f'id="{element_id}"')
    end = html.index("</tr>" if html[:start].rstrip().endswith("<tr") else "</section>", start)
    return html[start:end]


def chart_ids(html: str, name: str) -> list[str]:
    found = re.search(rf'<figure class="chart-box" id="chart-{name}">(.*?)</figure>', html, re.S)
    assert found, f"no chart {name}"
    return [e.get("id").removeprefix(f"chart-{name}-") for e in ET.fromstring(found.group(1)).iter() if e.get("id")]


def test_the_clerk_home_page_keeps_the_search_and_shows_the_known_numbers(client: FlaskClient, auth: AuthActions,
                                                                          town: None) -> None:
    auth.login("clerk")
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.index('class="search search-big"') < html.index('id="board"')  # the search box first
    tiles = section(html, "board-tiles")
    assert re.search(r'id="tile-residents"><span class="n">118<', tiles)
    assert re.search(r'id="tile-households"><span class="n">59<', tiles)
    rate = tiles[tiles.index('id="tile-rate"'):tiles.index('id="tile-shelf"')]
    assert "未录入常住人口" in rate and "%" not in rate.split("目标")[0].split('title="')[0]
    assert "96.6%" in tiles  # 在架率 57 / 59
    east = section(html, "board-village-201")
    assert all(text in east for text in (">100<", ">78<", ">39<", "78.0%", "还差 12 人"))
    centre = section(html, "board-village-001")
    assert "未录入常住人口" in centre and "0.0%" not in centre and "100.0%" not in centre
    assert "城关社区" in section(html, "board-not-entered") and "录入常住人口</a>" in html  # a clerk may enter it
    folders = section(html, "board-folder-table")
    for key, value in (("households", 59), ("on-shelf", 57), ("out", 1), ("lent", 1), ("overdue", 0),
                       ("missing", 1), ("unshelved", 0)):
        assert re.search(rf'id="folders-{key}">{value}<', folders), key
    assert "各村档案架共 240 个位置，已放 60 袋，还空 180 个。" in html
    assert "还能放 15 袋" in section(html, "board-room-short")
    latest = section(html, "board-latest")
    assert "CC-2026-0002" in latest and "80.0%（58.4%–91.9%）" in latest and "95.0%（76.4%–99.1%）" in latest
    elderly = section(html, "board-population-elderly")
    assert "未录入常住人口" in elderly and "31/—" in elderly
    assert "无人数来源" in section(html, "board-population-hypertension")
    for anchor, text in (("def-rate", "健康档案建档率 = 建档人数 / 辖区内常住居民数 × 100%"),
                         ("def-shelf", "纸质档案在架率 = 档案袋在架的户数 / 有在档居民的户数 × 100%"),
                         ("def-inspection", "合格率 = 抽查合格档案份数 / 抽查档案总份数"),
                         ("def-households", "有档户数"), ("def-loans", "已逾期"), ("def-room", "架位余量 ="),
                         ("def-activity", "不列出任何居民")):
        assert f'href="#{anchor}"' in html and text in section(html, anchor), anchor
    activity = section(html, "board-activity")
    assert 'data-kind="population.recorded"><td>录入常住人口</td>' in activity and "张" not in activity


def test_the_charts_are_svg_in_the_page(client: FlaskClient, auth: AuthActions, town: None) -> None:
    auth.login("viewer")
    html = client.get("/").get_data(as_text=True)
    coverage = chart_ids(html, "coverage")
    assert [i for i in coverage if i.startswith("bar-")] == ["bar-0-1", "bar-0-2"]  # 201, 202; 001 unknown
    assert "unknown-0-0" in coverage and coverage.count("target") == 1
    inspection = chart_ids(html, "inspection")
    assert sorted(i for i in inspection if i.startswith("bar-")) == ["bar-0-0", "bar-0-1", "bar-1-0", "bar-1-1"]
    assert len([i for i in inspection if i.startswith("interval-")]) == 4
    trend = chart_ids(html, "trend")
    assert {"line-0", "line-1", "band-0", "band-1"} <= set(trend)
    assert [i for i in trend if i.startswith("point-0-")] == ["point-0-0", "point-0-1"]  # two signed inspections
    assert 'aria-label="各村建档率（2026 年）"' in html and "<style" not in html.split('id="board"')[1]


def test_charts_are_drawn_once_per_data_and_again_when_it_changes(client: FlaskClient, auth: AuthActions, town: None,
                                                                   committed_db: Database) -> None:
    charts._render.cache_clear()  # the other backend's run drew the same pictures in this process
    charts.render_inline.cache_clear()
    auth.login("clerk")
    first = client.get("/").get_data(as_text=True)
    before = charts._render.cache_info()
    assert before.misses == 3
    again = client.get("/").get_data(as_text=True)
    after = charts._render.cache_info()
    assert after.misses == before.misses  # nothing drawn: the same data, the same pictures
    assert re.findall(r"<svg.*?</svg>", first, re.S) == re.findall(r"<svg.*?</svg>", again, re.S)
    with Session(committed_db.engine) as session:
        record_figures(session, find_village(session, "001"), 2026, values_of(20), source="t", actor=ACTOR)
        session.commit()
    changed = client.get("/").get_data(as_text=True)
    assert charts._render.cache_info().misses == after.misses + 1  # only the coverage chart is drawn again
    assert "bar-0-0" in chart_ids(changed, "coverage") and "50.0%" in section(changed, "board-village-001")
    assert re.search(r'id="tile-rate".*?<span class="n">73.8%<', changed, re.S)  # 118 of 160


def test_a_viewer_is_offered_nothing_to_change(client: FlaskClient, auth: AuthActions, town: None) -> None:
    auth.login("viewer")
    html = client.get("/").get_data(as_text=True)
    main = html[html.index("<main>"):html.index("</main>")]
    assert re.findall(r'<form[^>]*method="post"', main) == []
    assert "录入常住人口</a>" not in main  # the notice says what is missing, without a link to change it
    assert client.post("/supervision/population", data={"village": "001", "year": "2026"}).status_code in (400, 403)
    assert "CC-2026-0002</a>" in main  # a 督导 opens the inspection's result


def test_a_village_doctor_sees_their_village_only(client: FlaskClient, auth: AuthActions, town: None) -> None:
    auth.login("village_doctor", villages=("202",))
    html = client.get("/").get_data(as_text=True)
    board = html[html.index('id="board"'):html.index("</main>")]
    assert "您负责的村：西村" in board and "东村" not in board and "城关社区" not in board
    assert re.search(r'id="tile-residents"><span class="n">30<', board) and "75.0%" in board
    assert 'id="tile-room"' not in board and "各村档案架共" not in board
    latest = section(html, "board-latest")
    assert "80.0%" in latest and "100.0%" in latest and "CC-2026-0002</a>" not in latest  # no link: not his page
    assert [i for i in chart_ids(html, "coverage") if i.startswith("bar-")] == ["bar-0-0"]


def test_searching_shows_the_results_without_the_board(client: FlaskClient, auth: AuthActions, town: None) -> None:
    auth.login("clerk")
    html = client.get("/?q=户主202-1").get_data(as_text=True)
    assert "户主202-1" in html and 'id="board"' not in html


def test_the_board_in_english(client: FlaskClient, auth: AuthActions, town: None) -> None:
    auth.login("viewer")
    client.get("/lang/en")
    html = client.get("/").get_data(as_text=True)
    assert ">Dashboard <" in html and "Record coverage by village" in html and "Recent activity" in html
    assert 'aria-label="Record coverage by village (2026)"' in html
    assert "Pass rate" in section(html, "board-latest") and "Usage rate" in section(html, "board-latest")
