"""Storage layout files (库房布局): YAML rooms and shelving read into checked dataclasses, with a preview and a diff.

A layout names rooms (库房), and in each room blocks of shelving — mobile compact shelving (密集架) or fixed
cabinets — whose levels each site names itself (区/列/面/节/层, or 柜/层). One line of ranges such as
`列 1-12 × 面 A,B × 节 1-6 × 层 1-6` generates every shelf of a block. A *shelf* is the smallest addressed place
where folders stand side by side; its positions (位) are numbered from 1 to its capacity.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Annotated, ClassVar

from annotated_types import Interval
from pydantic import (
    BeforeValidator,
    Field,
    PlainValidator,
    StrictFloat,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from archiveprint.configfile import Document, Invalid, Loc, Schema, parse_yaml, worded
from archiveprint.errors import N_, InvalidValue

MAX_LEVELS = 6
MAX_TEXT = 512 * 1024  # characters; a layout file is a few KB
MAX_SHELVES_PER_BLOCK = 10_000  # a typo such as 列 1-1000 is caught, as ArchivesSpace caps batch ranges
MAX_CAPACITY = 2000
DEFAULT_THICKNESS_MM = 20.0
DEFAULT_RESERVE = 0.2
DEFAULT_POSITION_FORMAT = "第{}位"
PURPOSES = {"villages": "village", "village": "village", "村档": "village", "村档区": "village",
            "closed": "closed", "结案": "closed", "结案区": "closed"}
PURPOSE_TEXT = {"village": "村档区", "closed": "结案区"}
CODE_RE = re.compile(r"[A-Za-z0-9]{1,8}")
WHAT = N_("库房布局")  # names the file in every message about it
_TERM_SPLIT = re.compile(r"\s*[×*✕]\s*|\s+[xX]\s+")
_ITEM_SPLIT = re.compile(r"\s*[,，、]\s*")
_RANGE = re.compile(r"^([0-9A-Za-z]+)\s*[-–—~～]\s*([0-9A-Za-z]+)$")
_POSITION_SUFFIX = re.compile(r"^(.*?)\s*(?:第\s*(\d+)\s*位|(\d+)\s*位|[#/:：]\s*(\d+))\s*$")


# --- the dataclasses -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Coordinate:
    """One level of a shelf's address: label 列, code 3 (goes into the location code), text 3列 (is printed)."""

    label: str
    code: str
    text: str


@dataclass(frozen=True)
class ShelfSpec:
    """One shelf as the layout file defines it; `seq` is its place in the filling and walking order (from 1)."""

    code: str
    address: str
    room_code: str
    room_name: str
    block_code: str
    block_name: str
    kind: str
    purpose: str
    coordinates: tuple[Coordinate, ...]
    capacity: int
    width_mm: float | None
    seq: int


@dataclass(frozen=True)
class Level:
    label: str
    values: tuple[tuple[str, str], ...]  # (code, display text before formatting)
    fmt: str


@dataclass(frozen=True)
class Layout:
    """A whole checked layout file: its rooms and every shelf in filling order."""

    name: str
    source: str
    text: str
    folder_thickness_mm: float
    growth_reserve: float
    position_format: str
    rooms: tuple[Room, ...]
    shelves: tuple[ShelfSpec, ...]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def capacity(self) -> int:
        return sum(shelf.capacity for shelf in self.shelves)


# --- the file, declared --------------------------------------------------------------------------------------

def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _code(message: str) -> PlainValidator:
    def check(value: object) -> str:
        text = "" if isinstance(value, bool) else _text(value)
        if not CODE_RE.fullmatch(text):
            raise Invalid(message)
        return text

    return PlainValidator(check)


BETWEEN = N_("应为 {low}–{high} 之间的数")
Text = Annotated[str, BeforeValidator(_text)]
Thickness = Annotated[StrictFloat, Interval(ge=1, le=500), worded(BETWEEN, {"low": 1, "high": 500})]
Width = Annotated[StrictFloat, Interval(ge=10, le=10_000), worded(BETWEEN, {"low": 10, "high": 10_000})]
Reserve = Annotated[StrictFloat, Interval(ge=0, le=5), worded(BETWEEN, {"low": 0, "high": 5})]
Rule = tuple[tuple[str, frozenset[str]], ...]  # level labels to codes: a shelf matching every label is left out


