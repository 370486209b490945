"""The form catalogue: each form is a folder templates/forms/<id>/ with form.yaml and form.html (data, not code)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, RootModel, ValidationInfo, field_validator, model_validator

from archiveprint import resources
from archiveprint.configfile import Invalid, Schema, read_yaml, worded
from archiveprint.errors import N_, NotFound
from archiveprint.forms.paper import check_one_paper
from archiveprint.register.populations import known_id

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
    population: str | None = None  # the key population it is for (a populations.yaml id): printed by default


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


# --- the files, declared --------------------------------------------------------------------------------------
# Keys these schemas do not name are passed over, as they always were (form.yaml files carry notes for people).

WHAT_FORM = N_("表单定义")  # names the file in every message about it
WHAT_SETS = N_("表单套组")
WHAT_VARIANTS = N_("表单版本设置")


class _Look(Schema):
    """What a variant (`variants: {ycia: {options: …}}`) may change in a field; None: left as it is."""

    known_keys_only: ClassVar[bool] = False
    label: str | None = None
    kind: str | None = None
    options: dict[str, str] | None = None
    boxes: int | None = None
    prefill: str | None = None
    unit: str | None = None
    width: str | None = None
    star: bool | None = None

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str | None, info: ValidationInfo) -> str | None:
        if kind is not None and kind not in FIELD_KINDS:
            raise Invalid(N_("表单 {form} 的字段种类未知"), {"form": (info.context or {}).get("form", "")})
        return kind


class _FieldFile(_Look):
    """One item of `fields`."""

    slot: str
    label: str
    kind: str = "text"
    boxes: int = 1
    unit: str = ""
    width: str = ""
    star: bool = False
    variants: dict[str, _Look] = Field(default_factory=dict)

    def definition(self, variant: str) -> FieldDef:
        """The field as printed, with the site's chosen variant (if it names one of this field's) applied."""
        chosen = self.variants.get(variant)
        values = {**self.model_dump(exclude={"variants"}), **(chosen.model_dump(exclude_unset=True) if chosen else {})}
        return FieldDef(**{**values, "options": tuple((values["options"] or {}).items())})


class _FormFile(Schema):
    """form.yaml: the form's identity and page set-up, and its fields in order."""

    known_keys_only: ClassVar[bool] = False
    shape: ClassVar[str] = N_("应为键值映射（id、number、title、fields ……）")
    id: str
    number: int  # two digits in the re-filing barcode
    title: str
    pages: int = 1
    header: Literal["code8", "code17", "none"] = "code8"
    size: str = "A4"
    notes: str = ""
    per_page: int = 1
    slot_prefix: str = ""
    fields: list[_FieldFile] = Field(default_factory=list)


class _SetFile(Schema):
    """One built-in set of sets.yaml; its forms must be in the catalogue (the context's `forms`), its population
    in templates/register/populations.yaml."""

    known_keys_only: ClassVar[bool] = False
    id: str
    name: str
    forms: list[str]
    description: str = ""
    population: str | None = None

    @field_validator("population")
    @classmethod
    def _known_population(cls, population: str | None) -> str | None:
        return population if population is None else known_id(population)

    @model_validator(mode="after")
    def _known_forms(self, info: ValidationInfo) -> _SetFile:
        unknown = [form_id for form_id in self.forms if form_id not in (info.context or {}).get("forms", ())]
        if unknown:
            raise Invalid(N_("套组引用了不存在的表单"), at=("forms",), value=", ".join(unknown))
        return self


VARIANTS = N_("格式应为：表单编号: {{字段: 版本}}")


def _mapping(raw: object) -> object:
    if not isinstance(raw, Mapping):
        raise Invalid(VARIANTS)
    return raw


_Sets = RootModel[list[_SetFile] | None]
_Variants = RootModel[Annotated[dict[str, Annotated[dict[str, str], worded(VARIANTS)]], BeforeValidator(_mapping)]]


# --- reading --------------------------------------------------------------------------------------------------

def load_form(folder: Path, overrides: dict[str, Any] | None = None) -> FormDef:
    """Read one form folder; `overrides` (site settings) replace fields' options where the sources disagree."""
    document = read_yaml(folder / "form.yaml", what=WHAT_FORM, source=f"{folder.name}/form.yaml")
    form_id = document.data.get("id") if isinstance(document.data, Mapping) else None
    raw = document.validate(_FormFile, context={"form": form_id})
    overrides = overrides or {}
    return FormDef(
        id=raw.id, number=raw.number, title=raw.title, pages=raw.pages, header=raw.header,
        fields=tuple(item.definition(overrides.get(item.slot, "")) for item in raw.fields), folder=folder,
        size=raw.size, notes=raw.notes, per_page=raw.per_page, slot_prefix=raw.slot_prefix)


def site_variants_file() -> Path:
    """Where a site picks variants for items the sources disagree on: <instance>/form_variants.yaml, e.g.

        personal_info: {livestock: ycia}
        health_check: {diet: bsoft, drink_kind: bsoft}
    """
    return Path(os.environ.get("ARCHIVEPRINT_INSTANCE") or Path.cwd() / "instance") / "form_variants.yaml"


def site_variants() -> dict[str, dict[str, str]]:
    path = site_variants_file()
    if not path.is_file():
        return {}
    document = read_yaml(path, what=WHAT_VARIANTS, source=str(path))
    document.data = document.data or {}
    return document.validate(_Variants).root


def load_catalog() -> Catalog:
    """Every form folder under templates/forms/ and the sets in templates/forms/sets.yaml, with the site's variants."""
    variants = site_variants()
    return _load_catalog(tuple(sorted((f, tuple(sorted(v.items()))) for f, v in variants.items())))


@lru_cache(maxsize=8)
def _load_catalog(variants: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]) -> Catalog:
    chosen = {form_id: dict(fields) for form_id, fields in variants}
    root = resources.template_dir() / "forms"
    catalog = Catalog()
    for folder in sorted(p for p in root.iterdir() if (p / "form.yaml").is_file()):
        form = load_form(folder, chosen.get(folder.name))
        catalog.forms[form.id] = form
    sets_file = root / "sets.yaml"
    if sets_file.is_file():
        catalog.sets = load_sets(sets_file, catalog.forms)
    return catalog


def load_sets(path: Path, forms: Mapping[str, FormDef]) -> dict[str, FormSet]:
    """The built-in sets of a sets file (templates/forms/sets.yaml), checked against the forms and populations."""
    sets = read_yaml(path, what=WHAT_SETS).validate(_Sets, context={"forms": forms}).root
    found: dict[str, FormSet] = {}
    for raw in sets or ():
        check_one_paper(raw.name, [forms[form_id] for form_id in raw.forms])
        found[raw.id] = FormSet(id=raw.id, name=raw.name, forms=tuple(raw.forms), description=raw.description,
                                population=raw.population)
    return found
