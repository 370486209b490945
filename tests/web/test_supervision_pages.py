"""督导 pages on a committed town with known answers (SQLite and PostgreSQL): 建档率 with its definitions, entering
and correcting 常住人口, the sheet's upload with a preview (all or nothing, twice changes nothing), who is missing
(audited), roles and a village doctor's scope."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archiveprint.accounts.models import AuditEntry
from archiveprint.db import Database
from archiveprint.indicators.models import PopulationFigure
from tests.indicators.conftest import build_town
from tests.indicators.test_population_import import GOOD, xlsx
from tests.web.conftest import AuthActions, csrf_token


@pytest.fixture
def town(committed_db: Database) -> None:
    with Session(committed_db.engine) as session:
        build_town(session)
        session.commit()


def figures(database: Database) -> int:
    with Session(database.engine) as session:
        return session.scalar(select(func.count(PopulationFigure.id))) or 0


def test_the_indicators_page_shows_each_rate_its_gap_and_its_definition(client: FlaskClient, auth: AuthActions,
                                                                          town: None) -> None:
    auth.login("viewer")
    page = client.get("/supervision/indicators")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    east = html[html.index('id="rates-201"'):html.index('id="rates-202"')]
    assert "70.0%" in east and "7/10" in east and "还差 2 人" in east
    assert "常住人口为 0" in east  # 孕产妇: a figure of 0
    centre = html[html.index('id="rates-001"'):html.index('id="rates-201"')]
    assert "未录入常住人口" in centre and "0.0%" not in centre and "100.0%" not in centre
    assert "建档人数 / 辖区内常住居民数 × 100%" in html and 'href="#def-rate"' in html
    assert "未录入 2026 年常住人口" in html and "城关社区" in html
    assert 'id="shelf-201"' in html and "33.3%" in html
    assert "录入常住人口" in html  # the link to the population page (a viewer reads it, cannot change it)
    assert client.get("/supervision/population/import").status_code == 403


def test_a_clerk_enters_and_corrects_a_figure(client: FlaskClient, auth: AuthActions, town: None,
                                               committed_db: Database) -> None:
    auth.login("clerk")
    page = client.get("/supervision/population?year=2026&village=001")
    assert "未录入常住人口" in page.get_data(as_text=True)
    before = figures(committed_db)
    done = client.post("/supervision/population", data={
        "csrf_token": csrf_token(page), "village": "001", "year": "2026", "residents": "2", "age65": "1",
        "age0_6": "", "maternal": ""}, follow_redirects=True)
    assert done.status_code == 200 and "已录入 城关社区 2026 年常住人口" in done.get_data(as_text=True)
    assert figures(committed_db) == before + 1
    again = client.post("/supervision/population", data={
        "csrf_token": csrf_token(page), "village": "001", "year": "2026", "residents": "2", "age65": "1"},
        follow_redirects=True)
    assert "与现有数字相同，未改动" in again.get_data(as_text=True) and figures(committed_db) == before + 1
    bad = client.post("/supervision/population", data={
        "csrf_token": csrf_token(page), "village": "001", "year": "2026", "residents": "2", "age65": "5"})
    assert bad.status_code == 400 and "不能多于常住人口（2）" in bad.get_data(as_text=True)
    words = client.post("/supervision/population", data={
        "csrf_token": csrf_token(page), "village": "001", "year": "2026", "residents": "很多"})
    assert words.status_code == 400 and "应为整数人数" in words.get_data(as_text=True)
    assert figures(committed_db) == before + 1
    history = client.get("/supervision/population?year=2026&history=1").get_data(as_text=True)
    assert "已被更正的数字" in history and "网页录入" in history
    rates = client.get("/supervision/indicators").get_data(as_text=True)
    assert "56.2%" in rates  # the township: 9 of 16 now that every village has a figure


def test_the_sheet_is_previewed_then_applied_and_twice_changes_nothing(client: FlaskClient, auth: AuthActions,
                                                                        town: None, committed_db: Database,
                                                                        tmp_path: Path) -> None:
    auth.login("clerk")
    path = xlsx(tmp_path / "人口.xlsx", GOOD)
    before = figures(committed_db)

    def upload():  # type: ignore[no-untyped-def]
        page = client.get("/supervision/population/import")
        with path.open("rb") as handle:
            return client.post("/supervision/population/import", data={"csrf_token": csrf_token(page),
                                                                       "file": (handle, path.name)},
                               content_type="multipart/form-data", follow_redirects=True)

    report = upload()
    html = report.get_data(as_text=True)
    assert "检查通过，尚未写入" in html and "将更正" in html and figures(committed_db) == before
    applied = client.post(report.request.path + "/apply", data={"csrf_token": csrf_token(html)},
                          follow_redirects=True)
    assert "已写入：新增 1 个，更正 2 个，未变 0 个" in applied.get_data(as_text=True)
    assert figures(committed_db) == before + 3
    second = upload().get_data(as_text=True)
    assert "没有需要写入的变化" in second and 'id="confirm-import"' not in second
    assert figures(committed_db) == before + 3


def test_a_bad_sheet_names_every_problem_and_writes_nothing(client: FlaskClient, auth: AuthActions, town: None,
                                                            committed_db: Database, tmp_path: Path) -> None:
    auth.login("admin")
    path = xlsx(tmp_path / "bad.xlsx", [*GOOD, ["999", 2026, 1, "", "", ""]])
    page = client.get("/supervision/population/import")
    with path.open("rb") as handle:
        report = client.post("/supervision/population/import", data={"csrf_token": csrf_token(page),
                                                                      "file": (handle, path.name)},
                             content_type="multipart/form-data", follow_redirects=True)
    html = report.get_data(as_text=True)
    assert "发现 1 个问题" in html and "999" in html and "没有这个村(居)委会" in html
    assert 'id="confirm-import"' not in html and figures(committed_db) == 3
    wrong = tmp_path / "register.csv"
    wrong.write_text("姓名,档案编号\n张三,1\n", encoding="utf-8")
    page = client.get("/supervision/population/import")
    with wrong.open("rb") as handle:
        refused = client.post("/supervision/population/import", data={"csrf_token": csrf_token(page),
                                                                       "file": (handle, wrong.name)},
                              content_type="multipart/form-data")
    assert refused.status_code == 400 and "没有找到表头" in refused.get_data(as_text=True)
    kept = list((tmp_path / "instance" / "population_uploads").glob("*/source*"))
    assert kept == []  # neither the refused sheet nor the unreadable file is kept, only the first one's report


def test_who_is_missing_is_audited_and_a_village_doctor_sees_their_village_only(
        client: FlaskClient, auth: AuthActions, town: None, committed_db: Database) -> None:
    auth.login("village_doctor", villages=("201",))
    html = client.get("/supervision/indicators").get_data(as_text=True)
    assert 'id="rates-201"' in html and 'id="rates-202"' not in html and 'id="rates-001"' not in html
    missing = client.get("/supervision/indicators/missing?population=elderly").get_data(as_text=True)
    assert "乙" in missing and "辛" in missing and "壬" not in missing
    with Session(committed_db.engine) as session:
        audited = session.scalars(select(AuditEntry).where(AuditEntry.action == "view",
                                                           AuditEntry.subject_type == "household")).all()
    assert len(audited) == 1 and "未登记老年人年度健康管理" in audited[0].detail
    population = client.get("/supervision/population?year=2026").get_data(as_text=True)
    assert 'id="village-201"' in population and 'id="village-202"' not in population
    assert client.post("/supervision/population", data={}).status_code in (400, 403)
    assert client.get("/supervision/population/import").status_code == 403
