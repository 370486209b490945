"""`archiveprint print due` (本月随访包) and `archiveprint due list|record|void|dates|schedules`."""

from __future__ import annotations

import getpass
import sys
from datetime import date, datetime
from pathlib import Path

import click

from archiveprint.cli import Answer, AppContext, Reply, answers, pass_app, wants_json
from archiveprint.cli.jobs import county_choice, run_options, start_run
from archiveprint.cli.locations import status_providers
from archiveprint.due.packet import TITLE, audit_packet, print_packet
from archiveprint.due.queries import find_due
from archiveprint.due.schedules import load_schedules
from archiveprint.due.services import DATE_FIELDS, list_visits, packet_villages, record_visit, set_dates, void_visit
from archiveprint.errors import InvalidValue
from archiveprint.forms.layout import layout_cache_dir, use_cache_dir
from archiveprint.jobs.county import plan_county_due
from archiveprint.jobs.parts import plan_due_run
from archiveprint.register.services import get_resident, village_refs

MONTH = click.DateTime(["%Y-%m", "%Y%m"])
DAY = click.DateTime(["%Y-%m-%d"])


def _month(app: AppContext, month: datetime | None) -> date:
    return month.date().replace(day=1) if month else app.today().replace(day=1)


def _scope_options(command):  # type: ignore[no-untyped-def]
    for option in reversed((
            click.option("--village", "villages", multiple=True, help="村：3位代码或村名（可重复）"),
            click.option("--doctor", help="村医的用户名：他负责的各村"),
            click.option("--all", "everyone", is_flag=True, help="全部村"),
            click.option("--month", type=MONTH, help="月份 YYYY-MM（默认本月）"))):
        command = option(command)
    return command


@click.command("due")
@_scope_options
@click.option("--per-village", is_flag=True,
              help="按村分批：每村一份随访包和调档单，设置 REDIS_URL 时由各 rq worker 同时生成，打包为 -o 指定的 .zip")
@run_options
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="输出 PDF 路径（调档单另存为同名 -picklist.pdf；--per-village 时为 .zip）")
@answers("输出 JSON：residents, forms, pages, seconds, output, picklist, due（每人一项）；--per-village 时同 jobs show")
@pass_app
def print_due_command(app: AppContext, villages: tuple[str, ...], doctor: str | None, everyone: bool,
                      month: datetime | None, per_village: bool, site_codes: str | None, all_sites: bool,
                      no_wait: bool, output: Path) -> Answer:
    """本月随访包：到期名单、到期表单（预填，按户序）和调档单（按库房行走顺序），一次生成。

    --per-village 按村分批：每村一份随访包和调档单，打包为一个 .zip（各村的进度与失败原因：archiveprint jobs show）。
    --sites/--all-sites 全县打印：所选各机构的各村（--village 所列，不写即全部村），一个 .zip（按机构分文件夹）。
    """
    use_cache_dir(layout_cache_dir(app.settings.instance_dir))
    first = _month(app, month)
    county = county_choice(app, site_codes, all_sites, villages)
    if county is not None:
        if doctor:
            raise click.UsageError("全县打印（--sites/--all-sites）不按村医选村：请用 --village 或不写（全部村）")
        plan = plan_county_due(app.installation_db, county, first, today=app.today())
        click.echo(f"{TITLE} {first:%Y-%m}：{len(plan.params['sites'])} 个机构，{len(plan.parts)} 个村，"
                   f"{plan.residents} 人到期，{plan.pages} 页", err=wants_json())
        return start_run(app, plan, output=output, wait=not no_wait, database=app.installation_db)
    if no_wait and not per_village:
        raise click.UsageError("--no-wait 只用于 --per-village")
    if per_village:
        with app.db.reader() as session:
            codes = packet_villages(session, villages=village_refs(session, villages), doctor=doctor,
                                    everyone=everyone)
            plan = plan_due_run(session, first, villages=codes, today=app.today())
        click.echo(f"{TITLE} {first:%Y-%m}：{len(plan.parts)} 个村，{plan.residents} 人到期，{plan.pages} 页",
                   err=wants_json())
        return start_run(app, plan, output=output, wait=not no_wait)
    with click.progressbar(length=1, label=TITLE, file=sys.stderr, show_pos=True) as bar:
        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        with app.db.reader() as session:
            codes = packet_villages(session, villages=village_refs(session, villages), doctor=doctor,
                                    everyone=everyone)
            words = "全部村" if codes is None else "、".join(villages or ()) or (doctor or "")
            result = print_packet(session, first, output, villages=codes, villages_text=words, today=app.today(),
                                  providers=status_providers(app), progress=progress)
    with app.db.transaction() as session:
        audit_packet(session, result, actor=f"cli:{getpass.getuser()}")
    return result


@click.group("due")
def due_group() -> None:
    """随访排期：本月谁到期、登记已做的服务、预产期等日期。"""


