"""The “2018版” 严重精神障碍患者随访服务记录表 (严重精神障碍管理治疗工作规范（2018年版）表1-8) as site rows of
mental_followup (issue #12; forms-key-populations.md §C2): 本次随访对象*, a 转诊情况* block and the 早/中/晚 + 长效药
drug rows in place of the 2017 rows. A site picks it in form_variants.yaml; the default sheet is the 2017 book form
(its reference image, test_catalog, is unchanged).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from archiveprint.forms.catalog import FormDef, load_catalog
from archiveprint.forms.layout import layout_form, layout_key
from tests.forms.test_site_rows import SHIPPED, check_prefilled, check_sheet, site, text_of, with_rows
from tests.pdfcheck import compact

LAYOUT_2018 = {"add": ("visit_target", "referral_2018", "meds_2018"), "remove": ("meds_2017",)}
# Printed only on the 2018 sheet, and only on the 2017 one (pypdf's text, without spaces).
ONLY_2018 = ["本次随访对象*1患者本人2患者家属、监护人3其他知情人", "转诊情况*", "联系人及电话", "联系专科医生",
             "专科医生姓名及电话", "处置结果", "用法：早mg；中mg；晚mg", "长效药：每周一次，每次mg"]
ONLY_2017 = ["名称用法：每日(月)次每次剂量mg"]
# The 2018 slots of drug 2 of 用药情况 and drug 3 of 用药指导, and what a print stamps in them.
STAMPED_2018 = {"visit_target": "1/2", "specialist": "2", "specialist_contact": "周医生13700002222",
                "referral_result": "收住院", "med.2": "利培酮片", "med_am.2": "1", "med_pm.2": "3",
                "med_lai_weeks.2": "4", "med_lai_dose.2": "75", "guide_med.3": "帕利哌酮注射液",
                "guide_lai_weeks.3": "2"}


def layout_2018(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FormDef:
    return with_rows(tmp_path, monkeypatch, "mental_followup", **LAYOUT_2018)


def test_the_default_sheet_is_the_2017_book_form():
    form = SHIPPED.form("mental_followup")
    assert form.prints("meds_2017") and not any(form.prints(r) for r in LAYOUT_2018["add"])
    _, text = check_sheet(form)
    assert all(label in text for label in ONLY_2017)
    assert not any(label in text for label in ONLY_2018)
    assert "本次随访对象" not in text and "长效药" not in text


def test_the_2018_layout_prints_its_rows_in_place_of_the_2017_drug_rows_on_one_page(tmp_path, monkeypatch):
    form = layout_2018(tmp_path, monkeypatch)
    layout, text = check_sheet(form)  # one A4 page, every field's label and options printed, every slot a field
    assert all(label in text for label in ONLY_2018), [label for label in ONLY_2018 if label not in text]
    assert not any(label in text for label in ONLY_2017) and "每日(月)" not in text and "每次剂量" not in text
    # 本次随访对象 right after 本次随访形式; 转诊情况 after 治疗效果; 用药情况 then 用药指导, each 药物1–3 twice over
    assert text.index("本次随访形式") < text.index("本次随访对象") < text.index("若失访")
    assert text.index("治疗效果") < text.index("转诊情况") < text.index("用药情况") < text.index("用药指导") \
        < text.index("康复措施")
    assert text.count("用法：早") == text.count("长效药：每") == 6
    names = layout.slot_names
    assert {f"{stem}.{n}" for stem in ("med", "med_am", "med_noon", "med_pm", "med_lai_weeks", "med_lai_dose",
                                       "guide_med", "guide_am", "guide_noon", "guide_pm", "guide_lai_weeks",
                                       "guide_lai_dose") for n in (1, 2, 3)} <= names
    assert not {name for name in names if name.split(".")[0] in {"drug", "drug_times", "drug_dose", "guide"}}


def test_a_prefilled_2018_sheet_keeps_name_code_and_refiling_mark_and_stamps_the_2018_slots(tmp_path, monkeypatch):
    form = layout_2018(tmp_path, monkeypatch)
    text = check_prefilled(form, STAMPED_2018)  # name, 编号, title, one A4 page, the re-filing barcode decodes
    blank = compact(text_of(layout_form(form)))
    for value in ("周医生13700002222", "收住院", "利培酮片", "帕利哌酮注射液", "75"):
        assert text.count(value) == blank.count(value) + 1, value


def test_adding_the_2018_drug_rows_is_enough_to_leave_out_the_2017_ones(tmp_path, monkeypatch):
    """meds_2018 replaces meds_2017 (form.yaml `replaces:`): a site that names only the rows it adds gets the same
    sheet, and never both kinds of drug rows on one page."""
    listed = layout_2018(tmp_path, monkeypatch)
    added_only = with_rows(tmp_path, monkeypatch, "mental_followup", add=LAYOUT_2018["add"])
    assert added_only == listed and layout_key(added_only) == layout_key(listed)
    assert not added_only.prints("meds_2017") and "drug" not in added_only.by_slot
    assert layout_key(listed) != layout_key(SHIPPED.form("mental_followup"))


def test_each_part_of_the_2018_layout_can_be_picked_alone(tmp_path, monkeypatch):
    """本次随访对象 and 转诊情况 beside the 2017 drug rows (some copies mix them); the 2017 rows removed alone leave
    no drug rows (a site that records them elsewhere)."""
    form = with_rows(tmp_path, monkeypatch, "mental_followup", add=("visit_target", "referral_2018"))
    _, text = check_sheet(form)
    assert "本次随访对象*" in text and "转诊情况*" in text and all(label in text for label in ONLY_2017)
    assert "长效药" not in text
    form = with_rows(tmp_path, monkeypatch, "mental_followup", remove=("meds_2017",))
    _, text = check_sheet(form)
    assert "用药情况" not in text and "用药指导" not in text and "长效药" not in text and "康复措施" in text
    check_prefilled(form)


def test_the_2018_layout_with_the_field_variants_and_every_other_row(tmp_path, monkeypatch):
    """The fullest 2018 sheet (居民签名 and 备注 too) keeps one page; the 2017 rows' `free` variant has nothing to
    change on it, 外出打工 still applies."""
    site(tmp_path, monkeypatch, "mental_followup:\n  lost_reason: dagong\n  drug_dose: free\n  rows:\n"
                                "    add: [visit_target, referral_2018, meds_2018, resident_sign, remarks]\n")
    form = load_catalog().form("mental_followup")
    layout, text = check_sheet(form)
    assert "1外出打工" in text and "居民签名" in text and "备注" in text
    assert all(label in text for label in ONLY_2018)
    lowest = min(slot.y for slots in layout.pages[0].slots.values() for slot in slots)
    assert lowest > 18 * 72 / 25.4, "a slot reaches into the bottom margin, where the re-filing mark goes"
    check_prefilled(form, {**STAMPED_2018, "remarks": "家属代述"})
