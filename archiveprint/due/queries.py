"""Who is due this month: every schedule's population in scope, less the visits already recorded, in walking order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiveprint.due.models import ServiceVisit
from archiveprint.due.schedules import Schedule, add_months, load_schedules
from archiveprint.forms.catalog import load_catalog
from archiveprint.register.models import Household, Resident, Village
from archiveprint.register.names import HEAD_RELATIONS, SEX_CODES
from archiveprint.register.populations import load_populations
from archiveprint.register.services import village_ids


@dataclass(frozen=True)
class DueItem:
    """One visit one resident is due for in the month, and the sheets it needs."""

    resident_id: int
    archive_code: str
    name: str
    sex: str
    birth_date: date | None
    village: str  # 3-digit segment
    village_name: str
    household_id: int
    household_number: int
    population: str  # the population's name
    schedule: str  # schedule id
    schedule_name: str
    visit: str  # the visit's id ("" for a periodic follow-up)
    visit_name: str
    due_on: date  # the visit's day, or the period's last day
    sheet: tuple[str, ...]  # the forms the visit is written on
    column: int  # its column on that sheet
    overdue: bool = False
    titles: str = ""  # the sheet's form titles, joined (looked up once per due list, not per line printed)

    @property
    def new_sheet(self) -> bool:
        """A fresh sheet goes into the packet; otherwise the visit is written on the sheet in the folder."""
        return self.column == 1

    @property
    def forms(self) -> tuple[str, ...]:
        """The forms the packet prints for this visit (none when the sheet in the folder has room)."""
        return self.sheet if self.new_sheet else ()

    def age_text(self, on: date) -> str:
        """Age as the cover list shows it: months under 3 years (8月), years after."""
        if self.birth_date is None:
            return ""
        months = (on.year - self.birth_date.year) * 12 + on.month - self.birth_date.month - (
            on.day < self.birth_date.day)
        return f"{max(months, 0)}月" if months < 36 else f"{months // 12}岁"

    def sheet_titles(self) -> str:
        return self.titles

    def sheet_text(self) -> str:
        """Which sheet, in words: its title, and 续填第N栏 when the visit goes on the sheet in the folder."""
        titles = self.sheet_titles()
        return titles if self.new_sheet else f"{titles}（续填第{self.column}栏）"

    def as_json(self, on: date) -> dict[str, object]:
        return {"archive_code": self.archive_code, "name": self.name, "sex": SEX_CODES.get(self.sex, ""),
                "age": self.age_text(on), "village": self.village, "village_name": self.village_name,
                "household": self.household_number, "population": self.population, "schedule": self.schedule,
                "visit": self.visit_name, "visit_id": self.visit, "due_on": self.due_on.isoformat(),
                "overdue": self.overdue, "form": self.sheet[0] if self.sheet else None, "forms": list(self.forms),
                "sheet": list(self.sheet), "column": self.column}


@dataclass
class DueList:
    """Everyone due in one month in a scope, and what the register could not schedule (dates not entered)."""

    month: date  # the month's first day
    items: list[DueItem] = field(default_factory=list)
    undated: dict[str, int] = field(default_factory=dict)  # schedule name → residents without its anchor date

    @property
    def month_end(self) -> date:
        return add_months(self.month, 1) - timedelta(days=1)

    @property
    def residents(self) -> int:
        return len({item.resident_id for item in self.items})

    def by_schedule(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in self.items:
            counts[item.schedule_name] = counts.get(item.schedule_name, 0) + 1
        return counts

    def as_json(self) -> dict[str, object]:
        return {"month": f"{self.month:%Y-%m}", "residents": self.residents, "visits": len(self.items),
                "by_schedule": self.by_schedule(), "undated": self.undated,
                "due": [item.as_json(self.month_end) for item in self.items]}

    def text_lines(self) -> list[str]:
        lines = [f"{self.month:%Y年%m月}：{self.residents} 人，{len(self.items)} 项服务到期"]
        lines += [f"{item.village_name} 第{item.household_number}户  {item.archive_code}  {item.name}  "
                  f"{item.age_text(self.month_end)}  {item.population}  {item.visit_name}"
                  f"{'（逾期）' if item.overdue else ''}  {item.sheet_text()}" for item in self.items]
        lines += [f"{name}：{count} 人未登记排期所需日期，未列入" for name, count in self.undated.items()]
        return lines


_COLUMNS = (Resident.id, Resident.archive_code, Resident.name, Resident.sex, Resident.birth_date,
            Resident.due_date, Resident.delivery_date, Resident.tb_treatment_start, Resident.relation_to_head,
            Village.code.label("village"), Village.name.label("village_name"),
            Household.id.label("household_id"), Household.number.label("household_number"))


def _members(session: Session, schedule: Schedule, month_end: date, villages: Sequence[str] | None):  # type: ignore[no-untyped-def]
    population = load_populations()[schedule.population]
    stmt = (select(*_COLUMNS).join(Household, Household.id == Resident.household_id)
            .join(Village, Village.id == Resident.village_id)
            .where(Resident.status == "active", population.clause(month_end)))
    if villages is not None:
        stmt = stmt.where(Village.id.in_(village_ids(session, villages)))
    return session.execute(stmt).all()


def _done(session: Session, schedule: Schedule, *, since: date | None = None,
          until: date | None = None) -> set[tuple[int, str]]:
    """(resident id, visit id) of the schedule's visits recorded (and not voided), optionally within days."""
    stmt = select(ServiceVisit.resident_id, ServiceVisit.visit).where(
        ServiceVisit.schedule == schedule.id, ServiceVisit.voided_at.is_(None))
    if since is not None:
        stmt = stmt.where(ServiceVisit.done_on >= since)
    if until is not None:
        stmt = stmt.where(ServiceVisit.done_on <= until)
    return {(resident_id, visit) for resident_id, visit in session.execute(stmt)}


