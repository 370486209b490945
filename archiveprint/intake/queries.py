"""Read side of intake: a batch's pages and outcomes, its filing list in shelf walking order, the pages waiting for
the clerk, the batches, and which forms came back for a resident, a village or a village doctor."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archiveprint.accounts.models import User
from archiveprint.forms.catalog import FormDef
from archiveprint.intake.decode import REASONS
from archiveprint.intake.models import IntakeBatch, IntakePage
from archiveprint.intake.services import OPEN, forms_by_number
from archiveprint.locations.queries import FolderLocation, StatusProvider, locations_of, picklist_of
from archiveprint.register.models import Household, Resident, Village

WAITING = ("lent", "out", "missing")  # a folder not on its shelf: its pages wait until it is back


def _title(forms: dict[int, FormDef], number: int | None) -> str:
    form = forms.get(number or 0)
    return form.title if form else (str(number) if number else "")


def _form_id(forms: dict[int, FormDef], number: int | None) -> str | None:
    form = forms.get(number or 0)
    return form.id if form else None


# --- batches -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BatchSummary:
    """One batch as the history lists it."""

    id: int
    created_at: datetime
    created_by: str
    received_on: date
    status: str
    files: tuple[str, ...]
    pages: int
    seconds: float
    counts: dict[str, int]
    job_id: int | None

    @property
    def open(self) -> int:
        return sum(self.counts.get(outcome, 0) for outcome in OPEN)

    def as_json(self) -> dict[str, object]:
        return {"batch": self.id, "received_on": self.received_on.isoformat(), "created_by": self.created_by,
                "status": self.status, "files": list(self.files), "pages": self.pages, **self.counts}


def count_outcomes(session: Session, batch_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = {batch_id: {} for batch_id in batch_ids}
    if batch_ids:
        for batch_id, outcome, count in session.execute(
                select(IntakePage.batch_id, IntakePage.outcome, func.count(IntakePage.id))
                .where(IntakePage.batch_id.in_(list(batch_ids))).group_by(IntakePage.batch_id, IntakePage.outcome)):
            counts[batch_id][outcome] = count
    return counts


def _summary(batch: IntakeBatch, counts: dict[str, int]) -> BatchSummary:
    return BatchSummary(batch.id, batch.created_at, batch.created_by, batch.received_on, batch.status,
                        tuple(str(item.get("name", "")) for item in batch.files or []), batch.pages, batch.seconds,
                        counts, batch.job_id)


def list_batches(session: Session, *, limit: int = 50) -> list[BatchSummary]:
    """The latest batches first, each with how many pages went which way."""
    batches = list(session.scalars(select(IntakeBatch).order_by(IntakeBatch.id.desc()).limit(limit)))
    counts = count_outcomes(session, [batch.id for batch in batches])
    return [_summary(batch, counts[batch.id]) for batch in batches]


def find_batch(session: Session, batch_id: int) -> BatchSummary | None:
    batch = session.get(IntakeBatch, batch_id)
    if batch is None:
        return None
    return _summary(batch, count_outcomes(session, [batch.id])[batch.id])


# --- a batch's pages ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PageItem:
    """One page of a batch and what became of it, with the folder it goes to when it names a resident."""

    id: int
    seq: int
    file: str
    page: int
    outcome: str
    reason: str
    archive_code: str | None
    name: str | None
    form: str | None  # the form's id
    form_title: str
    form_page: int | None
    folder: str | None  # the folder code, as its barcode holds it
    folder_display: str | None
    address: str | None
    status_text: str | None
    image: str
    duplicate_of: int | None
    how: str

    @property
    def reason_text(self) -> str:
        return str(REASONS.get(self.reason, self.reason)) if self.reason else ""

    def as_json(self) -> dict[str, object]:
        return {"file": self.file, "page": self.page, "outcome": self.outcome, "archive_code": self.archive_code,
                "form": self.form, "form_page": self.form_page, "folder": self.folder, "address": self.address}


def batch_pages(session: Session, batch_id: int, *, outcomes: Sequence[str] | None = None,
                providers: Sequence[StatusProvider] = ()) -> list[PageItem]:
    """The batch's pages in the order they were read (or only those of some outcomes), each with its folder."""
    stmt = (select(IntakePage, Resident.name).outerjoin(Resident, Resident.id == IntakePage.resident_id)
            .where(IntakePage.batch_id == batch_id).order_by(IntakePage.seq))
    if outcomes is not None:
        stmt = stmt.where(IntakePage.outcome.in_(list(outcomes)))
    rows = session.execute(stmt).all()
    households = {page.household_id: [] for page, _name in rows if page.household_id is not None}
    folders = {location.household_id: location
               for location in locations_of(session, households, providers=providers)}
    forms = forms_by_number()
    return [_item(page, name, folders.get(page.household_id or 0), forms) for page, name in rows]


