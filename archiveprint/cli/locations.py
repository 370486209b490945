"""`archiveprint layout|shelve|locate|move|picklist|capacity|relayout|close|reopen|inventory|handover`: the archive
room's shelves and folders."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from archiveprint.cli import AppContext, emit_json, pass_app

if TYPE_CHECKING:
    from typing import TextIO

    from archiveprint.locations.inventory import InventoryReport
    from archiveprint.locations.queries import FolderLocation, StatusProvider
    from archiveprint.locations.services import LayoutReport

CLI_ACTOR = "cli"
LIST_LIMIT = 10


def status_providers(app: AppContext) -> list[StatusProvider]:
    """Who can say more about a folder that is out. Lending adds its provider here (locations never imports it),
    with this installation's rules (its time zone and overdue levels)."""
    from archiveprint.lending.queries import status_provider
    from archiveprint.lending.rules import site_rules

    return [status_provider(site_rules(app.settings.instance_dir))]


def site_timezone(app: AppContext) -> str:
    """The site's time zone (lending rules' `timezone`): scanner files carry wall-clock times in it."""
    from archiveprint.lending.rules import site_rules

    return site_rules(app.settings.instance_dir).timezone


def _now() -> datetime:
    from archiveprint.db import utcnow

    return utcnow()


# --- layout --------------------------------------------------------------------------------------------------

@click.group("layout")
def layout_group() -> None:
    """库房布局：库房、密集架/档案柜、架位（storage_layout/*.yaml）。"""


def _layout_path(ctx: click.Context, file: str, as_json: bool) -> Path:
    from archiveprint.resources import storage_layout_dir

    path = Path(file)
    if path.is_file():
        return path
    for candidate in (storage_layout_dir() / file, storage_layout_dir() / f"{file}.yaml"):
        if candidate.is_file():
            return candidate
    message = f"布局文件不存在：{file}"
    if as_json:
        emit_json({"error": message})
    else:
        click.secho(f"错误：{message}", fg="red", err=True)
    ctx.exit(2)
    raise AssertionError  # ctx.exit raises


@layout_group.command("apply")
@click.argument("file")
@click.option("--dry-run", is_flag=True, help="只预览（各库房各层级数量、新增/删除的架位），不写入")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@pass_app
@click.pass_context
def layout_apply(ctx: click.Context, app: AppContext, file: str, dry_run: bool, as_json: bool) -> None:
    """载入或更新库房布局；要删除或缩小的架位上还有档案袋时拒绝，并列出这些档案袋。"""
    ctx.meta["json"] = as_json
    from archiveprint.locations.layout import load_layout
    from archiveprint.locations.services import OccupiedShelves, apply_layout

    layout = load_layout(_layout_path(ctx, file, as_json))
    try:
        with app.db.transaction() as session:
            report = apply_layout(session, layout, dry_run=dry_run, actor=CLI_ACTOR, now=_now())
    except OccupiedShelves as error:
        if as_json:
            emit_json({"error": str(error), "blocked": [b.as_json() for b in error.folders], "applied": False})
        else:
            click.secho(f"错误：{error.message}", fg="red", err=True)
        ctx.exit(1)
    if as_json:
        emit_json(report.as_json())
    else:
        for line in _report_lines(report, dry_run):
            click.echo(line)
    ctx.exit(1 if report.blocked else 0)


def _report_lines(report: LayoutReport, dry_run: bool) -> list[str]:
    from archiveprint.locations.services import BLOCK_REASONS

    layout, diff = report.layout, report.diff
    lines = [f"库房布局：{layout.name}（{layout.source}）"]
    lines += [f"  {block.line()}" for block in report.summary]
    lines.append(f"合计 {len(layout.shelves)} 层架位，可放 {layout.capacity} 袋。")
    lines.append(f"与当前布局相比：新增 {len(diff.added)} 层，删除 {len(diff.removed)} 层，"
                 f"变更 {len(diff.changed)} 层，不变 {diff.unchanged} 层"
                 f"{'，取档顺序有变化' if diff.reordered else ''}。")
    for title, codes in (("新增", [s.code for s in diff.added]), ("删除", [s.code for s in diff.removed])):
        if codes:
            more = f" …（共 {len(codes)} 层）" if len(codes) > LIST_LIMIT else ""
            lines.append(f"  {title}：{'、'.join(codes[:LIST_LIMIT])}{more}")
    for change in diff.changed[:LIST_LIMIT]:
        parts = [f"{field} {getattr(change.before, field)} → {getattr(change.after, field)}" for field in change.fields]
        lines.append(f"  变更 {change.after.code}：{'；'.join(parts)}")
    if report.blocked:
        lines.append(f"不能应用：{len(report.blocked)} 袋档案还在要删除、缩小或改用途的架位上，请先移走：")
        lines += [f"  {b.folder} {b.head_name}  {b.address}（{BLOCK_REASONS[b.why]}）" for b in report.blocked]
    lines += [f"注意：{warning}" for warning in report.warnings]
    if dry_run:
        lines.append("（预览，未写入；去掉 --dry-run 即可应用。）")
    elif report.applied:
        lines.append("已应用。")
    return lines


