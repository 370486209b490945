"""Access scope: whose records a user may see, applied to every ORM query of a session in one place.

Two scopes, both applied here and nowhere else:

- **Site** (one installation for a county): a user of 柏棠镇卫生院 sees its villages, households, folders, shelves,
  borrowers, loans, jobs, inspections and users, and nothing of another site. With one site installed there is
  nothing to keep apart and no criterion is added at all.
- **Village**: a village doctor (村医) sees the residents, households, folders and loans of the villages they serve.

The rule is not remembered by each query: `apply_scope` puts the scope on a session, and a `do_orm_execute` hook
adds the criteria to every ORM SELECT that session runs (pages, the JSON API, print and label jobs, exports alike),
including lazy loads of relationships, and to every ORM UPDATE and DELETE (one by a condition, such as expiring the
stale requests, changes the site's own rows only). A record outside the scope is simply not found, so a page answers
404 for it exactly as for a record that does not exist. Every mapped table is named below — by its own `site_id`,
through its household, village, resident or parent row, or as shared reference data — and
tests/accounts/test_site_scope.py fails when a new table is not.

A `before_flush` hook gives every new site-owned row the scope's site (no service passes it), and refuses changes
in a closed site (机构撤并: its records are read-only history). A resident is in scope by their *current*
household's village, a household by its village's custody site: a transfer between sites moves a village, and its
register, loans and location history move with it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import Delete, Select, Update, and_, event, or_, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Load, ORMExecuteState, RelationshipProperty, Session, UOWTransaction
from sqlalchemy.orm.util import LoaderCriteriaOption
from sqlalchemy.sql.cache_key import NO_CACHE, CacheConst
from sqlalchemy.sql.expression import ColumnClause, TableClause
from sqlalchemy.sql.visitors import anon_map

from archiveprint.accounts.models import AuditEntry, LoginAttempt, User, UserSession
from archiveprint.accounts.roles import COUNTY_ROLES
from archiveprint.db import Base, Database
from archiveprint.due.models import ServiceVisit
from archiveprint.errors import Conflict
from archiveprint.eventlog import Event
from archiveprint.forms.models import CustomFormSet
from archiveprint.indicators.models import PopulationFigure
from archiveprint.inspections.models import Inspection, InspectionCheck, InspectionFolder, InspectionTask
from archiveprint.intake.models import IntakeBatch, IntakePage, IntakeSetting
from archiveprint.jobs.models import Job, installation_run
from archiveprint.labels.models import PrinterProfile
from archiveprint.lending.models import Borrower, Loan, LoanDocument, LoanRequest, LoanScan
from archiveprint.locations.models import (
    FolderMovement,
    FolderPosition,
    Handover,
    HandoverItem,
    Inventory,
    InventoryScan,
    InventoryShelf,
    InventoryUpload,
    Shelf,
    StorageLayout,
)
from archiveprint.register.models import Household, ImportRun, PopulationTag, Resident, Township, Village
from archiveprint.sites.models import HISTORY, SCOPE_KEY, Site

VILLAGE_SCOPED_ROLES = frozenset({"village_doctor"})

# --- how every table belongs to a site and (if it holds a person) to a village -------------------------------
# Rows with their own site_id.
SITE_OWNED: tuple[type, ...] = (Village, User, Job, ImportRun, CustomFormSet, PrinterProfile, Borrower, StorageLayout,
                                Shelf, Handover, Inventory, Inspection, IntakeBatch, IntakeSetting)
# Append-only rows with their own site_id, NULL on rows written before the first site existed (they are its).
SITE_OWNED_SINCE: tuple[type, ...] = (Event, AuditEntry, LoanScan)
# Rows of a household's folder or a person in it: in scope when their household is.
BY_HOUSEHOLD: tuple[type, ...] = (Resident, FolderPosition, FolderMovement, Loan, LoanRequest, InventoryScan,
                                  HandoverItem, InspectionFolder, InspectionTask, IntakePage)
# Of those, rows that may name no household (an unreadable page, a code that named no folder): such a row is in
# its parent's site (column, the site-owned parent's entity); a village doctor never sees one.
HOUSEHOLD_OR_PARENT: dict[type, tuple[str, type]] = {
    IntakePage: ("batch_id", IntakeBatch),
    InventoryScan: ("inventory_id", Inventory),
}
# Rows reached through one parent row: (column, the parent's entity).
BY_PARENT: dict[type, tuple[str, type]] = {
    LoanDocument: ("request_id", LoanRequest),
    InventoryShelf: ("inventory_id", Inventory),
    InventoryUpload: ("inventory_id", Inventory),
    InspectionCheck: ("folder_id", InspectionFolder),
    UserSession: ("user_id", User),
}
# Changed only by naming their user (ending a user's sign-ins): a county user's own, while they work in a site whose
# users they are not among, end too when they change their password.
NAMED_BY_USER: tuple[type, ...] = (UserSession,)
# Shared by every site, with the reason.
UNSCOPED: dict[type, str] = {
    Site: "the sites themselves: names and codes of institutions, no person",
    PopulationTag: "reference data: the names of population tags",
    LoginAttempt: "hashes of typed names, before anyone is signed in (throttling must see them all)",
}
# Township (a code namespace) is in scope when it is a scope site's home or holds one of its villages.
# A county print run's own row (a Job of kind run whose params name its sites, jobs/county.py) is the installation's:
# its site_id stays NULL, which no site's criterion matches, so only a county-wide read (a county role at /sites/print,
# the command line's installation) sees it; each of its parts is a job of its own site, printed in that site's scope.

# Relationships whose target is read without the site criteria: a row in scope shows what it refers to, and a record
# in scope its own lines. A folder received from another site (机构撤并) keeps in its history the shelves it stood
# on and the borrowers and approvers of its returned loans there; a closed site's handover list keeps the lines it
# handed over. Only the site criteria are lifted (a village doctor's stay), and only for these loads.
READ_THROUGH: frozenset[tuple[type, str]] = frozenset({
    (FolderMovement, "shelf"), (Loan, "borrower"), (Loan, "approver"), (LoanRequest, "borrower"),
    (LoanRequest, "approver"), (Handover, "items")})


@dataclass(frozen=True)
class AccessScope:
    """What a session may see: `site_ids` None is every site (one site installed, or a county-wide read),
    `village_ids` None is every village of those sites.

    `site_id` is the site new rows belong to and audit rows name; `first_site` says whether rows from before
    sites (site_id NULL) are in scope; `read_only` is a closed site's history. `rows_before` (several sites) is
    where those rows end in each SINCE_FIRST_SITE table: later NULL-site rows are the installation's, in scope
    for a county role (`county`) only.
    """

    village_ids: frozenset[int] | None = None
    site_ids: frozenset[int] | None = None
    site_id: int | None = None
    first_site: bool = True
    read_only: bool = False
    several_sites: bool = False
    rows_before: tuple[tuple[str, int], ...] | None = None
    county: bool = False

    @property
    def whole_site(self) -> bool:
        return self.village_ids is None

    def allows_village(self, village_id: int | None) -> bool:
        return self.village_ids is None or village_id in self.village_ids

    @classmethod
    def villages(cls, ids: Iterable[int]) -> AccessScope:
        return cls(frozenset(ids))


WHOLE_SITE = AccessScope()
NOBODY = AccessScope(village_ids=frozenset(), site_ids=frozenset())


@dataclass(frozen=True)
class TownshipName:
    """A site's home township as a page header names it (the unit, the county and the township)."""

    county_name: str
    name: str
    unit_name: str


