"""`archiveprint serve`: run the web app (Flask's threaded server is enough for one clinic's archive room)."""

from __future__ import annotations

import click

from archiveprint.cli import AppContext, pass_app


def quiet_request_handler():  # type: ignore[no-untyped-def]
    """Access log lines without query strings: a search URL may carry a name or an ID number."""
    from werkzeug.serving import WSGIRequestHandler

    class PathOnly(WSGIRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            path = self.path.split("?", 1)[0]
            self.log("info", '"%s %s" %s %s', self.command, path, code, size)

    return PathOnly


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@pass_app
def serve(app: AppContext, host: str, port: int) -> None:
    """启动网页界面。"""
    from archiveprint.web import create_app

    web = create_app(app.settings, database=app.db)  # app.db is migrated before the first request
    click.echo(f"archiveprint 网页界面：http://{host}:{port}/")
    web.run(host=host, port=port, threaded=True, use_reloader=False, request_handler=quiet_request_handler())


COMMANDS = [serve]
