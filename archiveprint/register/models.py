"""Register tables: township, villages, households, residents and their population tags."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archiveprint.db import Base, site_column, utcnow
from archiveprint.sites.models import Site

resident_tags = Table(
    "resident_tags",
    Base.metadata,
    Column("resident_id", ForeignKey("residents.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("population_tags.id"), primary_key=True),
)


class Township(Base):
    """The archive's own township (乡镇/街道) and its county; configured once per installation."""

    __tablename__ = "townships"
    __table_args__ = (UniqueConstraint("county_code", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    county_code: Mapped[str] = mapped_column(String(6))
    county_name: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(3))
    name: Mapped[str] = mapped_column(String(64))
    unit_name: Mapped[str] = mapped_column(String(128), default="")

    villages: Mapped[list[Village]] = relationship(back_populates="township", order_by="Village.code")

    @property
    def prefix(self) -> str:
        return self.county_code + self.code


class Village(Base):
    """A village or residents' committee (村委会/居委会): the 3-digit third segment of archive codes."""

    __tablename__ = "villages"
    __table_args__ = (UniqueConstraint("township_id", "code"), UniqueConstraint("township_id", "name"))

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int | None] = site_column()
    township_id: Mapped[int] = mapped_column(ForeignKey("townships.id"))
    code: Mapped[str] = mapped_column(String(3))
    name: Mapped[str] = mapped_column(String(64))
    # Last serial handed out; bumped by one UPDATE so concurrent clerks never get the same code.
    last_serial: Mapped[int] = mapped_column(Integer, default=0)
    last_household_no: Mapped[int] = mapped_column(Integer, default=0)

    township: Mapped[Township] = relationship(back_populates="villages")
    households: Mapped[list[Household]] = relationship(back_populates="village")
    # One-way: the sites table sits below the register and never lists villages.
    site: Mapped[Site | None] = relationship()

    @property
    def full_code(self) -> str:
        return self.township.prefix + self.code

    @property
    def ref(self) -> str:
        """How the village is named within the site that keeps it: its 3-digit code (201), or — for a village taken
        over from another township's site (机构撤并), whose code may clash with one of the site's own — its 12-digit
        code. Shelving plans, filters and `find_village` all take it."""
        home = self.site.township_id if self.site is not None else None
        return self.code if home is None or home == self.township_id else self.full_code


class Household(Base):
    """One household = one paper folder (以户为单位): the unit that is labelled, shelved and lent."""

    __tablename__ = "households"
    __table_args__ = (
        UniqueConstraint("village_id", "number"),
        UniqueConstraint("village_id", "match_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # household number within the village, from 1
    external_no: Mapped[str | None] = mapped_column(String(32))  # 户号 as the platform exports it
    match_key: Mapped[str] = mapped_column(String(200))  # how imports recognise the household again
    head_name: Mapped[str] = mapped_column(String(64), default="")
    address: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    village: Mapped[Village] = relationship(back_populates="households")
    members: Mapped[list[Resident]] = relationship(back_populates="household")


class PopulationTag(Base):
    """A population group (人群分类) such as 高血压; the list is extendable."""

    __tablename__ = "population_tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)


class Resident(Base):
    """A resident with a health record (居民健康档案). Closed (结案) records are kept, never deleted."""

    __tablename__ = "residents"
    __table_args__ = (
        CheckConstraint("sex IN ('0', '1', '2', '9')", name="sex_code"),
        CheckConstraint("status IN ('active', 'closed')", name="status"),
        Index("ix_residents_village_serial", "village_id", "serial", unique=True),
        # Locate by the start of a name or by pinyin initials: text_pattern_ops lets PostgreSQL use these for
        # LIKE 'prefix%' under any collation (SQLite ignores the option and uses a range), and archive_code
        # second keeps "name = x ORDER BY archive_code" a plain index scan however common the name.
        Index("ix_residents_name", "name", "archive_code", postgresql_ops={"name": "text_pattern_ops"}),
        Index("ix_residents_name_initials", "name_initials", "archive_code",
              postgresql_ops={"name_initials": "text_pattern_ops"}),
        # "Name contains" (the search box, once the exact name gave fewer than 50): trigrams of pg_trgm, PostgreSQL
        # only (migration 0022; SQLite has no such index and scans one township's register).
        Index("ix_residents_name_trgm", "name", postgresql_using="gin",
              postgresql_ops={"name": "gin_trgm_ops"}).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    archive_code: Mapped[str] = mapped_column(String(17), unique=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    serial: Mapped[int] = mapped_column(Integer)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    relation_to_head: Mapped[str] = mapped_column(String(16), default="")
    name: Mapped[str] = mapped_column(String(64))
    name_initials: Mapped[str] = mapped_column(String(32), default="")
    sex: Mapped[str] = mapped_column(String(1))
    birth_date: Mapped[date | None] = mapped_column(Date)
    id_number: Mapped[str | None] = mapped_column(String(18), unique=True)
    phone: Mapped[str] = mapped_column(String(32), default="", index=True)
    address: Mapped[str] = mapped_column(String(200), default="")
    registered_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(8), default="active")
    closed_on: Mapped[date | None] = mapped_column(Date)
    closed_reason: Mapped[str | None] = mapped_column(String(16))  # death / moved / lost
    closed_note: Mapped[str] = mapped_column(String(200), default="")
    # Dates the service schedules count from (templates/due/schedules.yaml), when the platform export carries them
    # or a clerk enters them: 预产期, 分娩日期, 结核治疗开始日期.
    due_date: Mapped[date | None] = mapped_column(Date)
    delivery_date: Mapped[date | None] = mapped_column(Date)
    tb_treatment_start: Mapped[date | None] = mapped_column(Date)
    # 待核实: questionable values an import let in with the row, [{column, value, reason}]; NULL when none.
    review_flags: Mapped[list[dict[str, str]] | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    household: Mapped[Household] = relationship(back_populates="members")
    village: Mapped[Village] = relationship()
    tags: Mapped[list[PopulationTag]] = relationship(secondary=resident_tags, order_by="PopulationTag.id")

    @property
    def tag_names(self) -> list[str]:
        return [tag.name for tag in self.tags]


class ImportRun(Base):
    """One applied import of a register export: what came in and what it changed (the rows are in events)."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int | None] = site_column()
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    added: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    # What a re-import of the same file is compared with (importer.import_file); None on runs from before 0008.
    mapping: Mapped[dict[str, str] | None] = mapped_column(JSON)  # header → field, as given by --map
    register_events: Mapped[int | None] = mapped_column(Integer)  # register events once this run was applied
