"""`archiveprint inspect draw|picklist|folder|record|unavailable|replace|sign|result|report|list|trend|tasks|done`:
the inspection (抽查) from the command line."""

from __future__ import annotations

import getpass
from datetime import datetime
from pathlib import Path

import click

from archiveprint.accounts.services import audit
from archiveprint.cli import AppContext, Aside, Reply, answers, cli_actor, pass_app
from archiveprint.cli.locations import status_providers
from archiveprint.db import utcnow
from archiveprint.errors import InvalidValue
from archiveprint.inspections.checklist import load_checklist
from archiveprint.inspections.queries import (
    compute_report,
    find_drawn,
    find_folder,
    find_inspection,
    find_trend,
    folder_sheet,
    inspection_picklist,
    list_inspections,
    list_tasks,
)
from archiveprint.inspections.report import export_xlsx, print_report
from archiveprint.inspections.services import (
    complete_task,
    draw_inspection,
    record_check,
    replace_folder,
    set_unavailable,
    sign_inspection,
)
from archiveprint.locations.picklist import render_picklist_pdf
from archiveprint.register.services import get_township

DAY = click.DateTime(["%Y-%m-%d"])


def _audit(session, household_ids, action: str, detail: str) -> None:  # type: ignore[no-untyped-def]
    for household_id in dict.fromkeys(household_ids):
        audit(session, None, action, "household", household_id, detail=f"{detail}（{cli_actor()}）", now=utcnow())


@click.group("inspect")
def inspect_group() -> None:
    """抽查：按村分层随机抽取档案袋、逐袋核查、计算合格率与使用率、打印抽查记录。"""


@inspect_group.command("draw")
@click.option("--size", type=int, help="样本量（袋）；或用 --margin 由允许误差计算")
@click.option("--margin", type=float, help="允许误差，如 0.05 表示 ±5%（由它计算样本量）")
@click.option("--confidence", type=float, default=0.95, show_default=True, help="置信水平（与 --margin 一起）")
@click.option("--minimum", type=int, default=2, show_default=True, help="每村至少抽取的袋数")
@click.option("--seed", required=True, help="随机种子：同一种子、同一抽样框抽出同样的档案袋")
@click.option("--village", "villages", multiple=True, help="村：3位代码或村名（可重复；默认全乡镇）")
@click.option("--population", "populations", multiple=True, help="重点人群：hypertension / 高血压患者 …（可重复）")
@click.option("--inspector", help="检查人（默认当前系统用户）")
@click.option("--on", "on_day", type=DAY, help="检查日期（默认今天；动态记录从这天往前算）")
@click.option("--replace-unavailable", is_flag=True, help="抽到借出、下落不明的档案袋时，立即以本村替补替换")
@answers("输出 JSON：id, number, method, size, frame, villages, folders（folder, village, address, status …）")
@pass_app
def draw_command(app: AppContext, size: int | None, margin: float | None, confidence: float, minimum: int, seed: str,
                 villages: tuple[str, ...], populations: tuple[str, ...], inspector: str | None,
                 on_day: datetime | None, replace_unavailable: bool) -> Reply:
    """抽取一次抽查的档案袋（按村分层、按比例分配、每村不少于 --minimum 袋，可由随机种子重现）。"""
    providers = status_providers(app)
    checklist = load_checklist(app.settings.instance_dir)
    with app.db.transaction() as session:
        made = draw_inspection(session, seed=seed, size=size, margin=margin, confidence=confidence, minimum=minimum,
                               villages=villages, populations=populations, inspector=inspector or getpass.getuser(),
                               on=on_day.date() if on_day else app.today(), checklist=checklist,
                               replace_unavailable=replace_unavailable, providers=providers, actor=cli_actor())
        drawn = find_drawn(session, made, providers)
        _audit(session, [f.household_id for f in made.folders], "view", f"抽查 {made.number}")
        return Reply(drawn.as_json(), drawn.text_lines())


@inspect_group.command("picklist")
@click.argument("inspection")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="写成调档单 PDF")
@answers(None)
@pass_app
def picklist_command(app: AppContext, inspection: str, output: Path | None) -> Reply:
    """抽查的调档单：抽到的档案袋按库房行走顺序排列（不在架的列在最后）。"""
    with app.db.transaction() as session:
        found = find_inspection(session, inspection)
        picks = inspection_picklist(session, found, providers=status_providers(app))
        _audit(session, [row.location.household_id for row in picks.rows], "print", f"抽查调档单 {found.number}")
        unit = get_township(session).unit_name
    if output is not None:
        output.write_bytes(render_picklist_pdf(picks, day=app.today(), unit=unit, note=f"抽查 {found.number}"))
    return Reply({**picks.as_json(), "pdf": str(output) if output else None},
                 [*picks.text_lines(), *([f"已写出 {output}"] if output else [])])


