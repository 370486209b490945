"""Every form in the catalogue: page count and size, field coverage against its definition and the spec,
sample data, and a visual comparison with its approved reference images."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from archiveprint.errors import InvalidValue
from archiveprint.forms.catalog import load_catalog, load_form
from archiveprint.forms.layout import layout_form
from tests.pdfcheck import A4_PT, compact, page_texts, rasterize

CATALOG = load_catalog()
FORMS = sorted(CATALOG.forms)
HERE = Path(__file__).parent
REFERENCE = HERE / "reference"
RESULTS = HERE.parent / "results"
SPEC_ITEMS = yaml.safe_load((HERE / "spec_items.yaml").read_text(encoding="utf-8"))
REFERENCE_DPI = 40


def slot_stems(names: set[str]) -> set[str]:
    """'v2.date.y' → {'v2.date.y', 'v2.date', 'v2', 'date.y', 'date'}: every way a field stem may appear."""
    stems = set()
    for name in names:
        parts = name.split(".")
        if re.fullmatch(r"[vc]\d+", parts[0]):
            parts = parts[1:]
        for end in range(1, len(parts) + 1):
            stems.add(".".join(parts[:end]))
    return stems


@pytest.mark.parametrize("form_id", FORMS)
def test_form_lays_out_on_its_pages_at_its_size(form_id):
    form = CATALOG.form(form_id)
    layout = layout_form(form)
    assert len(layout.pages) == form.pages
    for page in layout.pages:
        if form.size == "card":
            assert (page.width, page.height) == pytest.approx((85.6 / 25.4 * 72, 54 / 25.4 * 72), abs=0.1)
        else:
            assert (page.width, page.height) == pytest.approx(A4_PT, abs=0.1)


@pytest.mark.parametrize("form_id", FORMS)
def test_every_field_has_a_slot_and_its_label_and_options_are_printed(form_id):
    form = CATALOG.form(form_id)
    layout = layout_form(form)
    stems = slot_stems(layout.slot_names)
    text = compact("".join(page_texts(layout.pdf)))
    for field in form.fields:
        assert field.slot in stems, f"{form_id}: field {field.slot} has no slot on the page"
        assert compact(field.label) in text, f"{form_id}: label {field.label} is not printed"
        for code, label in field.options:
            assert compact(label) in text, f"{form_id}: option {code}{label} of {field.slot} is not printed"


@pytest.mark.parametrize("form_id", FORMS)
def test_every_slot_on_the_page_belongs_to_a_field(form_id):
    form = CATALOG.form(form_id)
    fields = {f.slot for f in form.fields}
    for name in layout_form(form).slot_names:
        assert slot_stems({name}) & fields, f"{form_id}: slot {name} is not in form.yaml"


@pytest.mark.parametrize("form_id", sorted(SPEC_ITEMS))
def test_definition_covers_the_spec_items(form_id):
    labels = {compact(f.label) for f in CATALOG.form(form_id).fields}
    missing = [item for item in SPEC_ITEMS[form_id] if compact(item) not in labels]
    assert missing == [], f"{form_id} lacks spec items {missing}"


@pytest.mark.parametrize("form_id", FORMS)
def test_sample_data_fills_real_slots(form_id):
    form = CATALOG.form(form_id)
    sample = yaml.safe_load((form.folder / "sample.yaml").read_text(encoding="utf-8"))["values"]
    assert sample, f"{form_id}: sample.yaml has no values"
    names = layout_form(form).slot_names
    unknown = [key for key in sample if key not in names]
    assert unknown == [], f"{form_id}: sample values for unknown slots {unknown}"


def test_form_numbers_are_unique_two_digit_codes():
    numbers = [form.number for form in CATALOG.forms.values()]
    assert len(numbers) == len(set(numbers)) and all(0 < n < 100 for n in numbers)


@pytest.mark.parametrize(("form_id", "page"), [(f, p) for f in FORMS for p in range(CATALOG.form(f).pages)])
def test_page_matches_its_approved_reference_image(form_id, page):
    """An accidental layout change fails here; approve an intended one with ARCHIVEPRINT_APPROVE=1."""
    from PIL import Image, ImageChops, ImageStat

    image = rasterize(layout_form(CATALOG.form(form_id)).pdf, page, REFERENCE_DPI)
    reference = REFERENCE / f"{form_id}-{page + 1}.png"
    if os.environ.get("ARCHIVEPRINT_APPROVE") == "1":
        REFERENCE.mkdir(exist_ok=True)
        image.save(reference, optimize=True)
    assert reference.exists(), f"no approved reference {reference.name}; run with ARCHIVEPRINT_APPROVE=1"
    approved = Image.open(reference).convert("L")
    assert approved.size == image.size
    difference = ImageChops.difference(approved, image)
    changed = difference.point(lambda v: 1 if v > 96 else 0).histogram()[1]
    share = changed / (image.size[0] * image.size[1])
    if share > 0.002 or ImageStat.Stat(difference).mean[0] > 1.5:
        RESULTS.mkdir(exist_ok=True)
        image.save(RESULTS / f"{form_id}-{page + 1}.png")
        pytest.fail(f"{form_id} page {page + 1} differs from its reference ({share:.2%} of pixels); "
                    f"see tests/results/")


def test_a_site_variant_changes_the_printed_options(tmp_path, monkeypatch):
    """Where sources disagree the majority is the default; a site may pick the other reading (禽畜栏)."""
    monkeypatch.setenv("ARCHIVEPRINT_INSTANCE", str(tmp_path))
    default = load_catalog().form("personal_info").field("livestock")
    (tmp_path / "form_variants.yaml").write_text("personal_info: {livestock: ycia}\n", encoding="utf-8")
    site = load_catalog().form("personal_info")
    assert [label for _, label in default.options] == ["无", "单设", "室内", "室外"]
    assert [label for _, label in site.field("livestock").options] == ["单设", "室内", "室外"]
    text = compact(page_texts(layout_form(site).pdf)[0])
    assert "1单设2室内3室外" in text


def test_issue_16_a_broken_form_file_names_its_file_line_field_and_value(tmp_path):
    folder = tmp_path / "visit"
    folder.mkdir()
    (folder / "form.yaml").write_text(
        "id: visit\nnumber: 13\ntitle: 随访记录\nfields:\n  - {slot: name, label: 姓名, kind: text}\n"
        "  - slot: way\n    label: 随访方式\n    kind: choice\n", encoding="utf-8")
    with pytest.raises(InvalidValue) as error:
        load_form(folder)
    assert (error.value.row, error.value.field, error.value.value) == (8, "kind", "choice")
    assert str(error.value) == "第8行，「kind」，值“choice”：表单定义 visit/form.yaml：表单 visit 的字段种类未知"


def test_issue_16_a_broken_variants_file_names_itself(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHIVEPRINT_INSTANCE", str(tmp_path))
    (tmp_path / "form_variants.yaml").write_text("personal_info: {livestock: ycia}\nhealth_check: bsoft\n",
                                                 encoding="utf-8")
    with pytest.raises(InvalidValue) as error:
        load_catalog()
    assert error.value.row == 2 and "form_variants.yaml：格式应为：表单编号: {字段: 版本}" in error.value.message
