"""Form sets: the built-in ones of sets.yaml and the custom ones a supervisor defines (create, delete, find)."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archiveprint.errors import N_, Conflict, InvalidValue, NotFound
from archiveprint.eventlog import record_event
from archiveprint.forms.aliases import resolve_alias
from archiveprint.forms.catalog import Catalog, FormSet, load_catalog
from archiveprint.forms.models import CustomFormSet
from archiveprint.forms.paper import check_one_paper
from archiveprint.register.populations import find_population

NAME_MAX = 64
DESCRIPTION_MAX = 200
FORMS_MAX = 20


def as_form_set(row: CustomFormSet) -> FormSet:
    """A custom set as the printer sees every set."""
    return FormSet(id=row.key, name=row.name, forms=tuple(row.forms), description=row.description, builtin=False,
                   population=row.population)


class AmbiguousPrint(InvalidValue):
    """A key naming both a set and a single form (encounter: 接诊与会诊 and 接诊记录表)."""

    def __init__(self, message: str, *, key: str, **where: object) -> None:
        super().__init__(message, **where)  # type: ignore[arg-type]
        self.key = key


class UnknownPrint(NotFound):
    """No set (or form) of that name; `other` says when the key names the other kind (a form given as a set)."""

    def __init__(self, message: str, *, key: str = "", other: str | None = None, **where: object) -> None:
        super().__init__(message, **where)  # type: ignore[arg-type]
        self.key = key
        self.other = other


SET = "set"  # a built-in or custom set (套组)
FORM = "form"  # one form printed on its own (单张表单)
KINDS = (SET, FORM)


def _custom_set(session: Session, key: str) -> FormSet | None:
    row = session.scalar(select(CustomFormSet).where(or_(CustomFormSet.key == key, CustomFormSet.name == key)))
    return as_form_set(row) if row is not None else None


def choices_text(session: Session, catalog: Catalog, kind: str | None = None) -> str:
    """The ids a clerk may name, in words: the sets (built-in and custom) and/or the single forms."""
    parts = []
    if kind in (None, SET):
        sets = [f"{s.id}（{s.name}）" for s in list_form_sets(session)]
        parts.append("套组：" + "、".join(sets))
    if kind in (None, FORM):
        parts.append("单张表单：" + "、".join(f"{f.id}（{f.title}）" for f in catalog.forms.values()))
    return "；".join(parts)


def find_form_set(session: Session, key: str, *, kind: str | None = None, catalog: Catalog | None = None) -> FormSet:
    """What to print, named by id or name: a set (kind "set": built-in, then custom) or one form (kind "form").

    Without a kind the key must name exactly one of the two: "encounter" is both the set 接诊与会诊 and the form
    接诊记录表, so it is refused with both named rather than guessed.
    """
    catalog = catalog or load_catalog()
    key = resolve_alias(key)  # a 2011 title names the 3rd edition's form (templates/forms/aliases.yaml)
    if kind not in (None, *KINDS):
        raise InvalidValue("应为套组（set）或单张表单（form）", field="种类", value=kind)
    as_set = (catalog.find_set(key) or _custom_set(session, key)) if kind in (None, SET) else None
    as_form = catalog.find_form(key) if kind in (None, FORM) else None
    if as_set is not None and as_form is not None:
        raise AmbiguousPrint("“{key}”既是套组“{set}”，也是单张表单“{form}”，请写明要打印哪一个",
                             params={"key": key, "set": as_set.name, "form": as_form.title}, field="套组", value=key,
                             key=key)
    if as_set is not None:
        return as_set
    if as_form is not None:
        return catalog.single_form(as_form.id)
    if kind == SET and (form := catalog.find_form(key)) is not None:
        raise UnknownPrint("“{key}”是单张表单“{form}”，不是套组", params={"key": key, "form": form.title}, field="套组",
                           value=key, key=form.id, other=FORM)
    if kind == FORM and (other := catalog.find_set(key) or _custom_set(session, key)) is not None:
        raise UnknownPrint("“{key}”是套组“{set}”，不是单张表单", params={"key": key, "set": other.name}, field="表单",
                           value=key, key=other.id, other=SET)
    message, field = {SET: (N_("没有这个表单套组。可选的{choices}"), "套组"),
                      FORM: (N_("没有这种表单。可选的{choices}"), "表单")}.get(
        kind or "", (N_("没有这个表单套组或表单。可选的{choices}"), "套组"))
    raise UnknownPrint(message, params={"choices": choices_text(session, catalog, kind)}, field=field, value=key)


def list_custom_sets(session: Session) -> list[CustomFormSet]:
    return list(session.scalars(select(CustomFormSet).order_by(CustomFormSet.name)))


def list_form_sets(session: Session) -> list[FormSet]:
    """Every set a print can name: built-in first, in sets.yaml order, then the custom ones by name."""
    return [*load_catalog().sets.values(), *(as_form_set(row) for row in list_custom_sets(session))]


def check_form_set(catalog: Catalog, name: str, forms: list[str] | tuple[str, ...], description: str = "") -> str:
    """The rules of a custom set, before any database work; returns the cleaned name."""
    name = name.strip()
    if not name:
        raise InvalidValue("套组名称不能为空", field="套组名称")
    if len(name) > NAME_MAX:
        raise InvalidValue("套组名称最多{max}个字", params={"max": NAME_MAX}, field="套组名称",
                           value=name[:NAME_MAX] + "…")
    if len(description) > DESCRIPTION_MAX:
        raise InvalidValue("说明最多{max}个字", params={"max": DESCRIPTION_MAX}, field="说明")
    if not forms:
        raise InvalidValue("请至少选择一张表单", field="表单")
    if len(forms) > FORMS_MAX:
        raise InvalidValue("一个套组最多{max}张表单", params={"max": FORMS_MAX}, field="表单", value=len(forms))
    unknown = [form_id for form_id in forms if form_id not in catalog.forms]
    if unknown:
        raise InvalidValue("没有这种表单", field="表单", value="、".join(unknown))
    check_one_paper(name, [catalog.forms[form_id] for form_id in forms])
    repeated = sorted({form_id for form_id in forms if forms.count(form_id) > 1})
    if repeated:
        titles = "、".join(catalog.forms[form_id].title for form_id in repeated)
        raise InvalidValue("同一张表单在套组中只能选一次", field="表单", value=titles)
    taken = [s.name for s in catalog.sets.values()] + [s.id for s in catalog.sets.values()] + list(catalog.forms)
    if name in taken:
        raise Conflict("已有同名的内置套组或表单，请换一个名称", field="套组名称", value=name)
    return name


def create_form_set(session: Session, name: str, forms: list[str] | tuple[str, ...], *, description: str = "",
                    population: str | None = None, actor: str, now: datetime | None = None) -> CustomFormSet:
    """自定义套组: a supervisor names forms to print together, and the key population they are for if there is one
    (by id or name: a print for a village then defaults to it); every printer and job can then use it."""
    description = description.strip()
    name = check_form_set(load_catalog(), name, forms, description)
    population = find_population(population).id if population else None
    if session.scalar(select(CustomFormSet.id).where(CustomFormSet.name == name)) is not None:
        raise Conflict("已有同名的自定义套组", field="套组名称", value=name)
    row = CustomFormSet(key=f"custom_{secrets.token_hex(4)}", name=name, forms=list(forms),
                        description=description, population=population, created_by=actor)
    if now is not None:
        row.created_at = now
    try:
        with session.begin_nested():  # two supervisors saving the same name at once: one wins, one is told
            session.add(row)
            session.flush()
    except IntegrityError:
        raise Conflict("已有同名的自定义套组", field="套组名称", value=name) from None
    record_event(session, "form_set.created", "form_set", row.key, actor=actor, now=now, name=name,
                 forms=list(forms), population=population)
    session.flush()
    return row


def delete_form_set(session: Session, key: str, *, actor: str, now: datetime | None = None) -> str:
    """Remove a custom set (built-in sets live in sets.yaml and stay); returns its name."""
    if key in load_catalog().sets:
        raise InvalidValue("内置套组不能删除", field="套组", value=load_catalog().sets[key].name)
    row = session.scalar(select(CustomFormSet).where(CustomFormSet.key == key))
    if row is None:
        raise NotFound("没有这个自定义套组", field="套组", value=key)
    name = row.name
    record_event(session, "form_set.deleted", "form_set", row.key, actor=actor, now=now, name=name,
                 forms=list(row.forms))
    session.delete(row)
    session.flush()
    return name
