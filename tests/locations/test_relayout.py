"""Re-layout on both databases: a village outgrows its run, the plan moves few folders, applying records every move."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from archiveprint.errors import Conflict
from archiveprint.eventlog import Event
from archiveprint.locations import queries, services
from archiveprint.locations.models import FolderMovement
from archiveprint.locations.relayout import apply_relayout, plan_relayout
from archiveprint.register import services as register
from tests.conftest import ACTOR


def village(session, code):  # type: ignore[no-untyped-def]
    return register.find_village(session, code)


@pytest.fixture
def crowded(session, room, households, clock):  # type: ignore[no-untyped-def]
    """201 fills its one shelf (3 folders + 25 % = 4), 202 sits right after it; then 201 gets two more households."""
    east = households("201", 3)
    west = households("202", 2, surname="李")
    services.shelve_village(session, village(session, "201"), actor=ACTOR, now=clock())
    services.shelve_village(session, village(session, "202"), actor=ACTOR, now=clock())
    services.take_out(session, west[1], holder="门诊", actor=ACTOR, now=clock())
    late = households("201", 2)
    return east, west, late


def test_the_plan_moves_the_neighbour_not_the_village_and_writes_nothing(session, crowded):
    _east, west, _late = crowded
    before = session.scalar(select(func.count()).select_from(FolderMovement))
    plan = plan_relayout(session, village(session, "201"))
    assert plan.runs_before == {"201": ("K1-M-1-A-1", "K1-M-1-A-1", 1), "202": ("K1-M-1-A-2", "K1-M-1-A-2", 1)}
    # 201 needs 5 + 25 % = 7 → two shelves; 202's two folders move one shelf on
    assert plan.runs_after == {"201": ("K1-M-1-A-1", "K1-M-1-A-2", 2), "202": ("K1-M-1-A-3", "K1-M-1-A-3", 1)}
    assert (plan.moved, plan.placed) == (2, 2)
    moved = [row for row in plan.rows if row.source]
    assert sorted(row.folder for row in moved) == [queries.display_code(h) for h in west]
    out = next(row for row in moved if row.folder == queries.display_code(west[1]))
    assert out.state == "out" and "归还时放到新位置" in out.line()
    # A-1 gets household 4 (its range grows), A-2 changes village, A-3 takes 202
    assert [(label.code, label.village_code, label.range_text) for label in plan.labels] == [
        ("K1-M-1-A-1", "201", "201-F00001 — 201-F00004"), ("K1-M-1-A-2", "201", "201-F00005 — 201-F00005"),
        ("K1-M-1-A-3", "202", "202-F00001 — 202-F00002")]
    assert any("挪动清单" in line for line in plan.text_lines())
    assert session.scalar(select(func.count()).select_from(FolderMovement)) == before


def test_applying_records_every_move_keeps_states_and_history_consistent(session, crowded, clock):
    east, west, late = crowded
    preview = plan_relayout(session, village(session, "201"))
    with pytest.raises(Conflict, match="重新预览"):
        apply_relayout(session, village(session, "201"), expected="stale", actor=ACTOR, now=clock())
    done = apply_relayout(session, village(session, "201"), expected=preview.fingerprint, actor="clerk",
                          now=clock())
    assert done.applied and done.fingerprint == preview.fingerprint
    places = queries.find_places(session, [h.id for h in [*east, *west, *late]])
    assert [places[h.id].address for h in west] == ["一号库房 1列 A面 3层 第1位", "一号库房 1列 A面 3层 第2位"]
    assert places[west[1].id].state == "out"  # still with the clinic; its new home waits for it
    assert [places[h.id].shelf_code for h in late] == ["K1-M-1-A-1", "K1-M-1-A-2"]  # after household 3
    kinds = [m.kind for m in queries.list_movements(session, west[0].id)]
    assert kinds == ["shelve", "relayout"]
    assert [m.kind for m in queries.list_movements(session, late[0].id)] == ["shelve"]
    assert session.scalar(select(func.count()).select_from(Event).where(Event.kind == "location.relayout")) == 1
    labels = {label.code: label for label in queries.list_shelf_labels(session)}
    assert labels["K1-M-1-A-2"].village_code == "201" and labels["K1-M-1-A-3"].village_code == "202"
    session.flush()
    assert queries.replay_positions(session) == queries.current_positions(session)
    again = plan_relayout(session, village(session, "201"))
    assert again.moved == 0  # nothing left to do


def test_a_village_registered_late_is_fitted_between_its_neighbours(session, room, households, clock):
    households("001", 2)
    households("202", 2)
    services.shelve_village(session, village(session, "001"), actor=ACTOR, now=clock())
    services.shelve_village(session, village(session, "202"), actor=ACTOR, now=clock())
    late = households("201", 3)
    with pytest.raises(Conflict):
        services.shelve_village(session, village(session, "201"), actor=ACTOR, now=clock())
    done = apply_relayout(session, village(session, "201"), actor=ACTOR, now=clock())
    assert (done.moved, done.placed) == (2, 3)  # 202 moves along; 201's three are shelved
    assert list(done.runs_after) == ["001", "201", "202"]
    codes = [queries.find_places(session, [h.id])[h.id].shelf_code for h in late]
    assert codes == [done.runs_after["201"][0]] * 3
    session.flush()
    assert queries.replay_positions(session) == queries.current_positions(session)


def test_no_room_anywhere_is_a_chinese_conflict(session, room, households, clock):
    households("201", 30)
    services.shelve_village(session, village(session, "201"), actor=ACTOR, now=clock())
    households("201", 15)  # 45 of 48 positions: fits only without growth room
    assert plan_relayout(session, village(session, "201")).runs_after["201"][2] == 12
    households("201", 4)
    with pytest.raises(Conflict, match="架位不足"):
        plan_relayout(session, village(session, "201"))
