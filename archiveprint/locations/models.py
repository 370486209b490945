"""Location tables: shelves from the storage layout, each folder's current position, and its append-only history."""

from __future__ import annotations

import zlib
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from archiveprint.db import Base, site_column, unique_in_site, utcnow
from archiveprint.errors import Conflict
from archiveprint.locations.layout import Coordinate, ShelfSpec
from archiveprint.sites.models import working_site

if TYPE_CHECKING:
    from archiveprint.register.models import Household, Village

POSITION_STATES = ("on_shelf", "out", "missing")
HISTORY_STATES = (*POSITION_STATES, "gone")
MOVEMENT_KINDS = ("shelve", "move", "relayout", "take_out", "put_back", "missing", "found", "close", "reopen",
                  "release")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class StorageLayout(Base):
    """One applied storage layout file (库房布局), kept whole so any earlier version can be read again."""

    __tablename__ = "storage_layouts"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int | None] = site_column()
    name: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    folder_thickness_mm: Mapped[float] = mapped_column(Float)
    growth_reserve: Mapped[float] = mapped_column(Float)
    position_format: Mapped[str] = mapped_column(String(16))
    shelves: Mapped[int] = mapped_column(Integer)
    applied_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))


class Shelf(Base):
    """A shelf (架位): one 层 of a 节, where folders stand in positions 1…capacity. Retired, never deleted."""

    __tablename__ = "shelves"
    __table_args__ = (
        CheckConstraint(_in("purpose", ("village", "closed")), name="purpose"),
        CheckConstraint("capacity > 0", name="capacity"),
        Index("ix_shelves_seq", "seq"),
        unique_in_site("code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int | None] = site_column()
    code: Mapped[str] = mapped_column(String(64))  # location code, e.g. K1-M-3-A-2-4 (unique in its site)
    address: Mapped[str] = mapped_column(String(200))  # printed address, e.g. 一号库房 3列 A面 2节 4层
    room_code: Mapped[str] = mapped_column(String(8))
    room_name: Mapped[str] = mapped_column(String(64))
    block_code: Mapped[str] = mapped_column(String(8))
    block_name: Mapped[str] = mapped_column(String(64), default="")
    kind: Mapped[str] = mapped_column(String(32), default="")
    purpose: Mapped[str] = mapped_column(String(8), default="village")
    coordinates: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [[label, code, text], …]
    capacity: Mapped[int] = mapped_column(Integer)
    width_mm: Mapped[float | None] = mapped_column(Float)
    seq: Mapped[int] = mapped_column(Integer)  # filling and walking order over the whole archive
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"), index=True)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    # One-way on purpose: register sits left of locations and never needs to know about shelves.
    village: Mapped[Village | None] = relationship()
    positions: Mapped[list[FolderPosition]] = relationship(back_populates="shelf")

    def as_spec(self) -> ShelfSpec:
        return ShelfSpec(code=self.code, address=self.address, room_code=self.room_code, room_name=self.room_name,
                         block_code=self.block_code, block_name=self.block_name, kind=self.kind,
                         purpose=self.purpose, coordinates=tuple(Coordinate(*c) for c in self.coordinates),
                         capacity=self.capacity, width_mm=self.width_mm, seq=self.seq)


class FolderPosition(Base):
    """Where a household folder belongs now and whether it is there (derived from `folder_movements`, kept here
    in the same transaction so that locate is one indexed lookup). A folder that is out keeps its position."""

    __tablename__ = "folder_positions"
    __table_args__ = (
        UniqueConstraint("shelf_id", "slot"),  # two folders never share one position
        CheckConstraint(_in("state", POSITION_STATES), name="state"),
        CheckConstraint("slot > 0", name="slot"),
    )

    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), primary_key=True)  # one row per folder
    shelf_id: Mapped[int] = mapped_column(ForeignKey("shelves.id"))
    slot: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(8), default="on_shelf")
    holder: Mapped[str] = mapped_column(String(64), default="")  # who or where, while out
    since: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)  # = seq of the folder's latest movement

    # UPDATE and DELETE carry "AND version = <old>": a change racing another one matches no row and fails
    # (StaleDataError) instead of overwriting it. Services set the new version themselves (= the movement's seq).
    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": version, "version_id_generator": False}

    household: Mapped[Household] = relationship()
    shelf: Mapped[Shelf] = relationship(back_populates="positions")


