"""Check one row of a register export against the rules (codes, ID numbers, dates, villages); no database."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from archiveprint.errors import N_, InvalidValue, Message, Problem
from archiveprint.register.codes import ArchiveCode, format_code, parse_code
from archiveprint.register.idcard import IdNumber, parse_id_number
from archiveprint.register.names import SEX_CODES, SEX_WORDS, is_head, normalize_sex, split_tags
from archiveprint.register.servicedates import BEFORE_BIRTH, SERVICE_DATES, date_doubt
from archiveprint.register.sources import FIELD_LABELS, Column
from archiveprint.register.text import _WIDE, clean, clean_code, clean_name, parse_date, to_halfwidth

LIMITS = {"name": 64, "head_name": 64, "relation": 16, "household_no": 32, "address": 200, "phone": 32}
TAG_MAX = 32
_NUMBER_FIELDS = ("code", "id_number", "phone", "household_no")
_TEXT_FIELDS = ("relation", "head_name", "household_no", "address", "phone")
_WHOLE_FLOAT = re.compile(r"^\d+\.0+$")
_SCIENTIFIC = re.compile(r"^[+-]?\d+(\.\d+)?[eE][+-]?\d+$")
_VILLAGE_SUFFIXES = ("村民委员会", "居民委员会", "村委会", "居委会")
Flag = Callable[[tuple[str, ...] | str, str, str], None]  # (field or fields, value as shown, reason)
_PHONE = re.compile(r"1\d{10}|0\d{9,11}|\d{7,8}")  # mobile; landline with area code; local landline
# What the check does to a value so it can be stored, as the clerk is told (report: "what the import fixed").
ID_UPGRADED = N_("15位身份证号升级为18位")
ID_UPPER_X = N_("身份证号末位小写 x 改为大写 X")
FULL_WIDTH = N_("全角数字或字母改为半角")
DATE_WRITTEN = N_("日期写法统一为 年-月-日")
NAME_SPACING = N_("姓名中的空格或间隔号已规范")
EXCEL_DECIMAL = N_("数字末尾的 .0 已去掉（Excel 存成了小数）")
SEPARATORS = N_("去掉了号码中的空格或分隔符（- / . 等）")
# Questionable secondary values: the row imports, flagged 待核实 (identity faults refuse the file instead).
PHONE_LENGTH = N_("联系电话位数不对（手机应为11位，固定电话7–8位或带区号）")
PHONE_CHARACTERS = N_("联系电话含有数字以外的字符")
LOST_DIGITS = N_("Excel 把这个长数字存成了数值（科学计数法），末尾几位已经丢失；"
                 "请把该列设为“文本”格式、重新填入或重新导出后再导入")


@dataclass(frozen=True, slots=True)
class ReviewFlag:
    """A questionable but harmless value (待核实): the row is imported and the flag is kept on the resident."""

    column: str  # the file's header for the field
    value: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"column": self.column, "value": self.value, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Normalised:
    """One value the check rewrote before storing it (a 15-digit ID number, full-width digits, 1956/3/7)."""

    row: int
    column: str
    kind: str
    old: str
    new: str

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row, "column": self.column, "kind": self.kind, "old": self.old, "new": self.new}


@dataclass(frozen=True, slots=True)
class MissingVillage:
    """A village the file uses that is not registered: its name and code as far as the file tells them."""

    name: str  # "" when the file gives no name (only archive codes)
    code: str  # 3-digit segment; "" when the file does not settle it
    rows: int
    note: str = ""  # why the code (or name) could not be taken from the file


@dataclass(slots=True)
class ImportRow:
    """One row that passed every file-level rule. None means "the file does not say" (keep what is stored)."""

    number: int
    code: ArchiveCode
    village: str  # 3-digit segment, equal to code.village; 12 digits for a village of another township (held)
    name: str
    sex: str | None
    birth_date: date | None
    id_number: str | None
    relation: str | None
    head_name: str | None
    household_no: str | None
    address: str | None
    phone: str | None
    registered_on: date | None
    tags: list[str] | None
    # The dates the service schedules count from (optional columns): None when absent, blank or flagged.
    due_date: date | None = None
    delivery_date: date | None = None
    tb_treatment_start: date | None = None
    flags: list[ReviewFlag] = field(default_factory=list)
    is_head: bool = field(init=False)  # 户主/本人: asked several times a row by the importer

    def __post_init__(self) -> None:
        self.is_head = bool(self.relation) and is_head(self.relation or "")


def lost_digits(value: object) -> bool:
    """Excel keeps 15 significant digits, so 17/18-digit numbers stored as numbers come back damaged."""
    if type(value) is str and value.isdigit():
        return False  # digits as text (most cells asked about): no exponent
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        return abs(value) >= 1e15
    if isinstance(value, int):
        digits = len(str(abs(value)))
        return digits > 15 and value % 10 ** (digits - 15) == 0
    if not isinstance(value, str):
        return False
    text = value if value.isascii() else to_halfwidth(value)
    return ("e" in text or "E" in text) and bool(_SCIENTIFIC.match(text.strip()))  # no exponent, no match


def whole_number_text(value: object) -> object:
    """"13800138000.0" (a number Excel turned into a float, saved to CSV) → "13800138000"."""
    if isinstance(value, str) and _WHOLE_FLOAT.match(value.strip()):
        return value.strip().split(".")[0]
    return value


def blank(value: object) -> bool:
    """Cheaper than cleaning the cell: most cells of a large export are checked for blankness first."""
    return value is None or (isinstance(value, str) and not value.strip())


def shown(value: object) -> str:
    """A cell as the clerk saw it in the spreadsheet, for problem lists."""
    if isinstance(value, float) and abs(value) >= 1e15:
        return f"{value:.6G}"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(" ")
    return clean(value)


def raw_text(value: object) -> str:
    """A cell as it was written (before any normalising), for "old → new" in the report."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return "" if value is None else str(value).strip()


