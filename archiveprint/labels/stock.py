"""Label stock (标签纸): the physical sheet or roll as data (page, grid, label size, pitch, margins) read from YAML."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import model_validator

from archiveprint.configfile import Document, Invalid, Schema, read_yaml, worded
from archiveprint.errors import N_, InvalidValue

KINDS = ("sheet", "roll")
PRINTERS = {"laser": 300, "thermal": 203}  # printer class → the dpi assumed until a printer profile says otherwise
TOLERANCE = 0.05  # mm: rounding in published stock dimensions
WHAT = N_("标签纸定义")  # names the file in every message about it


@dataclass(frozen=True)
class LabelStock:
    """One stock, all lengths in millimetres from the top-left corner of the page (as a ruler on paper reads)."""

    id: str
    name: str
    kind: str  # sheet: many labels on a page; roll: one label per page of the label's size
    page_width: float
    page_height: float
    label_width: float
    label_height: float
    columns: int = 1
    rows: int = 1
    pitch_x: float = 0.0  # left edge to left edge of neighbouring columns
    pitch_y: float = 0.0  # top edge to top edge of neighbouring rows
    left: float = 0.0  # page edge to the first column
    top: float = 0.0  # page edge to the first row
    corner_radius: float = 0.0
    printer: str = "laser"
    note: str = ""

    @property
    def per_page(self) -> int:
        return self.columns * self.rows

    @property
    def gap_x(self) -> float:
        return round(self.pitch_x - self.label_width, 3) if self.columns > 1 else 0.0

    @property
    def gap_y(self) -> float:
        return round(self.pitch_y - self.label_height, 3) if self.rows > 1 else 0.0

    @property
    def default_dpi(self) -> int:
        return PRINTERS[self.printer]

    @property
    def is_roll(self) -> bool:
        return self.kind == "roll"

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "kind": self.kind, "page": [self.page_width, self.page_height],
                "label": [self.label_width, self.label_height], "columns": self.columns, "rows": self.rows,
                "per_page": self.per_page, "pitch": [self.pitch_x, self.pitch_y], "margins": [self.left, self.top],
                "gaps": [self.gap_x, self.gap_y], "corner_radius": self.corner_radius, "printer": self.printer,
                "default_dpi": self.default_dpi, "note": self.note}


# --- the file, declared -----------------------------------------------------------------------------------------

PAIR = N_("{key} 应为两个数（毫米），如 [63.5, 33.9]")
Pair = Annotated[tuple[float, float], worded(PAIR)]


class _StockFile(Schema):
    """One stock file. A roll needs only its label size; a sheet its grid and margins too (keys it does not
    know are passed over, as they always were)."""

    known_keys_only: ClassVar[bool] = False
    shape: ClassVar[str] = N_("应为 YAML 映射")
    name: str = ""
    kind: Annotated[Literal["sheet", "roll"], worded(N_("kind 应为 sheet（整张）或 roll（卷筒）"))] = "sheet"
    printer: Annotated[Literal["laser", "thermal"], worded(N_("printer 应为 laser 或 thermal"))] | None = None
    label: Pair | None = None
    page: Pair = (210.0, 297.0)
    grid: Pair | None = None
    pitch: Pair | None = None
    margin: Pair | None = None
    corner_radius: float = 0.0
    note: str = ""

    @model_validator(mode="after")
    def _printable(self) -> _StockFile:
        _check_geometry(self.stock(""))
        return self

    def stock(self, stock_id: str) -> LabelStock:
        label_w, label_h = self._given("label")
        if self.kind == "roll":
            page_w, page_h, columns, rows = label_w, label_h, 1, 1
            pitch_x, pitch_y, left, top = label_w, label_h, 0.0, 0.0
        else:
            page_w, page_h = self.page
            columns, rows = (int(v) for v in self._given("grid"))
            pitch_x, pitch_y = self.pitch or (label_w, label_h)
            left, top = self._given("margin")
        return LabelStock(
            id=stock_id, name=self.name or stock_id, kind=self.kind, page_width=page_w, page_height=page_h,
            label_width=label_w, label_height=label_h, columns=columns, rows=rows, pitch_x=pitch_x,
            pitch_y=pitch_y, left=left, top=top, corner_radius=self.corner_radius,
            printer=self.printer or ("thermal" if self.kind == "roll" else "laser"), note=self.note)

    def _given(self, key: str) -> tuple[float, float]:
        value = getattr(self, key)
        if value is None:
            raise Invalid(PAIR, at=(key,), value=None)
        return value  # type: ignore[no-any-return]


def _check_geometry(stock: LabelStock) -> None:
    """Refuse geometry that cannot be printed: labels overlapping each other or running off the page."""
    if min(stock.label_width, stock.label_height, stock.page_width, stock.page_height) <= 0:
        raise Invalid(N_("尺寸必须大于 0"), at=("label",), value=(stock.label_width, stock.label_height))
    if stock.columns < 1 or stock.rows < 1:
        raise Invalid(N_("行数和列数至少为 1"), at=("grid",), value=(stock.columns, stock.rows))
    if stock.left < 0 or stock.top < 0:
        raise Invalid(N_("边距不能为负"), at=("margin",), value=(stock.left, stock.top))
    if stock.columns > 1 and stock.pitch_x + TOLERANCE < stock.label_width:
        raise Invalid(N_("横向间距 {pitch} 小于标签宽度 {size}，标签会重叠"),
                      {"pitch": stock.pitch_x, "size": stock.label_width}, at=("pitch",), value=stock.pitch_x)
    if stock.rows > 1 and stock.pitch_y + TOLERANCE < stock.label_height:
        raise Invalid(N_("纵向间距 {pitch} 小于标签高度 {size}，标签会重叠"),
                      {"pitch": stock.pitch_y, "size": stock.label_height}, at=("pitch",), value=stock.pitch_y)
    right = stock.left + (stock.columns - 1) * stock.pitch_x + stock.label_width
    bottom = stock.top + (stock.rows - 1) * stock.pitch_y + stock.label_height
    if right > stock.page_width + TOLERANCE:
        raise Invalid(N_("最右一列到 {edge} mm，超出纸宽 {page} mm"),
                      {"edge": f"{right:.2f}", "page": stock.page_width}, at=("grid",), value=stock.columns)
    if bottom > stock.page_height + TOLERANCE:
        raise Invalid(N_("最下一行到 {edge} mm，超出纸高 {page} mm"),
                      {"edge": f"{bottom:.2f}", "page": stock.page_height}, at=("grid",), value=stock.rows)
    if stock.corner_radius < 0 or stock.corner_radius > min(stock.label_width, stock.label_height) / 2:
        raise Invalid(N_("圆角半径不合理"), at=("corner_radius",), value=stock.corner_radius)


# --- reading ------------------------------------------------------------------------------------------------------

def parse_stock(stock_id: str, data: object, *, source: str = "") -> LabelStock:
    """Check one stock definition and return it; every mistake names the file, the line and the key."""
    return Document(data, WHAT, source or stock_id).validate(_StockFile).stock(stock_id)


def load_stocks(folders: Iterable[Path]) -> dict[str, LabelStock]:
    """Every *.yaml stock in `folders`, by file stem; a later folder (the site's own) overrides an earlier one."""
    stocks: dict[str, LabelStock] = {}
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.yaml")):
            stocks[path.stem] = read_yaml(path, what=WHAT).validate(_StockFile).stock(path.stem)
    return dict(sorted(stocks.items(), key=lambda item: (item[1].is_roll, item[0])))


def find_stock(stocks: dict[str, LabelStock], key: str) -> LabelStock:
    """A stock by id (a4-3x8) or by its exact name."""
    if key in stocks:
        return stocks[key]
    for stock in stocks.values():
        if stock.name == key:
            return stock
    raise InvalidValue("没有这种标签纸；可用：{stocks}", params={"stocks": "、".join(stocks)}, field="标签纸",
                       value=key)
