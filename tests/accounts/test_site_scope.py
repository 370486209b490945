"""#14: sites — every table is named by the one scope hook, two sites that share village codes and surnames see only
their own rows, new rows take the working site, a closed site is read-only, and SQLite holds one site only."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session, selectinload

from archiveprint.accounts import scope as scope_module
from archiveprint.accounts.models import AuditEntry, User
from archiveprint.accounts.scope import (
    AccessScope,
    SiteClosed,
    apply_scope,
    scope_for,
    site_scope,
)
from archiveprint.accounts.services import audit, create_user
from archiveprint.db import Base
from archiveprint.due.models import ServiceVisit
from archiveprint.errors import Conflict
from archiveprint.eventlog import Event
from archiveprint.indicators.models import PopulationFigure
from archiveprint.inspections.models import InspectionCheck
from archiveprint.lending.models import Borrower
from archiveprint.register import services
from archiveprint.register.models import Household, Resident, Township, Village
from archiveprint.register.queries import find_residents
from archiveprint.sites.models import Site
from archiveprint.sites.services import add_site
from tests.conftest import ACTOR, setup_township


def test_every_table_says_how_it_belongs_to_a_site() -> None:
    """A new table cannot slip past the scope: it is site-owned, reached through a household, village, resident
    or parent row, or shared on purpose (with the reason)."""
    named = {*scope_module.SITE_OWNED, *scope_module.SITE_OWNED_SINCE, *scope_module.BY_HOUSEHOLD,
             *scope_module.BY_PARENT, *scope_module.UNSCOPED,
             Household, PopulationFigure, ServiceVisit, InspectionCheck, Township}
    mapped = {mapper.class_ for mapper in Base.registry.mappers}
    assert mapped - named == set(), "name these in archiveprint/accounts/scope.py"
    for entity in (*scope_module.SITE_OWNED, *scope_module.SITE_OWNED_SINCE):
        assert "site_id" in entity.__table__.c, entity


def test_sqlite_holds_one_site(session: Session) -> None:
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("the refusal is SQLite's")
    setup_township(session)
    with pytest.raises(Conflict) as refused:
        add_site(session, "BT", name="柏棠镇卫生院", county_code="130123", county_name="正定县", township_code="101",
                 actor=ACTOR)
    assert "PostgreSQL" in str(refused.value)
    assert session.scalar(select(func.count()).select_from(Site)) == 1


def test_township_set_makes_the_first_site_and_gives_it_the_rows_made_before(session: Session) -> None:
    admin = create_user(session, "admin", "password-123", "admin")
    assert admin.site_id is None
    setup_township(session)
    site = session.scalars(select(Site)).one()
    assert (site.code, site.name, site.county_code) == ("130123100", "诸福屯镇卫生院", "130123")
    session.refresh(admin)
    assert admin.site_id == site.id
    assert {v.site_id for v in session.scalars(select(Village))} == {site.id}


@dataclass
class TwoSites:
    first: Site
    second: Site


@pytest.fixture
def two_sites(session: Session) -> Iterator[TwoSites]:
    """诸福屯镇卫生院 (130123-100) and 柏棠镇卫生院 (130123-101): both with villages 201 东村 and 202 西村 and a
    household of 张三丰 in 东村 — the same codes and surnames, apart only by site."""
    if session.get_bind().dialect.name == "sqlite":
        pytest.skip("several sites need PostgreSQL (test_sqlite_holds_one_site)")
    setup_township(session)
    first = session.scalars(select(Site)).one()
    second = add_site(session, "BT", name="柏棠镇卫生院", county_code="130123", county_name="正定县",
                      township_code="101", actor=ACTOR)
    for site in (first, second):
        apply_scope(session, site_scope(session, site.id))
        if site is second:
            services.add_village(session, "201", "东村", actor=ACTOR)
            services.add_village(session, "202", "西村", actor=ACTOR)
        household = services.create_household(session, services.find_village(session, "201"), head_name="张三丰",
                                              address="东村1组1号", actor=ACTOR)
        services.register_resident(session, household, actor=ACTOR, name="张三丰", sex="1",
                                   relation_to_head="户主")
        create_user(session, f"clerk-{site.code}", "password-123", "clerk")
    apply_scope(session, AccessScope())
    yield TwoSites(first, second)


def test_each_site_sees_only_its_own_register(session: Session, two_sites: TwoSites) -> None:
    everyone = session.scalars(select(Resident)).all()
    assert len(everyone) == 2  # unscoped: the installation
    for site, prefix, villages in ((two_sites.first, "130123100201", ["001", "201", "202"]),
                                   (two_sites.second, "130123101201", ["201", "202"])):
        apply_scope(session, site_scope(session, site.id))
        residents = session.scalars(select(Resident)).all()
        assert [r.archive_code[:12] for r in residents] == [prefix]
        assert [v.full_code for v in session.scalars(select(Village).order_by(Village.code))] == [
            prefix[:9] + code for code in villages]
        assert [r.archive_code[:12] for r in find_residents(session, "张三丰")] == [prefix]
        assert [r.archive_code[:12] for r in find_residents(session, "zsf")] == [prefix]
        assert services.get_township(session).prefix == prefix[:9]
        assert [u.username for u in session.scalars(select(User))] == [f"clerk-{site.code}"]
        other = next(r for r in everyone if not r.archive_code.startswith(prefix))
        session.expunge_all()
        assert session.get(Resident, other.id) is None or session.scalar(
            select(Resident).where(Resident.id == other.id)) is None


def test_a_scoped_statement_names_each_criterion_once_and_a_scope_builds_them_once(session: Session,
                                                                                   two_sites: TwoSites) -> None:
    """The criteria's own subqueries are not scoped again: `villages.site_id IN (…)` twice made PostgreSQL square its
    selectivity and take a site's 10,000 households for 500 (bench/county_bench.py, docs/benchmarks.md)."""
    sent: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        sent.append(statement)

    scope = site_scope(session, two_sites.second.id)
    apply_scope(session, scope)
    bind = session.connection()
    event.listen(bind, "before_cursor_execute", note)
    try:
        found = session.scalars(select(Resident).where(Resident.name == "张三丰")).all()
    finally:
        event.remove(bind, "before_cursor_execute", note)
    assert [r.archive_code[:12] for r in found] == ["130123101201"]
    assert sent[-1].count("villages.site_id IN") == 1 and sent[-1].count("households.village_id IN") == 1
    key = (tuple(sorted(scope.site_ids or ())), scope.first_site, None)
    assert scope_module._scope_options(*key) is scope_module._scope_options(*key)


