"""The form catalogue: each form is a folder templates/forms/<id>/ with form.yaml and form.html (data, not code)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    RootModel,
    ValidationInfo,
    field_validator,
    model_validator,
)

from archiveprint import resources
from archiveprint.configfile import Invalid, Schema, read_yaml
from archiveprint.errors import N_, NotFound
from archiveprint.forms.paper import check_one_paper, paper_name
from archiveprint.register.populations import known_id

FIELD_KINDS = frozenset({"text", "boxes", "option", "multi", "date", "ymd", "area", "sign", "check"})
INSTRUCTIONS_FILE = "instructions.yaml"  # a form's 填表说明, beside its form.yaml (optional)


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
class Instructions:
    """A form's 填表说明 (filling instructions), printed on A4 pages of their own when a print asks for them: not part
    of a resident's record. Items are numbered in print (one alone is not); each line of an item is a paragraph."""

    title: str
    items: tuple[str, ...]
    pages: int = 1  # as laid out; checked when the pages are laid out, as a form's `pages` is

    @property
    def numbered(self) -> bool:
        return len(self.items) > 1


@dataclass(frozen=True)
class RowDef:
    """A row (or block of rows) of a form that a site may change in its variants file: a `site: add` row is printed
    only when the site adds it (省里加的行: 下一步管理措施 …), a `site: remove` row unless the site removes it or adds
    the row that replaces it (2018版 用药情况 in place of the 2017 rows)."""

    name: str
    label: str
    site: str  # add | remove
    printed: bool
    replaces: str | None = None  # an add row: the remove row it is printed in place of


@dataclass(frozen=True)
class SiteChoice:
    """What a site picked for one form in form_variants.yaml: field variants (slot → variant) and rows."""

    variants: tuple[tuple[str, str], ...] = ()
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()


@dataclass(frozen=True)
class FormDef:
    """A form as its folder describes it, with the site's choices applied: `fields` lists only printed items."""

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
    instructions: Instructions | None = None  # its 填表说明, when instructions.yaml holds them
    rows: tuple[RowDef, ...] = ()  # the rows a site may add or remove, and whether this site's sheet prints them

    @property
    def template(self) -> str:
        return f"forms/{self.id}/form.html"

    def row(self, name: str) -> RowDef:
        """A declared row; a name form.yaml does not declare is a mistake in the template, never "not printed"."""
        for item in self.rows:
            if item.name == name:
                return item
        raise KeyError(f"form {self.id}: row {name} is not declared under rows: in form.yaml")

    def prints(self, row: str) -> bool:
        """Whether the sheet carries a declared row (in a template: `{% if form.prints('next_steps') %}`)."""
        return self.row(row).printed

    @property
    def added_rows(self) -> tuple[str, ...]:
        """The rows the site added (templates make the sheet more compact to fit them)."""
        return tuple(item.name for item in self.rows if item.site == "add" and item.printed)

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
WHAT_INSTRUCTIONS = N_("填表说明")


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
    row: str | None = None  # the declared row (form.yaml `rows:`) this field is printed in
    variants: dict[str, _Look] = Field(default_factory=dict)

    def definition(self, variant: str) -> FieldDef:
        """The field as printed, with the site's chosen variant (if it names one of this field's) applied."""
        chosen = self.variants.get(variant)
        values = {**self.model_dump(exclude={"variants", "row"}),
                  **(chosen.model_dump(exclude_unset=True) if chosen else {})}
        return FieldDef(**{**values, "options": tuple((values["options"] or {}).items())})


class _RowFile(Schema):
    """One entry of `rows:`: a row a site may add (`site: add`, off by default) or remove (`site: remove`); an add
    row may replace a remove row (`replaces:`), which is then left out whenever the site adds it."""

    label: str
    site: Literal["add", "remove"]
    replaces: str | None = None