@layout_group.command("show")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def layout_show(app: AppContext, as_json: bool) -> None:
    """当前库房布局：各库房、各层级数量、各村的架位范围。"""
    from archiveprint.locations.layout import summarize
    from archiveprint.locations.queries import current_layout, list_shelves

    with app.db.reader() as session:
        layout = current_layout(session)
        shelves = list_shelves(session, None)
        blocks = summarize([shelf.as_spec() for shelf in shelves])
        runs: dict[str, list[str]] = {}
        for shelf in shelves:
            if shelf.village is not None:
                runs.setdefault(f"{shelf.village.code} {shelf.village.name}", []).append(shelf.code)
        data = {"name": layout.name, "source": layout.source, "sha256": layout.sha256,
                "applied_at": layout.applied_at.isoformat(), "actor": layout.actor, "shelves": len(shelves),
                "capacity": sum(s.capacity for s in shelves), "blocks": [b.as_json() for b in blocks],
                "villages": {k: {"first": v[0], "last": v[-1], "shelves": len(v)} for k, v in runs.items()}}
    if as_json:
        emit_json(data)
        return
    click.echo(f"库房布局：{layout.name}（{layout.source}，{layout.applied_at:%Y-%m-%d %H:%M} 由 {layout.actor} 载入）")
    for block in blocks:
        click.echo(f"  {block.line()}")
    click.echo(f"合计 {data['shelves']} 层架位，可放 {data['capacity']} 袋。")
    for village, codes in runs.items():
        click.echo(f"  村 {village}：{codes[0]} … {codes[-1]}（{len(codes)} 层）")


# --- shelving and moving -------------------------------------------------------------------------------------

@click.command("shelve")
@click.option("--village", "village_key", required=True, help="村(居)委会代码或名称")
@click.option("--json", "as_json", is_flag=True)
@pass_app
@click.pass_context
def shelve(ctx: click.Context, app: AppContext, village_key: str, as_json: bool) -> None:
    """给一个村所有尚未上架的档案袋按户号分配位置（接在已上架的后面）。"""
    ctx.meta["json"] = as_json
    from archiveprint.locations.services import shelve_village
    from archiveprint.register.services import find_village

    with app.db.transaction() as session:
        result = shelve_village(session, find_village(session, village_key), actor=CLI_ACTOR, now=_now())
    if as_json:
        emit_json(result.as_json())
        return
    if not result.placed:
        click.echo(f"村 {result.village} 没有待上架的档案袋。")
        return
    assert result.run is not None
    click.echo(f"村 {result.village}：已上架 {result.placed} 袋；本村架位 {result.run[0]} … {result.run[1]}"
               f"（{result.extended_to} 层）。")
    for folder, address in result.folders[:LIST_LIMIT]:
        click.echo(f"  {folder}  {address}")
    if len(result.folders) > LIST_LIMIT:
        click.echo(f"  ……共 {len(result.folders)} 袋，末袋 {result.folders[-1][0]}  {result.folders[-1][1]}")


@click.command("move")
@click.argument("folder")
@click.option("--to", "to", required=True,
              help="位置编码（K1-M-3-A-2-4#17）或完整位置（一号库房 3列 A面 2节 4层 第17位）")
@click.option("--reason", default="", help="原因")
@click.option("--json", "as_json", is_flag=True)
@pass_app
@click.pass_context
def move(ctx: click.Context, app: AppContext, folder: str, to: str, reason: str, as_json: bool) -> None:
    """把档案袋（档案袋编号或成员的档案编号）移到新位置；不写第几位时选一个保持户号顺序的空位。"""
    ctx.meta["json"] = as_json
    from archiveprint.locations.queries import find_household, find_places
    from archiveprint.locations.services import move_folder

    with app.db.transaction() as session:
        household = find_household(session, folder)
        move_folder(session, household, to, reason=reason, actor=CLI_ACTOR, now=_now())
        place = find_places(session, [household.id])[household.id]
    if as_json:
        emit_json(place.as_json())
    else:
        click.echo(f"已移到 {place.address}（{place.shelf_code}）")


