"""Inventory (盘点) on both databases: scoped counts, every reconcile category, scanner files, closing, the record."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from archiveprint import clock
from archiveprint.accounts.models import AuditEntry
from archiveprint.clock import local_time
from archiveprint.errors import Conflict, InvalidValue
from archiveprint.eventlog import Event
from archiveprint.lending.queries import status_provider
from archiveprint.locations import documents, scanfiles
from archiveprint.locations import inventory as inv
from archiveprint.locations.models import FolderMovement, InventoryScan
from archiveprint.locations.queries import find_places
from archiveprint.locations.services import report_missing
from archiveprint.register.codes import folder_code
from tests.conftest import ACTOR
from tests.lending import conftest as lending_fixtures
from tests.pdfcheck import compact, page_texts

desk, lend, rules = lending_fixtures.desk, lending_fixtures.lend, lending_fixtures.rules  # the lending desk

# The lending desk: 201 households 1-4 on K1-M-1-A-2, 5-6 on K1-M-1-A-3; 202 households 1-3 on K1-M-1-B-1.
RANGE = ("K1-M-1-A-2", "K1-M-1-A-3")


@pytest.fixture
def counted(desk, lend):  # type: ignore[no-untyped-def]
    """A count of village 201's two shelves with one of each kind of finding."""
    h = desk.homes
    s = desk.session
    lend(h[2], borrower=desk.doctor)  # 201-3 lent, not scanned
    report_missing(s, h[3], reason="上月找不到", actor=ACTOR, now=desk.clock())  # 201-4 missing, scanned now
    count = inv.start_inventory(s, counters=["孙管理员", "钱医生"], first=RANGE[0], last=RANGE[1],
                                supervisor="周院长", actor=ACTOR, now=desk.clock())
    scan = lambda code, shelf=None, **kw: inv.record_scan(  # noqa: E731
        s, count, code, shelf=shelf, providers=[status_provider(desk.rules)], actor=ACTOR, now=desk.clock(), **kw)
    scan(desk.code(h[0]), "K1-M-1-A-3")  # misplaced: home A-2
    scan(desk.code(h[1]), "K1-M-1-A-2")
    scan(desk.code(h[1]), "K1-M-1-A-2")  # really read twice
    scan(desk.code(h[3]), "K1-M-1-A-2")  # recovered
    scan(desk.resident(h[4]).archive_code, "K1-M-1-A-3")  # a resident's code names the folder
    scan(desk.code(desk.west[0]), "K1-M-1-A-3")  # belongs to 202's shelf, outside the range
    scan(folder_code(h[0].village.full_code, 999).value, "K1-M-1-A-3")  # no such household
    return count, scan


def categories(report):  # type: ignore[no-untyped-def]
    return {c: [r.folder or r.code for r in rows] for c, rows in report.rows.items() if rows}


def test_a_partial_count_sorts_every_folder_and_never_reports_outside_folders_missing(desk, counted):
    count, _ = counted
    h, d = desk.homes, desk.code
    report = inv.reconcile(desk.session, count, providers=[status_provider(desk.rules)])
    disp = lambda x: folder_code(x.village.full_code, x.number).display  # noqa: E731
    assert count.number == "PD-2026-0001" and report.expected == 6
    found = categories(report)
    assert found["found"] == [disp(h[1]), disp(h[4])]
    assert found["misplaced"] == [disp(h[0])]
    assert found["recovered"] == [disp(h[3])]
    assert found["lent"] == [disp(h[2])]
    assert found["missing"] == [disp(h[5])]  # 202's folders were not counted, so they are not missing
    assert found["out_of_range"] == [disp(desk.west[0])]
    assert found["twice"] == [disp(h[1])]
    assert found["unknown"] == [folder_code(h[0].village.full_code, 999).value]
    misplaced, = report.rows["misplaced"]
    assert misplaced.found_on == "K1-M-1-A-3" and "一号库房 1列 A面 2层 第1位" in misplaced.note
    lent, = report.rows["lent"]
    assert "借出给 钱医生" in lent.note and "应还 2026-12-09" in lent.note
    assert report.counts["missing"] == 1 and report.counts["twice"] == 1 and report.scans == 7
    assert d(h[5]) not in [s.code for s in desk.session.scalars(select(InventoryScan))]


