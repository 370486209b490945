"""Signed-in sessions kept on the server: started at sign-in, ended on logout and on account changes, lapsing idle."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, or_, select, update
from sqlalchemy.orm import Session, joinedload

from archiveprint.accounts.models import LoginAttempt, User, UserSession

TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often (not on every request)


def token_hash(token: str) -> str:
    """The database keeps only this, so a copy of the table signs no one in."""
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, user: User, *, now: datetime) -> str:
    """A new session for a user who just signed in; returns the token the cookie carries."""
    token = secrets.token_urlsafe(32)
    session.add(UserSession(token_hash=token_hash(token), user_id=user.id, created_at=now, last_seen_at=now))
    session.flush()
    return token


def find_live_session(session: Session, token: str, *, now: datetime, idle: timedelta) -> UserSession | None:
    """The open session of this token, unless it ended, lapsed after `idle` unused, or its user was deactivated."""
    if not token or len(token) > 100:
        return None
    found = session.scalar(select(UserSession).where(UserSession.token_hash == token_hash(token),
                                                     UserSession.ended_at.is_(None))
                           .options(joinedload(UserSession.user, innerjoin=True)))  # every request: one statement
    if found is None or now - found.last_seen_at > idle or not found.user.active:
        return None
    return found


def touch_due(found: UserSession, now: datetime) -> bool:
    return now - found.last_seen_at >= TOUCH_EVERY


def end_session(session: Session, token: str, reason: str, *, now: datetime) -> None:
    """Sign one browser out on the server: its cookie is refused from now on, even a copy of it."""
    session.execute(update(UserSession)
                    .where(UserSession.token_hash == token_hash(token), UserSession.ended_at.is_(None))
                    .values(ended_at=now, ended_reason=reason))


def end_user_sessions(session: Session, user: User, reason: str, *, now: datetime,
                      keep_token: str | None = None) -> int:
    """End every open session of a user (all of them, or all but the browser that made the change)."""
    stmt = (update(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
            .values(ended_at=now, ended_reason=reason))
    if keep_token:
        stmt = stmt.where(UserSession.token_hash != token_hash(keep_token))
    return session.execute(stmt.execution_options(synchronize_session=False)).rowcount or 0


def touch_session(connection: Connection, session_id: int, now: datetime) -> None:
    """Write last_seen_at (the caller's own short transaction, see TOUCH_EVERY)."""
    connection.execute(update(UserSession).where(UserSession.id == session_id).values(last_seen_at=now))


KEEP_SIGN_IN_RECORDS = timedelta(days=90)  # ended sessions and login attempts, once no rule looks back that far


def prune_sign_in_records(session: Session, *, now: datetime,
                          keep: timedelta = KEEP_SIGN_IN_RECORDS) -> tuple[int, int]:
    """Remove sessions that ended (or were last used) more than `keep` ago and login attempts older than that:
    they are kept to throttle guessing and to end sessions on the server, and nothing needs them for longer (the
    locks they caused are in the audit log). Returns (sessions, attempts) removed."""
    cutoff = now - keep
    sessions = session.execute(delete(UserSession).where(
        or_(UserSession.ended_at < cutoff, UserSession.last_seen_at < cutoff))
        .execution_options(synchronize_session=False)).rowcount or 0
    attempts = session.execute(delete(LoginAttempt).where(LoginAttempt.at < cutoff)
                               .execution_options(synchronize_session=False)).rowcount or 0
    return sessions, attempts