# --- finding -------------------------------------------------------------------------------------------------

@click.command("locate")
@click.argument("query")
@click.option("--json", "as_json", is_flag=True)
@click.option("--history", is_flag=True, help="同时列出位置变动记录和经手人")
@click.option("--on", "on_day", type=click.DateTime(["%Y-%m-%d"]), help="查看某天结束时档案袋在哪里")
@pass_app
@click.pass_context
def locate(ctx: click.Context, app: AppContext, query: str, as_json: bool, history: bool,
           on_day: datetime | None) -> None:
    """按档案袋编号、档案编号、姓名（或开头）、拼音首字母、身份证号或电话找档案袋：位置、状态、成员。"""
    ctx.meta["json"] = as_json
    from archiveprint.accounts.services import audit
    from archiveprint.locations.queries import find_position_at, list_movements, list_touches
    from archiveprint.locations.queries import locate as locate_folders

    with app.db.transaction() as session:
        found = locate_folders(session, query, providers=status_providers(app))
        extra: dict[int, dict[str, object]] = {}
        for location in found:
            audit(session, None, "search", "household", location.household_id, detail="cli locate")
            item: dict[str, object] = {}
            if on_day is not None:
                at = find_position_at(session, location.household_id,
                                      datetime.combine(on_day.date(), time.max))
                item["on"] = {"date": on_day.date().isoformat(), "position": at.as_json() if at else None}
            if history:
                item["history"] = [m.as_json() for m in list_movements(session, location.household_id)]
                item["touched_by"] = [t.as_json() for t in list_touches(session, location.household_id)]
            extra[location.household_id] = item
    if as_json:
        emit_json([{**location.as_json(), **extra[location.household_id]} for location in found])
        return
    if not found:
        click.echo("没有找到。")
        return
    for location in found:
        _print_location(location, extra[location.household_id])


def _print_location(location: FolderLocation, extra: dict[str, object]) -> None:
    place = location.place
    click.echo(f"{location.folder_display}  {location.village_name} 第{location.household_number}户  "
               f"户主 {location.head_name}")
    click.echo(f"  位置：{place.address or '—'}{f'（{place.shelf_code}）' if place.shelf_code else ''}")
    click.echo(f"  状态：{place.status.text}")
    members = "、".join(f"{m.name}（{m.relation or '成员'}{'，已结案' if m.status == 'closed' else ''}）"
                        for m in location.members)
    click.echo(f"  成员：{members or '—'}")
    on = extra.get("on")
    if isinstance(on, dict):
        position = on["position"]
        where = position["address"] or position["kind_text"] if isinstance(position, dict) else "尚未上架"
        click.echo(f"  {on['date']} 当天结束时：{where}")
    for movement in extra.get("history", []) or []:  # type: ignore[union-attr]
        click.echo(f"    {movement['at'][:16]}  {movement['kind_text']}  {movement['address'] or ''}  "
                   f"{movement['holder'] or ''} {movement['reason'] or ''}  （{movement['actor']}）")
    touched = extra.get("touched_by")
    if touched:
        click.echo("  经手人：" + "、".join(f"{t['actor']}（{t['count']} 次，最近 {t['last'][:10]}）"
                                         for t in touched))  # type: ignore[union-attr]