@dataclass(frozen=True)
class SiteRow:
    id: int
    code: str
    name: str
    closed: bool
    rows_before: tuple[tuple[str, int], ...] | None = None
    township: TownshipName | None = None  # its home township (None: not set yet)


def installed_sites(session: Session) -> list[SiteRow]:
    """Every site of the installation with its home township's name (a tiny table, read fresh for each scope so a
    site added meanwhile counts; the web reads it once a request, for the scope and the page header)."""
    rows = session.execute(select(Site.id, Site.code, Site.name, Site.status, Site.rows_before,
                                  Township.id.label("township_id"), Township.county_name,
                                  Township.name.label("township_name"), Township.unit_name)
                           .outerjoin(Township, Township.id == Site.township_id).order_by(Site.id)).all()
    return [SiteRow(row.id, row.code, row.name, row.status == "closed",
                    tuple(sorted(row.rows_before.items())) if row.rows_before else None,
                    TownshipName(row.county_name, row.township_name, row.unit_name)
                    if row.township_id is not None else None) for row in rows]


def site_scope(session: Session, site_id: int | None, *, sites: list[SiteRow] | None = None) -> AccessScope:
    """The scope of work in one site (None: every site — only a county-wide read, which adds no rows). `sites`:
    installed_sites, when the caller has just read them."""
    sites = installed_sites(session) if sites is None else sites
    if len(sites) <= 1:
        only = sites[0] if sites else None
        if site_id is not None and (only is None or only.id != site_id):
            return NOBODY
        return AccessScope(site_id=only.id if only else None)
    if site_id is None:
        return AccessScope(several_sites=True)
    site = next((s for s in sites if s.id == site_id), None)
    if site is None:
        return NOBODY
    return AccessScope(site_ids=frozenset({site.id}), site_id=site.id, first_site=site.id == sites[0].id,
                       read_only=site.closed, several_sites=True, rows_before=sites[1].rows_before)