@inspect_group.command("folder")
@click.argument("inspection")
@click.argument("folder")
@answers()
@pass_app
def folder_command(app: AppContext, inspection: str, folder: str) -> Reply:
    """一袋的核查单：要阅读的档案、各人所属重点人群应有的表、系统登记的最近服务，以及已记录的结果。"""
    with app.db.transaction() as session:
        found = find_inspection(session, inspection)
        sheet = folder_sheet(session, found, find_folder(session, found, folder))
        _audit(session, [sheet.folder.household_id], "view", f"抽查 {found.number}")
        view = sheet.view
        lines = [f"{view.seq}. {view.folder} {view.village_name} {view.head_name}（{view.status_text}）"]
        for person in sheet.residents:
            lines.append(f"  {person.archive_code} {person.name} {person.age if person.age is not None else '—'}岁  "
                         f"{'、'.join(person.populations) or '一般人群'}  应有：{'、'.join(person.forms) or '—'}  "
                         f"最近登记服务：{person.last_visit or '—'}")
        lines += [f"  [{key}] {'合格' if value['passed'] else '不合格'} {value['note']}"
                  f"{' ' + str(value['seen_on']) if value['seen_on'] else ''}" for key, value in view.checks.items()]
        return Reply({**view.as_json(), "residents": [p.as_json() for p in sheet.residents],
                      "hint": sheet.hint.isoformat() if sheet.hint else None}, lines)


@inspect_group.command("record")
@click.argument("inspection")
@click.argument("folder")
@click.option("--item", "items", multiple=True, required=True, help="检查项目（key 或名称，可重复）")
@click.option("--pass/--fail", "passed", default=None, help="合格 / 不合格（动态记录项可只给 --seen）")
@click.option("--note", default="", help="说明（如缺哪一项）")
@click.option("--seen", type=DAY, help="动态记录项：所见最近一次记录的日期")
@answers()
@pass_app
def record_command(app: AppContext, inspection: str, folder: str, items: tuple[str, ...], passed: bool | None,
                   note: str, seen: datetime | None) -> Reply:
    """记录一袋档案若干项目的核查结果（合格 / 不合格、说明、最近动态记录日期）。"""
    with app.db.transaction() as session:
        found = find_inspection(session, inspection)
        target = find_folder(session, found, folder)
        recorded = []
        for key in items:
            row = record_check(session, target, key, passed=passed, note=note, seen_on=seen.date() if seen else None,
                               actor=cli_actor())
            recorded.append({"item": key, "changed": row is not None})
        view = compute_report(session, found)
        outcome = next(f for f in view.folders if f.id == target.id)
        return Reply({"inspection": found.number, "folder": target.folder, "recorded": recorded,
                      "outcome": outcome.outcome},
                     [f"{target.folder}：已记录 {'、'.join(items)}（{outcome.outcome_text}）"])


@inspect_group.command("unavailable")
@click.argument("inspection")
@click.argument("folder")
@click.option("--note", default="", help="未能调阅的原因")
@click.option("--undo", is_flag=True, help="又找到了：恢复为待核查")
@answers()
@pass_app
def unavailable_command(app: AppContext, inspection: str, folder: str, note: str, undo: bool) -> Reply:
    """登记一袋未能调阅（未调到）；按抽查表的 unavailable 规则计入。"""
    with app.db.transaction() as session:
        found = find_inspection(session, inspection)
        target = set_unavailable(session, find_folder(session, found, folder), unavailable=not undo, note=note,
                                 actor=cli_actor())
        return Reply({"folder": target.folder, "state": target.state, "note": target.note},
                     [f"{target.folder}：{'未调到' if target.state == 'unavailable' else '待核查'} {target.note}"])


@inspect_group.command("replace")
@click.argument("inspection")
@click.argument("folder")
@click.option("--reason", default="", help="为什么不坚持调阅这一袋")
@answers()
@pass_app
def replace_command(app: AppContext, inspection: str, folder: str, reason: str) -> Reply:
    """以本村下一个在架的替补档案袋替换一袋（原袋保留，标为已替换）。"""
    with app.db.transaction() as session:
        found = find_inspection(session, inspection)
        old = find_folder(session, found, folder)
        new = replace_folder(session, old, reason=reason, providers=status_providers(app), actor=cli_actor())
        _audit(session, [new.household_id], "view", f"抽查 {found.number}")
        return Reply({"replaced": old.folder, "by": new.folder, "seq": new.seq, "rank": new.rank},
                     [f"{old.folder} 已由替补 {new.folder}（第 {new.rank} 位）替换，序号 {new.seq}"])


