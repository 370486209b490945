"""`archiveprint serve`: run the web app (waitress-free: Flask's threaded server is enough for one clinic)."""

from __future__ import annotations

import click

from archiveprint.cli import AppContext, pass_app


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@pass_app
def serve(app: AppContext, host: str, port: int) -> None:
    """启动网页界面。"""
    from archiveprint.web import create_app

    app.db  # noqa: B018  (migrate before the first request)
    web = create_app(app.settings)
    click.echo(f"archiveprint 网页界面：http://{host}:{port}/")
    web.run(host=host, port=port, threaded=True, use_reloader=False)


COMMANDS = [serve]
