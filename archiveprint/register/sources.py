"""Read register exports (.xlsx, or .csv in UTF-8/GBK/GB18030) row by row and find the header row.

A file is first checked against the import limits (register/filelimits.py), then its header is looked for in its
first rows, and only then are the rows below it read.
"""

from __future__ import annotations

import codecs
import csv
import re
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from python_calamine import CalamineError, CalamineWorkbook, SheetTypeEnum

from archiveprint.config import ImportLimits
from archiveprint.errors import N_, ArchiveprintError, InvalidValue, Message
from archiveprint.register import filelimits, xlsxpeek
from archiveprint.register.text import clean

HEADER_SCAN_ROWS = 15
REQUIRED_FIELDS = ("code", "name")
# Field key → the standard column label of the provincial platform's export.
FIELD_LABELS: dict[str, str] = {
    "code": "档案编号", "name": "姓名", "sex": "性别", "birth_date": "出生日期", "id_number": "身份证号",
    "relation": "与户主关系", "head_name": "户主姓名", "household_no": "户号", "address": "现住址",
    "village": "所属村(居)委会", "phone": "联系电话", "registered_on": "建档日期", "tags": "人群分类",
    # Optional: the dates the service schedules count from, where the platform's export carries them.
    "due_date": "预产期", "delivery_date": "分娩日期", "tb_treatment_start": "结核治疗开始日期",
}
SYNONYMS: dict[str, tuple[str, ...]] = {
    "code": ("健康档案编号", "居民健康档案编号", "档案号", "个人档案编号"),
    "name": ("居民姓名",),
    "birth_date": ("出生年月日", "出生年月"),
    "id_number": ("身份证号码", "证件号码", "公民身份号码", "身份证"),
    "relation": ("关系",),
    "head_name": ("户主",),
    "household_no": ("家庭编号", "户编号", "家庭档案编号"),
    "address": ("现居住地址", "住址", "家庭住址", "居住地址"),
    "village": ("村(居)委会", "所属村", "村委会", "居委会", "行政村", "所属村委会", "所属居委会", "村(居)"),
    "phone": ("电话", "手机号", "手机号码", "本人电话", "联系电话号码", "电话号码"),
    "registered_on": ("建档时间",),
    "tags": ("重点人群", "人群类型"),
    "due_date": ("预产日期", "预计分娩日期", "预产期日期"),
    "delivery_date": ("分娩时间", "实际分娩日期", "分娩日"),
    "tb_treatment_start": ("治疗开始日期", "开始治疗日期", "结核治疗开始时间", "抗结核治疗开始日期", "开始治疗时间"),
}
_BLOCK = 1 << 20
_HEAD_BYTES = 64 * 1024  # enough of a .csv to hold its first rows, to look for the header before the rest
_EXACT_FLOAT = float(1 << 53)  # whole numbers below this are exact as floats
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"


def header_key(text: object) -> str:
    """Headers compare without spaces, with half-width parentheses and without the required-field star."""
    key = re.sub(r"\s+", "", clean(text).replace("\ufeff", ""))
    return key.strip("*").lower()


_LOOKUP: dict[str, str] = {}
for _field, _label in FIELD_LABELS.items():
    for _text in (_label, _field, *SYNONYMS.get(_field, ())):
        _LOOKUP[header_key(_text)] = _field


def field_for_label(label: str) -> str | None:
    """The field a header or a mapping target means (standard label, synonym or field key)."""
    return _LOOKUP.get(header_key(label))


@dataclass(frozen=True)
class Headers:
    """Which columns a kind of file has: normalised header → field, the fields a header row must hold, and what the
    refusal says when none of the first rows holds them ({header_scan_rows} is filled in)."""

    lookup: dict[str, str]
    required: tuple[str, ...]
    not_found: str

    @classmethod
    def of(cls, labels: dict[str, tuple[str, ...]], required: tuple[str, ...], not_found: str) -> Headers:
        """Headers from field → (label, synonyms …); a field's own key is accepted as its header too."""
        return cls({header_key(text): name for name, texts in labels.items() for text in (*texts, name)},
                   required, not_found)