def scope_for(session: Session, user: User | None, *, site_id: int | None = None,
              sites: list[SiteRow] | None = None) -> AccessScope:
    """The scope of a signed-in user, in their site (a county role: in the site they chose, `site_id`; None is a
    county-wide read). The CLI and system jobs, with no user, work in `site_id`. `sites`: installed_sites, when
    the caller has just read them.

    A user of one site never gets another site by asking, and a village doctor with no village yet sees nobody,
    never everybody.
    """
    sites = installed_sites(session) if sites is None else sites
    if user is not None and user.role not in COUNTY_ROLES:
        if site_id is not None and user.site_id is not None and site_id != user.site_id:
            return NOBODY
        site_id = user.site_id
        if site_id is None and len(sites) > 1:
            return NOBODY  # a site user with no site, once there are several: nothing rather than everything
    scope = site_scope(session, site_id, sites=sites)
    if user is not None and user.role in COUNTY_ROLES and scope.site_ids:
        scope = replace(scope, county=True)  # the installation's own rows too, in whichever site they work
    if user is not None and user.role in VILLAGE_SCOPED_ROLES:
        scope = replace(scope, village_ids=frozenset(village.id for village in user.villages))
    return scope


def apply_scope(session: Session, scope: AccessScope) -> None:
    """From now on every ORM query of this session sees only what `scope` allows."""
    session.info[SCOPE_KEY] = scope


def scoped(database: Database, scope: AccessScope) -> Database:
    """The same database, whose every session (reader, writer, scratch) is kept to `scope`: a job's or a
    command's."""
    return database.with_info(**{SCOPE_KEY: scope})


def current_scope(session: Session) -> AccessScope:
    return session.info.get(SCOPE_KEY, WHOLE_SITE)


# --- the criteria -------------------------------------------------------------------------------------------------

# The subqueries below select from the tables, not the mapped classes: the hook adds its criteria to every ORM
# entity of a statement, subqueries included, so `select(Village.id)` inside a criterion came back with the same
# criterion again (`villages.site_id IN (…) AND villages.site_id IN (…)`, households' twice over). PostgreSQL then
# squared the selectivity, took a site's 10,000 households for 500 and hashed them all to check 24 residents
# (bench/county_bench.py). The tables' own conditions are the whole criterion.
_VILLAGES = Village.__table__
_HOUSEHOLDS = Household.__table__