class FolderMovement(Base):
    """One change of a folder's location or state (shelve, move, take out, put back …). Append-only: the database
    refuses UPDATE and DELETE (see the migration). Each row states the folder's whole position after the change."""

    __tablename__ = "folder_movements"
    __table_args__ = (
        UniqueConstraint("household_id", "seq"),  # two racing changes cannot both be the folder's next one
        CheckConstraint(_in("kind", MOVEMENT_KINDS), name="kind"),
        CheckConstraint(_in("state", HISTORY_STATES), name="state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    seq: Mapped[int] = mapped_column(Integer)  # 1, 2, 3 … per folder
    kind: Mapped[str] = mapped_column(String(12))
    shelf_id: Mapped[int | None] = mapped_column(ForeignKey("shelves.id"), index=True)
    slot: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(8))
    holder: Mapped[str] = mapped_column(String(64), default="")
    reason: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)

    shelf: Mapped[Shelf | None] = relationship()


# --- inventory (盘点) and handover (移交) ----------------------------------------------------------------------

INVENTORY_SCOPES = ("range", "shelves", "village")
INVENTORY_STATES = ("open", "closed")


class Inventory(Base):
    """One count (盘点, numbered PD-2026-0001) of a fixed set of shelves, so a partial count never reports the
    rest of the room as missing. The shelves are frozen at the start (`inventory_shelves`)."""

    __tablename__ = "inventories"
    __table_args__ = (
        unique_in_site("year", "serial"),  # two counts started at once cannot get the same number
        unique_in_site("number"),
        CheckConstraint(_in("scope", INVENTORY_SCOPES), name="scope"),
        CheckConstraint(_in("state", INVENTORY_STATES), name="state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int | None] = site_column()
    number: Mapped[str] = mapped_column(String(16))  # PD-2026-0001 (unique in its site)
    year: Mapped[int] = mapped_column(Integer)
    serial: Mapped[int] = mapped_column(Integer)
    scope: Mapped[str] = mapped_column(String(8))
    scope_text: Mapped[str] = mapped_column(String(300))  # as printed: K1-M-1-A-1 … K1-M-1-B-3（6 层）
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"))
    counters: Mapped[str] = mapped_column(String(200))  # 盘点人, names joined by 、
    supervisor: Mapped[str] = mapped_column(String(64), default="")  # 监盘人
    state: Mapped[str] = mapped_column(String(8), default="open")
    started_at: Mapped[datetime] = mapped_column(DateTime)
    started_by: Mapped[str] = mapped_column(String(64))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_by: Mapped[str | None] = mapped_column(String(64))
    marked_missing: Mapped[int] = mapped_column(Integer, default=0)
    marked_found: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the report as closed (what was signed)

    village: Mapped[Village | None] = relationship()
    shelves: Mapped[list[InventoryShelf]] = relationship(back_populates="inventory",
                                                         order_by="InventoryShelf.seq")
    scans: Mapped[list[InventoryScan]] = relationship(back_populates="inventory", order_by="InventoryScan.id")
    uploads: Mapped[list[InventoryUpload]] = relationship(back_populates="inventory")


class InventoryShelf(Base):
    """A shelf counted by an inventory, in walking order."""

    __tablename__ = "inventory_shelves"

    inventory_id: Mapped[int] = mapped_column(ForeignKey("inventories.id"), primary_key=True)
    shelf_id: Mapped[int] = mapped_column(ForeignKey("shelves.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)

    inventory: Mapped[Inventory] = relationship(back_populates="shelves")
    shelf: Mapped[Shelf] = relationship()


class InventoryUpload(Base):
    """A scanner's stored-codes file, kept by its sha256 so that uploading it again adds nothing."""

    __tablename__ = "inventory_uploads"
    __table_args__ = (UniqueConstraint("inventory_id", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    inventory_id: Mapped[int] = mapped_column(ForeignKey("inventories.id"))
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    encoding: Mapped[str] = mapped_column(String(16))
    lines: Mapped[int] = mapped_column(Integer)
    scans: Mapped[int] = mapped_column(Integer)
    uploaded_at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(64))

    inventory: Mapped[Inventory] = relationship(back_populates="uploads")


class InventoryScan(Base):
    """One code read during a count, as read, with what it resolved to. Append-only (see the migration): a scan
    re-sent with the same client id is not stored twice, a folder genuinely scanned twice is two rows."""

    __tablename__ = "inventory_scans"
    __table_args__ = (UniqueConstraint("inventory_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    inventory_id: Mapped[int] = mapped_column(ForeignKey("inventories.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"), index=True)
    error: Mapped[str] = mapped_column(String(200), default="")  # why the code names no folder
    shelf_id: Mapped[int | None] = mapped_column(ForeignKey("shelves.id"))  # where it was found, when known
    client_id: Mapped[str | None] = mapped_column(String(64))
    upload_id: Mapped[int | None] = mapped_column(ForeignKey("inventory_uploads.id"))
    line: Mapped[int | None] = mapped_column(Integer)  # line in the uploaded file
    scanned_at: Mapped[datetime] = mapped_column(DateTime)
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(64))

    inventory: Mapped[Inventory] = relationship(back_populates="scans")
    household: Mapped[Household | None] = relationship()
    shelf: Mapped[Shelf | None] = relationship()


class Handover(Base):
    """A handover (移交) of folders to another custodian, numbered YJ-2026-0001, kept so that the signed list can
    be reprinted and looked up later."""

    __tablename__ = "handovers"
    __table_args__ = (unique_in_site("year", "serial"), unique_in_site("number"))

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int | None] = site_column()
    number: Mapped[str] = mapped_column(String(16))  # unique in its site
    year: Mapped[int] = mapped_column(Integer)
    serial: Mapped[int] = mapped_column(Integer)
    from_party: Mapped[str] = mapped_column(String(100))  # 移交方
    to_party: Mapped[str] = mapped_column(String(100))  # 接收方
    supervisor: Mapped[str] = mapped_column(String(100), default="")  # 监交人
    reason: Mapped[str] = mapped_column(String(200), default="")  # 交接事由
    selection: Mapped[str] = mapped_column(String(300))  # how the folders were chosen, as printed
    folders: Mapped[int] = mapped_column(Integer)
    handed_at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(64))

    items: Mapped[list[HandoverItem]] = relationship(back_populates="handover", order_by="HandoverItem.seq")


class HandoverItem(Base):
    """One line of a handover list (序号 1…N), as it was when handed over. Append-only (see the migration)."""

    __tablename__ = "handover_items"

    handover_id: Mapped[int] = mapped_column(ForeignKey("handovers.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    folder: Mapped[str] = mapped_column(String(32))  # display code
    village_code: Mapped[str] = mapped_column(String(3))
    village_name: Mapped[str] = mapped_column(String(64))
    household_number: Mapped[int] = mapped_column(Integer)
    head_name: Mapped[str] = mapped_column(String(64))
    records: Mapped[int] = mapped_column(Integer)  # 份数: residents' records in the folder
    pages: Mapped[int | None] = mapped_column(Integer)  # 页数, when known
    address: Mapped[str] = mapped_column(String(220))  # where it stood before
    note: Mapped[str] = mapped_column(String(200), default="")

    handover: Mapped[Handover] = relationship(back_populates="items")
    household: Mapped[Household] = relationship()


NUMBERING_ATTEMPTS = 20


def add_numbered(session: Session, row: Inventory | Handover, prefix: str, year: int) -> None:
    """Give a new inventory or handover the next number of its year (PD-2026-0001, YJ-2026-0001) and insert it.

    Clerks starting at once queue for the number: SQLite writers at BEGIN IMMEDIATE, PostgreSQL ones behind a
    transaction-scoped advisory lock per table and year (without it, READ COMMITTED losers kept re-reading the same
    max and ran out of retries with ten at once: tests/locations/test_races.py). The (year, serial) key stays the
    last guard: a collision anyway takes the next number. Numbers are per site: 柏棠镇's first count of 2026 is
    PD-2026-0001 whatever 诸福屯镇 has counted."""
    model = type(row)
    site = working_site(session)  # each site numbers its own (the scope hook keeps the max to its rows too)
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(f"archiveprint.numbering:{model.__tablename__}:{site}:{year}".encode())
        session.execute(select(func.pg_advisory_xact_lock(key)))
    latest = select(func.max(model.serial)).where(model.year == year)
    if site is not None:
        latest = latest.where(model.site_id == site)
    tried = 0
    for _ in range(NUMBERING_ATTEMPTS):
        serial = max(session.scalar(latest) or 0, tried) + 1
        tried = serial
        row.year, row.serial, row.number = year, serial, f"{prefix}-{year}-{serial:04d}"
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
            return
        except IntegrityError:
            continue
    raise Conflict("编号分配冲突，请重试", field="编号", value=prefix)
