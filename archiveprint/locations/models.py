"""Location tables: shelves from the storage layout, each folder's current position, and its append-only history."""

from __future__ import annotations

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
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archiveprint.db import Base, utcnow

if TYPE_CHECKING:
    from archiveprint.locations.layout import ShelfSpec
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
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)  # location code, e.g. K1-M-3-A-2-4
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
        from archiveprint.locations.layout import Coordinate, ShelfSpec

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
