"""`archiveprint population …` and `archiveprint indicators` end to end on a committed database (SQLite and
PostgreSQL): set, import, list, the JSON of the indicators, who is missing (audited)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from archiveprint.accounts.models import AuditEntry
from archiveprint.cli import AppContext
from tests.indicators.conftest import TODAY, build_town
from tests.indicators.test_population_import import GOOD, xlsx


@pytest.fixture
def cli(committed_db, run_cli, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(AppContext, "today", lambda self: TODAY)
    with Session(committed_db.engine) as session:
        build_town(session)
        session.commit()
    return run_cli


def test_indicators_json_per_village_and_total(cli) -> None:  # type: ignore[no-untyped-def]
    done = cli("indicators", "--json")
    assert done.exit_code == 0, done.output
    data = json.loads(done.output)
    assert data["year"] == 2026 and data["targets"]["overall"] == 0.9
    east = next(v for v in data["villages"] if v["village"] == "201")
    assert (east["population"], east["residents"], east["rate"], east["gap"]) == (10, 7, 0.7, 2)
    assert east["populations"]["elderly"] == {"population": 3, "residents": 3, "rate": 1.0, "target": 0.9, "gap": 0,
                                              "note": None}
    assert east["populations"]["maternal"]["rate"] is None and east["populations"]["maternal"]["note"] == "zero"
    centre = next(v for v in data["villages"] if v["village"] == "001")
    assert (centre["population"], centre["residents"], centre["rate"], centre["note"]) == (None, 1, None, "unknown")
    assert (data["total"]["village"], data["total"]["population"], data["total"]["residents"]) == (None, None, 9)
    assert data["shelves"]["total"]["households"] == 5
    text = cli("indicators")
    assert "201 东村：全体常住居民 7/10 70.0%，还差 2 人" in text.output and "未录入常住人口" in text.output


def test_set_list_and_a_corrected_figure(cli) -> None:  # type: ignore[no-untyped-def]
    done = cli("population", "set", "城关社区", "--year", "2026", "--residents", "2", "--age65", "1", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["action"] == "added"
    assert json.loads(cli("population", "set", "001", "--year", "2026", "--residents", "2", "--age65", "1",
                          "--json").output)["action"] == "unchanged"
    listed = json.loads(cli("population", "list", "--year", "2026", "--json").output)
    assert [(row["village"], row["residents"]) for row in listed] == [("001", 2), ("201", 10), ("202", 4)]
    total = json.loads(cli("indicators", "--json").output)["total"]
    assert (total["population"], total["residents"], total["rate"]) == (16, 9, 0.5625)
    bad = cli("population", "set", "001", "--year", "2026", "--residents", "2", "--age65", "3", "--json")
    assert bad.exit_code == 1 and json.loads(bad.output)["field"] == "65岁及以上"
    unknown = cli("population", "set", "999", "--year", "2026", "--residents", "2")
    assert unknown.exit_code == 1 and "没有这个村(居)委会" in unknown.output


def test_import_twice_and_a_bad_file(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = xlsx(tmp_path / "人口.xlsx", GOOD)
    first = json.loads(cli("population", "import", str(path), "--json").output)
    assert (first["added"], first["changed"], first["unchanged"]) == (1, 2, 0)  # 201 and 202 had a 2026 figure
    second = json.loads(cli("population", "import", str(path), "--json").output)
    assert (second["added"], second["changed"], second["unchanged"]) == (0, 0, 3)
    bad = xlsx(tmp_path / "bad.xlsx", [["201", 2026, "很多", "", "", ""]])
    done = cli("population", "import", str(bad))
    assert done.exit_code == 1 and "第2行「常住人口」值“很多”：应为整数人数" in done.output
    assert cli("population", "import", str(tmp_path / "none.xlsx")).exit_code == 2


def test_who_is_missing_is_listed_and_audited(cli, committed_db) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(cli("indicators", "--missing", "elderly", "--json").output)
    assert [p["name"] for p in data["people"]] == ["乙", "辛", "壬"] and data["members"] == 4
    with Session(committed_db.engine) as session:
        audited = session.scalars(select(AuditEntry).where(AuditEntry.action == "view")).all()
    assert len(audited) == 2  # 乙 and 辛 share a household
    east = json.loads(cli("indicators", "--missing", "elderly", "--village", "东村", "--json").output)
    assert [p["name"] for p in east["people"]] == ["乙", "辛"]
