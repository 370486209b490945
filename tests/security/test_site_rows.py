"""#14: the rows the route and command walks cannot tell apart by a name — each site numbers its own counts,
handovers and inspections; a scan or a page that names no folder stays its site's; a new site's own history is not
read by the first site as "from before sites". PostgreSQL only (SQLite holds one site)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from archiveprint.accounts.models import User
from archiveprint.accounts.scope import apply_scope, site_scope
from archiveprint.accounts.services import create_user
from archiveprint.db import Database
from archiveprint.errors import Conflict
from archiveprint.eventlog import Event
from archiveprint.intake.models import IntakePage
from archiveprint.lending.models import LoanRequest
from archiveprint.lending.requests import expire_requests
from archiveprint.lending.rules import load_rules, shipped_rules_file
from archiveprint.locations.handover import hand_over
from archiveprint.locations.inventory import find_inventory, live_report, record_scan, start_inventory
from archiveprint.locations.models import Handover, Inventory, InventoryScan
from archiveprint.register import services
from archiveprint.register.idcard import make_id_number
from archiveprint.register.importer import import_file
from archiveprint.register.models import Household
from archiveprint.sites.services import add_site
from tests.conftest import ACTOR
from tests.security.two_sites import NOW, PASSWORD, TwoSites, build_two_sites


@contextmanager
def _in(database: Database, site_id: int) -> Iterator[Session]:
    """A transaction kept to one site, committed at the end."""
    with database.transaction() as session:
        apply_scope(session, site_scope(session, site_id))
        yield session


def test_each_site_numbers_its_own(committed_db: Database, tmp_path: Path) -> None:
    sites: TwoSites = build_two_sites(committed_db, tmp_path / "instance")
    assert (sites.a.inventory, sites.a.handover, sites.a.inspection) == ("PD-2026-0001", "YJ-2026-0001",
                                                                        "CC-2026-0001")
    assert (sites.b.inventory, sites.b.handover, sites.b.inspection) == (sites.a.inventory, sites.a.handover,
                                                                        sites.a.inspection)
    # A's next count is its second, however many B has started meanwhile.
    for site, count in ((sites.b, 3), (sites.a, 1)):
        with _in(committed_db, site.id) as session:
            for _ in range(count):
                start_inventory(session, counters=["甲"], village="201", actor=ACTOR, now=NOW)
            hand_over(session, from_party="甲", to_party="乙", codes=[site.folder], actor=ACTOR, now=NOW)
    for site, inventories, handovers in ((sites.a.id, ["PD-2026-0001", "PD-2026-0002"],
                                          ["YJ-2026-0001", "YJ-2026-0002"]),
                                         (sites.b.id, [f"PD-2026-000{n}" for n in range(1, 5)],
                                          ["YJ-2026-0001", "YJ-2026-0002"])):
        with _in(committed_db, site) as session:
            assert list(session.scalars(select(Inventory.number).order_by(Inventory.id))) == inventories
            assert list(session.scalars(select(Handover.number).order_by(Handover.id))) == handovers


def test_a_scan_or_page_that_names_no_folder_stays_in_its_site(committed_db: Database, tmp_path: Path) -> None:
    """An unknown code read in A's count, an unreadable page of A's stack: A sees them (its report counts the code,
    its clerk can assign the page), B never does."""
    sites = build_two_sites(committed_db, tmp_path / "instance")
    with _in(committed_db, sites.a.id) as session:
        count = find_inventory(session, sites.a.inventory_id)
        record_scan(session, count, "诸福屯-不是档案袋", client_id="station-0001", actor=ACTOR, now=NOW)
        record_scan(session, count, "诸福屯-不是档案袋", client_id="station-0001", actor=ACTOR, now=NOW)  # re-sent
        session.add(IntakePage(batch_id=sites.a.batch_id, seq=2, file_name="诸福屯.pdf", file_page=2,
                               outcome="unreadable", reason="no_mark"))
    with _in(committed_db, sites.a.id) as session:
        report, recent = live_report(session, find_inventory(session, sites.a.inventory_id))
        assert [(r.folder, r.category) for r in recent] == [("诸福屯-不是档案袋", "unknown")]
        assert len(report.rows["unknown"]) == 1
        assert [p.seq for p in session.scalars(select(IntakePage).where(IntakePage.batch_id == sites.a.batch_id)
                                               .order_by(IntakePage.seq))] == [1, 2]
    with _in(committed_db, sites.b.id) as session:
        assert session.scalars(select(IntakePage).where(IntakePage.household_id.is_(None))).all() == []
        assert session.scalars(select(InventoryScan)).all() == []


def test_a_new_sites_history_is_its_own(committed_db: Database, tmp_path: Path) -> None:
    """`site.added` of 柏棠镇 is 柏棠镇's event: the first site (which also reads the rows from before sites) does not
    count it among its own activity."""
    sites = build_two_sites(committed_db, tmp_path / "instance")
    with _in(committed_db, sites.a.id) as session:
        kinds = set(session.scalars(select(Event.kind)))
        assert "site.added" in kinds  # its own, from `township set`
        assert session.scalars(select(Event.entity_id).where(Event.kind == "site.added")).all() == [str(sites.a.id)]
    with _in(committed_db, sites.b.id) as session:
        assert session.scalars(select(Event.entity_id).where(Event.kind == "site.added")).all() == [str(sites.b.id)]


def test_a_change_made_in_one_site_by_condition_leaves_anothers_rows(committed_db: Database, tmp_path: Path) -> None:
    """An UPDATE by a condition rather than by a row read first (expiring the stale requests as the queue is read)
    changes the site's own rows only: 诸福屯镇's request stays open, with no event it never had."""
    sites = build_two_sites(committed_db, tmp_path / "instance")
    rules = load_rules([shipped_rules_file()])
    later = NOW + timedelta(days=30)
    with _in(committed_db, sites.b.id) as session:
        expired = expire_requests(session, rules=rules, actor=ACTOR, now=later)
        assert [row.request_id for row in expired] == [sites.b.request_id]
    with _in(committed_db, sites.a.id) as session:
        request = session.get(LoanRequest, sites.a.request_id)
        assert request is not None and request.status == "open"
        assert [row.request_id for row in expire_requests(session, rules=rules, actor=ACTOR, now=later)] \
            == [sites.a.request_id]


def test_a_county_user_stays_without_a_site_when_a_site_is_added(committed_db: Database, tmp_path: Path) -> None:
    """Adding a site gives the rows made before the first site to the first site — never a county role's user
    (which the first site's administrator could then reset and take over)."""
    build_two_sites(committed_db, tmp_path / "instance")
    with committed_db.transaction() as session:
        create_user(session, "county-sup", PASSWORD, "county_supervisor")
        add_site(session, "XY", name="新安镇卫生院", county_code="130123", county_name="正定县", township_code="102",
                 actor=ACTOR)
    with committed_db.reader() as session:
        assert session.scalars(select(User.site_id).where(User.username == "county-sup")).one() is None


def test_an_id_number_of_another_sites_resident_is_refused_without_a_word_of_whose(committed_db: Database,
                                                                                   tmp_path: Path) -> None:
    """ID numbers are unique in the whole installation: site B's import (a new record, or a changed one) and its
    registration refuse A's 张三丰's number, naming the row, the column and the number typed — no code, name or site
    of A's. Before, B's import failed as a whole with "perhaps someone is registering at the same moment"."""
    sites = build_two_sites(committed_db, tmp_path / "instance")
    taken = make_id_number("130123", date(1950, 3, 7), 11)  # A's 张三丰 (two_sites.py)
    header = "档案编号,姓名,性别,出生日期,身份证号,与户主关系,户主姓名,所属村(居)委会\n"
    for number, row in enumerate((f"13012310120100099,王五,男,1950-03-07,{taken},户主,王五,东村\n",  # a new record
                                  f"{sites.b.resident},张三丰,男,1950-03-07,{taken},户主,张三丰,东村\n")):  # B's own
        register = tmp_path / f"register-{number}.csv"
        register.write_text(header + row, encoding="utf-8-sig")
        with _in(committed_db, sites.b.id) as session:
            report = import_file(session, register, actor=ACTOR, today=NOW.date())
            assert not report.applied
            problems = [(p.row, p.column, p.value, str(p.reason)) for p in report.problems]
            assert problems == [(2, "身份证号", taken, "身份证号已属于另一份档案")], problems
            assert sites.leaks(repr(problems), (taken,)) == []
    with _in(committed_db, sites.b.id) as session:
        household = session.scalars(select(Household)).first()
        assert household is not None
        with pytest.raises(Conflict) as refused:
            services.register_resident(session, household, name="王五", sex="1", id_number=taken, actor=ACTOR)
        assert str(refused.value) == f"「身份证号」，值“{taken}”：身份证号已属于另一份档案"