class _Part(Schema):
    unknown_key: ClassVar[str] = N_("{section}不认识的键（可用：{allowed}）")


class Block(_Part):
    """A run of shelving of one kind inside a room, with its own level names and filling order. `levels`,
    `fill_order` and `exclude` are read from the one-line ranges; `capacity` or `shelf_width_mm` says how many
    folders a shelf holds."""

    shape: ClassVar[str] = N_("每组架子应为键值对（code、levels ……）")
    section: ClassVar[str] = "架组中"
    code: Annotated[str, _code(N_("架组代码应为1–8位字母或数字（用于位置编码和条码）"))] = Field(
        None, validate_default=True)
    name: Text = ""
    kind: Text = ""
    purpose: str = Field("villages", validate_default=True)
    format: Annotated[dict[str, str], worded(N_("format 应为“层级: 格式”的键值对"))] | None = None
    levels: tuple[Level, ...] = Field(None, validate_default=True)
    fill_order: tuple[tuple[str, bool], ...] = Field(None, validate_default=True)  # (label, descending)
    capacity: Annotated[StrictInt, Interval(ge=1, le=MAX_CAPACITY), worded(
        N_("每层容量应为 1–{max} 之间的整数（袋）"), {"max": MAX_CAPACITY})] | None = None
    shelf_width_mm: Width | None = None
    folder_thickness_mm: Thickness | None = None
    exclude: tuple[Rule, ...] = Field(None, validate_default=True)

    @field_validator("purpose", mode="plain")
    @classmethod
    def _purpose(cls, value: object) -> str:
        text = _text(value) or "villages"
        if text not in PURPOSES:
            raise Invalid(N_("用途应为 villages（村档）或 closed（结案）"), value=text)
        return PURPOSES[text]

    @field_validator("format")
    @classmethod
    def _formats(cls, formats: dict[str, str] | None) -> dict[str, str] | None:
        for label, fmt in (formats or {}).items():
            if "{}" not in fmt:
                raise Invalid(N_("格式中必须有 {{}} 表示编号"), at=(label,), field=f"format.{label}", value=fmt)
        return formats

    @field_validator("levels", mode="plain")
    @classmethod
    def _levels(cls, spec: object, info: ValidationInfo) -> tuple[Level, ...]:
        if isinstance(spec, str):
            terms = [t for t in _TERM_SPLIT.split(spec.strip()) if t]
        elif isinstance(spec, list) and all(isinstance(t, str) for t in spec):
            terms = [str(t) for t in spec]
        else:
            raise Invalid(N_("levels 应写成一行，例如“列 1-12 × 面 A,B × 节 1-6 × 层 1-6”"))
        if not 1 <= len(terms) <= MAX_LEVELS:
            raise Invalid(N_("层级数应为 1–{max} 个"), {"max": MAX_LEVELS})
        formats = info.data.get("format") or {}
        levels = [Level(label, values, formats.get(label) or "{}" + label) for label, values in map(parse_term, terms)]
        labels = [level.label for level in levels]
        if len(set(labels)) != len(labels):
            raise Invalid(N_("层级名称重复"), value=next(label for label in labels if labels.count(label) > 1))
        return tuple(levels)

    @field_validator("fill_order", mode="plain")
    @classmethod
    def _fill_order(cls, spec: object, info: ValidationInfo) -> tuple[tuple[str, bool], ...]:
        labels = [level.label for level in info.data.get("levels") or ()]
        if spec is None:
            return tuple((label, False) for label in labels)
        items = _ITEM_SPLIT.split(spec.strip()) if isinstance(spec, str) else spec if isinstance(spec, list) else None
        if not items or not all(isinstance(i, str) for i in items):
            raise Invalid(N_("fill_order 应列出全部层级，例如“列, 面, 节, 层”（倒序在前面加 -）"))
        order = [(item.strip().lstrip("-－").strip(), item.strip().startswith(("-", "－"))) for item in items]
        if labels and sorted(label for label, _ in order) != sorted(labels):
            raise Invalid(N_("fill_order 应恰好列出全部层级：{labels}"), {"labels": "、".join(labels)})
        return tuple(order)

    @field_validator("exclude", mode="plain")
    @classmethod
    def _exclude(cls, spec: object, info: ValidationInfo) -> tuple[Rule, ...]:
        if spec is None:
            return ()
        if not (isinstance(spec, str) or (isinstance(spec, list) and all(isinstance(item, str) for item in spec))):
            raise Invalid(N_("exclude 应为列表，每项如“列 1 × 面 A”"))
        known = {level.label: {code for code, _ in level.values} for level in info.data.get("levels") or ()}
        items: list[tuple[str, Loc]] = [(spec, ())] if isinstance(spec, str) else [(s, (n,)) for n, s in
                                                                                     enumerate(spec)]
        rules = []
        for item, at in items:
            rule: dict[str, frozenset[str]] = {}
            for label, values in (parse_term(term, at) for term in _TERM_SPLIT.split(item.strip()) if term):
                if label not in known:
                    raise Invalid(N_("exclude 中的层级“{label}”不在 levels 里"), {"label": label}, at=at, value=item)
                unknown = [code for code, _ in values if code not in known[label]]
                if unknown:
                    raise Invalid(N_("exclude 中“{label}”没有编号 {codes}"),
                                  {"label": label, "codes": "、".join(unknown)}, at=at, value=item)
                rule[label] = frozenset(code for code, _ in values)
            rules.append(tuple(rule.items()))
        return tuple(rules)

    @model_validator(mode="after")
    def _complete(self) -> Block:
        labels = {level.label for level in self.levels}
        for label in self.format or {}:
            if label not in labels:
                raise Invalid(N_("format 中的层级不在 levels 里"), at=("format", label), field=f"format.{label}",
                              value=label)
        if ("capacity" in self.model_fields_set) == ("shelf_width_mm" in self.model_fields_set):
            raise Invalid(N_("每组架子要写 capacity（每层放几袋）或 shelf_width_mm（每层宽度，毫米），二选一"),
                          field="capacity", value=None)
        return self

    def per_shelf(self, thickness: float) -> int:
        """Folders per shelf: as written, or as many of `thickness` mm (the block's own, or the file's) as fit."""
        if self.capacity is not None:
            return self.capacity
        return math.floor((self.shelf_width_mm or 0) / (self.folder_thickness_mm or thickness) + 1e-9)