REGISTER_HEADERS = Headers(_LOOKUP, REQUIRED_FIELDS, N_(
    "在文件前{header_scan_rows}行中没有找到表头：需要一行同时含有“姓名”和“档案编号”（或其同义列名，也可以用列映射指定）"))


@dataclass(frozen=True)
class Column:
    """Where a field sits in the file and how the file spells its header (problems quote that spelling)."""

    field: str
    index: int
    header: str


Row = tuple[int, Sequence[Any]]  # (row number as the spreadsheet or text editor shows it, cell values)


@dataclass
class Table:
    """The header found in an export and an iterator over the data rows below it."""

    header_row: int
    columns: dict[str, Column]
    rows: Iterator[Row]


def match_header(values: Sequence[Any], mapping: dict[str, str],
                 headers: Headers = REGISTER_HEADERS) -> dict[str, Column]:
    """Fields found in one row; an explicit mapping (normalised header → field) wins over the synonyms."""
    columns: dict[str, Column] = {}
    keys = [header_key(value) for value in values]
    for index, key in enumerate(keys):
        target = mapping.get(key) if key else None
        if target and target not in columns:
            columns[target] = Column(target, index, clean(values[index]))
    for index, key in enumerate(keys):
        if not key or key in mapping:
            continue
        target = headers.lookup.get(key)
        if target and target not in columns:
            columns[target] = Column(target, index, clean(values[index]))
    return columns


def _find_header(head: list[Row], mapping: dict[str, str],
                 headers: Headers) -> tuple[int, dict[str, Column]] | None:
    best: tuple[int, dict[str, Column]] | None = None
    for position, (_number, values) in enumerate(head):
        columns = match_header(values, mapping, headers)
        if all(field in columns for field in headers.required) and (best is None or len(columns) > len(best[1])):
            best = (position, columns)
    return best


def _table(rows: Iterator[Row], mapping: dict[str, str], headers: Headers) -> Table | None:
    head: list[Row] = []
    for row in rows:
        head.append(row)
        if len(head) >= HEADER_SCAN_ROWS:
            break
    found = _find_header(head, mapping, headers)
    if found is None:
        return None
    position, columns = found
    header_values = [header_key(value) for value in head[position][1]]
    missing = [key for key in mapping if key not in header_values]
    if missing:
        raise InvalidValue("自定义列映射中的列“{column}”不在表头（第{row}行）中",
                           params={"column": missing[0], "row": head[position][0]}, field="列映射", value=missing[0])

    def remaining() -> Iterator[Row]:
        yield from head[position + 1:]
        yield from rows

    return Table(header_row=head[position][0], columns=columns, rows=remaining())


def _no_header(head_seen: bool, headers: Headers) -> ArchiveprintError:
    if not head_seen:
        return ArchiveprintError("文件是空的，没有任何内容")
    return ArchiveprintError(headers.not_found, params={"header_scan_rows": HEADER_SCAN_ROWS})


@contextmanager
def open_table(path: Path, *, name: str, mapping: dict[str, str], limits: ImportLimits | None = None,
               headers: Headers = REGISTER_HEADERS) -> Iterator[Table]:
    """Open an export by content and extension, check it against the limits, find its header row (the columns of
    `headers`: a register export's by default) and stream the rows below it."""
    limits = limits or ImportLimits()
    try:
        with path.open("rb") as handle:
            magic = handle.read(8)
    except OSError:
        raise ArchiveprintError("无法读取文件“{name}”", params={"name": name}) from None
    suffix = Path(name).suffix.lower() or path.suffix.lower()
    if not magic:
        raise _no_header(False, headers)
    if magic.startswith(_ZIP_MAGIC):
        with _xlsx_table(path, mapping, limits, headers) as table:
            yield table
    elif suffix in (".xlsx", ".xlsm"):
        raise ArchiveprintError(filelimits.UNREADABLE)
    elif magic.startswith(_OLE_MAGIC) or suffix == ".xls":
        raise ArchiveprintError("不支持旧版 .xls 文件，请在 Excel 中“另存为” .xlsx 或 CSV 后再导入")
    elif suffix in (".csv", ".txt"):
        yield _csv_table(path, mapping, limits, headers)
    else:
        raise ArchiveprintError("不支持的文件类型“{suffix}”，请导入 .xlsx 或 .csv 文件",
                                params={"suffix": suffix or N_("（无扩展名）")})


