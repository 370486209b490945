"""Create users, check passwords, write audit rows."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiveprint.accounts.models import AuditEntry, User
from archiveprint.accounts.roles import ROLES
from archiveprint.db import utcnow
from archiveprint.errors import Conflict, InvalidValue

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


def create_user(session: Session, username: str, password: str, role: str, *,
                display_name: str = "") -> User:
    username = username.strip()
    if not username:
        raise InvalidValue("用户名不能为空", field="用户名")
    if role not in ROLES:
        raise InvalidValue(f"未知角色，可选：{', '.join(ROLES)}", field="角色", value=role)
    if len(password) < 8:
        raise InvalidValue("密码至少8位", field="密码")
    if session.scalar(select(User).where(User.username == username)):
        raise Conflict("用户名已存在", field="用户名", value=username)
    user = User(username=username, password_hash=hash_password(password), role=role,
                display_name=display_name or username)
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None or not user.active:
        # Spend the same time as a real check so user names cannot be probed by timing.
        verify_password(password, hash_password("timing-equaliser"))
        return None
    return user if verify_password(password, user.password_hash) else None


def audit(session: Session, user: User | None, action: str, subject_type: str, subject_id: object, *,
          detail: str = "", now: datetime | None = None) -> None:
    """Record that a person's data was viewed, printed or exported (in the caller's transaction)."""
    session.add(AuditEntry(
        at=now or utcnow(),
        user_id=user.id if user else None,
        username=user.username if user else "system",
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        detail=detail[:500],
    ))
