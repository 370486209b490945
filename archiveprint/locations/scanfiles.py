"""A barcode scanner's stored-codes file (条码[,架位][,时间] per line, UTF-8 or GBK), read for an inventory upload."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime

from archiveprint.errors import N_, InvalidValue, Message


@dataclass(frozen=True)
class CodeLine:
    line: int
    code: str
    shelf: str | None
    at: datetime | None  # as the scanner wrote it: the archive room's wall-clock time, naive


HEADER_WORDS = {"code", "barcode", "条码", "编号", "档案袋编号", "档案编号"}
TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%dT%H:%M:%S",
                "%Y%m%d%H%M%S")


def decode_codes_file(data: bytes) -> tuple[str, str]:
    """The file's text and encoding: UTF-8 (with or without BOM), else GBK/GB18030 as Windows scanner tools write."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding), "utf-8" if encoding == "utf-8-sig" else "gbk"
        except UnicodeDecodeError:
            continue
    raise InvalidValue("文件编码无法识别（应为 UTF-8 或 GBK 文本）", field="文件")


def parse_codes_file(text: str) -> tuple[list[CodeLine], list[tuple[int, str]]]:
    """Lines of `code[,shelf][,time]` (tabs and semicolons also separate; blank lines and spaces are ignored; a
    header line is skipped). Returns the lines and the problems as (line number, Chinese reason)."""
    lines: list[CodeLine] = []
    problems: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        delimiter = "\t" if "\t" in raw else ";" if ";" in raw and "," not in raw else ","
        fields = [f.strip() for f in next(csv.reader([raw], delimiter=delimiter))]
        while fields and not fields[-1]:
            fields.pop()
        if not lines and not problems and fields[0].lower() in HEADER_WORDS:
            continue
        if len(fields) > 3:
            problems.append((number, Message("列数过多（{count} 列），应为 条码[,架位][,时间]",
                                             {"count": len(fields)})))
            continue
        code = fields[0].replace(" ", "")
        if not code:
            problems.append((number, N_("第一列（条码）为空")))
            continue
        if len(code) > 64:
            problems.append((number, N_("条码过长（超过 64 个字符）")))
            continue
        at = None
        if len(fields) == 3 and fields[2]:
            at = _parse_time(fields[2])
            if at is None:
                problems.append((number, Message("时间“{time}”无法识别，应为 2026-11-25 14:30:00",
                                                 {"time": fields[2]})))
                continue
        shelf = fields[1] if len(fields) > 1 and fields[1] else None
        lines.append(CodeLine(number, code, shelf, at))
    return lines, problems


def _parse_time(text: str) -> datetime | None:
    for fmt in TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None
