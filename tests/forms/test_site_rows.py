"""Provincial rows (issue #12 §2): a site adds rows to the follow-up sheets (下一步管理措施, 用药调整意见,
转诊 联系人及电话 / 结果, 居民签名, 备注) or removes the standard rows form.yaml marks removable, in its
form_variants.yaml — data, not code.

Each sheet is laid out with the site's rows: the rows' labels and options are printed and their fields have slots, a
removed row is gone, the page is still one A4, and a prefilled print keeps its name, its 编号 and a re-filing
barcode that decodes. The default sheets are unchanged: test_catalog compares them with their reference images.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from archiveprint.cli import AppContext, main
from archiveprint.configfile import ConfigError
from archiveprint.forms.catalog import FormDef, SiteChoice, load_catalog, load_form
from archiveprint.forms.context import slot_values
from archiveprint.forms.layout import FormLayout, layout_form, layout_key
from archiveprint.forms.printer import FormPrinter
from archiveprint.forms.services import print_forms, resolve_scope
from archiveprint.forms.stamp import refile_code
from tests.conftest import TODAY
from tests.forms.test_catalog import slot_stems
from tests.forms.test_engine import PERSON
from tests.pdfcheck import A4_PT, compact, decode_barcodes, page_texts, rasterize, read

SHIPPED = load_catalog()
# form → (rows a site may add, rows it may remove), as each form.yaml declares them; written out here so that a
# row dropped from a form.yaml fails this test rather than silently leaving it.
ROWS = {
    "hypertension_followup": (("next_steps", "med_advice", "referral_contact", "resident_sign", "remarks"),
                              ("aux_exam", "drug_other")),
    "diabetes_followup": (("next_steps", "med_advice", "referral_contact", "resident_sign", "remarks"),
                          ("other_exam",)),
    "tb_followup": (("resident_sign", "remarks"), ()),
    "prenatal_followup": (("resident_sign", "remarks"), ()),
    # one visit a sheet: its slots have no v1. prefix; the 2018版 rows (test_mental_2018.py), meds_2018 replacing
    # the 2017 drug rows
    "mental_followup": (("visit_target", "referral_2018", "meds_2018", "resident_sign", "remarks"), ("meds_2017",)),
}
# What each added row prints (beyond its fields' labels and options, checked for every field).
PRINTED = {"next_steps": ["下一步管理措施", "1常规随访", "2第1次控制不满意2周随访", "3两次控制不满意转诊随访",
                          "4紧急转诊"],
           "med_advice": ["用药调整意见"], "referral_contact": ["联系人及电话", "结果", "1到位", "2不到位"],
           "resident_sign": ["居民签名"], "remarks": ["备注"],
           "visit_target": ["本次随访对象*", "1患者本人", "2患者家属、监护人", "3其他知情人"],
           "referral_2018": ["转诊情况*", "是否转诊", "联系人及电话", "联系专科医生", "处置结果"],
           "meds_2018": ["用法：早", "mg；中", "mg；晚", "长效药：每", "周一次，每次"]}
# A value for a slot of each added row, stamped in visit column 1 of a prefilled print (or the one visit).
STAMPED = {"next_steps": ("next_steps", "3"), "med_advice": ("advice_drug1", "氨氯地平片"),
           "referral_contact": ("referral_contact", "刘芳15900001111"), "resident_sign": ("resident_sign", "李秀英"),
           "remarks": ("remarks", "家属代签"), "visit_target": ("visit_target", "2"),
           "referral_2018": ("specialist_contact", "县精神卫生中心周医生"), "meds_2018": ("med.1", "奥氮平片")}


def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    """This test's instance folder, with `text` as its form_variants.yaml."""
    monkeypatch.setenv("ARCHIVEPRINT_INSTANCE", str(tmp_path))
    (tmp_path / "form_variants.yaml").write_text(text, encoding="utf-8")


def with_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, form_id: str, add: tuple[str, ...] = (),
              remove: tuple[str, ...] = ()) -> FormDef:
    site(tmp_path, monkeypatch,
         f"{form_id}:\n  rows:\n    add: [{', '.join(add)}]\n    remove: [{', '.join(remove)}]\n")
    return load_catalog().form(form_id)


