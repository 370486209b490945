"""Declarative base, engine and session factories; SQLite gets WAL, foreign keys and real BEGINs."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import ForeignKey, Integer, MetaData, UniqueConstraint, create_engine, event
from sqlalchemy.engine import Connection, Engine, ExceptionContext
from sqlalchemy.orm import DeclarativeBase, MappedColumn, Session, mapped_column, sessionmaker
from sqlalchemy.pool import StaticPool

from archiveprint.errors import Busy

BUSY_TIMEOUT_MS = 30_000  # how long a CLI command or job waits for another writer; the web passes a shorter wait
BUSY_OPTION = "busy_timeout_ms"  # execution option: this engine's transactions wait at most this long for a lock

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def site_column(*, foreign_key: bool = True) -> MappedColumn[int | None]:
    """The site (archiveprint.sites) a row belongs to: filled from the session's scope when the row is added
    (archiveprint.accounts.scope), never by the code that adds it. NULL only on rows from before the first site.

    The append-only tables take it without a foreign key: adding one would make SQLite copy the table, and with it
    lose the triggers that refuse changes."""
    if not foreign_key:
        return mapped_column(Integer, index=True, default=None)
    return mapped_column(ForeignKey("sites.id"), index=True, default=None)


def unique_in_site(*columns: str) -> UniqueConstraint:
    """Unique within a site (a shelf code, a borrower key, PD-2026-0001). On PostgreSQL the rows made before the
    first site (site_id NULL) count as one site too, so a race there still meets the constraint."""
    return UniqueConstraint("site_id", *columns, postgresql_nulls_not_distinct=True)


def utcnow() -> datetime:
    """Timestamps are stored in UTC, naive, so SQLite and PostgreSQL compare them alike."""
    return datetime.now(UTC).replace(tzinfo=None)


def make_engine(url: str, **kwargs: object) -> Engine:
    """Create an engine; for SQLite, apply the pysqlite BEGIN recipe so savepoints and BEGIN IMMEDIATE work.

    Statement parameters are kept out of error messages: they hold names and ID numbers, and errors get logged.
    A lock held past the wait allowed (SQLite's busy timeout, PostgreSQL's lock_timeout) raises `Busy`.
    """
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False})
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
    else:
        kwargs.setdefault("pool_pre_ping", True)
        engine = create_engine(url, **kwargs)
        _configure_postgresql(engine)
    event.listen(engine, "handle_error", _busy_is_busy)
    return engine


def is_busy(error: BaseException | None) -> bool:
    """A lock another connection holds was not released in time (not a bug: the page may simply be retried)."""
    if error is None:
        return False
    if getattr(error, "sqlite_errorname", "") in ("SQLITE_BUSY", "SQLITE_LOCKED"):
        return True
    if type(error).__module__.startswith("sqlite3") and "locked" in str(error):
        return True
    return getattr(error, "sqlstate", None) == "55P03"  # PostgreSQL lock_not_available (lock_timeout)


def _busy_is_busy(context: ExceptionContext) -> None:
    if is_busy(context.original_exception):
        raise Busy() from context.original_exception


LOCK_TIMEOUT_KEY = "archiveprint_lock_timeout"  # a pooled connection's info: the lock_timeout last SET on it


def _configure_postgresql(engine: Engine) -> None:
    """Each transaction waits for a lock as long as its engine's BUSY_OPTION says (none: the server's default).

    The wait is a session setting kept on the pooled connection and SET only when it changes (a web worker's
    connections keep the web's wait: no statement per transaction — a search page has three). A SET is undone when
    the transaction that made it rolls back, so after any rollback or error the connection's setting is taken as
    unknown and SET again at the next BEGIN."""

    @event.listens_for(engine, "connect")
    def _on_connect(_dbapi_connection, record):  # type: ignore[no-untyped-def]
        record.info[LOCK_TIMEOUT_KEY] = "DEFAULT"  # a new connection has the server's setting

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        wait = conn.get_execution_options().get(BUSY_OPTION)
        wanted = "DEFAULT" if wait is None else str(int(wait))
        info = conn.connection.info
        if info.get(LOCK_TIMEOUT_KEY) != wanted:
            conn.exec_driver_sql(f"SET lock_timeout = {wanted}")
            info[LOCK_TIMEOUT_KEY] = wanted

    @event.listens_for(engine, "rollback")
    def _on_rollback(conn):  # type: ignore[no-untyped-def]
        _forget_lock_timeout(conn)

    @event.listens_for(engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        if context.connection is not None:
            _forget_lock_timeout(context.connection)


def _forget_lock_timeout(conn: Connection) -> None:
    if not conn.invalidated and not conn.closed:
        conn.connection.info.pop(LOCK_TIMEOUT_KEY, None)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (SQLite dialect docs).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        # The wait for another writer is set per transaction (a pooled connection serves the web and jobs alike).
        options = conn.get_execution_options()
        conn.exec_driver_sql(f"PRAGMA busy_timeout = {int(options.get(BUSY_OPTION, BUSY_TIMEOUT_MS))}")
        # Writers take the write lock at BEGIN, so two writers queue instead of failing on lock upgrade.
        if options.get("immediate"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


@dataclass
class Database:
    """One engine and its session factories: `reader` for queries, `writer` for changes."""

    engine: Engine
    reader: sessionmaker[Session]
    writer: sessionmaker[Session]
    info: dict[str, object] = field(default_factory=dict)  # what every session starts with (its access scope)

    @classmethod
    def connect(cls, url: str, **kwargs: object) -> Database:
        return cls.on(make_engine(url, **kwargs))

    @classmethod
    def on(cls, engine: Engine, info: dict[str, object] | None = None) -> Database:
        writer_engine = engine.execution_options(immediate=True)
        info = dict(info or {})
        return cls(
            engine=engine,
            reader=sessionmaker(engine, expire_on_commit=False, info=info),
            writer=sessionmaker(writer_engine, expire_on_commit=False, info=info),
            info=info,
        )

    def waiting_at_most(self, seconds: float) -> Database:
        """The same database whose transactions give up on a lock after `seconds` (raising Busy): the web's."""
        return Database.on(self.engine.execution_options(**{BUSY_OPTION: max(1, round(seconds * 1000))}), self.info)

    def with_info(self, **info: object) -> Database:
        """The same engine, whose every session starts with `info` (archiveprint.accounts.scope puts the site and
        village scope there, so a job's or a command's sessions all see one site)."""
        return Database.on(self.engine, {**self.info, **info})

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write transaction: commit on success, roll back on any error."""
        with self.writer.begin() as session:
            yield session

    @contextmanager
    def scratch(self) -> Iterator[Session]:
        """A session for work that is always thrown away (an import's dry run), which never takes the database's
        write lock: what it writes is rolled back when the block ends.

        On SQLite, where one writer locks the whole file, it works on a private in-memory copy made with SQLite's
        online backup (one read of a consistent snapshot, never written to disk), so logins and other clerks'
        changes go on meanwhile. On PostgreSQL it is a session inside a transaction that is always rolled back.
        """
        if not self.is_sqlite:
            with self.engine.connect() as connection:
                outer = connection.begin()  # even a commit of the session only ends a savepoint inside it
                session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False,
                                  info=dict(self.info))
                try:
                    yield session
                finally:
                    session.close()
                    outer.rollback()
            return
        copy = sqlite3.connect(":memory:", check_same_thread=False)
        with self.engine.connect() as connection:
            connection.connection.dbapi_connection.backup(copy)  # type: ignore[union-attr]
        engine = create_engine("sqlite://", creator=lambda: copy, poolclass=StaticPool, hide_parameters=True)
        _configure_sqlite(engine)
        session = Session(engine, expire_on_commit=False, info=dict(self.info))
        try:
            yield session
        finally:
            session.rollback()
            session.close()
            engine.dispose()
            copy.close()

    def dispose(self) -> None:
        self.engine.dispose()
