"""Rasterise label PDFs and read every cell back: barcodes decoded per cell, crosshairs located in the raster."""

from __future__ import annotations

import io
from pathlib import Path

from archiveprint.labels.sheet import NO_CALIBRATION, Calibration, cell_at
from archiveprint.labels.stock import LabelStock
from tests.pdfcheck import decode_barcodes, rasterize

RESULTS = Path(__file__).resolve().parent.parent / "results"
DPIS = (200, 300)
BLUR = 0.6  # a slightly soft print or scan (PIL GaussianBlur radius, in pixels)


def page_image(pdf: bytes, page: int, dpi: int, *, blur: float = 0.0):  # type: ignore[no-untyped-def]
    image = rasterize(pdf, page, dpi)
    if blur:
        from PIL import ImageFilter

        image = image.filter(ImageFilter.GaussianBlur(blur))
    return image


def cell_image(image, stock: LabelStock, index: int, dpi: int,  # type: ignore[no-untyped-def]
               calibration: Calibration = NO_CALIBRATION, *, pad_mm: float = 0.0):
    """The raster of one cell (the whole page for a roll), where the label was printed."""
    cell = cell_at(stock, index, calibration)
    px = dpi / 25.4
    box = (max(0, round((cell.left - pad_mm) * px)), max(0, round((cell.top - pad_mm) * px)),
           min(image.width, round((cell.left + cell.width + pad_mm) * px)),
           min(image.height, round((cell.top + cell.height + pad_mm) * px)))
    return image.crop(box)


def decode_sheet(pdf: bytes, stock: LabelStock, expected: list[list[str | None]], *, name: str,
                 calibration: Calibration = NO_CALIBRATION, dpis: tuple[int, ...] = DPIS,
                 blur_pages: tuple[int, ...] = (0,)) -> None:
    """Every cell of every page decodes to exactly the code it should carry (None: the cell stays empty), at each
    resolution; the pages in `blur_pages` are read again blurred. A failing raster is saved under tests/results/."""
    for dpi in dpis:
        for page, cells in enumerate(expected):
            for blur in (0.0, BLUR) if page in blur_pages else (0.0,):
                image = page_image(pdf, page, dpi, blur=blur)
                for index, code in enumerate(cells, start=1):
                    found = decode_barcodes(cell_image(image, stock, index, dpi, calibration))
                    if found != ([code] if code else []):
                        RESULTS.mkdir(exist_ok=True)
                        shot = RESULTS / f"{name}-p{page + 1}-c{index}-{dpi}dpi-blur{blur}.png"
                        cell_image(image, stock, index, dpi, calibration).save(shot)
                        raise AssertionError(f"{name}: page {page + 1} cell {index} at {dpi} dpi (blur {blur}) "
                                             f"read {found}, expected {code!r}; raster saved to {shot}")


def expected_pages(stock: LabelStock, codes: list[str], *, start: int = 1,
                   used: tuple[frozenset[int], ...] = ()) -> list[list[str | None]]:
    """The code each cell should carry, page by page, for labels printed in order: the first sheet from `start`,
    the cells in `used[n]` of the n-th sheet skipped. Worked out here, not by labels/sheet.py (under test)."""
    pages: list[list[str | None]] = []
    page, index = 0, start
    for code in codes:
        while index > stock.per_page or index in (used[page] if page < len(used) else frozenset()):
            page, index = (page + 1, 1) if index >= stock.per_page else (page, index + 1)
        while len(pages) <= page:
            pages.append([None] * stock.per_page)
        pages[page][index - 1] = code
        index += 1
    return pages


def crosshair_centre(image, stock: LabelStock, index: int, dpi: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Where the crosshair of cell `index` was printed, in mm from the page's top-left: the darkest full column and
    row near the cell's nominal centre (the arms are solid lines; ticks and outlines are short or light)."""
    cell = cell_at(stock, index)
    px = dpi / 25.4
    x0, y0 = round((cell.left - 3) * px), round((cell.top - 3) * px)
    x1, y1 = round((cell.left + cell.width + 3) * px), round((cell.top + cell.height + 3) * px)
    from PIL import Image, ImageOps

    region = ImageOps.invert(image.crop((max(0, x0), max(0, y0), min(image.width, x1), min(image.height, y1))))
    x0, y0 = max(0, x0), max(0, y0)
    width, height = region.size
    columns = list(region.resize((width, 1), Image.Resampling.BOX).tobytes())  # mean darkness of each column
    rows = list(region.resize((1, height), Image.Resampling.BOX).tobytes())

    def peak(profile: list[int]) -> float:
        top = max(range(len(profile)), key=profile.__getitem__)
        window = range(max(0, top - 3), min(len(profile), top + 4))
        weight = sum(profile[i] for i in window)
        return sum(i * profile[i] for i in window) / weight

    return ((x0 + peak(columns) + 0.5) / px, (y0 + peak(rows) + 0.5) / px)


def png(image) -> bytes:  # type: ignore[no-untyped-def]
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()
