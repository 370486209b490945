"""Printing labels from the real register on SQLite and PostgreSQL: scopes, relabel tasks, scanning back, profiles."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from archiveprint.accounts.models import AuditEntry
from archiveprint.errors import InvalidValue, NotFound
from archiveprint.eventlog import Event
from archiveprint.labels.barcode_sizing import BarcodeTooSmall
from archiveprint.labels.printers import calibrate_printer, set_printer_profile
from archiveprint.labels.queries import find_relabel_households, list_printer_profiles
from archiveprint.labels.render import MissingGlyphs
from archiveprint.labels.services import (
    LabelOptions,
    LabelScope,
    audit_labels,
    label_stocks,
    preview_labels,
    print_labels,
    resolve_label_scope,
)
from archiveprint.register import services
from archiveprint.register.codes import folder_code
from archiveprint.register.models import Household
from archiveprint.register.queries import resolve_scan
from tests.conftest import ACTOR
from tests.labels.scan import decode_sheet, expected_pages
from tests.pdfcheck import compact, page_texts, read

STOCKS = label_stocks()
OLD = datetime(2026, 1, 5, 9, 0)
NEW = datetime(2026, 6, 1, 9, 0)


@pytest.fixture
def village(session, township, create_household, create_resident):
    """Three households in 东村 (201), one in 西村 (202); the second household has a closed member."""
    made = []
    for head, others in (("王大山", ["王小河", "李秀英"]), ("李𠮷", ["李堃"]), ("赵䶮", [])):
        household = create_household("201", head_name=head)
        create_resident(household, name=head, relation_to_head="户主")
        for name in others:
            create_resident(household, name=name, relation_to_head="子")
        made.append(household)
    closed = services.get_resident(session, "13012310020100005")
    services.close_resident(session, closed, "moved", date(2026, 3, 1), actor=ACTOR)
    other = create_household("202", head_name="孙建国")
    create_resident(other, name="孙建国", relation_to_head="户主")
    return made


def folder_codes(households) -> list[str]:
    return [folder_code(h.village.full_code, h.number).value for h in households]


def scans(session, pdf: bytes, result, options: LabelOptions = LabelOptions()) -> None:  # type: ignore[no-untyped-def]
    """Every label the job printed decodes, in its cell, to the code of the folder (or resident) it was for."""
    if result.households:
        rows = {h.id: h for h in session.scalars(select(Household).where(Household.id.in_(result.households)))}
        codes = folder_codes([rows[i] for i in result.households])
    else:
        codes = list(result.residents)
    stock = STOCKS[result.stock]
    used = tuple(frozenset(sheet) for sheet in options.used)
    decode_sheet(pdf, stock, expected_pages(stock, codes, start=options.start, used=used),
                 name=f"service-{result.kind}")


def test_a_village_prints_in_filing_order_and_every_barcode_opens_its_folder(session, village, tmp_path):
    scope = resolve_label_scope(session, village="东村")
    result = print_labels(session, "folder", "a4-3x8", scope, tmp_path / "v.pdf")
    assert (result.labels, result.pages, result.dpi, result.module_mm) == (3, 1, 300, pytest.approx(0.3387, abs=1e-4))
    pdf = (tmp_path / "v.pdf").read_bytes()
    codes = folder_codes(village)
    decode_sheet(pdf, STOCKS["a4-3x8"], expected_pages(STOCKS["a4-3x8"], codes), name="service-folder")
    for code, household in zip(codes, village, strict=True):
        assert resolve_scan(session, code).household.id == household.id
    text = compact(page_texts(pdf)[0])
    assert text.index("王大山") < text.index("李𠮷") < text.index("赵䶮")
    assert "李秀英" in text and "李堃" not in text  # 李堃 moved away (结案): off the member list
    audit_labels(session, result, actor=ACTOR)
    assert session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "print",
                                                                  AuditEntry.subject_type == "household")) == 3


def test_closed_members_leave_the_member_list_unless_asked(session, village, tmp_path):
    closed = services.get_resident(session, "13012310020100005").name
    scope = resolve_label_scope(session, household=f"201-{village[1].number}")
    result = print_labels(session, "folder", "a4-3x8", scope, tmp_path / "a.pdf")
    scans(session, (tmp_path / "a.pdf").read_bytes(), result)
    result = print_labels(session, "folder", "a4-3x8", scope, tmp_path / "b.pdf",
                          options=LabelOptions(include_closed=True))
    scans(session, (tmp_path / "b.pdf").read_bytes(), result)
    assert closed not in compact(page_texts(tmp_path / "a.pdf")[0])
    assert closed in compact(page_texts(tmp_path / "b.pdf")[0])


def test_households_are_named_by_id_village_number_folder_code_or_a_member_code(session, village):
    first, second, third = village
    assert resolve_label_scope(session, household=str(first.id)).household_ids == (first.id,)
    assert resolve_label_scope(session, household=f"201-{second.number}").household_ids == (second.id,)
    display = folder_code(third.village.full_code, third.number).display
    assert resolve_label_scope(session, household=display).household_ids == (third.id,)
    scope = resolve_label_scope(session, codes=[display, "130123-100-201-00001"])
    assert scope.codes == (folder_code(third.village.full_code, third.number).value, "13012310020100001")
    with pytest.raises(NotFound, match="没有这一户"):
        resolve_label_scope(session, household="201-99")
    with pytest.raises(InvalidValue, match="校验位"):
        resolve_label_scope(session, codes=["F130123100201000170"])


def test_relabel_tasks_list_folders_created_or_changed_since_a_date(session, township, tmp_path):
    village = services.find_village(session, "201")
    made = [services.create_household(session, village, head_name=name, actor=ACTOR, now=OLD)
            for name in ("甲", "乙", "丙", "丁")]
    people = [services.register_resident(session, h, name=h.head_name, sex="1", relation_to_head="户主",
                                         actor=ACTOR, now=OLD) for h in made]
    services.move_resident(session, people[0], made[1], relation_to_head="其他", actor=ACTOR, now=NEW)
    services.update_resident(session, people[2], {"name": "丙改"}, actor=ACTOR, now=NEW)
    services.update_resident(session, people[3], {"phone": "13900000000"}, actor=ACTOR, now=NEW)  # not on a label
    assert find_relabel_households(session, date(2026, 5, 1)) == {made[0].id, made[1].id, made[2].id}
    assert find_relabel_households(session, date(2026, 1, 1)) == {h.id for h in made}
    result = print_labels(session, "folder", "a4-3x8", LabelScope(since=date(2026, 5, 1)), tmp_path / "a.pdf")
    assert result.labels == 3 and result.households == [made[0].id, made[1].id, made[2].id]
    scans(session, (tmp_path / "a.pdf").read_bytes(), result)
    narrowed = LabelScope(since=date(2026, 5, 1), household_ids=(made[2].id, made[3].id))
    result = print_labels(session, "folder", "a4-3x8", narrowed, tmp_path / "b.pdf")
    assert result.households == [made[2].id]
    scans(session, (tmp_path / "b.pdf").read_bytes(), result)


def test_a_relabel_date_is_a_china_standard_time_day(session, township):
    village = services.find_village(session, "201")
    early = services.create_household(session, village, head_name="早", actor=ACTOR, now=datetime(2026, 5, 31, 16, 30))
    late = services.create_household(session, village, head_name="晚", actor=ACTOR, now=datetime(2026, 5, 31, 15, 30))
    # 16:30 UTC on 31 May is 00:30 on 1 June in the township; 15:30 UTC is still 31 May there
    assert find_relabel_households(session, date(2026, 6, 1)) == {early.id}
    assert late.id in find_relabel_households(session, date(2026, 5, 31))


def test_resident_labels_and_masked_spines_scan_back_to_the_right_record(session, village, tmp_path):
    scope = resolve_label_scope(session, household=str(village[0].id))
    result = print_labels(session, "resident", "a4-3x8", scope, tmp_path / "r.pdf")
    assert result.residents == ["13012310020100001", "13012310020100002", "13012310020100003"]
    scans(session, (tmp_path / "r.pdf").read_bytes(), result)
    assert resolve_scan(session, result.residents[1]).resident.name == "王小河"

    spines = print_labels(session, "spine", "a4-2x7", resolve_label_scope(session, village="201"), tmp_path / "s.pdf",
                          options=LabelOptions(mask_names=True))
    text = compact(page_texts(tmp_path / "s.pdf")[0])
    assert "王*山" in text and "王大山" not in text and "赵*" in text
    pdf = (tmp_path / "s.pdf").read_bytes()
    scans(session, pdf, spines)
    assert spines.households == [h.id for h in village]
    assert spines.labels == 3 and resolve_scan(session, folder_codes(village)[0]).household.head_name == "王大山"


def test_printer_profiles_are_set_calibrated_and_applied(session, village, tmp_path):
    stock = STOCKS["a4-3x8"]
    profile = set_printer_profile(session, "二楼激光", stock, dx=1.0, dpi=600, actor=ACTOR)
    assert (profile.dx, profile.dy, profile.dpi) == (1.0, 0.0, 600)
    # printed through that profile, cell 1's crosshair was measured 40.0 mm from the left and 29.35 from the top
    profile = calibrate_printer(session, "二楼激光", stock, measured=(40.0, 29.35), actor=ACTOR)
    assert (profile.dx, profile.dy, profile.dpi) == (pytest.approx(0.0), pytest.approx(0.5), 600)
    assert [p.printer for p in list_printer_profiles(session)] == ["二楼激光"]
    kinds = session.scalars(select(Event.kind).where(Event.entity_type == "label_printer")).all()
    assert kinds == ["label_printer.set", "label_printer.set"]
    result = print_labels(session, "folder", "a4-3x8", resolve_label_scope(session, village="201"),
                          tmp_path / "p.pdf", options=LabelOptions(printer="二楼激光"))
    assert result.dpi == 600 and result.module_mm == pytest.approx(8 * 25.4 / 600)  # the widest that fits
    scans(session, (tmp_path / "p.pdf").read_bytes(), result)
    with pytest.raises(NotFound, match="还没有为标签纸 a4-2x7 校准（已校准的标签纸：a4-3x8）"):
        print_labels(session, "spine", "a4-2x7", resolve_label_scope(session, village="201"), tmp_path / "x.pdf",
                     options=LabelOptions(printer="二楼激光"))
    with pytest.raises(InvalidValue, match="实际大小"):
        set_printer_profile(session, "二楼激光", stock, dx=25, actor=ACTOR)


def test_names_the_font_cannot_draw_are_refused_before_printing(session, township, create_household,
                                                                 create_resident, tmp_path):
    household = create_household("201", head_name="王\U00031350")
    create_resident(household, name="王\U00031350", relation_to_head="户主")
    scope = resolve_label_scope(session, household=str(household.id))
    with pytest.raises(MissingGlyphs, match=r"130123-100-201-F00001-\d：\U00031350"):
        print_labels(session, "folder", "a4-3x8", scope, tmp_path / "g.pdf")
    assert list(tmp_path.iterdir()) == []  # no half-written file
    result = print_labels(session, "folder", "a4-3x8", scope, tmp_path / "g.pdf",
                          options=LabelOptions(allow_missing_glyphs=True))
    scans(session, (tmp_path / "g.pdf").read_bytes(), result)


def test_a_refused_layout_leaves_no_file_and_an_empty_scope_is_refused(session, village, tmp_path):
    with pytest.raises(BarcodeTooSmall):
        print_labels(session, "folder", "a4-65up", resolve_label_scope(session, village="201"), tmp_path / "x.pdf")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InvalidValue, match="请指定"):
        print_labels(session, "folder", "a4-3x8", LabelScope(), tmp_path / "x.pdf")


def test_shelf_labels_show_each_villages_folder_range(session, village, tmp_path):
    result = print_labels(session, "shelf", "a4-2x7", resolve_label_scope(session, locations=["A-01-2"]),
                          tmp_path / "loc.pdf")
    assert result.labels == 1
    print_labels(session, "shelf", "a4-2x7", LabelScope(village="201", locations=("A-01-2",)), tmp_path / "s.pdf")
    text = compact(page_texts(tmp_path / "s.pdf")[0])
    assert "东村" in text and "201-F00001—201-F00003" in text and "3袋" in text
    decode_sheet((tmp_path / "s.pdf").read_bytes(), STOCKS["a4-2x7"], [["A-01-2"] + [None] * 13], name="shelf-svc")
    decode_sheet((tmp_path / "loc.pdf").read_bytes(), STOCKS["a4-2x7"], [["A-01-2"] + [None] * 13], name="loc-svc")


def test_the_preview_is_the_first_sheet_only(session, township, create_household, create_resident):
    for n in range(30):
        household = create_household("201", head_name=f"王{n}")
        create_resident(household, name=f"王{n}", relation_to_head="户主")
    options = LabelOptions(start=21)
    pdf = preview_labels(session, "folder", "a4-3x8", resolve_label_scope(session, village="201"), options=options)
    (page,) = read(pdf).pages
    assert compact(page_texts(pdf)[0]).count("130123-100-201-F000") == 4
    assert page.mediabox.width == pytest.approx(595.276, abs=0.01)
    first = session.scalars(select(Household).join(Household.village).order_by(Household.number).limit(4)).all()
    decode_sheet(pdf, STOCKS["a4-3x8"], expected_pages(STOCKS["a4-3x8"], folder_codes(first), start=21),
                 name="preview")
