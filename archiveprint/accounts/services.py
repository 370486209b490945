"""Accounts: create users, check and change passwords, roles and villages, deactivate; write audit rows."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from archiveprint.accounts.models import AuditEntry, User
from archiveprint.accounts.roles import COUNTY_ROLES, ROLES
from archiveprint.accounts.sessions import end_user_sessions
from archiveprint.accounts.throttle import RULES, ThrottleRules, check_throttle, lock_started, record_attempt
from archiveprint.db import utcnow
from archiveprint.errors import N_, Conflict, InvalidValue, NotFound
from archiveprint.eventlog import record_event
from archiveprint.sites.models import working_site

if TYPE_CHECKING:
    from archiveprint.register.models import Village

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    """scrypt from the standard library; the parameters travel with the hash."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    computed = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), dklen=32,
                              n=int(n), r=int(r), p=int(p))
    return hmac.compare_digest(computed.hex(), digest)


# A hash with the same scrypt parameters as every stored one: an unknown or deactivated user name is checked
# against it, so every answer costs exactly one scrypt and timing does not tell which user names exist.
DUMMY_HASH = ("scrypt$16384$8$1$92d4ee5827af42a7d1c018b60d041104$"
              "b797fe20a20c5fe4aa55bed7458788a03d895afb26446dead9929a1fec10bd1f")
MIN_PASSWORD = 8
MAX_PASSWORD = 256


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidValue("密码至少{min_password}位", params={"min_password": MIN_PASSWORD}, field="密码")
    if len(password) > MAX_PASSWORD:
        raise InvalidValue("密码最多{max_password}位", params={"max_password": MAX_PASSWORD}, field="密码")


def _in_order(villages: Sequence[Village]) -> list[Village]:
    """Each village once, by code (as User.villages reads them back)."""
    return [village for _code, village in sorted({v.code: v for v in villages}.items())]


def _check_villages(role: str, villages: Sequence[Village]) -> None:
    if role == "village_doctor" and not villages:
        raise InvalidValue("村医至少要负责一个村(居)委会", field="村(居)委会")
    if role != "village_doctor" and villages:
        raise InvalidValue("只有村医按村(居)委会限定范围，其他角色不选村", field="村(居)委会",
                           value="、".join(v.code for v in villages))


def create_user(session: Session, username: str, password: str, role: str, *,
                display_name: str = "", villages: Sequence[Village] | None = None, actor: str = "system",
                now: datetime | None = None) -> User:
    """A new account. `villages` (the caller looks them up) is required for a village doctor from the users page
    and the CLI; None leaves them to be set later."""
    username = username.strip()
    if not username:
        raise InvalidValue("用户名不能为空", field="用户名")
    if len(username) > 64 or not username.isprintable():
        raise InvalidValue("用户名最多64个字符，且不含控制字符", field="用户名", value=username[:64])
    if role not in ROLES:
        raise InvalidValue("未知角色，可选：{roles}", params={"roles": ", ".join(ROLES)}, field="角色", value=role)
    if villages is not None:
        _check_villages(role, villages)
    check_new_password(password)
    users = User.__table__  # user names are unique in the whole installation, not only in the session's site
    if session.scalar(select(users.c.id).where(users.c.username == username)):
        raise Conflict("用户名已存在", field="用户名", value=username)
    user = User(username=username, password_hash=hash_password(password), role=role,
                display_name=display_name.strip() or username, villages=_in_order(villages or []))
    session.add(user)
    session.flush()
    record_event(session, "user.created", "user", user.id, actor=actor, now=now, username=username, role=role,
                 display_name=user.display_name, villages=[v.code for v in user.villages])
    return user


def find_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        raise NotFound("没有这个用户", field="用户名", value=username.strip()[:64])
    return user


def list_users(session: Session) -> list[User]:
    """Every account, active ones first, then by user name."""
    return list(session.scalars(select(User).options(selectinload(User.villages))
                                .order_by(User.active.desc(), User.username)))


def change_own_password(session: Session, user: User, current: str, new: str, *, keep_token: str | None,
                        now: datetime | None = None) -> None:
    """Anyone's own password (the current one is asked for); every other signed-in browser of theirs ends."""
    if not verify_password(current, user.password_hash):
        raise InvalidValue("当前密码不正确", field="当前密码")
    check_new_password(new)
    now = now or utcnow()
    user.password_hash = hash_password(new)
    end_user_sessions(session, user, "password_changed", now=now, keep_token=keep_token)
    record_event(session, "user.password_changed", "user", user.id, actor=user.username, now=now,
                 username=user.username)
    session.flush()


def reset_password(session: Session, user: User, new: str, *, actor: str, now: datetime | None = None) -> None:
    """An administrator sets a new password (a forgotten one, a locked account): the user's sessions all end."""
    check_new_password(new)
    now = now or utcnow()
    user.password_hash = hash_password(new)
    end_user_sessions(session, user, "password_reset", now=now)
    record_attempt(session, user.username, "-", "reset", now=now)  # lifts a lock of the account
    record_event(session, "user.password_reset", "user", user.id, actor=actor, now=now, username=user.username)
    session.flush()


def _active_admins(session: Session) -> list[int]:
    """Ids of the active administrators, locked until commit on PostgreSQL (two admins demoting each other)."""
    stmt = select(User.id).where(User.role == "admin", User.active.is_(True)).with_for_update()
    return list(session.scalars(stmt))