def _item(page: IntakePage, name: str | None, location: FolderLocation | None,
          forms: dict[int, FormDef]) -> PageItem:
    return PageItem(page.id, page.seq, page.file_name, page.file_page, page.outcome, page.reason, page.archive_code,
                    name, _form_id(forms, page.form_number), _title(forms, page.form_number), page.form_page,
                    location.folder if location else None, location.folder_display if location else None,
                    (location.place.address or None) if location else None,
                    location.place.status.text if location else None, page.image, page.duplicate_of, page.how)


def find_page(session: Session, page_id: int, *, providers: Sequence[StatusProvider] = ()) -> PageItem | None:
    row = session.execute(select(IntakePage, Resident.name).outerjoin(Resident, Resident.id == IntakePage.resident_id)
                          .where(IntakePage.id == page_id)).first()
    if row is None:
        return None
    page, name = row
    location = None
    if page.household_id is not None:
        found = locations_of(session, {page.household_id: []}, providers=providers)
        location = found[0] if found else None
    return _item(page, name, location, forms_by_number())


def next_open_page(session: Session, batch_id: int, after_seq: int) -> int | None:
    """The next page of the batch that waits for the clerk (after `after_seq`, else from the start)."""
    stmt = select(IntakePage.id).where(IntakePage.batch_id == batch_id, IntakePage.outcome.in_(OPEN))
    return (session.scalar(stmt.where(IntakePage.seq > after_seq).order_by(IntakePage.seq).limit(1))
            or session.scalar(stmt.order_by(IntakePage.seq).limit(1)))


# --- the filing list ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FilingEntry:
    """One filed page, as the filing list names it."""

    page_id: int
    archive_code: str
    name: str
    form_title: str
    form_page: int
    form_pages: int


@dataclass(frozen=True)
class FilingFolder:
    """One folder to open, in walking order, with every page of the batch that goes into it."""

    number: int
    location: FolderLocation
    entries: tuple[FilingEntry, ...]

    @property
    def waiting(self) -> bool:
        """The folder is not on its shelf (lent out, taken out, missing): file its pages when it is back."""
        return self.location.place.status.code in WAITING


@dataclass
class FilingList:
    """Where every filed page of a batch goes, folder by folder in the order the clerk walks the room."""

    batch_id: int
    received_on: date
    folders: list[FilingFolder] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return sum(len(folder.entries) for folder in self.folders)

    @property
    def waiting(self) -> int:
        return sum(1 for folder in self.folders if folder.waiting)

    def as_json(self) -> dict[str, object]:
        return {"batch": self.batch_id, "received_on": self.received_on.isoformat(), "pages": self.pages,
                "folders": [{"number": folder.number, "folder": folder.location.folder,
                             "address": folder.location.place.address or None,
                             "household": folder.location.head_name, "status": folder.location.place.status.code,
                             "waiting": folder.waiting,
                             "pages": [{"archive_code": e.archive_code, "name": e.name, "form": e.form_title,
                                        "form_page": e.form_page} for e in folder.entries]}
                            for folder in self.folders]}

    def text_lines(self) -> list[str]:
        lines = []
        for folder in self.folders:
            location = folder.location
            flag = f"  [{location.place.status.text}，归还后归档]" if folder.waiting else ""
            lines.append(f"{folder.number:>3}. {location.place.address or '—'}  {location.folder_display}  "
                         f"{location.village_name}第{location.household_number}户 {location.head_name}{flag}")
            lines += [f"       {entry.name}  {entry.form_title} 第{entry.form_page}/{entry.form_pages}页"
                      for entry in folder.entries]
        return lines


