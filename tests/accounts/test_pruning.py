"""Sign-in records are kept only as long as something needs them: the daily retention run removes sessions that
ended or went unused 90 days ago and login attempts older than that (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from archiveprint.accounts import services
from archiveprint.accounts.models import LoginAttempt, UserSession
from archiveprint.accounts.sessions import KEEP_SIGN_IN_RECORDS, end_session, start_session
from archiveprint.config import Settings
from archiveprint.db import utcnow
from archiveprint.jobs.retention import clean_if_due


def test_the_daily_run_prunes_old_sessions_and_attempts(committed_db, tmp_path):
    now = utcnow()
    old = now - KEEP_SIGN_IN_RECORDS - timedelta(days=1)
    recent = now - timedelta(days=3)
    with committed_db.transaction() as session:
        user = services.create_user(session, "wang", "correct-horse-9", role="clerk", actor="tester")
        start_session(session, user, now=old)  # last used long ago (never ended: lapsed)
        end_session(session, start_session(session, user, now=old), "logout", now=old + timedelta(hours=1))
        start_session(session, user, now=recent)  # in use
        session.add_all([LoginAttempt(at=old, name_hash="a" * 64, address="10.0.0.7", outcome="bad"),
                         LoginAttempt(at=recent, name_hash="a" * 64, address="10.0.0.7", outcome="bad")])
    settings = Settings(instance_dir=tmp_path / "instance", secret_key="test",
                        database_url=committed_db.engine.url.render_as_string(False))
    report = clean_if_due(settings, committed_db, now=now)
    assert report is not None and (report.pruned_sessions, report.pruned_attempts) == (2, 1)
    with committed_db.reader() as session:
        assert [row.created_at for row in session.scalars(select(UserSession))] == [recent]
        assert [row.at for row in session.scalars(select(LoginAttempt))] == [recent]
