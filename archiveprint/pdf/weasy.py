"""WeasyPrint set-up shared by the printers: HTML laid out with the shipped CJK fonts, a fetcher that reads only our own
files, warnings raised."""

from __future__ import annotations

import atexit
import logging
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from archiveprint import resources
from archiveprint.pdf.fonts import font_face_css

if TYPE_CHECKING:
    from weasyprint import CSS, Document
    from weasyprint.text.fonts import FontConfiguration

def _fetcher():  # type: ignore[no-untyped-def]
    """WeasyPrint may read our templates and fonts and inline data: URLs, nothing else (no network, no /etc)."""
    from weasyprint.urls import FatalURLFetchingError, URLFetcher  # lazy: WeasyPrint (~0.5 s) stays out of the CLI

    allowed = [resources.template_dir().resolve(), resources.font_dir().resolve()]

    class LocalOnly(URLFetcher):
        def fetch(self, url: str, headers: object = None):  # type: ignore[no-untyped-def]
            if url.startswith("data:"):
                return super().fetch(url, headers)
            if url.startswith("file://"):
                path = Path(url.removeprefix("file://")).resolve()
                if any(path.is_relative_to(root) for root in allowed):
                    return super().fetch(url, headers)
            raise FatalURLFetchingError(f"not an archiveprint resource: {url[:80]}")

    return LocalOnly(allowed_protocols={"file", "data"})


@lru_cache(maxsize=1)
def _fonts() -> tuple[FontConfiguration, CSS]:
    from weasyprint import CSS  # lazy: WeasyPrint (~0.5 s) stays out of the CLI
    from weasyprint.text.fonts import FontConfiguration  # lazy: WeasyPrint (~0.5 s) stays out of the CLI

    config = FontConfiguration()
    # Release it before interpreter shutdown: its __del__ needs modules that shutdown has already cleared.
    atexit.register(_fonts.cache_clear)
    return config, CSS(string=font_face_css(), font_config=config, url_fetcher=_fetcher())


def render(html: str, *, stylesheets: list[str] | None = None) -> Document:
    """Lay out HTML with the shipped fonts only; WeasyPrint warnings are raised, not logged and ignored."""
    from weasyprint import CSS, HTML  # lazy: WeasyPrint (~0.5 s) stays out of the CLI

    config, fonts = _fonts()
    sheets = [fonts] + [CSS(string=css, font_config=config, url_fetcher=_fetcher(),
                            base_url=resources.template_dir().as_uri() + "/") for css in stylesheets or []]
    with _capture_warnings() as problems:
        document = HTML(string=html, base_url=resources.template_dir().as_uri() + "/",
                        url_fetcher=_fetcher()).render(stylesheets=sheets, font_config=config)
    if problems:
        raise RuntimeError("WeasyPrint: " + "; ".join(problems[:5]))
    return document


class _capture_warnings:
    """Collect WeasyPrint's log warnings (a missing font or a bad CSS rule must not pass silently)."""

    def __enter__(self) -> list[str]:
        self.problems: list[str] = []
        self.handler = _ListHandler(self.problems)
        logging.getLogger("weasyprint").addHandler(self.handler)
        return self.problems

    def __exit__(self, *exc: object) -> None:
        logging.getLogger("weasyprint").removeHandler(self.handler)


class _ListHandler(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record.getMessage())


@lru_cache(maxsize=1)
def template_env():  # type: ignore[no-untyped-def]
    """Sandboxed, autoescaping Jinja for print templates: a name such as <b>王</b> is text, never markup."""
    from jinja2 import FileSystemLoader, StrictUndefined  # lazy: Jinja only to render a print document
    from jinja2.sandbox import SandboxedEnvironment  # lazy: Jinja only to render a print document

    return SandboxedEnvironment(loader=FileSystemLoader(resources.template_dir()), autoescape=True,
                                undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