ROW_UNDECLARED = N_("字段所在的行“{row}”没有在 rows 中声明")
ROW_WITHOUT_FIELDS = N_("行“{key}”没有字段（字段用 row: {key} 归入这一行）")
ROW_REPLACES = N_("行“{row}”不能替换“{key}”：只有可添加的行（site: add）能替换 rows 中可删除的行（site: remove）")


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
    rows: dict[str, _RowFile] = Field(default_factory=dict)
    fields: list[_FieldFile] = Field(default_factory=list)

    @model_validator(mode="after")
    def _rows_have_fields(self) -> _FormFile:
        for number, item in enumerate(self.fields):
            if item.row is not None and item.row not in self.rows:
                raise Invalid(ROW_UNDECLARED, {"row": item.row}, at=("fields", number, "row"), value=item.row)
        for name, row in self.rows.items():
            if not any(item.row == name for item in self.fields):
                raise Invalid(ROW_WITHOUT_FIELDS, at=("rows", name), value=name)
            replaced = self.rows.get(row.replaces) if row.replaces is not None else None
            if row.replaces is not None and (row.site != "add" or replaced is None or replaced.site != "remove"):
                raise Invalid(ROW_REPLACES, {"row": name}, at=("rows", name, "replaces"), value=row.replaces)
        return self


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


def _some_text(text: str) -> str:
    if not text.strip():
        raise Invalid(N_("不能为空"))
    return text.strip()


_Text = Annotated[str, AfterValidator(_some_text)]


class _InstructionsFile(Schema):
    """instructions.yaml: a form's 填表说明, its heading and its items in order (numbered when printed)."""

    shape: ClassVar[str] = N_("应为键值映射（title、items）")
    title: _Text
    items: Annotated[list[_Text], Field(min_length=1)]
    pages: Annotated[int, Field(ge=1, le=4)] = 1


VARIANTS = N_("格式应为：表单编号: {{字段: 版本}}")
ROWS_FORMAT = N_("格式应为：rows: {{add: [行, …], remove: [行, …]}}")
UNKNOWN_FORM = N_("没有表单“{form}”（表单编号见 archiveprint forms list）")
UNKNOWN_ROW = N_("表单 {form} 没有“{row}”这一行；可增删的行：{allowed}")
NOT_ADDABLE = N_("表单 {form} 的“{row}”行本来就印着，不能添加；可添加的行：{allowed}")
NOT_REMOVABLE = N_("表单 {form} 的“{row}”行不能删除；可删除的行：{allowed}")
NONE = N_("无")


def _mapping(raw: object) -> object:
    if not isinstance(raw, Mapping):
        raise Invalid(VARIANTS)
    return raw


class _RowChoice(Schema):
    """A form's `rows:` in the site's file: declared rows to add and to remove."""

    shape: ClassVar[str] = ROWS_FORMAT
    add: list[str] = Field(default_factory=list)
    remove: list[str] = Field(default_factory=list)


class _SiteForm(Schema):
    """One form in the site's file: `{slot: variant, …}` and, optionally, `rows: {add: […], remove: […]}`."""

    model_config = ConfigDict(extra="allow")
    shape: ClassVar[str] = VARIANTS
    known_keys_only: ClassVar[bool] = False
    rows: _RowChoice = Field(default_factory=_RowChoice)

    @model_validator(mode="before")
    @classmethod
    def _variant_names(cls, data: Any) -> Any:
        for slot, variant in (data.items() if isinstance(data, Mapping) else ()):
            if slot != "rows" and (isinstance(variant, bool) or not isinstance(variant, str | int | float)):
                raise Invalid(VARIANTS, at=(slot,))
        return data

    def choice(self) -> SiteChoice:
        return SiteChoice(variants=tuple(sorted((slot, str(v)) for slot, v in (self.model_extra or {}).items())),
                          add=tuple(self.rows.add), remove=tuple(self.rows.remove))


def _listed(rows: Mapping[str, RowDef], site: str | None = None) -> str:
    """Rows as a message lists them: next_steps（下一步管理措施）、…"""
    return "、".join(f"{row.name}（{row.label}）" for row in rows.values() if site in (None, row.site))


class _Variants(RootModel[Annotated[dict[str, _SiteForm], BeforeValidator(_mapping)]]):
    """form_variants.yaml. The context's `forms` (form id → its declared rows) checks the forms and rows named."""

    @model_validator(mode="after")
    def _declared(self, info: ValidationInfo) -> _Variants:
        forms: Mapping[str, Mapping[str, RowDef]] = (info.context or {}).get("forms", {})
        for form_id, chosen in self.root.items():
            if form_id not in forms:
                raise Invalid(UNKNOWN_FORM, {"form": form_id}, at=(form_id,), value=form_id)
            declared = forms[form_id]
            for wish, refusal in (("add", NOT_ADDABLE), ("remove", NOT_REMOVABLE)):
                for number, name in enumerate(getattr(chosen.rows, wish)):
                    row = declared.get(name)
                    if row is None or row.site != wish:
                        message, allowed = (UNKNOWN_ROW, _listed(declared)) if row is None else \
                            (refusal, _listed(declared, wish))
                        raise Invalid(message, {"form": form_id, "row": name, "allowed": allowed or NONE},
                                      at=(form_id, "rows", wish, number), value=name)
        return self