@inspect_group.command("sign")
@click.argument("inspection")
@answers()
@pass_app
def sign_command(app: AppContext, inspection: str) -> Reply:
    """签署：每袋都已读完或登记未调到；结果定稿，不合格的档案袋生成整改任务。"""
    with app.db.transaction() as session:
        found = sign_inspection(session, find_inspection(session, inspection), actor=cli_actor())
        return Reply({"number": found.number, "status": found.status, "tasks": len(found.tasks)},
                     [f"抽查 {found.number} 已签署，整改任务 {len(found.tasks)} 项"])


@inspect_group.command("result")
@click.argument("inspection")
@answers("输出 JSON：各村与合计的合格率、使用率（95% Wilson 区间）、不合格档案、未读完的档案袋")
@pass_app
def result_command(app: AppContext, inspection: str) -> Reply:
    """抽查结果：各村与合计的合格率、使用率及 95% 置信区间，不合格档案及原因。"""
    with app.db.transaction() as session:
        report = compute_report(session, find_inspection(session, inspection))
        _audit(session, [f.household_id for f in report.folders], "view", f"抽查结果 {report.number}")
        return Reply(report.as_json(), report.text_lines())


@inspect_group.command("report")
@click.argument("inspection")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="抽查记录 PDF（未签署的印为草稿）")
@click.option("--xlsx", type=click.Path(dir_okay=False, path_type=Path), help="另存原始结果 .xlsx")
@answers()
@pass_app
def report_command(app: AppContext, inspection: str, output: Path, xlsx: Path | None) -> Reply:
    """打印抽查记录（检查人、日期、范围、方法、结果、签字栏），可另存原始结果表。"""
    for path in (output, xlsx):
        if path is not None and not path.parent.resolve().is_dir():
            raise click.UsageError(f"输出目录不存在：{path.parent}")
    with app.db.transaction() as session:
        found = find_inspection(session, inspection)
        pdf = print_report(session, found, user=None, now=utcnow(), timezone=app.rules.timezone)
        data = export_xlsx(session, found, user=None, now=utcnow()) if xlsx is not None else None
        number, status = found.number, found.status
    output.write_bytes(pdf)
    if xlsx is not None and data is not None:
        xlsx.write_bytes(data)
    written = [str(p) for p in (output, xlsx) if p is not None]
    lines: list[str | Aside] = [f"已写出 {path}" for path in written]
    if status != "signed":
        lines.append(Aside(f"抽查 {number} 尚未签署：记录印为草稿"))
    return Reply({"number": number, "status": status, "pdf": str(output), "xlsx": str(xlsx) if xlsx else None},
                 lines)


@inspect_group.command("list")
@answers()
@pass_app
def list_command(app: AppContext) -> Reply:
    """全部抽查（新的在前）及各自的合格率、使用率。"""
    with app.db.reader() as session:
        return Reply.listing(list_inspections(session), empty="（还没有抽查）")


@inspect_group.command("trend")
@answers()
@pass_app
def trend_command(app: AppContext) -> Reply:
    """各村历次抽查（已签署）的合格率、使用率。"""
    with app.db.reader() as session:
        trend = find_trend(session)
        return Reply(trend.as_json(), trend.text_lines())


@inspect_group.command("tasks")
@click.option("--inspection", help="只列这次抽查的")
@click.option("--open", "only_open", is_flag=True, help="只列未完成的")
@answers()
@pass_app
def tasks_command(app: AppContext, inspection: str | None, only_open: bool) -> Reply:
    """整改任务：抽查不合格的档案袋及要补正的内容。"""
    with app.db.transaction() as session:
        inspection_id = find_inspection(session, inspection).id if inspection else None
        tasks = list_tasks(session, inspection_id=inspection_id, only_open=only_open)
        _audit(session, [t.household_id for t in tasks], "view", "整改任务")
        return Reply.listing(tasks, empty="（没有整改任务）")


@inspect_group.command("done")
@click.argument("task_id", type=int)
@click.option("--note", default="", help="做了什么（补填、补签、找回）")
@answers()
@pass_app
def done_command(app: AppContext, task_id: int, note: str) -> Reply:
    """登记一项整改任务已完成。"""
    if task_id <= 0:
        raise InvalidValue("整改任务编号应为正整数", field="整改任务", value=task_id)
    with app.db.transaction() as session:
        task = complete_task(session, task_id, note=note, actor=cli_actor())
        return Reply({"id": task.id, "state": task.state, "note": task.done_note},
                     [f"整改任务 {task.id} 已完成 {task.done_note}"])
