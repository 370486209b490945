"""Reading and the result: checks recorded as events, the 动态记录 date deciding its item, 合格率 and 使用率 per village
and overall with Wilson intervals on a sample with known answers, unavailable folders by the checklist's rule,
signing with 整改 tasks, the trend, the signed record PDF with its chart and the raw .xlsx, and the village scope — on
SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import date

import openpyxl
import pypdf
import pytest
from pypdf.generic import ContentStream
from sqlalchemy import select

from archiveprint.accounts.models import AuditEntry
from archiveprint.accounts.scope import AccessScope, apply_scope
from archiveprint.errors import Conflict, InvalidValue, NotFound
from archiveprint.eventlog import list_events
from archiveprint.indicators.charts import element_ids, render
from archiveprint.inspections.draw import wilson
from archiveprint.inspections.models import InspectionCheck, InspectionFolder
from archiveprint.inspections.queries import (
    compute_report,
    find_folder,
    find_inspection,
    find_trend,
    folder_sheet,
    inspection_picklist,
    list_inspections,
    list_tasks,
)
from archiveprint.inspections.report import (
    export_xlsx,
    print_report,
    render_report_pdf,
    report_context,
    result_chart,
)
from archiveprint.inspections.services import (
    complete_task,
    draw_inspection,
    record_check,
    set_unavailable,
    sign_inspection,
)
from archiveprint.lending.queries import status_provider
from archiveprint.register.services import find_village
from tests.conftest import ACTOR
from tests.inspections.conftest import NOW, ON, Register
from tests.pdfcheck import check_structure, compact, page_texts

ITEMS = ("cover", "basic_info", "population_forms", "signatures")


def read_all(session, folder, *, fail=(), seen=date(2026, 6, 1), dynamic=None, note="看过"):  # type: ignore[no-untyped-def]
    """Record every item of a folder: 合格 but those in `fail`; the 动态记录 item by `seen` (or `dynamic`)."""
    for key in ITEMS:
        record_check(session, folder, key, passed=key not in fail, note=note if key in fail else "", actor=ACTOR,
                     now=NOW)
    record_check(session, folder, "dynamic", passed=dynamic, seen_on=seen, actor=ACTOR, now=NOW)


@pytest.fixture
def census(register: Register, checklist):  # type: ignore[no-untyped-def]
    """Every folder of 001 (5) and 202 (15), read to known answers."""
    session = register.session
    made = draw_inspection(session, seed="known", size=20, minimum=0, villages=["001", "202"], inspector="县督导组",
                           on=ON, checklist=checklist, actor=ACTOR, now=NOW)
    east = [f for f in made.folders if f.village_code == "001"]
    west = [f for f in made.folders if f.village_code == "202"]
    read_all(session, east[0])
    read_all(session, east[1], seen=date(2026, 1, 10))
    read_all(session, east[2], seen=date(2025, 10, 1))  # more than 12 months before 2026-11-25: 无动态记录
    read_all(session, east[3], fail=("cover",), note="缺联系电话")
    set_unavailable(session, east[4], unavailable=True, note="借给县疾控未还", actor=ACTOR, now=NOW)
    for folder in west[:12]:
        read_all(session, folder)
    read_all(session, west[12], fail=("signatures",), note="缺责任医生签字")
    read_all(session, west[13], fail=("signatures",), note="缺居民签字")
    return made, east, west


def test_the_rates_per_village_and_overall_with_known_answers(register: Register, census):
    made, east, west = census
    report = compute_report(register.session, made)
    by_village = {t.village: t for t in report.villages}
    # 001: 5 drawn, 1 unavailable (counts as failing both), qualified 3 (east 0, 1, 2), 动态记录 3 (east 0, 1, 3)
    assert (by_village["001"].counted, by_village["001"].qualified_hits, by_village["001"].dynamic_hits) == (5, 3, 3)
    # 202: one folder not read yet: 14 counted, 12 qualified, 14 with 动态记录
    assert (by_village["202"].counted, by_village["202"].pending) == (14, 1)
    assert (by_village["202"].qualified_hits, by_village["202"].dynamic_hits) == (12, 14)
    assert report.pending[0].id == west[14].id
    read_all(register.session, west[14], seen=None, dynamic=False)  # read: no service record at all
    report = compute_report(register.session, made)
    overall = report.overall
    assert (overall.drawn, overall.counted, overall.qualified_hits, overall.dynamic_hits) == (20, 20, 16, 17)
    assert overall.qualified == wilson(16, 20) and overall.usage == wilson(17, 20)
    assert (round(overall.qualified.low, 4), round(overall.qualified.high, 4)) == (0.584, 0.9193)
    assert report.weighted == {"qualified": 0.8, "usage": 0.85}  # a census: weighting changes nothing
    failing = {f.id: f for f in report.failing}
    assert set(failing) == {east[3].id, east[4].id, west[12].id, west[13].id}
    assert failing[east[3].id].failed == (("cover", "封面项目填写完整", "缺联系电话"),)
    assert dict((k, n) for k, _t, n in report.item_failures()) == {
        "cover": 1, "basic_info": 0, "population_forms": 0, "dynamic": 2, "signatures": 2}  # read folders only
    # a site that leaves unavailable folders out
    made.checklist = {**made.checklist, "unavailable": "exclude"}
    excluded = {t.village: t for t in compute_report(register.session, made).villages}["001"]
    assert (excluded.counted, excluded.qualified_hits, excluded.unavailable) == (4, 3, 1)


def test_the_dynamic_item_follows_the_date_seen(register: Register, census):
    session = register.session
    made, east, _west = census
    folder = east[0]
    check = next(c for c in folder.checks if c.item == "dynamic")
    assert (check.passed, check.seen_on) == (True, date(2026, 6, 1))
    with pytest.raises(InvalidValue, match="矛盾"):
        record_check(session, folder, "dynamic", passed=False, seen_on=date(2026, 6, 1), actor=ACTOR, now=NOW)
    with pytest.raises(InvalidValue, match="不能晚于检查日期"):
        record_check(session, folder, "dynamic", passed=None, seen_on=date(2026, 12, 1), actor=ACTOR, now=NOW)
    with pytest.raises(InvalidValue, match="请选择合格或不合格"):
        record_check(session, folder, "cover", passed=None, actor=ACTOR, now=NOW)
    with pytest.raises(NotFound, match="抽查表没有这一项"):
        record_check(session, folder, "nonsense", passed=True, actor=ACTOR, now=NOW)
    assert record_check(session, folder, "cover", passed=True, actor=ACTOR, now=NOW) is None  # the same: no change
    changed = record_check(session, folder, "dynamic", passed=None, seen_on=date(2025, 11, 24), actor=ACTOR, now=NOW)
    assert changed is not None and changed.passed is False  # one day more than 12 months before the inspection
    assert record_check(session, folder, "dynamic", passed=None, seen_on=date(2025, 11, 25), actor=ACTOR,
                        now=NOW).passed is True
    events = [e for e in list_events(session, "inspection", made.number) if e.kind == "inspection.checked"
              and e.data["folder"] == folder.folder and e.data["item"] == "dynamic"]
    assert [e.data["changes"]["passed"] for e in events] == [[None, True], [True, False], [False, True]]
    with pytest.raises(Conflict, match="未在检查中"):
        record_check(session, east[4], "cover", passed=True, actor=ACTOR, now=NOW)


def test_signing_needs_every_folder_read_then_makes_the_tasks_and_freezes(register: Register, census):
    session = register.session
    made, east, west = census
    with pytest.raises(Conflict, match="还有 1 袋未读完"):
        sign_inspection(session, made, actor="inspector", now=NOW)
    read_all(session, west[14])
    sign_inspection(session, made, actor="inspector", now=NOW)
    assert made.status == "signed" and made.result["overall"]["qualified"]["hits"] == 16
    tasks = list_tasks(session, inspection_id=made.id)
    assert {t.folder for t in tasks} == {east[3].folder, east[4].folder, west[12].folder, west[13].folder}
    assert next(t for t in tasks if t.folder == east[3].folder).text == "封面项目填写完整：缺联系电话"
    assert "未能调阅" in next(t for t in tasks if t.folder == east[4].folder).text
    with pytest.raises(Conflict, match="已签署"):
        record_check(session, west[0], "cover", passed=False, actor=ACTOR, now=NOW)
    with pytest.raises(Conflict, match="已签署"):
        sign_inspection(session, made, actor="inspector", now=NOW)
    done = complete_task(session, tasks[0].id, note="已补填", actor="clerk", now=NOW)
    assert done.state == "done" and done.done_note == "已补填"
    with pytest.raises(Conflict, match="已完成"):
        complete_task(session, tasks[0].id, actor="clerk", now=NOW)
    assert len(list_tasks(session, only_open=True)) == 3
    assert [e.kind for e in list_events(session, "inspection", made.number)][-2:] == [
        "inspection.signed", "inspection.task_done"]


def test_every_inspection_is_kept_and_the_trend_reads_the_signed_ones(register: Register, census, checklist):
    session = register.session
    made, _east, west = census
    read_all(session, west[14])
    sign_inspection(session, made, actor="inspector", now=NOW)
    later = draw_inspection(session, seed="spring", size=4, minimum=0, villages=["202"], inspector="县督导组",
                            on=date(2027, 5, 10), checklist=checklist, actor=ACTOR, now=NOW)
    for folder in later.folders:
        read_all(session, folder, seen=date(2027, 3, 1))
    sign_inspection(session, later, actor="inspector", now=NOW)
    draw_inspection(session, seed="open", size=2, villages=["202"], inspector="甲", on=date(2027, 6, 1),
                    checklist=checklist, actor=ACTOR, now=NOW)
    listed = list_inspections(session)
    assert [i.number for i in listed] == ["CC-2027-0002", "CC-2027-0001", "CC-2026-0001"]
    assert [i.status for i in listed] == ["open", "signed", "signed"]
    trend = find_trend(session)
    assert [n for _i, n, _d in trend.inspections] == ["CC-2026-0001", "CC-2027-0001"]
    cells = {code: row for code, _name, row in trend.villages}
    assert cells["202"][0].qualified == round(13 / 15, 4) and cells["202"][1].qualified == 1.0
    assert cells["001"][1] is None  # not drawn in spring
    assert trend.overall[0].counted == 20


def test_a_folder_sheet_lists_who_is_read_what_their_populations_need_and_the_latest_service(register: Register,
                                                                                             checklist):
    session = register.session
    made = draw_inspection(session, seed="all", size=39, minimum=0, villages=["201"], inspector="甲", on=ON,
                           checklist=checklist, providers=[status_provider(register.rules)], actor=ACTOR, now=NOW)
    first = register.homes["201"][0]
    folder = find_folder(session, made, register.code(first))
    assert folder.household_id == first.id
    assert find_folder(session, made, first.members[1].archive_code) is folder  # a member's archive code
    assert find_folder(session, made, str(folder.seq)) is folder
    sheet = folder_sheet(session, made, folder)
    head = sheet.residents[0]
    assert head.name == "户主201-1" and "65岁及以上老年人" in head.populations
    assert "健康体检表" in head.forms and head.last_visit == date(2026, 6, 3)
    assert sheet.hint == date(2026, 6, 3)
    assert sheet.residents[1].populations == () and sheet.residents[1].forms == ()
    with pytest.raises(NotFound, match="不在本次抽查中"):
        find_folder(session, made, register.code(register.homes["202"][0]))
    # the pick list: every folder, those on their shelves first in walking order, the lent one named
    picks = inspection_picklist(session, made, providers=[status_provider(register.rules)])
    assert len(picks.rows) == 39
    assert [r.location.place.state for r in picks.rows][-2:] != ["on_shelf", "on_shelf"]
    lent = next(r for r in picks.rows if r.location.household_id == register.lent.id)
    assert lent.location.place.status.code == "lent"


def test_the_signed_record_pdf_and_the_raw_workbook(register: Register, census):
    session = register.session
    made, east, west = census
    read_all(session, west[14])
    sign_inspection(session, made, actor="inspector", now=NOW)
    pdf = print_report(session, made, user=None, now=NOW, timezone="Asia/Shanghai")
    text = compact("".join(page_texts(pdf)))
    for expected in ("健康档案抽查记录", "CC-2026-0001", "诸福屯镇卫生院", "县督导组", "城关社区", "西村",
                     "合格率", "80.0%（58.4%–91.9%）", "90.0%", "缺联系电话", "借给县疾控未还", "检查人（签字）",
                     "随机种子“known”", "2026年11月25日"):
        assert compact(expected) in text, expected
    assert "未签署" not in text
    audited = session.scalars(select(AuditEntry).where(AuditEntry.action == "print")).all()
    assert {int(a.subject_id) for a in audited} == {f.household_id for f in made.folders}
    data = export_xlsx(session, made, user=None, now=NOW)
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["抽查结果", "各村汇总", "说明"]
    rows = list(book["抽查结果"].iter_rows(values_only=True))
    assert len(rows) == 21 and rows[0][:4] == ("序号", "村(居)委会代码", "村(居)委会", "档案袋编号")
    flawed = next(r for r in rows if r[3] == east[3].folder)
    assert flawed[6] == "不合格" and flawed[8:10] == ("不合格", "缺联系电话")
    totals = list(book["各村汇总"].iter_rows(values_only=True))[-1]
    assert totals[1] == "合计" and totals[4] == 20 and totals[7:9] == (16, 0.8)
    assert session.scalars(select(AuditEntry).where(AuditEntry.action == "export")).first() is not None


def test_an_unsigned_record_says_it_is_a_draft(register: Register, census, tmp_path):
    made, _east, _west = census
    report = compute_report(register.session, made)
    pdf = render_report_pdf(report_context(report, unit="某卫生院"))
    (tmp_path / "draft.pdf").write_bytes(pdf)
    text = compact("".join(page_texts(pdf)))
    assert "未签署" in text and "______年____月____日" in text


def test_a_village_doctors_scope_sees_only_the_folders_of_their_villages(register: Register, census):
    session = register.session
    made, east, _west = census
    number = made.number
    session.flush()
    session.expire_all()
    apply_scope(session, AccessScope.villages([find_village(session, "001").id]))
    seen = session.scalars(select(InspectionFolder).where(InspectionFolder.inspection_id == made.id)).all()
    assert {f.village_code for f in seen} == {"001"}
    checks = session.scalars(select(InspectionCheck)).all()
    assert {c.folder_id for c in checks} <= {f.id for f in east}
    assert find_inspection(session, number).id == made.id



def _chart_pixels(pdf: bytes) -> tuple[int, int]:
    """Pixels of the chart's two bar colours (合格率 blue, 使用率 orange) on the record's first page, in colour."""
    import pypdfium2

    check_structure(pdf)
    document = pypdfium2.PdfDocument(pdf)
    data = document[0].render(scale=1).to_pil().convert("RGB").tobytes()
    document.close()
    counts = [0, 0]
    for pixel in zip(data[0::3], data[1::3], data[2::3], strict=True):
        for n, colour in enumerate(((0x2B, 0x6C, 0xB0), (0xDD, 0x7A, 0x1F))):
            if all(abs(a - b) < 12 for a, b in zip(pixel, colour, strict=True)):
                counts[n] += 1
    return counts[0], counts[1]


def _filled_in(pdf: bytes, colours: tuple[tuple[float, float, float], ...]) -> list[int]:
    """How many shapes the first page fills in each colour (pypdf reads its content stream's operators)."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    colour, counts = None, [0] * len(colours)
    for operands, operator in ContentStream(reader.pages[0].get_contents(), reader).operations:
        if operator == b"rg":
            colour = tuple(round(float(value), 3) for value in operands)
        elif operator in (b"f", b"f*", b"B", b"B*") and colour in colours:
            counts[colours.index(colour)] += 1
    return counts


def test_the_record_carries_the_chart_of_the_rates_per_village(register: Register, census, checklist):
    """The bars of 合格率 and 使用率 per village with their intervals, drawn by the 看板's chart code into the
    record (the SVG as vectors in the PDF); no chart while nothing is counted."""
    session = register.session
    made, _east, west = census
    read_all(session, west[14])
    sign_inspection(session, made, actor="inspector", now=NOW)
    report = compute_report(session, made)
    chart = result_chart(report)
    assert chart.categories == ("城关社区", "西村") and chart.series[0].values == (0.6, 13 / 15)
    ids = element_ids(render(chart))
    assert sorted(i for i in ids if i.startswith(("bar-", "interval-"))) == [
        "bar-0-0", "bar-0-1", "bar-1-0", "bar-1-1", "interval-0-0", "interval-0-1", "interval-1-0", "interval-1-1"]
    pdf = render_report_pdf(report_context(report, unit="某卫生院"))
    palette = ((0.169, 0.424, 0.69), (0.867, 0.478, 0.122))  # charts.PALETTE's 合格率 and 使用率
    assert _filled_in(pdf, palette) == [3, 3]  # two villages' bars and the legend's swatch, each colour: vectors
    blue, orange = _chart_pixels(pdf)
    assert blue > 2000 and orange > 2000
    assert blue / orange == pytest.approx((0.6 + 13 / 15) / (0.6 + 1.0), rel=0.1)  # bar areas follow the rates
    fresh = draw_inspection(session, seed="new", size=4, minimum=0, villages=["202"], inspector="县督导组", on=ON,
                            checklist=checklist, actor=ACTOR, now=NOW)
    draft = compute_report(session, fresh)
    assert result_chart(draft) is None
    assert _chart_pixels(render_report_pdf(report_context(draft, unit="某卫生院"))) == (0, 0)
