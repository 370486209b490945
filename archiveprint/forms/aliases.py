"""Other names of forms (the 2011 titles of forms the 3rd edition renamed), as data: templates/forms/aliases.yaml."""

from __future__ import annotations

from functools import cache

from archiveprint.errors import N_, InvalidValue
from archiveprint.forms.catalog import Catalog
from archiveprint.forms.datafiles import mapping_of, read_mapping

_ALIASES = mapping_of(str, N_("格式应为：别名: 表单编号"))


@cache
def load_aliases() -> dict[str, str]:
    """alias → form id, as the file lists them (an empty mapping when there is no file)."""
    raw = read_mapping("aliases.yaml", _ALIASES, what=N_("表单别名"))
    return {alias.strip(): form_id for alias, form_id in raw.items()}


def check_aliases(catalog: Catalog, aliases: dict[str, str]) -> None:
    """Each alias names a form of the catalogue and is no form's id or title, nor a set's id or name."""
    taken = {*catalog.forms, *(f.title for f in catalog.forms.values()),
             *catalog.sets, *(s.name for s in catalog.sets.values())}
    for alias, form_id in aliases.items():
        if form_id not in catalog.forms:
            raise InvalidValue("表单别名指向不存在的表单", field=alias, value=form_id)
        if alias in taken:
            raise InvalidValue("表单别名与已有的表单或套组重名", field=alias, value=form_id)


def resolve_alias(key: str) -> str:
    """The form id an old name stands for; any other key as given."""
    return load_aliases().get(key.strip(), key)
