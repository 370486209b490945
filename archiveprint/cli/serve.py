"""`archiveprint serve`: run the web app on waitress, a production WSGI server in pure Python (no compiler needed)."""

from __future__ import annotations

import click

from archiveprint.cli import AppContext, pass_app


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="0.0.0.0 to serve the clinic's network")
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@pass_app
def serve(app: AppContext, host: str, port: int, threads: int) -> None:
    """启动网页界面。"""
    from waitress import serve as waitress_serve

    from archiveprint.web import create_app

    web = create_app(app.settings, database=app.db)  # app.db is migrated before the first request
    click.echo(f"archiveprint 网页界面：http://{host}:{port}/  （Ctrl+C 停止）")
    # waitress writes no access log: search URLs may carry names or ID numbers, and nothing personal is logged.
    waitress_serve(web, host=host, port=port, threads=threads, ident="archiveprint")


COMMANDS = [serve]
