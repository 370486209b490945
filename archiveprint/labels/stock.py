"""Label stock (标签纸): the physical sheet or roll as data (page, grid, label size, pitch, margins) read from YAML."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from archiveprint.errors import InvalidValue

KINDS = ("sheet", "roll")
PRINTERS = {"laser": 300, "thermal": 203}  # printer class → the dpi assumed until a printer profile says otherwise
TOLERANCE = 0.05  # mm: rounding in published stock dimensions


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


def _pair(data: dict, key: str, source: str, default: Sequence[float] | None = None) -> tuple[float, float]:  # type: ignore[type-arg]
    value = data.get(key, default)
    try:
        first, second = (float(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise InvalidValue(f"标签纸定义 {source}：{key} 应为两个数（毫米），如 [63.5, 33.9]", field=key,
                           value=value) from None
    return first, second


def parse_stock(stock_id: str, data: object, *, source: str = "") -> LabelStock:
    """Check one stock definition and return it; every mistake names the file and the key."""
    source = source or stock_id
    if not isinstance(data, dict):
        raise InvalidValue(f"标签纸定义 {source} 应为 YAML 映射", value=source)
    kind = data.get("kind", "sheet")
    if kind not in KINDS:
        raise InvalidValue(f"标签纸定义 {source}：kind 应为 sheet（整张）或 roll（卷筒）", field="kind", value=kind)
    printer = data.get("printer", "thermal" if kind == "roll" else "laser")
    if printer not in PRINTERS:
        raise InvalidValue(f"标签纸定义 {source}：printer 应为 laser 或 thermal", field="printer", value=printer)
    label_w, label_h = _pair(data, "label", source)
    if kind == "roll":
        page_w, page_h, columns, rows = label_w, label_h, 1, 1
        pitch_x, pitch_y, left, top = label_w, label_h, 0.0, 0.0
    else:
        page_w, page_h = _pair(data, "page", source, (210, 297))
        columns, rows = (int(v) for v in _pair(data, "grid", source))
        pitch_x, pitch_y = _pair(data, "pitch", source, (label_w, label_h))
        left, top = _pair(data, "margin", source)
    stock = LabelStock(
        id=stock_id, name=str(data.get("name") or stock_id), kind=kind, page_width=page_w, page_height=page_h,
        label_width=label_w, label_height=label_h, columns=columns, rows=rows, pitch_x=pitch_x, pitch_y=pitch_y,
        left=left, top=top, corner_radius=float(data.get("corner_radius", 0)), printer=printer,
        note=str(data.get("note", "")),
    )
    check_stock(stock, source)
    return stock


def check_stock(stock: LabelStock, source: str) -> None:
    """Refuse geometry that cannot be printed: labels overlapping each other or running off the page."""
    def bad(message: str, key: str, value: object) -> InvalidValue:
        return InvalidValue(f"标签纸定义 {source}：{message}", field=key, value=value)

    if min(stock.label_width, stock.label_height, stock.page_width, stock.page_height) <= 0:
        raise bad("尺寸必须大于 0", "label", (stock.label_width, stock.label_height))
    if stock.columns < 1 or stock.rows < 1:
        raise bad("行数和列数至少为 1", "grid", (stock.columns, stock.rows))
    if stock.left < 0 or stock.top < 0:
        raise bad("边距不能为负", "margin", (stock.left, stock.top))
    if stock.columns > 1 and stock.pitch_x + TOLERANCE < stock.label_width:
        raise bad(f"横向间距 {stock.pitch_x} 小于标签宽度 {stock.label_width}，标签会重叠", "pitch", stock.pitch_x)
    if stock.rows > 1 and stock.pitch_y + TOLERANCE < stock.label_height:
        raise bad(f"纵向间距 {stock.pitch_y} 小于标签高度 {stock.label_height}，标签会重叠", "pitch", stock.pitch_y)
    right = stock.left + (stock.columns - 1) * stock.pitch_x + stock.label_width
    bottom = stock.top + (stock.rows - 1) * stock.pitch_y + stock.label_height
    if right > stock.page_width + TOLERANCE:
        raise bad(f"最右一列到 {right:.2f} mm，超出纸宽 {stock.page_width} mm", "grid", stock.columns)
    if bottom > stock.page_height + TOLERANCE:
        raise bad(f"最下一行到 {bottom:.2f} mm，超出纸高 {stock.page_height} mm", "grid", stock.rows)
    if stock.corner_radius < 0 or stock.corner_radius > min(stock.label_width, stock.label_height) / 2:
        raise bad("圆角半径不合理", "corner_radius", stock.corner_radius)


def load_stocks(folders: Iterable[Path]) -> dict[str, LabelStock]:
    """Every *.yaml stock in `folders`, by file stem; a later folder (the site's own) overrides an earlier one."""
    import yaml

    stocks: dict[str, LabelStock] = {}
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.yaml")):
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8"))
            except yaml.YAMLError as error:
                raise InvalidValue(f"标签纸定义 {path.name} 不是有效的 YAML：{error}", value=path.name) from None
            stocks[path.stem] = parse_stock(path.stem, data, source=path.name)
    return dict(sorted(stocks.items(), key=lambda item: (item[1].is_roll, item[0])))


def find_stock(stocks: dict[str, LabelStock], key: str) -> LabelStock:
    """A stock by id (a4-3x8) or by its exact name."""
    if key in stocks:
        return stocks[key]
    for stock in stocks.values():
        if stock.name == key:
            return stock
    raise InvalidValue(f"没有这种标签纸；可用：{'、'.join(stocks)}", field="标签纸", value=key)
