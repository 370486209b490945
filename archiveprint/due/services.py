"""Record what was done (a visit, the dates a schedule counts from) and resolve a packet's villages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiveprint.accounts.models import User
from archiveprint.db import utcnow
from archiveprint.due.models import ServiceVisit
from archiveprint.due.schedules import find_schedule
from archiveprint.errors import N_, Conflict, InvalidValue, NotFound
from archiveprint.eventlog import record_event
from archiveprint.register.models import Resident
from archiveprint.register.servicedates import SERVICE_DATES, date_doubt
from archiveprint.register.services import find_village, update_resident

DATE_FIELDS = SERVICE_DATES


def record_visit(session: Session, resident: Resident, schedule_key: str, *, visit: str = "", on: date,
                 note: str = "", actor: str, today: date | None = None,
                 now: datetime | None = None) -> ServiceVisit:
    """A visit done: a periodic follow-up (no visit id) or one of an anchored schedule's visits (by id or name).
    The same visit recorded twice on the same day is refused, not stored twice."""
    schedule = find_schedule(schedule_key)
    if today is not None and on > today:
        raise InvalidValue(N_("服务日期不能晚于今天"), field="服务日期", value=on.isoformat())
    visit_id = ""
    if schedule.visits:
        if not visit:
            choices = "、".join(f"{v.id}（{v.name}）" for v in schedule.visits)
            raise InvalidValue(N_("请写明是哪一次服务。可选：{choices}"), params={"choices": choices}, field="服务",
                               value=None)
        found = next((v for v in schedule.visits if visit in (v.id, v.name)), None)
        if found is None:
            choices = "、".join(f"{v.id}（{v.name}）" for v in schedule.visits)
            raise NotFound(N_("该排期没有这次服务。可选：{choices}"), params={"choices": choices}, field="服务",
                           value=visit)
        visit_id = found.id
    same = session.scalar(select(ServiceVisit.id).where(
        ServiceVisit.resident_id == resident.id, ServiceVisit.schedule == schedule.id, ServiceVisit.visit == visit_id,
        ServiceVisit.done_on == on, ServiceVisit.voided_at.is_(None)))
    if same is not None:
        raise Conflict(N_("这次服务已登记过"), field="服务日期", value=on.isoformat())
    row = ServiceVisit(resident_id=resident.id, schedule=schedule.id, visit=visit_id, done_on=on, note=note.strip(),
                       recorded_by=actor)
    if now is not None:
        row.recorded_at = now
    session.add(row)
    session.flush()
    record_event(session, "service.recorded", "resident", resident.archive_code, actor=actor, now=now,
                 visit_id=row.id, schedule=schedule.id, visit=visit_id, on=on, note=row.note)
    return row


def void_visit(session: Session, visit_id: int, *, actor: str, now: datetime | None = None,
               resident: Resident | None = None) -> ServiceVisit:
    """A visit recorded by mistake: kept, marked void (it no longer counts). With `resident`, a record of anyone
    else is not found (a page names the resident and the record)."""
    row = session.get(ServiceVisit, visit_id)
    if row is None or (resident is not None and row.resident_id != resident.id):
        raise NotFound(N_("没有这条服务记录"), field="服务记录", value=visit_id)
    if row.voided_at is not None:
        raise Conflict(N_("这条服务记录已撤销"), field="服务记录", value=visit_id)
    row.voided_at = now or utcnow()
    record_event(session, "service.voided", "resident", row.resident.archive_code, actor=actor, now=now,
                 visit_id=row.id, schedule=row.schedule, visit=row.visit, on=row.done_on)
    return row


def list_visits(session: Session, resident: Resident) -> list[ServiceVisit]:
    """A resident's recorded services, latest first (voided ones included, marked)."""
    return list(session.scalars(select(ServiceVisit).where(ServiceVisit.resident_id == resident.id)
                                .order_by(ServiceVisit.done_on.desc(), ServiceVisit.id.desc())))


def set_dates(session: Session, resident: Resident, dates: dict[str, date | None], *, actor: str,
              now: datetime | None = None, today: date | None = None) -> dict[str, list[object]]:
    """预产期 / 分娩日期 / 结核治疗开始日期 entered by hand (None clears one); logged like any change. A date that
    cannot be right for the resident (servicedates.date_doubt; compared with `today` when given) is refused."""
    unknown = set(dates) - set(DATE_FIELDS)
    if unknown:
        raise InvalidValue(N_("不能修改字段：{fields}"), params={"fields": "、".join(sorted(unknown))})
    for key, value in dates.items():
        if value is None:
            continue
        reason = date_doubt(key, value, today=today, birth_date=resident.birth_date, sex=resident.sex)
        if reason is not None:
            raise InvalidValue(reason, field=DATE_FIELDS[key], value=value.isoformat())
    return update_resident(session, resident, dict(dates), actor=actor, now=now)


def packet_villages(session: Session, *, villages: Sequence[str] = (), doctor: str | None = None,
                    everyone: bool = False) -> list[str] | None:
    """A packet's villages as the site names them (`Village.ref`): named ones, a village doctor's own, or None for
    all (`everyone`). Nothing named is refused rather than taken as everyone."""
    codes = [find_village(session, key).ref for key in villages]
    if doctor:
        user = session.scalar(select(User).where(User.username == doctor))
        if user is None:
            raise NotFound(N_("没有这个用户"), field="村医", value=doctor)
        if not user.villages:
            raise InvalidValue(N_("该用户没有负责的村(居)委会"), field="村医", value=doctor)
        codes += [village.ref for village in user.villages]
    if not codes and everyone:
        return None
    if not codes:
        raise InvalidValue(N_("请选择村(居)委会、村医，或全部"), field="村(居)委会", value=None)
    return sorted(set(codes))
