"""`archiveprint db …`: create and upgrade the schema through the shipped migrations."""

from __future__ import annotations

import click

from archiveprint.cli import AppContext, pass_app
from archiveprint.db import make_engine
from archiveprint.migrate import current_revision, head_revision


@click.group("db")
def db_group() -> None:
    """数据库：创建与升级（Alembic 迁移）。"""


@db_group.command("upgrade")
@pass_app
def upgrade(app: AppContext) -> None:
    """升级数据库到最新版本（新数据库会被创建）。"""
    database = app.installation_db  # creating it migrates (no site asked: the schema is the installation's)
    click.echo(f"数据库已是最新版本：{current_revision(database.engine)}（head {head_revision(database.engine)}）")


@db_group.command("current")
@pass_app
def current(app: AppContext) -> None:
    """显示数据库当前版本。"""
    engine = make_engine(app.settings.database_url)
    try:
        click.echo(current_revision(engine) or "（空数据库）")
    finally:
        engine.dispose()
