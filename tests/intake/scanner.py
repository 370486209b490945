"""An office scanner's output made from our own printed PDFs: pages drawn at 150–300 dpi in grey or black and white,
written on, blurred, speckled, skewed a few degrees, some fed upside down, duplex blank backs between them, shuffled,
saved as an image-only PDF (JPEG or CCITT inside, as MFPs write them) or a multi-page TIFF. Each page keeps its truth.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pypdfium2
from PIL import Image, ImageChops, ImageDraw, ImageFilter


@dataclass(frozen=True)
class Truth:
    """What a scanned page really is: a marked page of a resident's form, a blank back, or a page with no mark."""

    kind: str  # marked | blank | unmarked
    archive_code: str | None = None
    form_number: int | None = None
    form_page: int | None = None


@dataclass(frozen=True)
class Scanner:
    """How the pages are scanned and fed."""

    dpi: int = 200
    mode: str = "grey"  # grey | bw (1 bit, thresholded as an MFP's black-and-white mode does)
    seed: int = 15
    upside_down: float = 0.3  # share of sheets fed the wrong way round
    skew: float = 3.0  # degrees, either way
    noise: float = 9.0  # grey levels of sensor noise (standard deviation)
    blur: float = 0.6  # pixels (Gaussian radius): a soft lens
    blank_backs: float = 0.4  # share of sheets scanned duplex with an empty back
    shuffle: bool = True


def draw_pages(pdf: Path | bytes, dpi: int) -> list[Image.Image]:
    document = pypdfium2.PdfDocument(pdf if isinstance(pdf, bytes) else str(pdf))
    try:
        return [document[i].render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
                for i in range(len(document))]
    finally:
        document.close()


def _write_on(page: Image.Image, rng: random.Random) -> Image.Image:
    """A village doctor's pen: a few strokes in the body of the page (never over the margin's mark)."""
    draw = ImageDraw.Draw(page)
    width, height = page.size
    for _ in range(rng.randint(3, 8)):
        x, y = rng.uniform(0.15, 0.8) * width, rng.uniform(0.15, 0.8) * height
        points = [(x + rng.uniform(-1, 1) * width * 0.05 * k, y + rng.uniform(-1, 1) * height * 0.005 * k)
                  for k in range(5)]
        draw.line(points, fill=rng.randint(20, 80), width=max(1, page.width // 600))
    return page


class _Noise:
    """Sensor noise: one field made per size, shifted by a random offset for each page (making it anew for every
    page would cost more than the rest of the scanner)."""

    def __init__(self, sigma: float) -> None:
        self.sigma = sigma
        self.fields: dict[tuple[int, int], Image.Image] = {}

    def add(self, page: Image.Image, rng: random.Random) -> Image.Image:
        if not self.sigma:
            return page
        field = self.fields.get(page.size)
        if field is None:
            field = self.fields[page.size] = Image.effect_noise(page.size, self.sigma)
        shifted = ImageChops.offset(field, rng.randrange(page.width), rng.randrange(page.height))
        return ImageChops.add(page, shifted, scale=1.0, offset=-128)


def _degrade(page: Image.Image, scanner: Scanner, rng: random.Random, noise: _Noise, *, flip: bool) -> Image.Image:
    paper = rng.randint(232, 248)  # scanner white is never 255
    page = page.point(lambda v, p=paper: v * p // 255)
    if scanner.blur:
        page = page.filter(ImageFilter.GaussianBlur(scanner.blur * scanner.dpi / 200))
    angle = rng.uniform(-scanner.skew, scanner.skew) + (180 if flip else 0)
    page = noise.add(page.rotate(angle, resample=Image.Resampling.BILINEAR, expand=False, fillcolor=paper), rng)
    if scanner.mode == "bw":
        return page.point(lambda v: 255 if v > 150 else 0).convert("1", dither=Image.Dither.NONE)
    return page


def _blank(size: tuple[int, int], scanner: Scanner, rng: random.Random, noise: _Noise) -> Image.Image:
    """An empty back: paper, noise, a speck or two of dust."""
    paper = rng.randint(232, 248)
    page = Image.new("L", size, paper)
    draw = ImageDraw.Draw(page)
    for _ in range(rng.randint(0, 3)):
        x, y = rng.uniform(0.1, 0.9) * size[0], rng.uniform(0.1, 0.9) * size[1]
        draw.ellipse((x, y, x + 3, y + 3), fill=90)
    page = noise.add(page, rng)
    if scanner.mode == "bw":
        return page.point(lambda v: 255 if v > 150 else 0).convert("1", dither=Image.Dither.NONE)
    return page


def scan(pdfs: Sequence[tuple[Path | bytes, Sequence[Truth]]], scanner: Scanner) -> list[tuple[Image.Image, Truth]]:
    """Every page of the printed PDFs (with its truth, page by page) as the scanner gives it back."""
    rng = random.Random(scanner.seed)
    noise = _Noise(scanner.noise)
    sheets: list[list[tuple[Image.Image, Truth]]] = []
    for pdf, truths in pdfs:
        pages = draw_pages(pdf, scanner.dpi)
        assert len(pages) == len(truths), (len(pages), len(truths))
        for page, truth in zip(pages, truths, strict=True):
            front = _degrade(_write_on(page, rng) if truth.kind == "marked" else page, scanner, rng, noise,
                             flip=rng.random() < scanner.upside_down)
            sheet = [(front, truth)]
            if rng.random() < scanner.blank_backs:
                sheet.append((_blank(page.size, scanner, rng, noise), Truth("blank")))
            sheets.append(sheet)
    if scanner.shuffle:
        rng.shuffle(sheets)  # a sheet's back stays behind its front, as a duplex feeder gives them
    return [page for sheet in sheets for page in sheet]


def save_pdf(pages: Sequence[Image.Image], path: Path, dpi: int) -> Path:
    """An image-only PDF: JPEG pages for grey, CCITT G4 for black and white (Pillow writes them as MFPs do)."""
    first, *rest = pages
    first.save(path, "PDF", save_all=True, append_images=rest, resolution=float(dpi))
    return path


def save_tiff(pages: Sequence[Image.Image], path: Path, dpi: int) -> Path:
    """A multi-page TIFF: Group 4 for black and white, JPEG for grey."""
    first, *rest = pages
    compression = "group4" if first.mode == "1" else "jpeg"
    first.save(path, "TIFF", save_all=True, append_images=rest, dpi=(dpi, dpi), compression=compression)
    return path
