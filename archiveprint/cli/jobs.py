"""`archiveprint jobs clean|show|rerun`: print-job output retention, and the county print runs (#14) by village."""

from __future__ import annotations

import getpass
import logging
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from archiveprint.cli import CLI_ACTOR, Answer, AppContext, Aside, Reply, answers, pass_app, usage_error
from archiveprint.db import utcnow
from archiveprint.jobs import queue as jobqueue
from archiveprint.jobs import runs
from archiveprint.jobs.models import ENDED, Job, installation_run
from archiveprint.jobs.retention import clean_jobs

if TYPE_CHECKING:
    from archiveprint.db import Database
    from archiveprint.jobs.county import CountyChoice
    from archiveprint.jobs.parts import RunPlan

log = logging.getLogger(__name__)
POLL_SECONDS = 0.5
QUEUE_UNASKED = "注意：任务队列（Redis）现在问不到，下面各村的状态取自数据库，可能不是最新的"
NO_WAIT_WITHOUT_REDIS = ("没有设置 REDIS_URL：分村打印在本命令中逐村完成，不能 --no-wait"
                         "（设置 REDIS_URL 并启动 rq worker 后可以）")


@click.group("jobs")
def jobs_group() -> None:
    """后台打印任务：查看和重新生成分村打印，清理过期的输出文件。"""


@jobs_group.command("clean")
@click.option("--older-than", "days", type=click.IntRange(min=1), metavar="DAYS",
              help="删除结束超过这么多天的任务文件（默认为 ARCHIVEPRINT_JOB_RETENTION_DAYS，30 天）")
@click.option("--dry-run", is_flag=True, help="只列出将删除的文件，不删除")
@answers("输出 JSON 结果")
@pass_app
def clean(app: AppContext, days: int | None, dry_run: bool) -> Answer:
    """删除过期打印任务的输出文件夹（instance/jobs/<编号>/），任务列表改为显示“文件已删除”；每个删除都有审计记录。
    不加 --site 时清理整个系统（各机构及全县打印的任务），加 --site 只清理该机构的。"""
    # The jobs folder is the installation's: without --site every site's expired outputs and the county runs go,
    # each removal audited in its job's site.
    with (app.db if app.site_code is not None else app.installation_db).transaction() as session:
        report = clean_jobs(session, app.settings.instance_dir, older_than_days=days or app.settings.job_retention_days,
                            actor=CLI_ACTOR, now=utcnow(), dry_run=dry_run)
    return Reply(report.as_json(), [*report.text_lines(), *(Aside(f"错误：{error}", "red") for error in report.errors)],
                 status=1 if report.errors else 0)


@jobs_group.command("show")
@click.argument("run_id", type=int)
@answers("输出 JSON：run, kind, status, done, total, percent, pages, output, error, parts（每村一项）")
@pass_app
def show(app: AppContext, run_id: int) -> Answer:
    """分村打印任务的状态：整体进度和每个村的进度、页数、失败原因。"""
    database = run_database(app, run_id)
    if not check_queue(app, run_id, database=database):
        click.secho(QUEUE_UNASKED, err=True)
    with database.reader() as session:
        return runs.find_run(session, run_id)


@jobs_group.command("rerun")
@click.argument("run_id", type=int)
@click.option("--part", "part_id", type=int, help="只重新生成这一个部分（任务编号，见 jobs show）")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="完成后把 .zip 复制到这里")
@click.option("--no-wait", is_flag=True, help="只提交给 rq worker，不等待完成（需设置 REDIS_URL）")
@answers("输出 JSON：同 jobs show")
@pass_app
def rerun(app: AppContext, run_id: int, part_id: int | None, output: Path | None, no_wait: bool) -> Answer:
    """重新生成分村打印中失败的村（已完成的村不会重复打印），完成后重新打包 .zip。"""
    database = run_database(app, run_id)
    with database.transaction() as session:
        ids = runs.rerun_failed(session, run_id, part_id=part_id)
    return carry_out(app, run_id, ids, wait=not no_wait, output=output, database=database)


def run_database(app: AppContext, run_id: int) -> Database:
    """Where a run is read and re-run: a county run (the installation's own row) on the installation, unless the
    command works in one site (--site, ARCHIVEPRINT_SITE), which sees its own runs only; any other in the site."""
    if app.site_code is None:
        with app.installation_db.reader() as session:
            job = session.get(Job, run_id)
            if job is not None and installation_run(job):
                return app.installation_db
    return app.db


# --- county runs (--sites / --all-sites) ------------------------------------------------------------------------

SITES_HELP = ("全县打印：这些机构（机构代码，逗号分隔），每个机构每村一个 PDF，打包为一个 .zip（按机构分文件夹）；"
              "不能与 --site 同用")
ALL_SITES_HELP = "全县打印：全部在用的机构（同 --sites）"
NO_WAIT_HELP = "与 --per-village 同用：只提交给 rq worker，不等待（jobs show 查看）"


def run_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options `print forms` and `print due` share for a run split into parts: --sites, --all-sites, --no-wait."""
    command = click.option("--no-wait", is_flag=True, help=NO_WAIT_HELP)(command)
    command = click.option("--all-sites", is_flag=True, help=ALL_SITES_HELP)(command)
    return click.option("--sites", "site_codes", metavar="CODE,CODE", help=SITES_HELP)(command)


def county_choice(app: AppContext, codes: str | None, all_sites: bool, villages: Sequence[str]) -> CountyChoice | None:
    """The sites (and villages) a county run prints for, None without --sites/--all-sites. Refused with --site or
    ARCHIVEPRINT_SITE: a command kept to one site never prints another's."""
    from archiveprint.jobs.county import CountyChoice  # lazy: it imports every print job's planning

    if codes is None and not all_sites:
        return None
    if codes is not None and all_sites:
        usage_error("--sites 与 --all-sites 只能选一个")
    if app.site_code is not None:
        usage_error("--sites/--all-sites 是全县打印，不能与 --site（或 ARCHIVEPRINT_SITE）同用")
    chosen = tuple(code for code in (codes or "").replace("，", ",").split(",") if code.strip())
    if codes is not None and not chosen:
        usage_error("--sites 请写机构代码，逗号分隔（或用 --all-sites）")
    return CountyChoice(sites=chosen, villages=tuple(villages))


