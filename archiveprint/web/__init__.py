"""The web app: create_app builds Flask from Settings, with sign-in, CSRF, two languages and one blueprint per job."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, abort, request, send_from_directory
from flask_wtf import CSRFProtect
from sqlalchemy.exc import SQLAlchemyError

from archiveprint import resources
from archiveprint.config import Settings
from archiveprint.db import Database
from archiveprint.errors import NotConfigured
from archiveprint.migrate import current_revision, head_revision, upgrade
from archiveprint.web import (
    accounts,
    api,
    auth,
    cookies,
    errors,
    forms,
    i18n,
    inventory,
    labels,
    lending,
    locations,
    printers,
    register,
    session,
)

UPLOAD_LIMIT = 64 * 1024 * 1024  # a whole township's register export is a few MB
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")


def create_app(settings: Settings | None = None, database: Database | None = None) -> Flask:
    """Build the app; a test passes its own Settings and database, `archiveprint serve` passes neither."""
    settings = settings or Settings.from_env()
    settings.ensure_instance_dir()
    if database is None:
        database = Database.connect(settings.database_url)
    _bring_schema_to_head(database)

    templates = resources.template_dir()
    app = Flask(__name__, template_folder=str(templates), static_folder=str(templates / "web" / "static"),
                instance_path=str(Path(settings.instance_dir).resolve()))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=UPLOAD_LIMIT,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=12 * 3600,  # a form left open over a working day still submits
    )
    app.jinja_env.autoescape = True  # names are data, never markup, in every template
    cookies.init_app(app, settings)
    CSRFProtect(app)
    session.init_app(app, session.WebState(settings=settings, database=database))
    i18n.init_app(app, settings.default_locale)
    auth.init_app(app)
    errors.init_app(app)
    app.register_blueprint(accounts.bp)
    app.register_blueprint(register.bp)
    forms.init_app(app)
    labels.init_app(app)
    printers.init_app(app)
    locations.init_app(app)
    lending.init_app(app)
    inventory.init_app(app)
    api.init_app(app)
    app.add_url_rule("/fonts/<path:filename>", "font", _font)
    app.context_processor(_header)
    app.after_request(_privacy_headers)
    return app


def _bring_schema_to_head(database: Database) -> None:
    """An empty or older database is upgraded on start (idempotent; the CLI does the same)."""
    if current_revision(database.engine) != head_revision(database.engine):
        upgrade(database.engine)


def _font(filename: str) -> Response:
    """The shipped CJK font, a last-resort web font for rare characters (𠮷) that the PC's fonts lack."""
    if not filename.endswith(".otf"):
        abort(404)
    return send_from_directory(resources.font_dir(), filename, max_age=30 * 24 * 3600)


def _header() -> dict[str, object]:
    """The township shown in every page header (none yet on a fresh install)."""
    from archiveprint.register.services import get_township

    try:
        township = get_township(session.db_session())
    except (NotConfigured, SQLAlchemyError):
        township = None
    return {"township": township}


def _privacy_headers(response: Response) -> Response:
    """Pages with people's data are never cached (the back button after logout shows nothing)."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint not in ("static", "font"):
        response.headers["Cache-Control"] = "no-store"
    return response
