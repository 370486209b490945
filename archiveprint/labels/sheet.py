"""Where each label lands: cell positions on a stock, start at cell N, used cells skipped, printer offset and creep."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from archiveprint.errors import InvalidValue
from archiveprint.labels.stock import LabelStock

MM = 72 / 25.4


@dataclass(frozen=True)
class Calibration:
    """A printer profile's correction for one stock, in mm. Applied only when drawing: the stock stays true.

    `dx` > 0 moves everything right and `dy` > 0 moves everything down; creep is added once per column (row) step,
    for printers whose drift grows across the page (Koha's creep, gLabels issue #56).
    """

    dx: float = 0.0
    dy: float = 0.0
    creep_x: float = 0.0
    creep_y: float = 0.0

    @property
    def is_zero(self) -> bool:
        return not (self.dx or self.dy or self.creep_x or self.creep_y)


NO_CALIBRATION = Calibration()


@dataclass(frozen=True)
class Cell:
    """One label's place: which output page, which position on the sheet, and its box in mm from the top-left."""

    page: int  # 0-based page of the output PDF
    index: int  # 1-based position on the sheet, row by row from the top left (左上优先)
    row: int  # 0-based
    column: int  # 0-based
    left: float  # mm from the left edge of the page, calibration applied
    top: float  # mm from the top edge of the page, calibration applied
    width: float
    height: float

    def pdf_box(self, page_height: float) -> tuple[float, float, float, float]:
        """(x, y, width, height) in points with PDF's origin at the bottom left of a page `page_height` mm high."""
        return (self.left * MM, (page_height - self.top - self.height) * MM, self.width * MM, self.height * MM)

    @property
    def centre(self) -> tuple[float, float]:
        return (self.left + self.width / 2, self.top + self.height / 2)


def cell_position(stock: LabelStock, row: int, column: int,
                  calibration: Calibration = NO_CALIBRATION) -> tuple[float, float]:
    """(left, top) in mm of the label at `row`, `column` (0-based), as printed through `calibration`."""
    left = stock.left + column * (stock.pitch_x + calibration.creep_x) + calibration.dx
    top = stock.top + row * (stock.pitch_y + calibration.creep_y) + calibration.dy
    return round(left, 4), round(top, 4)


def cell_at(stock: LabelStock, index: int, calibration: Calibration = NO_CALIBRATION, *, page: int = 0) -> Cell:
    """The cell with 1-based `index` on a sheet."""
    if not 1 <= index <= stock.per_page:
        raise InvalidValue("格号应在 1–{per_page} 之间", params={"per_page": stock.per_page}, field="格号", value=index)
    row, column = divmod(index - 1, stock.columns)
    left, top = cell_position(stock, row, column, calibration)
    return Cell(page, index, row, column, left, top, stock.label_width, stock.label_height)


def parse_cells(text: str | Sequence[int] | None) -> frozenset[int]:
    """'1,3,5-8' → {1, 3, 5, 6, 7, 8}: used cells as a clerk types them (Chinese commas and spaces too)."""
    if text is None:
        return frozenset()
    if not isinstance(text, str):
        return frozenset(int(v) for v in text)
    cells: set[int] = set()
    for part in re.split(r"[,，、;；\s]+", text.strip()):
        if not part:
            continue
        match = re.fullmatch(r"(\d+)(?:[-–~～](\d+))?", part)
        if not match:
            raise InvalidValue("已用格子应写成 1,3,5-8 这样的格号", field="已用格子", value=part)
        first, last = int(match.group(1)), int(match.group(2) or match.group(1))
        if last < first:
            raise InvalidValue("格号范围应从小到大", field="已用格子", value=part)
        cells.update(range(first, last + 1))
    return frozenset(cells)


def check_start(stock: LabelStock, start: int = 1, used: Sequence[frozenset[int]] = ()) -> None:
    """Refuse a start cell or used cells the stock does not have, and a partly used sheet with no cell left."""
    if stock.is_roll:
        if start != 1 or any(used):
            raise InvalidValue("卷筒标签每页一张，不能指定起始格或已用格子", field="起始格", value=start)
        return
    if not 1 <= start <= stock.per_page:
        raise InvalidValue("起始格应在 1–{per_page} 之间（{name}）",
                           params={"per_page": stock.per_page, "name": stock.name}, field="起始格", value=start)
    for sheet, cells in enumerate(used, start=1):
        outside = sorted(c for c in cells if not 1 <= c <= stock.per_page)
        if outside:
            raise InvalidValue("第{sheet}张纸的已用格子超出 1–{per_page}",
                               params={"sheet": sheet, "per_page": stock.per_page}, field="已用格子", value=outside[0])
        taken = set(cells) | (set(range(1, start)) if sheet == 1 else set())
        if len(taken) >= stock.per_page:
            raise InvalidValue("第{sheet}张纸的格子已全部用过，请换一张新纸",
                               params={"sheet": sheet}, field="已用格子", value=sheet)


def free_cells(stock: LabelStock, page: int, start: int = 1, used: Sequence[frozenset[int]] = ()) -> list[int]:
    """The 1-based cells that may be printed on output page `page` (0-based)."""
    taken = used[page] if page < len(used) else frozenset()
    first = start if page == 0 else 1
    return [i for i in range(first, stock.per_page + 1) if i not in taken]


def layout_cells(stock: LabelStock, count: int, *, start: int = 1, used: Sequence[frozenset[int]] = (),
                 calibration: Calibration = NO_CALIBRATION) -> Iterator[Cell]:
    """The cells of `count` labels in print order: the first sheet from `start`, used cells left out.

    `used[n]` holds the cells already peeled off the n-th sheet loaded in the printer, so several partly used
    sheets can be finished in one job; sheets after those are whole.
    """
    check_start(stock, start, used)
    page = 0
    placed = 0
    while placed < count:
        for index in free_cells(stock, page, start, used):
            if placed == count:
                return
            yield cell_at(stock, index, calibration, page=page)
            placed += 1
        page += 1


def pages_needed(stock: LabelStock, count: int, *, start: int = 1, used: Sequence[frozenset[int]] = ()) -> int:
    """Sheets (pages) a job of `count` labels takes."""
    if count <= 0:
        return 0
    page = 0
    left = count
    while True:
        left -= len(free_cells(stock, page, start, used))
        if left <= 0:
            return page + 1
        page += 1


def shift_from_measurement(nominal: tuple[float, float], measured: tuple[float, float]) -> tuple[float, float]:
    """How far the printer moved a mark: measured − nominal (mm, + = right / down)."""
    return (round(measured[0] - nominal[0], 3), round(measured[1] - nominal[1], 3))


def corrected(stock: LabelStock, current: Calibration, first_shift: tuple[float, float],
              last_shift: tuple[float, float] | None = None) -> Calibration:
    """The calibration that cancels the shifts a clerk measured on a calibration sheet printed with `current`.

    `first_shift` is measured at the crosshair of cell 1 (top left); `last_shift`, optional, at the last cell
    (bottom right): the difference between the two, spread over the columns and rows between them, is creep.
    """
    dx = current.dx - first_shift[0]
    dy = current.dy - first_shift[1]
    creep_x, creep_y = current.creep_x, current.creep_y
    if last_shift is not None:
        if stock.columns > 1:
            creep_x -= (last_shift[0] - first_shift[0]) / (stock.columns - 1)
        if stock.rows > 1:
            creep_y -= (last_shift[1] - first_shift[1]) / (stock.rows - 1)
    return Calibration(round(dx, 3), round(dy, 3), round(creep_x, 4), round(creep_y, 4))
