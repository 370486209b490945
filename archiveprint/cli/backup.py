"""`archiveprint backup` and `archiveprint restore`: a consistent copy of the installation, and bringing it back."""

from __future__ import annotations

from pathlib import Path

import click

from archiveprint.cli import AppContext, emit_json, pass_app


def _progress(quiet: bool):  # type: ignore[no-untyped-def]
    def say(message: str) -> None:
        if not quiet:
            click.echo(f"  {message}", err=True)
    return say


@click.command("backup")
@click.option("-o", "--output", "target", required=True, type=click.Path(path_type=Path),
              help="备份文件；写一个文件夹（已存在或以 / 结尾）则按日期命名 archiveprint-YYYYMMDD-HHMMSS.tar")
@click.option("--with-jobs", is_flag=True, help="同时备份打印任务的输出文件（instance/jobs/）")
@click.option("--keep", type=click.IntRange(min=1), metavar="N", help="只保留该文件夹里最新的 N 份备份（每晚备份时用）")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON：tables、rows、bytes、seconds …")
@pass_app
@click.pass_context
def backup(ctx: click.Context, app: AppContext, target: Path, with_jobs: bool, keep: int | None,
           as_json: bool) -> None:
    """备份数据库与实例文件（程序运行时也可进行，得到的是同一时刻的一致副本）。

    SQLite 用在线备份；PostgreSQL 用 pg_dump（需要 postgresql-client）。备份文件只有本人可读。
    """
    from archiveprint.backup.services import make_backup

    ctx.meta["json"] = as_json
    report = make_backup(app.db, app.settings.instance_dir, target, with_jobs=with_jobs, keep=keep,
                         progress=_progress(as_json))
    if as_json:
        emit_json(report.as_json())
        return
    click.echo(f"已备份到 {report.path}：{report.tables} 张表 {report.rows} 行，{report.files} 个实例文件，"
               f"{report.bytes / 1024 / 1024:.1f} MB，用时 {report.seconds:.1f} 秒")
    for name in report.removed:
        click.echo(f"  已删除旧备份 {name}")


@click.command("restore")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="目标数据库已有数据时仍然恢复（覆盖全部内容）")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON 结果")
@pass_app
@click.pass_context
def restore(ctx: click.Context, app: AppContext, source: Path, force: bool, as_json: bool) -> None:
    """从备份恢复到 DATABASE_URL 指向的数据库（与备份同一种：SQLite 或 PostgreSQL）和实例文件夹。

    目标数据库须为空（否则加 --force）；恢复后逐表核对行数与校验和；旧版本的备份恢复后自动升级。
    """
    from archiveprint.backup.services import restore_backup
    from archiveprint.db import Database

    ctx.meta["json"] = as_json
    settings = app.settings
    settings.ensure_instance_dir()
    database = Database.connect(settings.database_url)  # not app.db: that would create a schema first
    try:
        report = restore_backup(database, settings.instance_dir, source, force=force, progress=_progress(as_json))
    finally:
        database.dispose()
    if as_json:
        emit_json(report.as_json())
        return
    upgraded = f"，已从 {report.upgraded_from} 升级到 {report.revision}" if report.upgraded_from else ""
    click.echo(f"已恢复：{report.tables} 张表 {report.rows} 行，{report.files} 个实例文件，逐表核对无误{upgraded}")