def test_station_scan_feedback_and_client_id_makes_a_resend_harmless(desk, counted):
    _, scan = counted
    shelf = scan("k1-m-1-a-3")
    assert shelf.kind == "shelf" and shelf.shelf == "K1-M-1-A-3" and "当前架位" in shelf.message
    first = scan(desk.code(desk.homes[5]), "K1-M-1-A-3", client_id="tab-1-0001")
    again = scan(desk.code(desk.homes[5]), "K1-M-1-A-3", client_id="tab-1-0001")
    assert first.category == "found" and not first.replayed
    assert again.replayed and again.scan_id == first.scan_id and again.category == "found"
    twice = scan(desk.code(desk.homes[5]), "K1-M-1-A-3", client_id="tab-1-0002")
    assert twice.category == "twice" and "第 2 次" in twice.message
    wrong = scan(desk.code(desk.homes[0]), "K1-M-1-A-2")
    assert wrong.category == "twice" and "错架" not in wrong.message  # read before on A-3, now on its home
    misplaced = scan(desk.code(desk.west[1]), "K1-M-1-A-2")
    assert misplaced.category == "out_of_range" and "1列 B面 1层 第2位" in misplaced.message
    unknown = scan("ABC")
    assert unknown.kind == "unknown" and "无法识别" in unknown.message
    with pytest.raises(InvalidValue):
        scan("  ")


def test_upload_gbk_file_with_shelf_labels_is_idempotent(desk):
    s, h = desk.session, desk.homes
    count = inv.start_inventory(s, counters=["孙管理员"], village="201", actor=ACTOR, now=desk.clock())
    assert "村 201" in count.scope_text and len(count.shelves) == 2
    body = "\n".join(["条码,架位,时间", "K1-M-1-A-2", f"  {desk.code(h[0])} ", "", desk.code(h[1]),
                      f"{desk.code(h[2])},,2026-11-25 10:01:02", "K1-M-1-A-3", desk.code(h[4]),
                      f"{desk.code(h[5])},一号库房 1列 A面 3层", f"{desk.code(h[3])},K1-M-1-A-3"]) + "\n"
    data = body.encode("gbk")
    progress: list[tuple[int, int]] = []
    result = inv.upload_codes(s, count, data, filename="扫描枪.txt", timezone=desk.rules.timezone,
                              progress=lambda d, t: progress.append((d, t)), actor=ACTOR, now=desk.clock())
    assert (result.encoding, result.scans, result.shelves, result.already) == ("gbk", 6, 2, False)
    assert progress[-1] == (6, 6)
    again = inv.upload_codes(s, count, data, filename="扫描枪-副本.txt", timezone=desk.rules.timezone, actor=ACTOR,
                             now=desk.clock())
    assert again.already and again.scans == 0
    report = inv.reconcile(s, count)
    assert report.scans == 6 and report.counts["found"] == 5 and report.counts["misplaced"] == 1
    assert report.rows["misplaced"][0].found_on == "K1-M-1-A-3" and not report.rows["missing"]
    kept = s.scalar(select(InventoryScan).where(InventoryScan.line == 6))
    assert kept.scanned_at.isoformat() == "2026-11-25T02:01:02"  # 10:01:02 in Asia/Shanghai, stored as UTC


def test_a_bad_line_refuses_the_whole_file_naming_the_line(desk):
    s = desk.session
    count = inv.start_inventory(s, counters=["孙管理员"], shelves=["K1-M-1-A-2"], actor=ACTOR, now=desk.clock())
    data = "\n".join([desk.code(desk.homes[0]), f"{desk.code(desk.homes[1])},K9-X-1", "a,b,c,d",
                      f"{desk.code(desk.homes[2])},,昨天"]).encode("utf-8")
    with pytest.raises(InvalidValue) as refused:
        inv.upload_codes(s, count, data, filename="bad.csv", timezone=desk.rules.timezone, actor=ACTOR,
                         now=desk.clock())
    message = str(refused.value)
    assert "第2行：没有这个架位“K9-X-1”" in message and "第3行：列数过多" in message and "第4行：时间" in message
    assert refused.value.row == 2
    assert inv.reconcile(s, count).scans == 0