def _keep_an_admin(session: Session, user: User, what: str) -> None:
    if user.role == "admin" and user.active and _active_admins(session) == [user.id]:
        raise Conflict("{username} 是最后一个在用的管理员，不能{what}：请先让另一位用户成为管理员",
                       params={"username": user.username, "what": what}, field="用户", value=user.username)


def change_role(session: Session, user: User, role: str, *, villages: Sequence[Village] | None = None,
                actor: str, now: datetime | None = None) -> bool:
    """A new role (and, for a village doctor, the villages served); the user's sessions end, they sign in again.

    Returns whether anything changed.
    """
    if role not in ROLES:
        raise InvalidValue("未知角色，可选：{roles}", params={"roles": ", ".join(ROLES)}, field="角色", value=role)
    villages = _in_order(villages) if villages is not None else (list(user.villages) if role == user.role else [])
    _check_villages(role, villages)
    if role == user.role:
        return role == "village_doctor" and set_villages(session, user, villages, actor=actor, now=now)
    if user.role == "admin":
        _keep_an_admin(session, user, N_("改为其他角色"))
    now = now or utcnow()
    before = user.role
    user.role = role
    user.villages = villages
    end_user_sessions(session, user, "role_changed", now=now)  # while the user is still in the scope's site
    if role in COUNTY_ROLES:
        user.site_id = None  # a county role belongs to no site: no site's administrator may reset its password
    elif before in COUNTY_ROLES:
        user.site_id = working_site(session)  # back to a site role: the site it is given in
    record_event(session, "user.role_changed", "user", user.id, actor=actor, now=now, username=user.username,
                 role=[before, role], villages=[v.code for v in villages])
    session.flush()
    return True


def set_villages(session: Session, user: User, villages: Sequence[Village], *, actor: str,
                 now: datetime | None = None) -> bool:
    """The villages a village doctor serves (at least one); the doctor's sessions end when they change.

    Returns whether they changed.
    """
    if user.role != "village_doctor":
        raise InvalidValue("只有村医按村(居)委会限定范围", field="角色", value=ROLES[user.role])
    _check_villages(user.role, villages)
    before = [v.code for v in user.villages]
    after = _in_order(villages)
    if before == [v.code for v in after]:
        return False
    now = now or utcnow()
    user.villages = after
    end_user_sessions(session, user, "villages_changed", now=now)
    record_event(session, "user.villages_changed", "user", user.id, actor=actor, now=now, username=user.username,
                 villages=[before, [v.code for v in after]])
    session.flush()
    return True


def deactivate_user(session: Session, user: User, *, actor: str, now: datetime | None = None) -> None:
    """A departed staff member: cannot sign in, and every open session ends now. Their history stays."""
    if not user.active:
        return
    _keep_an_admin(session, user, N_("停用"))
    now = now or utcnow()
    user.active = False
    end_user_sessions(session, user, "deactivated", now=now)
    record_event(session, "user.deactivated", "user", user.id, actor=actor, now=now, username=user.username)
    session.flush()


def activate_user(session: Session, user: User, *, actor: str, now: datetime | None = None) -> None:
    if user.active:
        return
    user.active = True
    record_event(session, "user.activated", "user", user.id, actor=actor, now=now, username=user.username)
    session.flush()


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this name and password, or None; one scrypt either way (no timing oracle)."""
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None or not user.active:
        verify_password(password, DUMMY_HASH)
        return None
    return user if verify_password(password, user.password_hash) else None


def sign_in(session: Session, username: str, password: str, *, address: str, now: datetime | None = None,
            rules: ThrottleRules = RULES) -> User | None:
    """A sign-in try, throttled per user name and per address (growing delays, then a temporary lock).

    Raises TooManyAttempts (a Chinese message with the wait) before the password is looked at; returns None for a
    wrong name or password. Every try is recorded; a lock that starts is written to the audit log.
    """
    now = now or utcnow()
    username = username.strip()[:64]
    refusal = check_throttle(session, username, address, now=now, rules=rules)
    if refusal is not None:
        record_attempt(session, username, address, "locked" if refusal.locked else "throttled", now=now)
        if not refusal.locked:
            _audit_locks(session, username, address, now=now, rules=rules)
        raise refusal
    user = authenticate(session, username, password)
    record_attempt(session, username, address, "ok" if user else "failed", now=now)
    if user is None:
        _audit_locks(session, username, address, now=now, rules=rules)
    return user


def _audit_locks(session: Session, username: str, address: str, *, now: datetime, rules: ThrottleRules) -> None:
    for kind, key in lock_started(session, username, address, now=now, rules=rules):
        user = session.scalar(select(User).where(User.username == username)) if kind == "user" else None
        if kind == "user" and user is None:
            key = "（不存在的用户名）"  # what was typed may be a password in the wrong field: not kept
        audit(session, None, "login_locked", kind, key, now=now,
              detail=f"登录失败 {rules.lock_after if kind == 'user' else rules.address_lock_after} 次，"
                     f"锁定 {rules.lock_minutes} 分钟；来自 {address}")


def audit(session: Session, user: User | None, action: str, subject_type: str, subject_id: object, *,
          detail: str = "", now: datetime | None = None, site_id: int | None = None) -> None:
    """Record that a person's data was viewed, printed or exported (in the caller's transaction); in the session's
    site, or in `site_id` (a county print run's download: one row in each site whose people it holds)."""
    session.add(AuditEntry(
        site_id=site_id,
        at=now or utcnow(),
        user_id=user.id if user else None,
        username=user.username if user else "system",
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        detail=detail[:500],
    ))