class Room(_Part):
    shape: ClassVar[str] = N_("每个库房应为键值对（code、name、blocks）")
    section: ClassVar[str] = "库房中"
    code: Annotated[str, _code(N_("库房代码应为1–8位字母或数字（用于位置编码和条码）"))] = Field(
        None, validate_default=True)
    name: Text = Field("", validate_default=True)
    blocks: tuple[Block, ...] = Field(None, validate_default=True)

    @field_validator("name")
    @classmethod
    def _named(cls, name: str, info: ValidationInfo) -> str:
        if not name:
            raise Invalid(N_("库房名称不能为空"), value=info.data.get("code"))
        return name

    @field_validator("blocks", mode="before")
    @classmethod
    def _some_blocks(cls, blocks: object, info: ValidationInfo) -> object:
        if not isinstance(blocks, list) or not blocks:
            raise Invalid(N_("库房“{name}”至少要有一组架子（blocks 列表）"), {"name": info.data.get("name", "")})
        return blocks

    @model_validator(mode="after")
    def _distinct_blocks(self) -> Room:
        _unique([block.code for block in self.blocks], "blocks", "code", N_("库房“{name}”中架组代码重复"),
                {"name": self.name})
        return self


def _unique(values: list[str], key: str, field: str, message: str, params: dict[str, object] | None = None) -> None:
    seen: set[str] = set()
    for n, value in enumerate(values):
        if value in seen:
            raise Invalid(message, params, at=(key, n, field), value=value)
        seen.add(value)


def _some_rooms(rooms: object) -> object:
    if not isinstance(rooms, list) or not rooms:
        raise Invalid(N_("至少要有一个库房（rooms 列表）"))
    return rooms


