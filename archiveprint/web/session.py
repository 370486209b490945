"""One database session per request (the writer for changes, so SQLite takes its write lock at BEGIN)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from flask import Flask, current_app, g, request
from sqlalchemy.orm import Session

from archiveprint import clock
from archiveprint.accounts.models import User
from archiveprint.accounts.scope import current_scope, scoped
from archiveprint.accounts.services import audit
from archiveprint.config import Settings
from archiveprint.db import Database, utcnow
from archiveprint.lending.rules import LendingRules, site_rules

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class WebState:
    """What the views need from create_app: the settings and the database (kept in app.extensions)."""

    settings: Settings
    database: Database
    # The same database for the request's own session: a lock held by a long write elsewhere (an import) is waited
    # for only settings.web_busy_seconds, then the page says 系统正忙 (503) instead of hanging for 30 s (#11.10).
    pages: Database = field(init=False)

    def __post_init__(self) -> None:
        self.pages = self.database.waiting_at_most(self.settings.web_busy_seconds)


def init_app(app: Flask, state: WebState) -> None:
    app.extensions["archiveprint"] = state
    app.teardown_appcontext(_close_session)


def state() -> WebState:
    return current_app.extensions["archiveprint"]


def db_session() -> Session:
    """The request's session, opened on first use: reader for GET, writer (BEGIN IMMEDIATE) for POST."""
    session: Session | None = g.get("db_session")
    if session is None:
        database = state().pages
        factory = database.reader if request.method in READ_METHODS else database.writer
        session = g.db_session = factory()
    return session


def request_database() -> Database:
    """The database kept to the request's scope (the signed-in user's site and villages, as db_session sees them),
    for a second session a view opens itself — a preview on a reader, a dry run on a scratch copy: it must see no
    more than the page does."""
    return scoped(state().database, current_scope(db_session()))


def rollback() -> None:
    """After a failed change, so the error page can still query (PostgreSQL refuses a failed transaction)."""
    session: Session | None = g.get("db_session")
    if session is not None:
        session.rollback()


def commit_audit(user: User, action: str, subject_type: str, subject_id: object, *, detail: str = "") -> None:
    """Write an audit row and commit it before the page is shown: no data leaves without its audit row.

    On a GET on SQLite the read transaction is ended first, so the INSERT starts a fresh transaction that waits its
    turn for SQLite's write lock instead of failing to upgrade a stale read snapshot (PostgreSQL writes the row in
    the same transaction: one commit, #14). It waits at most settings.web_busy_seconds; then `Busy` is raised and
    the page shows 系统正忙 (503) and none of the data.
    """
    session = db_session()
    end_read_before_writing(session)
    audit(session, user, action, subject_type, subject_id, detail=detail)
    session.commit()


def end_read_before_writing(session: Session) -> None:
    """On a GET on SQLite, end the read transaction before an audit row is written (see commit_audit)."""
    if request.method in READ_METHODS and session.get_bind().dialect.name == "sqlite":
        session.commit()


def now() -> datetime:
    """The current moment as the database stores it (naive UTC). The clock is the one thing a test may fake:
    app.config['ARCHIVEPRINT_CLOCK'] is a callable returning that moment."""
    fake: Callable[[], datetime] | None = current_app.config.get("ARCHIVEPRINT_CLOCK")
    return fake() if fake is not None else utcnow()


def lending_rules() -> LendingRules:
    """The site's lending rules (its own file in the instance folder, else the shipped one); their `timezone` is the
    site's, for every page."""
    return site_rules(state().settings.instance_dir)


def today() -> date:
    """The working day in the site's zone (the lending rules' `timezone`), whatever zone the server runs in;
    tests pin it with app.config['ARCHIVEPRINT_TODAY']."""
    pinned = current_app.config.get("ARCHIVEPRINT_TODAY")
    if isinstance(pinned, date):
        return pinned
    return clock.today(lending_rules().timezone, now())


def _close_session(_error: BaseException | None) -> None:
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        session.close()
