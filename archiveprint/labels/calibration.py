"""The calibration sheet: a crosshair with mm scales in every cell, a 100 mm check bar and what to measure."""

from __future__ import annotations

from typing import TYPE_CHECKING

from archiveprint.labels.sheet import Calibration, cell_at
from archiveprint.labels.stock import LabelStock
from archiveprint.pdf import draw as pdfdraw
from archiveprint.pdf.fonts import EmbeddedFont

if TYPE_CHECKING:
    from archiveprint.labels.render import LabelPrinter

MM = pdfdraw.MM
CIRCLED = ("①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳" + "".join(chr(c) for c in range(0x3251, 0x3260))
           + "".join(chr(c) for c in range(0x32B1, 0x32C0)))  # ① … ㊿


def cell_mark(index: int) -> str:
    return CIRCLED[index - 1] if index <= len(CIRCLED) else f"#{index}"


def nominal_centre(stock: LabelStock, index: int) -> tuple[float, float]:
    """Where cell `index`'s crosshair should land, in mm from the paper's left and top edges."""
    return cell_at(stock, index).centre


def describe(calibration: Calibration) -> str:
    if calibration.is_zero:
        return "未校正"
    parts = [f"右移 {calibration.dx:+.2f} mm", f"下移 {calibration.dy:+.2f} mm"]
    if calibration.creep_x or calibration.creep_y:
        parts.append(f"每列 {calibration.creep_x:+.3f} / 每行 {calibration.creep_y:+.3f} mm")
    return "，".join(parts)


def cell_values(stock: LabelStock, *, printer: str, calibration: Calibration) -> list[dict[str, object]]:
    """One dict per cell of the sheet, for the calibration layout's fields."""
    values = []
    for index in range(1, stock.per_page + 1):
        x, y = nominal_centre(stock, index)
        values.append({"cell_no": cell_mark(index), "nominal_x": f"{x:.1f}", "nominal_y": f"{y:.1f}",
                       "stock_name": stock.name, "printer_name": printer or "未指定打印机",
                       "offset_text": describe(calibration)})
    return values


def draw_sheet(printer: LabelPrinter, printer_name: str = "", *, command: bool = False) -> None:
    """One calibration sheet on `printer` (whose calibration and dpi it was made for): every cell, and the panel.
    `command`: the panel says which command takes the measurements (printed from the CLI), else which web page."""
    stock = printer.stock
    for values in cell_values(stock, printer=printer_name, calibration=printer.calibration):
        printer.add(values)
    printer.decorate(instructions(stock, printer.regular, printer.bold, printer=printer_name,
                                  calibration=printer.calibration, dpi=printer.dpi, command=command))


def instructions(stock: LabelStock, regular: EmbeddedFont, bold: EmbeddedFont | None, *, printer: str,
                 calibration: Calibration, dpi: int, command: bool = False) -> bytes:
    """The panel in the middle of a sheet: scale check, what to measure, where to enter it (the command to type
    when printed from the command line, the web page otherwise)."""
    if stock.is_roll:
        return b""
    heading = bold or regular
    width, height = 156.0, 66.0
    left = (stock.page_width - width) / 2
    top = (stock.page_height - height) / 2
    x0, y0 = left * MM, (stock.page_height - top - height) * MM
    first = nominal_centre(stock, 1)
    last = nominal_centre(stock, stock.per_page)
    ops = [b"q 1 g " + pdfdraw.rect(x0, y0, width * MM, height * MM) + b"f 0 G 0.8 w "
           + pdfdraw.rect(x0, y0, width * MM, height * MM) + b"S Q\n"]

    def text(line: str, x_mm: float, y_mm: float, size: float, font: EmbeddedFont = regular) -> None:
        ops.append(pdfdraw.text_run(font, line, (left + x_mm) * MM, (stock.page_height - top - y_mm) * MM, size))

    text(f"标签校准页 · {stock.name}", 5, 8, 13, heading)
    text(f"打印机：{printer or '未指定'} · {dpi} dpi · 当前校正：{describe(calibration)}", 5, 14, 8)
    text("1  用「实际大小 / 100%」打印在普通纸上，下面这条线应正好 100 mm（不是就是被缩放了，先改打印设置）。",
         5, 21, 8)
    bar_x, bar_y = left + 28, top + 27
    ops.append(_scale_bar(bar_x, bar_y, 100, stock.page_height))
    for mm in range(0, 101, 10):
        label = str(mm)
        ops.append(pdfdraw.text_run(regular, label, (bar_x + mm) * MM - regular.metrics.width(label, 6) / 2,
                                    (stock.page_height - bar_y - 7.5) * MM, 6))
    text(f"2  用尺子量 ① 号十字中心到纸张左边、上边的距离（应为 左 {first[0]:.1f} mm、上 {first[1]:.1f} mm）。",
         5, 44, 8)
    text(f"   再量最后一格 {cell_mark(stock.per_page)} 的十字中心（应为 左 {last[0]:.1f} mm、上 {last[1]:.1f} mm），"
         "用来纠正越往后越偏的“蠕变”。", 5, 49.5, 8)
    if command:
        text("3  把量到的数字输入：", 5, 56, 8)
        text(f"archiveprint labels printer calibrate {printer or '打印机名'} --stock {stock.id} --measured 左,上 "
             "--measured-last 左,上", 8, 61.5, 7.5, heading)
    else:  # printed from the web app: the page to type them into, never a command
        text("3  把量到的数字填入网页：", 5, 56, 8)
        text(f"标签 → 打印机校准，选打印机“{printer or '打印机名'}”和标签纸 {stock.id}，填写 ① 号和最后一格的"
             "左、上距离", 8, 61.5, 7.5, heading)
    return b"".join(ops)


def _scale_bar(x_mm: float, y_mm: float, length: int, page_height: float) -> bytes:
    """A ruler `length` mm long with its top edge `y_mm` from the top of the page: ticks every mm."""
    y = (page_height - y_mm) * MM
    ops = [b"q 0 G 0.6 w ", pdfdraw.line(x_mm * MM, y - 3 * MM, (x_mm + length) * MM, y - 3 * MM), b"0.3 w\n"]
    for mm in range(length + 1):
        tick = 3.0 if mm % 10 == 0 else 2.0 if mm % 5 == 0 else 1.2
        ops.append(pdfdraw.line((x_mm + mm) * MM, y - 3 * MM, (x_mm + mm) * MM, y - (3 - tick) * MM))
    ops.append(b"Q\n")
    return b"".join(ops)