def _households(villages: Any) -> Select[Any]:
    return select(_HOUSEHOLDS.c.id).where(_HOUSEHOLDS.c.village_id.in_(villages))


def _ids_where(entity: type, column: str, values: Any) -> Any:
    table = entity.__table__  # type: ignore[attr-defined]
    return select(table.c.id).where(table.c[column].in_(values)).scalar_subquery()


Criteria = list[tuple[type, Any]]  # (entity, the test its rows must pass)


def _person_criteria(villages: Any, village: Any, sites: tuple[int, ...] | None = None) -> Criteria:
    """One criterion per entity that names a person or a household's folder, for the villages `villages` (a tuple
    of ids, bound as parameters, or a subquery); `village` is the criterion on Village itself. With `sites` (a site
    scope), a row of HOUSEHOLD_OR_PARENT that names no household is in its parent's site."""
    households = _households(villages).scalar_subquery()
    criteria: Criteria = [
        (Village, village),
        (Household, Household.village_id.in_(villages)),
        (PopulationFigure, PopulationFigure.village_id.in_(villages)),
    ]
    for entity in BY_HOUSEHOLD:
        criterion = entity.household_id.in_(households)
        if sites is not None and entity in HOUSEHOLD_OR_PARENT:
            column, parent = HOUSEHOLD_OR_PARENT[entity]
            parents = _ids_where(parent, "site_id", sites)
            criterion = or_(criterion, and_(entity.household_id.is_(None), getattr(entity, column).in_(parents)))
        criteria.append((entity, criterion))
    residents = _ids_where(Resident, "household_id", households)
    criteria.append((ServiceVisit, ServiceVisit.resident_id.in_(residents)))
    folders = _ids_where(InspectionFolder, "household_id", households)
    criteria.append((InspectionCheck, InspectionCheck.folder_id.in_(folders)))
    requests = _ids_where(LoanRequest, "household_id", households)
    criteria.append((LoanDocument, LoanDocument.request_id.in_(requests)))
    return criteria


def _since_first_site(entity: Any, sites: tuple[int, ...], first_site: bool, rows_before: dict[str, int] | None,
                      county: bool) -> Any:
    """A SITE_OWNED_SINCE table's rows in scope: the site's own; the first site's also those without a site written
    before the second site was added (all of them when that is not recorded); a county role's also those without a
    site written after it — the installation's."""
    parts = [entity.site_id.in_(sites)]
    unowned = entity.site_id.is_(None)
    last = None if rows_before is None else rows_before.get(entity.__tablename__)
    if last is None:
        if first_site or county:
            parts.append(unowned)
    elif first_site and county:
        parts.append(unowned)
    elif first_site:
        parts.append(and_(unowned, entity.id <= last))
    elif county:
        parts.append(and_(unowned, entity.id > last))
    return or_(*parts) if len(parts) > 1 else parts[0]


def _site_criteria(sites: tuple[int, ...], first_site: bool, *, history: bool = False,
                   rows_before: dict[str, int] | None = None, county: bool = False) -> Criteria:
    """The site's own rows, its villages' people and folders, and the rows hanging off both. `history`: the
    statement reads the events of one thing already found in scope (`HISTORY`), whichever site wrote them."""
    villages = _ids_where(Village, "site_id", sites)
    criteria = _person_criteria(villages, Village.site_id.in_(sites), sites)
    criteria += [(entity, entity.site_id.in_(sites)) for entity in SITE_OWNED if entity is not Village]
    for entity in SITE_OWNED_SINCE:
        if history and entity is Event:
            continue
        criteria.append((entity, _since_first_site(entity, sites, first_site, rows_before, county)))
    for entity, (column, parent) in BY_PARENT.items():
        if parent in SITE_OWNED:
            parents = _ids_where(parent, "site_id", sites)
            criteria.append((entity, getattr(entity, column).in_(parents)))
    sites_table = Site.__table__
    homes = select(sites_table.c.township_id).where(sites_table.c.id.in_(sites)).scalar_subquery()
    held = select(_VILLAGES.c.township_id).where(_VILLAGES.c.site_id.in_(sites)).scalar_subquery()
    criteria.append((Township, or_(Township.id.in_(homes), Township.id.in_(held))))
    return criteria


