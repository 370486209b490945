"""Label kinds as data: a layout file per kind holds designs of elements positioned in mm, bound to fields by name."""

from __future__ import annotations

import math
import string
from dataclasses import dataclass, field
from pathlib import Path

from archiveprint.errors import InvalidValue

ELEMENT_TYPES = ("text", "barcode", "members", "line", "rect", "crosshair")
# What a label of each binding can print. No ID number anywhere: the outside of a folder never shows one.
FIELDS: dict[str, frozenset[str]] = {
    "household": frozenset({
        "village_name", "village_code", "township_name", "unit_name", "household_no", "household_no_text",
        "head_name", "member_count", "members", "folder_code", "folder_code_display", "folder_code_short",
    }),
    "resident": frozenset({
        "name", "sex_text", "birth_date", "birth_year", "archive_code", "archive_code_display", "archive_code_short",
        "village_name", "village_code", "township_name", "unit_name", "household_no_text", "head_name",
        "folder_code_display",
    }),
    "location": frozenset({
        "location_code", "location_title", "village_name", "range_from", "range_to", "range_text", "township_name",
        "folder_count",
    }),
    "calibration": frozenset({"cell_no", "nominal_x", "nominal_y", "stock_name", "printer_name", "offset_text"}),
}
FONTS = ("regular", "bold")
ALIGNS = ("left", "center", "right")
VALIGNS = ("top", "middle", "bottom")


@dataclass(frozen=True)
class Element:
    """One thing drawn on a label. `box` is (x, y, width, height) in mm from the design's top-left corner."""

    type: str
    box: tuple[float, float, float, float]
    field: str = ""  # the value drawn (text, barcode data, member list)
    text: str = ""  # literal text with {field} placeholders, for captions such as 户主 {head_name}
    size: float = 8.0  # pt, at the design's size
    min_size: float = 5.0  # shrink-to-fit floor (pt); then wrap (`lines` > 1), then truncate with …
    font: str = "regular"
    align: str = "left"
    valign: str = "middle"
    lines: int = 1
    vertical: bool = False  # CJK characters stacked top to bottom, for narrow spines
    rotate: int = 0  # degrees counter-clockwise: the element's own frame inside the design
    stroke: float = 0.5  # pt, for lines, rectangles and crosshairs
    fill: bool = False
    radius: float = 0.0
    gray: float = 0.0  # 0 black … 1 white
    columns: int = 1  # members: entries per row
    symbology: str = "code128"  # barcode: code128 (all-digit data in code set C) or qr
    optional: bool = False  # skip quietly when the value is empty (otherwise an empty barcode is an error)

    def value(self, values: dict[str, object]) -> str:
        if self.field:
            value = values.get(self.field)
            return "" if value is None else str(value)
        return self.text.format_map(_Blank(values)) if "{" in self.text else self.text


class _Blank(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> str:
        return ""


@dataclass(frozen=True)
class Design:
    """Elements laid out for one label size; drawn on other sizes by scaling positions (never bar widths)."""

    width: float
    height: float
    elements: tuple[Element, ...]
    rotatable: bool = False  # may be drawn turned 90° on a stock of the other orientation (spine labels)

    @property
    def qr(self) -> bool:
        """A QR design: used instead of the Code128 designs when a QR code is asked for."""
        return any(e.type == "barcode" and e.symbology == "qr" for e in self.elements)


@dataclass(frozen=True)
class LabelKind:
    """A label kind (标签种类): what it binds to, which stock it expects, and its designs."""

    id: str
    title: str
    binds: str
    default_stock: str
    designs: tuple[Design, ...]
    description: str = ""
    page_notice: bool = True
    uses_bold: bool = field(default=False)

    @property
    def supports_qr(self) -> bool:
        return any(d.qr for d in self.designs)

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "title": self.title, "binds": self.binds, "default_stock": self.default_stock,
                "description": self.description, "qr": self.supports_qr,
                "designs": [{"size": [d.width, d.height], "qr": d.qr, "rotatable": d.rotatable} for d in self.designs]}


def _box(raw: object, where: str) -> tuple[float, float, float, float]:
    try:
        x, y, w, h = (float(v) for v in raw)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise InvalidValue(f"{where}：box 应为 [x, y, 宽, 高]（毫米）", field="box", value=raw) from None
    if w < 0 or h < 0:
        raise InvalidValue(f"{where}：宽和高不能为负", field="box", value=raw)
    return x, y, w, h