class _LayoutFile(_Part):
    shape: ClassVar[str] = N_("文件顶层应为键值对（name、rooms ……）")
    name: Text = ""
    folder_thickness_mm: Thickness = DEFAULT_THICKNESS_MM
    growth_reserve: Reserve = DEFAULT_RESERVE
    position_format: Text = DEFAULT_POSITION_FORMAT
    rooms: Annotated[tuple[Room, ...], BeforeValidator(_some_rooms)] = Field(None, validate_default=True)

    @field_validator("position_format")
    @classmethod
    def _has_place(cls, fmt: str) -> str:
        if "{}" not in (fmt or DEFAULT_POSITION_FORMAT):
            raise Invalid(N_("格式中必须有 {{}} 表示位号"))
        return fmt or DEFAULT_POSITION_FORMAT

    @model_validator(mode="after")
    def _consistent(self) -> _LayoutFile:
        _unique([room.code for room in self.rooms], "rooms", "code", N_("库房代码重复"))
        _unique([room.name for room in self.rooms], "rooms", "name", N_("库房名称重复"))
        for r, room in enumerate(self.rooms):
            for b, block in enumerate(room.blocks):
                own = block.folder_thickness_mm or self.folder_thickness_mm
                if not 1 <= block.per_shelf(self.folder_thickness_mm) <= MAX_CAPACITY:
                    raise Invalid(N_("按每袋 {own} mm 计算，每层可放 {capacity} 袋，不合理"),
                                  {"own": f"{own:g}", "capacity": block.per_shelf(self.folder_thickness_mm)},
                                  at=("rooms", r, "blocks", b, "shelf_width_mm"), value=block.shelf_width_mm)
        return self


# --- reading a layout ----------------------------------------------------------------------------------------