def phone_doubt(text: str) -> str | None:
    """Why a phone number looks wrong, or None; it is imported anyway, flagged 待核实."""
    if not text:
        return None
    if not text.isdigit():
        return PHONE_CHARACTERS
    return None if _PHONE.fullmatch(text) else PHONE_LENGTH


def _has_full_width(value: object) -> bool:
    return isinstance(value, str) and not value.isascii() and _WIDE.search(value) is not None


def village_key(name: str) -> str:
    """东村村委会 and 东村 name the same committee."""
    name = name.replace(" ", "")
    for suffix in _VILLAGE_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


# Per text field: a number (Excel may have damaged it), how it is cleaned, its length limit, and whether a bad value
# only flags the row 待核实 (phone, address) instead of refusing it.
_TEXT_RULES: dict[str, tuple[bool, Callable[[object], str], int, bool]] = {
    "relation": (False, clean, LIMITS["relation"], False),
    "head_name": (False, clean_name, LIMITS["head_name"], False),
    "household_no": (True, clean_code, LIMITS["household_no"], False),
    "address": (False, clean, LIMITS["address"], True),
    "phone": (True, clean_code, LIMITS["phone"], True),
}


class RowChecker:
    """Applies every rule to each row and remembers what the file has used so far (codes, ID numbers, villages)."""

    def __init__(self, columns: dict[str, Column], *, county: str, township: str, villages: dict[str, str],
                 add_villages: bool, today: date, other_sites: dict[str, str] | None = None,
                 held: dict[str, str] | None = None) -> None:
        self.columns = columns
        self.prefix = county + township
        # 9-digit prefix → the name of the site whose township it is; 12-digit village code → the name of the site
        # that keeps that village of this site's townships (transferred there).
        self.other_sites = other_sites or {}
        # 12-digit code → name: villages of other townships this site took over (机构撤并); their codes keep the
        # township they were issued in, and they are imported here.
        self.held = held or {}
        self.add_villages = add_villages
        self.today = today
        self.known = dict(villages)  # segment → name
        self.by_name = {name: code for code, name in villages.items()}
        self.by_key = {village_key(name): code for code, name in villages.items()}
        self.new_villages: dict[str, tuple[str, int]] = {}  # segment → (name, first row)
        self.seen_codes: dict[str, int] = {}
        self.seen_ids: dict[str, int] = {}
        self.normalised: list[Normalised] = []  # of rows that passed
        # Unregistered villages met (when they are not registered automatically): name → segment → rows, and the
        # segments of rows that give no village name.
        self.unknown_names: dict[str, dict[str, int]] = {}
        self.unknown_segments: dict[str, int] = {}
        # Taken once, for every row: the cells of each field, and the text fields the file has.
        self._fields = tuple(columns)
        self._width = max((column.index for column in columns.values()), default=-1) + 1
        self._pick = (operator.itemgetter(*(column.index for column in columns.values())) if len(columns) > 1
                      else lambda values: tuple(values[column.index] for column in columns.values()))
        self._number_fields = tuple(f for f in _NUMBER_FIELDS if f in columns)
        self._segments: dict[str, str] = {}  # village name → segment, once found (it cannot change later)
        self._text_fields = tuple(f for f in _TEXT_FIELDS if f in columns)
        self._service_dates = tuple(f for f in SERVICE_DATES if f in columns)
        # The row being checked, its problems and its 待核实 flags (_bad and _doubt add to them).
        self._row = 0
        self._problems: list[Problem] = []
        self._flags: list[ReviewFlag] = []

    def header(self, *fields: str) -> str:
        return "/".join(self.columns[f].header if f in self.columns else FIELD_LABELS[f] for f in fields)

    def check(self, number: int, values: Sequence[Any]) -> tuple[ImportRow | None, list[Problem]]:
        """The checked row, or None with every problem found (an empty list too when the row is blank)."""
        if len(values) >= self._width:
            cells = dict(zip(self._fields, self._pick(values), strict=True))
        else:
            cells = {f: (values[c.index] if c.index < len(values) else None) for f, c in self.columns.items()}
        written = cells  # as the file has them, for the report of what was rewritten; copied if that differs
        for f in self._number_fields:
            value = cells[f]
            if isinstance(value, str) and "." in value:
                fixed = whole_number_text(value)
                if fixed is not value:
                    if cells is written:
                        cells = dict(written)
                    cells[f] = fixed
        for value in cells.values():
            if not blank(value):
                break
        else:
            return None, []
        problems: list[Problem] = []
        flags: list[ReviewFlag] = []
        self._row, self._problems, self._flags = number, problems, flags
        bad, doubt = self._bad, self._doubt

        code = self._code(cells.get("code"), number, bad)
        name = self._name(cells.get("name"), bad)
        id_number = self._id_number(cells.get("id_number"), number, bad)
        sex = self._sex(cells.get("sex"), id_number, bad, doubt)
        birth_date = self._date(cells, "birth_date", doubt)
        registered_on = self._date(cells, "registered_on", doubt)
        if id_number is not None:
            born = id_number.birth_date
            if birth_date is None:
                birth_date = born
            elif birth_date != born:
                bad(("birth_date", "id_number"), f"{birth_date.isoformat()} / {id_number}",
                    Message("出生日期与身份证号中的出生日期 {born} 不一致", {"born": born.isoformat()}))
        if birth_date and registered_on and registered_on < birth_date:
            doubt("registered_on", f"{registered_on.isoformat()}（出生日期 {birth_date.isoformat()}）",
                  N_("建档日期早于出生日期"))
        texts: dict[str, str | None] = dict.fromkeys(_TEXT_FIELDS)
        for f in self._text_fields:
            texts[f] = self._text(cells, f, bad, doubt)
        if texts["relation"] and is_head(texts["relation"]) and texts["head_name"] and name \
                and texts["head_name"] != name:
            bad(("relation", "head_name"), f"{texts['relation']} / {texts['head_name']}",
                Message("与户主关系为“{relation}”，但户主姓名不是本人“{name}”",
                        {"relation": texts["relation"], "name": name}))
        if texts["phone"]:
            reason = phone_doubt(texts["phone"])
            if reason:
                doubt("phone", texts["phone"], reason)
        tags = self._tags(cells, doubt)
        dates: dict[str, date | None] = {"birth_date": birth_date, "registered_on": registered_on}
        for f in self._service_dates:
            dates[f] = self._service_date(cells, f, birth_date, sex, doubt)
        village = self._village(cells.get("village"), code, number, bad) if code is not None else None
        if problems or code is None or village is None or name is None:
            return None, problems
        self._note_fixes(number, written, code, name, id_number, dates, texts)
        return ImportRow(number=number, code=code, village=village, name=name, sex=sex, birth_date=birth_date,
                         id_number=id_number.value if id_number else None, relation=texts["relation"],
                         head_name=texts["head_name"], household_no=texts["household_no"],
                         address=texts["address"], phone=texts["phone"], registered_on=registered_on,
                         tags=tags, due_date=dates.get("due_date"), delivery_date=dates.get("delivery_date"),
                         tb_treatment_start=dates.get("tb_treatment_start"), flags=flags), []

    def _bad(self, fields: tuple[str, ...] | str, value: str, reason: str) -> None:
        """A problem of the row being checked: it is refused."""
        fields = (fields,) if isinstance(fields, str) else fields
        self._problems.append(Problem(self._row, self.header(*fields), value, reason))

    def _doubt(self, fields: tuple[str, ...] | str, value: str, reason: str) -> None:
        """A questionable value of the row being checked: the row imports, flagged 待核实."""
        fields = (fields,) if isinstance(fields, str) else fields
        self._flags.append(ReviewFlag(self.header(*fields), value, reason))

    def _note_fixes(self, number: int, written: dict[str, Any], code: ArchiveCode, name: str,
                    id_number: IdNumber | None, dates: dict[str, date | None], texts: dict[str, str | None]) -> None:
        """Record the values of an accepted row that were rewritten on the way in, one note per field."""
        def note(field_name: str, kind: str, new: str) -> None:
            self.normalised.append(Normalised(number, self.header(field_name), kind,
                                              raw_text(written.get(field_name)), new))

        # Each field: a cell written exactly as stored was not rewritten (the common case, decided at once).
        raw = written.get("code")
        if raw == code.value:
            pass
        elif _has_full_width(raw):
            note("code", FULL_WIDTH, format_code(code.value))
        elif isinstance(raw, str) and clean(raw) != code.value:
            note("code", SEPARATORS, code.value)
        raw = written.get("name")
        if raw != name and clean(raw) != name:
            note("name", NAME_SPACING, name)
        if id_number is not None and written.get("id_number") != id_number.value:
            typed = clean_code(written.get("id_number"))
            if len(typed) == 15:
                note("id_number", ID_UPGRADED, id_number.value)
            elif typed.endswith("x"):
                note("id_number", ID_UPPER_X, id_number.value)
            elif _has_full_width(written.get("id_number")):
                note("id_number", FULL_WIDTH, id_number.value)
            elif clean(written.get("id_number")).upper() != id_number.value:
                note("id_number", SEPARATORS, id_number.value)
        for field_name, value in dates.items():
            raw = written.get(field_name)
            if value is None or blank(raw) or isinstance(raw, date) or raw == value.isoformat():
                continue
            if _has_full_width(raw):
                note(field_name, FULL_WIDTH, value.isoformat())
            elif clean(raw).replace(" ", "") != value.isoformat():
                note(field_name, DATE_WRITTEN, value.isoformat())
        for field_name in ("phone", "household_no"):
            raw, value = written.get(field_name), texts.get(field_name)
            if not value or raw == value or blank(raw):
                continue
            if _has_full_width(raw):
                note(field_name, FULL_WIDTH, value)
            elif isinstance(raw, str) and _WHOLE_FLOAT.match(raw.strip()):
                note(field_name, EXCEL_DECIMAL, value)
            elif clean(raw) != value:
                note(field_name, SEPARATORS, value)

    def _code(self, raw: object, number: int, bad: Flag) -> ArchiveCode | None:
        if blank(raw):
            bad("code", "", N_("缺少档案编号"))
            return None
        if lost_digits(raw):
            bad("code", shown(raw), LOST_DIGITS)
            return None
        try:
            code = parse_code(raw)
        except InvalidValue as error:
            bad("code", shown(raw), error.message)
            return None
        first = self.seen_codes.setdefault(code.value, number)
        if first != number:
            bad("code", shown(raw), Message("档案编号与第{first}行重复", {"first": first}))
            return None
        if code.village_prefix in self.other_sites:
            bad("code", shown(raw), Message("档案编号所属的村(居)委会（{county}-{township}-{village}）由机构“{site}”"
                                            "保管，不能导入本机构",
                                            {"site": self.other_sites[code.village_prefix], "county": code.value[:6],
                                             "township": code.value[6:9], "village": code.village}))
            return None
        if code.value[:9] != self.prefix and code.village_prefix in self.held:
            return code
        if code.value[:9] in self.other_sites:
            bad("code", shown(raw), Message("档案编号属于另一机构“{site}”的乡镇（{county}-{township}），不能导入本机构",
                                            {"site": self.other_sites[code.value[:9]], "county": code.value[:6],
                                             "township": code.value[6:9]}))
            return None
        if code.value[:9] != self.prefix:
            bad("code", shown(raw), Message("档案编号不属于本乡镇（应以 {county}-{township} 开头）",
                                            {"county": self.prefix[:6], "township": self.prefix[6:]}))
            return None
        return code

    def _name(self, raw: object, bad: Flag) -> str | None:
        name = clean_name(raw)
        if not name:
            bad("name", "", N_("缺少姓名"))
            return None
        if len(name) > LIMITS["name"]:
            bad("name", name, Message("姓名超过{limit}个字", {"limit": LIMITS["name"]}))
            return None
        return name

    def _id_number(self, raw: object, number: int, bad: Flag) -> IdNumber | None:
        if blank(raw):
            return None
        if lost_digits(raw):
            bad("id_number", shown(raw), LOST_DIGITS)
            return None
        try:
            id_number = parse_id_number(raw, today=self.today)
        except InvalidValue as error:
            bad("id_number", shown(raw), error.message)
            return None
        first = self.seen_ids.setdefault(id_number.value, number)
        if first != number:
            bad("id_number", shown(raw), Message("身份证号与第{first}行重复", {"first": first}))
            return None
        return id_number

    def _sex(self, raw: object, id_number: IdNumber | None, bad: Flag, doubt: Flag) -> str | None:
        if isinstance(raw, str) and raw in SEX_WORDS:  # 男, 女, 1, 2 …: as the rule below would read them
            text, sex = raw, SEX_WORDS[raw]
        else:
            text = "" if blank(raw) else shown(raw)
            sex = normalize_sex(text) if text else None
        if text and sex is None:
            doubt("sex", text, N_("性别应为 男/女，或代码 1/2/0/9"))
            text = ""
        if id_number is None:
            return sex
        if sex in ("1", "2") and sex != id_number.sex:
            bad(("sex", "id_number"), f"{text} / {id_number}",
                Message("性别“{sex}”与身份证号第17位所示的“{id_sex}”不一致",
                        {"sex": SEX_CODES[sex], "id_sex": SEX_CODES[id_number.sex]}))
            return None
        return sex or id_number.sex

    def _cell_date(self, cells: dict[str, Any], field: str, doubt: Flag) -> date | None:
        """A date cell as exports hold them (parse_date); an unreadable one is flagged and taken as blank."""
        raw = cells.get(field)
        if blank(raw):
            return None
        try:
            return parse_date(raw)
        except ValueError as error:
            doubt(field, shown(raw), str(error))
            return None

    def _date(self, cells: dict[str, Any], field: str, bad: Flag) -> date | None:
        """A date; a wrong one is flagged (bad is the doubt callback here): the row imports without it."""
        value = self._cell_date(cells, field, bad)
        if value is None:
            return None
        birth = field == "birth_date"
        if value > self.today:
            bad(field, shown(cells.get(field)), N_("出生日期晚于今天") if birth else N_("建档日期晚于今天"))
            return None
        if value.year < 1880:
            bad(field, shown(cells.get(field)), N_("出生日期的年份不合理") if birth else N_("建档日期的年份不合理"))
            return None
        return value

    def _service_date(self, cells: dict[str, Any], field: str, birth_date: date | None, sex: str | None,
                      doubt: Flag) -> date | None:
        """预产期 / 分娩日期 / 结核治疗开始日期: read as the other dates are; one that cannot be right for this resident
        (servicedates.date_doubt) is flagged and the row imports without it, keeping any stored value."""
        value = self._cell_date(cells, field, doubt)
        if value is None:
            return None
        reason = date_doubt(field, value, today=self.today, birth_date=birth_date, sex=sex)
        if reason is not None:
            written = shown(cells.get(field))
            if birth_date is not None and reason == BEFORE_BIRTH[field]:
                written = f"{value.isoformat()}（出生日期 {birth_date.isoformat()}）"
            doubt(field, written, reason)
            return None
        return value

    def _text(self, cells: dict[str, Any], field: str, bad: Flag, doubt: Flag) -> str | None:
        """A text field; a phone or address that cannot be stored is flagged (the row imports without it), the
        household's fields (户号, 户主姓名, 与户主关系) refuse the row."""
        if field not in self.columns:
            return None
        raw = cells.get(field)
        numeric, cleaner, limit, secondary = _TEXT_RULES[field]
        if numeric and lost_digits(raw):
            (doubt if secondary else bad)(field, shown(raw), LOST_DIGITS)
            return None
        text = cleaner(raw)
        if len(text) > limit:
            (doubt if secondary else bad)(field, text, Message("超过{limit}个字", {"limit": limit}))
            return None
        return text

    def _tags(self, cells: dict[str, Any], bad: Flag) -> list[str] | None:
        if "tags" not in self.columns:
            return None
        tags = split_tags(clean(cells.get("tags")))
        for tag in tags:
            if len(tag) > TAG_MAX:
                # flagged: the row keeps its stored groups
                bad("tags", tag, Message("人群分类名称超过{tag_max}个字", {"tag_max": TAG_MAX}))
                return None
        return tags

    def _village(self, raw: object, code: ArchiveCode, number: int, bad: Flag) -> str | None:
        """The village segment: the code's, which the village column (name or code) must agree with."""
        text = clean(raw).replace(" ", "")
        segment = code.village
        if code.value[:9] != self.prefix:  # a village taken over from another township (checked by _code)
            return self._held_village(text, code, bad)
        if not text:
            if segment in self.known or segment in self.new_villages:
                return segment
            hint = N_("；文件中没有村名，无法自动登记") if self.add_villages else ""
            self.unknown_segments[segment] = self.unknown_segments.get(segment, 0) + 1
            bad("code", code.value, Message("档案编号中的村(居)委会代码 {segment} 尚未登记{hint}",
                                            {"segment": segment, "hint": hint}))
            return None
        if text.isdigit() and len(text) in (3, 12):
            if len(text) == 12 and not text.startswith(self.prefix):
                bad("village", text, N_("村(居)委会代码不属于本乡镇"))
                return None
            given: str | None = text[-3:]
            if given not in self.known and given not in self.new_villages:
                if given == segment:
                    self.unknown_segments[segment] = self.unknown_segments.get(segment, 0) + 1
                bad("village", text, Message("村(居)委会代码 {given} 尚未登记", {"given": given}))
                return None
        else:
            given = self._segment_for(text)
            if given is None:
                if not self.add_villages:
                    segments = self.unknown_names.setdefault(text, {})
                    segments[segment] = segments.get(segment, 0) + 1
                    bad("village", text, Message("村(居)委会“{text}”未登记", {"text": text}))
                    return None
                if segment in self.known:
                    given = segment + "?"  # a new name for a known segment: reported as a mismatch below
                elif segment in self.new_villages:
                    first_name, first_row = self.new_villages[segment]
                    bad(("code", "village"), f"{format_code(code.value)} / {text}",
                        Message("村代码 {segment} 在本文件中对应两个村名：第{first_row}行为“{first_name}”，"
                                "本行为“{text}”",
                                {"segment": segment, "first_row": first_row, "first_name": first_name, "text": text}))
                    return None
                else:
                    self.new_villages[segment] = (text, number)
                    return segment
        if given != segment:
            registered = self.known.get(segment) or self.new_villages.get(segment, ("未登记",))[0]
            bad(("code", "village"), f"{format_code(code.value)} / {text}",
                Message("档案编号中的村代码 {segment}（{registered}）与所属村(居)委会“{text}”不一致",
                        {"segment": segment, "registered": registered, "text": text}))
            return None
        return segment

    def _held_village(self, text: str, code: ArchiveCode, bad: Flag) -> str | None:
        """A village taken over from another township: named by its 12-digit code, which the village column (its
        name, its 3-digit or 12-digit code), when given, must agree with."""
        key = code.village_prefix
        registered = self.held[key]
        if not text or text in (key, code.village) or village_key(text) == village_key(registered):
            return key
        bad(("code", "village"), f"{format_code(code.value)} / {text}",
            Message("档案编号中的村代码 {segment}（{registered}）与所属村(居)委会“{text}”不一致",
                    {"segment": code.village, "registered": registered, "text": text}))
        return None

    def _segment_for(self, name: str) -> str | None:
        found = self._segments.get(name)
        if found is not None:
            return found
        if name in self.by_name:
            found = self.by_name[name]
        elif village_key(name) in self.by_key:
            found = self.by_key[village_key(name)]
        else:
            for segment, (new_name, _row) in self.new_villages.items():
                if new_name == name:
                    found = segment
                    break
        if found is not None:  # registered names do not change, and a new village's name is its first
            self._segments[name] = found
        return found

    def missing_villages(self) -> list[MissingVillage]:
        """The unregistered villages the file uses, each with the code its archive codes give it.

        A name whose rows use one segment, not registered and not claimed by another name, takes that segment.
        Otherwise the code is left blank with the reason, for the clerk to fill in. Segments met without a name
        are listed with a blank name.
        """
        claimed: dict[str, list[str]] = {}
        for name, segments in self.unknown_names.items():
            for segment in segments:
                claimed.setdefault(segment, []).append(name)
        missing: list[MissingVillage] = []
        for name, segments in self.unknown_names.items():
            rows = sum(segments.values())
            if len(segments) > 1:
                used = "、".join(sorted(segments))
                missing.append(MissingVillage(name, "", rows, Message(
                    "文件中“{name}”的档案编号用了不同的村代码（{used}），请填写这个村的3位代码",
                    {"name": name, "used": used})))
                continue
            segment = next(iter(segments))
            if segment in self.known:
                missing.append(MissingVillage(name, "", rows, Message(
                    "档案编号中的村代码 {segment} 已登记为“{name}”，请填写这个村的3位代码",
                    {"segment": segment, "name": self.known[segment]})))
            elif len(claimed[segment]) > 1:
                others = "”“".join(n for n in claimed[segment] if n != name)
                missing.append(MissingVillage(name, "", rows, Message(
                    "村代码 {segment} 在文件中也用于“{others}”，请填写这个村的3位代码",
                    {"segment": segment, "others": others})))
            else:
                missing.append(MissingVillage(name, segment, rows))
        for segment, rows in sorted(self.unknown_segments.items()):
            if segment not in claimed and segment not in self.known:
                missing.append(MissingVillage("", segment, rows, Message(
                    "文件中没有村代码 {segment} 的村名，请填写村名", {"segment": segment})))
        return missing
