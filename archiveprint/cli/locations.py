"""`archiveprint layout|shelve|locate|move|picklist|capacity|relayout|close|reopen|inventory|handover`: the archive
room's shelves and folders."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TextIO

import click

from archiveprint.accounts.services import audit
from archiveprint.cli import CLI_ACTOR, Answer, AppContext, Aside, Reply, answers, pass_app, usage_error
from archiveprint.db import utcnow
from archiveprint.lending.queries import status_provider
from archiveprint.locations.documents import print_handover, print_inventory
from archiveprint.locations.handover import find_handover, hand_over, list_handovers, select_folders
from archiveprint.locations.inventory import (
    audit_report,
    close_inventory,
    find_inventory,
    list_inventories,
    reconcile,
    record_scan,
    start_inventory,
    upload_codes,
)
from archiveprint.locations.layout import load_layout
from archiveprint.locations.picklist import render_picklist_pdf
from archiveprint.locations.queries import (
    StatusProvider,
    find_capacity,
    find_household,
    find_layout_in_use,
    find_located_folder,
    find_picklist,
    find_places,
    locate,
)
from archiveprint.locations.relayout import apply_relayout, plan_relayout
from archiveprint.locations.services import (
    OccupiedShelves,
    apply_layout,
    close_folder,
    move_folder,
    reopen_folder,
    shelve_village,
)
from archiveprint.register.services import close_resident, find_village, get_township, village_refs
from archiveprint.resources import storage_layout_dir


def status_providers(app: AppContext) -> list[StatusProvider]:
    """Who can say more about a folder that is out. Lending adds its provider here (locations never imports it),
    with this installation's rules (its time zone and overdue levels)."""
    return [status_provider(app.rules)]


def _written(output: Path | None) -> list[str]:
    return [f"已写出 {output}"] if output is not None else []


# --- layout --------------------------------------------------------------------------------------------------

@click.group("layout")
def layout_group() -> None:
    """库房布局：库房、密集架/档案柜、架位（storage_layout/*.yaml）。"""


def _layout_path(file: str) -> Path:
    path = Path(file)
    if path.is_file():
        return path
    for candidate in (storage_layout_dir() / file, storage_layout_dir() / f"{file}.yaml"):
        if candidate.is_file():
            return candidate
    usage_error(f"布局文件不存在：{file}")


@layout_group.command("apply")
@click.argument("file")
@click.option("--dry-run", is_flag=True, help="只预览（各库房各层级数量、新增/删除的架位），不写入")
@answers("输出 JSON")
@pass_app
def layout_apply(app: AppContext, file: str, dry_run: bool) -> Answer:
    """载入或更新库房布局；要删除或缩小的架位上还有档案袋时拒绝，并列出这些档案袋。"""
    layout = load_layout(_layout_path(file))
    try:
        with app.db.transaction() as session:
            report = apply_layout(session, layout, dry_run=dry_run, actor=CLI_ACTOR, now=utcnow())
    except OccupiedShelves as error:
        return Reply({"error": str(error), "blocked": [b.as_json() for b in error.folders], "applied": False},
                     [Aside(f"错误：{error.message}", "red")], status=1)
    return Reply(report.as_json(), report.text_lines(), status=1 if report.blocked else 0)


@layout_group.command("show")
@answers(None)
@pass_app
def layout_show(app: AppContext) -> Answer:
    """当前库房布局：各库房、各层级数量、各村的架位范围。"""
    with app.db.reader() as session:
        return find_layout_in_use(session)


# --- shelving and moving -------------------------------------------------------------------------------------

@click.command("shelve")
@click.option("--village", "village_key", required=True, help="村(居)委会代码或名称")
@answers(None)
@pass_app
def shelve(app: AppContext, village_key: str) -> Answer:
    """给一个村所有尚未上架的档案袋按户号分配位置（接在已上架的后面）。"""
    with app.db.transaction() as session:
        return shelve_village(session, find_village(session, village_key, typed=True), actor=CLI_ACTOR,
                              now=utcnow())


@click.command("move")
@click.argument("folder")
@click.option("--to", "to", required=True,
              help="位置编码（K1-M-3-A-2-4#17）或完整位置（一号库房 3列 A面 2节 4层 第17位）")
@click.option("--reason", default="", help="原因")
@answers(None)
@pass_app
def move(app: AppContext, folder: str, to: str, reason: str) -> Answer:
    """把档案袋（档案袋编号或成员的档案编号）移到新位置；不写第几位时选一个保持户号顺序的空位。"""
    with app.db.transaction() as session:
        household = find_household(session, folder)
        move_folder(session, household, to, reason=reason, actor=CLI_ACTOR, now=utcnow())
        place = find_places(session, [household.id])[household.id]
    return Reply(place.as_json(), [f"已移到 {place.address}（{place.shelf_code}）"])