@click.command("picklist")
@click.argument("codes", nargs=-1, required=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="写成 PDF（A4，按取档顺序）")
@click.option("--json", "as_json", is_flag=True)
@pass_app
@click.pass_context
def picklist(ctx: click.Context, app: AppContext, codes: tuple[str, ...], output: Path | None,
             as_json: bool) -> None:
    """调档单：一批档案袋编号或档案编号，按库房行走顺序排好（不在架的列在最后）。"""
    ctx.meta["json"] = as_json
    from archiveprint.accounts.services import audit
    from archiveprint.locations.queries import find_picklist
    from archiveprint.register.services import get_township

    with app.db.transaction() as session:
        result = find_picklist(session, codes, providers=status_providers(app))
        for row in result.rows:
            audit(session, None, "print", "household", row.location.household_id, detail="cli picklist")
        unit = get_township(session).unit_name
    if output is not None:
        from archiveprint.locations.picklist import render_picklist_pdf

        output.write_bytes(render_picklist_pdf(result, day=app.today(), unit=unit))
    if as_json:
        emit_json({**result.as_json(), "pdf": str(output) if output else None})
        return
    for row in result.rows:
        place = row.location.place
        click.echo(f"{row.number:>3}. {place.address or '—':<28} {row.location.folder_display}  "
                   f"{row.location.head_name}  {place.status.text}")
    for code, error in result.not_found:
        click.secho(f"  未找到 {code}：{error}", fg="yellow", err=True)
    if output is not None:
        click.echo(f"已写出 {output}")


# --- capacity and re-layout ----------------------------------------------------------------------------------

@click.command("capacity")
@click.option("--json", "as_json", is_flag=True)
@click.option("--shelves", "show_shelves", is_flag=True, help="同时列出每层架位的使用情况")
@pass_app
def capacity(app: AppContext, as_json: bool, show_shelves: bool) -> None:
    """各村、各层架位的使用率，以及每个村还能放多少袋。"""
    from archiveprint.locations.queries import find_capacity

    with app.db.reader() as session:
        report = find_capacity(session)
    if as_json:
        emit_json(report.as_json())
        return
    purposes = {"village": "村档区", "closed": "结案区"}
    for purpose, total in report.totals().items():
        fill = total["used"] / total["capacity"] if total["capacity"] else 0
        click.echo(f"{purposes.get(purpose, purpose)}：{total['shelves']} 层，{total['used']}/{total['capacity']} 袋"
                   f"（{fill:.0%}）")
    for v in report.villages:
        fill = f"{v.used / v.capacity:.0%}" if v.capacity else "—"
        run = f"{v.first_shelf} … {v.last_shelf}（{v.shelves} 层）" if v.shelves else "未分配架位"
        click.echo(f"  {v.code} {v.name}：{run}，{v.used}/{v.capacity} 袋（{fill}），待上架 {v.unshelved}。"
                   f"{v.message}")
    if show_shelves:
        for s in report.shelves:
            click.echo(f"    {s.code:<16} {s.village or '':<4} {s.used:>3}/{s.capacity:<3} {s.fill:>5.0%}  {s.address}")


@click.command("relayout")
@click.option("--village", "village_key", required=True, help="需要扩充架位的村(居)委会代码或名称")
@click.option("--apply", "apply_", is_flag=True, help="执行方案（记录每一次挪动）；不加时只预览")
@click.option("--reserve", type=float, default=None, help="给该村预留的增长比例（默认取库房布局的 growth_reserve）")
@click.option("--json", "as_json", is_flag=True)
@pass_app
@click.pass_context
def relayout(ctx: click.Context, app: AppContext, village_key: str, apply_: bool, reserve: float | None,
             as_json: bool) -> None:
    """重新排架：各村仍按代码顺序各占一段连续架位，挪动尽量少的档案袋；打印挪动清单和需更换的架位标签。"""
    ctx.meta["json"] = as_json
    from archiveprint.locations.relayout import apply_relayout, plan_relayout
    from archiveprint.register.services import find_village

    with app.db.transaction() as session:
        village = find_village(session, village_key)
        if apply_:
            plan = apply_relayout(session, village, reserve=reserve, actor=CLI_ACTOR, now=_now())
        else:
            plan = plan_relayout(session, village, reserve=reserve)
    if as_json:
        emit_json(plan.as_json())
        return
    for line in plan.lines():
        click.echo(line)


# --- closed records (结案) -------------------------------------------------------------------------------------

@click.command("close")
@click.argument("folder")
@click.option("--reason", default="", help="原因（如 全户迁出、死亡）")
@click.option("--close-members", type=click.Choice(["death", "moved", "lost", "other"]),
              help="同时给该户尚未结案的成员结案（死亡/迁出/失访/其他）")
