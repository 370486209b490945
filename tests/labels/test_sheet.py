"""Stock geometry without a database: golden mm → pt values, every cell's position, start offsets, used cells, creep."""

from __future__ import annotations

import pytest

from archiveprint.errors import InvalidValue
from archiveprint.labels.services import label_stocks
from archiveprint.labels.sheet import (
    MM,
    Calibration,
    cell_at,
    cell_position,
    corrected,
    layout_cells,
    pages_needed,
    parse_cells,
    shift_from_measurement,
)
from archiveprint.labels.stock import LabelStock, parse_stock

STOCKS = label_stocks()
A4_3X8 = STOCKS["a4-3x8"]
SHIPPED = ("a4-2x5", "a4-2x7", "a4-3x7", "a4-3x8", "a4-3x8-70x37", "a4-4x10", "a4-65up",
           "roll-100x50", "roll-70x40", "roll-60x40", "roll-50x30")


def test_every_common_stock_ships():
    assert set(SHIPPED) <= set(STOCKS)
    assert [(STOCKS[s].columns, STOCKS[s].rows) for s in ("a4-2x5", "a4-2x7", "a4-3x7", "a4-3x8", "a4-4x10",
                                                          "a4-65up")] == [(2, 5), (2, 7), (3, 7), (3, 8), (4, 10),
                                                                          (5, 13)]
    for roll in ("roll-100x50", "roll-70x40", "roll-60x40", "roll-50x30"):
        stock = STOCKS[roll]
        assert stock.is_roll and stock.per_page == 1 and stock.default_dpi == 203
        assert (stock.page_width, stock.page_height) == (stock.label_width, stock.label_height)


def test_golden_values_mm_to_points():
    # Koha's golden-value test, in millimetres: 210 × 297 mm is the A4 MediaBox, 63.5 mm is exactly 180 pt.
    assert A4_3X8.page_width * MM == pytest.approx(595.2756, abs=1e-4)
    assert A4_3X8.page_height * MM == pytest.approx(841.8898, abs=1e-4)
    assert A4_3X8.label_width * MM == pytest.approx(180.0, abs=1e-9)
    assert A4_3X8.label_height * MM == pytest.approx(96.0945, abs=1e-4)
    assert (A4_3X8.gap_x, A4_3X8.gap_y, A4_3X8.per_page) == (2.5, 0.0, 24)
    assert STOCKS["roll-100x50"].page_width * MM == pytest.approx(283.4646, abs=1e-4)


def test_the_position_of_every_cell_on_a4_3x8():
    cells = [cell_at(A4_3X8, i) for i in range(1, 25)]
    assert [(c.row, c.column) for c in cells[:4]] == [(0, 0), (0, 1), (0, 2), (1, 0)]  # row by row, 左上优先
    for cell in cells:
        assert cell.left == pytest.approx(7.25 + cell.column * 66.0)
        assert cell.top == pytest.approx(12.9 + cell.row * 33.9)
    first, last = cells[0], cells[-1]
    assert first.pdf_box(297) == pytest.approx((20.5512, 709.2283, 180.0, 96.0945), abs=1e-4)
    assert (last.left, last.top) == pytest.approx((139.25, 250.2))
    assert last.pdf_box(297) == pytest.approx((394.7244, 36.5669, 180.0, 96.0945), abs=1e-4)
    assert last.centre == pytest.approx((171.0, 267.15))


@pytest.mark.parametrize("stock_id", SHIPPED)
def test_cells_stay_on_the_page_and_never_overlap(stock_id):
    stock = STOCKS[stock_id]
    cells = [cell_at(stock, i) for i in range(1, stock.per_page + 1)]
    for cell in cells:
        assert cell.left >= 0 and cell.left + cell.width <= stock.page_width + 0.05
        assert cell.top >= 0 and cell.top + cell.height <= stock.page_height + 0.05
    for a in cells:
        for b in cells:
            if a.index < b.index:
                apart = (a.left + a.width <= b.left + 1e-6 or b.left + b.width <= a.left + 1e-6
                         or a.top + a.height <= b.top + 1e-6 or b.top + b.height <= a.top + 1e-6)
                assert apart, (stock_id, a.index, b.index)


def test_start_at_cell_n_continues_on_whole_sheets():
    cells = list(layout_cells(A4_3X8, 30, start=5))
    assert [(c.page, c.index) for c in cells[:2]] == [(0, 5), (0, 6)]
    assert [(c.page, c.index) for c in cells[19:21]] == [(0, 24), (1, 1)]
    assert cells[-1].page == 1 and cells[-1].index == 10
    assert pages_needed(A4_3X8, 20, start=5) == 1 and pages_needed(A4_3X8, 21, start=5) == 2