def _read_through(state: ORMExecuteState) -> type | None:
    """The entity a READ_THROUGH relationship is loading, None for any other statement."""
    if not state.is_relationship_load:
        return None
    path = state.loader_strategy_path
    prop = path[-1] if path is not None else None
    if prop is None or (getattr(prop, "parent", None) is None) or not hasattr(prop, "mapper"):
        return None
    return prop.mapper.class_ if (prop.parent.class_, prop.key) in READ_THROUGH else None


@event.listens_for(Session, "do_orm_execute")
def _add_scope_criteria(state: ORMExecuteState) -> None:
    scope: AccessScope | None = state.session.info.get(SCOPE_KEY)
    if scope is None or (scope.village_ids is None and scope.site_ids is None):
        return
    # UPDATE and DELETE by a condition too (expiring the stale requests): a change never reaches another site's rows.
    if not (state.is_select or state.is_update or state.is_delete) or state.is_column_load:
        return
    if not state.is_select and state.bind_mapper is not None and state.bind_mapper.class_ in NAMED_BY_USER:
        return
    statement = state.statement
    lifted = _read_through(state) if scope.site_ids is not None else None
    if lifted is not None:
        statement = _without_criteria_on(statement, lifted)
    key = (None if scope.site_ids is None else tuple(sorted(scope.site_ids)), scope.first_site,
           None if scope.village_ids is None else tuple(sorted(scope.village_ids)),
           bool(state.execution_options.get(HISTORY)), lifted, scope.rows_before, scope.county)
    entities = _entities_of(statement)
    options = _scope_options(*key) if entities is None else _scope_options_for(key, entities)
    if SELF_CHECK and entities is not None:
        _check_same_sql(state, statement, _scope_options(*key), options)
    state.statement = _with_options(statement, options)


# --- which entities a statement names: their criteria, and no other's ---------------------------------------------
# Each criterion added to a statement costs it whether or not the statement names its entity: SQLAlchemy keys the
# statement by every option and binds every option's parameters on every execution (a search page's statements
# spent a third of their time matching the forty criteria's parameters, bench/county_bench.py). A criterion applies
# only where its entity appears, so a statement gets the criteria of the tables it names — in its FROM, joins,
# columns and subqueries, and along the paths of its loader options (an eager join the ORM adds when compiling) —
# and, when that cannot be told from the statement (an option of another kind, a wildcard path), all of them.

SELF_CHECK = os.environ.get("ARCHIVEPRINT_SCOPE_SELFCHECK") == "1"  # tests: compile both ways, refuse a difference
_CLASSES_BY_TABLE: dict[str, tuple[type, ...]] = {}


def _classes_by_table() -> dict[str, tuple[type, ...]]:
    if not _CLASSES_BY_TABLE:
        found: dict[str, list[type]] = {}
        for mapper in Base.registry.mappers:
            for table in mapper.tables:
                found.setdefault(table.name, []).append(mapper.class_)
        _CLASSES_BY_TABLE.update({name: tuple(classes) for name, classes in found.items()})
    return _CLASSES_BY_TABLE