_Sets = RootModel[list[_SetFile] | None]


# --- reading --------------------------------------------------------------------------------------------------

def load_form(folder: Path, choice: SiteChoice | None = None) -> FormDef:
    """Read one form folder with the site's choice applied: its variants replace fields' options where the sources
    disagree, its rows are added or removed (the fields of a row not printed are left out; an added row that
    replaces another leaves that one out)."""
    document = read_yaml(folder / "form.yaml", what=WHAT_FORM, source=f"{folder.name}/form.yaml")
    form_id = document.data.get("id") if isinstance(document.data, Mapping) else None
    raw = document.validate(_FormFile, context={"form": form_id})
    choice = choice or SiteChoice()
    variants = dict(choice.variants)
    replaced = {row.replaces for name, row in raw.rows.items() if row.replaces and name in choice.add}
    rows = tuple(RowDef(name=name, label=row.label, site=row.site, replaces=row.replaces,
                        printed=name in choice.add if row.site == "add" else name not in {*choice.remove, *replaced})
                 for name, row in raw.rows.items())
    off = {row.name for row in rows if not row.printed}
    return FormDef(
        id=raw.id, number=raw.number, title=raw.title, pages=raw.pages, header=raw.header,
        fields=tuple(item.definition(variants.get(item.slot, "")) for item in raw.fields if item.row not in off),
        folder=folder, size=raw.size, notes=raw.notes, per_page=raw.per_page, slot_prefix=raw.slot_prefix, rows=rows,
        instructions=load_instructions(folder, size=raw.size, per_page=raw.per_page))


def load_instructions(folder: Path, *, size: str = "A4", per_page: int = 1) -> Instructions | None:
    """A form folder's instructions.yaml, or None when it has none. Only an A4 form with one resident a sheet
    has them: the 填表说明 print on A4 pages of their own, which a card stream or a sheet of cards has no place for."""
    path = folder / INSTRUCTIONS_FILE
    if not path.is_file():
        return None
    document = read_yaml(path, what=WHAT_INSTRUCTIONS, source=f"{folder.name}/{INSTRUCTIONS_FILE}")
    raw = document.validate(_InstructionsFile)
    if size != "A4" or per_page != 1:
        raise document.error(N_("只有A4纸、每张一人的表单才印填表说明（本表单：{size}，每张{per_page}人）"),
                             {"size": paper_name(size), "per_page": per_page})
    return Instructions(title=raw.title, items=tuple(raw.items), pages=raw.pages)


def site_variants_file() -> Path:
    """Where a site picks variants for items the sources disagree on, and the rows it adds to or removes from a
    form: <instance>/form_variants.yaml, e.g.

        personal_info: {livestock: ycia}
        health_check: {diet: bsoft, drink_kind: bsoft}
        hypertension_followup: {dose1: mg, rows: {add: [next_steps, resident_sign], remove: [drug_other]}}
    """
    return Path(os.environ.get("ARCHIVEPRINT_INSTANCE") or Path.cwd() / "instance") / "form_variants.yaml"


def site_variants() -> dict[str, SiteChoice]:
    """The site's choices per form; forms and rows are checked against the shipped definitions."""
    path = site_variants_file()
    if not path.is_file():
        return {}
    document = read_yaml(path, what=WHAT_VARIANTS, source=str(path))
    document.data = document.data or {}
    declared = {form.id: {row.name: row for row in form.rows} for form in _load_catalog(()).forms.values()}
    chosen = document.validate(_Variants, context={"forms": declared}).root
    return {form_id: site.choice() for form_id, site in chosen.items()}


def load_catalog() -> Catalog:
    """Every form folder under templates/forms/ and the sets in templates/forms/sets.yaml, with the site's choices."""
    return _load_catalog(tuple(sorted(site_variants().items())))


@lru_cache(maxsize=8)
def _load_catalog(choices: tuple[tuple[str, SiteChoice], ...]) -> Catalog:
    chosen = dict(choices)
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
