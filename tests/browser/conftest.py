"""Browser fixtures: Debian's Chromium for pytest-playwright and the app served on a free local port."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from waitress import wasyncore
from waitress.server import create_server

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


@pytest.fixture
def live_settings() -> dict[str, Any]:
    """Settings a test module gives its live server (e.g. a low import threshold); override it there."""
    return {}


@pytest.fixture
def live_app(committed_db: Database, tmp_path: Path, live_settings: dict[str, Any]) -> Flask:
    """The app the live server serves (a test may swap its job dispatcher)."""
    settings = Settings(instance_dir=tmp_path / "instance",
                        database_url=committed_db.engine.url.render_as_string(hide_password=False),
                        secret_key="browser-test-key", **live_settings)
    app = create_app(settings, database=committed_db)
    app.config["ARCHIVEPRINT_TODAY"] = TODAY
    return app


@pytest.fixture
def live_server(live_app: Flask) -> Iterator[str]:
    """The real app on 127.0.0.1 and a free port, on the committed database of the backend under test."""
    app = live_app
    # waitress, the server `archiveprint serve` runs in production. (Werkzeug's dev server leaves a streamed file open
    # when the browser resets the connection mid-download, e.g. the 16 MB CJK web font on navigation; the leaked file
    # surfaced later as a ResourceWarning in an unrelated test.) The loop runs in steps so that the thread which
    # serves is the one that shuts the server down.
    server = create_server(app, host="127.0.0.1", port=0, threads=8, ident="archiveprint-test")
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            wasyncore.loop(timeout=0.05, map=server._map, count=1)
        server.task_dispatcher.shutdown()
        wasyncore.close_all(server._map)

    thread = threading.Thread(target=serve, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    stop.set()
    thread.join(timeout=10)


def sign_in(page: Page, live_server: str, username: str, password: str, *, check: bool = True) -> None:
    """Sign in through the login form as a clerk does; with `check`, wait until the form has gone (signed in)."""
    page.goto(f"{live_server}/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    if check:
        expect(page.get_by_role("button", name="登录")).to_have_count(0)