def load_layout(path: Path) -> Layout:
    """Read and check a layout file; every problem is an InvalidValue naming the file, line, field and value."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InvalidValue("库房布局文件不存在", field="文件", value=str(path)) from None
    except UnicodeDecodeError:
        raise InvalidValue("库房布局文件应为 UTF-8 编码", field="文件", value=path.name) from None
    return parse_layout(text, source=path.name)


def parse_layout(text: str, *, source: str = "layout.yaml") -> Layout:
    if len(text) > MAX_TEXT:
        raise Document(None, WHAT, source).error(N_("文件太大（最多 {size} KB）"), {"size": MAX_TEXT // 1024})
    document = parse_yaml(text, what=WHAT, source=source)
    file = document.validate(_LayoutFile)
    shelves = tuple(_expand(file, document))
    if not shelves:
        raise document.error(N_("布局中没有任何架位"), at=("rooms", 0), field="rooms", value=source)
    return Layout(name=file.name or Path(source).stem, source=source, text=text,
                  folder_thickness_mm=file.folder_thickness_mm, growth_reserve=file.growth_reserve,
                  position_format=file.position_format, rooms=file.rooms, shelves=shelves)


def parse_term(term: str, at: Loc = ()) -> tuple[str, tuple[tuple[str, str], ...]]:
    """`列 1-12` → ('列', (('1', '1'), … ('12', '12'))); `面 A=左,B=右` gives codes A, B shown as 左, 右."""
    term = term.strip()
    match = re.match(r"^(\S+?)\s+(\S.*)$", term) or re.match(r"^([^0-9A-Za-z]+)([0-9A-Za-z].*)$", term)
    if not match or re.search(r"\d", match.group(1)):
        raise Invalid(N_("每个层级应写成“名称 范围”，例如“列 1-12”或“面 A,B”"), at=at, value=term)
    label, rest = match.group(1), match.group(2).strip()
    values: list[tuple[str, str]] = []
    for item in _ITEM_SPLIT.split(rest):
        values.extend(_expand_item(item, label, at))
    codes = [code for code, _ in values]
    if len(set(codes)) != len(codes):
        raise Invalid(N_("层级“{label}”的编号有重复"), {"label": label}, at=at, field=label, value=rest)
    return label, tuple(values)


def _expand_item(item: str, label: str, at: Loc) -> list[tuple[str, str]]:
    item = item.strip()
    shown = None
    if "=" in item:
        item, shown = (part.strip() for part in item.split("=", 1))
        if not shown:
            raise Invalid(N_("“=”后应写显示的名称"), at=at, field=label, value=item)
    if CODE_RE.fullmatch(item):
        return [(item, shown or item)]
    match = _RANGE.match(item)
    if not match or shown:
        raise Invalid(N_("层级“{label}”的范围无法识别（可写 1-12、A-D、A,B 或 A=左）"), {"label": label}, at=at,
                      field=label, value=item)
    start, end = match.groups()
    if start.isdigit() and end.isdigit():
        a, b = int(start), int(end)
        width = len(start) if start.startswith("0") and len(start) > 1 else 0
        numbers = range(a, b + 1) if a <= b else range(a, b - 1, -1)
        if len(numbers) > MAX_SHELVES_PER_BLOCK:
            raise Invalid(N_("范围过大"), at=at, field=label, value=item)
        return [(f"{n:0{width}d}",) * 2 for n in numbers]  # type: ignore[misc]
    if len(start) == len(end) == 1 and start.isalpha() and end.isalpha() and start.isupper() == end.isupper():
        a, b = ord(start), ord(end)
        letters = range(a, b + 1) if a <= b else range(a, b - 1, -1)
        return [(chr(n), chr(n)) for n in letters]
    raise Invalid(N_("层级“{label}”的范围两端应同为数字或同为单个字母"), {"label": label}, at=at, field=label,
                  value=item)


# --- generating shelves --------------------------------------------------------------------------------------

def _expand(file: _LayoutFile, document: Document) -> Iterator[ShelfSpec]:
    seq = 0
    codes: dict[str, int] = {}
    addresses: dict[str, int] = {}
    for r, room in enumerate(file.rooms):
        for b, block in enumerate(room.blocks):
            at: Loc = ("rooms", r, "blocks", b)
            by_label = {level.label: level for level in block.levels}
            iterables = []
            for label, descending in block.fill_order:
                values = by_label[label].values
                iterables.append(tuple(reversed(values)) if descending else values)
            count = math.prod(len(values) for values in iterables)
            if count > MAX_SHELVES_PER_BLOCK:
                raise document.error(N_("一组架子最多 {max} 层架位，这里会生成 {count} 个"),
                                     {"max": MAX_SHELVES_PER_BLOCK, "count": count}, at=at, field="levels",
                                     value=count)
            capacity = block.per_shelf(file.folder_thickness_mm)
            for combo in product(*iterables):
                chosen = {label: value for (label, _), value in zip(block.fill_order, combo, strict=True)}
                if any(all(chosen[label][0] in wanted for label, wanted in rule) for rule in block.exclude):
                    continue
                coordinates = tuple(Coordinate(level.label, chosen[level.label][0],
                                               level.fmt.replace("{}", chosen[level.label][1]))
                                    for level in block.levels)
                code = "-".join([room.code, block.code] + [c.code for c in coordinates])
                address = " ".join([room.name] + ([block.name] if block.name else [])
                                   + [c.text for c in coordinates])
                if code in codes:
                    raise document.error(N_("生成的位置编码重复"), at=at, field="code", value=code)
                if address in addresses:
                    raise document.error(N_("生成的位置名称重复（两组架子同名？给架组加 name）"), at=at, field="name",
                                         value=address)
                seq += 1
                codes[code], addresses[address] = seq, seq
                yield ShelfSpec(code=code, address=address, room_code=room.code, room_name=room.name,
                                block_code=block.code, block_name=block.name, kind=block.kind,
                                purpose=block.purpose, coordinates=coordinates, capacity=capacity,
                                width_mm=block.shelf_width_mm, seq=seq)


# --- preview and diff ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LevelCount:
    """How many values one level has in a block (列 12, from 1列 to 12列)."""

    label: str
    count: int
    first: str
    last: str


@dataclass(frozen=True)
class BlockSummary:
    room_code: str
    room_name: str
    block_code: str
    block_name: str
    kind: str
    purpose: str
    levels: tuple[LevelCount, ...]
    shelves: int
    capacity: int
    first_code: str
    last_code: str

    def as_json(self) -> dict[str, object]:
        return {"room": self.room_name, "room_code": self.room_code, "block": self.block_code,
                "block_name": self.block_name, "kind": self.kind, "purpose": self.purpose,
                "levels": [{"label": lc.label, "count": lc.count, "first": lc.first, "last": lc.last}
                           for lc in self.levels],
                "shelves": self.shelves, "capacity": self.capacity, "first": self.first_code, "last": self.last_code}

    def line(self) -> str:
        levels = " × ".join(f"{lc.label} {lc.count}" for lc in self.levels)
        name = f" {self.block_name}" if self.block_name else ""
        kind = f"（{self.kind}）" if self.kind else ""
        return (f"{self.room_name}{name} [{self.room_code}-{self.block_code}]{kind} {PURPOSE_TEXT[self.purpose]}："
                f"{levels}，共 {self.shelves} 层架位，可放 {self.capacity} 袋")


def summarize(shelves: Iterable[ShelfSpec]) -> list[BlockSummary]:
    """Counts per room, block and level, in filling order: what a clerk checks before applying a layout."""
    groups: dict[tuple[str, str], list[ShelfSpec]] = {}
    for shelf in sorted(shelves, key=lambda s: s.seq):
        groups.setdefault((shelf.room_code, shelf.block_code), []).append(shelf)
    out = []
    for group in groups.values():
        first = group[0]
        levels = []
        for index, coordinate in enumerate(first.coordinates):
            texts: dict[str, str] = {}
            for shelf in group:
                texts.setdefault(shelf.coordinates[index].code, shelf.coordinates[index].text)
            ordered = sorted(texts.items(), key=lambda item: _natural(item[0]))
            levels.append(LevelCount(coordinate.label, len(texts), ordered[0][1], ordered[-1][1]))
        out.append(BlockSummary(first.room_code, first.room_name, first.block_code, first.block_name, first.kind,
                                first.purpose, tuple(levels), len(group), sum(s.capacity for s in group),
                                group[0].code, group[-1].code))
    return out


def _natural(code: str) -> tuple[int, int | str]:
    return (0, int(code)) if code.isdigit() else (1, code)


@dataclass(frozen=True)
class ShelfChange:
    before: ShelfSpec
    after: ShelfSpec
    fields: tuple[str, ...]  # address, capacity, purpose, kind


@dataclass(frozen=True)
class LayoutDiff:
    """What applying a layout would do to the shelves in use (matched by location code)."""

    added: tuple[ShelfSpec, ...]
    removed: tuple[ShelfSpec, ...]
    changed: tuple[ShelfChange, ...]
    unchanged: int
    reordered: bool  # the walking order of shelves kept from before is different

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.reordered)


COMPARED_FIELDS = ("address", "capacity", "purpose", "kind")


def diff_layout(current: Iterable[ShelfSpec], layout: Layout) -> LayoutDiff:
    old = {shelf.code: shelf for shelf in current}
    new = {shelf.code: shelf for shelf in layout.shelves}
    added = tuple(shelf for code, shelf in new.items() if code not in old)
    removed = tuple(sorted((shelf for code, shelf in old.items() if code not in new), key=lambda s: s.seq))
    changed, unchanged = [], 0
    for code, after in new.items():
        before = old.get(code)
        if before is None:
            continue
        fields = tuple(f for f in COMPARED_FIELDS if getattr(before, f) != getattr(after, f))
        if fields:
            changed.append(ShelfChange(before, after, fields))
        else:
            unchanged += 1
    kept_old = [s.code for s in sorted(old.values(), key=lambda s: s.seq) if s.code in new]
    kept_new = [s.code for s in layout.shelves if s.code in old]
    return LayoutDiff(added=added, removed=removed, changed=tuple(changed), unchanged=unchanged,
                      reordered=kept_old != kept_new)


# --- addresses as typed --------------------------------------------------------------------------------------

def split_position(text: str) -> tuple[str, int | None]:
    """`K1-M-3-A-2-4#17`, `K1-M-3-A-2-4 第17位` or `一号库房 3列 A面 2节 4层 第17位` → (shelf part, 17)."""
    text = text.strip()
    match = _POSITION_SUFFIX.match(text)
    if not match or not match.group(1):
        return text, None
    number = next(group for group in match.groups()[1:] if group)
    return match.group(1).strip(), int(number)


def address_key(text: str) -> str:
    """Addresses compare without spaces and case, so `一号库房3列A面2节4层` finds `一号库房 3列 A面 2节 4层`."""
    return re.sub(r"\s+", "", text).upper()


def position_text(position_format: str, slot: int) -> str:
    return position_format.replace("{}", str(slot))
