"""Sign-in and access: Flask-Login sessions, a login wall on every page, and `requires(permission)`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import Forbidden
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from archiveprint.accounts.models import User
from archiveprint.accounts.roles import COUNTY_ROLES, PERMISSIONS, can
from archiveprint.accounts.scope import apply_scope, installed_sites, scope_for
from archiveprint.accounts.services import sign_in
from archiveprint.accounts.sessions import end_session, find_live_session, start_session, touch_due, touch_session
from archiveprint.accounts.throttle import TooManyAttempts
from archiveprint.db import BUSY_OPTION, utcnow
from archiveprint.errors import Busy
from archiveprint.web.i18n import message_of
from archiveprint.web.session import READ_METHODS, db_session, state

bp = Blueprint("auth", __name__)
# Endpoints anyone may reach; every other page needs a signed-in user (safe by default).
PUBLIC_ENDPOINTS = frozenset({"auth.login", "auth.logout", "static", "font", "i18n.switch"})
SITE_KEY = "site_id"  # the site a county role works in (the Flask session's; a site's own users have theirs)
# What a county role may open before choosing a site: the list of sites, and their own account.
SITE_FREE_ENDPOINTS = frozenset({"sites.index", "sites.enter", "sites.create", "accounts.my_password",
                                 # a transfer between sites (机构撤并) is the county's, in no one site
                                 "sites.transfer", "sites.transfer_preview", "sites.transfer_confirm",
                                 "sites.transfer_job", "sites.transfer_job_status", "sites.transfer_done",
                                 "sites.transfer_document",
                                 # 全县打印: a print run across sites, each part in its own site (web/county.py)
                                 "county.index", "county.start", "county.run", "county.status", "county.rerun",
                                 "county.download", "county.site_zip", "county.part_file",
                                 # the installation's users: the county administrator manages every site's
                                 "accounts.users", "accounts.create", "accounts.user", "accounts.change_role",
                                 "accounts.reset_password", "accounts.deactivate", "accounts.activate"})

View = TypeVar("View", bound=Callable[..., Any])
TOUCH_WAIT_MS = 200


class Account(UserMixin):
    """The signed-in user as Flask-Login sees it: the User row and the server-side session of this browser."""

    def __init__(self, user: User, token: str) -> None:
        self.user = user
        self.token = token
        self.username = user.username
        self.display_name = user.display_name or user.username
        self.role = user.role

    def get_id(self) -> str:
        # The signed cookie carries the session token; the user loader looks it up in user_sessions on each request.
        return self.token

    def can(self, permission: str) -> bool:
        return can(self.role, permission)


def _load_account(token: str) -> Account | None:
    """The account of an open, recently used session; None (sign in again) if it ended or lapsed."""
    now = utcnow()
    idle = timedelta(hours=state().settings.session_idle_hours)
    found = find_live_session(db_session(), token, now=now, idle=idle)
    if found is None:
        return None
    if touch_due(found, now):
        if request.method in READ_METHODS:
            _touch_quietly(found.id, now)
        else:
            found.last_seen_at = now  # a change request's writer session carries it with the change
    return Account(found.user, token)


def _touch_quietly(session_id: int, now: datetime) -> None:
    """Note that a session was used, on its own short transaction that waits at most 200 ms for a lock; if the
    database is busy, skip it (a page must never fail for this: the next request, within the idle time, tries
    again)."""
    engine = state().database.engine.execution_options(**{BUSY_OPTION: TOUCH_WAIT_MS})
    try:
        with engine.begin() as connection:
            touch_session(connection, session_id, now)
    except (Busy, SQLAlchemyError):
        current_app.logger.info("session %s: last-seen time not written (database busy)", session_id)


def current_account() -> Account:
    """The signed-in user (views behind the login wall only)."""
    return cast(Account, current_user._get_current_object())  # type: ignore[attr-defined]


def current_actor() -> str:
    """The signed-in user's name as a service records it (its `actor` argument)."""
    return current_account().username


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
        db = db_session()
        try:
            user = sign_in(db, form.username.data or "", form.password.data or "",
                           address=request.remote_addr or "-")
        except TooManyAttempts as refusal:
            db.commit()  # the refused try and any lock it started are kept
            return render_template("web/auth/login.html", form=form, error=message_of(refusal)), 429
        if user is not None:
            token = start_session(db, user, now=utcnow())
            db.commit()
            session.clear()  # a fresh session on sign-in: nothing carried over from before
            login_user(Account(user, token))
            return redirect(safe_next_url(request.args.get("next")))
        db.commit()
        error = _("用户名或密码错误")
    return render_template("web/auth/login.html", form=form, error=error)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    token = session.get("_user_id")
    if isinstance(token, str):
        end_session(db_session(), token, "logout", now=utcnow())  # a copy of the cookie is refused from now on
        db_session().commit()
    logout_user()
    session.clear()
    flash(_("已退出登录"), "info")
    return redirect(url_for("auth.login"))


def _login_wall() -> ResponseReturnValue | None:
    if request.endpoint is None or request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return _ask_to_sign_in()
    # Every query this request makes sees only what the user may see: their site (a county role: the site they
    # chose), and a village doctor only their villages.
    user = current_account().user
    chosen = session.get(SITE_KEY) if user.role in COUNTY_ROLES else None
    sites = installed_sites(db_session())
    scope = scope_for(db_session(), user, site_id=chosen if isinstance(chosen, int) else None, sites=sites)
    apply_scope(db_session(), scope)
    g.installed_sites = sites  # the page header names the working site and its township from these (no query)
    if scope.several_sites and scope.site_id is None and request.endpoint not in SITE_FREE_ENDPOINTS:
        return redirect(url_for("sites.index", next=request.full_path))  # a county role: which site first
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