def filing_list(session: Session, batch_id: int, *, providers: Sequence[StatusProvider] = ()) -> FilingList:
    """The batch's filed pages by folder, folders in shelf walking order (those not on their shelf last), and within
    a folder by member (head first), form and page."""
    batch = session.get(IntakeBatch, batch_id)
    if batch is None:
        return FilingList(batch_id, date.today())
    rows = session.execute(
        select(IntakePage.id, IntakePage.household_id, IntakePage.archive_code, Resident.name,
               IntakePage.form_number, IntakePage.form_page)
        .join(Resident, Resident.id == IntakePage.resident_id)
        .where(IntakePage.batch_id == batch_id, IntakePage.outcome == "filed")).all()
    wanted: dict[int, list[str]] = {}
    for row in rows:
        codes = wanted.setdefault(row.household_id, [])
        if row.archive_code not in codes:
            codes.append(row.archive_code)
    picks = picklist_of(session, wanted, providers=providers)
    forms = forms_by_number()
    by_household: dict[int, list[FilingEntry]] = {}
    for row in rows:
        form = forms.get(row.form_number)
        by_household.setdefault(row.household_id, []).append(FilingEntry(
            row.id, row.archive_code, row.name, form.title if form else str(row.form_number), row.form_page,
            form.pages if form else 0))
    folders = []
    for pick in picks.rows:
        order = {member.archive_code: index for index, member in enumerate(pick.location.members)}
        entries = sorted(by_household.get(pick.location.household_id, []),
                         key=lambda e: (order.get(e.archive_code, len(order)), e.archive_code, e.form_title,
                                        e.form_page))
        folders.append(FilingFolder(pick.number, pick.location, tuple(entries)))
    return FilingList(batch_id, batch.received_on, folders)


# --- what came back ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReturnedPage:
    """A page filed for a resident: the form, its page, the day it came back, the batch, and a kept picture."""

    page_id: int
    form_title: str
    form_page: int
    received_on: date
    batch_id: int
    image: str
    how: str


def returned_pages(session: Session, resident_id: int) -> list[ReturnedPage]:
    """The pages that came back for a resident, latest first."""
    rows = session.execute(
        select(IntakePage.id, IntakePage.form_number, IntakePage.form_page, IntakeBatch.received_on,
               IntakePage.batch_id, IntakePage.image, IntakePage.how)
        .join(IntakeBatch, IntakeBatch.id == IntakePage.batch_id)
        .where(IntakePage.resident_id == resident_id, IntakePage.outcome == "filed")
        .order_by(IntakeBatch.received_on.desc(), IntakePage.form_number, IntakePage.form_page)).all()
    forms = forms_by_number()
    return [ReturnedPage(row.id, _title(forms, row.form_number), row.form_page, row.received_on, row.batch_id,
                         row.image, row.how) for row in rows]


@dataclass(frozen=True)
class ReturnCount:
    """Pages filed in a year for one village (or one village doctor's villages), by form."""

    key: str  # a village code, or a user name
    name: str
    villages: tuple[str, ...]
    residents: int
    pages: int
    forms: dict[str, int]

    def as_json(self) -> dict[str, object]:
        return {"key": self.key, "name": self.name, "villages": list(self.villages), "residents": self.residents,
                "pages": self.pages, "forms": self.forms}


def _filed_in(year: int):  # type: ignore[no-untyped-def]
    return (select(Village.code, Village.name, IntakePage.resident_id, IntakePage.form_number)
            .join(IntakeBatch, IntakeBatch.id == IntakePage.batch_id)
            .join(Household, Household.id == IntakePage.household_id)
            .join(Village, Village.id == Household.village_id)
            .where(IntakePage.outcome == "filed", IntakeBatch.received_on >= date(year, 1, 1),
                   IntakeBatch.received_on < date(year + 1, 1, 1)))


def returns_by_village(session: Session, year: int) -> list[ReturnCount]:
    """Which forms came back in `year`, per village (pages received that year and filed)."""
    forms = forms_by_number()
    pages: dict[str, Counter[str]] = {}
    residents: dict[str, set[int]] = {}
    names: dict[str, str] = {}
    for code, name, resident_id, number in session.execute(_filed_in(year)):
        names[code] = name
        pages.setdefault(code, Counter())[_title(forms, number)] += 1
        residents.setdefault(code, set()).add(resident_id)
    return [ReturnCount(code, names[code], (code,), len(residents[code]), sum(pages[code].values()),
                        dict(sorted(pages[code].items()))) for code in sorted(pages)]


def returns_by_doctor(session: Session, year: int) -> list[ReturnCount]:
    """The same per village doctor: the pages of the villages each serves (a village two serve counts for both)."""
    by_village = {count.key: count for count in returns_by_village(session, year)}
    out = []
    doctors = session.scalars(select(User).where(User.role == "village_doctor", User.active.is_(True))
                              .order_by(User.username))
    for doctor in doctors:
        codes = tuple(village.code for village in doctor.villages)
        counts = [by_village[code] for code in codes if code in by_village]
        forms: Counter[str] = Counter()
        for count in counts:
            forms.update(count.forms)
        out.append(ReturnCount(doctor.username, doctor.display_name or doctor.username, codes,
                               sum(count.residents for count in counts), sum(count.pages for count in counts),
                               dict(sorted(forms.items()))))
    return out
