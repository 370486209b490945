"""The print centre's numbers and pictures: the counted pages equal the pages a real print writes."""

from __future__ import annotations

import io
from datetime import date

import pytest
from PIL import Image

from archiveprint.forms.catalog import load_catalog
from archiveprint.forms.preview import plan_print, preview_pdf, preview_person, thumbnails
from archiveprint.forms.services import PrintOptions, Scope, print_forms, resolve_scope
from tests.conftest import TODAY
from tests.pdfcheck import compact, page_texts, read


@pytest.fixture
def two_households(session, create_household, create_resident):
    """东村: 王 household of two (the head registered last), 李 household of one; 西村: one more."""
    first = create_household("201", head_name="王大山")
    create_resident(first, name="王小河", relation_to_head="子", birth_date=date(1990, 1, 2))
    create_resident(first, name="王大山", relation_to_head="户主")
    create_resident(create_household("201", head_name="李明"), name="李明", relation_to_head="户主")
    create_resident(create_household("202", head_name="赵堃"), name="赵堃", relation_to_head="户主")


@pytest.mark.parametrize("set_key", ["personal_info", "new_record", "cards_a4", "cards_stock", "annual_check"])
@pytest.mark.parametrize("options", [
    PrintOptions(), PrintOptions(duplex=True), PrintOptions(separators=True),
    PrintOptions(duplex=True, separators=True), PrintOptions(blank=True), PrintOptions(blank=True, duplex=True),
], ids=["plain", "duplex", "separators", "duplex+separators", "blank-per-resident", "blank-duplex"])
def test_the_counted_pages_are_the_printed_pages(session, two_households, tmp_path, set_key, options):
    catalog = load_catalog()
    form_set = catalog.form_set(set_key) if set_key in catalog.sets else catalog.single_form(set_key)
    scope = resolve_scope(session, village="201")
    plan = plan_print(session, form_set, scope, options)
    assert (plan.residents, plan.households) == (3, 2)
    result = print_forms(session, form_set, scope, tmp_path / "p.pdf", options=options, today=TODAY)
    assert plan.pages == result.pages == len(read(tmp_path / "p.pdf").pages)


@pytest.mark.parametrize("options", [PrintOptions(copies=3), PrintOptions(copies=2, duplex=True)])
def test_the_counted_pages_of_blank_copies(session, tmp_path, options):
    form_set = load_catalog().form_set("referral")
    plan = plan_print(session, form_set, Scope(), options)
    result = print_forms(session, form_set, Scope(), tmp_path / "b.pdf", options=options, today=TODAY)
    assert plan.blank and plan.residents == 0
    assert plan.pages == result.pages == options.copies * 2  # 转出 + 回转, one page each


def test_the_preview_shows_the_first_resident_in_filing_order(session, two_households):
    form_set = load_catalog().single_form("personal_info")
    person = preview_person(session, resolve_scope(session, village="201"), today=TODAY)
    assert person is not None and person.archive_code == "13012310020100002"  # the head, registered after his son
    (text,) = page_texts(preview_pdf(form_set, person))
    assert "王大山" in compact(text) and "130123-100-201-00002·个人基本信息表" in compact(text)  # re-filing mark
    assert "王" not in compact(page_texts(preview_pdf(form_set, None))[0])
    assert preview_person(session, Scope(), today=TODAY) is None
    assert preview_person(session, resolve_scope(session, tag="孕产妇"), today=TODAY) is None


def test_codes_not_in_the_register_are_named_before_printing(session, two_households):
    scope = resolve_scope(session, codes=("13012310020100002", "130123-100-201-00099", "13012310020100002"))
    plan = plan_print(session, load_catalog().single_form("personal_info"), scope, PrintOptions())
    assert (plan.residents, plan.unknown_codes) == (1, ["13012310020100099"])


def test_thumbnails_are_small_grey_pngs_of_the_first_pages(session):
    pdf = preview_pdf(load_catalog().form_set("new_record"), None)
    assert len(read(pdf).pages) == 6
    pictures = thumbnails(pdf, limit=3)
    assert len(pictures) == 3
    cover = Image.open(io.BytesIO(pictures[0].png))
    assert (cover.format, cover.mode) == ("PNG", "L")
    assert cover.size == (pictures[0].width, pictures[0].height) == (331, 468)  # A4 at 40 dpi
    assert len(thumbnails(pdf)) == 6
    card = thumbnails(preview_pdf(load_catalog().form_set("cards_stock"), None))[0]
    assert (card.width, card.height) == (135, 86)  # the ID-1 card, 85.6 × 54 mm, in its own set
    assert cover.getextrema()[0] < 64 and cover.getextrema()[1] == 255  # printed lines on white paper