@click.option("--json", "as_json", is_flag=True)
@pass_app
@click.pass_context
def close(ctx: click.Context, app: AppContext, folder: str, reason: str, close_members: str | None,
          as_json: bool) -> None:
    """把全户已结案的档案袋移入结案区（下一个空位）；位置历史保留，可用 reopen 取回。"""
    ctx.meta["json"] = as_json
    from archiveprint.locations.queries import find_household, find_places
    from archiveprint.locations.services import close_folder
    from archiveprint.register.services import close_resident

    with app.db.transaction() as session:
        household = find_household(session, folder)
        if close_members:
            for member in household.members:
                if member.status == "active":
                    close_resident(session, member, close_members, app.today(), note=reason, actor=CLI_ACTOR,
                                   now=_now())
            session.flush()
        close_folder(session, household, reason=reason, actor=CLI_ACTOR, now=_now())
        place = find_places(session, [household.id])[household.id]
    if as_json:
        emit_json(place.as_json())
    else:
        click.echo(f"已移入结案区：{place.address}（{place.shelf_code}）")


@click.command("reopen")
@click.argument("folder")
@click.option("--reason", required=True, help="从结案区取回的原因（必填）")
@click.option("--json", "as_json", is_flag=True)
@pass_app
@click.pass_context
def reopen(ctx: click.Context, app: AppContext, folder: str, reason: str, as_json: bool) -> None:
    """把档案袋从结案区取回本村架位（原位置空着就回原位）；位置历史保留。"""
    ctx.meta["json"] = as_json
    from archiveprint.locations.queries import find_household, find_places
    from archiveprint.locations.services import reopen_folder

    with app.db.transaction() as session:
        household = find_household(session, folder)
        reopen_folder(session, household, reason=reason, actor=CLI_ACTOR, now=_now())
        place = find_places(session, [household.id])[household.id]
    if as_json:
        emit_json(place.as_json())
    else:
        click.echo(f"已取回：{place.address}（{place.shelf_code}）")


# --- inventory (盘点) -------------------------------------------------------------------------------------------

@click.group("inventory")
def inventory_group() -> None:
    """盘点：按架位范围扫描或导入扫描枪文件，核对缺失、错架、借出，打印盘点记录。"""


def _inventory_lines(report: InventoryReport) -> list[str]:
    from archiveprint.locations.inventory import CATEGORIES

    lines = [f"盘点 {report.number}（{'进行中' if report.state == 'open' else '已结束'}）：{report.scope_text}",
             f"  盘点人：{report.counters}；应在架 {report.expected} 袋，扫描 {report.scans} 次，"
             f"{report.folders_scanned} 袋"]
    for category, count in report.counts.items():
        lines.append(f"  {CATEGORIES[category]}：{count}")
    for category in ("missing", "misplaced", "unknown", "twice", "lent", "recovered", "closed", "out_of_range"):
        for row in report.rows.get(category, [])[:LIST_LIMIT * 5]:
            lines.append(f"    [{CATEGORIES[category][:2]}] {row.folder or row.code}  {row.head_name}  "
                         f"{row.home}  {row.note}".rstrip())
    return lines


@inventory_group.command("start")
@click.option("--from", "first", help="起始架位（位置编码或完整位置）")
@click.option("--to", "last", help="结束架位（按上架顺序）")
@click.option("--shelf", "shelves", multiple=True, help="逐个指定架位（可重复）")
@click.option("--village", help="盘点一个村的全部架位")
@click.option("--counter", "counters", multiple=True, required=True, help="盘点人（可重复）")
@click.option("--supervisor", default="", help="监盘人")
@click.option("--json", "as_json", is_flag=True)
@pass_app
@click.pass_context
def inventory_start(ctx: click.Context, app: AppContext, first: str | None, last: str | None,
                    shelves: tuple[str, ...], village: str | None, counters: tuple[str, ...], supervisor: str,
                    as_json: bool) -> None:
    """开始一次盘点（编号如 PD-2026-0001），范围：--from/--to、--shelf 或 --village。"""
    ctx.meta["json"] = as_json
    from archiveprint.locations.inventory import start_inventory

    with app.db.transaction() as session:
        count = start_inventory(session, counters=counters, first=first, last=last, shelves=shelves,
                                village=village, supervisor=supervisor, actor=CLI_ACTOR, now=_now())
        data = {"number": count.number, "range": count.scope_text, "shelves": len(count.shelves),
                "counters": count.counters, "state": count.state}
    if as_json:
        emit_json(data)
    else:
        click.echo(f"已开始盘点 {data['number']}：{data['range']}")


