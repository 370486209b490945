"""The web app: create_app builds Flask from Settings, with sign-in, CSRF, two languages and one blueprint per job."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from flask import Flask, Response, abort, g, request, send_from_directory
from flask_wtf import CSRFProtect
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.routing import IntegerConverter, Map

from archiveprint import resources
from archiveprint.accounts.scope import AccessScope, SiteRow, current_scope
from archiveprint.config import Settings, check_web_processes, keep_files_private
from archiveprint.db import Database
from archiveprint.errors import NotConfigured
from archiveprint.migrate import current_revision, head_revision, upgrade
from archiveprint.register.services import get_township
from archiveprint.sites.models import Site
from archiveprint.web import (
    accounts,
    api,
    auth,
    cookies,
    county,
    due,
    errors,
    forms,
    i18n,
    inspections,
    intake,
    inventory,
    labels,
    lending,
    locations,
    printers,
    register,
    session,
    sites,
    supervision,
    township,
)

UPLOAD_LIMIT = 64 * 1024 * 1024  # a whole township's register export is a few MB
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
ID_MAX = 2**31 - 1  # ids are INTEGER columns (4 bytes on PostgreSQL): a larger number in a URL names no row


class RowId(IntegerConverter):
    """`<int:...>` in every route: an id beyond what the database can hold is a 404, not an overflow (#11.15)."""

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = None, signed: bool = False) -> None:
        super().__init__(map, fixed_digits, min, ID_MAX if max is None else max, signed)


def create_app(settings: Settings | None = None, database: Database | None = None) -> Flask:
    """Build the app; a test passes its own Settings and database, `archiveprint serve` passes neither.

    Refused (NotConfigured) where it cannot work: several web processes on SQLite, or jobs on a local thread
    under a multi-process server (config.check_web_processes; docs/deploy.md).
    """
    keep_files_private()
    settings = settings or Settings.from_env()
    check_web_processes(settings)
    settings.ensure_instance_dir()
    if database is None:
        database = Database.connect(settings.database_url)
    _bring_schema_to_head(database)
    settings.protect_database_files()

    templates = resources.template_dir()
    app = Flask(__name__, template_folder=str(templates), static_folder=str(templates / "web" / "static"),
                instance_path=str(Path(settings.instance_dir).resolve()))
    app.url_map.converters["int"] = RowId  # before any route is added
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
    app.register_blueprint(township.bp)
    forms.init_app(app)
    due.init_app(app)
    labels.init_app(app)
    printers.init_app(app)
    locations.init_app(app)
    lending.init_app(app)
    inventory.init_app(app)
    supervision.init_app(app)
    inspections.init_app(app)
    intake.init_app(app)
    sites.init_app(app)
    county.init_app(app)
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
    """The shipped fonts: the UI subset (fonts/web) and the full CJK font, a late fallback for rare characters (𠮷).

    templates/web/static/fonts.css asks for /fonts/<hash>/<file>: when the hash is the file's own, the answer may be
    kept for a year without asking again (the URL changes with the file); any other URL is revalidated.
    """
    version, _, rest = filename.partition("/")
    if rest and len(version) == VERSION_LENGTH:
        filename = rest
    else:
        version = ""
    if Path(filename).suffix not in (".otf", ".woff2"):
        abort(404)
    response = send_from_directory(resources.font_dir(), filename)
    path = resources.font_dir() / filename
    if version and version == _file_version(path, path.stat().st_mtime_ns):
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    else:
        response.headers["Cache-Control"] = "no-cache"
    return response


VERSION_LENGTH = 12  # hex digits of SHA-256 in a font URL, as scripts/make_web_font.py writes them


@lru_cache(maxsize=8)
def _file_version(path: Path, mtime_ns: int) -> str:
    """The first hex digits of the file's SHA-256 (cached per modification time: the full font is 16 MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:VERSION_LENGTH]


def _header() -> dict[str, object]:
    """The township shown in every page header (none yet on a fresh install), and for a county role the site it
    works in (with 切换机构). Behind the sign-in, from the sites the request's scope was made from (no query:
    a page's last statements are not its header's)."""
    sites: list[SiteRow] | None = g.get("installed_sites")
    if sites is not None:
        return _header_of(sites, current_scope(session.db_session()))
    try:
        township = get_township(session.db_session())
    except (NotConfigured, SQLAlchemyError):
        township = None
    scope = current_scope(session.db_session())
    working = session.db_session().get(Site, scope.site_id) if scope.several_sites and scope.site_id else None
    # A county role that has not chosen a site sees no township: not a fresh install to set up.
    return {"township": township, "working_site": working, "choosing_site": scope.several_sites and not working}


def _header_of(sites: list[SiteRow], scope: AccessScope) -> dict[str, object]:
    """As find_township and working_site see it: the scope's site, else the only site (a single-site install)."""
    site_id = scope.site_id
    if site_id is None and len(sites) == 1:
        site_id = sites[0].id
    row = next((site for site in sites if site.id == site_id), None)
    working = row if scope.several_sites and scope.site_id and row is not None else None
    return {"township": row.township if row is not None else None, "working_site": working,
            "choosing_site": scope.several_sites and not working}


def _privacy_headers(response: Response) -> Response:
    """Pages with people's data are never cached (the back button after logout shows nothing)."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint not in ("static", "font"):
        response.headers["Cache-Control"] = "no-store"
    return response