def test_used_cells_of_several_partly_used_sheets_are_left_out():
    used = (parse_cells("1-3，7 9"), parse_cells("24"))
    cells = list(layout_cells(A4_3X8, 45, used=used))
    first = [c.index for c in cells if c.page == 0]
    second = [c.index for c in cells if c.page == 1]
    assert first == [4, 5, 6, 8, *list(range(10, 25))]
    assert second == list(range(1, 24))
    assert [c.index for c in cells if c.page == 2] == [1, 2, 3]
    assert pages_needed(A4_3X8, 45, used=used) == 3


def test_start_and_used_cells_are_checked():
    with pytest.raises(InvalidValue, match="起始格应在 1–24"):
        list(layout_cells(A4_3X8, 1, start=25))
    with pytest.raises(InvalidValue, match="超出 1–24"):
        list(layout_cells(A4_3X8, 1, used=(frozenset({30}),)))
    with pytest.raises(InvalidValue, match="已全部用过"):
        list(layout_cells(A4_3X8, 1, start=13, used=(frozenset(range(13, 25)),)))
    with pytest.raises(InvalidValue, match="卷筒"):
        list(layout_cells(STOCKS["roll-50x30"], 1, start=2))
    with pytest.raises(InvalidValue, match="1,3,5-8"):
        parse_cells("1,a")
    assert parse_cells("2, 4～6") == {2, 4, 5, 6}


def test_offset_and_creep_move_cells_only_when_drawn():
    calibration = Calibration(dx=1.0, dy=-0.5, creep_x=0.2, creep_y=0.1)
    assert cell_position(A4_3X8, 0, 0, calibration) == pytest.approx((8.25, 12.4))
    assert cell_position(A4_3X8, 7, 2, calibration) == pytest.approx((139.25 + 1.0 + 0.4, 250.2 - 0.5 + 0.7))
    assert cell_at(A4_3X8, 24).left == 139.25  # the stock itself stays true


def test_measured_shifts_become_the_correction_that_cancels_them():
    first = shift_from_measurement((39.0, 29.85), (40.2, 29.35))  # printed 1.2 mm right, 0.5 mm high
    last = shift_from_measurement((171.0, 267.15), (172.6, 267.85))  # and drifting further towards the end
    assert first == (1.2, -0.5) and last == (1.6, 0.7)
    fix = corrected(A4_3X8, Calibration(), first, last)
    assert fix == Calibration(dx=-1.2, dy=0.5, creep_x=-0.2, creep_y=round(-1.2 / 7, 4))
    # a second round measured through the first correction refines it instead of starting over
    again = corrected(A4_3X8, fix, (0.1, 0.0))
    assert again.dx == pytest.approx(-1.3) and again.creep_x == fix.creep_x


def test_stock_files_are_checked_and_name_the_file(tmp_path):
    with pytest.raises(InvalidValue, match=r"bad\.yaml.*标签会重叠"):
        parse_stock("bad", {"label": [70, 37], "grid": [3, 8], "pitch": [60, 37], "margin": [0, 0]},
                    source="bad.yaml")
    with pytest.raises(InvalidValue, match="超出纸宽"):
        parse_stock("wide", {"label": [70, 37], "grid": [4, 8], "margin": [0, 0]})
    with pytest.raises(InvalidValue, match="两个数"):
        parse_stock("odd", {"label": "70x37", "grid": [3, 8], "margin": [0, 0]})


def test_a_site_adds_and_overrides_stocks_in_its_own_folder(tmp_path):
    own = tmp_path / "labels" / "stock"
    own.mkdir(parents=True)
    (own / "a4-3x8.yaml").write_text("name: 本院 3×8\nlabel: [63.5, 33.9]\ngrid: [3, 8]\npitch: [66, 33.9]\n"
                                     "margin: [7.0, 13.2]\n", encoding="utf-8")
    (own / "clinic-80x50.yaml").write_text("name: 本院卷筒\nkind: roll\nlabel: [80, 50]\n", encoding="utf-8")
    stocks = label_stocks(tmp_path)
    assert stocks["a4-3x8"].name == "本院 3×8" and stocks["a4-3x8"].left == 7.0
    assert isinstance(stocks["clinic-80x50"], LabelStock) and stocks["clinic-80x50"].is_roll
    assert set(SHIPPED) <= set(stocks)
    assert list(stocks)[-1].startswith(("roll-", "clinic-")) and not next(iter(stocks)).startswith("roll-")


def test_issue_16_a_broken_stock_file_names_its_file_line_field_and_value(tmp_path):
    own = tmp_path / "labels" / "stock"
    own.mkdir(parents=True)
    (own / "clinic.yaml").write_text("name: 本院 3×8\nlabel: [63.5, 33.9]\ngrid: [3, 8]\npitch: [60, 33.9]\n"
                                     "margin: [7.0, 13.2]\n", encoding="utf-8")
    with pytest.raises(InvalidValue) as error:
        label_stocks(tmp_path)
    assert (error.value.row, error.value.field, error.value.value) == (4, "pitch", 60.0)
    assert str(error.value) == ("第4行，「pitch」，值“60.0”：标签纸定义 clinic.yaml："
                                "横向间距 60.0 小于标签宽度 63.5，标签会重叠")
