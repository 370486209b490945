"""Label kinds as data: a layout file per kind holds designs of elements positioned in mm, bound to fields by name."""

from __future__ import annotations

import math
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, model_validator

from archiveprint.configfile import Document, Invalid, Loc, Schema, read_yaml, worded
from archiveprint.errors import N_, InvalidValue

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


WHAT = N_("标签版式")  # names the file in every message about it
Box = Annotated[tuple[float, float, float, float], worded(N_("box 应为 [x, y, 宽, 高]（毫米）"))]
FONT_ALIGN = N_("font/align/valign 取值不对")


class Element(Schema):
    """One thing drawn on a label. `box` is (x, y, width, height) in mm from the design's top-left corner; a line is
    written `from: [x, y]`, `to: [x, y]` instead. Checked against the fields its label kind binds to (the context's
    `binds`)."""

    shape: ClassVar[str] = N_("应为映射")
    unknown_key: ClassVar[str] = N_("不认识的设置 {key}")
    type: Annotated[Literal[ELEMENT_TYPES], worded(N_("type 应为 {types}"), {"types": "、".join(ELEMENT_TYPES)})]
    box: Box
    field: str = ""  # the value drawn (text, barcode data, member list)
    text: str = ""  # literal text with {field} placeholders, for captions such as 户主 {head_name}
    size: float = 8.0  # pt, at the design's size
    min_size: float = 5.0  # shrink-to-fit floor (pt); then wrap (`lines` > 1), then truncate with …
    font: Annotated[Literal[FONTS], worded(FONT_ALIGN)] = "regular"
    align: Annotated[Literal[ALIGNS], worded(FONT_ALIGN)] = "left"
    valign: Annotated[Literal[VALIGNS], worded(FONT_ALIGN)] = "middle"
    lines: int = 1
    vertical: bool = False  # CJK characters stacked top to bottom, for narrow spines
    rotate: int = 0  # degrees counter-clockwise: the element's own frame inside the design
    stroke: float = 0.5  # pt, for lines, rectangles and crosshairs
    fill: bool = False
    radius: float = 0.0
    gray: float = 0.0  # 0 black … 1 white
    columns: int = 1  # members: entries per row
    symbology: Annotated[Literal["code128", "qr"], worded(N_("symbology 应为 code128 或 qr"))] = "code128"
    optional: bool = False  # skip quietly when the value is empty (otherwise an empty barcode is an error)

    @model_validator(mode="before")
    @classmethod
    def _line_ends(cls, data: Any) -> Any:
        if not (isinstance(data, Mapping) and data.get("type") == "line" and "box" not in data):
            return data
        try:
            x0, y0 = (float(v) for v in data["from"])
            x1, y1 = (float(v) for v in data["to"])
        except (KeyError, TypeError, ValueError):
            raise Invalid(N_("线条应写 from: [x, y] 和 to: [x, y]（毫米）")) from None
        rest = {key: value for key, value in data.items() if key not in ("from", "to")}
        return {**rest, "box": (x0, y0, x1 - x0, y1 - y0)}

    @model_validator(mode="after")
    def _drawable(self, info: ValidationInfo) -> Element:
        binds = (info.context or {}).get("binds", "")
        if self.type != "line" and (self.box[2] < 0 or self.box[3] < 0):
            raise Invalid(N_("宽和高不能为负"), at=("box",), value=self.box)
        names = [self.field] if self.field else []
        names += [name for _, name, _, _ in string.Formatter().parse(self.text) if name]
        for name in names:
            if binds in FIELDS and name not in FIELDS[binds]:
                raise Invalid(N_("{binds} 标签没有字段 {name}；可用：{fields}"),
                              {"binds": binds, "name": name, "fields": "、".join(sorted(FIELDS[binds]))},
                              at=("field",), value=name)
        if (self.type == "members") != (self.field == "members"):
            raise Invalid(N_("成员列表用 type: members, field: members"), at=("field",), value=self.field)
        if self.rotate % 90:
            raise Invalid(N_("rotate 只能是 0、90、180、270"), at=("rotate",), value=self.rotate)
        if self.type == "barcode" and not self.field:
            raise Invalid(N_("条码需要 field"), at=("field",), value=None)
        return self

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


