"""Fidelity of the core forms to the printed spec (issue #12 §2): the write-in lines after 其他 and the like, one box
for a one-code item, the unit of a dose left to the doctor, the card kept out of A4 sets."""

from __future__ import annotations

import io
import re

import pytest

from archiveprint.forms.catalog import load_catalog
from archiveprint.forms.context import slot_values
from archiveprint.forms.layout import Slot, layout_form
from archiveprint.forms.printer import FormPrinter
from tests.forms.test_engine import PERSON
from tests.pdfcheck import check_structure, compact, page_texts

CATALOG = load_catalog()

# 个人基本信息表 (forms.md §6.2): the line the spec prints after an option, and what a clerk writes on it.
WRITE_INS = [  # (slot, the option it follows, a value)
    ("ethnicity_name", "99少数民族", "回族"),
    ("payment_other", "8其他", "大病保险"),
    ("allergy_other", "5其他", "头孢拉定"),
    ("disease_cancer", "6恶性肿瘤", "胃癌"),
    ("disease_occupational", "12职业病", "矽肺"),
    ("disease_other", "13其他", "痛风"),
    ("family_history_other", "12其他", "哮喘"),
    ("disability_other", "8其他残疾", "多重"),
]


def text_boxes(pdf: bytes, page_index: int, needle: str) -> list[tuple[float, float, float, float]]:
    """Where `needle` is printed on a page: (left, bottom, right, top) in PDF points, one per occurrence."""
    import pypdfium2

    check_structure(pdf)
    document = pypdfium2.PdfDocument(pdf)
    try:
        text_page = document[page_index].get_textpage()
        searcher = text_page.search(needle, match_case=True)
        found = []
        while (hit := searcher.get_next()) is not None:
            first, count = hit
            left, bottom, _, top = text_page.get_charbox(first)
            _, _, right, _ = text_page.get_charbox(first + count - 1)
            found.append((left, bottom, right, top))
        return found
    finally:
        document.close()


def follows(slot: Slot, box: tuple[float, float, float, float]) -> bool:
    """The slot starts right after the printed text (within 2 pt) on the same line."""
    _, bottom, right, top = box
    return 0 <= slot.x - right <= 2.0 and slot.y < top and slot.y + slot.height > bottom


@pytest.mark.parametrize(("slot", "option", "value"), WRITE_INS)
def test_personal_info_prints_a_write_in_line_right_after_the_option(slot, option, value):
    """The 填表说明 wants the drug's name and the tumour's site written in: a bare code fails a quality check."""
    form = CATALOG.form("personal_info")
    assert form.field(slot).kind == "text"
    layout = layout_form(form)
    line, = layout.pages[0].slots[slot]
    assert line.kind == "line" and line.width >= 16 * 72 / 25.4, f"{slot}: {line.width:.1f} pt is too short to write on"
    assert any(follows(line, box) for box in text_boxes(layout.pdf, 0, option)), f"{slot} is not after {option}"


def stamped(form_id: str, values: dict[str, str]) -> bytes:
    """One form printed for PERSON with extra slot values, as a prefilled sheet is."""
    form = CATALOG.form(form_id)
    buffer = io.BytesIO()
    printer = FormPrinter(buffer)
    printer.add_form(form, {**slot_values(form, PERSON), **values}, code17=PERSON["code17"])
    printer.close(title="test")
    return buffer.getvalue()


def test_personal_info_write_in_lines_take_stamped_values():
    page, = page_texts(stamped("personal_info", {slot: value for slot, _, value in WRITE_INS}))
    assert [value for _, _, value in WRITE_INS if value not in compact(page)] == []


def one_code_slots(form_id: str) -> dict[str, list[Slot]]:
    """The box slots of the form's single-choice items (kind option), visit columns' "v2.way" included."""
    form = CATALOG.form(form_id)
    single = {f.slot for f in form.fields if f.kind == "option"}
    found: dict[str, list[Slot]] = {}
    for page in layout_form(form).pages:
        for name, slots in page.slots.items():
            stem = name.split(".", 1)[1] if re.fullmatch(r"[vc]\d+\..+", name) else name
            if stem in single and slots[0].kind == "box":
                found.setdefault(name, []).extend(slots)
    return found


@pytest.mark.parametrize("form_id", sorted(CATALOG.forms))
def test_a_single_choice_item_has_one_box(form_id):
    """One code, one box: "□/□" means several choices and invites miscoding (01 汉族 written as 0 / 1)."""
    form = CATALOG.form(form_id)
    assert [f.slot for f in form.fields if f.kind == "option" and f.boxes != 1] == []
    assert {name: len(slots) for name, slots in one_code_slots(form_id).items() if len(slots) != 1} == {}


def test_ethnicity_and_education_take_their_two_digit_code_in_one_box():
    slots = one_code_slots("personal_info")
    assert len(slots["ethnicity"]) == 1 and len(slots["education"]) == 1
    page, = page_texts(stamped("personal_info", {"ethnicity": "01", "education": "10"}))
    assert "01" in compact(page) and "10" in compact(page)