@inventory_group.command("scan")
@click.argument("number")
@click.argument("code")
@click.option("--shelf", help="在哪一层架位上扫到")
@click.option("--client-id", help="扫描编号（重复提交同一编号不会重复计数）")
@click.option("--json", "as_json", is_flag=True)
@pass_app
@click.pass_context
def inventory_scan(ctx: click.Context, app: AppContext, number: str, code: str, shelf: str | None,
                   client_id: str | None, as_json: bool) -> None:
    """记录一次扫描（档案袋编号、档案编号或表单条码），并立即说明它应在哪里。"""
    ctx.meta["json"] = as_json
    from archiveprint.locations.inventory import find_inventory, record_scan

    with app.db.transaction() as session:
        outcome = record_scan(session, find_inventory(session, number), code, shelf=shelf, client_id=client_id,
                              providers=status_providers(app), actor=CLI_ACTOR, now=_now())
    if as_json:
        emit_json(outcome.as_json())
    else:
        click.echo(f"{outcome.folder or outcome.code}  {outcome.head_name}  {outcome.message}".replace("    ", " "))


@inventory_group.command("upload")
@click.argument("number")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@pass_app
@click.pass_context
def inventory_upload(ctx: click.Context, app: AppContext, number: str, file: Path, as_json: bool) -> None:
    """导入扫描枪保存的条码文件（每行 条码[,架位][,时间]；UTF-8 或 GBK）。

    时间按本院时区（借阅规则 timezone）读取；有错行则整份不导入；同一文件重复导入不重复计数。"""
    ctx.meta["json"] = as_json
    import sys

    from archiveprint.locations.inventory import find_inventory, upload_codes

    with click.progressbar(length=1, label="导入扫描", file=sys.stderr, show_pos=True) as bar:
        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        with app.db.transaction() as session:
            result = upload_codes(session, find_inventory(session, number), file.read_bytes(), filename=file.name,
                                  timezone=site_timezone(app), progress=progress, actor=CLI_ACTOR, now=_now())
    if as_json:
        emit_json(result.as_json())
    elif result.already:
        click.echo(f"这个文件此前已导入过（{result.sha256[:12]}），未重复计数。")
    else:
        click.echo(f"已导入 {result.scans} 次扫描（{result.encoding}，架位标签 {result.shelves} 个）。")


@inventory_group.command("report")
@click.argument("number")
@click.option("--json", "as_json", is_flag=True)
@pass_app
@click.pass_context
def inventory_report(ctx: click.Context, app: AppContext, number: str, as_json: bool) -> None:
    """核对结果：在架、错架（及应在位置）、缺失、借出、无法识别、重复扫描……"""
    ctx.meta["json"] = as_json
    from archiveprint.locations.inventory import audit_report, find_inventory, reconcile

    with app.db.transaction() as session:
        report = reconcile(session, find_inventory(session, number), providers=status_providers(app))
        audit_report(session, report, None, "view", now=_now())
    if as_json:
        emit_json(report.as_json())
        return
    for line in _inventory_lines(report):
        click.echo(line)


@inventory_group.command("close")
@click.argument("number")
@click.option("--mark-missing", is_flag=True, help="把未扫到的档案袋登记为下落不明")
@click.option("--mark-found", is_flag=True, help="把此前下落不明、本次扫到的档案袋登记为找回归位")
@click.option("--json", "as_json", is_flag=True)
@pass_app
@click.pass_context
def inventory_close(ctx: click.Context, app: AppContext, number: str, mark_missing: bool, mark_found: bool,
                    as_json: bool) -> None:
    """结束盘点（同一事务内登记缺失/找回），保存结果以便打印盘点记录。"""
    ctx.meta["json"] = as_json
    from archiveprint.locations.inventory import audit_report, close_inventory, find_inventory

    with app.db.transaction() as session:
        report = close_inventory(session, find_inventory(session, number), mark_missing=mark_missing,
                                 mark_found=mark_found, providers=status_providers(app), actor=CLI_ACTOR, now=_now())
        audit_report(session, report, None, "view", now=_now())
    if as_json:
        emit_json(report.as_json())
        return
    for line in _inventory_lines(report):
        click.echo(line)
    click.echo(f"已结束；登记下落不明 {report.marked_missing} 袋，找回归位 {report.marked_found} 袋。")


