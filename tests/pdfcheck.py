"""Helpers for tests that open real PDFs: text per page, fonts, rasterising and decoding barcodes."""

from __future__ import annotations

from pathlib import Path

import pypdf

A4_PT = (595.28, 841.89)


def read(path: Path | bytes) -> pypdf.PdfReader:
    import io

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

    pdf = pypdfium2.PdfDocument(path if isinstance(path, bytes) else str(path))
    image = pdf[page_index].render(scale=dpi / 72, grayscale=True).to_pil()
    pdf.close()
    return image


def decode_barcodes(image) -> list[str]:  # type: ignore[no-untyped-def]
    import zxingcpp

    return [result.text for result in zxingcpp.read_barcodes(image)]
