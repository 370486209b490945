"""Fidelity of the core forms to the printed spec (issue #12 §2): the write-in lines after 其他 and the like, one box
for a one-code item, the unit of a dose left to the doctor, the card kept out of A4 sets."""

from __future__ import annotations

import io
import re

import pytest

from archiveprint.errors import InvalidValue
from archiveprint.forms.catalog import FormSet, load_catalog
from archiveprint.forms.context import slot_values
from archiveprint.forms.layout import Slot, layout_form
from archiveprint.forms.preview import plan_print, preview_pdf
from archiveprint.forms.printer import FormPrinter
from archiveprint.forms.services import PrintOptions, Scope, forms_of, print_forms, resolve_scope
from tests.conftest import TODAY
from tests.forms.test_engine import PERSON
from tests.pdfcheck import A4_PT, check_structure, compact, page_texts, read

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


CARD_PT = pytest.approx((85.6 / 25.4 * 72, 54 / 25.4 * 72), abs=0.1)


def page_sizes(path) -> list[tuple[float, float]]:  # type: ignore[no-untyped-def]
    return [(float(page.mediabox.width), float(page.mediabox.height)) for page in read(path).pages]


@pytest.mark.parametrize("set_id", sorted(CATALOG.sets))
def test_every_built_in_set_prints_on_one_paper(set_id):
    form_set = CATALOG.form_set(set_id)
    forms = forms_of(CATALOG, form_set)  # the check every print, plan and preview goes through
    assert len({form.size for form in forms}) == 1, f"{form_set.name} mixes paper sizes"


def test_new_record_prints_only_a4_pages_and_the_card_prints_in_its_own_sets(session, create_household,
                                                                            create_resident, tmp_path):
    """The 信息卡 (85.6 × 54 mm) is no longer pages 7–8 of every resident's A4 新建档套表: an office printer
    stopped for it or shrank it. Cards go to the A4 cut sheet or to card stock."""
    household = create_household("201", head_name="赵德明")
    create_resident(household, name="赵德明")
    create_resident(household, name="赵小雨", relation_to_head="女", sex="2")
    scope = resolve_scope(session, village="201")
    printed = {}
    for set_id in ("new_record", "cards_a4", "cards_stock"):
        result = print_forms(session, set_id, scope, tmp_path / f"{set_id}.pdf", kind="set", today=TODAY)
        printed[set_id] = page_sizes(tmp_path / f"{set_id}.pdf")
        assert result.pages == len(printed[set_id])
    assert "card" not in CATALOG.form_set("new_record").forms
    assert printed["new_record"] == [pytest.approx(A4_PT, abs=0.01)] * 2 * (1 + 1 + 4)  # 封面, 个人基本信息表, 体检表
    assert printed["cards_a4"] == [pytest.approx(A4_PT, abs=0.01)] * 2  # both cards on one sheet, front and back
    assert printed["cards_stock"] == [CARD_PT] * 2 * 2  # one card each, front and back


MIXED = FormSet(id="custom_mixed", name="建档加卡", forms=("cover", "personal_info", "card"), builtin=False)


def test_a_set_mixing_paper_sizes_is_refused_naming_the_set_and_its_forms(session, tmp_path):
    for attempt in (lambda: print_forms(session, MIXED, Scope(), tmp_path / "m.pdf", today=TODAY),
                    lambda: plan_print(session, MIXED, Scope(), PrintOptions()),
                    lambda: preview_pdf(MIXED, None)):
        with pytest.raises(InvalidValue) as refused:
            attempt()
        assert refused.value.message == ("套组“建档加卡”的表单用了不同的纸张（A4纸：居民健康档案封面、个人基本信息表；"
                                         "卡片纸（85.6×54毫米）：居民健康档案信息卡），一个套组只能用一种纸张打印，"
                                         "请把不同纸张的表单分到不同的套组")
    assert not (tmp_path / "m.pdf").exists()


def test_the_card_sheet_says_it_is_for_prefilled_use_as_the_cards_boxes_are_too_small_to_write_in():
    """A4 forms' boxes are 3.8 × 4.4 mm; the card's cannot be (the 17 编号 boxes alone would take 73.5 of its
    79.6 mm): so the sheet says so."""
    mm = 72 / 25.4
    boxes = [slot for page in layout_form(CATALOG.form("card")).pages for slots in page.slots.values()
             for slot in slots if slot.kind in ("box", "tick")]
    assert boxes and all(slot.width < 3.8 * mm or slot.height < 4.4 * mm for slot in boxes)
    front, _ = (compact(text) for text in page_texts(layout_form(CATALOG.form("card_sheet")).pdf))
    assert "本卡供预填打印" in front and "不宜打印空白卡手工填写" in front
    assert "不宜手写" in CATALOG.form_set("cards_a4").description
    assert "不宜手写" in CATALOG.form_set("cards_stock").description


DOSES = {"hypertension_followup": ["dose1", "dose2", "dose3", "dose_other"],
         "diabetes_followup": ["dose1", "dose2", "dose3"]}


@pytest.mark.parametrize("form_id", sorted(DOSES))
def test_a_dose_is_written_in_the_unit_the_doctor_chooses(form_id):
    """用法用量 "每日__次 每次____": no printed "mg" — the doctor writes 1片, 30mg or 8U on the line."""
    layout = layout_form(CATALOG.form(form_id))
    text = compact("".join(page_texts(layout.pdf)))
    assert "mg" not in text and text.count("每日次每次") == 4 * len(DOSES[form_id])
    slots = layout.pages[0].slots
    each = text_boxes(layout.pdf, 0, "每次")
    for n in range(1, 5):
        for dose in DOSES[form_id]:
            line, = slots[f"v{n}.{dose}.amount"]
            assert line.width >= 11 * 72 / 25.4  # room for "12.5mg", "半片" by hand
            assert any(follows(line, box) for box in each), f"v{n}.{dose}.amount is not after 每次"
    page, = page_texts(stamped(form_id, {"v1.dose1.amount": "半片", "v2.dose1.amount": "12.5mg"}))
    assert "半片" in compact(page) and "12.5mg" in compact(page)


@pytest.mark.parametrize("form_id", sorted(DOSES))
def test_a_site_whose_sheets_print_mg_picks_the_variant(form_id, tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHIVEPRINT_INSTANCE", str(tmp_path))
    (tmp_path / "form_variants.yaml").write_text(
        f"{form_id}: {{{', '.join(f'{dose}: mg' for dose in DOSES[form_id])}}}\n", encoding="utf-8")
    text = compact("".join(page_texts(layout_form(load_catalog().form(form_id)).pdf)))
    assert text.count("每日次每次mg") == 4 * len(DOSES[form_id])
