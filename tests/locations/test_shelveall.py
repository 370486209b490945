"""First shelving of every village at once (上架全部, issue #10.9): the preview writes nothing, the apply matches it,
and the room each village has left counts what villages still waiting for shelves will take."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from archiveprint.errors import Conflict
from archiveprint.locations import queries
from archiveprint.locations.models import FolderMovement, FolderPosition
from archiveprint.locations.services import shelve_village
from archiveprint.locations.shelveall import shelve_all
from archiveprint.register import services as register
from tests.conftest import ACTOR


def positions(session) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(FolderPosition)) or 0


def test_issue_10_9_preview_writes_nothing_then_apply_shelves_every_village(session, room, households, clock):
    households("201", 5)
    households("202", 2)
    households("001", 1)
    with session.begin_nested() as preview_only:
        preview = shelve_all(session, actor=ACTOR, now=clock())
        preview_only.rollback()
    assert positions(session) == 0
    assert session.scalar(select(func.count()).select_from(FolderMovement)) == 0
    assert [(v.code, v.waiting, v.placed, v.run, v.refusal) for v in preview.villages] == [
        ("001", 1, 1, ("K1-M-1-A-1", "K1-M-1-A-1"), ""),
        ("201", 5, 5, ("K1-M-1-A-2", "K1-M-1-A-3"), ""),
        ("202", 2, 2, ("K1-M-1-B-1", "K1-M-1-B-1"), "")]

    done = shelve_all(session, expected=preview.fingerprint, actor=ACTOR, now=clock())
    assert done.placed == 8 and [v.run for v in done.villages] == [v.run for v in preview.villages]
    assert positions(session) == 8
    villages = {v.code: v for v in queries.find_capacity(session).villages}
    assert {code: v.unshelved for code, v in villages.items()} == {"001": 0, "201": 0, "202": 0}
    with pytest.raises(Conflict, match="请重新预览"):  # nothing is waiting any more: the old preview is stale
        shelve_all(session, expected=preview.fingerprint, actor=ACTOR, now=clock())


def test_issue_10_9_a_village_that_does_not_fit_is_reported_and_the_others_shelved(session, room, households,
                                                                                   clock):
    households("201", 40)  # 40 × 1.25 = 50 positions: more than the 48 of the room
    households("001", 2)
    result = shelve_all(session, actor=ACTOR, now=clock())
    refused = {v.code: v.refusal for v in result.villages if v.refusal}
    assert list(refused) == ["201"]
    assert "没有足够的连续空架位" in refused["201"] and "archiveprint" not in refused["201"]
    assert result.placed == 2


def test_issue_10_9_room_left_does_not_count_shelves_the_waiting_villages_will_take(session, room, households,
                                                                                    clock):
    households("201", 5)
    households("202", 20)  # waits for shelves: 20 × 1.25 = 25 positions after 201's run
    shelve_village(session, register.find_village(session, "201"), actor=ACTOR, now=clock())
    east = {v.code: v for v in queries.find_capacity(session).villages}["201"]
    # 201 takes the first two shelves (5 + 25 % → 7 positions); the 10 free shelves after it hold 40, of which
    # 202 will take 25 when it is shelved
    assert (east.shelves, east.room_in_run, east.room_next_to_run, east.room_left) == (2, 3, 15, 18)
    assert east.message == "村 201 再有 19 袋就会超出"


def test_issue_10_11_layout_warnings_name_the_remedy_not_a_command(session, room, households, clock):
    from archiveprint.locations.services import apply_layout
    from tests.locations.conftest import SMALL_LAYOUT, small_layout

    households("201", 1)
    households("202", 1)
    shelve_all(session, actor=ACTOR, now=clock())  # 201 on K1-M-1-A-1, 202 on K1-M-1-A-2
    reversed_levels = SMALL_LAYOUT.replace("capacity: 4", "capacity: 4\n        fill_order: 列, 面, -层")
    report = apply_layout(session, small_layout(reversed_levels), actor=ACTOR, now=clock())
    assert report.warnings == ["各村架位不再按村代码顺序排列，需要重新排架"]
