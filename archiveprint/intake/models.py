"""Intake tables: one batch per uploaded stack, one row per scanned page and what became of it; the site's choice of
page images to keep."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archiveprint.db import Base, site_column, utcnow
from archiveprint.register.models import Household, Resident

KEEP_CHOICES = ("none", "preview", "full")  # what a site keeps of each filed page: nothing, a small picture, the scan
OUTCOMES = ("filed", "blank", "unreadable", "duplicate", "set_aside")
BATCH_STATUSES = ("queued", "running", "done", "failed")
FILED = "outcome = 'filed'"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class IntakeBatch(Base):
    """One stack the clerk fed through the scanner (one or several files), received on a day."""

    __tablename__ = "intake_batches"
    __table_args__ = (CheckConstraint(_in("status", BATCH_STATUSES), name="status"),
                      CheckConstraint(_in("keep_images", KEEP_CHOICES), name="keep_images"))

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int | None] = site_column()
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))
    received_on: Mapped[date] = mapped_column(Date)
    files: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)  # [{"name": …, "pages": n}]
    status: Mapped[str] = mapped_column(String(8), default="queued")
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    pages: Mapped[int] = mapped_column(Integer, default=0)  # pages in the stack, blank backs included
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    keep_images: Mapped[str] = mapped_column(String(8), default="none")  # the site's choice when it was read
    error: Mapped[str] = mapped_column(Text, default="")

    page_rows: Mapped[list[IntakePage]] = relationship(back_populates="batch", order_by="IntakePage.seq",
                                                       passive_deletes=True)


class IntakePage(Base):
    """One scanned page: its place in the stack, the mark read (or the clerk's decision) and its outcome.

    A page is filed once per batch (a partial unique index); the same page in an earlier batch makes it a duplicate.
    """

    __tablename__ = "intake_pages"
    __table_args__ = (
        UniqueConstraint("batch_id", "seq"),
        CheckConstraint(_in("outcome", OUTCOMES), name="outcome"),
        Index("ux_intake_pages_filed", "batch_id", "resident_id", "form_number", "form_page", unique=True,
              sqlite_where=text(FILED), postgresql_where=text(FILED)),
        Index("ix_intake_pages_resident", "resident_id", "form_number", "form_page"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("intake_batches.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)  # 1… in the order the pages were read
    file_name: Mapped[str] = mapped_column(String(255))
    file_page: Mapped[int] = mapped_column(Integer)  # 1… within its file
    outcome: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str] = mapped_column(String(24), default="")  # why a page waits for the clerk (decode.REASONS)
    decoded: Mapped[str] = mapped_column(String(64), default="")  # what the barcode said, when one was read
    how: Mapped[str] = mapped_column(String(8), default="")  # mark (read from its barcode) / manual (assigned)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id"))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"))
    archive_code: Mapped[str | None] = mapped_column(String(17))
    form_number: Mapped[int | None] = mapped_column(Integer)
    form_page: Mapped[int | None] = mapped_column(Integer)
    image: Mapped[str] = mapped_column(String(200), default="")  # relative to the instance folder; "" for none
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("intake_pages.id"))
    decided_by: Mapped[str] = mapped_column(String(64), default="")
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)

    batch: Mapped[IntakeBatch] = relationship(back_populates="page_rows")
    resident: Mapped[Resident | None] = relationship()
    household: Mapped[Household | None] = relationship()


class IntakeSetting(Base):
    """The site's choice of page images to keep (one row; none until an administrator sets it)."""

    __tablename__ = "intake_settings"
    __table_args__ = (CheckConstraint(_in("keep_images", KEEP_CHOICES), name="keep_images"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int | None] = site_column()
    keep_images: Mapped[str] = mapped_column(String(8), default="none")
    changed_by: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
