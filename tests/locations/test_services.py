"""Location services on both databases: layouts, shelving, moves with their history and events, closed records."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from archiveprint.errors import Conflict, InvalidValue, NotConfigured
from archiveprint.eventlog import Event
from archiveprint.locations import queries, services
from archiveprint.locations.models import FolderMovement, FolderPosition, Shelf, StorageLayout
from archiveprint.register import services as register
from tests.conftest import ACTOR
from tests.locations.conftest import SMALL_LAYOUT, small_layout


def village(session, code="201"):  # type: ignore[no-untyped-def]
    return register.find_village(session, code)


def place(session, household):  # type: ignore[no-untyped-def]
    return queries.find_places(session, [household.id])[household.id]


def assert_replay_matches(session) -> None:  # type: ignore[no-untyped-def]
    session.flush()
    assert queries.replay_positions(session) == queries.current_positions(session)


# --- layouts -------------------------------------------------------------------------------------------------

def test_applying_a_layout_creates_shelves_in_walking_order_and_records_it(session, township, clock):
    report = services.apply_layout(session, small_layout(), actor=ACTOR, now=clock())
    assert report.applied and len(report.diff.added) == 14 and not report.blocked
    shelves = queries.list_shelves(session, None)
    assert [s.code for s in shelves][:4] == ["K1-M-1-A-1", "K1-M-1-A-2", "K1-M-1-A-3", "K1-M-1-B-1"]
    assert shelves[-1].address == "二号库房 结案柜 1柜 2层" and shelves[-1].purpose == "closed"
    assert session.scalar(select(func.count()).select_from(StorageLayout)) == 1
    assert session.scalar(select(Event.kind).where(Event.kind == "layout.applied")) == "layout.applied"
    again = services.apply_layout(session, small_layout(), actor=ACTOR, now=clock())
    assert again.diff.is_empty and again.diff.unchanged == 14


def test_services_need_a_layout_first(session, households):
    with pytest.raises(NotConfigured) as refused:
        services.shelve_village(session, village(session), actor=ACTOR, now=date.today())  # type: ignore[arg-type]
    # What is missing, in words; the command only as the CLI's hint, the page as the web's action (#10.11).
    assert (str(refused.value), refused.value.action) == ("尚未载入库房布局", "load_layout")
    assert refused.value.hint == "请先运行 archiveprint layout apply 布局文件.yaml"


def test_removing_or_shrinking_occupied_shelves_is_refused_with_the_folders_on_them(session, room, households,
                                                                                   clock):
    first, second = households("201", 2)
    services.shelve_village(session, village(session), actor=ACTOR, now=clock())
    services.move_folder(session, second, "K1-M-2-B-3#4", actor=ACTOR, now=clock())
    # drop 列 2 altogether and make every shelf hold only 3
    edited = small_layout(SMALL_LAYOUT.replace("列 1-2", "列 1").replace("capacity: 4", "capacity: 3"))
    preview = services.apply_layout(session, edited, dry_run=True, actor=ACTOR, now=clock())
    assert [(b.shelf_code, b.folder, b.why) for b in preview.blocked] == [
        ("K1-M-2-B-3", queries.display_code(second), "removed")]
    assert not preview.applied
    with pytest.raises(services.OccupiedShelves) as refused:
        services.apply_layout(session, edited, actor=ACTOR, now=clock())
    assert queries.display_code(second) in str(refused.value)
    assert [f.folder for f in refused.value.folders] == [queries.display_code(second)]
    # nothing changed: the folder is still where it was, on a shelf still in use
    assert place(session, second).shelf_code == "K1-M-2-B-3"
    services.move_folder(session, second, "K1-M-1-A-1#2", actor=ACTOR, now=clock())
    shrunk = services.apply_layout(session, edited, dry_run=True, actor=ACTOR, now=clock())
    assert [(b.folder, b.why) for b in shrunk.blocked] == []  # slots 1-2 are below the new capacity of 3
    services.move_folder(session, first, "K1-M-1-A-1#3", actor=ACTOR, now=clock())
    done = services.apply_layout(session, edited, actor=ACTOR, now=clock())
    assert done.applied and len(done.diff.removed) == 6
    retired = session.scalar(select(Shelf).where(Shelf.code == "K1-M-2-B-3"))
    assert retired.retired_at is not None  # kept, so history still names it
    history = queries.list_movements(session, second.id)
    assert [m.shelf_code for m in history] == ["K1-M-1-A-1", "K1-M-2-B-3", "K1-M-1-A-1"]


def test_a_shelf_that_comes_back_in_a_later_layout_is_the_same_row(session, room, clock):
    before = session.scalar(select(Shelf.id).where(Shelf.code == "K1-M-2-B-3"))
    services.apply_layout(session, small_layout(SMALL_LAYOUT.replace("列 1-2", "列 1")), actor=ACTOR, now=clock())
    services.apply_layout(session, small_layout(), actor=ACTOR, now=clock())
    shelf = session.scalar(select(Shelf).where(Shelf.code == "K1-M-2-B-3"))
    assert shelf.id == before and shelf.retired_at is None


# --- shelving ------------------------------------------------------------------------------------------------

def test_shelving_a_village_fills_positions_in_household_order_with_growth_room(session, room, households, clock):
    made = households("201", 6)
    result = services.shelve_village(session, village(session), actor=ACTOR, now=clock())
    # 6 folders + 25 % reserve = 8 → two shelves of 4
    assert result.placed == 6 and result.run == ("K1-M-1-A-1", "K1-M-1-A-2")
    places = queries.find_places(session, [h.id for h in made])
    assert [places[h.id].address for h in made[:5]] == [
        "一号库房 1列 A面 1层 第1位", "一号库房 1列 A面 1层 第2位", "一号库房 1列 A面 1层 第3位",
        "一号库房 1列 A面 1层 第4位", "一号库房 1列 A面 2层 第1位"]
    assert {places[h.id].status.code for h in made} == {"on_shelf"}
    # a second village goes right after, in code order; shelving again adds only the new household
    households("202", 2)
    west = services.shelve_village(session, village(session, "202"), actor=ACTOR, now=clock())
    assert west.run == ("K1-M-1-A-3", "K1-M-1-A-3")
    late = households("201", 1)[0]
    again = services.shelve_village(session, village(session), actor=ACTOR, now=clock())
    assert again.placed == 1 and place(session, late).address == "一号库房 1列 A面 2层 第3位"
    assert services.shelve_village(session, village(session), actor=ACTOR, now=clock()).placed == 0
    assert_replay_matches(session)


def test_a_new_village_leaves_room_for_earlier_villages_that_are_not_shelved_yet(session, room, households,
                                                                                 clock):
    households("001", 2)
    households("201", 3)  # registered, not shelved yet
    households("202", 2)
    services.shelve_village(session, village(session, "001"), actor=ACTOR, now=clock())
    west = services.shelve_village(session, village(session, "202"), actor=ACTOR, now=clock())
    # 001 has shelf 1; 201 will need 3 × 1.25 → 4 positions = one shelf; so 202 starts at shelf 3
    assert west.run == ("K1-M-1-A-3", "K1-M-1-A-3")
    middle = services.shelve_village(session, village(session, "201"), actor=ACTOR, now=clock())
    assert middle.run == ("K1-M-1-A-2", "K1-M-1-A-2")
    labels = queries.list_shelf_labels(session, village="201")
    assert [(label.code, label.first_number, label.last_number, label.folder_count) for label in labels] == [
        ("K1-M-1-A-2", 1, 3, 3)]
    assert labels[0].range_text == "201-F00001 — 201-F00003"


def test_a_village_registered_after_its_neighbours_were_shelved_needs_a_relayout(session, room, households, clock):
    households("001", 2)
    households("202", 2)
    services.shelve_village(session, village(session, "001"), actor=ACTOR, now=clock())
    services.shelve_village(session, village(session, "202"), actor=ACTOR, now=clock())
    households("201", 3)
    with pytest.raises(Conflict, match="没有足够的连续空架位"):
        services.shelve_village(session, village(session, "201"), actor=ACTOR, now=clock())


def test_a_full_run_with_no_free_neighbour_asks_for_a_relayout(session, room, households, clock):
    households("201", 3)
    services.shelve_village(session, village(session), actor=ACTOR, now=clock())  # 1 shelf (3 × 1.25 → 4)
    households("202", 1)
    services.shelve_village(session, village(session, "202"), actor=ACTOR, now=clock())
    households("201", 2)
    with pytest.raises(Conflict, match="需要重新排架") as refused:
        services.shelve_village(session, village(session), actor=ACTOR, now=clock())
    assert "archiveprint" not in str(refused.value)  # the command is the CLI's hint, the page the web's action
    assert (refused.value.hint, refused.value.action, refused.value.action_args) == (
        "请运行 archiveprint relayout --village 201", "relayout", {"village": "201"})


# --- moves, history, events ----------------------------------------------------------------------------------

def test_every_change_is_a_movement_and_an_event_in_the_same_transaction(session, room, households, clock):
    household = households("201", 1)[0]
    services.shelve_village(session, village(session), actor=ACTOR, now=clock())
    savepoint = session.begin_nested()
    services.move_folder(session, household, "一号库房 2列 B面 3层 第2位", reason="整理", actor="clerk2",
                         now=clock())
    moved = session.scalar(select(FolderMovement).where(FolderMovement.household_id == household.id,
                                                        FolderMovement.seq == 2))
    event = session.get(Event, moved.event_id)
    assert (moved.kind, moved.actor, event.kind, event.entity_id) == ("move", "clerk2", "folder.moved",
                                                                      str(household.id))
    savepoint.rollback()  # the caller's rollback takes the movement, the position and the event together
    assert session.scalar(select(func.count()).select_from(FolderMovement)
                          .where(FolderMovement.household_id == household.id)) == 1
    assert session.scalar(select(func.count()).select_from(Event).where(Event.kind == "folder.moved")) == 0
    assert place(session, household).shelf_code == "K1-M-1-A-1"


def test_the_history_table_refuses_update_and_delete(session, room, households, clock):
    households("201", 1)
    services.shelve_village(session, village(session), actor=ACTOR, now=clock())
    session.flush()
    for statement in ("UPDATE folder_movements SET actor = 'x'", "DELETE FROM folder_movements"):
        with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
            session.execute(text(statement))


def test_where_on_a_date_and_who_touched_it(session, room, households, clock):
    household = households("201", 1)[0]
    services.shelve_village(session, village(session), actor="clerk1", now=clock())
    shelved_at = clock.now
    clock.now += timedelta(days=3)
    services.take_out(session, household, holder="王医生（门诊）", reason="门诊", actor="clerk2", now=clock())
    clock.now += timedelta(days=1)
    services.put_back(session, household, actor="clerk1", now=clock())
    clock.now += timedelta(days=2)
    services.move_folder(session, household, "K1-M-2-A-1", actor="clerk3", now=clock())

    day_after_shelving = queries.find_position_at(session, household.id, shelved_at + timedelta(days=1))
    assert (day_after_shelving.shelf_code, day_after_shelving.state) == ("K1-M-1-A-1", "on_shelf")
    while_out = queries.find_position_at(session, household.id, shelved_at + timedelta(days=3, hours=1))
    assert (while_out.state, while_out.holder) == ("out", "王医生（门诊）")
    assert queries.find_position_at(session, household.id, shelved_at - timedelta(days=1)) is None
    assert place(session, household).shelf_code == "K1-M-2-A-1"
    touches = {t.actor: t for t in queries.list_touches(session, household.id)}
    assert set(touches) == {"clerk1", "clerk2", "clerk3", ACTOR}  # ACTOR created the household
    assert touches["clerk1"].count == 2 and touches["clerk1"].actions == ("上架", "归还")
    assert [m.kind for m in queries.list_movements(session, household.id)] == [
        "shelve", "take_out", "put_back", "move"]
    assert_replay_matches(session)


def test_move_refuses_an_occupied_position_and_picks_an_ordered_free_one(session, room, households, clock):
    first, _second, third = households("201", 3)
    services.shelve_village(session, village(session), actor=ACTOR, now=clock())
    with pytest.raises(Conflict, match="已有档案袋"):
        services.move_folder(session, third, "K1-M-1-A-1#1", actor=ACTOR, now=clock())
    with pytest.raises(InvalidValue, match="只有 4 个位置"):
        services.move_folder(session, third, "K1-M-1-A-1#9", actor=ACTOR, now=clock())
    services.move_folder(session, first, "K1-M-1-A-2#2", actor=ACTOR, now=clock())
    services.move_folder(session, third, "K1-M-1-A-2", actor=ACTOR, now=clock())
    assert place(session, third).slot == 3  # after household 1 (slot 2) on that shelf
    assert_replay_matches(session)


def test_a_stale_version_is_a_conflict(session, room, households, clock):
    household = households("201", 1)[0]
    services.shelve_village(session, village(session), actor=ACTOR, now=clock())
    seen = place(session, household).version
    services.move_folder(session, household, "K1-M-1-A-2", expected_version=seen, actor=ACTOR, now=clock())
    with pytest.raises(Conflict, match="刚被别人改过"):
        services.move_folder(session, household, "K1-M-1-A-3", expected_version=seen, actor=ACTOR, now=clock())


def test_take_out_put_back_missing_found_and_their_statuses(session, room, households, clock):
    household = households("201", 1)[0]
    assert place(session, household).status.code == "unshelved"
    services.shelve_village(session, village(session), actor=ACTOR, now=clock())
    services.take_out(session, household, holder="李医生", actor=ACTOR, now=clock())
    status = place(session, household).status
    assert (status.code, status.holder) == ("out", "李医生") and "李医生" in status.text
    with pytest.raises(Conflict, match="已取出"):
        services.take_out(session, household, holder="别人", actor=ACTOR, now=clock())
    services.put_back(session, household, actor=ACTOR, now=clock())
    services.put_back(session, household, actor=ACTOR, now=clock())  # scanning it back twice is fine
    services.report_missing(session, household, reason="盘点未见", actor=ACTOR, now=clock())
    assert place(session, household).status.code == "missing"
    services.put_back(session, household, actor=ACTOR, now=clock())
    assert [m.kind for m in queries.list_movements(session, household.id)] == [
        "shelve", "take_out", "put_back", "missing", "found"]
    with pytest.raises(InvalidValue, match="交给谁"):
        services.take_out(session, household, holder=" ", actor=ACTOR, now=clock())
    assert_replay_matches(session)


def test_closed_households_go_to_the_closed_area_and_come_back_with_a_reason(session, room, households, clock):
    household = households("201", 2)[0]
    services.shelve_village(session, village(session), actor=ACTOR, now=clock())
    with pytest.raises(Conflict, match="未结案"):
        services.close_folder(session, household, actor=ACTOR, now=clock())
    for member in household.members:
        register.close_resident(session, member, "death", date(2026, 1, 2), actor=ACTOR)
    services.close_folder(session, household, actor=ACTOR, now=clock())
    closed = place(session, household)
    assert (closed.shelf_code, closed.slot, closed.status.code) == ("K2-J-1-1", 1, "closed")
    with pytest.raises(InvalidValue, match="原因"):
        services.reopen_folder(session, household, reason="", actor=ACTOR, now=clock())
    services.reopen_folder(session, household, reason="误结案", actor=ACTOR, now=clock())
    back = place(session, household)
    assert (back.shelf_code, back.slot, back.status.code) == ("K1-M-1-A-1", 1, "on_shelf")  # its old position
    assert [m.kind for m in queries.list_movements(session, household.id)] == ["shelve", "close", "reopen"]
    assert_replay_matches(session)


def test_a_released_folder_leaves_the_room_but_keeps_its_history(session, room, households, clock):
    household = households("201", 1)[0]
    services.shelve_village(session, village(session), actor=ACTOR, now=clock())
    services.release_folder(session, household, reason="移交县档案馆", actor=ACTOR, now=clock())
    assert place(session, household).status.code == "gone"
    assert session.get(FolderPosition, household.id) is None
    assert services.shelve_village(session, village(session), actor=ACTOR, now=clock()).placed == 0
    services.move_folder(session, household, "K1-M-1-A-1#1", reason="退回", actor=ACTOR, now=clock())
    assert [(m.seq, m.kind) for m in queries.list_movements(session, household.id)] == [
        (1, "shelve"), (2, "release"), (3, "move")]
    assert_replay_matches(session)
