"""`archiveprint serve`: run the web app on waitress, a production WSGI server in pure Python (no compiler needed)."""

from __future__ import annotations

import logging
import threading

import click
from waitress import serve as waitress_serve

from archiveprint.cli import AppContext, pass_app
from archiveprint.forms.preview import warm_up
from archiveprint.indicators import charts
from archiveprint.web import create_app


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="0.0.0.0 to serve the clinic's network")
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@pass_app
def serve(app: AppContext, host: str, port: int, threads: int) -> None:
    """启动网页界面。"""
    # The installation's database: each request is kept to the signed-in user's site (web/auth.py), never to one
    # site for the whole server (--site would lock every other site's users out). Migrated before the first request.
    web = create_app(app.settings, database=app.installation_db)
    threading.Thread(target=_warm_up, name="warm-up", daemon=True).start()
    click.echo(f"archiveprint 网页界面：http://{host}:{port}/  （Ctrl+C 停止）")
    # waitress writes no access log: search URLs may carry names or ID numbers, and nothing personal is logged.
    waitress_serve(web, host=host, port=port, threads=threads, ident="archiveprint")


def _warm_up() -> None:
    """matplotlib ready before the first home page (its charts), blank forms and fonts before the first preview
    (the layouts come from <instance>/cache when there)."""
    try:
        charts.warm_up()
        warm_up()
    except Exception:  # a failed warm-up only means the first preview does the work itself
        logging.getLogger(__name__).exception("warm-up failed")
