"""Access scope: whose records a user may see, applied to every ORM query of a session in one place.

A village doctor (村医) sees the residents, households, folders and loans of the villages they serve, and nothing
else; every other role sees the whole site. The rule is not remembered by each query: `apply_scope` puts the scope on
a session, and a `do_orm_execute` hook adds the criteria to every ORM SELECT that session runs (pages, the JSON API,
print and label jobs, exports alike), including lazy loads of relationships. A record outside the scope is simply
not found, so a page answers 404 for it exactly as for a record that does not exist.

A resident is in scope by their *current* household's village (a resident who moved in from elsewhere belongs to the
village they live in now). A later site scope (one installation for a county) is added here, in the same hook.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, select
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from archiveprint.due.models import ServiceVisit
from archiveprint.indicators.models import PopulationFigure
from archiveprint.inspections.models import InspectionCheck, InspectionFolder, InspectionTask
from archiveprint.intake.models import IntakePage
from archiveprint.lending.models import Loan, LoanRequest
from archiveprint.locations.models import FolderMovement, FolderPosition, HandoverItem, InventoryScan
from archiveprint.register.models import Household, Resident, Village

if TYPE_CHECKING:
    from archiveprint.accounts.models import User

SCOPE_KEY = "archiveprint.scope"
VILLAGE_SCOPED_ROLES = frozenset({"village_doctor"})


@dataclass(frozen=True)
class AccessScope:
    """The villages whose people a user may see; `village_ids is None` means the whole site."""

    village_ids: frozenset[int] | None = None

    @property
    def whole_site(self) -> bool:
        return self.village_ids is None

    def allows_village(self, village_id: int | None) -> bool:
        return self.village_ids is None or village_id in self.village_ids

    @classmethod
    def villages(cls, ids: Iterable[int]) -> AccessScope:
        return cls(frozenset(ids))


WHOLE_SITE = AccessScope()


def scope_for(user: User | None) -> AccessScope:
    """The scope of a signed-in user (the CLI and system jobs, with no user, see the whole site).

    A village doctor with no village yet sees nobody, never everybody.
    """
    if user is None or user.role not in VILLAGE_SCOPED_ROLES:
        return WHOLE_SITE
    return AccessScope.villages(village.id for village in user.villages)


def apply_scope(session: Session, scope: AccessScope) -> None:
    """From now on every ORM query of this session sees only what `scope` allows."""
    session.info[SCOPE_KEY] = scope


def current_scope(session: Session) -> AccessScope:
    return session.info.get(SCOPE_KEY, WHOLE_SITE)


def _criteria(ids: tuple[int, ...]) -> list[Any]:
    """One loader criterion per entity that names a person, a household's folder or a village's figures (plain
    expressions, so the village ids are bound parameters of each statement, never baked into a cached one)."""
    households = select(Household.id).where(Household.village_id.in_(ids)).scalar_subquery()
    options = [
        with_loader_criteria(Village, Village.id.in_(ids), include_aliases=True),
        with_loader_criteria(Household, Household.village_id.in_(ids), include_aliases=True),
        with_loader_criteria(PopulationFigure, PopulationFigure.village_id.in_(ids), include_aliases=True),
    ]
    for entity in (Resident, FolderPosition, FolderMovement, Loan, LoanRequest, InventoryScan, HandoverItem,
                   InspectionFolder, InspectionTask, IntakePage):
        options.append(with_loader_criteria(entity, entity.household_id.in_(households), include_aliases=True))
    folders = select(InspectionFolder.id).where(InspectionFolder.household_id.in_(households)).scalar_subquery()
    options.append(with_loader_criteria(InspectionCheck, InspectionCheck.folder_id.in_(folders), include_aliases=True))
    residents = select(Resident.id).where(Resident.household_id.in_(households)).scalar_subquery()
    options.append(with_loader_criteria(ServiceVisit, ServiceVisit.resident_id.in_(residents), include_aliases=True))
    return options


@event.listens_for(Session, "do_orm_execute")
def _add_scope_criteria(state: ORMExecuteState) -> None:
    scope: AccessScope | None = state.session.info.get(SCOPE_KEY)
    if scope is None or scope.village_ids is None:
        return
    if not state.is_select or state.is_column_load:
        return
    state.statement = state.statement.options(*_criteria(tuple(sorted(scope.village_ids))))
