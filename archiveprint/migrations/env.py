"""Alembic environment: the engine comes from the caller (archiveprint.migrate) or from DATABASE_URL."""

from __future__ import annotations

from alembic import context

from archiveprint import models  # noqa: F401  (registers every table on Base.metadata)
from archiveprint.config import Settings
from archiveprint.db import Base, make_engine

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine") or make_engine(Settings.from_env().database_url)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch mode rebuilds a table (copy, DROP, rename); with foreign keys enforced, the DROP of a table other
            # rows point at fails. SQLite only switches enforcement outside a transaction, so: off for the upgrade,
            # every reference checked before the commit, on again for whoever uses the connection next.
            connection.connection.driver_connection.execute("PRAGMA foreign_keys = OFF")
        try:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=True,  # SQLite needs batch mode to alter tables
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"migration left broken foreign keys: {broken[:5]}")
            connection.commit()
        finally:
            if sqlite:
                connection.rollback()
                connection.connection.driver_connection.execute("PRAGMA foreign_keys = ON")


run_migrations_online()
