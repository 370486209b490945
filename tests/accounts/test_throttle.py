"""Sign-in throttling (#11.6): growing delays, a temporary lock per account and per address, one scrypt per try."""

from __future__ import annotations

import contextlib
import hashlib
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from archiveprint.accounts import services
from archiveprint.accounts.models import AuditEntry, LoginAttempt
from archiveprint.accounts.throttle import RULES, TooManyAttempts, name_key, wait_for

T0 = datetime(2026, 11, 25, 2, 0)
PASSWORD = "correct-horse-9"
HERE = "10.0.0.7"


def _at(*seconds: float) -> list[datetime]:
    return [T0 + timedelta(seconds=s) for s in seconds]


def _account_wait(failures: list[datetime], now: datetime):  # type: ignore[no-untyped-def]
    return wait_for(failures, now, delay_after=3, lock_after=10, rules=RULES)


def test_delays_grow_then_the_lock_falls():
    assert _account_wait(_at(0, 1), T0 + timedelta(seconds=1)) is None  # two failures are free
    third = _account_wait(_at(0, 1, 2), T0 + timedelta(seconds=2))
    assert (third.seconds, third.locked) == (1, False)
    assert _account_wait(_at(0, 1, 2, 4), T0 + timedelta(seconds=4)).seconds == 2
    assert _account_wait(_at(0, 1, 2, 4, 6), T0 + timedelta(seconds=6)).seconds == 4
    assert _account_wait(_at(0, 1, 2, 4, 6), T0 + timedelta(seconds=10)) is None  # waited long enough
    assert _account_wait(_at(*range(9)), T0 + timedelta(seconds=8)).seconds == 60  # capped
    locked = _account_wait(_at(*range(10)), T0 + timedelta(seconds=9))
    assert (locked.seconds, locked.locked) == (900, True)
    assert _account_wait(_at(*range(10)), T0 + timedelta(seconds=908)).seconds == 1  # 15 min from the 10th
    assert _account_wait(_at(*range(10)), T0 + timedelta(seconds=909)) is None


def _try(session, username: str, password: str, *, at: float, address: str = HERE):  # type: ignore[no-untyped-def]
    return services.sign_in(session, username, password, address=address, now=T0 + timedelta(seconds=at))


def test_forty_guesses_lock_the_account_even_for_the_right_password(session, township):
    user = services.create_user(session, "clerk1", PASSWORD, "clerk")
    refusals = []
    for n in range(40):  # as fast as a script sends them: 0.05 s apart
        try:
            assert _try(session, "clerk1", f"guess-{n:04d}", at=n * 0.05) is None
        except TooManyAttempts as refusal:
            refusals.append(refusal)
    assert len(refusals) == 37  # only the first three were checked at all
    with pytest.raises(TooManyAttempts, match="该账号登录失败次数过多，已暂时锁定，请 15 分钟后再试") as locked:
        _try(session, "clerk1", PASSWORD, at=2.0)
    assert locked.value.locked
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "login_locked")).all()
    assert [(a.subject_type, a.subject_id, a.username) for a in audit] == [("user", "clerk1", "system")]
    assert "来自 10.0.0.7" in audit[0].detail
    # The lock lifts after 15 minutes (counted from the try that set it), or at once when an admin resets the password.
    assert _try(session, "clerk1", PASSWORD, at=0.45 + 15 * 60) is user


def test_a_password_reset_lifts_the_lock(session, township):
    user = services.create_user(session, "clerk2", PASSWORD, "clerk")
    for n in range(12):
        with contextlib.suppress(TooManyAttempts):
            _try(session, "clerk2", "wrong-pass", at=n)
    with pytest.raises(TooManyAttempts):
        _try(session, "clerk2", PASSWORD, at=13)
    services.reset_password(session, user, "fresh-secret-1", actor="admin", now=T0 + timedelta(seconds=14))
    assert _try(session, "clerk2", "fresh-secret-1", at=15) is user


