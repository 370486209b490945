"""`archiveprint township|village|find|import|demo`: the resident register from the command line."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from archiveprint.accounts.services import audit
from archiveprint.cli import CLI_ACTOR, Answer, AppContext, Reply, answers, pass_app, usage_error
from archiveprint.cli.locations import status_providers
from archiveprint.locations.queries import find_places
from archiveprint.register import demo as demo_data
from archiveprint.register.findings import FindingGroup, describe
from archiveprint.register.importer import ImportReport, import_file, parse_mapping, write_error_report
from archiveprint.register.queries import find_residents, list_villages
from archiveprint.register.services import add_village, configure_township


@click.group("township")
def township_group() -> None:
    """本院所属乡镇（只设置一次）。"""


@township_group.command("set")
@click.option("--county", required=True, help="县级行政区划代码（6位）")
@click.option("--county-name", required=True, help="县（区）名称")
@click.option("--code", required=True, help="乡镇代码（3位）")
@click.option("--name", required=True, help="乡镇（街道）名称")
@click.option("--unit", default="", help="建档单位名称（默认：乡镇名+卫生院）")
@pass_app
def township_set(app: AppContext, county: str, county_name: str, code: str, name: str, unit: str) -> None:
    """设置本档案室所属的县和乡镇。"""
    with app.db.transaction() as session:
        township = configure_township(session, county, county_name, code, name, unit_name=unit, actor=CLI_ACTOR)
        click.echo(f"本档案室：{township.county_name}{township.name}（{township.prefix}）")


@click.group("village")
def village_group() -> None:
    """村(居)委会。"""


@village_group.command("add")
@click.argument("code")
@click.argument("name")
@pass_app
def village_add(app: AppContext, code: str, name: str) -> None:
    """登记一个村(居)委会：archiveprint village add 201 东村"""
    with app.db.transaction() as session:
        village = add_village(session, code, name, actor=CLI_ACTOR)
        click.echo(f"已登记 {village.code} {village.name}")


@village_group.command("list")
@answers(None)
@pass_app
def village_list(app: AppContext) -> Answer:
    """列出村(居)委会及其户数、人数。"""
    with app.db.reader() as session:
        rows = list_villages(session)
        return Reply([{"code": v.code, "name": v.name, "households": h, "residents": r} for v, h, r in rows],
                     [f"{v.code}  {v.name}\t{h} 户\t{r} 人" for v, h, r in rows])


@click.command("find")
@click.argument("query")
@answers("输出 JSON 列表")
@click.option("--limit", default=50, show_default=True)
@pass_app
def find(app: AppContext, query: str, limit: int) -> Answer:
    """按档案编号、姓名、拼音首字母、身份证号或电话查找居民。"""
    with app.db.transaction() as session:
        matches = find_residents(session, query, limit=limit)
        for match in matches:
            audit(session, None, "search", "resident", match.archive_code, detail="cli find")
        places = find_places(session, [m.household for m in matches], status_providers(app))
    # `status` is the folder's (on_shelf, out, lent, missing, closed, unshelved, gone); the resident's own record
    # status (active/closed) moves to `record_status`.
    return Reply([{**m.as_json(), "record_status": m.status, "location": places[m.household].address or None,
                   "status": places[m.household].status.code, "status_text": places[m.household].status.text}
                  for m in matches], [line for m in matches for line in m.text_lines()] or ["没有找到。"])


@click.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="只检查并预览，不写入")
@answers("输出 JSON 结果")
@click.option("--map", "mapping", multiple=True, metavar="列名=字段",
              help="自定义列映射，例如 --map '居民姓名=姓名'（可重复）")
@click.option("--add-villages", is_flag=True, help="自动登记文件中出现的新村(居)委会")
@click.option("--errors-xlsx", type=click.Path(path_type=Path), help="把错误清单另存为 .xlsx")
@click.option("--force", is_flag=True, help="即使同一文件已导入且登记册此后没有变化，也逐行重新读取")
@pass_app
def import_command(app: AppContext, file: Path, dry_run: bool, mapping: tuple[str, ...], add_villages: bool,
                   errors_xlsx: Path | None, force: bool) -> Answer:
    """导入省平台导出的居民档案（.xlsx / .csv，UTF-8 或 GBK），整份文件要么全部成功要么全部不写入。"""
    if not file.is_file():
        usage_error(f"文件不存在：{file}")
    columns = parse_mapping(mapping)
    with click.progressbar(length=0, label="导入", file=sys.stderr, show_pos=True) as bar:
        def progress(rows: int) -> None:
            bar.length = max(bar.length or 0, rows)
            bar.update(rows - bar.pos)

        with app.db.transaction() as session:
            report = import_file(session, file, actor=CLI_ACTOR, dry_run=dry_run, mapping=columns,
                                 add_villages=add_villages, today=app.today(), progress=progress, force=force,
                                 limits=app.settings.import_limits)
    if errors_xlsx and report.problems:
        write_error_report(report, errors_xlsx)
    return Reply(report.as_json(), _import_lines(report, errors_file=errors_xlsx is not None),
                 status=0 if report.ok else 1)


GROUPS_SHOWN = 200


def _import_lines(report: ImportReport, *, errors_file: bool) -> list[str]:
    """The summary, then the findings grouped by cause, with what to run next (the web page shows them its way)."""
    lines = [report.summary()]
    if report.already is not None:
        lines.append("如需重新读取整份文件，请加 --force")
    lines += _group_lines("", report.problem_groups())
    if len(report.problems) > len(report.problem_groups()) and not errors_file:
        lines.append("  完整的逐行清单：加 --errors-xlsx 文件名.xlsx")
    if report.missing_villages:
        lines.append("未登记的村(居)委会（先用 archiveprint village add 代码 村名 登记，或加 --add-villages）：")
        lines += [f"  {village.code or '???'} {village.name or '（无村名）'}：{village.rows} 行"
                  + (f"（{village.note}）" if village.note else "") for village in report.missing_villages]
    lines += _group_lines(f"已规范的值（{len(report.normalised)} 处）：", report.normalised_groups())
    lines += _group_lines(f"待核实（{len(report.flagged)} 处，照常导入，并在档案上标记待核实）：",
                          report.flagged_groups())
    return lines


def _group_lines(title: str, groups: list[FindingGroup]) -> list[str]:
    """Findings grouped by cause: one line per cause (its rows as ranges), as the web page shows them."""
    if not groups:
        return []
    lines = [title] if title else []
    lines += [f"  {describe(found)}" for found in groups[:GROUPS_SHOWN]]
    if len(groups) > GROUPS_SHOWN:
        lines.append(f"  ……另有 {len(groups) - GROUPS_SHOWN} 类")
    return lines


@click.command("demo")
@click.option("--seed", default=2026, show_default=True, help="随机种子（同一种子生成同样的数据）")
@click.option("--villages", default=6, show_default=True)
@click.option("--households", default=60, show_default=True, help="每个村的户数")
@click.option("--export", type=click.Path(path_type=Path), help="不写数据库，而是写一份省平台格式的导出文件")
@click.option("--encoding", type=click.Choice(["utf-8-sig", "utf-8", "gbk", "gb18030"]), default="utf-8-sig",
              show_default=True, help="--export 为 .csv 时的编码")
@pass_app
def demo(app: AppContext, seed: int, villages: int, households: int, export: Path | None, encoding: str) -> None:
    """生成一个虚构的演示乡镇（身份证号校验位正确、户内关系合理，无真实个人信息）。"""
    # GBK cannot hold rare characters such as 𠮷: a GBK export is generated without them.
    township = demo_data.generate(seed=seed, villages=villages, households_per_village=households,
                                  today=app.today(), rare=not (export and encoding == "gbk"))
    if export:
        rows = demo_data.write_export(township, export, encoding=encoding)
        click.echo(f"已写出 {rows} 行到 {export}")
        return
    with click.progressbar(length=township.resident_count, label="载入演示数据", file=sys.stderr) as bar, \
            app.db.transaction() as session:
        summary = demo_data.load(session, township, actor=CLI_ACTOR, progress=bar.update)
    click.echo(summary)