def test_scanner_file_times_are_the_rooms_wall_clock_and_are_stored_as_utc(desk):
    s, h = desk.session, desk.homes
    count = inv.start_inventory(s, counters=["孙管理员"], village="201", actor=ACTOR, now=desk.clock())
    body = "\n".join([f"{desk.code(h[0])},K1-M-1-A-2,2026-03-02 09:15", f"{desk.code(h[1])},K1-M-1-A-2,20260302001500",
                      f"{desk.code(h[2])},K1-M-1-A-2"])
    now = desk.clock()
    inv.upload_codes(s, count, body.encode(), filename="早班.csv", timezone="Asia/Shanghai", actor=ACTOR, now=now)
    stored = {scan.line: scan.scanned_at for scan in s.scalars(select(InventoryScan))}
    assert stored[1] == datetime(2026, 3, 2, 1, 15)  # 09:15 in Shanghai (UTC+8)
    assert stored[2] == datetime(2026, 3, 1, 16, 15)  # a quarter past midnight local is the day before in UTC
    assert stored[3] == now  # no time in the file: when it was uploaded
    assert local_time(stored[1], desk.rules.timezone) == datetime(2026, 3, 2, 9, 15)
    other = inv.start_inventory(s, counters=["孙管理员"], shelves=["K1-M-1-A-2"], actor=ACTOR, now=desk.clock())
    inv.upload_codes(s, other, body.encode(), filename="早班.csv", timezone="Asia/Kolkata", actor=ACTOR,
                     now=desk.clock())
    assert s.scalar(select(InventoryScan.scanned_at).where(InventoryScan.inventory_id == other.id,
                                                           InventoryScan.line == 1)) == datetime(2026, 3, 2, 3, 45)
    with pytest.raises(InvalidValue) as refused:
        inv.upload_codes(s, other, b"X1,,2026-03-02 09:15\n", filename="x.csv", timezone="Mars/Olympus",
                         actor=ACTOR, now=desk.clock())
    assert refused.value.field == "时区" and "Mars/Olympus" in str(refused.value)


def test_utc_from_local_follows_the_zones_rules_not_a_fixed_offset():
    assert clock.utc_from_local(datetime(2026, 3, 2, 9, 15), "Asia/Shanghai") == datetime(2026, 3, 2, 1, 15)
    assert clock.utc_from_local(datetime(2026, 1, 15, 9, 0), "Europe/Berlin") == datetime(2026, 1, 15, 8, 0)
    assert clock.utc_from_local(datetime(2026, 7, 15, 9, 0), "Europe/Berlin") == datetime(2026, 7, 15, 7, 0)
    lines, problems = scanfiles.parse_codes_file("条码,架位,时间\nF1,,2026/03/02 09:15\n")
    assert problems == [] and lines == [scanfiles.CodeLine(2, "F1", None, datetime(2026, 3, 2, 9, 15))]


def test_the_latest_reads_newest_first_with_their_folders_category(desk, counted):
    count, scan = counted
    s, providers = desk.session, [status_provider(desk.rules)]
    report, lines = inv.live_report(s, count, limit=3, providers=providers)
    assert report.as_json() == inv.reconcile(s, count, providers=providers).as_json()
    disp = lambda x: folder_code(x.village.full_code, x.number).display  # noqa: E731
    unknown = folder_code(desk.homes[0].village.full_code, 999).value
    assert [(line.folder, line.category, line.shelf) for line in lines] == [
        (unknown, "unknown", "K1-M-1-A-3"), (disp(desk.west[0]), "out_of_range", "K1-M-1-A-3"),
        (disp(desk.homes[4]), "found", "K1-M-1-A-3")]
    assert lines[1].head_name == desk.west[0].head_name and lines[0].head_name == "" and lines[0].household_id is None
    assert [line.id for line in lines] == sorted((line.id for line in lines), reverse=True)
    newest = lines[0].id
    assert inv.live_report(s, count, after=newest, providers=providers)[1] == []
    scan(desk.code(desk.homes[5]), "K1-M-1-A-3")  # the one folder still missing
    report, (fresh,) = inv.live_report(s, count, after=newest, providers=providers)
    assert (fresh.folder, fresh.category, fresh.household_id) == (disp(desk.homes[5]), "found", desk.homes[5].id)
    assert report.counts["missing"] == 0 and fresh.scanned_at == s.get(InventoryScan, fresh.id).scanned_at


