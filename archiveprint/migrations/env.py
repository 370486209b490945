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
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,  # SQLite needs batch mode to alter tables
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
