"""Handover (移交) on both databases: selection, refusal of folders not on their shelf, custody change, the list."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from archiveprint.errors import Conflict, InvalidValue
from archiveprint.eventlog import Event
from archiveprint.lending.queries import status_provider
from archiveprint.locations import documents
from archiveprint.locations import handover as ho
from archiveprint.locations.models import FolderMovement, FolderPosition, Handover
from archiveprint.locations.queries import find_places
from archiveprint.register.codes import folder_code
from tests.conftest import ACTOR
from tests.lending import conftest as lending_fixtures
from tests.pdfcheck import compact, page_texts

desk, lend, rules = lending_fixtures.desk, lending_fixtures.lend, lending_fixtures.rules  # the lending desk


def disp(household):  # type: ignore[no-untyped-def]
    return folder_code(household.village.full_code, household.number).display


def test_dry_run_lists_folders_in_shelf_order_and_writes_nothing(desk):
    s = desk.session
    preview = ho.select_folders(s, village="202", providers=[status_provider(desk.rules)])
    assert [line.folder for line in preview.lines] == [disp(h) for h in desk.west]
    assert [line.seq for line in preview.lines] == [1, 2, 3] and preview.records == 3
    assert preview.lines[0].head_name == desk.west[0].head_name and preview.lines[0].address.endswith("第1位")
    by_range = ho.select_folders(s, first="K1-M-1-A-3", last="K1-M-1-B-1")
    assert [line.folder for line in by_range.lines] == [disp(h) for h in [*desk.homes[4:], *desk.west]]
    assert s.scalar(select(Handover.id)) is None


def test_handover_refuses_lent_folders_with_the_list_and_records_nothing(desk, lend):
    s = desk.session
    lend(desk.west[1])
    with pytest.raises(Conflict) as refused:
        ho.hand_over(s, village="202", from_party="东村卫生院", to_party="县档案馆", supervisor="周院长",
                     providers=[status_provider(desk.rules)], actor=ACTOR, now=desk.clock())
    assert disp(desk.west[1]) in str(refused.value) and "借出给 钱医生" in str(refused.value)
    assert s.scalar(select(Handover.id)) is None
    assert find_places(s, [desk.west[0].id])[desk.west[0].id].state == "on_shelf"
    codes = ho.select_folders(s, codes=[desk.code(desk.west[0]), "F999", desk.code(desk.west[1])],
                              providers=[status_provider(desk.rules)])
    assert [r.folder for r in codes.refused] == ["F999", disp(desk.west[1])]


def test_handover_releases_every_folder_with_events_and_can_be_reprinted(desk):
    s, west = desk.session, desk.west
    done = ho.hand_over(s, codes=[desk.code(west[2]), desk.resident(west[0]).archive_code], from_party="东村卫生院",
                        to_party="县档案馆", supervisor="周院长", reason="村卫生室撤并", actor=ACTOR, now=desk.clock())
    assert done.number == "YJ-2026-0001" and [line.folder for line in done.lines] == [disp(west[0]), disp(west[2])]
    for household in (west[0], west[2]):
        assert s.get(FolderPosition, household.id) is None
        last = s.scalar(select(FolderMovement).where(FolderMovement.household_id == household.id)
                        .order_by(FolderMovement.seq.desc()).limit(1))
        assert last.kind == "release" and last.reason == "移交给 县档案馆（YJ-2026-0001）"
        assert s.get(Event, last.event_id).kind == "folder.released"
    recorded = s.scalar(select(Event).where(Event.kind == "handover.recorded"))
    assert recorded.data["number"] == "YJ-2026-0001" and recorded.data["folders"] == 2
    again = ho.find_handover(s, "yj-2026-0001")
    assert again.as_json() == done.as_json()
    # handed over folders are gone: asked for again by code they are refused, by village they are skipped
    with pytest.raises(Conflict, match="已移出档案室"):
        ho.hand_over(s, codes=[desk.code(west[0])], from_party="甲", to_party="乙", actor=ACTOR, now=desk.clock())
    rest = ho.select_folders(s, village="202")
    assert [line.folder for line in rest.lines] == [disp(west[1])] and rest.skipped == 2
    assert [h["number"] for h in ho.list_handovers(s)] == ["YJ-2026-0001"]
    s.flush()
    with pytest.raises(DBAPIError, match="append-only"), s.begin_nested():
        s.execute(text("UPDATE handover_items SET head_name = 'x'"))


def test_handover_needs_parties_and_one_selection(desk):
    s = desk.session
    with pytest.raises(InvalidValue, match="接收方"):
        ho.hand_over(s, village="202", from_party="甲", to_party=" ", actor=ACTOR, now=desk.clock())
    with pytest.raises(InvalidValue, match="只选一种"):
        ho.select_folders(s, village="202", codes=["x"])


def test_the_handover_list_pdf_has_three_copies_with_signature_lines(desk):
    s = desk.session
    done = ho.hand_over(s, village="202", from_party="东村卫生院", to_party="县档案馆", supervisor="周院长",
                        actor=ACTOR, now=desk.clock())
    pdf = documents.print_handover(s, done, user=None, now=desk.clock(), timezone="Asia/Shanghai")
    first, second, third = (compact(p) for p in page_texts(pdf))
    for page, copy in ((first, "移交方留存"), (second, "接收方留存"), (third, "监交方留存")):
        assert copy in page and "档案移交清单" in page and "YJ-2026-0001" in page
        for expected in ("东村卫生院", "县档案馆", "周院长", "合计：3袋", "移交方（签字）", "接收方（签字）",
                         "监交人（签字）", compact(disp(desk.west[2])), desk.west[2].head_name):
            assert compact(expected) in page, (copy, expected)
    id_numbers = [r.id_number for h in desk.west for r in h.members if r.id_number]
    assert not any(n in first for n in id_numbers)


def test_the_handover_list_is_dated_in_the_rooms_zone(desk):
    """Handed over at 06:50 Shanghai time (22:50 UTC the day before): the list carries the local date."""
    s = desk.session
    at = datetime(2026, 6, 30, 22, 50)
    done = ho.hand_over(s, village="202", from_party="东村卫生院", to_party="县档案馆", actor=ACTOR, now=at)
    flat = compact(page_texts(documents.print_handover(s, done, user=None, now=at, timezone="Asia/Shanghai"))[0])
    assert "2026年07月01日" in flat and "2026年06月30日" not in flat
