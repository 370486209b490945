"""Refuse a register file too large to read before reading it: its size, its zip's expansion, its sheets' extent."""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from archiveprint.config import ImportLimits
from archiveprint.errors import N_, ArchiveprintError, Message

MIB = 1 << 20
READ_SIZE = 1 << 20
HEAD_BYTES = 64 * 1024  # <dimension> comes before <sheetData>, after a few short elements
RATIO_FLOOR = MIB  # a member smaller than this unpacked cannot be a bomb, whatever its ratio
TAIL_SLACK = 64  # bytes of compressed data that may be left after the declared size (the stream's end marker)
ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,15}:)?row[\s>/]")  # <row …> or <x:row …> in a worksheet's XML
FIRST_ROW_NUMBER = re.compile(rb"<row r=\"(\d{1,9})\"")  # as Excel and openpyxl write it
ROW_NUMBER = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,15}:)?row\s[^>]*?\br=\"(\d{1,9})\"")
DIMENSION = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,15}:)?dimension\s+ref=\"([A-Z]{1,3})?(\d+)?(?::([A-Z]{1,3})(\d+))?\"")
ACTIVE_TAB = re.compile(rb"activeTab=\"(\d{1,4})\"")
UNREADABLE = N_("无法打开 Excel 文件：文件已损坏，或不是 .xlsx 格式")


class FileTooLarge(ArchiveprintError):
    """A register file over one of the import limits (config.ImportLimits); nothing of it was imported."""

    status = 413


@dataclass(frozen=True)
class Extent:
    """What a file holds, as far as can be told without parsing it: rows and columns of its largest sheet."""

    rows: int
    columns: int = 0
    active_sheet: int = 0  # the sheet Excel opens on (workbook.xml activeTab)


# An amount in each unit a limit is counted in (a unit alone would be translated as the word: 行 is a table's Row).
AMOUNTS = {"MB": N_("{count:,} MB"), "行": N_("{count:,} 行"), "列": N_("{count:,} 列"), "倍": N_("{count:,} 倍")}


def too_large(what: str, value: int, limit: int, unit: str) -> FileTooLarge:
    return FileTooLarge("文件过大，未导入：{what}为 {value}，超过上限 {limit}"
                        "。请把文件拆成几份分别导入，或请管理员调整导入上限",
                        params={"what": what, "value": Message(AMOUNTS[unit], {"count": value}),
                                "limit": Message(AMOUNTS[unit], {"count": limit})})


