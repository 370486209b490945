"""Scanned stacks as page pictures: image PDFs (pdfium draws each page at its scan's resolution) and multi-page TIFFs
(Pillow), each refused early and cheaply when it is no such file or too large to read safely."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archiveprint.config import IntakeLimits
from archiveprint.errors import N_, ArchiveprintError, InvalidValue, Message

if TYPE_CHECKING:
    from PIL.Image import Image

MIB = 1 << 20
A4_INCHES = (8.27, 11.69)
MIN_DPI, MAX_DPI, DEFAULT_DPI = 100.0, 300.0, 200.0  # pictures are drawn at the scan's own dpi, within these
REOPEN = 32  # pages read from one opening of a PDF (see _pdf_pictures)
HEAD = 1024  # a PDF's %PDF- may follow a few bytes of junk (some scanners), within the first kilobyte
UNREADABLE = N_("无法读取“{name}”：文件已损坏，或不是扫描仪生成的 PDF / TIFF")
AMOUNTS = {"MB": N_("{count:,} MB"), "页": N_("{count:,} 页"), "像素": N_("{count:,} 百万像素")}


class StackTooLarge(ArchiveprintError):
    """A scanned stack over one of the intake limits (config.IntakeLimits); nothing of it was read."""

    status = 413


def too_large(what: Message, value: int, limit: int, unit: str) -> StackTooLarge:
    return StackTooLarge("扫描文件过大，未读取：{what}为 {value}，超过上限 {limit}。请分几次上传，"
                         "或用 200 dpi 灰度重新扫描",
                         params={"what": what, "value": Message(AMOUNTS[unit], {"count": value}),
                                 "limit": Message(AMOUNTS[unit], {"count": limit})})


@dataclass(frozen=True)
class StackFile:
    """One uploaded file, checked: what it is and how many pages it holds."""

    path: Path
    name: str  # as the clerk uploaded it (shown and listed, never used as a path)
    kind: str  # pdf | tiff
    pages: int


@dataclass
class PagePicture:
    """One page as a greyscale picture, with where it came from and the resolution it was drawn at.

    A scanner's page is one JPEG filling the page: it is handed over as the JPEG's own bytes (`jpeg`) and decoded by
    `load()` in the thread that reads the page, so that drawing the pages is no longer the one thing done in turn.
    """

    file: str
    number: int  # 1… within its file
    image: Image | None  # None: the page could not be drawn (it goes to the clerk's queue as such)
    dpi: float
    jpeg: bytes | None = None
    taken: bool = False  # the scan's own picture, not drawn by pdfium: its polarity is checked when loaded

    def load(self) -> Image | None:
        """The page's picture (decoding its JPEG here, when it came as one)."""
        if self.jpeg is not None:
            self.image = _open_jpeg(self.jpeg)
            self.jpeg = None
        if self.image is not None and self.taken and _mostly_dark(self.image):
            from PIL import ImageOps  # lazy: Pillow only to read a scanned stack

            self.image = ImageOps.invert(self.image)  # an image stored inverted (/Decode [1 0]): paper is light
        return self.image


def _open_jpeg(data: bytes) -> Image | None:
    from PIL import Image as Pillow  # lazy: Pillow only to read a scanned stack

    try:
        with Pillow.open(io.BytesIO(data)) as source:
            source.draft("L", source.size)  # the decoder gives grey directly
            return source.convert("L")
    except (OSError, ValueError, SyntaxError, Pillow.DecompressionBombError):
        return None


def _mostly_dark(image: Image) -> bool:
    """A scanned page is paper: a picture whose average is dark is stored inverted."""
    histogram = image.reduce(8).histogram()
    total = sum(histogram)
    return total > 0 and sum(level * count for level, count in enumerate(histogram)) / total < 96


def kind_of(path: Path) -> str | None:
    """pdf or tiff by the file's first bytes (never by its name); None for anything else."""
    with path.open("rb") as handle:
        head = handle.read(HEAD)
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if b"%PDF-" in head:
        return "pdf"
    return None


