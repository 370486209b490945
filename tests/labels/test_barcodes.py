"""Barcode sizing without a database: whole printer dots, a safe floor per printer, a clear refusal below it."""

from __future__ import annotations

import pytest

from archiveprint.labels.barcode_sizing import (
    MIN_BAR_HEIGHT_MM,
    QUIET_MODULES,
    BarcodeTooSmall,
    dot_mm,
    module_table,
    plan_code128,
    plan_qr,
    safe_dots,
)
from archiveprint.pdf.barcodes import code128_modules
from archiveprint.register.codes import folder_code

FOLDER = folder_code("130123100201", 17).value  # F130123100201000177
RESIDENT = "13012310020100001"


def test_all_digit_codes_use_code_set_c_and_folder_codes_switch_to_it():
    # 17 digits in code set B would be 222 modules; in C (one digit left over) they are 145, as measured.
    assert len(code128_modules(RESIDENT)) == 145
    # F + 18 digits: start B, F, switch to C, 9 digit pairs, check, stop = 156 modules.
    assert len(code128_modules(FOLDER)) == 156
    from barcode.codex import Code128

    assert Code128(FOLDER)._build()[:3] == [104, 38, 99]  # START B, "F", CODE C


def test_safe_module_widths_are_whole_dots_and_never_exactly_two_pixels_of_a_200_dpi_reader():
    assert (safe_dots(203), safe_dots(300), safe_dots(600)) == (2, 4, 7)
    assert safe_dots(360) == 4 and safe_dots(1200) == 13  # other printers: the first whole-dot width from 0.27 mm
    table = {row["dpi"]: row for row in module_table()}
    assert table[203]["module_mm"] == 0.25 and table[300]["module_mm"] == 0.339 and table[600]["module_mm"] == 0.296
    assert all(abs(row["module_mm"] - 0.254) > 0.003 for row in table.values())
    assert table[203]["symbol_mm"] == 44.0  # folder code with both quiet zones at 2 dots of 203 dpi
    assert table[203]["qr_module_mm"] == 0.5 and table[300]["qr_module_mm"] == 0.423


@pytest.mark.parametrize("dpi", [203, 300, 600])
def test_the_widest_module_that_fits_is_chosen_in_whole_dots(dpi):
    plan = plan_code128(FOLDER, length_mm=57.5, room_mm=63.5, height_mm=7.0, dpi=dpi)
    assert plan.module_mm >= 0.25 - 1e-9 and plan.module_mm <= 0.5 and plan.dots >= safe_dots(dpi)
    assert plan.module_mm / dot_mm(dpi) == pytest.approx(plan.dots)
    assert plan.length_mm <= 57.5 and plan.length_mm + 2 * plan.quiet_mm <= 63.5
    wider = (plan.dots + 1) * dot_mm(dpi)
    assert 156 * wider > 57.5 or (156 + 2 * QUIET_MODULES) * wider > 63.5 or wider > 0.5


def test_a_layout_that_would_squeeze_bars_below_the_safe_width_is_refused_with_numbers():
    with pytest.raises(BarcodeTooSmall) as refused:
        plan_code128(FOLDER, length_mm=33.1, room_mm=38.1, height_mm=9.0, dpi=203)
    message = str(refused.value)
    assert "0.250 mm" in message and "44.0 mm" in message and "38.1" not in message.split("只有")[0]
    assert "请换更宽的标签纸" in message
    # the quiet zones count: the bars alone fit in 40 mm, with 10 modules of white each side they do not
    with pytest.raises(BarcodeTooSmall):
        plan_code128(FOLDER, length_mm=40.0, room_mm=42.0, height_mm=9.0, dpi=203)
    with pytest.raises(BarcodeTooSmall, match="高度"):
        plan_code128(FOLDER, length_mm=57.5, room_mm=63.5, height_mm=MIN_BAR_HEIGHT_MM - 0.5, dpi=300)


def test_qr_modules_are_at_least_0_4_mm_in_whole_dots():
    plan = plan_qr(FOLDER, size_mm=20, room_mm=26, dpi=203)
    assert len(plan.matrix) == 21  # version 1: the alphanumeric F-code fits the smallest symbol
    assert plan.module_mm / dot_mm(203) == pytest.approx(plan.dots) and plan.module_mm >= 0.4
    with pytest.raises(BarcodeTooSmall, match="二维码放不下"):
        plan_qr(FOLDER, size_mm=7, room_mm=9, dpi=300)
