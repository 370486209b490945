"""`archiveprint print labels` and `archiveprint labels …`: label sheets, stocks and printer calibration."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TextIO

import click

from archiveprint.cli import Answer, AppContext, Aside, Reply, answers, cli_actor, pass_app
from archiveprint.labels.printers import calibrate_printer, delete_printer_profile, set_printer_profile
from archiveprint.labels.queries import list_printer_profiles
from archiveprint.labels.services import (
    LabelOptions,
    audit_labels,
    label_kinds,
    label_stocks,
    print_labels,
    resolve_label_scope,
)
from archiveprint.labels.sheet import parse_cells
from archiveprint.labels.stock import find_stock

SCALE_TIP = "打印时请选择「实际大小 / 100%」，不要「适合页面」。"
KINDS_HELP = "folder 户档案袋 / spine 脊背 / resident 个人 / card 信息卡 / shelf 架位 / calibration 校准页"


def _pair(text: str | None, option: str) -> tuple[float, float] | None:
    """'41.5,29.9' (or with a Chinese comma or a space) → (41.5, 29.9)."""
    if text is None:
        return None
    parts = text.replace("，", ",").replace(" ", ",").split(",")
    parts = [p for p in parts if p]
    try:
        x, y = (float(p) for p in parts)
    except ValueError:
        raise click.BadParameter("应为两个数：左,上（毫米），如 41.5,29.9", param_hint=option) from None
    return x, y


@click.command("labels")
@click.option("--kind", "kind_key", required=True, help=KINDS_HELP)
@click.option("--stock", "stock_key", help="标签纸，如 a4-3x8（默认随标签种类；archiveprint labels stocks 列出全部）")
@click.option("--household", help="户：内部编号、村代码-户号（201-17）或档案袋编号")
@click.option("--village", help="村：3位代码或村名")
@click.option("--code", "codes", multiple=True, help="档案袋编号或档案编号（可重复）；架位标签为位置编码")
@click.option("--codes-file", type=click.File("r", encoding="utf-8-sig"), help="每行一个编号的文件")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="只印该日期以来新建或有变动的档案袋（换标签）")
@click.option("--start", default=1, show_default=True, help="从第 N 格开始（部分用过的标签纸）")
@click.option("--skip", "skips", multiple=True, metavar="1,3,5-8",
              help="已用过的格子；每张部分用过的纸一个 --skip，按放入打印机的顺序")
@click.option("--outline", is_flag=True, help="画出每格轮廓（试印用）")
@click.option("--printer", help="打印机名称：使用它对这种标签纸的校准（偏移、蠕变、分辨率）")
@click.option("--dpi", type=int, help="打印机分辨率（未校准时：卷筒 203，整张 300）")
@click.option("--mask-names", is_flag=True, help="隐去姓名中间的字（张*明），条码照常可扫")
@click.option("--qr", is_flag=True, help="用二维码（卡片大小的标签）")
@click.option("--copies", default=1, show_default=True, help="每张标签印几份")
@click.option("--include-closed", is_flag=True, help="成员列表和个人标签包括已结案的档案")
@click.option("--location-title", default="", help="架位标签：位置说明，如 第3列 A面 第2节")
@click.option("--allow-missing-glyphs", is_flag=True, help="即使有字体缺字也继续打印")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="输出 PDF 路径")
@answers("输出 JSON：labels, pages, seconds, output …")
@pass_app
def print_labels_command(app: AppContext, kind_key: str, stock_key: str | None, household: str | None,
                         village: str | None, codes: tuple[str, ...], codes_file: TextIO | None,
                         since: datetime | None, start: int, skips: tuple[str, ...], outline: bool,
                         printer: str | None, dpi: int | None, mask_names: bool, qr: bool, copies: int,
                         include_closed: bool, location_title: str, allow_missing_glyphs: bool,
                         output: Path) -> Answer:
    """打印标签：户档案袋、脊背、个人、信息卡、架位或校准页，按 村 → 户 的顺序排在标签纸上。"""
    if codes_file:
        codes = codes + tuple(line.strip() for line in codes_file if line.strip())
    kind = label_kinds().get(kind_key)
    binds = kind.binds if kind else ""
    if binds != "calibration" and not (household or village or codes or since):
        raise click.UsageError("请指定范围：--household、--village、--code 或 --since 之一")
    used = tuple(tuple(sorted(parse_cells(text))) for text in skips)
    options = LabelOptions(start=start, used=used, outline=outline, printer=printer, dpi=dpi, mask_names=mask_names,
                           qr=qr, include_closed=include_closed, allow_missing_glyphs=allow_missing_glyphs,
                           copies=copies, location_title=location_title, from_command_line=True)
    with click.progressbar(length=1, label="打印标签", file=sys.stderr, show_pos=True) as bar:
        def progress(done: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(done - bar.pos)

        with app.db.reader() as session:
            if binds == "location":
                scope = resolve_label_scope(session, village=village, locations=codes)
            else:
                scope = resolve_label_scope(session, household=household, village=village, codes=codes,
                                            since=since.date() if since else None)
            result = print_labels(session, kind_key, stock_key or "", scope, output, options=options,
                                  instance_dir=app.settings.instance_dir, progress=progress)
    if result.households or result.residents:
        with app.db.transaction() as session:
            audit_labels(session, result, actor=cli_actor())
    return Reply(result.as_json(), [*result.text_lines(), Aside(SCALE_TIP, None)])


@click.group("labels")
def labels_group() -> None:
    """标签：标签纸、标签种类、打印机校准。"""


@labels_group.command("stocks")
@answers(None)
@pass_app
def list_stocks(app: AppContext) -> Answer:
    """列出标签纸（templates/labels/stock 与 <实例目录>/labels/stock 里的 *.yaml）。"""
    stocks = label_stocks(app.settings.instance_dir).values()
    layouts = [f"{stock.columns}×{stock.rows}" if not stock.is_roll else "卷筒" for stock in stocks]
    return Reply([stock.as_json() for stock in stocks],
                 [f"{stock.id:16} {layout:6} {stock.label_width:g}×{stock.label_height:g} mm  "
                  f"{stock.default_dpi} dpi  {stock.name}" for stock, layout in zip(stocks, layouts, strict=True)])


@labels_group.command("kinds")
@answers(None)
def list_kinds() -> Answer:
    """列出标签种类（templates/labels/layouts）。"""
    kinds = label_kinds().values()
    return Reply([kind.as_json() for kind in kinds],
                 [f"{kind.id:12} {kind.title}（默认 {kind.default_stock}{'，可用二维码' if kind.supports_qr else ''}）"
                  f"：{kind.description}" for kind in kinds])


@labels_group.group("printer")
def printer_group() -> None:
    """打印机校准：每台打印机、每种标签纸的偏移与蠕变。"""


@printer_group.command("set")
@click.argument("name")
@click.option("--stock", "stock_key", required=True, help="标签纸，如 a4-3x8")
@click.option("--dx", default=0.0, show_default=True, help="向右移（毫米，负数向左）")
@click.option("--dy", default=0.0, show_default=True, help="向下移（毫米，负数向上）")
@click.option("--creep-x", default=0.0, show_default=True, help="每往右一列再移（毫米）")
@click.option("--creep-y", default=0.0, show_default=True, help="每往下一行再移（毫米）")
@click.option("--dpi", type=int, help="打印机分辨率：203、300、600 …")
@answers(None)
@pass_app
def set_printer(app: AppContext, name: str, stock_key: str, dx: float, dy: float, creep_x: float, creep_y: float,
                dpi: int | None) -> Answer:
    """直接设置一台打印机对一种标签纸的校准。"""
    stock = find_stock(label_stocks(app.settings.instance_dir), stock_key)
    with app.db.transaction() as session:
        profile = set_printer_profile(session, name, stock, dx=dx, dy=dy, creep_x=creep_x, creep_y=creep_y, dpi=dpi,
                                      actor=cli_actor())
        return Reply(profile.as_json(), profile.text_lines())


@printer_group.command("calibrate")
@click.argument("name")
@click.option("--stock", "stock_key", required=True, help="标签纸，如 a4-3x8")
@click.option("--measured", required=True, metavar="左,上", help="① 号十字中心到纸张左边、上边的距离（毫米）")
@click.option("--measured-last", metavar="左,上", help="最后一格十字中心到纸张左边、上边的距离（毫米），用于蠕变")
@click.option("--dpi", type=int, help="打印机分辨率：203、300、600 …")
@answers(None)
@pass_app
def calibrate(app: AppContext, name: str, stock_key: str, measured: str, measured_last: str | None,
              dpi: int | None) -> Answer:
    """用校准页上量到的距离算出校准（在当前校准基础上修正）。"""
    first = _pair(measured, "--measured")
    last = _pair(measured_last, "--measured-last")
    assert first is not None
    stock = find_stock(label_stocks(app.settings.instance_dir), stock_key)
    with app.db.transaction() as session:
        profile = calibrate_printer(session, name, stock, measured=first, measured_last=last, dpi=dpi,
                                    actor=cli_actor())
        return Reply(profile.as_json(), profile.text_lines())


@printer_group.command("list")
@answers(None)
@pass_app
def list_printers(app: AppContext) -> Answer:
    """列出已校准的打印机。"""
    with app.db.reader() as session:
        return Reply.listing(list_printer_profiles(session), empty="还没有校准过任何打印机。")


@printer_group.command("delete")
@click.argument("name")
@click.option("--stock", "stock_key", required=True)
@pass_app
def delete_printer(app: AppContext, name: str, stock_key: str) -> None:
    """删除一台打印机对一种标签纸的校准。"""
    with app.db.transaction() as session:
        delete_printer_profile(session, name, stock_key, actor=cli_actor())
    click.echo(f"已删除 {name} / {stock_key} 的校准。")
