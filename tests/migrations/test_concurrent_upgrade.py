"""#14: gunicorn's web workers each build the app, and the app upgrades the schema; on an empty PostgreSQL database
they start together. migrate.upgrade lets them take turns (an advisory lock): all succeed, the schema is made once."""

from __future__ import annotations

import os
import threading

from sqlalchemy import text

from archiveprint.db import Database
from archiveprint.migrate import current_revision, head_revision, upgrade
from tests.conftest import _drop_postgres, _fresh_postgres


def test_processes_upgrading_an_empty_postgresql_database_at_once_take_turns():
    name = f"archiveprint_upgrade_race_{os.getpid()}"
    url = _fresh_postgres(name)
    databases = [Database.connect(url) for _ in range(3)]  # one engine each, as separate processes have
    start = threading.Barrier(len(databases))
    errors: list[BaseException] = []

    def migrate(database: Database) -> None:
        start.wait()
        try:
            upgrade(database.engine)
        except BaseException as error:
            errors.append(error)

    try:
        threads = [threading.Thread(target=migrate, args=(database,)) for database in databases]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert errors == []
        assert current_revision(databases[0].engine) == head_revision(databases[0].engine)
        with databases[0].engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    finally:
        for database in databases:
            database.dispose()
        _drop_postgres(name)
