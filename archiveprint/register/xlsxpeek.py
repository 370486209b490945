"""The first rows of each sheet of an .xlsx, read straight from its XML, to look for the header before anything
reads a whole sheet (python-calamine reads a sheet at once)."""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Iterator
from xml.etree.ElementTree import Element, ParseError, XMLPullParser

CHUNK = 64 * 1024
MAX_BYTES = 4 << 20  # of a sheet's XML, to find its first rows; past it the peek gives up (the full read decides)
Rows = list[list[str]]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(element: Element) -> str:
    """An <si> or <is>: its <t>, or its runs' <t>s; never the phonetic guide (<rPh>) Chinese IMEs add."""
    parts: list[str] = []
    for child in element:
        name = _local(child.tag)
        if name == "t":
            parts.append(child.text or "")
        elif name == "r":
            parts.extend(t.text or "" for t in child if _local(t.tag) == "t")
    return "".join(parts)


def sheet_members(workbook: zipfile.ZipFile) -> list[str]:
    """The worksheets' XML members in workbook order (the order python-calamine numbers the sheets in)."""
    parser = XMLPullParser(["end"])
    parser.feed(workbook.read("xl/_rels/workbook.xml.rels"))
    targets = {element.get("Id"): element.get("Target") or "" for _event, element in parser.read_events()
               if _local(element.tag) == "Relationship"}
    parser = XMLPullParser(["end"])
    parser.feed(workbook.read("xl/workbook.xml"))
    members = []
    for _event, element in parser.read_events():
        if _local(element.tag) != "sheet":
            continue
        rel = next((value for key, value in element.attrib.items() if _local(key) == "id"), "")
        target = targets.get(rel, "")
        members.append(target.lstrip("/") if target.startswith("/") else posixpath.normpath("xl/" + target))
    return members


def _elements(workbook: zipfile.ZipFile, member: str, names: frozenset[str]) -> Iterator[Element]:
    """End events of the named elements, reading at most MAX_BYTES; other elements are dropped as they end."""
    parser = XMLPullParser(["end"])
    read = 0
    with workbook.open(member) as handle:
        while read < MAX_BYTES:
            chunk = handle.read(CHUNK)
            if not chunk:
                break
            read += len(chunk)
            parser.feed(chunk)
            for _event, element in parser.read_events():
                if _local(element.tag) in names:
                    yield element
    if read >= MAX_BYTES:
        raise LookupError("too far")


def first_rows(workbook: zipfile.ZipFile, member: str, count: int) -> Rows | None:
    """The sheet's first `count` rows from its first row holding anything, as text (shared strings resolved);
    None when that cannot be told cheaply (the caller then reads the sheet as usual)."""
    try:
        rows: list[tuple[int, list[tuple[int, str, str]]]] = []
        number = 0
        for row in _elements(workbook, member, frozenset({"row"})):
            number = int(row.get("r") or number + 1)
            cells = []
            position = 0
            for cell in row:
                if _local(cell.tag) != "c":
                    continue
                position = _column(cell.get("r")) or position + 1
                cells.append((position, cell.get("t") or "n", _value(cell)))
            row.clear()
            if any(value for _position, _kind, value in cells):
                if rows and number >= rows[0][0] + count:
                    break
                rows.append((number, cells))
        strings = _shared_strings(workbook, rows)
        return [_row(cells, strings) for _number, cells in rows]
    except (LookupError, ParseError, ValueError, KeyError, zipfile.BadZipFile):
        return None


def _column(reference: str | None) -> int:
    number = 0
    for letter in reference or "":
        if not letter.isalpha():
            break
        number = number * 26 + ord(letter.upper()) - 64
    return number


def _value(cell: Element) -> str:
    for child in cell:
        name = _local(child.tag)
        if name == "v":
            return child.text or ""
        if name == "is":
            return _text(child)
    return ""


def _shared_strings(workbook: zipfile.ZipFile, rows: list[tuple[int, list[tuple[int, str, str]]]]) -> list[str]:
    wanted = [int(value) for _number, cells in rows for _position, kind, value in cells if kind == "s" and value]
    if not wanted:
        return []
    needed = max(wanted)
    strings: list[str] = []
    for item in _elements(workbook, "xl/sharedStrings.xml", frozenset({"si"})):
        strings.append(_text(item))
        item.clear()
        if len(strings) > needed:
            break
    return strings


def _row(cells: list[tuple[int, str, str]], strings: list[str]) -> list[str]:
    values = [""] * max((position for position, _kind, _value in cells), default=0)
    for position, kind, value in cells:
        values[position - 1] = strings[int(value)] if kind == "s" and value else value
    return values