def column_number(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number


def inspect_csv(path: Path, limits: ImportLimits) -> Extent:
    """A .csv's size and lines, counted in blocks (bounded by the byte limit, checked first)."""
    size = path.stat().st_size
    if size > limits.megabytes * MIB:
        raise too_large(N_("CSV 文件大小"), -(-size // MIB), limits.megabytes, "MB")
    lines, last = 0, b""
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(READ_SIZE), b""):
            lines += block.count(b"\n")
            last = block[-1:]
    lines += 1 if last not in (b"", b"\n") else 0
    if lines > limits.rows:
        raise too_large(N_("CSV 文件行数"), lines, limits.rows, "行")
    return Extent(rows=lines)


def inspect_xlsx(path: Path, limits: ImportLimits,
                 before_scan: Callable[[zipfile.ZipFile], None] | None = None) -> Extent:
    """Check an .xlsx before any reader unpacks it, cheapest check first.

    1. The zip's directory: every member's declared unpacked size (their sum, and each one's expansion ratio).
    2. Each sheet's declared extent, <dimension ref="A1:M20000001">, from the first bytes of its XML.
    Then `before_scan` (the importer looks for the header in each sheet's first rows there).
    3. Every member unpacked as a stream, never beyond its declared size (a member whose data runs on past it,
       or whose checksum is wrong, is refused): each sheet's last row number and any cell beyond the column limit.
    The reader (python-calamine) then holds a sheet as a dense grid, so rows × columns is its memory.
    """
    try:
        with zipfile.ZipFile(path) as workbook:
            infos = workbook.infolist()
            total = sum(info.file_size for info in infos)
            if total > limits.megabytes * MIB:
                raise too_large(N_("Excel 文件解压后的大小"), -(-total // MIB), limits.megabytes, "MB")
            for info in infos:
                if info.file_size > RATIO_FLOOR:
                    ratio = info.file_size // max(1, info.compress_size)
                    if ratio > limits.ratio:
                        raise too_large(Message("Excel 文件中“{name}”的压缩比（解压后÷压缩后）",
                                                {"name": info.filename[:60]}), ratio, limits.ratio, "倍")
            sheets = [info for info in infos
                      if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")]
            for info in sheets:
                _check_dimension(workbook, info, limits)
            if before_scan is not None:
                before_scan(workbook)  # the header, looked for in the first rows (sources.py)
            extent = Extent(rows=0, active_sheet=_active_sheet(workbook))
            for info in infos:
                rows, columns = _scan(workbook, info, limits, sheet=info in sheets)
                extent = Extent(rows=max(extent.rows, rows), columns=max(extent.columns, columns),
                                active_sheet=extent.active_sheet)
            return extent
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError,
            ValueError, OSError):
        raise ArchiveprintError(UNREADABLE) from None


def _check_extent(rows: int, columns: int, limits: ImportLimits, source: str, *, narrow: bool = False) -> None:
    """`narrow`: only cells past column Z were looked for, so the sheet may be up to 26 columns wide."""
    if rows > limits.rows:
        raise too_large(Message("{source}行数", {"source": source}), rows, limits.rows, "行")
    if columns > limits.columns:
        raise too_large(Message("{source}列数", {"source": source}), columns, limits.columns, "列")
    memory = rows * max(columns, 26 if narrow else 1) * ImportLimits.CELL_BYTES
    if memory > limits.memory_megabytes * MIB:
        raise too_large(Message("{source}读入所需内存", {"source": source}), -(-memory // MIB),
                        limits.memory_megabytes, "MB")


def _check_dimension(workbook: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ImportLimits) -> None:
    with workbook.open(info) as sheet:
        head = sheet.read(HEAD_BYTES)
    end = head.find(b"sheetData")
    found = DIMENSION.search(head, 0, end if end >= 0 else len(head))
    if found is None:
        return
    first_col, first_row, last_col, last_row = found.groups()
    col = last_col or first_col
    row = last_row or first_row
    _check_extent(int(row or 0), column_number(col.decode()) if col else 0, limits, N_("工作表声明的"))


def _active_sheet(workbook: zipfile.ZipFile) -> int:
    try:
        with workbook.open("xl/workbook.xml") as book:
            found = ACTIVE_TAB.search(book.read(HEAD_BYTES))
    except KeyError:
        return 0
    return int(found.group(1)) if found else 0


def _scan(workbook: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ImportLimits, *, sheet: bool
          ) -> tuple[int, int]:
    """Unpack one member (for a sheet: its last row number and widest cell reference).

    Tags cannot hold "<", so every tag that starts before a read's last "<" ends in it; the rest waits.
    """
    wide = re.compile(rb"r=\"([A-Z]{%d,3})\d" % (1 if limits.columns < 26 else 2))  # a cell past column Z
    rows = tags = columns = 0
    carry = b""
    with workbook.open(info) as member:
        for block in iter(lambda: member.read(READ_SIZE), b""):
            if not sheet:
                continue
            data = carry + block
            cut = data.rfind(b"<")
            if cut < 0:
                cut = len(data)
            rows, tags, columns = _count(data, cut, rows, tags, columns, wide)
            _check_extent(max(rows, tags), columns, limits, N_("工作表"), narrow=True)
            carry = data[cut:]
        if _runs_on(member):
            raise ArchiveprintError(UNREADABLE)
    if sheet:
        rows, tags, columns = _count(carry, len(carry), rows, tags, columns, wide)
        _check_extent(max(rows, tags), columns, limits, N_("工作表"), narrow=True)
    return max(rows, tags), columns


def _runs_on(member: object) -> bool:
    """Compressed data left over once the declared size is read: a member that unpacks to more than its zip
    entry says (what a zip bomb does to get past size checks). zipfile itself stops at the declared size, but
    other readers do not. The end-of-stream marker alone may be left unread, hence the slack."""
    decompressor = getattr(member, "_decompressor", None)
    if decompressor is None or getattr(decompressor, "eof", True):
        return False
    left = int(getattr(member, "_compress_left", 0)) + len(getattr(decompressor, "unconsumed_tail", b""))
    return left > TAIL_SLACK


def _count(data: bytes, end: int, rows: int, tags: int, columns: int, wide: re.Pattern[bytes]
           ) -> tuple[int, int, int]:
    """Row tags, the largest row number and the widest cell reference in data[:end]; the patterns start with a
    literal (or are plain counts) so that they run at memory speed, with the general ones only where needed."""
    block = data[:end]
    found = block.count(b"<row ") + block.count(b"<row>")
    if b":row" in block:  # prefixed elements (<x:row>)
        found = len(ROW_TAG.findall(block))
    tags += found
    numbers = FIRST_ROW_NUMBER.findall(block)
    if len(numbers) < found:  # r="" not first, or missing
        numbers = ROW_NUMBER.findall(block)
    if numbers:
        rows = max(rows, max(map(int, numbers)))
    letters = wide.findall(block)
    if letters:
        columns = max(columns, max(column_number(found_letters.decode()) for found_letters in letters))
    return rows, tags, columns
