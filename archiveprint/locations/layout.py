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
from typing import Any

from archiveprint.errors import InvalidValue

MAX_LEVELS = 6
MAX_DEPTH = 12  # nesting of a layout file (the shipped example needs 6)
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
TOP_KEYS = {"name", "folder_thickness_mm", "growth_reserve", "position_format", "rooms"}
ROOM_KEYS = {"code", "name", "blocks"}
BLOCK_KEYS = {"code", "name", "kind", "purpose", "levels", "exclude", "fill_order", "capacity", "shelf_width_mm",
              "folder_thickness_mm", "format"}
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
class Block:
    """A run of shelving of one kind inside a room, with its own level names and filling order."""

    code: str
    name: str
    kind: str
    purpose: str
    levels: tuple[Level, ...]
    order: tuple[tuple[str, bool], ...]  # (label, descending), most significant first
    capacity: int
    width_mm: float | None
    line: int
    exclude: tuple[tuple[tuple[tuple[str, frozenset[str]], ...], int], ...] = ()  # (rule, line); a rule maps
    # level labels to codes, and a shelf matching every label of a rule is left out


@dataclass(frozen=True)
class Room:
    code: str
    name: str
    blocks: tuple[Block, ...]
    line: int


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


# --- YAML with line numbers ----------------------------------------------------------------------------------

class _Map(dict):  # type: ignore[type-arg]
    """A YAML mapping that remembers the line of itself and of each key (for error messages)."""

    line: int = 0
    lines: dict[str, int]


class _Seq(list):  # type: ignore[type-arg]
    line: int = 0
    lines: list[int]