def _in_its_month(schedule: Schedule, row, month: date) -> bool:  # type: ignore[no-untyped-def]
    """A periodic schedule with `in_month_of` is due in the month of that date only (no date: every month)."""
    if schedule.in_month_of is None:
        return True
    day = getattr(row, schedule.in_month_of)
    return day is None or day.month == month.month


def find_due(session: Session, month: date, *, villages: Sequence[str] | None = None,
             schedules: Sequence[str] | None = None) -> DueList:
    """Every scheduled visit due in `month` (any day of it) for the active residents of `villages` (as the site names
    them, `Village.ref`: a village taken over from another township by its 12-digit code; None: all the session may
    see), less those recorded; in household walking order (village, household, head
    first, code), each resident's visits in schedule order."""
    first = month.replace(day=1)
    result = DueList(month=first)
    last = result.month_end
    population_names = {p.id: p.name for p in load_populations().values()}
    form_titles = {form_id: form.title for form_id, form in load_catalog().forms.items()}
    order: list[tuple[tuple[object, ...], DueItem]] = []
    for rank, schedule in enumerate(load_schedules().values()):
        if schedules is not None and schedule.id not in schedules:
            continue
        rows = _members(session, schedule, last, villages)
        if schedule.every is not None:
            start, end = schedule.period(first)
            done = {resident_id for resident_id, _visit in _done(session, schedule, since=start, until=end)}
            due = [(row, None, end) for row in rows if row.id not in done and _in_its_month(schedule, row, first)]
        else:
            done_visits = _done(session, schedule)
            earliest = add_months(first, -schedule.catch_up_months)
            due = []
            undated = 0
            for row in rows:
                anchor = next((getattr(row, name) for name in schedule.anchor if getattr(row, name)), None)
                if anchor is None:
                    undated += 1
                    continue
                for visit in schedule.visits:
                    day = visit.due_on(anchor)
                    if earliest <= day <= last and (row.id, visit.id) not in done_visits:
                        due.append((row, visit, day))
            if undated and schedule.anchor != ("birth_date",):
                result.undated[schedule.name] = undated
        for row, visit, day in due:
            item = DueItem(
                resident_id=row.id, archive_code=row.archive_code, name=row.name, sex=row.sex,
                birth_date=row.birth_date, village=row.village, village_name=row.village_name,
                household_id=row.household_id, household_number=row.household_number,
                population=population_names[schedule.population],
                schedule=schedule.id, schedule_name=schedule.name, visit=visit.id if visit else "",
                visit_name=visit.name if visit else schedule.visit or schedule.name, due_on=day,
                sheet=visit.forms if visit else schedule.forms,
                column=visit.column if visit else schedule.column_of(first), overdue=day < first,
                titles="、".join(form_titles[form_id] for form_id in (visit.forms if visit else schedule.forms)
                                if form_id in form_titles))
            head = 0 if row.relation_to_head in HEAD_RELATIONS else 1
            order.append(((row.village, row.household_number, head, row.archive_code, rank, day), item))
    result.items = [item for _key, item in sorted(order, key=lambda pair: pair[0])]
    return result