# --- finding -------------------------------------------------------------------------------------------------

@click.command("locate")
@click.argument("query")
@answers(None)
@click.option("--history", is_flag=True, help="同时列出位置变动记录和经手人")
@click.option("--on", "on_day", type=click.DateTime(["%Y-%m-%d"]), help="查看某天结束时档案袋在哪里")
@pass_app
def locate_command(app: AppContext, query: str, history: bool, on_day: datetime | None) -> Answer:
    """按档案袋编号、档案编号、姓名（或开头）、拼音首字母、身份证号或电话找档案袋：位置、状态、成员。"""
    with app.db.transaction() as session:
        found = []
        for location in locate(session, query, providers=status_providers(app)):
            audit(session, None, "search", "household", location.household_id, detail="cli locate")
            found.append(find_located_folder(session, location, on=on_day.date() if on_day else None,
                                            history=history))
    return Reply([detail.as_json() for detail in found],
                 [line for detail in found for line in detail.text_lines()] or ["没有找到。"])


@click.command("picklist")
@click.argument("codes", nargs=-1, required=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="写成 PDF（A4，按取档顺序）")
@answers(None)
@pass_app
def picklist(app: AppContext, codes: tuple[str, ...], output: Path | None) -> Answer:
    """调档单：一批档案袋编号或档案编号，按库房行走顺序排好（不在架的列在最后）。"""
    with app.db.transaction() as session:
        result = find_picklist(session, codes, providers=status_providers(app))
        for row in result.rows:
            audit(session, None, "print", "household", row.location.household_id, detail="cli picklist")
        unit = get_township(session).unit_name
    if output is not None:
        output.write_bytes(render_picklist_pdf(result, day=app.today(), unit=unit))
    return Reply({**result.as_json(), "pdf": str(output) if output else None},
                 [*result.text_lines(), *(Aside(f"  未找到 {code}：{error}") for code, error in result.not_found),
                  *_written(output)])


# --- capacity and re-layout ----------------------------------------------------------------------------------

@click.command("capacity")
@answers(None)
@click.option("--shelves", "show_shelves", is_flag=True, help="同时列出每层架位的使用情况")
@pass_app
def capacity(app: AppContext, show_shelves: bool) -> Answer:
    """各村、各层架位的使用率，以及每个村还能放多少袋。"""
    with app.db.reader() as session:
        report = find_capacity(session)
    return Reply(report.as_json(), report.text_lines(shelves=show_shelves))


@click.command("relayout")
@click.option("--village", "village_key", required=True, help="需要扩充架位的村(居)委会代码或名称")
@click.option("--apply", "apply_", is_flag=True, help="执行方案（记录每一次挪动）；不加时只预览")
@click.option("--reserve", type=float, default=None, help="给该村预留的增长比例（默认取库房布局的 growth_reserve）")
@answers(None)
@pass_app
def relayout(app: AppContext, village_key: str, apply_: bool, reserve: float | None) -> Answer:
    """重新排架：各村仍按代码顺序各占一段连续架位，挪动尽量少的档案袋；打印挪动清单和需更换的架位标签。"""
    with app.db.transaction() as session:
        village = find_village(session, village_key, typed=True)
        if apply_:
            return apply_relayout(session, village, reserve=reserve, actor=CLI_ACTOR, now=utcnow())
        return plan_relayout(session, village, reserve=reserve)


# --- closed records (结案) -------------------------------------------------------------------------------------

@click.command("close")
@click.argument("folder")
@click.option("--reason", default="", help="原因（如 全户迁出、死亡）")
@click.option("--close-members", type=click.Choice(["death", "moved", "lost", "other"]),
              help="同时给该户尚未结案的成员结案（死亡/迁出/失访/其他）")
@answers(None)
@pass_app
def close(app: AppContext, folder: str, reason: str, close_members: str | None) -> Answer:
    """把全户已结案的档案袋移入结案区（下一个空位）；位置历史保留，可用 reopen 取回。"""
    with app.db.transaction() as session:
        household = find_household(session, folder)
        if close_members:
            for member in household.members:
                if member.status == "active":
                    close_resident(session, member, close_members, app.today(), note=reason, actor=CLI_ACTOR,
                                   now=utcnow())
            session.flush()
        close_folder(session, household, reason=reason, actor=CLI_ACTOR, now=utcnow())
        place = find_places(session, [household.id])[household.id]
    return Reply(place.as_json(), [f"已移入结案区：{place.address}（{place.shelf_code}）"])