def _load_yaml(text: str, source: str) -> Any:
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> _Map:
        loader.flatten_mapping(node)
        out = _Map()
        out.line, out.lines = node.start_mark.line + 1, {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, str | int):
                raise _bad(source, line, "键必须是文字", str(key), key)
            key = str(key)
            if key in out:
                raise _bad(source, line, "键重复出现", key, key)
            out[key] = loader.construct_object(value_node, deep=True)
            out.lines[key] = line
        return out

    def sequence(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> _Seq:
        out = _Seq(loader.construct_object(child, deep=True) for child in node.value)
        out.line, out.lines = node.start_mark.line + 1, [child.start_mark.line + 1 for child in node.value]
        return out

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, sequence)
    try:
        _check_depth(yaml.parse(text, Loader=yaml.SafeLoader), source)
        return yaml.load(text, Loader=Loader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        raise InvalidValue(f"库房布局 {source} 不是有效的 YAML：{error.problem or error}", row=line,
                           value=source) from None
    except yaml.YAMLError as error:
        raise InvalidValue(f"库房布局 {source} 不是有效的 YAML：{error}", value=source) from None


def _check_depth(events: Iterable[Any], source: str) -> None:
    """Refuse a file nested deeper than any layout needs before it is built (PyYAML builds nested lists and maps
    recursively: 100,000 levels end in a RecursionError). The parser's event stream is flat, so this is safe."""
    import yaml

    depth = 0
    for event in events:
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise _bad(source, event.start_mark.line + 1, f"嵌套层数太多（最多 {MAX_DEPTH} 层）", "文件", source)
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            depth -= 1


def _bad(source: str, line: int | None, message: str, field: str, value: object = None) -> InvalidValue:
    return InvalidValue(f"库房布局 {source}：{message}", row=line, field=field, value=value)


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
        raise _bad(source, None, f"文件太大（最多 {MAX_TEXT // 1024} KB）", "文件", source)
    data = _load_yaml(text, source)
    if not isinstance(data, _Map):
        raise _bad(source, 1, "文件顶层应为键值对（name、rooms ……）", "文件", source)
    _check_keys(data, TOP_KEYS, source, "")
    thickness = _number(data, "folder_thickness_mm", source, default=DEFAULT_THICKNESS_MM, low=1, high=500)
    reserve = _number(data, "growth_reserve", source, default=DEFAULT_RESERVE, low=0, high=5)
    position_format = str(data.get("position_format") or DEFAULT_POSITION_FORMAT)
    if "{}" not in position_format:
        raise _bad(source, data.lines.get("position_format"), "格式中必须有 {} 表示位号", "position_format",
                   position_format)
    rooms_raw = data.get("rooms")
    if not isinstance(rooms_raw, _Seq) or not rooms_raw:
        raise _bad(source, data.lines.get("rooms", data.line), "至少要有一个库房（rooms 列表）", "rooms", rooms_raw)
    rooms = tuple(_room(raw, line, source, thickness) for raw, line in zip(rooms_raw, rooms_raw.lines, strict=True))
    _unique(((room.code, room.line) for room in rooms), source, "库房代码重复", "code")
    _unique(((room.name, room.line) for room in rooms), source, "库房名称重复", "name")
    shelves = tuple(_expand(rooms, source))
    if not shelves:
        raise _bad(source, rooms[0].line, "布局中没有任何架位", "rooms", source)
    name = str(data.get("name") or Path(source).stem)
    return Layout(name=name, source=source, text=text, folder_thickness_mm=thickness, growth_reserve=reserve,
                  position_format=position_format, rooms=rooms, shelves=shelves)


def _check_keys(raw: _Map, allowed: set[str], source: str, where: str) -> None:
    for key in raw:
        if key not in allowed:
            raise _bad(source, raw.lines.get(key), f"{where}不认识的键（可用：{'、'.join(sorted(allowed))}）", key, key)


def _number(raw: _Map, key: str, source: str, *, default: float | None, low: float, high: float) -> float:
    value = raw.get(key)
    if value is None:
        if default is None:
            raise _bad(source, raw.line, "缺少必填项", key)
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise _bad(source, raw.lines.get(key), f"应为 {low:g}–{high:g} 之间的数", key, value)
    return float(value)


def _code(raw: _Map, key: str, source: str, what: str) -> str:
    value = raw.get(key)
    text = "" if value is None or isinstance(value, bool) else str(value).strip()
    if not CODE_RE.fullmatch(text):
        raise _bad(source, raw.lines.get(key, raw.line), f"{what}应为1–8位字母或数字（用于位置编码和条码）", key,
                   value)
    return text


def _unique(items: Iterable[tuple[str, int]], source: str, message: str, field: str) -> None:
    seen: set[str] = set()
    for value, line in items:
        if value in seen:
            raise _bad(source, line, message, field, value)
        seen.add(value)


def _room(raw: object, line: int, source: str, thickness: float) -> Room:
    if not isinstance(raw, _Map):
        raise _bad(source, line, "每个库房应为键值对（code、name、blocks）", "rooms", raw)
    _check_keys(raw, ROOM_KEYS, source, "库房中")
    code = _code(raw, "code", source, "库房代码")
    name = str(raw.get("name") or "").strip()
    if not name:
        raise _bad(source, raw.line, "库房名称不能为空", "name", code)
    blocks_raw = raw.get("blocks")
    if not isinstance(blocks_raw, _Seq) or not blocks_raw:
        raise _bad(source, raw.lines.get("blocks", raw.line), f"库房“{name}”至少要有一组架子（blocks 列表）",
                   "blocks", blocks_raw)
    blocks = tuple(_block(b, b_line, source, thickness) for b, b_line in zip(blocks_raw, blocks_raw.lines,
                                                                             strict=True))
    _unique(((block.code, block.line) for block in blocks), source, f"库房“{name}”中架组代码重复", "code")
    return Room(code=code, name=name, blocks=blocks, line=raw.line)


def _block(raw: object, line: int, source: str, thickness: float) -> Block:
    if not isinstance(raw, _Map):
        raise _bad(source, line, "每组架子应为键值对（code、levels ……）", "blocks", raw)
    _check_keys(raw, BLOCK_KEYS, source, "架组中")
    code = _code(raw, "code", source, "架组代码")
    name = str(raw.get("name") or "").strip()
    kind = str(raw.get("kind") or "").strip()
    purpose_raw = str(raw.get("purpose") or "villages").strip()
    if purpose_raw not in PURPOSES:
        raise _bad(source, raw.lines.get("purpose"), "用途应为 villages（村档）或 closed（结案）", "purpose",
                   purpose_raw)
    formats = raw.get("format") or _Map()
    if not isinstance(formats, _Map):
        raise _bad(source, raw.lines.get("format"), "format 应为“层级: 格式”的键值对", "format", formats)
    levels = _levels(raw, source, formats)
    order = _order(raw, levels, source)
    capacity, width = _capacity(raw, source, thickness)
    return Block(code=code, name=name, kind=kind, purpose=PURPOSES[purpose_raw], levels=levels, order=order,
                 capacity=capacity, width_mm=width, line=raw.line, exclude=_exclusions(raw, levels, source))


def _levels(raw: _Map, source: str, formats: _Map) -> tuple[Level, ...]:
    spec = raw.get("levels")
    line = raw.lines.get("levels", raw.line)
    if isinstance(spec, str):
        terms = [t for t in _TERM_SPLIT.split(spec.strip()) if t]
    elif isinstance(spec, _Seq) and all(isinstance(t, str) for t in spec):
        terms = [str(t) for t in spec]
    else:
        raise _bad(source, line, "levels 应写成一行，例如“列 1-12 × 面 A,B × 节 1-6 × 层 1-6”", "levels", spec)
    if not 1 <= len(terms) <= MAX_LEVELS:
        raise _bad(source, line, f"层级数应为 1–{MAX_LEVELS} 个", "levels", spec)
    levels = []
    for term in terms:
        label, values = parse_term(term, source=source, line=line)
        fmt = str(formats.get(label) or "{}" + label)
        if "{}" not in fmt:
            raise _bad(source, formats.lines.get(label, line), "格式中必须有 {} 表示编号", f"format.{label}", fmt)
        levels.append(Level(label=label, values=values, fmt=fmt))
    _unique(((level.label, line) for level in levels), source, "层级名称重复", "levels")
    for label in formats:
        if label not in {level.label for level in levels}:
            raise _bad(source, formats.lines.get(label), "format 中的层级不在 levels 里", f"format.{label}", label)
    return tuple(levels)


def parse_term(term: str, *, source: str = "", line: int | None = None) -> tuple[str, tuple[tuple[str, str], ...]]:
    """`列 1-12` → ('列', (('1', '1'), … ('12', '12'))); `面 A=左,B=右` gives codes A, B shown as 左, 右."""
    term = term.strip()
    match = re.match(r"^(\S+?)\s+(\S.*)$", term) or re.match(r"^([^0-9A-Za-z]+)([0-9A-Za-z].*)$", term)
    if not match or re.search(r"\d", match.group(1)):
        raise _bad(source, line, "每个层级应写成“名称 范围”，例如“列 1-12”或“面 A,B”", "levels", term)
    label, rest = match.group(1), match.group(2).strip()
    values: list[tuple[str, str]] = []
    for item in _ITEM_SPLIT.split(rest):
        values.extend(_expand_item(item, label, source, line))
    codes = [code for code, _ in values]
    if len(set(codes)) != len(codes):
        raise _bad(source, line, f"层级“{label}”的编号有重复", label, rest)
    return label, tuple(values)


def _expand_item(item: str, label: str, source: str, line: int | None) -> list[tuple[str, str]]:
    item = item.strip()
    shown = None
    if "=" in item:
        item, shown = (part.strip() for part in item.split("=", 1))
        if not shown:
            raise _bad(source, line, "“=”后应写显示的名称", label, item)
    if CODE_RE.fullmatch(item):
        return [(item, shown or item)]
    match = _RANGE.match(item)
    if not match or shown:
        raise _bad(source, line, f"层级“{label}”的范围无法识别（可写 1-12、A-D、A,B 或 A=左）", label, item)
    start, end = match.groups()
    if start.isdigit() and end.isdigit():
        a, b = int(start), int(end)
        width = len(start) if start.startswith("0") and len(start) > 1 else 0
        numbers = range(a, b + 1) if a <= b else range(a, b - 1, -1)
        if len(numbers) > MAX_SHELVES_PER_BLOCK:
            raise _bad(source, line, "范围过大", label, item)
        return [(f"{n:0{width}d}",) * 2 for n in numbers]  # type: ignore[misc]
    if len(start) == len(end) == 1 and start.isalpha() and end.isalpha() and start.isupper() == end.isupper():
        a, b = ord(start), ord(end)
        letters = range(a, b + 1) if a <= b else range(a, b - 1, -1)
        return [(chr(n), chr(n)) for n in letters]
    raise _bad(source, line, f"层级“{label}”的范围两端应同为数字或同为单个字母", label, item)


def _order(raw: _Map, levels: tuple[Level, ...], source: str) -> tuple[tuple[str, bool], ...]:
    spec = raw.get("fill_order")
    labels = [level.label for level in levels]
    if spec is None:
        return tuple((label, False) for label in labels)
    line = raw.lines.get("fill_order")
    items = _ITEM_SPLIT.split(spec.strip()) if isinstance(spec, str) else list(spec) if isinstance(spec, _Seq) \
        else None
    if not items or not all(isinstance(i, str) for i in items):
        raise _bad(source, line, "fill_order 应列出全部层级，例如“列, 面, 节, 层”（倒序在前面加 -）", "fill_order",
                   spec)
    order = []
    for item in items:
        item = item.strip()
        descending = item.startswith(("-", "－"))
        order.append((item.lstrip("-－").strip(), descending))
    if sorted(label for label, _ in order) != sorted(labels):
        raise _bad(source, line, f"fill_order 应恰好列出全部层级：{'、'.join(labels)}", "fill_order", spec)
    return tuple(order)


def _capacity(raw: _Map, source: str, thickness: float) -> tuple[int, float | None]:
    has_capacity, has_width = "capacity" in raw, "shelf_width_mm" in raw
    if has_capacity == has_width:
        raise _bad(source, raw.line, "每组架子要写 capacity（每层放几袋）或 shelf_width_mm（每层宽度，毫米），二选一",
                   "capacity", None)
    if has_capacity:
        value = raw["capacity"]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CAPACITY:
            raise _bad(source, raw.lines["capacity"], f"每层容量应为 1–{MAX_CAPACITY} 之间的整数（袋）", "capacity",
                       value)
        return value, None
    width = _number(raw, "shelf_width_mm", source, default=None, low=10, high=10_000)
    own = _number(raw, "folder_thickness_mm", source, default=thickness, low=1, high=500)
    capacity = math.floor(width / own + 1e-9)
    if not 1 <= capacity <= MAX_CAPACITY:
        raise _bad(source, raw.lines["shelf_width_mm"], f"按每袋 {own:g} mm 计算，每层可放 {capacity} 袋，不合理",
                   "shelf_width_mm", width)
    return capacity, width


def _exclusions(raw: _Map, levels: tuple[Level, ...],
                source: str) -> tuple[tuple[tuple[tuple[str, frozenset[str]], ...], int], ...]:
    spec = raw.get("exclude")
    if spec is None:
        return ()
    line = raw.lines["exclude"]
    items = [(spec, line)] if isinstance(spec, str) else list(zip(spec, spec.lines, strict=True)) \
        if isinstance(spec, _Seq) and all(isinstance(item, str) for item in spec) else None
    if items is None:
        raise _bad(source, line, "exclude 应为列表，每项如“列 1 × 面 A”", "exclude", spec)
    known = {level.label: {code for code, _ in level.values} for level in levels}
    rules = []
    for item, item_line in items:
        rule: dict[str, frozenset[str]] = {}
        for term in (t for t in _TERM_SPLIT.split(item.strip()) if t):
            label, values = parse_term(term, source=source, line=item_line)
            if label not in known:
                raise _bad(source, item_line, f"exclude 中的层级“{label}”不在 levels 里", "exclude", item)
            unknown = [code for code, _ in values if code not in known[label]]
            if unknown:
                raise _bad(source, item_line, f"exclude 中“{label}”没有编号 {'、'.join(unknown)}", "exclude", item)
            rule[label] = frozenset(code for code, _ in values)
        rules.append((tuple(rule.items()), item_line))
    return tuple(rules)


# --- generating shelves --------------------------------------------------------------------------------------

def _expand(rooms: tuple[Room, ...], source: str) -> Iterator[ShelfSpec]:
    seq = 0
    codes: dict[str, int] = {}
    addresses: dict[str, int] = {}
    for room in rooms:
        for block in room.blocks:
            rules = block.exclude
            by_label = {level.label: level for level in block.levels}
            iterables = []
            for label, descending in block.order:
                values = by_label[label].values
                iterables.append(tuple(reversed(values)) if descending else values)
            count = math.prod(len(values) for values in iterables)
            if count > MAX_SHELVES_PER_BLOCK:
                raise _bad(source, block.line, f"一组架子最多 {MAX_SHELVES_PER_BLOCK} 层架位，这里会生成 {count} 个",
                           "levels", count)
            for combo in product(*iterables):
                chosen = {label: value for (label, _), value in zip(block.order, combo, strict=True)}
                if any(all(chosen[label][0] in wanted for label, wanted in rule) for rule, _ in rules):
                    continue
                coordinates = tuple(Coordinate(level.label, chosen[level.label][0],
                                               level.fmt.replace("{}", chosen[level.label][1]))
                                    for level in block.levels)
                code = "-".join([room.code, block.code] + [c.code for c in coordinates])
                address = " ".join([room.name] + ([block.name] if block.name else [])
                                   + [c.text for c in coordinates])
                if code in codes:
                    raise _bad(source, block.line, "生成的位置编码重复", "code", code)
                if address in addresses:
                    raise _bad(source, block.line, "生成的位置名称重复（两组架子同名？给架组加 name）", "name", address)
                seq += 1
                codes[code], addresses[address] = seq, seq
                yield ShelfSpec(code=code, address=address, room_code=room.code, room_name=room.name,
                                block_code=block.code, block_name=block.name, kind=block.kind,
                                purpose=block.purpose, coordinates=coordinates, capacity=block.capacity,
                                width_mm=block.width_mm, seq=seq)



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
