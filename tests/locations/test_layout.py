"""Storage layout files (pure): ranges, exclusions, filling order, capacity, the preview and checked errors."""

from __future__ import annotations

import pytest

from archiveprint.errors import InvalidValue
from archiveprint.locations.layout import (
    diff_layout,
    load_layout,
    parse_layout,
    parse_term,
    split_position,
    summarize,
)
from archiveprint.resources import storage_layout_dir
from tests.locations.conftest import SMALL_LAYOUT, small_layout


def block(levels: str, *, extra: str = "", capacity: str = "capacity: 10") -> str:
    return f"""\
rooms:
  - code: K1
    name: 一号库房
    blocks:
      - code: M
        levels: {levels}
        {capacity}
{extra}"""


def test_the_shipped_example_generates_the_documented_shelves():
    layout = load_layout(storage_layout_dir() / "example-township.yaml")
    compact, closed = summarize(layout.shelves)
    # 列 1-12 × 面 A,B × 节 1-6 × 层 1-6, minus the wall faces 1A and 12B
    assert [(lc.label, lc.count) for lc in compact.levels] == [("列", 12), ("面", 2), ("节", 6), ("层", 6)]
    assert compact.shelves == 24 * 36 - 2 * 36 and compact.capacity == compact.shelves * 45  # 900 mm / 20 mm
    assert (closed.purpose, closed.shelves, closed.capacity) == ("closed", 10, 400)
    first = layout.shelves[0]
    assert (first.code, first.address, first.seq) == ("K1-M-1-B-1-1", "一号库房 1列 B面 1节 1层", 1)
    assert layout.shelves[-1].address == "二号库房 结案柜 2柜 5层"
    assert [s.seq for s in layout.shelves] == list(range(1, len(layout.shelves) + 1))
    assert layout.position_format == "第{}位" and layout.growth_reserve == 0.2


def test_fill_order_is_top_left_first_and_configurable():
    default = parse_layout(block("列 1-2 × 层 1-2"))
    assert [s.code for s in default.shelves] == ["K1-M-1-1", "K1-M-1-2", "K1-M-2-1", "K1-M-2-2"]
    # 层 counted from the bottom: fill 层 2 before 层 1, and 层 before 列 (row by row)
    reordered = parse_layout(block("列 1-2 × 层 1-2", extra="        fill_order: -层, 列\n"))
    assert [s.code for s in reordered.shelves] == ["K1-M-1-2", "K1-M-2-2", "K1-M-1-1", "K1-M-2-1"]
    # the address still reads in the declared level order
    assert reordered.shelves[0].address == "一号库房 1列 2层"


@pytest.mark.parametrize(("term", "codes", "texts"), [
    ("列 1-3", ["1", "2", "3"], ["1", "2", "3"]),
    ("列 01-03", ["01", "02", "03"], ["01", "02", "03"]),
    ("列 3-1", ["3", "2", "1"], ["3", "2", "1"]),
    ("面 A,B", ["A", "B"], ["A", "B"]),
    ("面 A-C", ["A", "B", "C"], ["A", "B", "C"]),
    ("面 A=左，B=右", ["A", "B"], ["左", "右"]),
    ("节1-2、5", ["1", "2", "5"], ["1", "2", "5"]),
    ("Row 1–2", ["1", "2"], ["1", "2"]),
])
def test_range_syntax(term, codes, texts):
    _, values = parse_term(term)
    assert [code for code, _ in values] == codes
    assert [text for _, text in values] == texts


def test_exclusions_formats_and_aliases_shape_codes_and_addresses():
    layout = parse_layout(block("列 1-2 × 面 A=左,B=右 × 层 1-2", extra=(
        "        exclude:\n          - 列 1 × 面 A\n"
        "        format: {列: \"第{}列\"}\n")))
    codes = [s.code for s in layout.shelves]
    assert "K1-M-1-A-1" not in codes and len(codes) == 6
    assert layout.shelves[0].address == "一号库房 第1列 右面 1层"


def test_capacity_from_shelf_width_and_folder_thickness():
    layout = parse_layout("folder_thickness_mm: 30\n" + block("层 1-2", capacity="shelf_width_mm: 1000"))
    assert {s.capacity for s in layout.shelves} == {33}
    own = parse_layout(block("层 1", capacity="shelf_width_mm: 900\n        folder_thickness_mm: 25"))
    assert own.shelves[0].capacity == 36 and own.shelves[0].width_mm == 900


