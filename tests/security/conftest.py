"""Security tests reuse the web fixtures: the app on a real committed database of each backend, `auth` to sign in."""

import pytest

from archiveprint.accounts import scope as scope_module
from archiveprint.db import Database
from tests.conftest import setup_township
from tests.web.conftest import _jobs_end_with_the_test, app, auth, client, people, recording

__all__ = ["_jobs_end_with_the_test", "app", "auth", "client", "people", "recording"]


@pytest.fixture(autouse=True)
def _scope_self_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every statement of the security walks (every route, endpoint, command and job, two sites) is also compiled
    with all of the scope's criteria; one that gets fewer and reads differently fails the test (accounts/scope.py
    gives a statement only the criteria of the tables it names)."""
    monkeypatch.setattr(scope_module, "SELF_CHECK", True)


@pytest.fixture
def site(committed_db: Database) -> None:
    """The township and its villages (201 东村, 202 西村, 001 城关社区), committed, with no residents."""
    with committed_db.transaction() as session:
        setup_township(session)
