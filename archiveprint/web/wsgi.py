"""The WSGI entry point for a multi-process server: `gunicorn -c python:archiveprint.web.gunicorn_conf
archiveprint.web.wsgi:app` (docs/deploy.md). Importing it builds the app from the environment; `archiveprint serve`
(waitress, one process) does not use it."""

from __future__ import annotations

from archiveprint.errors import ArchiveprintError
from archiveprint.web import create_app
from archiveprint.web.startup import refuse_to_start

try:
    app = application = create_app()
except ArchiveprintError as error:  # a setting that cannot work here (config.check_web_processes), a wrong value
    refuse_to_start(error)
