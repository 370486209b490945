"""Resident identity numbers (公民身份号码, GB 11643): check character, 15→18 digits, birth date and sex."""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from datetime import date

from archiveprint.errors import InvalidValue
from archiveprint.register.text import clean_code

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
# Province-level codes of GB/T 2260 (first two digits of every identity number).
PROVINCES = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65",
    "71", "81", "82", "83", "91",
})


_FIFTEEN = re.compile(r"\d{15}")
_EIGHTEEN = re.compile(r"\d{17}[\dX]")
_ID_CHARACTERS = re.compile(r"[\dX]+")
# The weighted sum by table: each 3-digit group of the first 17 (the last group 2 digits) maps to its share of the
# sum, so a number costs six look-ups instead of 17 multiplications.
_GROUPS = tuple((start, min(start + 3, len(WEIGHTS))) for start in range(0, len(WEIGHTS), 3))
_GROUP_SUMS = tuple(
    {digits: sum(map(operator.mul, map(int, digits), WEIGHTS[start:end]))
     for digits in (f"{n:0{end - start}d}" for n in range(10 ** (end - start)))}
    for start, end in _GROUPS)


def check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character for the first 17 digits."""
    if len(first17) != len(WEIGHTS):
        raise ValueError("17 digits expected")
    try:
        total = (_GROUP_SUMS[0][first17[0:3]] + _GROUP_SUMS[1][first17[3:6]] + _GROUP_SUMS[2][first17[6:9]]
                 + _GROUP_SUMS[3][first17[9:12]] + _GROUP_SUMS[4][first17[12:15]] + _GROUP_SUMS[5][first17[15:17]])
    except KeyError:  # not ASCII digits: the general rule (full-width digits count, anything else raises)
        total = sum(map(operator.mul, map(int, first17), WEIGHTS))
    return CHECK_CHARS[total % 11]


@dataclass(frozen=True)
class IdNumber:
    """A validated 18-character identity number (upper-case X)."""

    value: str

    @property
    def birth_date(self) -> date:
        if self.value.isascii():
            return date.fromisoformat(self.value[6:14])  # YYYYMMDD, parsed in C; a wrong date raises ValueError
        return date(int(self.value[6:10]), int(self.value[10:12]), int(self.value[12:14]))

    @property
    def sex(self) -> str:
        """GB/T 2261.1 sex code implied by the 17th digit: odd '1' (男), even '2' (女)."""
        return "1" if int(self.value[16]) % 2 else "2"

    @property
    def masked(self) -> str:
        """For screens and lists: 1101**********002X."""
        return self.value[:4] + "*" * 10 + self.value[14:]

    def __str__(self) -> str:
        return self.value


def upgrade_15(legacy: str) -> str:
    """A 1989-style 15-digit number as 18 characters: insert '19' before the birth date, add the check."""
    first17 = legacy[:6] + "19" + legacy[6:]
    return first17 + check_char(first17)


def parse_id_number(raw: object, *, today: date) -> IdNumber:
    """Validate an identity number as typed or exported; raise InvalidValue with a Chinese reason."""
    text = clean_code(raw).upper()
    if _FIFTEEN.fullmatch(text):
        text = upgrade_15(text)
    elif not _EIGHTEEN.fullmatch(text):
        if _ID_CHARACTERS.fullmatch(text):
            raise InvalidValue("身份证号应为18位（或旧式15位），实际{length}位",
                               params={"length": len(text)}, value=raw)
        raise InvalidValue("身份证号只能包含数字和末位X", value=raw)
    if text[:2] not in PROVINCES:
        raise InvalidValue("身份证号前两位“{province}”不是有效的省级行政区划代码",
                           params={"province": text[:2]}, value=raw)
    expected = check_char(text[:17])
    if text[17] != expected:
        raise InvalidValue("身份证号校验位错误：末位应为“{expected}”，实际为“{actual}”",
                           params={"expected": expected, "actual": text[17]}, value=raw)
    number = IdNumber(text)
    try:
        born = number.birth_date
    except ValueError:
        raise InvalidValue("身份证号中的出生日期“{date}”不存在", params={"date": text[6:14]}, value=raw) from None
    if born > today:
        raise InvalidValue("身份证号中的出生日期“{date}”晚于今天", params={"date": text[6:14]}, value=raw)
    if born.year < 1880:
        raise InvalidValue("身份证号中的出生年份“{year}”不合理", params={"year": born.year}, value=raw)
    return number


def make_id_number(area: str, born: date, sequence: int, ) -> str:
    """Build a valid number (for synthetic data): 6-digit area, birth date, 3-digit sequence, check."""
    first17 = f"{area}{born:%Y%m%d}{sequence:03d}"
    return first17 + check_char(first17)
