"""CLI fixtures: the command's environment on the committed database of the backend under test."""

from __future__ import annotations

import pytest

from archiveprint.db import Database


@pytest.fixture
def cli_env(committed_db, tmp_path, monkeypatch) -> Database:
    """DATABASE_URL on the committed database and an instance folder of the test's own, as `archiveprint` reads them."""
    monkeypatch.setenv("DATABASE_URL", committed_db.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ARCHIVEPRINT_INSTANCE", str(tmp_path / "instance"))
    return committed_db
