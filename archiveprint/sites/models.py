"""The sites table: one archive-keeping institution each, with its county and home township."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from archiveprint.db import Base, utcnow

SITE_STATUSES = ("active", "closed")


class Site(Base):
    """One archive room's institution (柏棠镇卫生院). Its villages, shelves, borrowers, loans, jobs and users carry
    its id (directly or through their household); archiveprint.accounts.scope keeps each site to its own rows.

    A site closed by a merger (机构撤并) stays as read-only history; `merged_into_id` names where its folders went.
    """

    __tablename__ = "sites"
    __table_args__ = (CheckConstraint("status IN ('active', 'closed')", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # what `--site CODE` names
    name: Mapped[str] = mapped_column(String(128))  # 柏棠镇卫生院
    county_code: Mapped[str] = mapped_column(String(6))
    county_name: Mapped[str] = mapped_column(String(64))
    # The township (乡镇/街道) whose archive codes the site issues; a site that took over another keeps that one's
    # villages (and their codes) too, but new villages are added to its own.
    township_id: Mapped[int | None] = mapped_column(ForeignKey("townships.id", use_alter=True))
    status: Mapped[str] = mapped_column(String(8), default="active")
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    # The last id of each SINCE_FIRST_SITE table when this site was added ({"events": 1234, …}): on the second
    # site, where the first site's rows without a site end. A row written later with site_id NULL (a county user's
    # event, the audit row of a county-wide read) is the installation's, not the first site's.
    rows_before: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    @property
    def closed(self) -> bool:
        return self.status == "closed"


SCOPE_KEY = "archiveprint.scope"  # where a session keeps its access scope (archiveprint.accounts.scope)
# Execution option of a statement that reads the events of one thing the caller has already found in its scope (a
# resident's history): the events written by another site before the thing was transferred (机构撤并) are its too.
HISTORY = "archiveprint.history"
# Append-only tables whose rows from before the first site keep site_id NULL (their triggers refuse a back-fill).
# Their NULL-site rows written once there are several sites (after the second site's `rows_before`) are the
# installation's: county users' events, county-wide reads' audit rows — read by county roles, no site's users.
SINCE_FIRST_SITE = ("events", "audit_log", "loan_scans")


def working_site(session: Session) -> int | None:
    """The site a session works in (its scope's), None when it is not kept to one (a single-site installation's
    unscoped command, or a county-wide read)."""
    scope = session.info.get(SCOPE_KEY)
    return getattr(scope, "site_id", None)
