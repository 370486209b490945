"""Refusing to start, for the WSGI entry point and gunicorn's master: the reason in Chinese and English, then stop."""

from __future__ import annotations

import sys
from typing import NoReturn

from babel.support import Translations

from archiveprint.errors import ArchiveprintError
from archiveprint.web.i18n import TRANSLATIONS

# gunicorn's exit status for "the application could not be loaded": its master then stops with its workers, instead
# of starting new ones that would be refused the same way, over and over.
APP_LOAD_ERROR = 4


def startup_refusal(error: ArchiveprintError) -> str:
    """Why the app will not start, for a server's log, where no reader chose a language: Chinese, then English."""
    english = Translations.load(str(TRANSLATIONS), ["en"]).gettext
    return f"archiveprint 拒绝启动：{error.render()}\narchiveprint refuses to start: {error.render(english)}"


def refuse_to_start(error: ArchiveprintError) -> NoReturn:
    print(startup_refusal(error), file=sys.stderr, flush=True)
    raise SystemExit(APP_LOAD_ERROR) from None
