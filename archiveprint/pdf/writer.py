"""A streaming PDF writer: objects go to the file as they are made, so a 100,000-page job uses flat memory.

Print jobs draw each blank form page once (WeasyPrint), import it here as a Form XObject, then write every
resident's page as a tiny content stream that places that XObject and stamps the values on it.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterable
from typing import BinaryIO

from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, PdfObject, StreamObject

A4 = (595.2756, 841.8898)  # points
PAGES_PER_NODE = 256


def name(value: str) -> bytes:
    out = bytearray(b"/")
    for byte in value.encode():
        if byte < 0x21 or byte > 0x7E or chr(byte) in "#()<>[]{}/%":
            out += f"#{byte:02X}".encode()
        else:
            out.append(byte)
    return bytes(out)


def literal(text: str) -> bytes:
    """A PDF text string: ASCII as a literal, anything else as UTF-16BE with BOM.

    A carriage return is escaped: a bare one inside a literal is an end of line, which readers turn into LF.
    """
    if text.isascii():
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").replace("\r", "\\r")
        return f"({escaped})".encode()
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode() + b">"


def num(value: float) -> bytes:
    if float(value).is_integer():
        return str(int(value)).encode()
    return f"{value:.3f}".rstrip("0").rstrip(".").encode()


def ref(obj_id: int) -> bytes:
    return f"{obj_id} 0 R".encode()


def dictionary(entries: dict[str, bytes]) -> bytes:
    return b"<<" + b"".join(name(key) + b" " + value for key, value in entries.items()) + b">>"


def array(items: Iterable[bytes]) -> bytes:
    return b"[" + b" ".join(items) + b"]"


class PdfStream:
    """Writes objects in order to `fp`; the page tree, catalogue and cross-reference table come at `close()`."""

    def __init__(self, fp: BinaryIO, *, compress_level: int = 6) -> None:
        self.fp = fp
        self.compress_level = compress_level
        self.offsets: dict[int, int] = {}
        self.next_id = 1
        self.catalog_id = self.reserve()
        self.root_pages_id = self.reserve()
        self._nodes: list[tuple[int, list[int]]] = []
        self._page_count = 0
        self._write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        self._copied: dict[tuple[int, int, int], int] = {}

    @property
    def page_count(self) -> int:
        return self._page_count

    def _write(self, data: bytes) -> None:
        self.fp.write(data)

    def reserve(self) -> int:
        obj_id = self.next_id
        self.next_id += 1
        return obj_id

    def write_object(self, body: bytes, obj_id: int | None = None) -> int:
        obj_id = obj_id or self.reserve()
        self.offsets[obj_id] = self.fp.tell()
        self._write(f"{obj_id} 0 obj\n".encode() + body + b"\nendobj\n")
        return obj_id

    def write_stream(self, data: bytes, entries: dict[str, bytes] | None = None, *, obj_id: int | None = None,
                     compress: bool = True) -> int:
        entries = dict(entries or {})
        if compress and "Filter" not in entries:
            data = zlib.compress(data, self.compress_level)
            entries["Filter"] = b"/FlateDecode"
        entries["Length"] = str(len(data)).encode()
        return self.write_object(dictionary(entries) + b"\nstream\n" + data + b"\nendstream", obj_id)

    def add_page(self, contents: bytes, resources: bytes, *, size: tuple[float, float] = A4) -> int:
        """Append a page; pages are grouped under intermediate nodes so viewers open huge files fast."""
        if not self._nodes or len(self._nodes[-1][1]) >= PAGES_PER_NODE:
            self._nodes.append((self.reserve(), []))
        parent_id, kids = self._nodes[-1]
        contents_id = self.write_stream(contents)
        page_id = self.write_object(dictionary({
            "Type": b"/Page", "Parent": ref(parent_id), "MediaBox": array([b"0", b"0", num(size[0]), num(size[1])]),
            "Resources": resources, "Contents": ref(contents_id),
        }))
        kids.append(page_id)
        self._page_count += 1
        return page_id

    # --- importing pages drawn by WeasyPrint ----------------------------------------------------------------

    def import_page_as_xobject(self, page: DictionaryObject, source_key: int) -> int:
        """Copy a pypdf page (and everything it uses) into this file as one reusable Form XObject."""
        contents = page.get_contents()
        data = contents.get_data() if contents is not None else b""
        box = [float(v) for v in page.mediabox]
        resources = page.get("/Resources")
        entries = {
            "Type": b"/XObject", "Subtype": b"/Form", "FormType": b"1",
            "BBox": array(num(v) for v in box),
            "Resources": self._serialize(resources.get_object(), source_key) if resources is not None else b"<<>>",
        }
        return self.write_stream(data, entries)

    def _serialize(self, obj: PdfObject, source_key: int) -> bytes:
        if isinstance(obj, IndirectObject):
            key = (source_key, obj.idnum, obj.generation)
            if key not in self._copied:
                self._copied[key] = self.reserve()
                target = obj.get_object()
                self._write_copied(target, self._copied[key], source_key)
            return ref(self._copied[key])
        if isinstance(obj, StreamObject):
            raise ValueError("a stream must be an indirect object")
        if isinstance(obj, DictionaryObject):
            return b"<<" + b"".join(name(str(k)[1:]) + b" " + self._serialize(v, source_key)
                                    for k, v in obj.items()) + b">>"
        if isinstance(obj, ArrayObject):
            return b"[" + b" ".join(self._serialize(v, source_key) for v in obj) + b"]"
        buffer = io.BytesIO()
        obj.write_to_stream(buffer)
        return buffer.getvalue()

    def _write_copied(self, target: PdfObject, obj_id: int, source_key: int) -> None:
        if isinstance(target, StreamObject):
            entries = {str(k)[1:]: self._serialize(v, source_key) for k, v in target.items() if k != "/Length"}
            raw = target._data  # already encoded with the filters its dictionary names
            self.write_stream(raw, entries, obj_id=obj_id, compress=False)
        else:
            self.write_object(self._serialize(target, source_key), obj_id)

    # --- finishing --------------------------------------------------------------------------------------------

    def close(self, *, title: str = "", producer: str = "archiveprint", actual_size: bool = False) -> None:
        """Write the page tree, catalogue, info and cross-reference table.

        `actual_size` asks viewers to print at 100 % (/ViewerPreferences << /PrintScaling /None >>): label sheets
        drift when a viewer shrinks the page to the printable area.
        """
        for node_id, kids in self._nodes:
            self.write_object(dictionary({"Type": b"/Pages", "Parent": ref(self.root_pages_id),
                                          "Kids": array(ref(k) for k in kids), "Count": str(len(kids)).encode()}),
                              node_id)
        self.write_object(dictionary({"Type": b"/Pages", "Kids": array(ref(n) for n, _ in self._nodes),
                                      "Count": str(self._page_count).encode()}), self.root_pages_id)
        catalog = {"Type": b"/Catalog", "Pages": ref(self.root_pages_id)}
        if actual_size:
            catalog["ViewerPreferences"] = dictionary({"PrintScaling": b"/None"})
        self.write_object(dictionary(catalog), self.catalog_id)
        info_id = self.write_object(dictionary({"Title": literal(title), "Producer": literal(producer)}))
        xref_at = self.fp.tell()
        size = self.next_id
        lines = [b"xref\n", f"0 {size}\n".encode(), b"0000000000 65535 f \n"]
        for obj_id in range(1, size):
            offset = self.offsets.get(obj_id)
            lines.append(f"{offset:010d} 00000 n \n".encode() if offset is not None else b"0000000000 65535 f \n")
        self._write(b"".join(lines))
        self._write(b"trailer\n" + dictionary({"Size": str(size).encode(), "Root": ref(self.catalog_id),
                                               "Info": ref(info_id)})
                    + f"\nstartxref\n{xref_at}\n%%EOF\n".encode())
        self.fp.flush()
