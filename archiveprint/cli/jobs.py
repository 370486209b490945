"""`archiveprint jobs clean`: remove print-job output (PDFs of people's data) once its retention has passed."""

from __future__ import annotations

import click

from archiveprint.cli import AppContext, emit_json, pass_app

CLI_ACTOR = "cli"


@click.group("jobs")
def jobs_group() -> None:
    """后台打印任务：清理过期的输出文件。"""


@jobs_group.command("clean")
@click.option("--older-than", "days", type=click.IntRange(min=1), metavar="DAYS",
              help="删除结束超过这么多天的任务文件（默认为 ARCHIVEPRINT_JOB_RETENTION_DAYS，30 天）")
@click.option("--dry-run", is_flag=True, help="只列出将删除的文件，不删除")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON 结果")
@pass_app
@click.pass_context
def clean(ctx: click.Context, app: AppContext, days: int | None, dry_run: bool, as_json: bool) -> None:
    """删除过期打印任务的输出文件夹（instance/jobs/<编号>/），任务列表改为显示“文件已删除”；每个删除都有审计记录。"""
    from archiveprint.db import utcnow
    from archiveprint.jobs.retention import clean_jobs, human_size

    ctx.meta["json"] = as_json
    older_than = days or app.settings.job_retention_days
    with app.db.transaction() as session:
        report = clean_jobs(session, app.settings.instance_dir, older_than_days=older_than, actor=CLI_ACTOR,
                            now=utcnow(), dry_run=dry_run)
    if as_json:
        emit_json(report.as_json())
    else:
        for item in report.removed:
            owner = f"#{item.job_id} {item.what}" if item.job_id is not None else "（无任务记录）"
            size = human_size(item.size)
            click.echo(f"  {item.folder}  {owner}  {item.files} 个文件 {size}，已过 {item.age_days} 天")
        click.echo(report.summary())
        for error in report.errors:
            click.secho(f"错误：{error}", fg="red", err=True)
    ctx.exit(1 if report.errors else 0)