def text_of(layout: FormLayout) -> str:
    return compact("".join(page_texts(layout.pdf)))


def check_sheet(form: FormDef) -> tuple[FormLayout, str]:
    """The sheet on one A4 page; every printed field has a slot, label and options on it, every slot a field."""
    layout = layout_form(form)
    page, = read(layout.pdf).pages
    assert (float(page.mediabox.width), float(page.mediabox.height)) == pytest.approx(A4_PT, abs=0.01)
    stems, text = slot_stems(layout.slot_names), text_of(layout)
    for field in form.fields:
        assert field.slot in stems, f"{form.id}: field {field.slot} has no slot"
        assert compact(field.label) in text, f"{form.id}: label {field.label} is not printed"
        assert all(compact(label) in text for _, label in field.options), f"{form.id}: options of {field.slot}"
    assert [name for name in layout.slot_names if not slot_stems({name}) & {f.slot for f in form.fields}] == []
    return layout, text


def prefilled(form: FormDef, values: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    printer = FormPrinter(buffer)
    printer.add_form(form, {**slot_values(form, PERSON), **(values or {})}, code17=PERSON["code17"])
    printer.close(title="test")
    return buffer.getvalue()


def check_prefilled(form: FormDef, values: dict[str, str] | None = None) -> str:
    """A prefilled sheet: one A4 page with the resident's name and 编号 and a re-filing mark that decodes."""
    pdf = prefilled(form, values)
    page, = read(pdf).pages
    assert (float(page.mediabox.width), float(page.mediabox.height)) == pytest.approx(A4_PT, abs=0.01)
    text = compact(page_texts(pdf)[0])
    assert PERSON["name"] in text and PERSON["code8"] in text and form.title in text
    assert decode_barcodes(rasterize(pdf, 0, 200)) == [refile_code(PERSON["code17"], form.number, 1)]
    return text


def stamped_once(form: FormDef, rows: tuple[str, ...]) -> bool:
    """A value stamped in each added row is printed once more than without it (a lone code "3" included)."""
    names = layout_form(form).slot_names
    values = {(f"v1.{stem}" if f"v1.{stem}" in names else stem): value for stem, value in map(STAMPED.get, rows)}
    assert set(values) <= names
    text, without = check_prefilled(form, values), compact(page_texts(prefilled(form))[0])
    return all(text.count(value) == without.count(value) + 1 for value in values.values())


def test_the_declared_rows_are_as_this_test_lists_them_and_the_added_ones_are_off_by_default():
    for form_id, (add, remove) in ROWS.items():
        form = SHIPPED.form(form_id)
        assert ({r.name for r in form.rows if r.site == "add"}, {r.name for r in form.rows if r.site == "remove"}) \
            == (set(add), set(remove))
        assert {r.name for r in form.rows if r.printed} == set(remove)
        assert form.added_rows == ()
        slots = {f.slot for f in form.fields}
        assert not slots & {"next_steps", "advice_drug1", "referral_contact", "resident_sign", "remarks"}


ADDED = [(form_id, row) for form_id, (add, _) in ROWS.items() for row in add]


@pytest.mark.parametrize(("form_id", "row"), ADDED)
def test_a_row_a_site_adds_is_printed_on_the_one_page_and_takes_prefilled_and_stamped_values(
        form_id, row, tmp_path, monkeypatch):
    form = with_rows(tmp_path, monkeypatch, form_id, add=(row,))
    # the sheet as shipped, less the row this one is printed in place of (2018版 用药情况 for the 2017 drug rows)
    replaced = tuple(r.replaces for r in form.rows if r.name == row and r.replaces)
    shipped = with_rows(tmp_path, monkeypatch, form_id, remove=replaced) if replaced else SHIPPED.form(form_id)
    assert not any(form.prints(r) for r in replaced)
    added = [f for f in form.fields if f.slot not in shipped.by_slot]
    assert added and form.added_rows == (row,)
    assert [f.slot for f in form.fields if f.slot in shipped.by_slot] == [f.slot for f in shipped.fields]
    _, text = check_sheet(form)
    assert all(compact(label) in text for label in PRINTED[row])
    assert stamped_once(form, (row,))


@pytest.mark.parametrize("form_id", sorted(ROWS))
def test_every_row_added_at_once_still_fits_one_a4_page(form_id, tmp_path, monkeypatch):
    """The densest sheet a site can ask for: the template lays it out compact (lower rows) to keep one page."""
    add, _ = ROWS[form_id]
    form = with_rows(tmp_path, monkeypatch, form_id, add=add)
    layout, text = check_sheet(form)
    assert all(compact(label) in text for row in add for label in PRINTED[row])
    lowest = min(slot.y for slots in layout.pages[0].slots.values() for slot in slots)
    assert lowest > 18 * 72 / 25.4, "a slot reaches into the bottom margin, where the re-filing mark goes"
    assert stamped_once(form, add)


@pytest.mark.parametrize(("form_id", "add"), [
    ("hypertension_followup", ("next_steps", "referral_contact", "remarks")),  # weight 5: the most laid out snug
    ("diabetes_followup", ("next_steps", "resident_sign")),  # weight 3 (this sheet is fuller)
    ("diabetes_followup", ("referral_contact", "remarks")),
])
def test_the_most_a_snug_sheet_holds_still_fits_one_page(form_id, add, tmp_path, monkeypatch):
    """Up to a few added rows the write-in lines keep their 5 mm (only paddings and tall cells shrink)."""
    form = with_rows(tmp_path, monkeypatch, form_id, add=add)
    layout, _ = check_sheet(form)
    lines = [slot for slots in layout.pages[0].slots.values() for slot in slots if slot.kind == "line"]
    assert min(slot.height for slot in lines) >= 5 * 72 / 25.4 - 0.1
    check_prefilled(form)


REMOVED = [(form_id, row) for form_id, (_, remove) in ROWS.items() for row in remove]


@pytest.mark.parametrize(("form_id", "row"), REMOVED)
def test_a_row_a_site_removes_is_gone_from_the_sheet_and_the_catalogue(form_id, row, tmp_path, monkeypatch):
    form = with_rows(tmp_path, monkeypatch, form_id, remove=(row,))
    shipped = SHIPPED.form(form_id)
    gone = [f for f in shipped.fields if f.slot not in form.by_slot]
    assert gone and not form.prints(row) and shipped.prints(row)
    layout, text = check_sheet(form)
    assert not slot_stems(layout.slot_names) & {f.slot for f in gone}
    kept = {compact(f.label) for f in form.fields}
    for field in gone:
        label = compact(field.label)
        if label in kept:  # 用法用量 is printed for the other drugs
            assert text.count(label) < text_of(layout_form(shipped)).count(label)
        else:
            assert label not in text, f"{form_id}: {field.label} is still printed"
    check_prefilled(form)


def test_rows_and_field_variants_together_in_one_site_file(tmp_path, monkeypatch):
    """The old `{slot: variant}` entries keep working beside `rows:` (the added drug rows follow `mg` too)."""
    site(tmp_path, monkeypatch, "hypertension_followup:\n  dose1: mg\n  advice_dose1: mg\n"
                                "  rows: {add: [med_advice, next_steps], remove: [drug_other]}\n"
                                "personal_info: {livestock: ycia}\n")
    catalog = load_catalog()
    form = catalog.form("hypertension_followup")
    assert form.field("dose1").unit == "mg" and form.field("advice_dose1").unit == "mg"
    assert form.field("dose2").unit == "" and "drug_other" not in form.by_slot
    assert [label for _, label in catalog.form("personal_info").field("livestock").options] == ["单设", "室内", "室外"]
    _, text = check_sheet(form)
    assert text.count("每日次每次mg") == 2 * 4 and "其他药物" not in text and "用药调整意见" in text
    assert layout_key(form) != layout_key(SHIPPED.form("hypertension_followup"))


def test_a_print_job_prints_the_sites_rows(session, create_household, create_resident, tmp_path, monkeypatch):
    household = create_household("201", head_name="李秀英")
    create_resident(household, name="李秀英")
    site(tmp_path, monkeypatch, "diabetes_followup: {rows: {add: [next_steps, resident_sign]}}\n")
    result = print_forms(session, "diabetes_followup", resolve_scope(session, village="201"), tmp_path / "dm.pdf",
                         kind="form", today=TODAY)
    assert result.pages == 1
    text = compact(page_texts(tmp_path / "dm.pdf")[0])
    assert "李秀英" in text and "下一步管理措施" in text and "居民签名" in text


def refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> ConfigError:
    site(tmp_path, monkeypatch, text)
    with pytest.raises(ConfigError) as error:
        load_catalog()
    return error.value


@pytest.mark.parametrize(("text", "line", "field", "value", "message"), [
    ("personal_info: {livestock: ycia}\nhypertension_followup:\n  rows:\n    add: [next_step]\n",
     4, "add", "next_step",
     "表单 hypertension_followup 没有“next_step”这一行；可增删的行：next_steps（下一步管理措施）、"),
    ("hypertension_followup:\n  rows:\n    add: [remarks]\n    remove: [remarks]\n",
     4, "remove", "remarks",
     "表单 hypertension_followup 的“remarks”行不能删除；可删除的行：aux_exam（辅助检查）、drug_other（其他药物）"),
    ("tb_followup:\n  rows: {remove: [doctor]}\n",
     2, "remove", "doctor",
     "表单 tb_followup 没有“doctor”这一行；可增删的行：resident_sign（居民签名）、remarks（备注）"),
    ("tb_followup:\n  rows: {add: [remarks, resident_sign, remarks], remove: [remarks]}\n",
     2, "remove", "remarks", "表单 tb_followup 的“remarks”行不能删除；可删除的行：无"),
    ("diabetes_followup:\n  rows:\n    add: [other_exam]\n",
     3, "add", "other_exam",
     "表单 diabetes_followup 的“other_exam”行本来就印着，不能添加；可添加的行：next_steps（下一步管理措施）"),
    ("hypertension_folowup:\n  rows: {add: [remarks]}\n",
     1, "hypertension_folowup", "hypertension_folowup", "没有表单“hypertension_folowup”"),
    ("hypertension_followup:\n  rows: [next_steps]\n",
     2, "rows", ["next_steps"], "格式应为：rows: {add: [行, …], remove: [行, …]}"),
    ("hypertension_followup:\n  rows: {added: [next_steps]}\n",
     2, "added", None, "hypertension_followup.rows 中有未知的键：added；可用：add、remove"),
    ("hypertension_followup:\n  rows: {add: next_steps}\n", 2, "add", "next_steps", "应为列表"),
    ("hypertension_followup:\n  dose1: {unit: mg}\n", 2, "dose1", None, "格式应为：表单编号: {字段: 版本}"),
])
def test_a_wrong_site_file_is_refused_naming_its_file_line_and_value(tmp_path, monkeypatch, text, line, field, value,
                                                                     message):
    error = refused(tmp_path, monkeypatch, text)
    assert (error.row, error.field, error.value) == (line, field, value)
    assert error.message.startswith(f"表单版本设置 {tmp_path / 'form_variants.yaml'}：")
    assert message in error.message
    assert str(error).startswith(f"第{line}行，「{field}」")


def form_folder(tmp_path: Path, rows: str, fields: str) -> Path:
    folder = tmp_path / "visit"
    folder.mkdir()
    (folder / "form.yaml").write_text(f"id: visit\nnumber: 13\ntitle: 随访记录\n{rows}fields:\n{fields}",
                                      encoding="utf-8")
    return folder


def test_a_form_file_whose_rows_and_fields_disagree_is_refused(tmp_path):
    folder = form_folder(tmp_path, "rows:\n  remarks: {label: 备注, site: add}\n",
                         "  - {slot: name, label: 姓名}\n  - {slot: note, label: 备注, row: remark}\n")
    with pytest.raises(ConfigError) as error:
        load_form(folder)
    assert (error.value.row, error.value.field, error.value.value) == (8, "row", "remark")
    assert "字段所在的行“remark”没有在 rows 中声明" in error.value.message
    (folder / "form.yaml").write_text((folder / "form.yaml").read_text(encoding="utf-8").replace("row: remark}", "}"),
                                      encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_form(folder)
    assert (error.value.row, error.value.value) == (5, "remarks")
    assert "行“remarks”没有字段（字段用 row: remarks 归入这一行）" in error.value.message


def test_a_form_file_row_must_say_whether_a_site_adds_or_removes_it(tmp_path):
    folder = form_folder(tmp_path, "rows:\n  remarks: {label: 备注, site: optional}\n",
                         "  - {slot: note, label: 备注, row: remarks}\n")
    with pytest.raises(ConfigError) as error:
        load_form(folder)
    assert error.value.row == 5 and "应为以下之一：add、remove" in error.value.message


@pytest.mark.parametrize("rows", [
    "  meds_new: {label: 新用药, site: add, replaces: meds_gone}\n  meds_old: {label: 用药, site: remove}\n",
    "  meds_new: {label: 新用药, site: add, replaces: meds_new}\n  meds_old: {label: 用药, site: remove}\n",
    "  meds_new: {label: 新用药, site: remove, replaces: meds_old}\n  meds_old: {label: 用药, site: remove}\n",
])
def test_a_row_may_replace_only_a_removable_row_and_only_when_a_site_adds_it(tmp_path, rows):
    fields = "  - {slot: med, label: 用药, row: meds_old}\n  - {slot: med_new, label: 新用药, row: meds_new}\n"
    folder = form_folder(tmp_path, f"rows:\n{rows}", fields)
    with pytest.raises(ConfigError) as error:
        load_form(folder)
    assert (error.value.row, error.value.field) == (5, "replaces")
    assert "行“meds_new”不能替换" in error.value.message and "只有可添加的行（site: add）能替换" in error.value.message
    (folder / "form.yaml").write_text(f"id: visit\nnumber: 13\ntitle: 随访记录\nrows:\n"
                                      "  meds_new: {label: 新用药, site: add, replaces: meds_old}\n"
                                      f"  meds_old: {{label: 用药, site: remove}}\nfields:\n{fields}", encoding="utf-8")
    assert [f.slot for f in load_form(folder).fields] == ["med"]
    assert [f.slot for f in load_form(folder, SiteChoice(add=("meds_new",))).fields] == ["med_new"]


def test_a_template_naming_an_undeclared_row_fails_loudly():
    with pytest.raises(KeyError, match="row nxt_steps is not declared"):
        SHIPPED.form("hypertension_followup").prints("nxt_steps")


MEDS_2018 = "用药情况、用药指导（早中晚、长效药）"


def test_the_forms_variants_command_lists_each_forms_rows_and_the_sites_choice(tmp_path, monkeypatch):
    site(tmp_path, monkeypatch, "hypertension_followup: {rows: {add: [next_steps], remove: [drug_other]}}\n")
    output = CliRunner().invoke(main, ["forms", "variants"], obj=AppContext(), catch_exceptions=False).output
    assert "hypertension_followup 行 next_steps（下一步管理措施）：可添加  当前：印" in output
    assert "hypertension_followup 行 remarks（备注）：可添加  当前：不印" in output
    assert "hypertension_followup 行 drug_other（其他药物）：可删除  当前：不印" in output
    assert "diabetes_followup 行 other_exam（其他检查）：可删除  当前：印" in output
    assert f"mental_followup 行 meds_2018（{MEDS_2018}）：可添加（替换 meds_2017）  当前：不印" in output


def test_the_forms_variants_command_shows_a_row_left_out_for_the_row_that_replaces_it(tmp_path, monkeypatch):
    site(tmp_path, monkeypatch, "mental_followup: {rows: {add: [meds_2018]}}\n")
    output = CliRunner().invoke(main, ["forms", "variants"], obj=AppContext(), catch_exceptions=False).output
    assert f"mental_followup 行 meds_2018（{MEDS_2018}）：可添加（替换 meds_2017）  当前：印" in output
    assert "mental_followup 行 meds_2017（用药情况、用药指导（每日(月)几次、每次剂量））：可删除  当前：不印" in output