class _DesignFile(Schema):
    known_keys_only: ClassVar[bool] = False  # passed over, as they always were
    size: Annotated[tuple[float, float], worded(N_("size 应为 [宽, 高]（毫米）"))]
    elements: list[Element] = Field(default_factory=list)
    rotatable: bool = False


class _KindFile(Schema):
    """One layout file of templates/labels/layouts."""

    known_keys_only: ClassVar[bool] = False
    shape: ClassVar[str] = N_("应为 YAML 映射")
    order: int = 99
    title: str = ""
    binds: Annotated[Literal[tuple(FIELDS)], worded(N_("binds 应为 {binds}"), {"binds": "、".join(FIELDS)})]
    default_stock: str = "a4-3x8"
    description: str = ""
    page_notice: bool = True
    designs: list[_DesignFile] | None = None

    @model_validator(mode="after")
    def _some_design(self) -> _KindFile:
        if not self.designs:
            raise Invalid(N_("没有任何设计（designs）"), at=("designs",), value=None)
        return self

    def kind(self, kind_id: str) -> LabelKind:
        designs = tuple(Design(d.size[0], d.size[1], tuple(d.elements), rotatable=d.rotatable)
                        for d in self.designs or ())
        return LabelKind(id=kind_id, title=self.title or kind_id, binds=self.binds,
                         default_stock=self.default_stock or "a4-3x8", designs=designs, description=self.description,
                         page_notice=self.page_notice, uses_bold=any(e.font == "bold" for d in designs
                                                                     for e in d.elements))


def _place(loc: Loc) -> str:
    """第1个设计第2个元素: where an element is when the file has no lines to give (a layout handed in as data)."""
    if len(loc) >= 4 and loc[0] == "designs" and loc[2] == "elements":
        return f" 第{int(loc[1]) + 1}个设计第{int(loc[3]) + 1}个元素"
    return ""


def parse_element(raw: object, binds: str, where: str) -> Element:
    """One element of a design (`where` names it in messages)."""
    return Document(raw, WHAT, where).validate(Element, context={"binds": binds})


def parse_kind(kind_id: str, data: object, *, source: str = "") -> LabelKind:
    """Check one layout file: known element types, known fields for what it binds to, sane boxes."""
    return _kind_file(Document(data, WHAT, source or kind_id)).kind(kind_id)


def _kind_file(document: Document) -> _KindFile:
    binds = document.data.get("binds") if isinstance(document.data, Mapping) else None  # the elements' fields
    return document.validate(_KindFile, context={"binds": binds}, place=_place)


def load_kinds(folder: Path) -> dict[str, LabelKind]:
    """Every layout in `folder` (templates/labels/layouts), by file stem, in the order of their `order` key."""
    files = {path.stem: _kind_file(read_yaml(path, what=WHAT)) for path in sorted(folder.glob("*.yaml"))}
    return {kind_id: file.kind(kind_id) for kind_id, file in sorted(files.items(), key=lambda item: item[1].order)}


def find_kind(kinds: dict[str, LabelKind], key: str) -> LabelKind:
    if key in kinds:
        return kinds[key]
    for kind in kinds.values():
        if kind.title == key:
            return kind
    raise InvalidValue("没有这种标签；可用：{kinds}", params={"kinds": "、".join(kinds)}, field="标签种类", value=key)


def choose_design(kind: LabelKind, width: float, height: float, *, qr: bool = False) -> tuple[Design, int]:
    """The design closest in size and shape to a `width` × `height` label, and the turn (0 or 90°) to draw it at.

    Closeness is |log(w′/w)| + |log(h′/h)|, so a design is never stretched more than it must be; a `rotatable`
    design may be turned to fit a label of the other orientation (a tall spine design on a wide sheet label).
    QR designs are chosen only when a QR code is asked for.
    """
    designs = [d for d in kind.designs if d.qr == qr]
    if not designs:
        message = (N_("「{title}」没有二维码版式（二维码只用于卡片大小的标签）") if qr
                   else N_("「{title}」只有二维码版式，请加 --qr"))
        raise InvalidValue(message, params={"title": kind.title}, field="二维码", value=kind.id)
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
