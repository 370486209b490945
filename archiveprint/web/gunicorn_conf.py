"""gunicorn's settings for archiveprint: `gunicorn -c python:archiveprint.web.gunicorn_conf archiveprint.web.wsgi:app`.

Read from the environment (the same file as the app's: deploy/archiveprint.env): ARCHIVEPRINT_BIND (127.0.0.1:5000),
ARCHIVEPRINT_WEB_WORKERS (2 processes), ARCHIVEPRINT_WEB_THREADS (4 threads each). gunicorn's command-line options
still win; whatever the worker count ends up being, the master checks it before it starts any worker (SQLite and the
local job thread refused: archiveprint.config.check_web_processes) and every worker is told it.
"""

from __future__ import annotations

import os
from typing import Any

from archiveprint.config import Settings, check_web_processes, positive
from archiveprint.errors import ArchiveprintError
from archiveprint.web.startup import refuse_to_start

bind = os.environ.get("ARCHIVEPRINT_BIND") or "127.0.0.1:5000"
workers = positive(os.environ.get("ARCHIVEPRINT_WEB_WORKERS") or "2", name="ARCHIVEPRINT_WEB_WORKERS")
# Threads, as waitress has: a request waits on the database or on a PDF preview, not on the CPU alone.
worker_class = "gthread"
threads = positive(os.environ.get("ARCHIVEPRINT_WEB_THREADS") or "4", name="ARCHIVEPRINT_WEB_THREADS")
timeout = 300  # a register file checked in the request (under ARCHIVEPRINT_IMPORT_BACKGROUND_ROWS rows) takes time
graceful_timeout = 30
preload_app = False  # each worker builds the app after the fork: its own database pool, its own start-up checks
accesslog = None  # no access log: search URLs may carry names or ID numbers (waitress writes none either)
errorlog = "-"  # to stderr: journald under systemd
# archiveprint reads X-Forwarded-* itself, only when ARCHIVEPRINT_TRUSTED_PROXY=on (docs/deploy.md); gunicorn must
# not believe them on its own account.
forwarded_allow_ips = ""
control_socket_disable = True  # gunicorn ≥ 25's control socket sits in $HOME: two installations would share it
proc_name = "archiveprint-web"


def _tell_the_count(server: Any) -> None:
    os.environ["ARCHIVEPRINT_WEB_WORKERS"] = str(server.num_workers)


def on_starting(server: Any) -> None:
    """In the master, before any worker: refuse what cannot work, so gunicorn stops at once with the reason (each
    worker's create_app checks again, for a gunicorn started without these settings)."""
    _tell_the_count(server)
    try:
        check_web_processes(Settings.from_env())
    except ArchiveprintError as error:
        refuse_to_start(error)


def post_fork(server: Any, worker: Any) -> None:
    """In each worker, before it loads the app: the number of workers now (gunicorn's TTIN/TTOU change it)."""
    _tell_the_count(server)