@click.command("reopen")
@click.argument("folder")
@click.option("--reason", required=True, help="从结案区取回的原因（必填）")
@answers(None)
@pass_app
def reopen(app: AppContext, folder: str, reason: str) -> Answer:
    """把档案袋从结案区取回本村架位（原位置空着就回原位）；位置历史保留。"""
    with app.db.transaction() as session:
        household = find_household(session, folder)
        reopen_folder(session, household, reason=reason, actor=CLI_ACTOR, now=utcnow())
        place = find_places(session, [household.id])[household.id]
    return Reply(place.as_json(), [f"已取回：{place.address}（{place.shelf_code}）"])


# --- inventory (盘点) -------------------------------------------------------------------------------------------

@click.group("inventory")
def inventory_group() -> None:
    """盘点：按架位范围扫描或导入扫描枪文件，核对缺失、错架、借出，打印盘点记录。"""


@inventory_group.command("start")
@click.option("--from", "first", help="起始架位（位置编码或完整位置）")
@click.option("--to", "last", help="结束架位（按上架顺序）")
@click.option("--shelf", "shelves", multiple=True, help="逐个指定架位（可重复）")
@click.option("--village", help="盘点一个村的全部架位")
@click.option("--counter", "counters", multiple=True, required=True, help="盘点人（可重复）")
@click.option("--supervisor", default="", help="监盘人")
@answers(None)
@pass_app
def inventory_start(app: AppContext, first: str | None, last: str | None, shelves: tuple[str, ...],
                    village: str | None, counters: tuple[str, ...], supervisor: str) -> Answer:
    """开始一次盘点（编号如 PD-2026-0001），范围：--from/--to、--shelf 或 --village。"""
    with app.db.transaction() as session:
        village = village_refs(session, [village])[0] if village else None
        count = start_inventory(session, counters=counters, first=first, last=last, shelves=shelves,
                                village=village, supervisor=supervisor, actor=CLI_ACTOR, now=utcnow())
        data = {"number": count.number, "range": count.scope_text, "shelves": len(count.shelves),
                "counters": count.counters, "state": count.state}
    return Reply(data, [f"已开始盘点 {data['number']}：{data['range']}"])


@inventory_group.command("scan")
@click.argument("number")
@click.argument("code")
@click.option("--shelf", help="在哪一层架位上扫到")
@click.option("--client-id", help="扫描编号（重复提交同一编号不会重复计数）")
@answers(None)
@pass_app
def inventory_scan(app: AppContext, number: str, code: str, shelf: str | None, client_id: str | None) -> Answer:
    """记录一次扫描（档案袋编号、档案编号或表单条码），并立即说明它应在哪里。"""
    with app.db.transaction() as session:
        return record_scan(session, find_inventory(session, number), code, shelf=shelf, client_id=client_id,
                           providers=status_providers(app), actor=CLI_ACTOR, now=utcnow())


@inventory_group.command("upload")
@click.argument("number")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@answers(None)
@pass_app
def inventory_upload(app: AppContext, number: str, file: Path) -> Answer:
    """导入扫描枪保存的条码文件（每行 条码[,架位][,时间]；UTF-8 或 GBK）。

    时间按本院时区（借阅规则 timezone）读取；有错行则整份不导入；同一文件重复导入不重复计数。"""
    with click.progressbar(length=1, label="导入扫描", file=sys.stderr, show_pos=True) as bar:
        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        with app.db.transaction() as session:
            return upload_codes(session, find_inventory(session, number), file.read_bytes(), filename=file.name,
                                timezone=app.rules.timezone, progress=progress, actor=CLI_ACTOR, now=utcnow())


@inventory_group.command("report")
@click.argument("number")
@answers(None)
@pass_app
def inventory_report(app: AppContext, number: str) -> Answer:
    """核对结果：在架、错架（及应在位置）、缺失、借出、无法识别、重复扫描……"""
    with app.db.transaction() as session:
        report = reconcile(session, find_inventory(session, number), providers=status_providers(app))
        audit_report(session, report, None, "view", now=utcnow())
    return report


@inventory_group.command("close")
@click.argument("number")
@click.option("--mark-missing", is_flag=True, help="把未扫到的档案袋登记为下落不明")
@click.option("--mark-found", is_flag=True, help="把此前下落不明、本次扫到的档案袋登记为找回归位")
@answers(None)
@pass_app
def inventory_close(app: AppContext, number: str, mark_missing: bool, mark_found: bool) -> Answer:
    """结束盘点（同一事务内登记缺失/找回），保存结果以便打印盘点记录。"""
    with app.db.transaction() as session:
        report = close_inventory(session, find_inventory(session, number), mark_missing=mark_missing,
                                 mark_found=mark_found, providers=status_providers(app), actor=CLI_ACTOR, now=utcnow())
        audit_report(session, report, None, "view", now=utcnow())
    return Reply(report.as_json(), [*report.text_lines(), f"已结束；登记下落不明 {report.marked_missing} 袋，"
                                                           f"找回归位 {report.marked_found} 袋。"])


