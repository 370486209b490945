"""Issue #11.8: hostile and heavy register files are refused before they are read, in seconds, with the limit named."""

from __future__ import annotations

import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from archiveprint.config import ImportLimits, Settings
from archiveprint.errors import ArchiveprintError, InvalidValue
from archiveprint.register import filelimits, sources
from archiveprint.register.filelimits import FileTooLarge
from tests.register.test_importer import HEADER, TITLE, counts, family, run, write_xlsx

NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
CONTENT_TYPES = (
    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
ROOT_RELS = (
    '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>')
WORKBOOK = (
    f'<?xml version="1.0"?><workbook {NS} '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="花名册" sheetId="1" r:id="rId1"/></sheets></workbook>')
WORKBOOK_RELS = (
    '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/></Relationships>')


def cell_row(number: int | None, values: list[str]) -> str:
    """One <row> of inline strings; without a number the cells carry no references (allowed, and compressible)."""
    if number is None:
        return "<row>" + "".join(f'<c t="inlineStr"><is><t>{v}</t></is></c>' for v in values) + "</row>"
    cells = "".join(f'<c r="{chr(65 + i)}{number}" t="inlineStr"><is><t>{v}</t></is></c>' for i, v in enumerate(values))
    return f'<row r="{number}">{cells}</row>'


def write_sheet(path: Path, parts: Iterator[str], *, dimension: str | None = None) -> Path:
    """A minimal .xlsx whose one sheet is streamed from `parts` into the zip (a huge sheet costs no memory)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as workbook:
        workbook.writestr("[Content_Types].xml", CONTENT_TYPES)
        workbook.writestr("_rels/.rels", ROOT_RELS)
        workbook.writestr("xl/workbook.xml", WORKBOOK)
        workbook.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        with workbook.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(f'<worksheet {NS}>'.encode())
            if dimension:
                sheet.write(f'<dimension ref="{dimension}"/>'.encode())
            sheet.write(b"<sheetData>")
            for part in parts:
                sheet.write(part.encode())
            sheet.write(b"</sheetData></worksheet>")
    return path


def wrong_header_then(rows: int) -> Iterator[str]:
    """A title, a header that is not a register's, then `rows` rows of the same data (1 MB of XML at a time)."""
    yield cell_row(None, [TITLE])
    yield cell_row(None, ["序号", "名字", "年龄"])
    block = cell_row(None, ["1", "张三", "70"]) * 20_000
    for _ in range(rows // 20_000):
        yield block


def refused(session, path: Path, **options: object) -> tuple[str, float]:
    before = counts(session)
    started = time.perf_counter()
    with pytest.raises(ArchiveprintError) as caught:
        run(session, path, **options)
    elapsed = time.perf_counter() - started
    assert counts(session) == before
    return str(caught.value), elapsed


# --- .xlsx ------------------------------------------------------------------------------------------------------

def test_issue_11_8_zip_bomb_with_a_wrong_header_is_refused_by_its_expansion_in_seconds(session, township, tmp_path):
    """2,000,000 rows, 100 MB of XML zipped to a few hundred KB: openpyxl took minutes over it, to end on the
    header; the zip's directory gives it away at once."""
    path = write_sheet(tmp_path / "bomb.xlsx", wrong_header_then(2_000_000))
    assert path.stat().st_size < 2_000_000
    message, elapsed = refused(session, path)
    assert message.startswith("文件过大，未导入：Excel 文件中“xl/worksheets/sheet1.xml”的压缩比（解压后÷压缩后）为 ")
    assert "倍，超过上限 100 倍" in message
    assert elapsed < 5


def test_issue_11_8_a_declared_dimension_of_20_million_rows_is_refused_before_reading(session, township, tmp_path):
    rows = [cell_row(1, [TITLE]), cell_row(2, HEADER)]
    path = write_sheet(tmp_path / "declared.xlsx", iter(rows), dimension="A1:M20000000")
    message, _elapsed = refused(session, path)
    assert message == ("文件过大，未导入：工作表声明的行数为 20,000,000 行，超过上限 300,000 行。"
                       "请把文件拆成几份分别导入，或请管理员调整导入上限")


def test_issue_11_8_a_sparse_sheet_that_would_fill_memory_is_refused(session, township, tmp_path):
    """Two cells, at A1 and at CV299999: a reader holding the sheet as a grid would allocate about 900 MB."""
    rows = [cell_row(1, HEADER), '<row r="299999"><c r="CV299999" t="inlineStr"><is><t>x</t></is></c></row>']
    path = write_sheet(tmp_path / "sparse.xlsx", iter(rows))
    message, _elapsed = refused(session, path)
    assert message.startswith("文件过大，未导入：工作表读入所需内存为 916 MB，超过上限 512 MB")


def test_issue_11_8_rows_columns_and_unpacked_size_follow_the_limits(session, township, tmp_path):
    path = write_xlsx(tmp_path / "family.xlsx", family())  # 6 rows, 13 columns (A–M)
    assert run(session, path, dry_run=True, limits=ImportLimits(rows=6)).ok
    message, _elapsed = refused(session, path, limits=ImportLimits(rows=5))
    assert "工作表声明的行数为 6 行，超过上限 5 行" in message
    message, _elapsed = refused(session, path, limits=ImportLimits(columns=12))
    assert "工作表声明的列数为 13 列，超过上限 12 列" in message
    big = write_sheet(tmp_path / "big.xlsx", wrong_header_then(40_000))  # 5 MB unzipped
    message, _elapsed = refused(session, big, limits=ImportLimits(megabytes=4))
    assert "Excel 文件解压后的大小为 5 MB，超过上限 4 MB" in message


def test_issue_11_8_a_sheet_whose_data_runs_on_past_its_declared_size_is_refused(session, township, tmp_path):
    """A zip entry that declares less than its data unpacks to gets past every size check of the directory;
    zipfile stops at the declared size, but other readers do not."""
    path = write_sheet(tmp_path / "liar.xlsx", wrong_header_then(40_000))
    data = bytearray(path.read_bytes())
    name = b"xl/worksheets/sheet1.xml"
    entry = data.index(b"PK\x01\x02")  # the central directory, which zipfile and calamine read
    while data[entry + 46:entry + 46 + len(name)] != name:
        entry = data.index(b"PK\x01\x02", entry + 4)
    data[entry + 24:entry + 28] = (5000).to_bytes(4, "little")  # its unpacked size: 5,000 bytes, it says
    path.write_bytes(bytes(data))
    message, _elapsed = refused(session, path)
    assert message == "无法打开 Excel 文件：文件已损坏，或不是 .xlsx 格式"


def test_issue_11_8_a_wrong_header_is_found_in_the_first_rows(session, township, tmp_path, monkeypatch):
    """2,000,000 rows (90 MB of XML) under a header that is not a register's, let past the expansion limit: the
    header is looked for in the first rows of the sheet's XML, before the file is scanned or read whole."""
    path = write_sheet(tmp_path / "notes.xlsx", wrong_header_then(2_000_000))
    scanned: list[str] = []
    real_scan = filelimits._scan

    def scanning(workbook: zipfile.ZipFile, info: zipfile.ZipInfo, *args: object, **kwargs: object):
        scanned.append(info.filename)
        return real_scan(workbook, info, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(filelimits, "_scan", scanning)
    monkeypatch.setattr(sources, "CalamineWorkbook", None)  # never reached
    message, elapsed = refused(session, path, limits=ImportLimits(ratio=1000))
    assert message == ("在文件前15行中没有找到表头：需要一行同时含有“姓名”和“档案编号”"
                       "（或其同义列名，也可以用列映射指定）")
    assert scanned == [] and elapsed < 5


def test_issue_11_8_a_header_on_the_second_sheet_or_below_a_gap_is_still_found(session, township, tmp_path):
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.title = "说明"
    workbook.active.append(["本表由省平台导出"])
    sheet = workbook.create_sheet("花名册")
    sheet["A20"] = TITLE  # the sheet's first row holding anything is row 20
    for offset, row in enumerate([HEADER, *family()], start=21):
        for column, value in enumerate(row, start=1):
            sheet.cell(row=offset, column=column, value=value)
    workbook.save(tmp_path / "two.xlsx")
    report = run(session, tmp_path / "two.xlsx")
    assert report.added == 4 and report.ok


# --- .csv -------------------------------------------------------------------------------------------------------

def test_issue_11_8_a_csv_with_a_wrong_header_is_refused_without_decoding_it_all(session, township, tmp_path,
                                                                                monkeypatch):
    path = tmp_path / "notes.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write(f"{TITLE}\n序号,名字,年龄\n")
        handle.write("1,张三,70\n" * 200_000)
    decoded: list[int | None] = []
    real = sources._decodes

    def spying(file: Path, encoding: str, *, limit: int | None = None) -> bool:
        decoded.append(limit)
        return real(file, encoding, limit=limit)

    monkeypatch.setattr(sources, "_decodes", spying)
    message, _elapsed = refused(session, path)
    assert "在文件前15行中没有找到表头" in message
    assert decoded == [64 * 1024]  # the first 64 KB, never the whole file


def test_issue_11_8_csv_lines_bytes_and_fields_follow_the_limits(session, township, tmp_path):
    path = tmp_path / "register.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(HEADER) + "\n")
        handle.write(("," * 12 + "\n") * 10)  # 11 lines
    message, _elapsed = refused(session, path, limits=ImportLimits(rows=10))
    assert "CSV 文件行数为 11 行，超过上限 10 行" in message
    message, _elapsed = refused(session, path, limits=ImportLimits(columns=12))
    assert "CSV 文件第1行的列数为 13 列，超过上限 12 列" in message
    path.write_bytes(path.read_bytes() + b" " * (1 << 20))
    message, _elapsed = refused(session, path, limits=ImportLimits(megabytes=1))
    assert "CSV 文件大小为 2 MB，超过上限 1 MB" in message


# --- settings ---------------------------------------------------------------------------------------------------

def test_issue_11_8_limits_are_settings_with_defaults(tmp_path):
    env = {"ARCHIVEPRINT_INSTANCE": str(tmp_path / "instance"), "SECRET_KEY": "k"}
    assert Settings.from_env(env).import_limits == ImportLimits(rows=300_000, columns=200, megabytes=256, ratio=100,
                                                                memory_megabytes=512)
    custom = Settings.from_env({**env, "ARCHIVEPRINT_IMPORT_MAX_ROWS": "50000", "ARCHIVEPRINT_IMPORT_MAX_COLUMNS": "40",
                                "ARCHIVEPRINT_IMPORT_MAX_MB": "64", "ARCHIVEPRINT_IMPORT_MAX_RATIO": "30",
                                "ARCHIVEPRINT_IMPORT_MAX_MEMORY_MB": "256"})
    assert custom.import_limits == ImportLimits(rows=50_000, columns=40, megabytes=64, ratio=30, memory_megabytes=256)
    with pytest.raises(InvalidValue, match="应为不小于 1 的整数"):
        Settings.from_env({**env, "ARCHIVEPRINT_IMPORT_MAX_ROWS": "0"})
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for variable in ("ROWS", "COLUMNS", "MB", "RATIO", "MEMORY_MB"):
        assert f"| `ARCHIVEPRINT_IMPORT_MAX_{variable}` |" in readme


def test_issue_11_8_too_large_is_its_own_error(tmp_path):
    path = write_sheet(tmp_path / "declared.xlsx", iter([cell_row(1, HEADER)]), dimension="A1:M20000000")
    with pytest.raises(FileTooLarge):
        sources.inspect(path, name="declared.xlsx", limits=ImportLimits())
