"""Label kinds as data and what labels print, without a database: layouts, fields, masking, no ID numbers."""

from __future__ import annotations

import pytest

from archiveprint.errors import InvalidValue
from archiveprint.labels.content import (
    HouseholdFacts,
    Member,
    household_values,
    mask_name,
    sample_values,
)
from archiveprint.labels.design import FIELDS, choose_design, load_kinds, parse_element, parse_kind
from archiveprint.labels.services import label_kinds, label_stocks

KINDS = label_kinds()
STOCKS = label_stocks()


def test_every_kind_the_issue_names_ships_as_data():
    assert {"folder", "spine", "resident", "card", "shelf", "calibration"} <= set(KINDS)
    assert [k.binds for k in (KINDS["folder"], KINDS["spine"], KINDS["resident"], KINDS["card"], KINDS["shelf"],
                              KINDS["calibration"])] == ["household", "household", "resident", "resident",
                                                         "location", "calibration"]
    assert KINDS["card"].supports_qr and KINDS["resident"].supports_qr and not KINDS["folder"].supports_qr
    for kind in KINDS.values():
        assert kind.default_stock in STOCKS


def test_no_layout_can_print_an_id_number():
    for fields in FIELDS.values():
        assert not any("id" in name and "number" in name for name in fields)
    with pytest.raises(InvalidValue, match="没有字段 id_number"):
        parse_element({"type": "text", "field": "id_number", "box": [0, 0, 10, 5]}, "resident", "test")
    with pytest.raises(InvalidValue, match="没有字段 id_number"):
        parse_element({"type": "text", "text": "身份证 {id_number}", "box": [0, 0, 10, 5]}, "household", "test")


def test_layout_mistakes_are_reported_with_where_they_are():
    with pytest.raises(InvalidValue, match=r"x\.yaml 第1个设计第2个元素.*type"):
        parse_kind("x", {"binds": "household", "designs": [{"size": [60, 30], "elements": [
            {"type": "text", "text": "a", "box": [0, 0, 1, 1]}, {"type": "circle", "box": [0, 0, 1, 1]}]}]},
            source="x.yaml")
    with pytest.raises(InvalidValue, match="不认识的设置 colour"):
        parse_element({"type": "text", "text": "a", "box": [0, 0, 1, 1], "colour": "red"}, "household", "t")
    with pytest.raises(InvalidValue, match="rotate"):
        parse_element({"type": "barcode", "field": "folder_code", "box": [0, 0, 1, 1], "rotate": 45},
                      "household", "t")


def test_the_design_closest_to_the_label_is_chosen_and_spines_turn_on_wide_labels():
    design, turn = choose_design(KINDS["folder"], 63.5, 33.9)
    assert (design.width, design.height, turn) == (63.5, 33.9, 0)
    design, turn = choose_design(KINDS["spine"], 99.1, 38.1)
    assert (design.width, design.height, turn) == (38.1, 99.1, 90)  # the tall spine design, on its side
    design, turn = choose_design(KINDS["folder"], 100, 50)
    assert (design.width, design.height, turn) == (99.1, 57.0, 0)
    design, _ = choose_design(KINDS["card"], 99.1, 57.0, qr=True)
    assert design.qr
    with pytest.raises(InvalidValue, match="没有二维码版式"):
        choose_design(KINDS["folder"], 63.5, 33.9, qr=True)


@pytest.mark.parametrize(("name", "masked"), [
    ("张三明", "张*明"), ("张三", "张*"), ("欧阳三明", "欧阳*明"), ("欧阳明", "欧阳*"), ("王", "王"),
    ("阿依古丽·买买提", "阿***·**提"), ("李𠮷", "李*"), ("诸葛孔明亮", "诸葛**亮"),
])
def test_masking_keeps_the_surname_and_the_last_character(name, masked):
    assert mask_name(name) == masked


def test_household_values_group_the_folder_code_and_mask_every_name_when_asked():
    facts = HouseholdFacts("130123100201", "东关村", 17, "张三明",
                           (Member("张三明", "13012310020100001"), Member("李四", "13012320220200002")))
    values = household_values(facts)
    assert values["folder_code"] == "F130123100201000177"
    assert values["folder_code_display"] == "130123-100-201-F00017-7"
    assert values["household_no_text"] == "F00017"
    assert values["members"] == [("张三明", "201-00001"), ("李四", "202-00002")]  # a moved member keeps its code
    masked = household_values(facts, mask=True)
    assert masked["head_name"] == "张*明" and masked["members"][1][0] == "李*"
    assert masked["folder_code"] == values["folder_code"]  # the barcode still opens the folder
    assert set(values) <= FIELDS["household"]


def test_resident_and_sample_values_use_only_known_fields():
    for binds in ("household", "resident", "location", "calibration"):
        assert set(sample_values(binds)) <= FIELDS[binds]
    values = sample_values("resident")
    assert values["archive_code_display"] == "130123-100-201-00018" and values["archive_code_short"] == "201-00018"


def test_issue_16_a_broken_layout_file_names_its_file_line_field_and_value(tmp_path):
    (tmp_path / "tag.yaml").write_text(
        "title: 测试\nbinds: household\ndesigns:\n  - size: [63.5, 33.9]\n    elements:\n"
        "      - {type: text, field: head_name, box: [3, 1, 30, 6]}\n"
        "      - type: barcode\n        field: folder_code\n        box: [3, 8, 50, 7]\n        rotate: 45\n",
        encoding="utf-8")
    with pytest.raises(InvalidValue) as error:
        load_kinds(tmp_path)
    assert (error.value.row, error.value.field, error.value.value) == (10, "rotate", 45)
    assert str(error.value) == ("第10行，「rotate」，值“45”：标签版式 tag.yaml 第1个设计第2个元素："
                                "rotate 只能是 0、90、180、270")
