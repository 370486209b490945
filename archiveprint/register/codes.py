"""Resident health-record numbers (居民健康档案编号): 17 digits = county 6 + township 3 + village 3 + serial 5."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from archiveprint.errors import InvalidValue
from archiveprint.pdf.barcodes import is_valid_check, with_check
from archiveprint.register.text import clean_code

SERIAL_MAX = 99999


@dataclass(frozen=True, order=True)
class ArchiveCode:
    """One parsed archive code; `str()` gives the 17 plain digits stored in the database."""

    county: str
    township: str
    village: str
    serial: int
    value: str = field(init=False, repr=False, compare=False)  # the 17 digits, made once (an import reads them often)

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", f"{self.county}{self.township}{self.village}{self.serial:05d}")

    @property
    def village_prefix(self) -> str:
        """The 12-digit statistical code of the village (segments 1–3)."""
        return self.value[:12]

    @property
    def display(self) -> str:
        """Grouped 6-3-3-5 as the cover prints it: 130123-100-201-00001."""
        return format_code(self.value)

    @property
    def short(self) -> str:
        """The last 8 digits, as every form except the cover shows them: 201-00001."""
        return f"{self.village}-{self.serial:05d}"

    def __str__(self) -> str:
        return self.value


def format_code(code: str) -> str:
    return f"{code[:6]}-{code[6:9]}-{code[9:12]}-{code[12:]}" if len(code) == 17 else code


def parse_code(raw: object) -> ArchiveCode:
    """Parse a code as typed, scanned or exported (dashes, spaces and full-width digits are fine)."""
    text = clean_code(raw)
    if not text:
        raise InvalidValue("档案编号为空")
    if not text.isdigit():
        raise InvalidValue("档案编号只能包含数字", value=raw)
    if len(text) != 17:
        raise InvalidValue("档案编号应为17位数字，实际{length}位", params={"length": len(text)}, value=raw)
    county, township, village, serial = text[:6], text[6:9], text[9:12], int(text[12:])
    if county[:2] == "00" or county[2:] == "0000":
        raise InvalidValue("档案编号前6位“{county}”不是县级行政区划代码", params={"county": county}, value=raw)
    if township == "000":
        raise InvalidValue("档案编号第7–9位（乡镇代码）不能为000", value=raw)
    if village == "000":
        raise InvalidValue("档案编号第10–12位（村(居)委会代码）不能为000", value=raw)
    if serial == 0:
        raise InvalidValue("档案编号末5位（顺序号）不能为00000", value=raw)
    return ArchiveCode(county, township, village, serial)


def village_kind(village: str) -> str:
    """Which kind of committee a village segment suggests — only a hint, as the sources disagree (§2.2).

    The health-record summaries use 001–099 居委会 / 101–199 村委会 / 901–999 其他; GB/T 10114 and the NBS codes
    use 001–199 居委会 / 200–399 村委会. Neither range is rejected anywhere.
    """
    number = int(village)
    if number >= 900:
        return "其他"
    if number <= 99:
        return "居委会"
    return "村委会"


def looks_like_code(text: str) -> bool:
    return bool(re.fullmatch(r"\d{17}", clean_code(text)))


# --- household folder codes (档案袋编号) ----------------------------------------------------------------------
# One paper folder per household. Its code is ours to design, so it must never be mistaken for a resident's
# 17-digit archive code and must carry its own check character (decoders do misread Code128):
#   F + 12-digit village code + 5-digit household number + 1 check digit (ISO 7064 MOD 11,10)  → 19 characters
# shown as 130123-100-201-F00017-6. It depends only on the village and the household number, so it is stable
# while members come and go.

FOLDER_PREFIX = "F"


@dataclass(frozen=True, order=True)
class FolderCode:
    """A household folder's code (档案袋编号)."""

    village_prefix: str  # 12 digits: county + township + village
    household_number: int

    @property
    def value(self) -> str:
        return FOLDER_PREFIX + with_check(f"{self.village_prefix}{self.household_number:05d}")

    @property
    def display(self) -> str:
        v = self.value
        return f"{v[1:7]}-{v[7:10]}-{v[10:13]}-F{v[13:18]}-{v[18]}"

    @property
    def short(self) -> str:
        """Village segment and household number, as spine labels print them: 201-F00017."""
        return f"{self.village_prefix[9:]}-F{self.household_number:05d}"

    def __str__(self) -> str:
        return self.value


def folder_code(village_prefix: str, household_number: int) -> FolderCode:
    if not (len(village_prefix) == 12 and village_prefix.isdigit()):
        raise InvalidValue("村(居)委会代码应为12位数字", value=village_prefix)
    if not 0 < household_number <= 99999:
        raise InvalidValue("户序号应在1–99999之间", value=household_number)
    return FolderCode(village_prefix, household_number)


def parse_folder_code(raw: object) -> FolderCode:
    """Parse a scanned or typed folder code (dashes and spaces allowed); the check digit must match."""
    text = clean_code(raw).upper()
    displayed = re.fullmatch(r"(\d{12})F(\d{6})", text)  # the grouped form 130123-100-201-F00017-6
    if displayed:
        text = FOLDER_PREFIX + displayed.group(1) + displayed.group(2)
    if not text.startswith(FOLDER_PREFIX):
        raise InvalidValue("档案袋编号应以 F 开头", value=raw)
    digits = text[1:]
    if not (len(digits) == 18 and digits.isdigit()):
        raise InvalidValue("档案袋编号应为 F 加18位数字，实际{length}位", params={"length": len(digits)}, value=raw)
    if not is_valid_check(digits):
        raise InvalidValue("档案袋编号校验位错误（可能扫描或输入有误）", value=raw)
    return folder_code(digits[:12], int(digits[12:17]))


def looks_like_folder_code(text: str) -> bool:
    return bool(re.fullmatch(r"F\d{18}|\d{12}F\d{6}", clean_code(text).upper()))
