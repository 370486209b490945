"""create_app on its own: a fresh database is brought to head, and pages are sent with privacy headers."""

from __future__ import annotations

from archiveprint.config import Settings
from archiveprint.migrate import current_revision, head_revision
from archiveprint.web import create_app


def test_a_fresh_sqlite_database_is_migrated_on_start(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    app = create_app(Settings(instance_dir=tmp_path / "instance", database_url=url, secret_key="k"))
    database = app.extensions["archiveprint"].database
    try:
        assert current_revision(database.engine) == head_revision(database.engine)
        response = app.test_client().get("/login")
        assert response.status_code == 200
        assert "登录" in response.get_data(as_text=True)
        assert response.headers["Cache-Control"] == "no-store"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    finally:
        database.dispose()
