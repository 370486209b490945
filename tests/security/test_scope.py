"""#11.1 at the query level: a session with a village scope finds nothing of other villages, however it asks."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from archiveprint.accounts.scope import WHOLE_SITE, AccessScope, apply_scope, scope_for
from archiveprint.accounts.services import create_user
from archiveprint.register import services
from archiveprint.register.models import Household, Resident, Village
from tests.conftest import ACTOR


def _two_villages(session: Session, create_resident: Callable[..., Resident],
                  create_household: Callable[..., Household]) -> tuple[Resident, Resident, int]:
    east = create_resident(household=create_household("201", head_name="甲"), name="甲")
    west = create_resident(household=create_household("202", head_name="乙"), name="乙")
    session.flush()
    west_id = services.find_village(session, "202").id
    session.expunge_all()  # nothing loaded before the scope may be handed out from the identity map
    return east, west, west_id


def test_every_way_of_asking_sees_only_the_scoped_village(session: Session, create_resident, create_household) -> None:
    east, west, west_id = _two_villages(session, create_resident, create_household)
    apply_scope(session, AccessScope.villages([west_id]))

    assert session.scalars(select(Resident.name)).all() == ["乙"]
    assert session.scalar(select(func.count(Resident.id))) == 1
    assert session.scalar(select(func.count()).select_from(Resident)) == 1
    assert session.scalars(select(aliased(Resident).name)).all() == ["乙"]
    assert session.scalar(select(Resident.id).where(Resident.name == "甲")) is None
    assert session.get(Household, east.household_id) is None
    assert session.get(Resident, east.id) is None
    assert session.get(Household, west.household_id) is not None
    assert [v.code for v in session.scalars(select(Village))] == ["202"]
    joined = session.execute(select(Household.head_name, Resident.name)
                             .join(Resident, Resident.household_id == Household.id)).all()
    assert [tuple(row) for row in joined] == [("乙", "乙")]
    # Relationships loaded later are scoped too: a village's households, a household's members.
    home = session.get(Household, west.household_id)
    assert [h.id for h in home.village.households] == [west.household_id]
    assert [m.name for m in home.members] == ["乙"]


def test_a_village_doctor_without_villages_sees_nobody_and_other_roles_see_everyone(
        session: Session, create_resident, create_household) -> None:
    _two_villages(session, create_resident, create_household)
    doctor = create_user(session, "cunyi", "password-123", "village_doctor")
    clerk = create_user(session, "clerk", "password-123", "clerk")
    assert scope_for(session, clerk).whole_site and scope_for(session, None).whole_site
    assert scope_for(session, clerk).site_ids is None  # one site: nothing to keep apart
    apply_scope(session, scope_for(session, doctor))
    assert session.scalars(select(Resident)).all() == []
    apply_scope(session, WHOLE_SITE)
    assert sorted(session.scalars(select(Resident.name))) == ["乙", "甲"]


def test_a_moved_resident_is_seen_by_the_village_they_live_in_now(session: Session, create_resident,
                                                                  create_household) -> None:
    east, _west, west_id = _two_villages(session, create_resident, create_household)
    mover = session.get(Resident, east.id)
    new_home = session.scalars(select(Household).where(Household.village_id == west_id)).one()
    services.move_resident(session, mover, new_home, actor=ACTOR)
    session.flush()
    session.expunge_all()
    apply_scope(session, AccessScope.villages([west_id]))
    assert sorted(session.scalars(select(Resident.name))) == ["乙", "甲"]
