"""Migrations: an empty database upgrades to head on both engines and matches the models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from archiveprint.db import Base
from archiveprint.migrate import current_revision, head_revision, upgrade


def test_migrated_schema_has_no_drift_from_the_models(db):
    assert current_revision(db.engine) == head_revision(db.engine)
    with db.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diffs == []


def test_upgrade_is_idempotent(db):
    upgrade(db.engine)
    assert current_revision(db.engine) == head_revision(db.engine)
