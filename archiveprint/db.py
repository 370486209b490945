"""Declarative base, engine and session factories; SQLite gets WAL, foreign keys and real BEGINs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import StaticPool

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """Timestamps are stored in UTC, naive, so SQLite and PostgreSQL compare them alike."""
    return datetime.now(UTC).replace(tzinfo=None)


def make_engine(url: str, **kwargs: object) -> Engine:
    """Create an engine; for SQLite, apply the pysqlite BEGIN recipe so savepoints and BEGIN IMMEDIATE work.

    Statement parameters are kept out of error messages: they hold names and ID numbers, and errors get logged.
    """
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (SQLite dialect docs).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        # Writers take the write lock at BEGIN, so two writers queue instead of failing on lock upgrade.
        if conn.get_execution_options().get("immediate"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


@dataclass
class Database:
    """One engine and its session factories: `reader` for queries, `writer` for changes."""

    engine: Engine
    reader: sessionmaker[Session]
    writer: sessionmaker[Session]

    @classmethod
    def connect(cls, url: str, **kwargs: object) -> Database:
        engine = make_engine(url, **kwargs)
        writer_engine = engine.execution_options(immediate=True)
        return cls(
            engine=engine,
            reader=sessionmaker(engine, expire_on_commit=False),
            writer=sessionmaker(writer_engine, expire_on_commit=False),
        )

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
                session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
                try:
                    yield session
                finally:
                    session.close()
                    outer.rollback()
            return
        import sqlite3

        copy = sqlite3.connect(":memory:", check_same_thread=False)
        with self.engine.connect() as connection:
            connection.connection.dbapi_connection.backup(copy)  # type: ignore[union-attr]
        engine = create_engine("sqlite://", creator=lambda: copy, poolclass=StaticPool, hide_parameters=True)
        _configure_sqlite(engine)
        session = Session(engine, expire_on_commit=False)
        try:
            yield session
        finally:
            session.rollback()
            session.close()
            engine.dispose()
            copy.close()

    def dispose(self) -> None:
        self.engine.dispose()
