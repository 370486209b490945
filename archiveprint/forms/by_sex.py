"""Forms that exist once per sex (男童 / 女童生长发育监测图), as data: templates/forms/by_sex.yaml. A set lists the
whole group; each resident gets the form for his or her sex, a blank print gets every one."""

from __future__ import annotations

from functools import cache

from archiveprint.errors import N_, InvalidValue
from archiveprint.forms.catalog import Catalog, FormDef
from archiveprint.forms.datafiles import mapping_of, read_mapping

_GROUPS = mapping_of(dict[str, str], N_("格式应为：组名: {{性别代码: 表单编号}}"))


@cache
def load_groups() -> dict[str, dict[str, str]]:
    """group → {sex code: form id}, in the file's order (an empty mapping when there is no file)."""
    return read_mapping("by_sex.yaml", _GROUPS, what=N_("按性别分列的表单"))


def check_groups(catalog: Catalog, groups: dict[str, dict[str, str]]) -> None:
    """Each group names forms of the catalogue, each form in one group only, all of a group with the same pages."""
    seen: set[str] = set()
    for group, forms in groups.items():
        unknown = [form_id for form_id in forms.values() if form_id not in catalog.forms]
        if unknown:
            raise InvalidValue("按性别分列的表单不存在", field=group, value="、".join(unknown))
        if seen & set(forms.values()):
            raise InvalidValue("同一张表单列在两个按性别分列的组中", field=group)
        seen |= set(forms.values())
        if len({catalog.forms[form_id].pages for form_id in forms.values()}) > 1:
            raise InvalidValue("同组按性别分列的表单页数应相同", field=group)


def for_resident(forms: list[FormDef], sex: object) -> list[FormDef]:
    """The forms of a set that one resident gets: of each group, only the form for the resident's sex (the group's
    first when the set has none for it); forms outside the groups as they are."""
    chosen = []
    for form in forms:
        group = next((g for g in load_groups().values() if form.id in g.values()), None)
        if group is None:
            chosen.append(form)
            continue
        listed = [f for f in forms if f.id in group.values()]
        wanted = group.get(str(sex or ""))
        if form.id == wanted or (wanted not in {f.id for f in listed} and form is listed[0]):
            chosen.append(form)
    return chosen
