"""The checklist as data: templates/inspections/checklist.yaml, with a site's <instance>/inspection_checklist.yaml."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from archiveprint import resources
from archiveprint.configfile import Document, Invalid, Schema, read_yaml
from archiveprint.errors import N_, InvalidValue, NotFound

WHAT = N_("抽查表")
SITE_FILE = "inspection_checklist.yaml"
KINDS = ("check", "dynamic", "forms")
KEY_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,31}$"


@dataclass(frozen=True)
class Item:
    """One thing read in a folder: 合格/不合格 with a note (a `dynamic` item also takes the latest date seen)."""

    key: str
    title: str
    help: str = ""
    kind: str = "check"
    qualified: bool = True  # counts towards 合格

    def as_json(self) -> dict[str, object]:
        return {"key": self.key, "title": self.title, "help": self.help, "kind": self.kind,
                "qualified": self.qualified}


@dataclass(frozen=True)
class Checklist:
    """What every folder of an inspection is read against (an inspection keeps a copy: `as_json`)."""

    name: str
    items: tuple[Item, ...]
    window_months: int = 12
    unavailable: str = "fail"  # fail: a folder not produced counts as 不合格 and without 动态记录; exclude

    @property
    def dynamic(self) -> Item:
        return next(item for item in self.items if item.kind == "dynamic")

    def item(self, key: str) -> Item:
        """An item by key or title; refused with the choices named."""
        for item in self.items:
            if key in (item.key, item.title):
                return item
        choices = "、".join(f"{i.key}（{i.title}）" for i in self.items)
        raise NotFound(N_("抽查表没有这一项。可选：{choices}"), params={"choices": choices}, field="检查项目",
                       value=key)

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "window_months": self.window_months, "unavailable": self.unavailable,
                "items": [item.as_json() for item in self.items]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Checklist:
        return cls(name=str(data["name"]), window_months=int(data["window_months"]),
                   unavailable=str(data["unavailable"]), items=tuple(Item(**item) for item in data["items"]))


class _ItemFile(Schema):
    key: str = Field(pattern=KEY_PATTERN)
    title: str = ""
    help: str = ""
    kind: Literal["check", "dynamic", "forms"] = "check"
    qualified: bool = True
    enabled: bool = True


class _ChecklistFile(Schema):
    name: str | None = None
    window_months: int | None = Field(default=None, ge=1, le=60)
    unavailable: Literal["fail", "exclude"] | None = None
    items: list[_ItemFile] = Field(default_factory=list)

    @field_validator("items")
    @classmethod
    def _unique(cls, items: list[_ItemFile]) -> list[_ItemFile]:
        keys = [item.key for item in items]
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        if repeated:
            raise Invalid(N_("检查项目的 key 重复"), value="、".join(repeated))
        missing = [item.key for item in items if item.enabled and not item.title]
        if missing:
            raise Invalid(N_("检查项目缺少 title"), value="、".join(missing))
        return items


def site_checklist_file(instance_dir: Path) -> Path:
    return Path(instance_dir) / SITE_FILE


def _read(document: Document) -> _ChecklistFile:
    return document.validate(_ChecklistFile)


def load_checklist(instance_dir: Path | None = None) -> Checklist:
    """The checklist in force: the shipped file, with the site's file (if any) over it, key by key."""
    shipped = _read(read_yaml(resources.template_dir() / "inspections" / "checklist.yaml", what=WHAT))
    layers = [shipped]
    site = site_checklist_file(instance_dir) if instance_dir is not None else None
    if site is not None and site.is_file():
        layers.append(_read(read_yaml(site, what=WHAT, source=site.name)))
    name, window, unavailable = "", 12, "fail"
    items: dict[str, _ItemFile] = {}
    for layer in layers:
        name = layer.name or name
        window = layer.window_months or window
        unavailable = layer.unavailable or unavailable
        for item in layer.items:
            items[item.key] = item
    chosen = tuple(Item(key=i.key, title=i.title, help=i.help, kind=i.kind, qualified=i.qualified)
                   for i in items.values() if i.enabled)
    dynamic = [item.key for item in chosen if item.kind == "dynamic"]
    if len(dynamic) != 1:
        raise InvalidValue(N_("抽查表应有且只有一项 kind: dynamic（决定使用率），现有 {count} 项"),
                           params={"count": len(dynamic)}, field=WHAT, value="、".join(dynamic) or None)
    return Checklist(name=name or str(WHAT), items=chosen, window_months=window, unavailable=unavailable)