def inspect(path: Path, *, name: str, limits: ImportLimits) -> filelimits.Extent:
    """The file's rows (about), refusing one over the limits before anything parses it; (0 rows) when it is not
    a spreadsheet at all, which open_table then says."""
    suffix = Path(name).suffix.lower() or path.suffix.lower()
    with path.open("rb") as handle:
        magic = handle.read(8)
    if magic.startswith(_ZIP_MAGIC):
        return filelimits.inspect_xlsx(path, limits)
    if suffix in (".csv", ".txt") and magic:
        return filelimits.inspect_csv(path, limits)
    return filelimits.Extent(rows=0)


# --- .xlsx -------------------------------------------------------------------------------------------------

@contextmanager
def _xlsx_table(path: Path, mapping: dict[str, str], limits: ImportLimits, headers: Headers) -> Iterator[Table]:
    """The first sheet (active one first) whose first rows hold a header.

    python-calamine reads a whole sheet at once, about 10× faster than openpyxl's streaming reader; the limits
    were checked first, so what it reads is bounded.
    """
    extent = filelimits.inspect_xlsx(path, limits, before_scan=lambda book: _peek_header(book, mapping, headers))
    try:
        workbook = CalamineWorkbook.from_path(str(path))
        sheets = [index for index, meta in enumerate(workbook.sheets_metadata)
                  if meta.typ == SheetTypeEnum.WorkSheet]  # not chartsheets
    except (CalamineError, OSError, ValueError):
        raise ArchiveprintError(filelimits.UNREADABLE) from None
    try:
        if extent.active_sheet in sheets:
            sheets.remove(extent.active_sheet)
            sheets.insert(0, extent.active_sheet)
        seen_content = False
        for index in sheets:
            name = workbook.sheet_names[index]
            try:
                sheet = workbook.get_sheet_by_index(index)
            except (CalamineError, ValueError):
                raise ArchiveprintError("Excel 文件的工作表“{name}”已损坏，无法读取", params={"name": name}) from None
            table = _table(_sheet_rows(sheet), mapping, headers)
            if table is not None:
                yield table
                return
            seen_content = seen_content or _sheet_has_values(sheet)
        raise _no_header(seen_content, headers)
    finally:
        workbook.close()


def _peek_header(workbook: zipfile.ZipFile, mapping: dict[str, str], headers: Headers) -> None:
    """Refuse a workbook none of whose sheets has a header in its first rows, from the first rows of their XML:
    before the whole file is scanned or any sheet read. When that cannot be told cheaply, the full read decides."""
    try:
        members = xlsxpeek.sheet_members(workbook)
    except (KeyError, ValueError, SyntaxError, zipfile.BadZipFile):
        return
    seen_content = False
    for member in members:
        rows = xlsxpeek.first_rows(workbook, member, HEADER_SCAN_ROWS)
        if rows is None:
            return
        if _find_header(list(enumerate(rows, start=1)), mapping, headers) is not None:
            return
        seen_content = seen_content or bool(rows)
    if seen_content:
        raise _no_header(True, headers)


def _sheet_rows(sheet: Any) -> Iterator[Row]:
    """Rows numbered as Excel shows them, from the first row holding anything (as xlsxpeek looks for the header).

    Empty cells are "" (openpyxl gave None); numbers come as floats, so whole ones that floats hold exactly become
    ints, as openpyxl read them: a 16-digit number stays checkable for the digits Excel drops (rowcheck.lost_digits).
    """
    start = sheet.start
    first = start[0] if start else 0  # iter_rows() gives the blank rows above it too
    for number, values in enumerate(islice(sheet.iter_rows(), first, None), start=first + 1):
        if float in map(type, values):
            values = [int(v) if type(v) is float and v.is_integer() and -_EXACT_FLOAT < v < _EXACT_FLOAT else v
                      for v in values]
        yield number, values