def test_one_compiled_statement_serves_every_site_with_its_own_ids(session: Session, two_sites: TwoSites) -> None:
    """The criteria's part of a statement's cache key is worked out once per scope (scope._Criterion): two sites'
    statements share one key, so one compiled statement serves both, and each runs with its own site's ids."""
    options = [scope_module._scope_options((site_id,), False, None) for site_id in (7, 8)]
    keys = [scope_module._with_options(select(Resident).where(Resident.name == "张三丰"), found)
            ._generate_cache_key() for found in options]
    assert keys[0].key == keys[1].key
    assert [[bind.value for bind in key.bindparams if isinstance(bind.value, list)] for key in keys] == [
        [[7]] * (len(keys[0].bindparams) - 1), [[8]] * (len(keys[1].bindparams) - 1)]  # each its own site's ids
    for site, prefix in ((two_sites.second, "130123101201"), (two_sites.first, "130123100201"),
                         (two_sites.second, "130123101201")):
        apply_scope(session, site_scope(session, site.id))
        session.expunge_all()
        found = session.scalars(select(Resident).where(Resident.name == "张三丰")).all()
        assert [r.archive_code[:12] for r in found] == [prefix]


def test_a_statement_gets_the_criteria_of_what_it_names_and_the_same_sql(session: Session, two_sites: TwoSites,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A statement gets only the criteria of the entities it names; self-checked here (SELF_CHECK compiles each
    statement with every criterion too and refuses any difference): plain, joined, eager-loaded, lazy and UPDATE."""
    monkeypatch.setattr(scope_module, "SELF_CHECK", True)
    apply_scope(session, site_scope(session, two_sites.second.id))
    entities = scope_module._entities_of(
        select(Resident).join(Household, Household.id == Resident.household_id).where(Resident.name == "张三丰"))
    assert entities == {Resident, Household}
    assert scope_module._entities_of(select(Resident).options(selectinload(Resident.household))) == {Resident,
                                                                                                     Household}
    assert scope_module._entities_of(select(Resident).options(selectinload("*"))) is None  # a wildcard: all
    assert [r.archive_code[:12] for r in find_residents(session, "张三丰")] == ["130123101201"]
    assert [r.archive_code[:12] for r in find_residents(session, "zsf")] == ["130123101201"]
    resident = session.scalars(select(Resident).join(Household).join(Village).where(Village.code == "201")).one()
    session.expire(resident, ["household"])
    assert resident.household.village.site_id == two_sites.second.id  # lazy loads, through the hook too
    assert session.scalar(select(func.count(Household.id)).where(Household.head_name == "张三丰")) == 1
    assert session.execute(update(Household).where(Household.head_name == "张三丰").values(address="东村1组2号")
                           .execution_options(synchronize_session=False)).rowcount == 1  # only the site's own


def test_a_clerk_is_kept_to_his_site_even_when_asking_for_another(session: Session, two_sites: TwoSites) -> None:
    clerk = session.scalar(select(User).where(User.username == "clerk-BT"))
    assert clerk is not None and clerk.site_id == two_sites.second.id
    mine = scope_for(session, clerk)
    assert mine.site_ids == {two_sites.second.id}
    asked = scope_for(session, clerk, site_id=two_sites.first.id)
    assert asked.site_ids == frozenset() and asked.village_ids == frozenset()  # nothing, not the other site
    county = create_user(session, "county", "password-123", "county_supervisor")
    assert county.site_id is None
    assert scope_for(session, county, site_id=two_sites.first.id).site_ids == {two_sites.first.id}
    assert scope_for(session, county).site_id is None  # a county-wide read: the web asks which site first


def test_new_rows_take_the_working_site_and_audit_rows_name_it(session: Session, two_sites: TwoSites) -> None:
    apply_scope(session, site_scope(session, two_sites.second.id))
    borrower = Borrower(key="wang", kind="staff", name="王医生")
    session.add(borrower)
    audit(session, None, "view", "resident", 1)
    session.flush()
    assert borrower.site_id == two_sites.second.id
    assert session.scalars(select(AuditEntry.site_id)).all() == [two_sites.second.id]
    apply_scope(session, site_scope(session, two_sites.first.id))
    assert session.scalars(select(Borrower)).all() == []
    session.add(Borrower(key="wang", kind="staff", name="王医生"))  # the same key in another site is no clash
    session.flush()


def test_several_sites_and_no_working_site_refuse_new_site_rows(session: Session, two_sites: TwoSites) -> None:
    apply_scope(session, site_scope(session, None))
    session.add(Borrower(key="li", kind="staff", name="李医生"))
    with pytest.raises(Conflict):
        session.flush()
    session.rollback()


def test_a_closed_site_is_read_only_history(session: Session, two_sites: TwoSites) -> None:
    two_sites.second.status = "closed"
    session.flush()
    apply_scope(session, site_scope(session, two_sites.second.id))
    resident = session.scalars(select(Resident)).one()
    audit(session, None, "view", "resident", resident.id)
    session.flush()  # reading (and its audit row) goes on
    resident.phone = "13800000000"
    with pytest.raises(SiteClosed) as refused:
        session.flush()
    assert refused.value.value == f"{two_sites.second.code} {two_sites.second.name}"  # its code and name, not an id
    session.rollback()


def _audit_subjects(session: Session, scope: AccessScope) -> set[str]:
    apply_scope(session, scope)
    session.expunge_all()
    return set(session.scalars(select(AuditEntry.subject_id)))


def test_a_row_without_a_site_written_after_the_second_site_is_the_installations(session: Session,
                                                                                  two_sites: TwoSites) -> None:
    """Rows of the append-only tables written with no site before the second site was added are the first site's;
    one written after it (a county-wide page's audit row, a county user's event) is the installation's: county
    roles read it, in whichever site they work; neither site's own users do."""
    first, second = two_sites.first, two_sites.second
    assert second.rows_before is not None and set(second.rows_before) == {"events", "audit_log", "loan_scans"}
    audit(session, None, "view", "resident", "before-second-site")  # as the rows from before sites
    session.flush()
    early = session.scalar(select(func.max(AuditEntry.id)))
    second.rows_before = {**second.rows_before, "audit_log": early}  # … written before the second site was added
    session.flush()
    apply_scope(session, site_scope(session, None))  # a county-wide page: no working site
    county = create_user(session, "county-admin", "password-123", "county_admin")
    audit(session, county, "view", "site", "county-wide")
    session.flush()
    assert session.scalars(select(AuditEntry.site_id).where(AuditEntry.subject_id == "county-wide")).one() is None
    assert session.scalars(select(Event.site_id).where(Event.kind == "user.created",
                                                       Event.entity_id == str(county.id))).one() is None
    clerks = {site.id: session.scalars(select(User).where(User.username == f"clerk-{site.code}")).one()
              for site in (first, second)}
    site_1, site_2 = (_audit_subjects(session, scope_for(session, clerks[site.id])) for site in (first, second))
    assert "before-second-site" in site_1 and "county-wide" not in site_1  # the first site's admin: not the county's
    assert not {"before-second-site", "county-wide"} & site_2
    county_1, county_2 = (_audit_subjects(session, scope_for(session, county, site_id=site.id))
                          for site in (first, second))
    assert {"before-second-site", "county-wide"} <= county_1
    assert "county-wide" in county_2 and "before-second-site" not in county_2
    apply_scope(session, scope_for(session, clerks[first.id]))
    assert session.scalar(select(func.count()).select_from(Event).where(Event.entity_id == str(county.id))) == 0
    # The cut is part of the scope, and so of the cached criteria's key.
    assert site_scope(session, first.id).rows_before == tuple(sorted(second.rows_before.items()))


def test_one_site_reads_every_row_without_a_site(session: Session) -> None:
    """One site: no criterion at all, so a row written later with no site is still the only site's."""
    setup_township(session)
    site = session.scalars(select(Site)).one()
    assert site.rows_before is not None
    audit(session, None, "view", "resident", "after-first-site")
    session.flush()
    apply_scope(session, site_scope(session, site.id))
    assert "after-first-site" in set(session.scalars(select(AuditEntry.subject_id)))
