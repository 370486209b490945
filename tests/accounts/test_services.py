"""Accounts (#11.4): create with villages, passwords, roles, deactivation, the last administrator, events."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from archiveprint.accounts import services
from archiveprint.accounts.models import UserSession
from archiveprint.accounts.sessions import find_live_session, start_session
from archiveprint.errors import Conflict, InvalidValue
from archiveprint.eventlog import Event, list_events
from archiveprint.register.services import find_village

NOW = datetime(2026, 11, 25, 2, 0)
IDLE = timedelta(hours=10)
PASSWORD = "correct-horse-9"


@pytest.fixture
def villages(session, township):
    return {code: find_village(session, code) for code in ("201", "202")}


def test_a_village_doctor_needs_at_least_one_village(session, villages):
    with pytest.raises(InvalidValue, match="村医至少要负责一个村"):
        services.create_user(session, "wang", PASSWORD, "village_doctor", villages=[], actor="admin")
    wang = services.create_user(session, "wang", PASSWORD, "village_doctor", villages=[villages["202"],
                                villages["201"]], actor="admin", now=NOW)
    assert [v.code for v in wang.villages] == ["201", "202"]
    with pytest.raises(InvalidValue, match="只有村医"):
        services.create_user(session, "li", PASSWORD, "clerk", villages=[villages["201"]], actor="admin")
    with pytest.raises(InvalidValue, match="村医至少要负责一个村"):
        services.set_villages(session, wang, [], actor="admin")


def test_every_change_is_an_event_with_its_actor_and_never_a_password(session, villages):
    user = services.create_user(session, "zhao", PASSWORD, "clerk", actor="admin", now=NOW)
    services.reset_password(session, user, "another-secret-7", actor="admin", now=NOW)
    services.change_role(session, user, "village_doctor", villages=[villages["201"]], actor="admin", now=NOW)
    services.set_villages(session, user, [villages["201"], villages["202"]], actor="admin", now=NOW)
    services.deactivate_user(session, user, actor="admin", now=NOW)
    services.activate_user(session, user, actor="admin", now=NOW)
    services.change_own_password(session, user, "another-secret-7", "third-secret-11", keep_token=None, now=NOW)
    events = list_events(session, "user", user.id)
    assert [(e.kind, e.actor) for e in events] == [
        ("user.created", "admin"), ("user.password_reset", "admin"), ("user.role_changed", "admin"),
        ("user.villages_changed", "admin"), ("user.deactivated", "admin"), ("user.activated", "admin"),
        ("user.password_changed", "zhao")]
    assert events[2].data["role"] == ["clerk", "village_doctor"]
    assert events[3].data["villages"] == [["201"], ["201", "202"]]
    stored = " ".join(str(e.data) for e in session.scalars(select(Event)))
    for secret in (PASSWORD, "another-secret-7", "third-secret-11"):
        assert secret not in stored
    assert services.authenticate(session, "zhao", "third-secret-11") is user


def test_own_password_change_needs_the_current_one(session, township):
    user = services.create_user(session, "qian", PASSWORD, "doctor")
    with pytest.raises(InvalidValue, match="当前密码不正确"):
        services.change_own_password(session, user, "wrong-one-123", "new-secret-12", keep_token=None)
    with pytest.raises(InvalidValue, match="密码至少8位"):
        services.change_own_password(session, user, PASSWORD, "short", keep_token=None)
    assert services.authenticate(session, "qian", PASSWORD) is user


def test_the_last_active_admin_cannot_be_deactivated_or_demoted(session, township):
    boss = services.create_user(session, "boss", PASSWORD, "admin")
    assert services.change_role(session, boss, "admin", actor="boss") is False  # nothing to change: allowed
    with pytest.raises(Conflict, match="最后一个在用的管理员，不能停用"):
        services.deactivate_user(session, boss, actor="boss")
    with pytest.raises(Conflict, match="最后一个在用的管理员，不能改为其他角色"):
        services.change_role(session, boss, "clerk", actor="boss")
    second = services.create_user(session, "second", PASSWORD, "admin")
    services.deactivate_user(session, second, actor="boss")
    with pytest.raises(Conflict):  # the other admin is deactivated: boss is still the last active one
        services.deactivate_user(session, boss, actor="boss")
    services.activate_user(session, second, actor="boss")
    services.change_role(session, boss, "clerk", actor="boss")
    assert boss.role == "clerk"


def test_changes_end_the_users_sessions(session, villages):
    user = services.create_user(session, "sun", PASSWORD, "village_doctor", villages=[villages["201"]])
    admin = services.create_user(session, "boss", PASSWORD, "admin")
    steps = [
        ("villages_changed", lambda: services.set_villages(session, user, [villages["202"]], actor="boss")),
        ("role_changed", lambda: services.change_role(session, user, "doctor", actor="boss")),
        ("password_reset", lambda: services.reset_password(session, user, "new-secret-12", actor="boss")),
        ("deactivated", lambda: services.deactivate_user(session, user, actor="boss")),
    ]
    for reason, change in steps:
        token = start_session(session, user, now=NOW)
        other = start_session(session, admin, now=NOW)
        change()
        session.expire_all()
        assert find_live_session(session, token, now=NOW, idle=IDLE) is None, reason
        row = session.scalar(select(UserSession).order_by(UserSession.id.desc()).where(UserSession.user_id == user.id))
        assert row.ended_reason == reason
        assert find_live_session(session, other, now=NOW, idle=IDLE) is not None  # someone else's stays


def test_own_password_change_keeps_this_browser_and_ends_the_others(session, township):
    user = services.create_user(session, "li", PASSWORD, "clerk")
    here = start_session(session, user, now=NOW)
    elsewhere = start_session(session, user, now=NOW)
    services.change_own_password(session, user, PASSWORD, "new-secret-12", keep_token=here, now=NOW)
    assert find_live_session(session, here, now=NOW, idle=IDLE) is not None
    assert find_live_session(session, elsewhere, now=NOW, idle=IDLE) is None


def test_a_session_lapses_after_the_idle_time(session, township):
    user = services.create_user(session, "zhou", PASSWORD, "clerk")
    token = start_session(session, user, now=NOW)
    assert find_live_session(session, token, now=NOW + IDLE, idle=IDLE) is not None
    assert find_live_session(session, token, now=NOW + IDLE + timedelta(seconds=1), idle=IDLE) is None
    assert find_live_session(session, "not-a-token", now=NOW, idle=IDLE) is None
    stored = session.scalar(select(UserSession.token_hash))
    assert stored != token and len(stored) == 64  # only the hash is kept
