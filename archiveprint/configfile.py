"""Configuration files (YAML): read with the line of every value, checked against a pydantic schema, and refused
in Chinese naming the file, line, field and value.

Every data file a site or a developer edits by hand — lending rules, storage layouts, label stocks and designs,
form definitions — goes through here, so a mistake reads the same wherever it is made:
`第7行，「capacity」，值“0”：库房布局 a.yaml：每层容量应为 1–2000 之间的整数（袋）`.

A schema is a `Schema` (pydantic model). pydantic's own errors are put into our words by one table, MESSAGES; a
rule of our own raises `Invalid` (a ValueError pydantic passes through) with its Chinese template and params.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)

from archiveprint.errors import N_, InvalidValue, Message, Translate, _same

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)

MAX_DEPTH = 12  # nesting of a configuration file (the deepest shipped file, a form with variants, needs 6)
FILE = N_("文件")  # the field named when the whole file is wrong
PREFIX = N_("{what} {file}：")  # what kind of file, which one: 库房布局 a.yaml：
PREFIX_NO_FILE = N_("{what}：")  # rules handed in as data, not read from a file
_INPUT: Any = object()  # Invalid's default value: the value pydantic was checking

# pydantic's error types in our words; {name} placeholders are filled from the error's context.
MESSAGES: dict[str, str] = {
    "missing": N_("缺少字段"),
    "int_type": N_("应为整数"), "int_parsing": N_("应为整数"), "int_from_float": N_("应为整数"),
    "float_type": N_("应为数字"), "float_parsing": N_("应为数字"), "finite_number": N_("应为数字"),
    "bool_type": N_("应为 true 或 false"), "bool_parsing": N_("应为 true 或 false"),
    "string_type": N_("应为文字"),
    "date_type": N_("应为日期（YYYY-MM-DD）"), "date_parsing": N_("应为日期（YYYY-MM-DD）"),
    "dict_type": N_("应为键值映射"), "model_type": N_("应为键值映射"), "model_attributes_type": N_("应为键值映射"),
    "list_type": N_("应为列表"), "tuple_type": N_("应为列表"),
    "too_short": N_("至少要有 {min_length} 项"), "too_long": N_("最多 {max_length} 项"),
    "literal_error": N_("应为以下之一：{expected}"), "enum": N_("应为以下之一：{expected}"),
    "greater_than": N_("应大于 {gt}"), "greater_than_equal": N_("应不小于 {ge}"),
    "less_than": N_("应小于 {lt}"), "less_than_equal": N_("应不大于 {le}"),
    "recursion_loop": N_("引用了自身"),
}
OTHER = N_("取值不对")
UNKNOWN_KEY = N_("{where} 中有未知的键：{key}；可用：{allowed}")
UNKNOWN_TOP_KEY = N_("有未知的键：{key}；可用：{allowed}")  # UNKNOWN_KEY at the top of the file
NOT_YAML = N_("不是有效的 YAML：{problem}")
TOO_DEEP = N_("嵌套层数太多（最多 {depth} 层）")
KEY_NOT_TEXT = N_("键必须是文字")
REPEATED_KEY = N_("键重复出现")


class Invalid(ValueError):
    """One of our own rules broken inside a schema: a Chinese template and its params (`{path}`, the dotted key,
    and `{key}`, the last one, are filled in for every message, so a literal brace is written twice: `{{}}`).
    `at` points below the value being checked (a key of a mapping, an item of a list); `field` and `value` replace
    what the error names."""

    def __init__(self, message: str, params: Mapping[str, object] | None = None, *, at: Loc = (),
                 field: str | None = None, value: object = _INPUT) -> None:
        super().__init__(message)
        self.message, self.params, self.at, self.field, self.value = message, dict(params or {}), at, field, value


class ConfigError(InvalidValue):
    """A configuration file that breaks its schema. The message starts with the kind of file and its name
    (库房布局 a.yaml：), then says what is wrong; `row`, `field` and `value` say where."""

    def __init__(self, message: str, *, what: str, file: str, params: Mapping[str, object] | None = None,
                 row: int | None = None, field: str | None = None, value: object = None) -> None:
        super().__init__(message, params=params, row=row, field=field, value=value)
        self.what, self.file = what, file
        self.body = self.message  # what is wrong, without the file's name (a Message, translatable)
        self.message = self.prefix() + self.message

    def prefix(self, translate: Translate = _same) -> str:
        return translate(PREFIX if self.file else PREFIX_NO_FILE).format(what=translate(self.what), file=self.file)

    def translated(self, translate: Translate = _same) -> str:
        if translate is _same:
            return self.message
        body = self.body.render(translate) if isinstance(self.body, Message) else self.body
        return self.prefix(translate) + body


def worded(message: str, params: Mapping[str, object] | None = None) -> WrapValidator:
    """A field whose every mistake gets one message of ours (`Annotated[tuple[float, float], worded("应为两个数")]`),
    where pydantic would name each part that is wrong."""
    def check(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise Invalid(message, params) from None

    return WrapValidator(check)


class Schema(BaseModel):
    """A part of a configuration file. Unknown keys are refused (a typo must fail loudly, not switch a rule off)
    unless `known_keys_only` is False; numbers are accepted where text is expected. The class variables word
    what is said about the part as a whole."""

    model_config = ConfigDict(frozen=True, coerce_numbers_to_str=True)
    shape: ClassVar[str] = MESSAGES["model_type"]  # said when this part is not a mapping
    known_keys_only: ClassVar[bool] = True
    unknown_key: ClassVar[str] = UNKNOWN_KEY  # {where}: the dotted path of this part; {key}; {allowed}
    section: ClassVar[str] = ""  # how the unknown-key message names this part, when not by its path

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if not isinstance(data, Mapping | BaseModel):
            raise Invalid(cls.shape)
        if cls.known_keys_only and isinstance(data, Mapping):
            allowed = [f.alias or name for name, f in cls.model_fields.items()]
            for key in data:
                if key not in allowed:
                    raise Invalid(cls.unknown_key, {"key": key, "allowed": "、".join(sorted(allowed)),
                                                    "section": cls.section}, at=(key,), value=None)
        return data


@dataclass
class Document:
    """A parsed configuration file (or several merged): plain data, and where each value came from."""

    data: Any
    what: str  # the kind of file, in words: 库房布局
    source: str  # the file's name as messages show it (several: joined with 、)
    marks: dict[Loc, tuple[str, int]] = field(default_factory=dict)  # key path → (file, line)

    def validate(self, model: type[M], *, context: dict[str, Any] | None = None,
                 place: Callable[[Loc], str] | None = None) -> M:
        """The data as `model`, or a ConfigError for the first mistake. `place` may name a position the line
        cannot (a dict handed in by a test has no lines): 第1个设计第2个元素."""
        try:
            return model.model_validate(self.data, context=context)
        except ValidationError as error:
            raise self.explain(error.errors(include_url=False)[0], place) from None

    def explain(self, error: Mapping[str, Any], place: Callable[[Loc], str] | None = None) -> ConfigError:
        """One pydantic error in our words, at its line."""
        loc, ctx = tuple(error["loc"]), dict(error.get("ctx") or {})
        own = ctx.get("error")
        if isinstance(own, Invalid):
            where = ".".join(part for part in loc if isinstance(part, str))
            message = UNKNOWN_TOP_KEY if own.message == UNKNOWN_KEY and not where else own.message
            return self.error(message, {"where": where, **own.params}, at=loc + own.at, field=own.field,
                              value=error["input"] if own.value is _INPUT else own.value, place=place)
        if "expected" in ctx:  # "'sheet' or 'roll'" → sheet、roll
            ctx["expected"] = "、".join(re.findall(r"'([^']*)'", str(ctx["expected"]))) or ctx["expected"]
        value = None if error["type"] == "missing" else error["input"]
        return self.error(MESSAGES.get(error["type"], OTHER), ctx, at=loc, value=value, place=place)

    def error(self, message: str, params: Mapping[str, object] | None = None, *, at: Loc = (),
              field: str | None = None, value: object = None, line: int | None = None,
              place: Callable[[Loc], str] | None = None) -> ConfigError:
        """A ConfigError about the value at key path `at`: its file and line, the key as the field."""
        keys = [part for part in at if isinstance(part, str)]
        filled = {"path": ".".join(keys), "key": keys[-1] if keys else "", **(params or {})}
        source, marked = self.where(at)
        line = line or marked
        if place is not None:
            source += place(at)
        return ConfigError(message, what=self.what, file=source, params=filled, row=line,
                           field=field or (keys[-1] if keys else FILE),
                           value=None if isinstance(value, Mapping) else value)

    def where(self, loc: Loc) -> tuple[str, int | None]:
        """The file and line of the value at `loc`, or of the nearest part around it that has one."""
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.marks:
                return self.marks[loc[:end]]
        return self.source, None


# --- reading -------------------------------------------------------------------------------------------------

def read_yaml(path: Path, *, what: str, source: str | None = None, encoding: str = "utf-8") -> Document:
    """A YAML file as a Document; `source` is how messages name it (by default its name)."""
    return parse_yaml(path.read_text(encoding=encoding), what=what, source=source or path.name)


def parse_yaml(text: str, *, what: str, source: str, max_depth: int = MAX_DEPTH) -> Document:
    """YAML text as plain dicts, lists and scalars (safe: no objects), remembering the line of every key and item.

    Keys are text (a number key such as an option code 1 becomes "1"; a key must not be empty or a list); a key
    repeated in one mapping is refused rather than silently replacing the first.
    """
    document = Document(None, what, source)
    loader = _Loader(text, max_depth)
    try:
        node = loader.get_single_node()
        if node is not None:
            document.data = _Builder(loader, document).build(node, ())
    except _TooDeep as error:
        raise document.error(TOO_DEEP, {"depth": max_depth}, line=error.line) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        problem = getattr(error, "problem", None) or error
        raise document.error(NOT_YAML, {"problem": problem}, line=mark.line + 1 if mark else None) from None
    finally:
        loader.dispose()
    return document


class _TooDeep(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


class _Loader(yaml.SafeLoader):
    """A safe loader that refuses a file nested deeper than any needs before it is built: PyYAML composes nested
    lists and maps recursively (100,000 levels end in a RecursionError); its parser, below, is flat."""

    def __init__(self, text: str, max_depth: int) -> None:
        super().__init__(text)
        self.depth, self.max_depth = 0, max_depth

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        nested = self.check_event(yaml.MappingStartEvent, yaml.SequenceStartEvent)
        if nested:
            self.depth += 1
            if self.depth > self.max_depth:
                raise _TooDeep(self.peek_event().start_mark.line + 1)
        try:
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            if nested:
                self.depth -= 1


class _Builder:
    """Plain data from a composed YAML node tree, recording the line of every mapping key and list item."""

    def __init__(self, loader: yaml.SafeLoader, document: Document) -> None:
        self.loader, self.document = loader, document
        self.built: dict[int, Any] = {}  # an alias is built once and shared, as PyYAML does (no expansion)

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        marks = self.document.marks
        marks.setdefault(loc, (self.document.source, node.start_mark.line + 1))
        if not isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            return self.loader.construct_object(node, deep=True)
        if id(node) in self.built:
            return self.built[id(node)]
        if isinstance(node, yaml.SequenceNode):
            items: list[Any] = []
            self.built[id(node)] = items
            items.extend(self.build(child, (*loc, n)) for n, child in enumerate(node.value))
            return items
        own = {id(key) for key, _ in node.value}
        self.loader.flatten_mapping(node)  # << merge keys: merged entries first, so the mapping's own win
        out: dict[str, Any] = {}
        self.built[id(node)] = out
        seen: set[str] = set()
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            key = self.loader.construct_object(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if key is None:
                raise self.document.error(KEY_NOT_TEXT, at=loc, line=line)
            key = str(key)
            if id(key_node) in own:
                if key in seen:
                    raise self.document.error(REPEATED_KEY, at=(*loc, key), value=key, line=line)
                seen.add(key)
            marks[(*loc, key)] = (self.document.source, line)
            out[key] = self.build(value_node, (*loc, key))
        return out


def merge_documents(documents: Sequence[Document]) -> Document:
    """Documents layered in order (a site's file over the shipped one): mappings merge key by key, anything else
    in a later file replaces the earlier value; each value keeps the file and line it came from."""
    merged = Document({}, documents[0].what, "")
    sources = []
    for document in documents:
        sources.append(document.source)
        if document.data is None:  # an empty file changes nothing
            continue
        if not isinstance(document.data, Mapping):
            raise document.error(N_("文件顶层应为键值映射"))
        merged.data = merge(merged.data, document.data)
        merged.marks.update(document.marks)
    merged.source = "、".join(sources)
    return merged


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key; anything else in `override` replaces the value in `base`."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out
