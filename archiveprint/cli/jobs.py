"""`archiveprint jobs clean`: remove print-job output (PDFs of people's data) once its retention has passed."""

from __future__ import annotations

import click

from archiveprint.cli import CLI_ACTOR, Answer, AppContext, Aside, Reply, answers, pass_app
from archiveprint.db import utcnow
from archiveprint.jobs.retention import clean_jobs


@click.group("jobs")
def jobs_group() -> None:
    """后台打印任务：清理过期的输出文件。"""


@jobs_group.command("clean")
@click.option("--older-than", "days", type=click.IntRange(min=1), metavar="DAYS",
              help="删除结束超过这么多天的任务文件（默认为 ARCHIVEPRINT_JOB_RETENTION_DAYS，30 天）")
@click.option("--dry-run", is_flag=True, help="只列出将删除的文件，不删除")
@answers("输出 JSON 结果")
@pass_app
def clean(app: AppContext, days: int | None, dry_run: bool) -> Answer:
    """删除过期打印任务的输出文件夹（instance/jobs/<编号>/），任务列表改为显示“文件已删除”；每个删除都有审计记录。"""
    with app.db.transaction() as session:
        report = clean_jobs(session, app.settings.instance_dir, older_than_days=days or app.settings.job_retention_days,
                            actor=CLI_ACTOR, now=utcnow(), dry_run=dry_run)
    return Reply(report.as_json(), [*report.text_lines(), *(Aside(f"错误：{error}", "red") for error in report.errors)],
                 status=1 if report.errors else 0)
