"""What each label prints: plain dicts of fields built from plain facts — codes grouped, names masked on request.

Only what a label may show goes in: an ID number is never a field, so no layout can put one on a folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from archiveprint.register.codes import folder_code, format_code
from archiveprint.register.names import COMPOUND_SURNAMES

SEX_TEXT = {"1": "男", "2": "女", "0": "未知", "9": "未说明"}


def mask_name(name: str) -> str:
    """张三明 → 张*明, 张三 → 张*, 欧阳三明 → 欧阳*明, 阿依古丽·买买提 → 阿***·**提: enough for the clerk who
    filed the folder, not for a passer-by reading the shelf."""
    name = name.strip()
    if len(name) <= 1:
        return name
    if "·" in name:
        first, last = name[0], name[-1]
        middle = "".join("·" if ch == "·" else "*" for ch in name[1:-1])
        return first + middle + last
    keep = 2 if name.startswith(COMPOUND_SURNAMES) and len(name) > 2 else 1
    if len(name) - keep == 1:
        return name[:keep] + "*"
    return name[:keep] + "*" * (len(name) - keep - 1) + name[-1]


@dataclass(frozen=True)
class Member:
    name: str
    archive_code: str  # 17 digits


@dataclass(frozen=True)
class HouseholdFacts:
    """A household folder as its label needs it."""

    village_prefix: str  # 12 digits: county + township + village
    village_name: str
    number: int
    head_name: str
    members: tuple[Member, ...]  # folder order: head first
    township_name: str = ""
    unit_name: str = ""


@dataclass(frozen=True)
class ResidentFacts:
    """One resident for a sub-folder label or the 信息卡 front."""

    archive_code: str
    name: str
    sex: str
    birth_date: date | None
    village_name: str
    household_prefix: str  # the household's village (a moved resident keeps their own code)
    household_number: int
    head_name: str
    township_name: str = ""
    unit_name: str = ""


@dataclass(frozen=True)
class ShelfFacts:
    """A shelf or section of the storage room and the folders it holds (the storage layout fills these later)."""

    location_code: str
    location_title: str
    village_name: str = ""
    village_prefix: str = ""
    first_number: int | None = None
    last_number: int | None = None
    folder_count: int = 0
    township_name: str = ""


def household_values(facts: HouseholdFacts, *, mask: bool = False) -> dict[str, object]:
    code = folder_code(facts.village_prefix, facts.number)
    show = mask_name if mask else str
    return {
        "village_name": facts.village_name, "village_code": facts.village_prefix[9:],
        "township_name": facts.township_name, "unit_name": facts.unit_name,
        "household_no": facts.number, "household_no_text": f"F{facts.number:05d}",
        "head_name": show(facts.head_name), "member_count": len(facts.members),
        "members": [(show(m.name), f"{m.archive_code[9:12]}-{m.archive_code[12:]}") for m in facts.members],
        "folder_code": code.value, "folder_code_display": code.display, "folder_code_short": code.short,
    }


def resident_values(facts: ResidentFacts, *, mask: bool = False) -> dict[str, object]:
    show = mask_name if mask else str
    code = facts.archive_code
    folder = folder_code(facts.household_prefix, facts.household_number)
    return {
        "name": show(facts.name), "sex_text": SEX_TEXT.get(facts.sex, ""),
        "birth_date": f"{facts.birth_date:%Y年%m月%d日}" if facts.birth_date else "",
        "birth_year": f"{facts.birth_date.year}年生" if facts.birth_date else "",
        "archive_code": code, "archive_code_display": format_code(code),
        "archive_code_short": f"{code[9:12]}-{code[12:]}",
        "village_name": facts.village_name, "village_code": code[9:12], "township_name": facts.township_name,
        "unit_name": facts.unit_name, "household_no_text": f"F{facts.household_number:05d}",
        "head_name": show(facts.head_name), "folder_code_display": folder.display,
    }


def shelf_values(facts: ShelfFacts) -> dict[str, object]:
    first = last = ""
    if facts.village_prefix and facts.first_number:
        first = folder_code(facts.village_prefix, facts.first_number).short
        last = folder_code(facts.village_prefix, facts.last_number or facts.first_number).short
    return {
        "location_code": facts.location_code, "location_title": facts.location_title,
        "village_name": facts.village_name, "range_from": first, "range_to": last,
        "range_text": f"{first} — {last}" if first else "", "township_name": facts.township_name,
        "folder_count": f"{facts.folder_count} 袋" if facts.folder_count else "",
    }


def sample_values(binds: str) -> dict[str, object]:
    """Made-up values for previews and layout checks (never real people); long names test the fitting."""
    if binds == "household":
        members = (Member("欧阳建国", "13012310020100017"), Member("李𠮷", "13012310020100018"),
                   Member("阿依古丽·买买提", "13012310020100019"), Member("欧阳子轩", "13012310020100023"),
                   Member("王堃", "13012310020100024"), Member("欧阳䶮", "13012310020100031"),
                   Member("欧阳梓涵", "13012310020100032"))
        return household_values(HouseholdFacts("130123100201", "东关村", 17, "欧阳建国", members, "柏棠镇",
                                               "柏棠镇卫生院"))
    if binds == "resident":
        return resident_values(ResidentFacts("13012310020100018", "李𠮷", "2", date(1948, 5, 6), "东关村",
                                             "130123100201", 17, "欧阳建国", "柏棠镇", "柏棠镇卫生院"))
    if binds == "location":
        return shelf_values(ShelfFacts("A-03-2", "第3列 A面 第2节", "东关村", "130123100201", 1, 250, 250, "柏棠镇"))
    return {"cell_no": "①", "nominal_x": "39.0", "nominal_y": "29.9", "stock_name": "", "printer_name": "",
            "offset_text": "未校正"}
