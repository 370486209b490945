"""Read one scanned page: a blank back (almost no ink), or the re-filing marks on it — Code128 read by zxing-cpp in any
orientation, tried again at another scale, kept only when the mark's own check digit agrees."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from archiveprint.errors import N_
from archiveprint.pdf.barcodes import is_valid_check

if TYPE_CHECKING:
    from PIL.Image import Image

MARK = re.compile(r"\d{21}")
INK_DPI = 50.0  # the ink is counted on a small copy: noise averages out, lines and writing stay dark
INK_LEVEL = 200  # darker than this (0–255) is ink
INK_MARGIN = 0.04  # of each side left out: the scanner's dark edges and the shadow of a fold
STRIP = 0.15  # of the page's height: the margin strip a mark is looked for first (it is printed 5–11 mm from the edge)
BLANK_INK = 0.002  # less ink than this share of the page is a blank back (a printed form has several per cent)
# Why a page waits for the clerk (IntakePage.reason), in the clerk's words.
REASONS = {
    "no_mark": N_("没有读到归档条码"),
    "bad_check": N_("读到的条码校验位不对，不予采信"),
    "several_marks": N_("一页上有几个不同的归档条码"),
    "unknown_resident": N_("条码中的档案编号不在本院登记中"),
    "unknown_form": N_("条码中的表单编号不是本院的表单"),
    "bad_page": N_("条码中的页码超出该表单的页数"),
    "no_picture": N_("这一页的图像无法读出"),
}


@dataclass(frozen=True)
class Mark:
    """What a re-filing barcode names: archive code, form number, page digit (the page number's last digit)."""

    text: str
    code17: str
    form_number: int
    page_digit: int


def parse_mark(text: str) -> Mark | None:
    """A mark whose check digit agrees (stamp.refile_code), or None: 21 digits, MOD 11,10 over the first 20."""
    if not MARK.fullmatch(text) or not is_valid_check(text):
        return None
    return Mark(text, text[:17], int(text[17:19]), int(text[19]))


@dataclass(frozen=True)
class Reading:
    """What was seen on one page: its ink, whether it is a blank back, the marks whose check digit agrees (each once)
    and the 21-digit codes that failed it."""

    ink: float
    blank: bool = False
    marks: tuple[Mark, ...] = ()
    rejected: tuple[str, ...] = ()
    tries: int = 0
    no_picture: bool = False

    @property
    def reason(self) -> str:
        """Why the page cannot be filed from its picture alone ("" when one mark was read)."""
        if self.no_picture:
            return "no_picture"
        if len(self.marks) > 1:
            return "several_marks"
        if self.marks:
            return ""
        return "bad_check" if self.rejected else "no_mark"


def ink_coverage(image: Image, dpi: float) -> float:
    """The share of the page (its margins left out) that is ink, counted on a copy drawn at about INK_DPI."""
    factor = max(1, round(dpi / INK_DPI))
    small = image.reduce(factor) if factor > 1 else image
    width, height = small.size
    left, top = int(width * INK_MARGIN), int(height * INK_MARGIN)
    inner = small.crop((left, top, width - left, height - top))
    histogram = inner.histogram()
    total = sum(histogram)
    return sum(histogram[:INK_LEVEL]) / total if total else 0.0


def read_page(image: Image | None, dpi: float) -> Reading:
    """A page's reading: blank backs first (cheap), then the marks: first where a mark is printed (the bottom margin,
    or the top when the sheet was fed upside down: a strip of the page, read in a fraction of the time), then the
    whole page as scanned in every orientation (zxing's try_rotate: a sheet turned 90°), then once more at another
    scale (small modules of a 150 dpi scan read better enlarged, a 300 dpi scan's noise better reduced)."""
    if image is None:
        return Reading(ink=0.0, no_picture=True)
    ink = ink_coverage(image, dpi)
    if ink < BLANK_INK:
        return Reading(ink=ink, blank=True)
    rejected: list[str] = []
    tries = 0
    for picture, turning in _attempts(image, dpi):
        tries += 1
        marks: dict[str, Mark] = {}
        for text in _decode(picture, turning):
            mark = parse_mark(text)
            if mark is not None:
                marks.setdefault(mark.text, mark)
            elif MARK.fullmatch(text) and text not in rejected:
                rejected.append(text)
        if marks:
            return Reading(ink=ink, marks=tuple(marks.values()), rejected=tuple(rejected), tries=tries)
    return Reading(ink=ink, rejected=tuple(rejected), tries=tries)


def _attempts(image: Image, dpi: float) -> Iterator[tuple[Image, bool]]:
    """What to look at, in turn, each made only when the one before found nothing: the bottom and top strips (as
    they are: a mark read backwards is read as well), the page in every orientation, the page at another scale."""
    from PIL import Image as Pillow  # lazy: Pillow only to read a scanned stack

    strip = round(image.height * STRIP)
    yield image.crop((0, image.height - strip, image.width, image.height)), False
    yield image.crop((0, 0, image.width, strip)), False
    yield image, True
    factor = 2.0 if dpi < 250 else 0.6
    resample = Pillow.Resampling.BICUBIC if factor > 1 else Pillow.Resampling.LANCZOS
    yield image.resize((round(image.width * factor), round(image.height * factor)), resample), True


def _decode(image: Image, turning: bool) -> list[str]:
    import zxingcpp  # lazy: zxing-cpp only to read a scanned stack

    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.Code128, try_rotate=turning,
                                   try_downscale=True, try_invert=False)
    return [result.text for result in found if result.valid]