def parse_element(raw: object, binds: str, where: str) -> Element:
    if not isinstance(raw, dict):
        raise InvalidValue(f"{where} 应为映射", value=raw)
    kind = raw.get("type")
    if kind not in ELEMENT_TYPES:
        raise InvalidValue(f"{where}：type 应为 {'、'.join(ELEMENT_TYPES)}", field="type", value=kind)
    data = dict(raw)
    data.pop("type")
    if kind == "line":
        (x0, y0), (x1, y1) = data.pop("from"), data.pop("to")
        box = (float(x0), float(y0), float(x1) - float(x0), float(y1) - float(y0))
    else:
        box = _box(data.pop("box", None), where)
    allowed = set(Element.__dataclass_fields__) - {"type", "box"}
    unknown = set(data) - allowed
    if unknown:
        raise InvalidValue(f"{where}：不认识的设置 {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    element = Element(type=kind, box=box, **data)
    names = [element.field] if element.field else []
    names += [name for _, name, _, _ in string.Formatter().parse(element.text) if name]
    for name in names:
        if name not in FIELDS[binds]:
            raise InvalidValue(f"{where}：{binds} 标签没有字段 {name}；可用：{'、'.join(sorted(FIELDS[binds]))}",
                               field="field", value=name)
    if (element.type == "members") != (element.field == "members"):
        raise InvalidValue(f"{where}：成员列表用 type: members, field: members", field="field", value=element.field)
    if element.font not in FONTS or element.align not in ALIGNS or element.valign not in VALIGNS:
        raise InvalidValue(f"{where}：font/align/valign 取值不对", field="font", value=(element.font, element.align))
    if element.rotate % 90:
        raise InvalidValue(f"{where}：rotate 只能是 0、90、180、270", field="rotate", value=element.rotate)
    if element.type == "barcode" and not element.field:
        raise InvalidValue(f"{where}：条码需要 field", field="field")
    if element.symbology not in ("code128", "qr"):
        raise InvalidValue(f"{where}：symbology 应为 code128 或 qr", field="symbology", value=element.symbology)
    return element


def parse_kind(kind_id: str, data: object, *, source: str = "") -> LabelKind:
    """Check one layout file: known element types, known fields for what it binds to, sane boxes."""
    source = source or kind_id
    if not isinstance(data, dict):
        raise InvalidValue(f"标签版式 {source} 应为 YAML 映射", value=source)
    binds = data.get("binds")
    if binds not in FIELDS:
        raise InvalidValue(f"标签版式 {source}：binds 应为 {'、'.join(FIELDS)}", field="binds", value=binds)
    designs = []
    for n, raw in enumerate(data.get("designs") or [], start=1):
        width, height = (float(v) for v in raw["size"])
        elements = tuple(parse_element(e, binds, f"标签版式 {source} 第{n}个设计第{i}个元素")
                         for i, e in enumerate(raw.get("elements") or [], start=1))
        designs.append(Design(width, height, elements, rotatable=bool(raw.get("rotatable", False))))
    if not designs:
        raise InvalidValue(f"标签版式 {source} 没有任何设计（designs）", field="designs")
    return LabelKind(
        id=kind_id, title=str(data.get("title") or kind_id), binds=binds,
        default_stock=str(data.get("default_stock") or "a4-3x8"), designs=tuple(designs),
        description=str(data.get("description") or ""), page_notice=bool(data.get("page_notice", True)),
        uses_bold=any(e.font == "bold" for d in designs for e in d.elements),
    )


def load_kinds(folder: Path) -> dict[str, LabelKind]:
    """Every layout in `folder` (templates/labels/layouts), by file stem, in the order of their `order` key."""
    import yaml

    kinds: list[tuple[int, LabelKind]] = []
    for path in sorted(folder.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        kinds.append((int(data.get("order", 99)) if isinstance(data, dict) else 99,
                      parse_kind(path.stem, data, source=path.name)))
    return {kind.id: kind for _, kind in sorted(kinds, key=lambda item: item[0])}


def find_kind(kinds: dict[str, LabelKind], key: str) -> LabelKind:
    if key in kinds:
        return kinds[key]
    for kind in kinds.values():
        if kind.title == key:
            return kind
    raise InvalidValue(f"没有这种标签；可用：{'、'.join(kinds)}", field="标签种类", value=key)


def choose_design(kind: LabelKind, width: float, height: float, *, qr: bool = False) -> tuple[Design, int]:
    """The design closest in size and shape to a `width` × `height` label, and the turn (0 or 90°) to draw it at.

    Closeness is |log(w′/w)| + |log(h′/h)|, so a design is never stretched more than it must be; a `rotatable`
    design may be turned to fit a label of the other orientation (a tall spine design on a wide sheet label).
    QR designs are chosen only when a QR code is asked for.
    """
    designs = [d for d in kind.designs if d.qr == qr]
    if not designs:
        message = "没有二维码版式（二维码只用于卡片大小的标签）" if qr else "只有二维码版式，请加 --qr"
        raise InvalidValue(f"「{kind.title}」{message}", field="二维码", value=kind.id)
    best: tuple[float, Design, int] | None = None
    for design in designs:
        turns = (0, 90) if design.rotatable else (0,)
        for turn in turns:
            w, h = (design.width, design.height) if turn == 0 else (design.height, design.width)
            score = abs(math.log(w / width)) + abs(math.log(h / height))
            if best is None or score < best[0] - 1e-9:
                best = (score, design, turn)
    assert best is not None
    return best[1], best[2]