# --- running a run from the command line ------------------------------------------------------------------------

def start_run(app: AppContext, plan: RunPlan, *, output: Path, wait: bool, database: Database | None = None) -> Answer:
    """Record a planned run and carry it out (see carry_out); the villages left out are said on stderr. A county
    run is recorded on the installation (`database`), each part in its own site."""
    if output.suffix.lower() != ".zip":
        usage_error(f"按村分批打印的输出是一个 .zip 文件（每村一个 PDF）：{output}")
    if not wait and not app.settings.redis_url:
        usage_error(NO_WAIT_WITHOUT_REDIS)
    if plan.skipped:
        click.echo(f"没有要打印的内容，跳过：{'、'.join(plan.skipped)}", err=True)
    database = database or app.db
    with database.transaction() as session:
        run = runs.create_run(session, plan.kind, plan.params, plan.parts, actor=f"{CLI_ACTOR}:{getpass.getuser()}")
        run_id, ids = run.id, runs.part_ids(session, run.id)
    return carry_out(app, run_id, ids, wait=wait, output=output, database=database)


def carry_out(app: AppContext, run_id: int, ids: Sequence[int], *, wait: bool, output: Path | None,
              database: Database | None = None) -> Answer:
    """Run a run's parts: on the RQ workers when REDIS_URL is set (waiting for them unless not `wait`), else here,
    one after another as the local thread would. Then copy its zip to `output`; exit 1 unless every part is done.
    `database`: where the run is read (the installation for a county run; each part runs in its own site)."""
    database = database or app.db
    if not wait and not app.settings.redis_url:
        usage_error(NO_WAIT_WITHOUT_REDIS)
    instance = app.settings.instance_dir
    with click.progressbar(length=max(1, len(ids)), label=f"打印任务 #{run_id}", file=sys.stderr,
                           show_pos=True) as bar:
        if app.settings.redis_url:
            dispatcher = jobqueue.Dispatcher(lambda job_id: None, redis_url=app.settings.redis_url,
                                             database_url=app.settings.database_url, queue=app.settings.rq_queue,
                                             database=database)
            runs.submit_parts(database, dispatcher, ids, instance_dir=instance)
            if not wait:
                return _answer(database, run_id, None, waited=False)
            warned = False
            while _ended(database, run_id, bar) is None:
                time.sleep(POLL_SECONDS)
                if not check_queue(app, run_id, dispatcher, database=database) and not warned:
                    click.secho(f"\n{QUEUE_UNASKED}（仍在等待；可按 Ctrl+C 退出，之后用 jobs show 查看）", err=True)
                    warned = True
        else:
            from archiveprint.jobs.runners import run_job  # lazy: it imports every job's code; `jobs clean` needs none

            for part_id in ids:
                run_job(part_id, settings=app.settings, database=database)
                _ended(database, run_id, bar)
    return _answer(database, run_id, output, waited=True)


def _ended(database: Database, run_id: int, bar) -> str | None:  # type: ignore[no-untyped-def]  # click's bar
    """Move the bar to the parts ended; the run's status once its row says it ended, else None."""
    with database.reader() as session:
        state = runs.find_run(session, run_id)
    bar.length = max(1, len(state.parts))
    bar.update(sum(part.status in ENDED for part in state.parts) - bar.pos)
    return state.run.status if state.run.status in ENDED else None


def check_queue(app: AppContext, run_id: int, dispatcher: jobqueue.Dispatcher | None = None, *,
                database: Database) -> bool:
    """With RQ, fail the parts RQ reports failed or no longer has, and settle their run (as the job page does).
    False when Redis could not be asked (the statuses stay as they are, as on the job page; the class is logged)."""
    if not app.settings.redis_url:
        return True
    dispatcher = dispatcher or jobqueue.Dispatcher(lambda job_id: None, redis_url=app.settings.redis_url,
                                                   database_url=app.settings.database_url,
                                                   queue=app.settings.rq_queue, database=database)
    with database.reader() as session:
        ids = runs.part_ids(session, run_id)
    try:
        changed = dispatcher.check(database, ids, now=utcnow())
    except Exception as error:  # Redis down
        log.warning("could not ask the job queue about run %s (%s)", run_id, type(error).__name__)
        return False
    runs.settle_runs_of(database, changed, instance_dir=app.settings.instance_dir)
    return True


def _answer(database: Database, run_id: int, output: Path | None, *, waited: bool) -> Answer:
    """The run as `jobs show` answers it, its zip copied to `output`; exit 1 when a waited-for run is not done."""
    with database.reader() as session:
        state = runs.find_run(session, run_id)
    data = state.as_json()
    lines: list[str | Aside] = list(state.text_lines())
    zip_path = data.get("output")
    if output is not None and zip_path:
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(str(zip_path), output)
        data = {**data, "zip": zip_path, "output": str(output)}
        lines.append(f"已复制到：{output}")
    if state.failed:
        lines.append(Aside(f"重新生成失败的村：archiveprint jobs rerun {run_id}", None))
    return Reply(data, lines, status=1 if waited and state.run.status != "done" else 0)