@pytest.mark.parametrize(("text", "line", "field", "message"), [
    ("rooms: []\n", 1, "rooms", "至少要有一个库房"),
    ("romos: []\n", 1, "romos", "不认识的键"),
    (block("列 1-x"), 6, "列", "范围两端应同为数字"),
    (block("列 1-y,2"), 6, "列", "范围两端应同为数字"),
    (block("列 1-2 3"), 6, "列", "范围无法识别"),
    (block("列 1-3 × 列 4-5"), 6, "levels", "层级名称重复"),
    (block("列 1-2", capacity="capacity: 0"), 7, "capacity", "每层容量"),
    (block("列 1-2", capacity="capacity: 4\n        shelf_width_mm: 900"), 5, "capacity", "二选一"),
    (block("列 1-2", extra="        fill_order: 列, 层\n"), 8, "fill_order", "恰好列出全部层级"),
    (block("列 1-2", extra="        exclude: [列 3]\n"), 8, "exclude", "没有编号 3"),
    (block("列 1-2", extra="        exclude: [层 1]\n"), 8, "exclude", "不在 levels 里"),
    (block("列 1-200 × 层 1-100"), 5, "levels", "最多 10000"),
    (block("列 1-2", extra="        purpose: archive\n"), 8, "purpose", "用途应为"),
    (block("列 1-2").replace("code: M", "code: 密"), 5, "code", "1–8位字母或数字"),
    (block("列 1-2").replace("code: K1\n", "code: K1\n    code: K2\n"), 3, "code", "键重复出现"),
    ("rooms:\n  - code: K1\n    name: [unclosed\n", 4, None, "不是有效的 YAML"),
    (SMALL_LAYOUT.replace("code: K2", "code: K1"), 11, "code", "库房代码重复"),
])
def test_bad_layouts_name_file_line_field_and_value(text, line, field, message):
    with pytest.raises(InvalidValue) as caught:
        parse_layout(text, source="bad.yaml")
    error = caught.value
    assert message in error.message and "bad.yaml" in error.message
    assert error.row == line
    if field is not None:
        assert error.field == field
    assert f"第{line}行" in str(error)


def test_issue_16_a_broken_layout_file_names_its_file_line_field_and_value(tmp_path):
    path = tmp_path / "本院.yaml"
    path.write_text(block("列 1-2 × 层 1-3", capacity="shelf_width_mm: 900\n        folder_thickness_mm: 0.5"),
                    encoding="utf-8")
    with pytest.raises(InvalidValue) as error:
        load_layout(path)
    assert (error.value.row, error.value.field, error.value.value) == (8, "folder_thickness_mm", 0.5)
    assert str(error.value) == "第8行，「folder_thickness_mm」，值“0.5”：库房布局 本院.yaml：应为 1–500 之间的数"


def test_a_missing_or_non_utf8_file_is_a_chinese_error(tmp_path):
    with pytest.raises(InvalidValue, match="不存在"):
        load_layout(tmp_path / "nope.yaml")
    gbk = tmp_path / "gbk.yaml"
    gbk.write_bytes("name: 档案室\n".encode("gbk"))
    with pytest.raises(InvalidValue, match="UTF-8"):
        load_layout(gbk)


def test_diff_matches_shelves_by_code():
    before = small_layout()
    edited = small_layout(SMALL_LAYOUT.replace("列 1-2 × 面 A,B × 层 1-3", "列 1-3 × 面 A,B × 层 1-2")
                          .replace("capacity: 4", "capacity: 5"))
    diff = diff_layout(before.shelves, edited)
    assert sorted(s.code for s in diff.removed) == ["K1-M-1-A-3", "K1-M-1-B-3", "K1-M-2-A-3", "K1-M-2-B-3"]
    assert len(diff.added) == 4 and all(s.code.startswith("K1-M-3-") for s in diff.added)
    assert {c.fields for c in diff.changed} == {("capacity",)} and len(diff.changed) == 8
    assert diff.reordered is False
    assert diff_layout(before.shelves, before).is_empty


@pytest.mark.parametrize(("text", "expected"), [
    ("K1-M-3-A-2-4", ("K1-M-3-A-2-4", None)),
    ("K1-M-3-A-2-4#17", ("K1-M-3-A-2-4", 17)),
    ("K1-M-3-A-2-4/17", ("K1-M-3-A-2-4", 17)),
    ("一号库房 3列 A面 2节 4层 第17位", ("一号库房 3列 A面 2节 4层", 17)),
    ("一号库房3列A面2节4层17位", ("一号库房3列A面2节4层", 17)),
])
def test_typed_addresses_split_into_shelf_and_position(text, expected):
    assert split_position(text) == expected


def test_levels_may_be_a_block_list_and_wall_faces_excluded_per_level():
    layout = parse_layout(block("\n          - 列 1-2\n          - 面 A,B\n          - 层 1-2", extra=(
        "        exclude:\n          - 列 2 × 面 B × 层 2\n        fill_order: 列, 面, -层\n")))
    assert [s.code for s in layout.shelves] == ["K1-M-1-A-2", "K1-M-1-A-1", "K1-M-1-B-2", "K1-M-1-B-1",
                                                "K1-M-2-A-2", "K1-M-2-A-1", "K1-M-2-B-1"]