def _sheet_has_values(sheet: Any) -> bool:
    return any(any(value not in (None, "") for value in values) for _number, values in _sheet_rows(sheet))


# --- .csv --------------------------------------------------------------------------------------------------

def _csv_table(path: Path, mapping: dict[str, str], limits: ImportLimits, headers: Headers) -> Table:
    """The header is looked for in the first rows, decoded as the file's start suggests, before the whole file is
    read to settle its encoding (a wrong file is refused without reading it all)."""
    filelimits.inspect_csv(path, limits)
    guess = detect_encoding(path, head=True)
    try:
        table = _table(_csv_rows(path, guess, limits), mapping, headers)
    except UnicodeDecodeError:
        table = None
        guess = ""
    if table is None and guess:
        raise _no_header(_had_content(path, guess, limits), headers)
    encoding = detect_encoding(path)
    if encoding != guess:
        table = _table(_csv_rows(path, encoding, limits), mapping, headers)
        if table is None:
            raise _no_header(_had_content(path, encoding, limits), headers)
    assert table is not None
    return table


def detect_encoding(path: Path, *, head: bool = False) -> str:
    """UTF-8 (with or without BOM) if the whole file decodes strictly, else GB18030 (a superset of GBK).

    GB18030 is tried before charset-normalizer's guess because short GBK files are easily mistaken for Big5 or a
    Korean code page, and a township export is Chinese; the guess only helps with files that are neither.
    `head`: judge by the file's first 64 KB only.
    """
    with path.open("rb") as handle:
        start = handle.read(_HEAD_BYTES if head else 8192)
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in start[:8192]:
        raise ArchiveprintError("文件不是文本格式的 CSV（含有二进制内容），请确认选对了文件")
    for encoding in ("utf-8-sig", "gb18030"):
        if _decodes(path, encoding, limit=_HEAD_BYTES if head else None):
            return encoding
    from charset_normalizer import from_bytes, from_path  # lazy: only for a CSV in neither UTF-8 nor GB18030

    best = (from_bytes(start) if head else from_path(path)).best()
    if best is not None and _decodes(path, best.encoding, limit=_HEAD_BYTES if head else None):
        return best.encoding
    raise ArchiveprintError("无法识别 CSV 文件的编码（支持 UTF-8、GBK、GB18030），请在 Excel 中另存为“CSV UTF-8”")


def _decodes(path: Path, encoding: str, *, limit: int | None = None) -> bool:
    """Whether the file (or its first `limit` bytes, which may end inside a character) decodes strictly."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    try:
        with path.open("rb") as handle:
            if limit is not None:
                decoder.decode(handle.read(limit))
                return True
            for block in iter(lambda: handle.read(_BLOCK), b""):
                decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _sniff_delimiter(sample: str) -> str:
    """Comma, tab (Excel's “Unicode text”) or semicolon: whichever the first lines use most."""
    lines = sample.splitlines()[:HEADER_SCAN_ROWS]
    counts = {sep: sum(line.count(sep) for line in lines) for sep in (",", "\t", ";")}
    return max(counts, key=lambda sep: (counts[sep], sep == ","))


def _csv_rows(path: Path, encoding: str, limits: ImportLimits) -> Iterator[Row]:
    """Records with the physical line number on which each starts (quoted fields may span lines); a record with
    more fields than the column limit is refused."""
    with path.open(encoding=encoding, newline="") as handle:
        delimiter = _sniff_delimiter(handle.read(65536))
        handle.seek(0)
        reader = csv.reader(handle, delimiter=delimiter)
        last = 0
        try:
            for record in reader:
                if len(record) > limits.columns:
                    raise filelimits.too_large(Message("CSV 文件第{row}行的列数", {"row": last + 1}), len(record),
                                               limits.columns, "列")
                yield last + 1, record
                last = reader.line_num
        except csv.Error:
            raise ArchiveprintError("CSV 文件第{row}行附近格式错误，无法读取", params={"row": last + 1}) from None


def _had_content(path: Path, encoding: str, limits: ImportLimits) -> bool:
    return any(any(cell.strip() for cell in values) for _number, values in _csv_rows(path, encoding, limits))
