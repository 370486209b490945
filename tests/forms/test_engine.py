"""The print engine without a database: streaming writer, embedded font subset, stamping, re-filing barcode."""

from __future__ import annotations

import io
from datetime import date

import pytest

from archiveprint.forms.catalog import load_catalog
from archiveprint.forms.context import slot_values
from archiveprint.forms.printer import FormPrinter
from archiveprint.forms.stamp import refile_code
from archiveprint.pdf.barcodes import is_valid_check, mod11_10
from archiveprint.pdf.fonts import font_path, load_metrics
from tests.pdfcheck import (
    A4_PT,
    assert_fonts_embedded_and_subset,
    compact,
    decode_barcodes,
    page_texts,
    rasterize,
    read,
)

PERSON = {"name": "欧阳𠮷堃", "code17": "13012310020100001", "code8": "20100001", "sex": "1",
          "birth_date": date(1956, 3, 7), "id_number": "11010519491231002X", "phone": "13800138000",
          "address": "东关村3组17号", "township": "诸福屯镇", "village": "东关村", "unit": "诸福屯镇卫生院",
          "registered_on": date(2020, 5, 1)}


def print_one(form_ids: list[str], person: dict = PERSON, copies: int = 1) -> bytes:
    catalog = load_catalog()
    buffer = io.BytesIO()
    printer = FormPrinter(buffer)
    for _ in range(copies):
        for form_id in form_ids:
            form = catalog.form(form_id)
            printer.add_form(form, slot_values(form, person), code17=person["code17"])
    printer.close(title="test")
    return buffer.getvalue()


def test_prefilled_values_are_real_text_on_an_a4_page():
    pdf = print_one(["cover", "personal_info"])
    cover, info = read(pdf).pages
    for page in (cover, info):
        assert (float(page.mediabox.width), float(page.mediabox.height)) == pytest.approx(A4_PT, abs=0.01)
    cover_text, info_text = (compact(t) for t in page_texts(pdf))
    for value in ("欧阳𠮷堃", "东关村3组17号", "13800138000", "诸福屯镇卫生院", "2020"):
        assert value in cover_text
    for value in ("欧阳𠮷堃", "11010519491231002X", "13800138000"):
        assert value in info_text
    assert_fonts_embedded_and_subset(pdf)


def test_rare_characters_have_glyphs_in_the_shipped_font():
    metrics = load_metrics(font_path())
    assert metrics.missing("𠮷䶮堃犇喆·阿依古丽") == set()
    assert metrics.missing("\U00031350") == {"\U00031350"}  # CJK Extension H: not in the font, reported


@pytest.mark.parametrize("dpi", [200, 300])
def test_refiling_barcode_decodes_to_code_form_page_and_check(dpi):
    pdf = print_one(["personal_info"])
    decoded = decode_barcodes(rasterize(pdf, 0, dpi))
    expected = refile_code(PERSON["code17"], load_catalog().form("personal_info").number, 1)
    assert decoded == [expected]
    assert expected.startswith(PERSON["code17"] + "021") and is_valid_check(expected)


def test_our_check_digit_catches_every_single_digit_error():
    code = "13012310020100001021"
    digit = mod11_10(code)
    for position in range(len(code)):
        for wrong in "0123456789":
            if wrong != code[position]:
                assert not is_valid_check(code[:position] + wrong + code[position + 1:] + digit)


def test_stamping_stays_small_per_page_and_embeds_the_font_once():
    pdf = print_one(["cover", "personal_info"], copies=200)
    reader = read(pdf)
    assert len(reader.pages) == 400
    assert len(pdf) / 400 < 20_000
    assert len({str(f["/BaseFont"]) for f in __import__("tests.pdfcheck").pdfcheck.fonts(pdf)}) <= 4


def test_names_with_markup_print_as_text():
    pdf = print_one(["personal_info"], {**PERSON, "name": "<b>王</b>"})
    assert "<b>王</b>" in compact(page_texts(pdf)[0])
