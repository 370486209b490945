"""Sign-in and access: Flask-Login sessions, a login wall on every page, and `requires(permission)`."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.exceptions import Forbidden
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from archiveprint.accounts.models import User
from archiveprint.accounts.roles import PERMISSIONS, can
from archiveprint.accounts.scope import apply_scope, scope_for
from archiveprint.accounts.services import authenticate
from archiveprint.web.session import db_session

bp = Blueprint("auth", __name__)
# Endpoints anyone may reach; every other page needs a signed-in user (safe by default).
PUBLIC_ENDPOINTS = frozenset({"auth.login", "auth.logout", "static", "font", "i18n.switch"})

View = TypeVar("View", bound=Callable[..., Any])


class Account(UserMixin):
    """The signed-in user as Flask-Login sees it: the User row of this request's session."""

    def __init__(self, user: User) -> None:
        self.user = user
        self.username = user.username
        self.display_name = user.display_name or user.username
        self.role = user.role

    def get_id(self) -> str:
        # The password fingerprint makes a password change end every other signed-in session.
        return f"{self.user.id}:{_fingerprint(self.user.password_hash)}"

    def can(self, permission: str) -> bool:
        return can(self.role, permission)


def _fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def _load_account(session_id: str) -> Account | None:
    ident, _sep, fingerprint = session_id.partition(":")
    if not ident.isdigit():
        return None
    user = db_session().get(User, int(ident))
    if user is None or not user.active or not hmac.compare_digest(fingerprint, _fingerprint(user.password_hash)):
        return None
    return Account(user)


def current_account() -> Account:
    """The signed-in user (views behind the login wall only)."""
    return cast(Account, current_user._get_current_object())  # type: ignore[attr-defined]


class NotPermitted(Forbidden):
    """403 for a role without the view's permission (the JSON API names the permission in its answer)."""

    def __init__(self, permission: str) -> None:
        super().__init__()
        self.permission = permission


def requires(permission: str) -> Callable[[View], View]:
    """The one way a view declares who may use it: a permission of accounts/roles.py (sign-in page if anonymous,
    403 if not allowed). docs/access.md lists every endpoint's permission; tests/security holds the app to it."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    def decorator(view: View) -> View:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return _ask_to_sign_in()
            if not can(current_user.role, permission):
                raise NotPermitted(permission)
            return view(*args, **kwargs)

        guarded.permission = permission  # type: ignore[attr-defined]
        return cast(View, guarded)

    return decorator


def safe_next_url(target: str | None) -> str:
    """Only a path on this site may follow sign-in or a language switch (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.isprintable():
            return target
    return url_for("register.search")


class LoginInput(FlaskForm):
    username = StringField(_l("用户名"), validators=[DataRequired(_l("请输入用户名")), Length(max=64)])
    password = PasswordField(_l("密码"), validators=[DataRequired(_l("请输入密码")), Length(max=256)])


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(safe_next_url(request.args.get("next")))
    form = LoginInput()
    error = None
    if form.validate_on_submit():
        user = authenticate(db_session(), form.username.data or "", form.password.data or "")
        if user is not None:
            session.clear()  # a fresh session on sign-in: nothing carried over from before
            login_user(Account(user))
            return redirect(safe_next_url(request.args.get("next")))
        error = _("用户名或密码错误")
    return render_template("web/auth/login.html", form=form, error=error)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    logout_user()
    session.clear()
    flash(_("已退出登录"), "info")
    return redirect(url_for("auth.login"))


def _login_wall() -> ResponseReturnValue | None:
    if request.endpoint is None or request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return _ask_to_sign_in()
    # Every query this request makes sees only what the user may see (a village doctor: their villages).
    apply_scope(db_session(), scope_for(current_account().user))
    return None


def _ask_to_sign_in() -> ResponseReturnValue:
    return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]


def init_app(app: Flask) -> None:
    login_manager = LoginManager(app)
    login_manager.user_loader(_load_account)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("请先登录")
    login_manager.login_message_category = "info"
    app.before_request(_login_wall)
    app.register_blueprint(bp)
