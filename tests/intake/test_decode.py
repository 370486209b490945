"""#15 reading one page and one file, without a database: a mark whose check digit disagrees is never trusted, two
marks on a page are not guessed between, blank backs are told by their ink, and hostile files are refused before a
page is drawn (not a scan, too many pages, a page too large to draw, a broken file)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from archiveprint.config import IntakeLimits
from archiveprint.errors import ArchiveprintError, InvalidValue
from archiveprint.forms.stamp import refile_code
from archiveprint.intake.decode import BLANK_INK, ink_coverage, parse_mark, read_page
from archiveprint.intake.sources import StackTooLarge, inspect_files, iter_pages
from archiveprint.pdf.barcodes import code128_modules, mod11_10

DPI = 200
CODE = "13012310020100017"


def sheet(*marks: str, ink: bool = True) -> Image.Image:
    """An A4 page at 200 dpi: some ruled lines (a form's ink) and each mark as Code128 in the bottom margin, with a
    module of 2 pixels (0.25 mm, as printed)."""
    page = Image.new("L", (1654, 2339), 245)
    draw = ImageDraw.Draw(page)
    if ink:
        for y in range(300, 2000, 60):
            draw.line((150, y, 1500, y), fill=30, width=2)
    for number, text in enumerate(marks):
        modules = code128_modules(text)
        x0, y0 = 900 - number * 700, 2180
        for index, bit in enumerate(modules):
            if bit == "1":
                draw.rectangle((x0 + 2 * index, y0, x0 + 2 * index + 1, y0 + 47), fill=0)
    return page


def test_a_mark_with_its_check_digit_is_read_and_what_it_names_parsed() -> None:
    text = refile_code(CODE, 8, 1)
    reading = read_page(sheet(text), DPI)
    assert reading.reason == "" and [mark.text for mark in reading.marks] == [text]
    mark = reading.marks[0]
    assert (mark.code17, mark.form_number, mark.page_digit) == (CODE, 8, 1)
    for turn in (90, 180, 270):  # fed upside down, or a landscape scan of a portrait sheet
        turned = read_page(sheet(text).rotate(turn, expand=True), DPI)
        assert [m.text for m in turned.marks] == [text], turn


def test_a_mark_whose_check_digit_disagrees_is_never_trusted() -> None:
    good = refile_code(CODE, 8, 1)
    wrong = good[:-1] + str((int(good[-1]) + 3) % 10)
    assert parse_mark(wrong) is None and parse_mark(good) is not None
    reading = read_page(sheet(wrong), DPI)
    assert reading.marks == () and reading.rejected == (wrong,) and reading.reason == "bad_check"
    # a single wrong digit anywhere in the 20 is caught (MOD 11,10), as a misread would be
    for position in range(20):
        digit = good[position]
        for other in "0123456789":
            if other != digit:
                assert parse_mark(good[:position] + other + good[position + 1:]) is None
    assert mod11_10(good[:-1]) == good[-1]


def test_two_different_marks_on_one_page_are_not_guessed_between() -> None:
    reading = read_page(sheet(refile_code(CODE, 8, 1), refile_code("13012310020100025", 8, 1)), DPI)
    assert len(reading.marks) == 2 and reading.reason == "several_marks"


def test_a_blank_back_is_told_by_its_ink_and_a_form_is_not() -> None:
    empty = Image.new("L", (1654, 2339), 240)
    ImageDraw.Draw(empty).ellipse((700, 900, 704, 904), fill=60)  # a speck of dust
    ImageDraw.Draw(empty).rectangle((0, 0, 1653, 30), fill=20)  # the scanner's dark edge
    assert ink_coverage(empty, DPI) < BLANK_INK and read_page(empty, DPI).blank
    assert not read_page(sheet(), DPI).blank and read_page(sheet(), DPI).reason == "no_mark"


def _pdf_of(images: list[Image.Image], dpi: int = DPI) -> bytes:
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=float(dpi))
    return out.getvalue()


def test_a_scanned_pdf_is_drawn_at_its_own_resolution(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(_pdf_of([sheet(refile_code(CODE, 8, 1)).convert("1")] * 2, dpi=DPI))
    stack = inspect_files([(path, "scan.pdf")], IntakeLimits())
    assert [(item.kind, item.pages) for item in stack] == [("pdf", 2)]
    pictures = list(iter_pages(stack))
    assert [(p.number, round(p.dpi)) for p in pictures] == [(1, 200), (2, 200)]
    images = [p.load() for p in pictures]
    assert all(image is not None and abs(image.width - 1654) <= 2 and abs(image.height - 2339) <= 2
               for image in images)


def test_hostile_files_are_refused_before_a_page_is_drawn(tmp_path: Path) -> None:
    text = tmp_path / "a.pdf"
    text.write_bytes(b"name,code\n")
    with pytest.raises(InvalidValue, match="不是 PDF 或 TIFF 文件"):
        inspect_files([(text, "a.pdf")], IntakeLimits())
    many = tmp_path / "many.pdf"
    many.write_bytes(_pdf_of([Image.new("1", (200, 280), 1)] * 5))
    with pytest.raises(StackTooLarge, match="页数为 5 页，超过上限 3 页"):
        inspect_files([(many, "many.pdf")], IntakeLimits(pages=3))
    huge_page = tmp_path / "huge.pdf"  # a tiny file whose one page would be drawn at 20,000 × 20,000 pixels
    huge_page.write_bytes(b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
                          b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
                          b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 14400 14400]>>endobj\n"
                          b"trailer<</Root 1 0 R>>\n%%EOF\n")
    with pytest.raises(StackTooLarge, match="百万像素"):
        inspect_files([(huge_page, "huge.pdf")], IntakeLimits())
    bomb = tmp_path / "bomb.tif"
    Image.new("1", (9000, 7000), 1).save(bomb, "TIFF", compression="group4")
    assert bomb.stat().st_size < 100_000
    with pytest.raises(StackTooLarge, match="第 1 页的图像"):
        inspect_files([(bomb, "bomb.tif")], IntakeLimits())
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"II*\x00" + b"\xff" * 64)
    with pytest.raises(ArchiveprintError, match="无法读取"):
        inspect_files([(broken, "broken.tif")], IntakeLimits())
    big = tmp_path / "big.pdf"
    big.write_bytes(b"%PDF-1.4\n" + b"0" * (2 << 20))
    with pytest.raises(StackTooLarge, match="上传文件的大小"):
        inspect_files([(big, "big.pdf")], IntakeLimits(megabytes=1))