def _entities_of(statement: Any) -> frozenset[type] | None:
    """The mapped classes a SELECT, UPDATE or DELETE can name once compiled, or None when unsure."""
    if not isinstance(statement, (Select, Update, Delete)):
        return None
    names: set[str] = set()
    classes: set[type] = set()
    for option in statement._with_options:
        if isinstance(option, LoaderCriteriaOption):
            continue  # the scope's own (copied from the statement that loaded the parent rows)
        if not isinstance(option, Load):
            return None
        for element in option.context:
            for token in element.path.path:
                if isinstance(token, str):
                    return None  # a wildcard ("*"): any relationship
                mapper = getattr(token, "mapper", None)
                if mapper is not None:
                    classes.add(mapper.class_)
                parent = getattr(token, "parent", None)
                if isinstance(token, RelationshipProperty) and parent is not None:
                    classes.add(parent.class_)
    todo = [statement]
    while todo:  # the whole expression tree, but not into a table's own columns
        element = todo.pop()
        if isinstance(element, TableClause):
            names.add(element.name)
            continue
        if isinstance(element, ColumnClause):
            if isinstance(element.table, TableClause):
                names.add(element.table.name)
            continue
        todo.extend(element.get_children())
    by_table = _classes_by_table()
    for name in names:
        classes.update(by_table.get(name, ()))
    for entity in list(classes):
        classes |= _joined_by_default(entity)
    return frozenset(classes)


@cache
def _joined_by_default(entity: type) -> frozenset[type]:
    """What an entity's relationships join whenever it is loaded (lazy="joined"), transitively."""
    found: set[type] = set()
    todo = [entity]
    while todo:
        mapper = sa_inspect(todo.pop())
        for relationship in mapper.relationships:
            target = relationship.mapper.class_
            if relationship.lazy in ("joined", False) and target not in found:
                found.add(target)
                todo.append(target)
    return frozenset(found)


@lru_cache(maxsize=4096)
def _scope_options_for(key: tuple[Any, ...], entities: frozenset[type]) -> tuple[Any, ...]:
    """The scope's criteria on these entities (one tuple per scope and set of entities, built once)."""
    return tuple(option for option in _scope_options(*key) if option.entity.class_ in entities)


def _check_same_sql(state: ORMExecuteState, statement: Any, every: tuple[Any, ...], some: tuple[Any, ...]) -> None:
    dialect = state.session.get_bind().dialect
    full = str(_with_options(statement, every).compile(dialect=dialect))
    part = str(_with_options(statement, some).compile(dialect=dialect))
    if full != part:
        raise AssertionError(f"scope criteria left out of a statement that needs them:\n{full}\n---\n{part}")


def _with_options(statement: Any, options: tuple[Any, ...]) -> Any:
    """`statement.options(*options)` without checking each of the forty options again for every statement (they
    are options already, built once): what `Executable.options` does after that check."""
    copy = statement._generate()
    copy._with_options = statement._with_options + options
    return copy


@lru_cache(maxsize=1024)
def _scope_options(sites: tuple[int, ...] | None, first_site: bool, villages: tuple[int, ...] | None,
                   history: bool = False, lifted: type | None = None,
                   rows_before: tuple[tuple[str, int], ...] | None = None, county: bool = False) -> tuple[Any, ...]:
    """The criteria of one scope, built once: building them (some forty IN expressions) for every statement cost
    more than running the statement (bench/county_bench.py). The options hold no session or row, only ids, so one
    tuple serves every session and thread with that scope.

    Each statement gets them from here, lazy loads of relationships too (so they are not propagated from the
    statement that loaded the parent row: a relationship read through must not inherit its target's filter)."""
    criteria: Criteria = []
    if sites is not None:
        criteria += [(entity, test) for entity, test in _site_criteria(
            sites, first_site, history=history, rows_before=dict(rows_before) if rows_before else None,
            county=county) if entity is not lifted]
    if villages is not None:
        criteria += _person_criteria(villages, Village.id.in_(villages))
    return tuple(_Criterion(entity, test) for entity, test in criteria)