@due_group.command("list")
@_scope_options
@answers("输出 JSON：month, residents, visits, by_schedule, undated, due")
@pass_app
def list_due(app: AppContext, villages: tuple[str, ...], doctor: str | None, everyone: bool,
             month: datetime | None) -> Answer:
    """列出某月到期的服务（按户序），不打印。"""
    with app.db.reader() as session:
        codes = packet_villages(session, villages=village_refs(session, villages), doctor=doctor,
                                everyone=everyone)
        return find_due(session, _month(app, month), villages=codes)


@due_group.command("record")
@click.argument("code")
@click.option("--schedule", required=True, help="排期：hypertension / 高血压患者随访 / child_checks …")
@click.option("--visit", default="", help="按日期排期的哪一次服务：m8 / 8月龄健康检查 …")
@click.option("--on", "on_day", type=DAY, help="服务日期（默认今天）")
@click.option("--note", default="", help="备注")
@answers()
@pass_app
def record(app: AppContext, code: str, schedule: str, visit: str, on_day: datetime | None, note: str) -> Answer:
    """登记一次已做的服务（随访、体检），此后不再列为到期。"""
    today = app.today()
    with app.db.transaction() as session:
        row = record_visit(session, get_resident(session, code), schedule, visit=visit,
                           on=on_day.date() if on_day else today, note=note, actor=f"cli:{getpass.getuser()}",
                           today=today)
        return Reply({"id": row.id, "archive_code": code, "schedule": row.schedule, "visit": row.visit,
                      "on": row.done_on.isoformat()}, [f"已登记：{code} {row.schedule} {row.visit} {row.done_on}"
                                                      f"（记录号 {row.id}）"])


@due_group.command("void")
@click.argument("record_id", type=int)
@answers()
@pass_app
def void(app: AppContext, record_id: int) -> Answer:
    """撤销一条登记错的服务记录（保留记录，不再计入）。"""
    with app.db.transaction() as session:
        row = void_visit(session, record_id, actor=f"cli:{getpass.getuser()}")
        return Reply({"id": row.id, "voided": True}, [f"已撤销服务记录 {row.id}"])


@due_group.command("visits")
@click.argument("code")
@answers()
@pass_app
def visits(app: AppContext, code: str) -> Answer:
    """一位居民已登记的服务（新的在前）。"""
    with app.db.reader() as session:
        rows = list_visits(session, get_resident(session, code))
        return Reply([{"id": r.id, "schedule": r.schedule, "visit": r.visit, "on": r.done_on.isoformat(),
                       "note": r.note, "voided": r.voided_at is not None} for r in rows],
                     [f"{r.id:>6}  {r.done_on}  {r.schedule} {r.visit}  {r.note}{'  [已撤销]' if r.voided_at else ''}"
                      for r in rows] or ["（没有登记的服务）"])


@due_group.command("dates")
@click.argument("code")
@click.option("--due-date", type=DAY, help="预产期")
@click.option("--delivery-date", type=DAY, help="分娩日期")
@click.option("--tb-start", type=DAY, help="结核治疗开始日期")
@click.option("--clear", type=click.Choice(sorted(DATE_FIELDS)), multiple=True, help="清除某个日期")
@answers()
@pass_app
def dates(app: AppContext, code: str, due_date: datetime | None, delivery_date: datetime | None,
          tb_start: datetime | None, clear: tuple[str, ...]) -> Answer:
    """登记排期所需的日期：预产期、分娩日期、结核治疗开始日期。"""
    given = {"due_date": due_date, "delivery_date": delivery_date, "tb_treatment_start": tb_start}
    changes: dict[str, date | None] = {key: value.date() for key, value in given.items() if value is not None}
    changes.update(dict.fromkeys(clear))
    if not changes:
        raise InvalidValue("请至少给出一个日期（--due-date、--delivery-date、--tb-start）或 --clear", field="日期")
    with app.db.transaction() as session:
        resident = get_resident(session, code)
        changed = set_dates(session, resident, changes, actor=f"cli:{getpass.getuser()}", today=app.today())
        current = {key: getattr(resident, key) for key in DATE_FIELDS}
        return Reply({"archive_code": resident.archive_code, "changed": sorted(changed),
                      **{key: value.isoformat() if value else None for key, value in current.items()}},
                     [f"{resident.archive_code} {resident.name}：" + "，".join(
                         f"{DATE_FIELDS[key]} {value or '—'}" for key, value in current.items())])


@due_group.command("schedules")
@answers()
def schedules() -> Answer:
    """列出服务排期（templates/due/schedules.yaml 及本院的 instance/due_schedules.yaml）。"""
    rows = list(load_schedules().values())
    return Reply([{"id": s.id, "name": s.name, "population": s.population, "every": s.every,
                   "visits": [v.id for v in s.visits]} for s in rows],
                 [f"{s.id:14} {s.name}（{s.population}）：{s.describe()}" for s in rows])
