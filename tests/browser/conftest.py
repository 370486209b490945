"""Browser fixtures: Debian's Chromium for pytest-playwright and the app served on a free local port."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from archiveprint.config import Settings
from archiveprint.db import Database
from archiveprint.web import create_app
from tests.conftest import TODAY

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"],
    }


@pytest.fixture(scope="session")
def base_url() -> None:
    """Replaces pytest-base-url's fixture (it warns under pytest 9); tests use the live_server URL."""
    return None


class QuietHandler(WSGIRequestHandler):
    """No access log: request lines can carry what a clerk typed into the search box."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@pytest.fixture
def live_server(committed_db: Database, tmp_path: Path) -> Iterator[str]:
    """The real app on 127.0.0.1 and a free port, on the committed database of the backend under test."""
    settings = Settings(instance_dir=tmp_path / "instance",
                        database_url=committed_db.engine.url.render_as_string(hide_password=False),
                        secret_key="browser-test-key")
    app = create_app(settings, database=committed_db)
    app.config["ARCHIVEPRINT_TODAY"] = TODAY
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
