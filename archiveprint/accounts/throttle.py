"""Sign-in throttling: growing delays, then a temporary lock, per account and per address (rows in the database)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from archiveprint.accounts.models import LoginAttempt
from archiveprint.errors import N_, ArchiveprintError, Message

COUNTED = ("failed", "throttled")  # a try refused during a delay counts too: hammering leads to the lock sooner


@dataclass(frozen=True)
class ThrottleRules:
    """How many failures are free, when delays start and when the lock falls, per account and per address."""

    delay_after: int = 3  # failures of one account before each further try must wait
    lock_after: int = 10  # failures of one account before it is locked
    address_delay_after: int = 10  # failures from one address (any user names) before delays
    address_lock_after: int = 30
    max_delay_seconds: int = 60
    lock_minutes: int = 15  # also the window failures are counted in

    @property
    def lock(self) -> timedelta:
        return timedelta(minutes=self.lock_minutes)


RULES = ThrottleRules()


class TooManyAttempts(ArchiveprintError):
    """Sign-in refused without looking at the password: wait `seconds` (locked: the temporary lock is on)."""

    status = 429

    def __init__(self, message: str, *, seconds: int, locked: bool) -> None:
        super().__init__(message)
        self.seconds = seconds
        self.locked = locked


@dataclass(frozen=True)
class Wait:
    seconds: int
    locked: bool


def wait_for(failures: Sequence[datetime], now: datetime, *, delay_after: int, lock_after: int,
             rules: ThrottleRules) -> Wait | None:
    """How long the next try must wait after these failures (oldest first, within the window), or None."""
    count = len(failures)
    if count >= lock_after:
        until = failures[lock_after - 1] + rules.lock
        if now < until:
            return Wait(math.ceil((until - now).total_seconds()), True)
    if count >= delay_after:
        delay = min(2 ** (count - delay_after), rules.max_delay_seconds)
        until = failures[-1] + timedelta(seconds=delay)
        if now < until:
            return Wait(math.ceil((until - now).total_seconds()), False)
    return None


def _failures(session: Session, column: object, key: str, since: datetime) -> list[datetime]:
    stmt = (select(LoginAttempt.at).where(column == key, LoginAttempt.at > since,
                                          LoginAttempt.outcome.in_(COUNTED))
            .order_by(LoginAttempt.at, LoginAttempt.id))
    return list(session.scalars(stmt))


def name_key(username: str) -> str:
    """What the attempts table keeps of a typed user name: its SHA-256 (a password typed into the name field by
    mistake is never stored)."""
    return hashlib.sha256(username.encode()).hexdigest()


def account_failures(session: Session, username: str, *, now: datetime, rules: ThrottleRules = RULES
                     ) -> list[datetime]:
    """Failures of a user name within the window, since its last success (or password reset)."""
    key = name_key(username)
    last_good = session.scalar(select(func.max(LoginAttempt.at)).where(
        LoginAttempt.name_hash == key, LoginAttempt.outcome.in_(("ok", "reset"))))
    since = max(now - rules.lock, last_good) if last_good else now - rules.lock
    return _failures(session, LoginAttempt.name_hash, key, since)


def address_failures(session: Session, address: str, *, now: datetime, rules: ThrottleRules = RULES
                     ) -> list[datetime]:
    """Failures from one address within the window, whatever user names were typed."""
    return _failures(session, LoginAttempt.address, address, now - rules.lock)


def check_throttle(session: Session, username: str, address: str, *, now: datetime,
                   rules: ThrottleRules = RULES) -> TooManyAttempts | None:
    """The refusal this try gets before its password is looked at (alike for known and unknown user names).

    On PostgreSQL the tries of one user name queue on a transaction lock, so a burst of parallel guesses cannot all
    read "no failures yet" (SQLite's writer lock, taken at BEGIN IMMEDIATE, already queues them).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"login:{name_key(username)}"})
    by_account = wait_for(account_failures(session, username, now=now, rules=rules), now,
                          delay_after=rules.delay_after, lock_after=rules.lock_after, rules=rules)
    by_address = wait_for(address_failures(session, address, now=now, rules=rules), now,
                          delay_after=rules.address_delay_after, lock_after=rules.address_lock_after, rules=rules)
    waits = [w for w in (by_account, by_address) if w is not None]
    if not waits:
        return None
    longest = max(waits, key=lambda w: (w.locked, w.seconds))
    if longest.locked:
        minutes = math.ceil(longest.seconds / 60)
        who = N_("该账号") if longest is by_account else N_("此电脑")
        locked = Message("{who}登录失败次数过多，已暂时锁定，请 {minutes} 分钟后再试（或请管理员重设密码）",
                         {"who": who, "minutes": minutes})
        return TooManyAttempts(locked, seconds=longest.seconds, locked=True)
    return TooManyAttempts(Message("登录尝试过于频繁，请 {seconds} 秒后再试", {"seconds": longest.seconds}),
                           seconds=longest.seconds, locked=False)


def record_attempt(session: Session, username: str, address: str, outcome: str, *, now: datetime) -> None:
    session.add(LoginAttempt(at=now, name_hash=name_key(username), address=address[:64], outcome=outcome))
    session.flush()


def lock_started(session: Session, username: str, address: str, *, now: datetime,
                 rules: ThrottleRules = RULES) -> list[tuple[str, str]]:
    """Which locks the try just recorded has switched on: [("user", name)] and/or [("address", addr)]."""
    started = []
    if len(account_failures(session, username, now=now, rules=rules)) == rules.lock_after:
        started.append(("user", username))
    if len(address_failures(session, address, now=now, rules=rules)) == rules.address_lock_after:
        started.append(("address", address))
    return started
