"""Labels drawn without a database, read back from the raster: every barcode decodes at 200 and 300 dpi (a page
also blurred), text shrinks and wraps inside its box, rare characters render, names mask, offsets move the print."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest

from archiveprint.labels.barcode_sizing import BarcodeTooSmall
from archiveprint.labels.content import (
    HouseholdFacts,
    Member,
    ResidentFacts,
    ShelfFacts,
    household_values,
    resident_values,
    sample_values,
    shelf_values,
)
from archiveprint.labels.design import choose_design
from archiveprint.labels.render import NOTICE, LabelPrinter
from archiveprint.labels.services import label_kinds, label_stocks
from archiveprint.labels.sheet import MM, Calibration
from archiveprint.pdf.fonts import font_path, load_metrics
from archiveprint.register import demo
from tests.labels.scan import crosshair_centre, decode_sheet, expected_pages, page_image
from tests.pdfcheck import assert_fonts_embedded_and_subset, compact, fonts, page_texts, read

KINDS = label_kinds()
STOCKS = label_stocks()
TODAY = date(2026, 11, 25)


def township_households(count: int, seed: int = 7) -> tuple[list[HouseholdFacts], list[str]]:
    """Made-up households from the demo generator (rare surnames included) and all their ID numbers."""
    township = demo.generate(seed=seed, villages=2, households_per_village=count // 2 + 1, today=TODAY)
    names = {v.code: v.name for v in township.villages}
    numbers: dict[str, int] = {}
    facts = []
    for household in township.households[:count]:
        numbers[household.village_code] = numbers.get(household.village_code, 0) + 1
        facts.append(HouseholdFacts(township.county_code + township.township_code + household.village_code,
                                    names[household.village_code], numbers[household.village_code],
                                    household.head_name, tuple(Member(m.name, m.archive_code)
                                                               for m in household.members)))
    ids = [m.id_number for h in township.households for m in h.members if m.id_number]
    return facts, ids


CODE_FIELD = {"household": "folder_code", "resident": "archive_code", "location": "location_code"}


def render(kind: str, stock: str, items: list[dict[str, object]], *, scan: bool = True, **options: object) -> bytes:
    """Draw `items` and, unless told not to, read every cell back: each barcode must decode to its own code at 200
    and 300 dpi, the first page also blurred (the test that called this checks what else it cares about)."""
    buffer = io.BytesIO()
    printer = LabelPrinter(buffer, STOCKS[stock], KINDS[kind], notice=NOTICE, **options)  # type: ignore[arg-type]
    for values in items:
        printer.add(values)
    printer.close(title="test")
    pdf = buffer.getvalue()
    if scan:
        codes = [str(v.get(CODE_FIELD[KINDS[kind].binds]) or "") or None for v in items]
        start, used = options.get("start", 1), options.get("used", ())
        decode_sheet(pdf, STOCKS[stock], expected_pages(STOCKS[stock], codes, start=start, used=used),  # type: ignore[arg-type]
                     name=f"{kind}-{stock}", calibration=options.get("calibration") or Calibration())  # type: ignore[arg-type]
    return pdf


def runs(pdf: bytes, page: int = 0) -> list[tuple[str, list[float], float]]:
    """Text runs of a page: (text, text matrix, font size)."""
    found: list[tuple[str, list[float], float]] = []

    def visit(text, cm, tm, font, size):  # type: ignore[no-untyped-def]
        if text.strip():
            found.append((text.strip(), list(tm), size))

    read(pdf).pages[page].extract_text(visitor_text=visit)
    return found


# --- every label kind, read back from the raster ------------------------------------------------------------

def test_a_sheet_and_a_half_of_folder_labels_all_decode_even_blurred():
    facts, _ids = township_households(30)
    values = [household_values(f) for f in facts]
    pdf = render("folder", "a4-3x8", values)
    assert len(read(pdf).pages) == 2
    decode_sheet(pdf, STOCKS["a4-3x8"], expected_pages(STOCKS["a4-3x8"], [v["folder_code"] for v in values]),
                 name="folder-a4-3x8", blur_pages=(1,))  # the second page blurred too
    assert_fonts_embedded_and_subset(pdf)
    assert len(fonts(pdf)) == 2  # one subset of the regular and one of the bold face for the whole job


def test_spine_labels_turn_on_a_wide_sheet_and_still_decode():
    facts, _ids = township_households(14, seed=11)
    values = [household_values(f, mask=True) for f in facts]
    pdf = render("spine", "a4-2x7", values)
    rotated = [tm for text, tm, _size in runs(pdf) if text == values[0]["household_no_text"]]
    assert rotated and rotated[0][:4] == pytest.approx([0, 1, -1, 0])  # reads upright once stuck on the spine


def test_names_are_masked_on_spines_and_the_barcode_still_names_the_folder():
    facts = [HouseholdFacts("130123100201", "东关村", 17, "张三明", (Member("张三明", "13012310020100001"),))]
    pdf = render("spine", "a4-2x7", [household_values(f, mask=True) for f in facts])
    text = compact(page_texts(pdf)[0])
    assert "张*明" in text and "张三明" not in text
    assert household_values(facts[0], mask=True)["folder_code"] == "F130123100201000177"  # decoded by render()


def test_resident_labels_on_a_40_up_sheet_and_card_labels_with_code128_or_qr():
    names = ["欧阳建国", "李𠮷", "赵堃", "王䶮", "阿依古丽·买买提"]
    people = [ResidentFacts(f"130123100201{n:05d}", name, "1", date(1950 + n, 1, 2), "东关村", "130123100201", 3,
                            "欧阳建国") for n, name in enumerate(names, start=1)]
    values = [resident_values(p) for p in people]
    codes = [v["archive_code"] for v in values]
    for kind, stock, qr in (("resident", "a4-4x10", True), ("resident", "a4-3x8", False),
                            ("resident", "a4-2x5", True), ("card", "a4-2x5", False), ("card", "a4-2x5", True)):
        pdf = render(kind, stock, values, qr=qr)
        assert [v["archive_code"] for v in values] == codes
    assert "130123-100-201-00002" in compact(page_texts(pdf)[0])


@pytest.mark.parametrize(("stock", "dpi"), [("roll-50x30", 203), ("roll-60x40", 203), ("roll-70x40", 300),
                                            ("roll-100x50", 203)])
def test_thermal_rolls_print_one_label_per_page_of_its_size(stock, dpi):
    facts, _ids = township_households(3, seed=5)
    values = [household_values(f) for f in facts]
    pdf = render("folder", stock, values, dpi=dpi)
    pages = read(pdf).pages
    assert len(pages) == 3
    size = (STOCKS[stock].label_width * MM, STOCKS[stock].label_height * MM)
    assert (float(pages[0].mediabox.width), float(pages[0].mediabox.height)) == pytest.approx(size, abs=0.01)
    decode_sheet(pdf, STOCKS[stock], [[v["folder_code"]] for v in values], name=f"folder-{stock}",
                 blur_pages=(1, 2))  # every roll label blurred too


def test_shelf_labels_carry_the_location_code_when_there_is_one():
    with_location = shelf_values(ShelfFacts("A-03-2", "第3列 A面 第2节", "东关村", "130123100201", 1, 250, 250))
    section_only = shelf_values(ShelfFacts("", "", "东关村", "130123100201", 1, 250, 250))
    pdf = render("shelf", "a4-2x7", [with_location, section_only])  # decodes A-03-2, and nothing in cell 2
    assert "201-F00001—201-F00250" in compact(page_texts(pdf)[0])


BARCODE_KINDS = ("folder", "spine", "resident", "card", "shelf")
# (kind, qr) refused per stock, read off the stocks' sizes: a change in sizing that starts refusing (or stops
# refusing) a combination must show up here, not pass whichever branch ran.
EXPECTED_REFUSALS = {
    "a4-2x5": [],
    "a4-2x7": [("card", True)],
    "a4-3x7": [("spine", False), ("card", False), ("card", True)],
    "a4-3x8": [("spine", False), ("card", False), ("card", True)],
    "a4-3x8-70x37": [("spine", False), ("card", False), ("card", True)],
    "a4-4x10": [("folder", False), ("spine", False), ("resident", False), ("card", False), ("card", True)],
    "a4-65up": [("folder", False), ("spine", False), ("resident", False), ("resident", True), ("card", False),
                ("card", True), ("shelf", False)],
    "roll-100x50": [("card", True)],
    "roll-50x30": [("spine", False), ("card", False), ("card", True)],
    "roll-60x40": [("spine", False), ("card", False), ("card", True)],
    "roll-70x40": [("card", True)],
}


def test_the_refusal_table_covers_every_stock():
    assert set(EXPECTED_REFUSALS) == set(STOCKS)


@pytest.mark.parametrize("stock", sorted(STOCKS))
def test_on_every_stock_each_kind_decodes_or_is_refused_as_expected(stock):
    """No combination prints a barcode that does not scan: it decodes from a 200 dpi raster (render reads every
    cell back), or it is refused with the numbers — exactly the combinations the table expects. A kind is never
    refused on its own default stock."""
    refused_here = []
    for kind in BARCODE_KINDS:
        binds = KINDS[kind].binds
        values = sample_values(binds)
        for qr in (False, True) if KINDS[kind].supports_qr else (False,):
            try:
                render(kind, stock, [values], qr=qr)  # decodes at 200 and 300 dpi, and blurred
            except BarcodeTooSmall as refused:
                assert ("放不下" in str(refused) or "高度" in str(refused)) and STOCKS[stock].name in str(refused)
                assert stock != KINDS[kind].default_stock
                refused_here.append((kind, qr))
    assert refused_here == EXPECTED_REFUSALS[stock]


def test_folder_labels_are_refused_on_65_up_with_the_numbers_that_do_not_fit():
    with pytest.raises(BarcodeTooSmall) as refused:
        render("folder", "a4-65up", [sample_values("household")])
    message = str(refused.value)
    assert "「户档案袋标签」用A4 不干胶 65 格" in message and "0.339 mm（4 个打印点）" in message
    assert "请换更宽的标签纸" in message


# --- text: shrink, wrap, truncate, rare characters, privacy -------------------------------------------------

def test_long_names_shrink_to_fit_their_box_then_end_in_an_ellipsis():
    regular = load_metrics(font_path("NotoSansCJKsc-Bold.otf"))
    long_name = "阿依古丽·买买提·艾尔肯"
    absurd = "欧阳" + "建国" * 20
    facts = [HouseholdFacts("130123100201", "东关村", 1, long_name, (Member(long_name, "13012310020100001"),)),
             HouseholdFacts("130123100201", "东关村", 2, absurd, (Member("王", "13012310020100002"),))]
    pdf = render("folder", "a4-3x8", [household_values(f) for f in facts])
    heads = [(text, tm, size) for text, tm, size in runs(pdf) if text.startswith(("阿依", "欧阳"))]
    (name1, tm1, size1), (name2, tm2, size2) = heads[0], heads[-1]
    design, _turn = choose_design(KINDS["folder"], 63.5, 33.9)
    box = next(e for e in design.elements if e.field == "head_name")
    right_edge = (7.25 + box.box[0] + box.box[2]) * MM
    assert name1 == long_name and 7 <= size1 < box.size  # shrunk, whole
    assert tm1[4] + regular.width(name1, size1) <= right_edge + 0.5
    assert name2.endswith("…") and size2 == pytest.approx(box.min_size)  # at the floor, cut
    assert tm2[4] + regular.width(name2, size2) <= right_edge + 66 * MM + 0.5  # second cell, still inside


def test_long_names_wrap_onto_two_lines_on_a_spine():
    name = "阿依古丽·买买提·艾尔肯江"
    pdf = render("spine", "a4-2x7", [household_values(HouseholdFacts("130123100201", "东关村", 1, name, ()))])
    lines = [text for text, _tm, _size in runs(pdf) if text and text[0] in "阿买艾"]
    assert len(lines) == 2 and "".join(lines).replace(" ", "") == name


def test_rare_characters_render_with_the_shipped_font():
    name = "𠮷䶮堃"
    pdf = render("resident", "a4-3x8", [resident_values(ResidentFacts("13012310020100001", name, "2", None, "东关村",
                                                                      "130123100201", 1, "赵堃"))])
    assert name in compact(page_texts(pdf)[0])
    metrics = load_metrics(font_path("NotoSansCJKsc-Bold.otf"))
    cids = [f"{metrics.cids[ord(ch)]:04X}".encode() for ch in name]
    content = read(pdf).pages[0].get_contents().get_data()
    assert all(cid != b"0000" for cid in cids) and b"<" + b"".join(cids) + b">" in content  # real glyphs, not .notdef


def test_no_id_number_is_ever_printed_on_a_label():
    facts, ids = township_households(24, seed=3)
    pdfs = [render("folder", "a4-3x8", [household_values(f) for f in facts]),
            render("spine", "a4-2x7", [household_values(f) for f in facts[:14]])]
    text = "".join(compact(t) for pdf in pdfs for t in page_texts(pdf))
    assert ids and not any(number in text or number[-4:] + number[:6] in text for number in ids)


# --- sheets: start cell, used cells, outlines, print at 100 % -------------------------------------------------

def test_start_at_cell_5_and_skip_used_cells_leaves_them_blank():
    facts, _ids = township_households(6, seed=2)
    values = [household_values(f) for f in facts]
    codes = [v["folder_code"] for v in values]
    pdf = render("folder", "a4-3x8", values, start=5, used=(frozenset({6, 7}),), scan=False)
    # Cells 1–4 are before the start, 6 and 7 already peeled off: the six labels go to 5, 8, 9, 10, 11, 12.
    first_sheet = [None, None, None, None, codes[0], None, None, *codes[1:], *[None] * 12]
    assert len(first_sheet) == 24 and len(read(pdf).pages) == 1
    decode_sheet(pdf, STOCKS["a4-3x8"], [first_sheet], name="start-5")  # empty cells must stay empty
    # The start cell is for the first sheet only: from cell 21, four labels fit, the next sheet starts at cell 1.
    pdf = render("folder", "a4-3x8", values, start=21, scan=False)
    decode_sheet(pdf, STOCKS["a4-3x8"], [[*[None] * 20, *codes[:4]], [*codes[4:], *[None] * 22]], name="start-21",
                 dpis=(200,), blur_pages=())


def test_outlines_are_drawn_only_for_a_test_run():
    values = [sample_values("household")]
    edge = 7.25 * 300 / 25.4  # the left edge of cell 1, in pixels at 300 dpi
    for outline, dark in ((True, True), (False, False)):
        image = page_image(render("folder", "a4-3x8", values, outline=outline), 0, 300)
        column = image.crop((round(edge) - 1, 400, round(edge) + 2, 460))
        assert (min(column.tobytes()) < 200) is dark


def test_the_pdf_asks_for_actual_size_in_the_viewer_and_on_the_page():
    pdf = render("folder", "a4-3x8", [sample_values("household")])
    assert read(pdf).trailer["/Root"]["/ViewerPreferences"]["/PrintScaling"] == "/None"
    assert "实际大小/100%" in compact(page_texts(pdf)[0])


def test_bars_are_whole_printer_dots_on_the_dot_grid():
    content = read(render("folder", "a4-3x8", [sample_values("household")], dpi=203)).pages[0].get_contents()
    data = content.get_data().decode("latin-1")
    block = re.search(r"q ([\d.]+) 0 0 [\d.]+ 0 0 cm\n((?:-?\d+ -?\d+ \d+ \d+ re\n)+)f Q", data)
    assert block and float(block.group(1)) == pytest.approx(72 / 203, abs=1e-6)
    widths = {int(line.split()[2]) for line in block.group(2).splitlines()}
    assert widths <= {2, 4, 6, 8}  # Code128 bars are 1–4 modules of 2 dots each at 203 dpi


# --- calibration: a profile offset moves the printed crosshair by exactly that much -------------------------

def calibration_sheet(calibration: Calibration, stock: str = "a4-3x8") -> bytes:
    from archiveprint.labels.calibration import draw_sheet

    buffer = io.BytesIO()  # no barcodes on a calibration sheet
    printer = LabelPrinter(buffer, STOCKS[stock], KINDS["calibration"], calibration=calibration, notice=NOTICE)
    draw_sheet(printer, "test")
    printer.close(title="calibration")
    return buffer.getvalue()


def test_the_crosshair_lands_at_the_label_centre_without_a_profile():
    image = page_image(calibration_sheet(Calibration()), 0, 300)
    for index, expected in ((1, (39.0, 29.85)), (24, (171.0, 267.15))):  # 7.25 + 63.5 / 2, 12.9 + 33.9 / 2 …
        assert crosshair_centre(image, STOCKS["a4-3x8"], index, 300) == pytest.approx(expected, abs=0.1)


@pytest.mark.parametrize(("dx", "dy"), [(1.5, -1.0), (-0.8, 2.2)])
def test_a_profile_offset_moves_the_printed_crosshair_by_exactly_that_many_mm(dx, dy):
    stock = STOCKS["a4-3x8"]
    straight = page_image(calibration_sheet(Calibration()), 0, 300)
    shifted = page_image(calibration_sheet(Calibration(dx=dx, dy=dy)), 0, 300)
    for index in (1, 24):
        x0, y0 = crosshair_centre(straight, stock, index, 300)
        x1, y1 = crosshair_centre(shifted, stock, index, 300)
        assert (x1 - x0, y1 - y0) == pytest.approx((dx, dy), abs=0.09)  # one pixel at 300 dpi is 0.085 mm


def test_creep_grows_with_each_column_and_row():
    stock = STOCKS["a4-3x8"]
    straight = page_image(calibration_sheet(Calibration()), 0, 300)
    creeping = page_image(calibration_sheet(Calibration(creep_x=0.4, creep_y=0.15)), 0, 300)
    for index, (steps_x, steps_y) in ((1, (0, 0)), (5, (1, 1)), (24, (2, 7))):
        x0, y0 = crosshair_centre(straight, stock, index, 300)
        x1, y1 = crosshair_centre(creeping, stock, index, 300)
        assert (x1 - x0, y1 - y0) == pytest.approx((0.4 * steps_x, 0.15 * steps_y), abs=0.09)


def test_the_calibration_sheet_says_what_to_measure():
    from archiveprint.labels.calibration import draw_sheet

    text = compact(page_texts(calibration_sheet(Calibration(dx=0.5)))[0])
    assert "100mm" in text and "①号十字中心" in text and "左39.0mm、上29.9mm" in text
    assert "标签→打印机校准" in text and "右移+0.50mm" in text  # where to enter the measurements (#10.11)
    assert "archiveprint" not in text

    buffer = io.BytesIO()  # printed from the command line: the command to type
    printer = LabelPrinter(buffer, STOCKS["a4-3x8"], KINDS["calibration"], notice=NOTICE)
    draw_sheet(printer, "test", command=True)
    printer.close(title="calibration")
    assert "archiveprintlabelsprintercalibratetest--stocka4-3x8--measured" in compact(page_texts(buffer.getvalue())[0])
