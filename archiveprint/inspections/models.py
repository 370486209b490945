"""Inspection tables: the inspection and its draw, the folders drawn, what was read in each, and the 整改 tasks."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archiveprint.db import Base, site_column, unique_in_site, utcnow
from archiveprint.register.models import Household

INSPECTION_STATES = ("open", "signed")
FOLDER_STATES = ("sampled", "unavailable", "replaced")  # to read / could not be produced / swapped for a reserve
TASK_STATES = ("open", "done")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Inspection(Base):
    """One inspection (抽查, numbered CC-2026-0001): how its folders were drawn, by whom, and — once signed — its
    result as signed. Kept for ever (the trend reads them all)."""

    __tablename__ = "inspections"
    __table_args__ = (
        unique_in_site("year", "serial"),
        unique_in_site("number"),
        CheckConstraint(_in("status", INSPECTION_STATES), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int | None] = site_column()
    number: Mapped[str] = mapped_column(String(16))  # unique in its site
    year: Mapped[int] = mapped_column(Integer)
    serial: Mapped[int] = mapped_column(Integer)
    scope: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"villages": [codes], "populations": [ids]}; [] = all
    scope_text: Mapped[str] = mapped_column(String(300))  # as printed
    method: Mapped[dict[str, Any]] = mapped_column(JSON)  # the method in words (errors.Message values)
    seed: Mapped[str] = mapped_column(String(64))
    requested_size: Mapped[int | None] = mapped_column(Integer)  # the size asked for, or None (from the margin)
    margin: Mapped[float | None] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    minimum: Mapped[int] = mapped_column(Integer)  # folders at least per village
    size: Mapped[int] = mapped_column(Integer)  # folders drawn
    frame: Mapped[int] = mapped_column(Integer)  # folders in the sampling frame
    frame_digest: Mapped[str] = mapped_column(String(12))
    strata: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{village, name, frame, size, reserves: [ids]}]
    checklist: Mapped[dict[str, Any]] = mapped_column(JSON)  # the checklist read against (Checklist.as_json)
    inspector: Mapped[str] = mapped_column(String(100))  # 检查人, names as printed
    inspected_on: Mapped[date] = mapped_column(Date)  # the day of the inspection: 动态记录 is counted back from it
    status: Mapped[str] = mapped_column(String(8), default="open")
    drawn_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    drawn_by: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime | None] = mapped_column(DateTime)
    signed_by: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the result as signed

    folders: Mapped[list[InspectionFolder]] = relationship(back_populates="inspection",
                                                           order_by="InspectionFolder.seq")
    tasks: Mapped[list[InspectionTask]] = relationship(back_populates="inspection", order_by="InspectionTask.id")


class InspectionFolder(Base):
    """A household folder drawn by an inspection: its village (stratum), its place in the draw, its status when
    drawn (在架 / 借出 / 下落不明 …), and the residents whose records are read in it."""

    __tablename__ = "inspection_folders"
    __table_args__ = (
        UniqueConstraint("inspection_id", "household_id"),
        UniqueConstraint("inspection_id", "seq"),
        CheckConstraint(_in("state", FOLDER_STATES), name="state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)  # 1…n in draw order (village, then rank); reserves after
    village_code: Mapped[str] = mapped_column(String(12))  # as the site names it (Village.ref): 201, or 12 digits
    village_name: Mapped[str] = mapped_column(String(64))
    rank: Mapped[int] = mapped_column(Integer)  # its place in its village's shuffled order (1 = drawn first)
    folder: Mapped[str] = mapped_column(String(32))  # display code, as drawn
    head_name: Mapped[str] = mapped_column(String(64), default="")
    status_at_draw: Mapped[str] = mapped_column(String(12))  # on_shelf / lent / out / missing / unshelved / closed …
    status_text: Mapped[str] = mapped_column(String(200), default="")
    residents: Mapped[list[str]] = mapped_column(JSON, default=list)  # archive codes of the records read
    state: Mapped[str] = mapped_column(String(12), default="sampled")
    note: Mapped[str] = mapped_column(String(200), default="")  # why it was not produced, or replaced
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_folders.id"))

    inspection: Mapped[Inspection] = relationship(back_populates="folders")
    household: Mapped[Household] = relationship()
    checks: Mapped[list[InspectionCheck]] = relationship(back_populates="folder", order_by="InspectionCheck.id")


class InspectionCheck(Base):
    """What was read for one checklist item in one folder, as it stands now (each change is an event)."""

    __tablename__ = "inspection_results"
    __table_args__ = (UniqueConstraint("folder_id", "item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    folder_id: Mapped[int] = mapped_column(ForeignKey("inspection_folders.id"), index=True)
    item: Mapped[str] = mapped_column(String(32))  # the checklist item's key
    passed: Mapped[bool] = mapped_column(Boolean)  # 合格 (for the dynamic item: 有动态记录)
    note: Mapped[str] = mapped_column(String(200), default="")
    seen_on: Mapped[date | None] = mapped_column(Date)  # the latest 动态记录 seen (dynamic item)
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    folder: Mapped[InspectionFolder] = relationship(back_populates="checks")


class InspectionTask(Base):
    """A 整改 task for the clerk: a folder that failed, what failed, and when it was put right."""

    __tablename__ = "inspection_tasks"
    __table_args__ = (
        UniqueConstraint("inspection_id", "folder_id"),
        CheckConstraint(_in("state", TASK_STATES), name="state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"), index=True)
    folder_id: Mapped[int] = mapped_column(ForeignKey("inspection_folders.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    items: Mapped[list[str]] = mapped_column(JSON, default=list)  # keys of the items that failed
    text: Mapped[str] = mapped_column(String(500))  # what to put right, as listed
    state: Mapped[str] = mapped_column(String(8), default="open")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(DateTime)
    done_by: Mapped[str | None] = mapped_column(String(64))
    done_note: Mapped[str] = mapped_column(String(200), default="")

    inspection: Mapped[Inspection] = relationship(back_populates="tasks")
    folder: Mapped[InspectionFolder] = relationship()
    household: Mapped[Household] = relationship()
