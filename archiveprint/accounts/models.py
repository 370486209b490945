"""Users, their signed-in sessions and sign-in attempts, and the audit trail of every view, print and export."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, CheckConstraint, Column, DateTime, ForeignKey, Index, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archiveprint.db import Base, site_column, utcnow

if TYPE_CHECKING:
    from archiveprint.register.models import Village

# The villages a village doctor (村医) serves: the only residents, households and folders that user may see.
user_villages = Table(
    "user_villages",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("village_id", ForeignKey("villages.id"), primary_key=True),
)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'clerk', 'doctor', 'village_doctor', 'viewer', "
                        "'county_admin', 'county_supervisor', 'county_print')", name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int | None] = site_column()
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(24))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    villages: Mapped[list[Village]] = relationship(secondary=user_villages, order_by="Village.code")
    sessions: Mapped[list[UserSession]] = relationship(back_populates="user", passive_deletes=True)


class UserSession(Base):
    """One signed-in browser: the signed cookie carries a random token, the database keeps only its hash.

    A session ends (ended_at, ended_reason) on logout, on a password change or reset, on deactivation and on a role
    or village change; it also lapses after the idle time of the settings.
    """

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    ended_reason: Mapped[str | None] = mapped_column(String(24))

    user: Mapped[User] = relationship(back_populates="sessions")


class LoginAttempt(Base):
    """One try at signing in, by the user name typed (its SHA-256) and the address it came from (for throttling).

    outcome: ok / failed / throttled (refused during a delay) / locked (refused during a lock) / reset (an
    administrator set a new password, which lifts the account's lock). Never holds a password, nor a typed name
    in clear (it may be a password typed into the wrong field).
    """

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_name_hash_at", "name_hash", "at"),
        Index("ix_login_attempts_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    name_hash: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))


class AuditEntry(Base):
    """Who looked at, printed or exported whose data, and when (privacy: kept apart from the change log)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int | None] = site_column(foreign_key=False)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))  # view / search / print / export / import
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(String(500), default="")
