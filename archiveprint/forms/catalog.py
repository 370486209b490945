"""The form catalogue: each form is a folder templates/forms/<id>/ with form.yaml and form.html (data, not code)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from archiveprint import resources
from archiveprint.errors import InvalidValue, NotFound

FIELD_KINDS = frozenset({"text", "boxes", "option", "multi", "date", "ymd", "area", "sign", "check"})


@dataclass(frozen=True)
class FieldDef:
    """One printed item of a form: its label, how it is filled, its option codes, what prefills it."""

    slot: str
    label: str
    kind: str
    options: tuple[tuple[str, str], ...] = ()
    boxes: int = 1
    prefill: str | None = None
    unit: str = ""
    width: str = ""
    star: bool = False  # printed with * (not a free item)

    @property
    def option_text(self) -> str:
        return " ".join(f"{code}{label}" for code, label in self.options)


@dataclass(frozen=True)
class FormDef:
    """A form as its folder describes it."""

    id: str
    number: int  # two digits in the re-filing barcode
    title: str
    pages: int
    header: str  # code8 | code17 | none
    fields: tuple[FieldDef, ...]
    folder: Path
    size: str = "A4"
    notes: str = ""
    per_page: int = 1  # residents per sheet (the A4 sheet of cut-out cards holds 8)
    slot_prefix: str = ""  # with per_page > 1: slots of the n-th resident are <prefix><n>.<slot>

    @property
    def template(self) -> str:
        return f"forms/{self.id}/form.html"

    def field(self, slot: str) -> FieldDef:
        for item in self.fields:
            if item.slot == slot:
                return item
        raise KeyError(slot)

    @property
    def by_slot(self) -> dict[str, FieldDef]:
        return {item.slot: item for item in self.fields}


@dataclass(frozen=True)
class FormSet:
    """Forms printed together (新建档套表 …), in folder order."""

    id: str
    name: str
    forms: tuple[str, ...]
    description: str = ""
    builtin: bool = True


@dataclass
class Catalog:
    forms: dict[str, FormDef] = field(default_factory=dict)
    sets: dict[str, FormSet] = field(default_factory=dict)

    def form(self, form_id: str) -> FormDef:
        try:
            return self.forms[form_id]
        except KeyError:
            raise NotFound("没有这种表单", field="表单", value=form_id) from None

    def form_set(self, key: str) -> FormSet:
        """A built-in set by id or by its Chinese name (never a single form: see `single_form`)."""
        found = self.find_set(key)
        if found is None:
            raise NotFound("没有这个表单套组", field="套组", value=key)
        return found

    def find_set(self, key: str) -> FormSet | None:
        for form_set in self.sets.values():
            if key in (form_set.id, form_set.name):
                return form_set
        return None

    def find_form(self, key: str) -> FormDef | None:
        """A form by id or by its title."""
        if key in self.forms:
            return self.forms[key]
        return next((form for form in self.forms.values() if form.title == key), None)

    def single_form(self, key: str) -> FormSet:
        """One form (by id or title) printed on its own, as the printer takes every print: a one-form set."""
        form = self.find_form(key)
        if form is None:
            raise NotFound("没有这种表单", field="表单", value=key)
        return FormSet(id=form.id, name=form.title, forms=(form.id,))


def _field(raw: dict[str, Any], form_id: str) -> FieldDef:
    kind = raw.get("kind", "text")
    if kind not in FIELD_KINDS:
        raise InvalidValue(f"表单 {form_id} 的字段种类未知", field=raw.get("slot"), value=kind)
    options = tuple((str(code), str(label)) for code, label in (raw.get("options") or {}).items())
    return FieldDef(
        slot=str(raw["slot"]), label=str(raw["label"]), kind=kind, options=options,
        boxes=int(raw.get("boxes", 1)), prefill=raw.get("prefill"), unit=str(raw.get("unit", "")),
        width=str(raw.get("width", "")), star=bool(raw.get("star", False)),
    )


def load_form(folder: Path, overrides: dict[str, Any] | None = None) -> FormDef:
    """Read one form folder; `overrides` (site settings) replace fields' options where the sources disagree."""
    import yaml

    raw = yaml.safe_load((folder / "form.yaml").read_text(encoding="utf-8"))
    overrides = overrides or {}
    fields = []
    for item in raw.get("fields", []):
        variant = (item.get("variants") or {}).get(overrides.get(item["slot"], ""))
        fields.append(_field({**item, **(variant or {})}, raw["id"]))
    return FormDef(
        id=raw["id"], number=int(raw["number"]), title=raw["title"], pages=int(raw.get("pages", 1)),
        header=raw.get("header", "code8"), fields=tuple(fields), folder=folder, size=raw.get("size", "A4"),
        notes=raw.get("notes", ""), per_page=int(raw.get("per_page", 1)), slot_prefix=raw.get("slot_prefix", ""),
    )


def site_variants_file() -> Path:
    """Where a site picks variants for items the sources disagree on: <instance>/form_variants.yaml, e.g.

        personal_info: {livestock: ycia}
        health_check: {diet: bsoft, drink_kind: bsoft}
    """
    import os

    return Path(os.environ.get("ARCHIVEPRINT_INSTANCE") or Path.cwd() / "instance") / "form_variants.yaml"


def site_variants() -> dict[str, dict[str, str]]:
    import yaml

    path = site_variants_file()
    if not path.is_file():
        return {}
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise InvalidValue("格式应为：表单编号: {字段: 版本}", field=str(path))
    return {str(form): {str(k): str(v) for k, v in fields.items()} for form, fields in raw.items()}


def load_catalog() -> Catalog:
    """Every form folder under templates/forms/ and the sets in templates/forms/sets.yaml, with the site's variants."""
    variants = site_variants()
    return _load_catalog(tuple(sorted((f, tuple(sorted(v.items()))) for f, v in variants.items())))


@lru_cache(maxsize=8)
def _load_catalog(variants: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]) -> Catalog:
    import yaml

    chosen = {form_id: dict(fields) for form_id, fields in variants}
    root = resources.template_dir() / "forms"
    catalog = Catalog()
    for folder in sorted(p for p in root.iterdir() if (p / "form.yaml").is_file()):
        form = load_form(folder, chosen.get(folder.name))
        catalog.forms[form.id] = form
    sets_file = root / "sets.yaml"
    if sets_file.is_file():
        for raw in yaml.safe_load(sets_file.read_text(encoding="utf-8")) or []:
            unknown = [f for f in raw["forms"] if f not in catalog.forms]
            if unknown:
                raise InvalidValue("套组引用了不存在的表单", field=raw["name"], value=", ".join(unknown))
            catalog.sets[raw["id"]] = FormSet(id=raw["id"], name=raw["name"], forms=tuple(raw["forms"]),
                                              description=raw.get("description", ""))
    return catalog
