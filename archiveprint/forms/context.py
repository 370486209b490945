"""Plain values for the forms, built from the register (templates and stamps never see ORM objects)."""

from __future__ import annotations

from datetime import date

from archiveprint.forms.catalog import FormDef
from archiveprint.register.models import Resident, Township
from archiveprint.register.names import SEX_CODES


def age_on(born: date | None, today: date) -> int | None:
    if born is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def person_values(resident: Resident, township: Township, *, today: date) -> dict[str, object]:
    """What the register knows about a person, by the keys form.yaml `prefill:` entries use. `township` is the
    printing site's own (its unit name); a person of a village taken over from another township (机构撤并) keeps
    that township's names."""
    household = resident.household
    own = resident.village.township
    age = age_on(resident.birth_date, today)
    return {
        "name": resident.name,
        "code17": resident.archive_code,
        "code8": resident.archive_code[-8:],
        "sex": resident.sex,
        "sex_text": SEX_CODES.get(resident.sex, ""),
        "age": "" if age is None else str(age),
        "birth_date": resident.birth_date,
        "id_number": resident.id_number or "",
        "phone": resident.phone,
        "address": resident.address or household.address,
        "township": own.name,
        "county": own.county_name,
        "village": resident.village.name,
        "unit": township.unit_name,
        "registered_on": resident.registered_on,
        "household_head": household.head_name,
        "household_number": str(household.number),
    }


def slot_values(form: FormDef, person: dict[str, object]) -> dict[str, str]:
    """Map a person's values onto a form's slots: dates to 8 boxes or 年/月/日 lines, codes digit by digit."""
    values: dict[str, str] = {}
    for field in form.fields:
        if not field.prefill:
            continue
        value = person.get(field.prefill)
        if value in (None, ""):
            continue
        if field.kind == "check":  # tick boxes: one slot per option code, ticked when the value names it
            for code in str(value).split("/"):
                values[f"{field.slot}.{code}"] = "1"
        elif field.kind == "ymd":
            assert isinstance(value, date)
            values[f"{field.slot}.y"] = f"{value.year}"
            values[f"{field.slot}.m"] = f"{value.month:02d}"
            values[f"{field.slot}.d"] = f"{value.day:02d}"
        elif isinstance(value, date):
            values[field.slot] = f"{value:%Y%m%d}" if field.kind == "boxes" else f"{value:%Y年%m月%d日}"
        else:
            values[field.slot] = str(value)
    return values