@inventory_group.command("pdf")
@click.argument("number")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
@click.pass_context
def inventory_pdf(ctx: click.Context, app: AppContext, number: str, output: Path, as_json: bool) -> None:
    """打印盘点记录（A4：范围、盘点人、各类数量、缺失/错架/无法识别/重复/借出清单、签字栏）。"""
    ctx.meta["json"] = as_json
    from archiveprint.locations.documents import print_inventory
    from archiveprint.locations.inventory import find_inventory

    with app.db.transaction() as session:
        count = find_inventory(session, number)
        pdf = print_inventory(session, count, user=None, providers=status_providers(app), now=_now(),
                              timezone=site_timezone(app))
        found = count.number
    output.write_bytes(pdf)
    if as_json:
        emit_json({"number": found, "pdf": str(output)})
    else:
        click.echo(f"已写出 {output}")


@inventory_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def inventory_list(app: AppContext, as_json: bool) -> None:
    """全部盘点，最新的在前。"""
    from archiveprint.locations.inventory import list_inventories

    with app.db.reader() as session:
        items = list_inventories(session)
    if as_json:
        emit_json([i.as_json() for i in items])
        return
    for i in items:
        state = "进行中" if i.state == "open" else "已结束"
        click.echo(f"{i.number}  {state}  {i.started_at:%Y-%m-%d}  {i.scope_text}  盘点人 {i.counters}  扫描 {i.scans}")


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
@click.option("--json", "as_json", is_flag=True)
@pass_app
@click.pass_context
def handover_record(ctx: click.Context, app: AppContext, codes: tuple[str, ...], village: str | None,
                    first: str | None, last: str | None, codes_file: TextIO | None, from_party: str, to_party: str,
                    supervisor: str, reason: str, dry_run: bool, output: Path | None, as_json: bool) -> None:
    """生成移交清单并登记移交（--dry-run 只预览）。"""
    ctx.meta["json"] = as_json
    from archiveprint.locations.documents import print_handover
    from archiveprint.locations.handover import hand_over, select_folders

    if codes_file is not None:
        codes = codes + tuple(line.strip() for line in codes_file if line.strip())
    if output is not None and not output.parent.resolve().is_dir():
        raise click.UsageError(f"输出目录不存在：{output.parent}")
    with app.db.transaction() as session:
        if dry_run:
            result = select_folders(session, village=village, first=first, last=last, codes=codes,
                                    providers=status_providers(app))
            result.from_party, result.to_party, result.supervisor, result.reason = (from_party, to_party,
                                                                                    supervisor, reason)
        else:
            result = hand_over(session, from_party=from_party, to_party=to_party, supervisor=supervisor,
                               reason=reason, village=village, first=first, last=last, codes=codes,
                               providers=status_providers(app), actor=CLI_ACTOR, now=_now())
        pdf = (print_handover(session, result, user=None, now=_now(), timezone=site_timezone(app))
               if output is not None else None)
    if output is not None and pdf is not None:
        output.write_bytes(pdf)
    if as_json:
        emit_json({**result.as_json(), "pdf": str(output) if output else None})
        return
    title = f"移交 {result.number}" if result.number else "移交清单预览（未登记）"
    click.echo(f"{title}：{result.selection}，{len(result.lines)} 袋，{result.records} 份")
    for line in result.lines:
        click.echo(f"  {line.seq:>3}. {line.folder}  {line.village_name} 第{line.household_number}户  {line.head_name}")
    for refused in result.refused:
        click.secho(f"  不能移交 {refused.folder} {refused.head_name}：{refused.why}", fg="yellow", err=True)
    if output is not None:
        click.echo(f"已写出 {output}")
    if dry_run and result.refused:
        ctx.exit(1)


@handover_group.command("pdf")
@click.argument("number")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@pass_app
def handover_pdf(app: AppContext, number: str, output: Path) -> None:
    """重印一次移交的清单（一式三份）。"""
    from archiveprint.locations.documents import print_handover
    from archiveprint.locations.handover import find_handover

    with app.db.transaction() as session:
        pdf = print_handover(session, find_handover(session, number), user=None, now=_now(),
                             timezone=site_timezone(app))
    output.write_bytes(pdf)
    click.echo(f"已写出 {output}")


@handover_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def handover_list(app: AppContext, as_json: bool) -> None:
    """全部移交记录，最新的在前。"""
    from archiveprint.locations.handover import list_handovers

    with app.db.reader() as session:
        items = list_handovers(session)
    if as_json:
        emit_json(items)
        return
    for h in items:
        click.echo(f"{h['number']}  {str(h['handed_at'])[:10]}  {h['from_party']} → {h['to_party']}  "
                   f"{h['folders']} 袋  {h['selection']}")
