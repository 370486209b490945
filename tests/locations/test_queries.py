"""Locate by every key, status providers, pick lists (order and PDF text), capacity and shelf-label data."""

from __future__ import annotations

from datetime import date

import pytest

from archiveprint.locations import queries, services
from archiveprint.locations.picklist import render_picklist_pdf
from archiveprint.register import services as register
from archiveprint.register.codes import folder_code
from tests.conftest import ACTOR
from tests.locations.conftest import count_queries
from tests.pdfcheck import assert_fonts_embedded_and_subset, compact, page_texts


@pytest.fixture
def shelved(session, room, households, clock):  # type: ignore[no-untyped-def]
    """Five households of 201 and two of 202 on their shelves; the first household has a second member."""
    east = households("201", 5)
    west = households("202", 2, surname="李")
    register.register_resident(session, east[0], name="王芷若", sex="2", relation_to_head="配偶",
                               id_number="11010519491231002X", phone="13812345678", actor=ACTOR)
    for code in ("201", "202"):
        services.shelve_village(session, register.find_village(session, code), actor=ACTOR, now=clock())
    return east, west


FIRST = folder_code("130123100201", 1)


@pytest.mark.parametrize("query", [
    FIRST.value,  # folder code as scanned
    FIRST.display,  # as printed: 130123-100-201-F00001-…
    "13012310020100001",  # the head's archive code
    "201-00006",  # the second member's short code (registered after the other heads)
    "王芷若",  # exact name
    "王芷",  # name prefix
    "wzr",  # pinyin initials
    "11010519491231002X",  # ID number
    "13812345678",  # phone
])
def test_locate_by_every_key_gives_address_status_and_members(session, shelved, query):
    east, _ = shelved
    found = queries.locate(session, query)
    assert [f.household_id for f in found] == [east[0].id]
    folder = found[0]
    assert folder.folder == folder_code("130123100201", 1).value
    assert folder.place.address == "一号库房 1列 A面 1层 第1位"
    assert folder.place.status.code == "on_shelf" and folder.place.status.text == "在架"
    assert [(m.name, m.relation) for m in folder.members] == [("张三丰", "户主"), ("王芷若", "配偶")]
    data = folder.as_json()
    assert data["location"] == "一号库房 1列 A面 1层 第1位" and data["status"] == "on_shelf"


def test_a_name_prefix_finds_every_folder_it_starts(session, shelved):
    east, west = shelved
    assert {f.household_id for f in queries.locate(session, "张")} == {h.id for h in east}
    assert {f.household_id for f in queries.locate(session, "李")} == {h.id for h in west}
    assert queries.locate(session, "zw") and queries.locate(session, "nobody") == []
    assert queries.locate(session, "") == []
    # LIKE's wildcards typed into the search box match themselves, not everything (the pattern is escaped)
    assert queries.locate(session, "张%") == [] and queries.locate(session, "张_") == []
    assert queries.locate(session, "%") == [] and queries.locate(session, "_") == []


def test_locate_makes_a_fixed_number_of_queries_however_many_folders_match(session, shelved):
    with count_queries(session) as few:
        queries.locate(session, "李")
    with count_queries(session) as many:
        queries.locate(session, "张")
    assert len(few) == len(many) == 2  # who matched; then households, members and places in one


def test_a_status_provider_from_a_higher_job_says_who_has_a_folder(session, shelved, clock):
    east, _ = shelved
    services.take_out(session, east[1], holder="借阅", actor=ACTOR, now=clock())
    calls = []

    def lending(session, household_ids):  # type: ignore[no-untyped-def]
        calls.append(list(household_ids))
        return {east[1].id: queries.FolderStatus("lent", clock.now, "王医生（东村卫生室）")}

    places = queries.find_places(session, [h.id for h in east], [lending])
    assert calls == [[east[1].id]]  # asked only about folders that are out
    status = places[east[1].id].status
    assert status.code == "lent" and status.text.startswith("借出：王医生（东村卫生室）（自 ")
    assert places[east[0].id].status.code == "on_shelf"


def test_pick_list_is_in_walking_order_with_absent_folders_last(session, shelved, clock):
    east, _west = shelved
    services.take_out(session, east[2], holder="门诊", actor=ACTOR, now=clock())
    codes = [folder_code("130123100202", 2).display,  # 李 (202), shelf 3
             "13012310020100003",  # 201 household 3's head — out
             folder_code("130123100201", 5).value,  # 201 household 5, shelf 2
             "13012310020100002",  # 201 household 2, shelf 1 slot 2
             "13012310020100006",  # 王芷若, a member of household 1
             "F130123100201999990",  # a valid-looking code of no folder
             "13012310020100006"]  # asked twice: one row
    picklist = queries.find_picklist(session, codes)
    rows = [(r.location.household_number, r.location.village, r.location.place.state) for r in picklist.rows]
    assert rows == [(1, "201", "on_shelf"), (2, "201", "on_shelf"), (5, "201", "on_shelf"),
                    (2, "202", "on_shelf"), (3, "201", "out")]
    assert picklist.rows[0].wanted == "王芷若"
    assert [code for code, _ in picklist.not_found] == ["F130123100201999990"]
    assert [r.number for r in picklist.rows] == [1, 2, 3, 4, 5]

    pdf = render_picklist_pdf(picklist, day=date(2026, 11, 26), unit="诸福屯镇卫生院")
    page, = page_texts(pdf)
    text = compact(page)
    assert "调档单" in text and "2026年11月26日" in text and "共5袋" in text
    order = [text.index(compact(r.location.folder_display)) for r in picklist.rows]
    assert order == sorted(order)
    assert compact("一号库房 1列 A面 1层 第1位") in text and "已取出：门诊" in text
    assert "F130123100201999990" in text
    assert_fonts_embedded_and_subset(pdf)


def test_capacity_per_shelf_and_village_and_when_a_village_overflows(session, shelved, households, clock):
    report = queries.find_capacity(session)
    villages = {v.code: v for v in report.villages}
    east = villages["201"]
    # 5 folders + 25 % → 7 → two shelves of 4; next comes 202's shelf, so no free neighbour
    assert (east.shelves, east.capacity, east.used, east.room_in_run, east.room_next_to_run) == (2, 8, 5, 3, 0)
    assert east.room_left == 3 and "再有 4 袋就会超出" in east.message
    west = villages["202"]
    assert west.room_next_to_run == 4 * 9  # every free shelf after it (the rest of the room)
    households("201", 4)
    east = {v.code: v for v in queries.find_capacity(session).villages}["201"]
    assert east.unshelved == 4 and east.room_left == -1 and "已超出 1 袋" in east.message
    totals = report.totals()
    assert totals["village"] == {"shelves": 12, "capacity": 48, "used": 7}
    assert totals["closed"] == {"shelves": 2, "capacity": 6, "used": 0}
    shelf = next(s for s in report.shelves if s.code == "K1-M-1-A-1")
    assert (shelf.used, shelf.fill, shelf.village) == (4, 1.0, "201")
