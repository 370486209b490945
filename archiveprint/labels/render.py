"""LabelPrinter: labels streamed onto the pages of a stock, cell after cell, with one font subset per job.

The printer owns the pages (which cell comes next, the print-at-100 % notice, outlines for a test run, the
printer's calibration); `draw.Painter` draws each element.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

from archiveprint.errors import ArchiveprintError, Message
from archiveprint.labels.barcode_sizing import QR_HINT, LinearPlan, MatrixPlan
from archiveprint.labels.design import Element, LabelKind, choose_design
from archiveprint.labels.draw import Frame, Painter, place
from archiveprint.labels.sheet import NO_CALIBRATION, Calibration, Cell, layout_cells
from archiveprint.labels.stock import LabelStock
from archiveprint.pdf import draw as pdfdraw
from archiveprint.pdf.fonts import EmbeddedFont, FontMetrics, font_path, load_metrics
from archiveprint.pdf.writer import PdfStream, dictionary, ref

MM = pdfdraw.MM
NOTICE = "请按「实际大小 / 100%」打印，不要选「适合页面」"
REGULAR_FONT = "NotoSansCJKsc-Regular.otf"
BOLD_FONT = "NotoSansCJKsc-Bold.otf"


class MissingGlyphs(ArchiveprintError):
    """Names hold characters the shipped font cannot draw: said before printing, never printed as boxes."""


@dataclass(frozen=True)
class _CellLayout:
    box: tuple[float, float, float, float]  # the cell in points
    frames: list[tuple[Element, Frame]]  # each element with its frame on the page
    scale: float


class LabelPrinter:
    """Streams labels to `fp`, cell after cell; memory does not grow with the number of labels."""

    def __init__(self, fp: BinaryIO, stock: LabelStock, kind: LabelKind, *, dpi: int | None = None,
                 calibration: Calibration = NO_CALIBRATION, start: int = 1, used: Sequence[frozenset[int]] = (),
                 outline: bool = False, qr: bool = False, notice: str = "") -> None:
        self.stock = stock
        self.kind = kind
        self.dpi = dpi or stock.default_dpi
        self.calibration = calibration
        self.outline = outline
        self.qr = qr
        self.notice = notice
        self.design, self.turn = choose_design(kind, stock.label_width, stock.label_height, qr=qr)
        self.pdf = PdfStream(fp)
        self.regular = EmbeddedFont(load_metrics(font_path(REGULAR_FONT)), resource_name="R")
        self.bold = EmbeddedFont(load_metrics(font_path(BOLD_FONT)), resource_name="B") if kind.uses_bold else None
        self.font_ids = {"R": self.pdf.reserve(), **({"B": self.pdf.reserve()} if self.bold else {})}
        self._resources = dictionary({"Font": dictionary({k: ref(v) for k, v in self.font_ids.items()})})
        self._cells = layout_cells(stock, 1 << 62, start=start, used=used, calibration=calibration)
        self._page: int | None = None
        self._ops: list[bytes] = []
        self._extra: list[bytes] = []
        self._frames: dict[int, _CellLayout] = {}
        self.painter = Painter(self.regular, self.bold, self.dpi)
        self.where = Message("「{title}」用{stock}", {"title": kind.title, "stock": stock.name})
        self.hint = QR_HINT if kind.supports_qr and not qr else ""
        self.labels = 0

    @property
    def last_plan(self) -> LinearPlan | MatrixPlan | None:
        """The last barcode's sizing (module width in whole dots), for the job's report."""
        return self.painter.last_plan

    @property
    def page_count(self) -> int:
        return self.pdf.page_count + (1 if self._page is not None else 0)

    @property
    def fonts(self) -> list[FontMetrics]:
        return [self.regular.metrics] + ([self.bold.metrics] if self.bold else [])

    # --- pages --------------------------------------------------------------------------------------------

    def _flush(self) -> None:
        if self._page is None:
            return
        size = (self.stock.page_width * MM, self.stock.page_height * MM)
        self.pdf.add_page(b"".join(self._ops) + b"".join(self._extra) + self._notice_ops(), self._resources,
                          size=size)
        self._ops, self._extra = [], []

    def decorate(self, ops: bytes) -> None:
        """Extra drawing on the current page (the calibration sheet's scale bar and instructions)."""
        self._extra.append(ops)

    def _notice_ops(self) -> bytes:
        """The print-at-100 % line in the sheet's top (or bottom) margin, where no label is."""
        stock = self.stock
        if stock.is_roll or not self.notice:
            return b""
        bottom_margin = stock.page_height - stock.top - (stock.rows - 1) * stock.pitch_y - stock.label_height
        margin, at_top = max((stock.top, True), (bottom_margin, False))
        if margin < 4.0:
            return b""
        size = 6.5
        text = f"{self.notice} · 第 {self.pdf.page_count + 1} 页"
        width = self.regular.metrics.width(text, size)
        y_mm = margin / 2 + 1.0 if at_top else stock.page_height - margin / 2 + 1.0
        x = (stock.page_width * MM - width) / 2
        y = (stock.page_height - y_mm) * MM
        return b"0.4 g\n" + pdfdraw.text_run(self.regular, text, x, y, size) + b"0 g\n"

    def next_cell(self) -> Cell:
        cell = next(self._cells)
        if cell.page != self._page:
            self._flush()
            self._page = cell.page
        return cell

    # --- labels -------------------------------------------------------------------------------------------

    def _layout(self, cell: Cell) -> _CellLayout:
        """Frames of every element in a cell, computed once per cell position (all sheets share them)."""
        if cell.index not in self._frames:
            box = cell.pdf_box(self.stock.page_height)
            placement = place(self.design, self.turn, box)
            frames = [(element, placement.frame(element.box, element.rotate)) for element in self.design.elements]
            self._frames[cell.index] = _CellLayout(box, frames, placement.scale)
        return self._frames[cell.index]

    def add(self, values: dict[str, object]) -> Cell:
        """Draw one label in the next free cell."""
        cell = self.next_cell()
        layout = self._layout(cell)
        box, scale = layout.box, layout.scale
        ops = self._ops
        painter = self.painter
        if self.outline:
            ops.append(self._outline(box))
        for element, frame in layout.frames:
            kind = element.type
            if kind == "text":
                ops.append(painter.text(element, frame, element.value(values), scale))
            elif kind == "barcode":
                ops.append(painter.barcode(element, frame, element.value(values), box, self.where, self.hint))
            elif kind == "members":
                ops.append(painter.members(element, frame, values.get("members") or [], scale))  # type: ignore[arg-type]
            elif kind == "line":
                ops.append(painter.line(element, frame))
            elif kind == "rect":
                ops.append(painter.rect(element, frame))
            elif kind == "crosshair":
                ops.append(painter.crosshair(element, frame))
        self.labels += 1
        return cell

    def _outline(self, box: tuple[float, float, float, float]) -> bytes:
        x, y, w, h = box
        return (b"q 0.55 G 0.3 w " + pdfdraw.rounded_rect(x, y, w, h, self.stock.corner_radius * MM)
                + b"S Q\n")

    # --- finishing ----------------------------------------------------------------------------------------

    def close(self, *, title: str = "") -> int:
        """Write the last page and the font subsets; returns the number of pages."""
        self._flush()
        self._page = None
        self.regular.write(self.pdf, self.font_ids["R"])
        if self.bold:
            self.bold.write(self.pdf, self.font_ids["B"])
        self.pdf.close(title=title, actual_size=True)
        return self.pdf.page_count


def missing_glyphs(metrics: Sequence[FontMetrics], texts: Sequence[str]) -> set[str]:
    """Characters none of the job's fonts can draw."""
    lacking = set()
    for metric in metrics:
        lacking |= metric.missing(texts)
    return {ch for ch in lacking if all(not m.has(ch) for m in metrics)}
