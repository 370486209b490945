"""Service visits done (随访、体检 …): what makes a scheduled visit no longer due."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archiveprint.db import Base, utcnow
from archiveprint.register.models import Resident


class ServiceVisit(Base):
    """One service given to a resident: a schedule's visit (a child's 8-month check) or a period's follow-up (高血压
    second quarter), on a day. Recorded by a clerk or imported; a mistaken one is voided, never deleted."""

    __tablename__ = "service_visits"
    __table_args__ = (Index("ix_service_visits_resident_schedule", "resident_id", "schedule", "done_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"))
    schedule: Mapped[str] = mapped_column(String(32))  # a schedule id of templates/due/schedules.yaml
    visit: Mapped[str] = mapped_column(String(32), default="")  # the visit's id; "" for a periodic follow-up
    done_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(200), default="")
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    voided_at: Mapped[datetime | None] = mapped_column(DateTime)

    resident: Mapped[Resident] = relationship()
