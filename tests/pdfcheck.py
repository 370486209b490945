"""Helpers for tests that open real PDFs: structure, text per page, fonts, rasterising and decoding barcodes.

Every PDF a test opens through here is first checked by qpdf, an independent reader: pypdf and pdfium both repair
a damaged file silently (a wrong cross-reference table reads fine in them), a strict printer's interpreter does not.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import tempfile
from pathlib import Path

import pypdf

A4_PT = (595.28, 841.89)
_sound: set[bytes] = set()  # digests of files qpdf already passed (tests often read the same PDF twice)


def check_structure(path: Path | bytes) -> None:
    """Fail unless `qpdf --check` finds the file sound: no errors and no warnings (a damaged cross-reference
    table, a wrong /Length, a broken object or stream are warnings there: qpdf recovers, then says so)."""
    data = path if isinstance(path, bytes) else Path(path).read_bytes()
    digest = hashlib.sha256(data).digest()
    if digest in _sound:
        return
    with tempfile.NamedTemporaryFile(suffix=".pdf") as copy:
        copy.write(data)
        copy.flush()
        result = subprocess.run(["qpdf", "--check", copy.name], capture_output=True, text=True, check=False)
    report = (result.stdout + result.stderr).replace(copy.name, "<pdf>")
    assert result.returncode == 0 and "WARNING" not in report, f"qpdf --check: the PDF is not sound\n{report}"
    _sound.add(digest)


def read(path: Path | bytes) -> pypdf.PdfReader:
    check_structure(path)
    return pypdf.PdfReader(io.BytesIO(path) if isinstance(path, bytes) else path)


def page_texts(path: Path | bytes) -> list[str]:
    return [page.extract_text() or "" for page in read(path).pages]


def compact(text: str) -> str:
    return "".join(text.split())


def fonts(path: Path | bytes) -> list[dict]:
    """Every font dictionary used by any page (through Form XObjects too)."""
    found: dict[int, dict] = {}

    def visit(resources: object) -> None:
        if not resources:
            return
        resources = resources.get_object()
        for font in (resources.get("/Font") or {}).values():
            obj = font.get_object()
            found[id(obj)] = obj
        for xobject in (resources.get("/XObject") or {}).values():
            xobject = xobject.get_object()
            if xobject.get("/Subtype") == "/Form":
                visit(xobject.get("/Resources"))

    for page in read(path).pages:
        visit(page.get("/Resources"))
    return list(found.values())


def assert_fonts_embedded_and_subset(path: Path | bytes) -> None:
    for font in fonts(path):
        base = str(font["/BaseFont"])
        assert "+" in base and len(base.split("+")[0]) == 7, f"font not subset: {base}"
        descendants = font.get("/DescendantFonts")
        descriptor = (descendants[0].get_object() if descendants else font)["/FontDescriptor"].get_object()
        assert any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")), f"font not embedded: {base}"


def rasterize(path: Path | bytes, page_index: int, dpi: int):  # type: ignore[no-untyped-def]
    """A page as a grayscale PIL image (pdfium, the engine Chrome uses)."""
    import pypdfium2

    check_structure(path)
    pdf = pypdfium2.PdfDocument(path if isinstance(path, bytes) else str(path))
    image = pdf[page_index].render(scale=dpi / 72, grayscale=True).to_pil()
    pdf.close()
    return image


def decode_barcodes(image) -> list[str]:  # type: ignore[no-untyped-def]
    import zxingcpp

    return [result.text for result in zxingcpp.read_barcodes(image)]
