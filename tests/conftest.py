"""Shared fixtures: both databases (SQLite file and PostgreSQL), migrated once, a rolled-back session per test."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from archiveprint.cli import AppContext, main
from archiveprint.db import Base, Database
from archiveprint.migrate import upgrade
from archiveprint.register import services
from archiveprint.register.models import Household, Resident, Township

BACKENDS = [b for b in os.environ.get("ARCHIVEPRINT_TEST_BACKENDS", "sqlite,postgresql").split(",") if b]
PG_ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ACTOR = "tester"
TODAY = date(2026, 11, 25)


# --- guards -------------------------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests talk to this machine only (the databases, Redis, the live server)."""
    real_connect = socket.socket.connect

    def guarded(sock: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else None
        if host is not None and host not in ("127.0.0.1", "::1", "localhost") and not str(host).startswith("127."):
            raise RuntimeError(f"test tried to reach {host}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


# --- databases ----------------------------------------------------------------------------------------------

def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _fresh_postgres(name: str) -> str:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def _drop_postgres(name: str) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def migrated_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of the backend, upgraded to head by running the migrations (never create_all).

    PostgreSQL databases are named per process, so two test runs on one server never drop each other's.
    """
    name = f"archiveprint_test_{_worker()}_{os.getpid()}"
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'template.sqlite3'}"
    else:
        url = _fresh_postgres(name)
    database = Database.connect(url)
    upgrade(database.engine)
    database.dispose()
    yield url
    if backend == "postgresql":
        _drop_postgres(name)


@pytest.fixture(scope="session")
def db(migrated_url: str) -> Iterator[Database]:
    database = Database.connect(migrated_url)
    yield database
    database.dispose()


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test; services may commit savepoints."""
    with db.engine.connect() as connection:
        transaction = connection.begin()
        with Session(bind=connection, join_transaction_mode="create_savepoint",
                     expire_on_commit=False) as sess:
            yield sess
        transaction.rollback()


@pytest.fixture
def committed_db(backend: str, migrated_url: str, tmp_path: Path) -> Iterator[Database]:
    """A database whose commits are real (for races, the CLI and the web app); emptied afterwards."""
    if backend == "sqlite":
        template = Path(migrated_url.removeprefix("sqlite:///"))
        copy = tmp_path / "committed.sqlite3"
        shutil.copy(template, copy)
        database = Database.connect(f"sqlite:///{copy}")
        yield database
        database.dispose()
        return
    database = Database.connect(migrated_url)
    yield database
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with database.engine.begin() as conn:
        # Append-only tables refuse TRUNCATE (#11.11); the tests' superuser switches triggers off for this session.
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    database.dispose()


# --- register factories ------------------------------------------------------------------------------------

def setup_township(session: Session) -> Township:
    township = services.configure_township(session, "130123", "正定县", "100", "诸福屯镇",
                                           unit_name="诸福屯镇卫生院", actor=ACTOR)
    services.add_village(session, "201", "东村", actor=ACTOR)
    services.add_village(session, "202", "西村", actor=ACTOR)
    services.add_village(session, "001", "城关社区", actor=ACTOR)
    return township


@pytest.fixture
def township(session: Session) -> Township:
    return setup_township(session)


@pytest.fixture
def create_household(session: Session, township: Township) -> Callable[..., Household]:
    def make(village: str = "201", head_name: str = "张三丰", address: str = "东村1组1号",
             external_no: str | None = None) -> Household:
        return services.create_household(session, services.find_village(session, village), head_name=head_name,
                                         address=address, external_no=external_no, actor=ACTOR)
    return make


@pytest.fixture
def create_resident(session: Session, create_household: Callable[..., Household]) -> Callable[..., Resident]:
    def make(household: Household | None = None, **overrides: object) -> Resident:
        household = household or create_household()
        values: dict[str, object] = {"name": "张三丰", "sex": "1", "birth_date": date(1956, 3, 7),
                                     "relation_to_head": "户主", "registered_on": date(2020, 5, 1)}
        values.update(overrides)
        return services.register_resident(session, household, actor=ACTOR, **values)  # type: ignore[arg-type]
    return make


@pytest.fixture
def resident(create_resident: Callable[..., Resident]) -> Resident:
    return create_resident()


# --- the command line ----------------------------------------------------------------------------------------

@pytest.fixture
def cli_env(committed_db, tmp_path, monkeypatch) -> Database:  # type: ignore[no-untyped-def]
    """DATABASE_URL on the committed database and an instance folder of the test's own, as `archiveprint` reads them."""
    monkeypatch.setenv("DATABASE_URL", committed_db.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ARCHIVEPRINT_INSTANCE", str(tmp_path / "instance"))
    return committed_db


@pytest.fixture
def run_cli(cli_env) -> Callable[..., Result]:  # type: ignore[no-untyped-def]
    """`archiveprint …` run in-process on the test's database and instance folder (errors propagate)."""
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(main, list(args), obj=AppContext(), catch_exceptions=False)
    return run
