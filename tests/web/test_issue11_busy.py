"""#11.10: while another connection holds the database's write lock, a page says 系统正忙 (503) within seconds,
and shows none of the data whose audit row could not be written."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text

from archiveprint.config import Settings
from archiveprint.db import Database
from archiveprint.web import create_app
from tests.conftest import TODAY
from tests.web.conftest import AuthActions, People

BUSY = "系统正忙，请稍后重试"


@pytest.fixture
def app(committed_db: Database, tmp_path: Path) -> Iterator[Flask]:
    settings = Settings(instance_dir=tmp_path / "instance",
                        database_url=committed_db.engine.url.render_as_string(hide_password=False),
                        secret_key="test-secret-key", web_busy_seconds=1)
    app = create_app(settings, database=committed_db)
    app.config.update(TESTING=True, ARCHIVEPRINT_TODAY=TODAY)
    yield app


@contextmanager
def write_lock_held(database: Database) -> Iterator[None]:
    """Another connection holds the write lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: the audit table locked) until
    the test releases it through an event."""
    held, release, failed = threading.Event(), threading.Event(), []

    def hold() -> None:
        try:
            if database.is_sqlite:
                connection = sqlite3.connect(database.engine.url.database, isolation_level=None)
                connection.execute("BEGIN IMMEDIATE")
                held.set()
                release.wait()
                connection.execute("ROLLBACK")
                connection.close()
            else:
                with database.engine.connect() as connection:
                    connection.execute(text("LOCK TABLE audit_log IN EXCLUSIVE MODE"))
                    held.set()
                    release.wait()
                    connection.rollback()
        except BaseException as error:  # reported to the test below
            failed.append(error)
            held.set()

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait()
    assert not failed, failed
    try:
        yield
    finally:
        release.set()
        holder.join()


def test_issue_11_10_a_page_answers_busy_within_seconds_while_the_database_is_locked(
        client, auth: AuthActions, people: People, committed_db: Database) -> None:
    auth.login("clerk")
    with write_lock_held(committed_db):
        started = time.monotonic()
        page = client.get(f"/households/{people.household}")
        elapsed = time.monotonic() - started
        assert page.status_code == 503
        body = page.get_data(as_text=True)
        assert BUSY in body
        assert people.head not in body and "东村1组8号" not in body  # no data leaves without its audit row
        assert elapsed < 4, elapsed  # the page's wait (1 s here, 5 s by default), not SQLite's 30 s

        located = client.get(f"/api/v1/locate?q={people.head}")
        assert located.status_code == 503
        assert located.get_json()["error"] == BUSY
        assert people.head not in located.get_data(as_text=True)
    page = client.get(f"/households/{people.household}")
    assert page.status_code == 200
    assert people.head in page.get_data(as_text=True)