def test_close_marks_missing_with_events_and_keeps_the_signed_report(desk, counted):
    count, scan = counted
    s, h = desk.session, desk.homes
    report = inv.close_inventory(s, count, mark_missing=True, mark_found=True,
                                 providers=[status_provider(desk.rules)], actor=ACTOR, now=desk.clock())
    assert (report.marked_missing, report.marked_found, report.state) == (1, 1, "closed")
    places = find_places(s, [h[5].id, h[3].id])
    assert places[h[5].id].state == "missing" and places[h[3].id].state == "on_shelf"
    movement = s.scalar(select(FolderMovement).where(FolderMovement.household_id == h[5].id)
                        .order_by(FolderMovement.seq.desc()).limit(1))
    assert movement.kind == "missing" and movement.reason == "盘点 PD-2026-0001 未扫到"
    assert s.get(Event, movement.event_id).kind == "folder.missing"
    closed = s.scalar(select(Event).where(Event.kind == "inventory.closed"))
    assert closed.data["marked_missing"] == 1 and closed.data["counts"]["missing"] == 1
    later = inv.reconcile(s, inv.find_inventory(s, "pd-2026-0001"))
    assert later.as_json() == report.as_json()  # the signed record does not change afterwards
    with pytest.raises(Conflict, match="已结束"):
        scan(desk.code(h[5]))
    with pytest.raises(Conflict):
        inv.close_inventory(s, count, actor=ACTOR, now=desk.clock())


def test_scans_are_append_only(desk, counted):
    s = desk.session
    s.flush()
    with pytest.raises(DBAPIError, match="append-only"), s.begin_nested():
        s.execute(text("UPDATE inventory_scans SET code = 'x'"))
    with pytest.raises(DBAPIError, match="append-only"), s.begin_nested():
        s.execute(text("DELETE FROM inventory_scans"))


def test_scope_errors_are_clear(desk):
    s = desk.session
    with pytest.raises(InvalidValue, match="盘点人"):
        inv.start_inventory(s, counters=[" "], village="201", actor=ACTOR, now=desk.clock())
    with pytest.raises(InvalidValue, match="之后"):
        inv.start_inventory(s, counters=["甲"], first="K1-M-1-B-1", last="K1-M-1-A-1", actor=ACTOR, now=desk.clock())
    with pytest.raises(InvalidValue, match="只选一种"):
        inv.start_inventory(s, counters=["甲"], village="201", shelves=["K1-M-1-A-1"], actor=ACTOR,
                            now=desk.clock())
    second = inv.start_inventory(s, counters=["甲"], shelves=["K1-M-2-A-1", "K1-M-1-A-1"], actor=ACTOR,
                                 now=desk.clock())
    third = inv.start_inventory(s, counters=["甲"], shelves=["K1-M-1-A-1"], actor=ACTOR, now=desk.clock())
    assert second.scope_text.startswith("K1-M-1-A-1、K1-M-2-A-1") and third.number == "PD-2026-0002"
    assert [i.number for i in inv.list_inventories(s)] == ["PD-2026-0002", "PD-2026-0001"]


def test_the_inventory_record_pdf_lists_the_results_and_signature_lines(desk, counted):
    count, _ = counted
    s = desk.session
    pdf = documents.print_inventory(s, count, user=None, providers=[status_provider(desk.rules)], now=desk.clock(),
                                    timezone=desk.rules.timezone)
    flat = compact("".join(page_texts(pdf)))
    for expected in ("档案盘点记录", "PD-2026-0001", "K1-M-1-A-2…K1-M-1-A-3（2层）", "孙管理员、钱医生", "周院长",
                     "缺失（未扫到）", "错架（放错位置）", "无法识别或无此档案", "重复扫描", "借出或取出（不算缺失）",
                     "盘点人（签字）", "监盘人（签字）", folder_code(desk.homes[5].village.full_code, 6).display):
        assert compact(expected) in flat, expected
    assert s.scalar(select(AuditEntry).where(AuditEntry.action == "print",
                                             AuditEntry.detail == "盘点 PD-2026-0001")) is not None


def test_the_inventory_record_is_dated_and_timed_in_the_rooms_zone_not_in_utc(desk, counted):
    """Closed at 07:30 on a Shanghai morning (23:30 UTC the day before): the record carries the morning's date."""
    count, _ = counted
    s = desk.session
    closed = datetime(2026, 3, 4, 23, 30)
    count.started_at = datetime(2026, 3, 4, 23, 5)
    inv.close_inventory(s, count, actor=ACTOR, now=closed)
    flat = compact("".join(page_texts(documents.print_inventory(s, count, user=None, now=closed,
                                                                 timezone="Asia/Shanghai"))))
    assert "2026年03月05日" in flat and "2026-03-0507:05" in flat and "2026-03-0507:30" in flat
    assert "2026年03月04日" not in flat
