"""Read side of labels: households and residents to label in filing order, relabel tasks, printer profiles."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from archiveprint.eventlog import Event
from archiveprint.labels.models import PrinterProfile
from archiveprint.register import services as register_services
from archiveprint.register.models import Household, Resident, Township, Village

CHUNK = 500
# Changes after which a household's folder label is out of date (members, names, head, new folders).
RELABEL_EVENTS = ("household.created", "household.updated", "resident.registered", "resident.moved",
                  "resident.closed", "resident.reopened", "resident.updated")
LABELLED_FIELDS = ("name", "relation_to_head")  # a resident.updated event matters only when one of these changed
CHINA_STANDARD_TIME = timedelta(hours=8)  # a clerk's date is a local day; events are stored in UTC


def find_relabel_households(session: Session, since: date | datetime) -> set[int]:
    """Households whose folder label changed since `since`: created or updated, a member registered, moved in or
    out, closed or reopened, or renamed. A date means from 00:00 China Standard Time; a datetime is taken as UTC."""
    if isinstance(since, datetime):
        moment = since
    else:
        moment = datetime(since.year, since.month, since.day) - CHINA_STANDARD_TIME
    events = session.execute(select(Event.kind, Event.entity_id, Event.data)
                             .where(Event.kind.in_(RELABEL_EVENTS), Event.occurred_at >= moment))
    households: set[int] = set()
    by_code: set[str] = set()
    for kind, entity_id, data in events:
        data = data or {}
        if kind.startswith("household."):
            households.add(int(entity_id))
        elif kind == "resident.registered" and data.get("household"):
            households.add(int(data["household"]))
        elif kind == "resident.moved":
            households.update(int(data[k]) for k in ("from_household", "to_household") if data.get(k))
        elif kind != "resident.updated" or any(f in (data.get("changes") or {}) for f in LABELLED_FIELDS):
            by_code.add(entity_id)  # closed, reopened, or renamed: the member list on the folder changed
    codes = sorted(by_code)
    for start in range(0, len(codes), CHUNK):
        households.update(session.scalars(select(Resident.household_id)
                                          .where(Resident.archive_code.in_(codes[start:start + CHUNK]))))
    return households


def household_ids_in_order(session: Session, ids: set[int] | None, village: str | None) -> list[int]:
    """Household ids in filing order (village code, household number): all of them, or `ids`, within `village`."""
    stmt = select(Household.id, Village.code, Household.number).join(Village, Village.id == Household.village_id)
    if village is not None:
        stmt = stmt.where(Village.code == village)
    if ids is None:
        return list(session.scalars(stmt.order_by(Village.code, Household.number)))
    id_list = sorted(ids)
    rows = []
    for start in range(0, len(id_list), CHUNK):
        rows += session.execute(stmt.where(Household.id.in_(id_list[start:start + CHUNK]))).all()
    return [row[0] for row in sorted(rows, key=lambda row: (row[1], row[2]))]


def iter_households(session: Session, ids: Sequence[int]) -> Iterator[Household]:
    """Households with their members and village loaded, in the order of `ids`, a chunk of queries at a time."""
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        rows = session.scalars(select(Household).where(Household.id.in_(chunk))
                               .options(selectinload(Household.members), joinedload(Household.village)
                                        .joinedload(Village.township)))
        by_id = {household.id: household for household in rows}
        for household_id in chunk:
            yield by_id[household_id]


def iter_residents(session: Session, resident_ids: Sequence[int]) -> Iterator[Resident]:
    for start in range(0, len(resident_ids), CHUNK):
        chunk = resident_ids[start:start + CHUNK]
        rows = session.scalars(select(Resident).where(Resident.id.in_(chunk))
                               .options(joinedload(Resident.household).joinedload(Household.village),
                                        joinedload(Resident.village).joinedload(Village.township)))
        by_id = {resident.id: resident for resident in rows}
        for resident_id in chunk:
            yield by_id[resident_id]


def village_ranges(session: Session, village: str | None = None) -> list[tuple[Village, int, int, int]]:
    """Each village with its first and last household number and its folder count (section labels)."""
    stmt = (select(Village, func.min(Household.number), func.max(Household.number), func.count(Household.id))
            .join(Household, Household.village_id == Village.id)
            .options(joinedload(Village.township))
            .group_by(Village.id).order_by(Village.code))
    if village is not None:
        stmt = stmt.where(Village.code == village)
    return [(v, lo, hi, n) for v, lo, hi, n in session.execute(stmt)]


def find_township(session: Session) -> Township | None:
    """The working site's own township (its unit prints on the labels), not merely the first one the site can
    see: a site that took over another's villages sees that township too."""
    return register_services.find_township(session)


def find_printer_profile(session: Session, printer: str, stock: str) -> PrinterProfile | None:
    return session.scalar(select(PrinterProfile).where(PrinterProfile.printer == printer,
                                                       PrinterProfile.stock == stock))


def list_printer_profiles(session: Session, printer: str | None = None) -> list[PrinterProfile]:
    stmt = select(PrinterProfile).order_by(PrinterProfile.printer, PrinterProfile.stock)
    if printer is not None:
        stmt = stmt.where(PrinterProfile.printer == printer)
    return list(session.scalars(stmt))