@inventory_group.command("pdf")
@click.argument("number")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@answers(None)
@pass_app
def inventory_pdf(app: AppContext, number: str, output: Path) -> Answer:
    """打印盘点记录（A4：范围、盘点人、各类数量、缺失/错架/无法识别/重复/借出清单、签字栏）。"""
    with app.db.transaction() as session:
        count = find_inventory(session, number)
        pdf = print_inventory(session, count, user=None, providers=status_providers(app), now=utcnow(),
                              timezone=app.rules.timezone)
        found = count.number
    output.write_bytes(pdf)
    return Reply({"number": found, "pdf": str(output)}, _written(output))


@inventory_group.command("list")
@answers(None)
@pass_app
def inventory_list(app: AppContext) -> Answer:
    """全部盘点，最新的在前。"""
    with app.db.reader() as session:
        return Reply.listing(list_inventories(session))


# --- handover (移交) --------------------------------------------------------------------------------------------

class HandoverGroup(click.Group):
    """`handover [options] CODES…` records a handover; `handover pdf|list` are subcommands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] in self.commands:
            return super().parse_args(ctx, args)
        return super().parse_args(ctx, ["record", *args])


@click.group("handover", cls=HandoverGroup, invoke_without_command=False)
def handover_group() -> None:
    """移交：按村、架位范围或档案袋编号生成移交清单（一式三份）并记录保管变更。"""


@handover_group.command("record", hidden=True)
@click.argument("codes", nargs=-1)
@click.option("--village", help="移交一个村的全部档案袋")
@click.option("--from", "first", help="起始架位")
@click.option("--to", "last", help="结束架位")
@click.option("--codes-file", type=click.File("r", encoding="utf-8-sig"), help="档案袋编号文件（每行一个）")
@click.option("--from-party", default="", help="移交方")
@click.option("--to-party", default="", help="接收方")
@click.option("--supervisor", default="", help="监交人")
@click.option("--reason", default="", help="交接事由")
@click.option("--dry-run", is_flag=True, help="只列出清单，不登记")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="写出移交清单 PDF（一式三份）")
@answers(None)
@pass_app
def handover_record(app: AppContext, codes: tuple[str, ...], village: str | None, first: str | None,
                    last: str | None, codes_file: TextIO | None, from_party: str, to_party: str, supervisor: str,
                    reason: str, dry_run: bool, output: Path | None) -> Answer:
    """生成移交清单并登记移交（--dry-run 只预览）。"""
    if codes_file is not None:
        codes = codes + tuple(line.strip() for line in codes_file if line.strip())
    if output is not None and not output.parent.resolve().is_dir():
        raise click.UsageError(f"输出目录不存在：{output.parent}")
    with app.db.transaction() as session:
        village = village_refs(session, [village])[0] if village else None
        if dry_run:
            result = select_folders(session, village=village, first=first, last=last, codes=codes,
                                    providers=status_providers(app))
            result.from_party, result.to_party, result.supervisor, result.reason = (from_party, to_party,
                                                                                    supervisor, reason)
        else:
            result = hand_over(session, from_party=from_party, to_party=to_party, supervisor=supervisor,
                               reason=reason, village=village, first=first, last=last, codes=codes,
                               providers=status_providers(app), actor=CLI_ACTOR, now=utcnow())
        pdf = (print_handover(session, result, user=None, now=utcnow(), timezone=app.rules.timezone)
               if output is not None else None)
    if output is not None and pdf is not None:
        output.write_bytes(pdf)
    refused = [Aside(f"  不能移交 {r.folder} {r.head_name}：{r.why}") for r in result.refused]
    return Reply({**result.as_json(), "pdf": str(output) if output else None},
                 [*result.text_lines(), *refused, *_written(output)], status=1 if dry_run and refused else 0)


@handover_group.command("pdf")
@click.argument("number")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@pass_app
def handover_pdf(app: AppContext, number: str, output: Path) -> None:
    """重印一次移交的清单（一式三份）。"""
    with app.db.transaction() as session:
        pdf = print_handover(session, find_handover(session, number), user=None, now=utcnow(),
                             timezone=app.rules.timezone)
    output.write_bytes(pdf)
    click.echo(f"已写出 {output}")


@handover_group.command("list")
@answers(None)
@pass_app
def handover_list(app: AppContext) -> Answer:
    """全部移交记录，最新的在前。"""
    with app.db.reader() as session:
        items = list_handovers(session)
    return Reply(items, [f"{h['number']}  {str(h['handed_at'])[:10]}  {h['from_party']} → {h['to_party']}  "
                         f"{h['folders']} 袋  {h['selection']}" for h in items])
