"""Append-only event rows (who, when, what, before/after), written inside the caller's transaction."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from archiveprint.db import Base, site_column, utcnow
from archiveprint.sites.models import HISTORY


class Event(Base):
    """One change to the archive. The database refuses UPDATE and DELETE on this table (see the migration)."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_entity", "entity_type", "entity_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int | None] = site_column(foreign_key=False)
    occurred_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(48), index=True)
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


def _plain(value: object) -> object:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if isinstance(value, dict):  # e.g. reopen_resident's before={"on": date}
        return {key: _plain(v) for key, v in value.items()}
    return value


def record_event(session: Session, kind: str, entity_type: str, entity_id: object, *, actor: str,
                 now: datetime | None = None, **data: object) -> Event:
    """Add an event to the session; it commits or rolls back with the change it describes."""
    event = Event(
        occurred_at=now or utcnow(),
        actor=actor,
        kind=kind,
        entity_type=entity_type,
        entity_id=str(entity_id),
        data={key: _plain(value) for key, value in data.items()},
    )
    session.add(event)
    return event


def diff(before: dict[str, object], after: dict[str, object]) -> dict[str, list[object]]:
    """Fields whose value changed, as {field: [old, new]} (JSON-friendly)."""
    return {key: [_plain(before.get(key)), _plain(after.get(key))]
            for key in after if before.get(key) != after.get(key)}


def list_events(session: Session, entity_type: str, entity_id: object) -> list[Event]:
    """The history of one thing (a resident by archive code, a household by id), oldest first: the caller has found
    it in its scope, so the events a site wrote before the thing was transferred to this one are read too."""
    stmt = (select(Event).where(Event.entity_type == entity_type, Event.entity_id == str(entity_id))
            .order_by(Event.id).execution_options(**{HISTORY: True}))
    return list(session.scalars(stmt))