class _Criterion(LoaderCriteriaOption):
    """`with_loader_criteria(entity, test, include_aliases=True, propagate_to_loaders=False)` whose part of a
    statement's cache key is worked out once, when the scope's options are built.

    SQLAlchemy keys every statement by its structure, options included, to find its compiled SQL: walking the forty
    criteria (their IN lists and subqueries) for each of the twenty statements of a scan cost about 0.2 ms a
    statement (bench/county_bench.py). An option's key depends on nothing but the option, so it is kept, with the
    bound parameters it contributes (always the same objects, in the same order: a statement compiled for one site
    and reused for another takes the other's ids from them, as before). Lambdas in SQLAlchemy do the same."""

    __slots__ = ("_key",)
    _traverse_internals = LoaderCriteriaOption._traverse_internals  # keyed as the option it is (for the one key)

    def __init__(self, entity: type, test: Any) -> None:
        super().__init__(entity, test, include_aliases=True, propagate_to_loaders=False)
        binds: list[Any] = []
        fresh = anon_map()
        key = super()._gen_cache_key(fresh, binds)
        cacheable = key is not None and NO_CACHE not in fresh and CacheConst.PARAMS not in fresh
        self._key = (key, tuple(binds)) if cacheable else None

    def _gen_cache_key(self, anon_map: Any, bindparams: list[Any]) -> Any:
        if self._key is None:
            return super()._gen_cache_key(anon_map, bindparams)
        key, binds = self._key
        bindparams.extend(binds)
        return key


def _without_criteria_on(statement: Any, entity: type) -> Any:
    """The statement without the criteria on `entity` it copied from the statement that loaded the parent rows (an
    eager load, selectinload, copies every option of that statement). The hook then adds every criterion again but
    that site criterion (a village doctor's on a person's rows included)."""
    options = statement._with_options
    kept = tuple(option for option in options if not (isinstance(option, LoaderCriteriaOption)
                                                       and option.entity is not None
                                                       and option.entity.class_ is entity))
    if len(kept) == len(options):
        return statement
    copy = statement._generate()
    copy._with_options = kept
    return copy


# --- new rows: their site; a closed site: no changes ---------------------------------------------------------------

ALWAYS_WRITABLE = (AuditEntry, UserSession, LoginAttempt, Job)  # a closed site's history is still read and printed


class SiteClosed(Conflict):
    """A change in a site closed by a merger."""


@event.listens_for(Session, "before_flush")
def _own_new_rows(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    scope: AccessScope = session.info.get(SCOPE_KEY, WHOLE_SITE)
    if scope.read_only:
        changed = [obj for obj in (*session.new, *session.dirty, *session.deleted)
                   if not isinstance(obj, ALWAYS_WRITABLE)]
        if changed:
            named = session.execute(select(Site.code, Site.name).where(Site.id == scope.site_id)).first()
            raise SiteClosed("本机构已撤并，档案为只读历史，不能修改", field="机构",
                             value=f"{named.code} {named.name}" if named else "")
    new = [obj for obj in session.new if isinstance(obj, SITE_OWNED + SITE_OWNED_SINCE) and obj.site_id is None
           and not (isinstance(obj, User) and obj.role in COUNTY_ROLES)  # county users belong to no site
           and not (isinstance(obj, Job) and installation_run(obj))]  # nor a county print run's own row
    if not new:
        return
    site_id = scope.site_id if scope.site_id is not None or scope.several_sites else _only_site(session)
    if site_id is None and scope.several_sites and any(isinstance(obj, SITE_OWNED) for obj in new):
        raise Conflict("本系统有多个机构，请先选择在哪个机构操作", field="机构", value="")
    for obj in new:
        obj.site_id = site_id


def _only_site(session: Session) -> int | None:
    """With no scope (a single-site installation's command or test session): the one site, if there is just one."""
    with session.no_autoflush:
        ids = session.scalars(select(Site.id).order_by(Site.id).limit(2)).all()
    return ids[0] if len(ids) == 1 else None