def test_a_wait_is_a_reply_not_a_sleep(session, township):
    services.create_user(session, "clerk3", PASSWORD, "clerk")
    for n in range(3):
        assert _try(session, "clerk3", "wrong-pass", at=n * 10) is None
    with pytest.raises(TooManyAttempts, match="登录尝试过于频繁，请 1 秒后再试"):
        _try(session, "clerk3", PASSWORD, at=20.5)
    with pytest.raises(TooManyAttempts, match="请 2 秒后再试"):  # the refused try counts: the next wait doubles
        _try(session, "clerk3", PASSWORD, at=20.6)
    assert _try(session, "clerk3", PASSWORD, at=25) is not None  # a success starts the count again
    assert _try(session, "clerk3", "wrong-pass", at=26) is None
    outcomes = session.scalars(select(LoginAttempt.outcome).where(LoginAttempt.name_hash == name_key("clerk3"))
                               .order_by(LoginAttempt.id)).all()
    assert outcomes == ["failed", "failed", "failed", "throttled", "throttled", "ok", "failed"]


def test_one_address_guessing_many_user_names_is_throttled_then_locked(session, township):
    user = services.create_user(session, "doctor1", PASSWORD, "doctor")
    for n in range(10):  # ten different names, none of them delayed by the account rule
        assert _try(session, f"name{n}", "wrong-pass", at=n) is None
    with pytest.raises(TooManyAttempts, match="过于频繁"):
        _try(session, "doctor1", PASSWORD, at=9.5)
    assert _try(session, "doctor1", PASSWORD, at=11, address="10.0.0.8") is user  # another PC is not slowed
    for n in range(10, 40):
        with contextlib.suppress(TooManyAttempts):
            _try(session, f"name{n}", "wrong-pass", at=n * 0.1 + 10)
    with pytest.raises(TooManyAttempts, match="此电脑登录失败次数过多，已暂时锁定"):
        _try(session, "doctor1", PASSWORD, at=20)
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "login_locked")).all()
    assert [(a.subject_type, a.subject_id) for a in audit] == [("address", HERE)]
    stored = " ".join(str(row) for row in session.execute(select(LoginAttempt.__table__)))
    assert "name1" not in stored and "wrong-pass" not in stored  # typed names are kept only as hashes


def test_unknown_and_known_user_names_cost_one_scrypt_each(session, township, monkeypatch):
    services.create_user(session, "known", PASSWORD, "clerk")
    inactive = services.create_user(session, "gone", PASSWORD, "clerk")
    services.deactivate_user(session, inactive, actor="admin")
    calls: list[int] = []
    real = hashlib.scrypt

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs.get("n", 0))
        return real(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counting)
    for username in ("known", "nobody-like-this", "gone"):
        calls.clear()
        assert services.authenticate(session, username, "wrong-pass") is None
        assert calls == [2**14], username
    assert services.DUMMY_HASH.split("$")[1:4] == ["16384", "8", "1"]  # the same cost as every stored hash
    for n, username in enumerate(("known", "nobody-like-this")):  # the whole sign-in path, throttle included
        calls.clear()
        assert _try(session, username, "wrong-pass", at=n, address=f"10.2.0.{n}") is None
        assert calls == [2**14], username


def test_a_burst_of_parallel_guesses_gets_three_password_checks(committed_db):
    """Twenty tries at the same instant from eight threads: the tries of one user name queue, so only the three free
    ones reach the password check (PostgreSQL: an advisory lock; SQLite: the writer lock)."""
    from concurrent.futures import ThreadPoolExecutor

    with committed_db.transaction() as session:
        services.create_user(session, "target", PASSWORD, "clerk")

    def guess(n: int) -> str:
        with committed_db.transaction() as session:  # the refused try is committed too, as the login page does
            try:
                services.sign_in(session, "target", f"guess-{n}", address=f"10.1.0.{n}", now=T0)
            except TooManyAttempts as refusal:
                return "locked" if refusal.locked else "throttled"
            return "failed"

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(guess, range(20)))
    assert answers.count("failed") == 3
    with committed_db.reader() as session:
        outcomes = session.scalars(select(LoginAttempt.outcome).order_by(LoginAttempt.id)).all()
    assert outcomes == ["failed"] * 3 + ["throttled"] * 7 + ["locked"] * 10