def inspect_files(files: Sequence[tuple[Path, str]], limits: IntakeLimits) -> list[StackFile]:
    """Check every file of an upload before any page is drawn, cheapest check first: the size of all together, what
    each file is, its page count, each page's picture size (the scan's pixels, and what drawing it would take)."""
    if not files:
        raise InvalidValue("请选择扫描文件（PDF 或 TIFF）", field="扫描文件")
    total = sum(path.stat().st_size for path, _name in files)
    if total > limits.megabytes * MIB:
        raise too_large(N_("上传文件的大小"), -(-total // MIB), limits.megabytes, "MB")
    checked: list[StackFile] = []
    pages = 0
    for path, name in files:
        kind = kind_of(path)
        if kind is None:
            raise InvalidValue("“{name}”不是 PDF 或 TIFF 文件：请上传扫描仪生成的 PDF 或多页 TIFF",
                               params={"name": name[:80]}, field="扫描文件", value=name[:80])
        count = _pdf_pages(path, name, limits) if kind == "pdf" else _tiff_pages(path, name, limits)
        pages += count
        if pages > limits.pages:
            raise too_large(N_("页数"), pages, limits.pages, "页")
        checked.append(StackFile(path, name, kind, count))
    return checked


def _megapixels(width: float, height: float) -> int:
    return int(width * height // 1_000_000)


def _check_pixels(name: str, number: int, width: float, height: float, limits: IntakeLimits) -> None:
    if width * height > limits.megapixels * 1_000_000:
        raise too_large(Message("“{name}”第 {number} 页的图像", {"name": name[:80], "number": number}),
                        _megapixels(width, height), limits.megapixels, "像素")


def _pdf_pages(path: Path, name: str, limits: IntakeLimits) -> int:
    """The page count, then each page's pictures and drawing size (the file opened afresh every REOPEN pages, as
    when it is read: pdfium keeps what it loaded until the document is closed)."""
    import pypdfium2  # lazy: pypdfium2 only to read a scanned stack

    try:
        document = pypdfium2.PdfDocument(str(path))
    except pypdfium2.PdfiumError:
        raise ArchiveprintError(UNREADABLE, params={"name": name[:80]}) from None
    count = len(document)
    try:
        if count > limits.pages:
            raise too_large(N_("页数"), count, limits.pages, "页")
        for index in range(count):
            if index and index % REOPEN == 0:
                document.close()
                document = pypdfium2.PdfDocument(str(path))
            page = document[index]
            try:
                dpi, largest = _pdf_dpi(page)
                if largest is not None:
                    _check_pixels(name, index + 1, *largest, limits)
                width, height = page.get_size()
                _check_pixels(name, index + 1, width / 72 * dpi, height / 72 * dpi, limits)
            finally:
                page.close()
        return count
    except pypdfium2.PdfiumError:
        raise ArchiveprintError(UNREADABLE, params={"name": name[:80]}) from None
    finally:
        document.close()


def _pdf_dpi(page: Any) -> tuple[float, tuple[int, int] | None]:
    """The resolution to draw a page at: its largest picture's own (a scanner's page is one picture), within
    MIN_DPI–MAX_DPI; DEFAULT_DPI for a page without pictures. Also that picture's pixel size."""
    import pypdfium2.raw as pdfium_c  # lazy: pypdfium2 only to read a scanned stack

    largest: tuple[int, int] | None = None
    shown = 0.0
    for item in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2):
        width, height = item.get_px_size()
        left, bottom, right, top = item.get_bounds()
        if largest is None or width * height > largest[0] * largest[1]:
            largest, shown = (width, height), max(right - left, top - bottom, 1.0)
    if largest is None:
        return DEFAULT_DPI, None
    dpi = max(largest) / (shown / 72)
    return min(MAX_DPI, max(MIN_DPI, dpi)), largest


def _tiff_pages(path: Path, name: str, limits: IntakeLimits) -> int:
    from PIL import Image  # lazy: Pillow only to read a scanned stack

    try:
        with warnings.catch_warnings():  # a broken TIFF is refused below, not warned about first
            warnings.simplefilter("ignore", UserWarning)
            with Image.open(path) as image:
                count = getattr(image, "n_frames", 1)
                if count > limits.pages:
                    raise too_large(N_("页数"), count, limits.pages, "页")
                for index in range(count):
                    image.seek(index)
                    _check_pixels(name, index + 1, *image.size, limits)
                return count
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise ArchiveprintError(UNREADABLE, params={"name": name[:80]}) from None


def iter_pages(stack: Sequence[StackFile]) -> Iterator[PagePicture]:
    """Every page of every file in order, one picture at a time (memory stays flat however long the stack)."""
    for item in stack:
        yield from (_pdf_pictures(item) if item.kind == "pdf" else _tiff_pictures(item))


def _pdf_pictures(item: StackFile) -> Iterator[PagePicture]:
    """The file's pages in order. pdfium keeps what it has read of a document (each page's image data) until the
    document is closed, so the file is opened afresh every REOPEN pages: memory stays flat in the stack's size."""
    import pypdfium2  # lazy: pypdfium2 only to read a scanned stack

    for first in range(0, item.pages, REOPEN):
        document = pypdfium2.PdfDocument(str(item.path))
        try:
            for index in range(first, min(first + REOPEN, item.pages, len(document))):
                page = document[index]
                try:
                    picture = _scanned_picture(page, item.name, index + 1)
                    if picture is None:
                        dpi, _largest = _pdf_dpi(page)
                        bitmap = page.render(scale=dpi / 72, grayscale=True)
                        picture = PagePicture(item.name, index + 1, bitmap.to_pil().convert("L"), dpi)
                        bitmap.close()
                except pypdfium2.PdfiumError:
                    picture = PagePicture(item.name, index + 1, None, DEFAULT_DPI)
                finally:
                    page.close()
                yield picture
        finally:
            document.close()


def _scanned_picture(page: Any, name: str, number: int) -> PagePicture | None:
    """A scanner's page as it is stored — one upright picture filling the page — taken without drawing the page: a
    JPEG's bytes as they are, any other picture decoded by pdfium at its own size. None for any other page (it is
    drawn)."""
    import pypdfium2.raw as pdfium_c  # lazy: pypdfium2 only to read a scanned stack

    if page.get_rotation():
        return None
    found = list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2))
    if len(found) != 1:
        return None
    item = found[0]
    left, bottom, right, top = item.get_bounds()
    width, height = page.get_size()
    matrix = item.get_matrix()
    if (right - left) * (top - bottom) < 0.9 * width * height or matrix.b or matrix.c or matrix.a <= 0 \
            or matrix.d <= 0:
        return None
    pixels = item.get_px_size()
    dpi = pixels[0] / ((right - left) / 72)
    if not MIN_DPI <= dpi <= MAX_DPI * 1.05:
        return None  # drawn instead, at a resolution the decoder reads well
    if item.get_filters() == ["DCTDecode"]:
        return PagePicture(name, number, None, dpi, jpeg=bytes(item.get_data(decode_simple=False)), taken=True)
    image = item.get_bitmap(render=False).to_pil().convert("L")  # pdfium's own bitmap: not ours to close
    return PagePicture(name, number, image, dpi, taken=True)


def _tiff_pictures(item: StackFile) -> Iterator[PagePicture]:
    from PIL import Image  # lazy: Pillow only to read a scanned stack

    with Image.open(item.path) as source:
        for index in range(item.pages):
            try:
                source.seek(index)
                dpi = _tiff_dpi(source)
                image = source.convert("L")
                if dpi > MAX_DPI * 1.5:  # a 600 dpi scan: halved, which zxing reads as well and twice as fast
                    factor = int(dpi // MAX_DPI)
                    image, dpi = image.reduce(factor), dpi / factor
            except (OSError, ValueError, SyntaxError):
                image, dpi = None, DEFAULT_DPI
            yield PagePicture(item.name, index + 1, image, dpi)


def _tiff_dpi(image: Image) -> float:
    """The frame's resolution as the scanner wrote it, else guessed from an A4 width."""
    found = image.info.get("dpi")
    if found and found[0] and float(found[0]) > 1:
        return float(found[0])
    return max(image.size) / A4_INCHES[1]
