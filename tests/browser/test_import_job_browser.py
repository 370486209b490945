"""A register file above the background threshold, in headless Chromium: progress page, report, apply, result."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from archiveprint.db import Database
from archiveprint.jobs import queue as jobqueue
from archiveprint.register.models import Resident
from archiveprint.web.forms import DISPATCHER
from tests.browser.test_register_browser import sign_in
from tests.conftest import setup_township
from tests.web.conftest import good_export

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots")


@pytest.fixture
def live_settings() -> dict[str, Any]:
    return {"import_background_rows": 2}  # good_export's 3 rows are a "large" file here


class HeldDispatcher:
    """The app's own dispatcher, holding each job until the test lets it go, so the page is seen waiting."""

    def __init__(self, real: jobqueue.Dispatcher) -> None:
        self.real = real
        self.held: list[int] = []
        self.lock = threading.Lock()

    def submit(self, job_id: int) -> None:
        with self.lock:
            self.held.append(job_id)

    def release(self) -> None:
        with self.lock:
            jobs, self.held = self.held, []
        for job_id in jobs:
            self.real.submit(job_id)

    def check(self, *args: Any, **kwargs: Any) -> list[int]:
        return self.real.check(*args, **kwargs)

    def shutdown(self) -> None:
        self.real.shutdown()


@pytest.fixture
def held(live_app: Flask) -> Iterator[HeldDispatcher]:
    dispatcher = HeldDispatcher(live_app.extensions[DISPATCHER])
    live_app.extensions[DISPATCHER] = dispatcher
    yield dispatcher
    dispatcher.shutdown()  # a job still running would outlive its database


def test_a_large_file_shows_its_progress_then_the_report_and_is_imported(page: Page, live_server, held,
                                                                        committed_db, tmp_path):
    with committed_db.transaction() as session:
        setup_township(session)
    sign_in(page, live_server, committed_db)
    page.get_by_role("link", name="导入").click()
    page.set_input_files("#file", str(good_export(tmp_path / "register.csv")))
    page.get_by_label("自动登记新村").check()
    page.get_by_role("button", name="上传并检查").click()

    expect(page.locator("h1")).to_contain_text("检查登记表")
    expect(page.locator("#job-status")).to_have_text("排队中")
    expect(page.locator("#job-count")).to_have_text("0 / 3")  # rows read / the total estimated from the file
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"import-job-{committed_db.engine.dialect.name}.png"), full_page=True)
    held.release()
    # jobs.js polls the job, sees it done and reloads: the page is now the report, as for a small file.
    expect(page.locator(".verdict.good")).to_contain_text("检查通过")
    expect(page.locator("ul.counts")).to_contain_text("3总行数")
    assert _residents(committed_db) == 0

    page.get_by_role("button", name="确认导入").click()
    expect(page.locator("h1")).to_contain_text("导入登记表")
    expect(page.locator("#job-status")).to_have_text("排队中")
    held.release()
    expect(page.locator(".verdict.good")).to_contain_text("已写入：新增 3 人")
    expect(page.locator("h1")).to_contain_text("导入完成")
    assert _residents(committed_db) == 3


def _residents(database: Database) -> int:
    with database.reader() as session:
        return session.scalar(select(func.count(Resident.id))) or 0
