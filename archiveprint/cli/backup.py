"""`archiveprint backup` and `archiveprint restore`: a consistent copy of the installation, and bringing it back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from archiveprint.backup.services import make_backup, restore_backup
from archiveprint.cli import Answer, AppContext, answers, pass_app, wants_json
from archiveprint.db import Database


def _progress(*, quiet: bool) -> Callable[[str], None]:
    """Each step on stderr, unless `quiet` (the command answers JSON)."""
    def say(message: str) -> None:
        if not quiet:
            click.echo(f"  {message}", err=True)
    return say


@click.command("backup")
@click.option("-o", "--output", "target", required=True, type=click.Path(path_type=Path),
              help="备份文件；写一个文件夹（已存在或以 / 结尾）则按日期命名 archiveprint-YYYYMMDD-HHMMSS.tar")
@click.option("--with-jobs", is_flag=True, help="同时备份打印任务的输出文件（instance/jobs/）")
@click.option("--keep", type=click.IntRange(min=1), metavar="N", help="只保留该文件夹里最新的 N 份备份（每晚备份时用）")
@answers("输出 JSON：tables、rows、bytes、seconds …")
@pass_app
def backup(app: AppContext, target: Path, with_jobs: bool, keep: int | None) -> Answer:
    """备份数据库与实例文件（程序运行时也可进行，得到的是同一时刻的一致副本）。

    SQLite 用在线备份；PostgreSQL 用 pg_dump（需要 postgresql-client）。备份文件只有本人可读。
    """
    # The whole installation, every site's rows (a backup is the installation's, not one site's).
    return make_backup(app.installation_db, app.settings.instance_dir, target, with_jobs=with_jobs, keep=keep,
                       progress=_progress(quiet=wants_json()))


@click.command("restore")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="目标数据库已有数据时仍然恢复（覆盖全部内容）")
@answers("输出 JSON 结果")
@pass_app
def restore(app: AppContext, source: Path, force: bool) -> Answer:
    """从备份恢复到 DATABASE_URL 指向的数据库（与备份同一种：SQLite 或 PostgreSQL）和实例文件夹。

    目标数据库须为空（否则加 --force）；恢复后逐表核对行数与校验和；旧版本的备份恢复后自动升级。
    """
    settings = app.settings
    settings.ensure_instance_dir()
    database = Database.connect(settings.database_url)  # not app.db: that would create a schema first
    try:
        return restore_backup(database, settings.instance_dir, source, force=force,
                              progress=_progress(quiet=wants_json()))
    finally:
        database.dispose()
