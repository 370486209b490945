"""The session cookie's Secure flag (auto: when the request came over HTTPS) and trusting one reverse proxy."""

from __future__ import annotations

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from archiveprint.config import Settings


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed cookie, marked Secure per the ARCHIVEPRINT_SECURE_COOKIES setting."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def get_cookie_secure(self, app: Flask) -> bool:
        if self.mode == "auto":
            return request.is_secure  # https, or X-Forwarded-Proto: https from a trusted proxy
        return self.mode == "on"


def init_app(app: Flask, settings: Settings) -> None:
    if settings.trusted_proxy:
        # Only behind a proxy that sets these headers itself: otherwise a client could claim any address or scheme.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    app.session_interface = SessionCookies(settings.secure_cookies)
