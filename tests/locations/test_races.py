"""Concurrency on real commits: clerks moving folders at the same moment never leave two current positions, and
counts or handovers started at the same moment never share a number."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from archiveprint.db import utcnow
from archiveprint.errors import Conflict
from archiveprint.eventlog import Event
from archiveprint.locations import handover, inventory, queries, services
from archiveprint.locations.models import FolderMovement, FolderPosition, HandoverItem, Inventory
from archiveprint.register import services as register
from archiveprint.register.codes import folder_code
from archiveprint.register.models import Household
from tests.conftest import ACTOR, setup_township
from tests.locations.conftest import small_layout

THREADS = 6


def prepare(db, count: int = 1) -> list[int]:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        setup_township(session)
        services.apply_layout(session, small_layout(), actor=ACTOR, now=utcnow())
        village = register.find_village(session, "201")
        ids = []
        for n in range(count):
            household = register.create_household(session, village, head_name=f"户主{n}", external_no=f"R{n}",
                                                  actor=ACTOR)
            ids.append(household.id)
        services.shelve_village(session, village, actor=ACTOR, now=utcnow())
    return ids


def assert_consistent(db, household_ids: list[int]) -> None:  # type: ignore[no-untyped-def]
    with db.reader() as session:
        assert queries.replay_positions(session) == queries.current_positions(session)
        for household_id in household_ids:
            rows = session.scalar(select(func.count()).select_from(FolderPosition)
                                  .where(FolderPosition.household_id == household_id))
            assert rows == 1
            seqs = list(session.scalars(select(FolderMovement.seq).where(FolderMovement.household_id == household_id)
                                        .order_by(FolderMovement.seq)))
            assert seqs == list(range(1, len(seqs) + 1))
            position = session.get(FolderPosition, household_id)
            assert position.version == seqs[-1]


def test_two_clerks_moving_the_same_folder_from_the_same_screen_one_wins(committed_db, backend):
    household_id, = prepare(committed_db)
    # both clerks saw version 1; on PostgreSQL they also read the row before either writes
    barrier = threading.Barrier(2, timeout=10) if backend == "postgresql" else None

    def clerk(target: str) -> str:
        try:
            with committed_db.transaction() as session:
                household = session.get(Household, household_id)
                session.get(FolderPosition, household_id)
                if barrier is not None:
                    barrier.wait()
                services.move_folder(session, household, target, expected_version=1, actor=target, now=utcnow())
            return "moved"
        except Conflict:
            return "conflict"

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(clerk, ["K1-M-2-A-1#1", "K1-M-2-B-1#1"]))
    assert sorted(outcomes) == ["conflict", "moved"]
    assert_consistent(committed_db, [household_id])
    with committed_db.reader() as session:
        kinds = [m.kind for m in queries.list_movements(session, household_id)]
    assert kinds == ["shelve", "move"]


def test_many_clerks_moving_one_folder_leave_one_history_and_one_position(committed_db):
    household_id, = prepare(committed_db)
    start = threading.Barrier(THREADS, timeout=10)

    def clerk(n: int) -> tuple[str, str]:
        target = f"K1-M-2-{'A' if n < 3 else 'B'}-{n % 3 + 1}#1"
        start.wait()
        try:
            with committed_db.transaction() as session:
                services.move_folder(session, session.get(Household, household_id), target, actor=f"clerk{n}",
                                     now=utcnow())
            return "moved", target
        except Conflict:
            return "conflict", target

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(pool.map(clerk, range(THREADS)))
    moved = [target for outcome, target in outcomes if outcome == "moved"]
    assert moved and len(outcomes) == THREADS
    assert_consistent(committed_db, [household_id])
    with committed_db.reader() as session:
        history = queries.list_movements(session, household_id)
        assert len(history) == 1 + len(moved)
        assert queries.find_places(session, [household_id])[household_id].shelf_code == history[-1].shelf_code
        assert history[-1].shelf_code + "#1" in moved


def test_two_folders_racing_for_one_free_position_only_one_lands(committed_db):
    first, second = prepare(committed_db, 2)
    start = threading.Barrier(2, timeout=10)

    def clerk(household_id: int) -> str:
        start.wait()
        try:
            with committed_db.transaction() as session:
                services.move_folder(session, session.get(Household, household_id), "K1-M-2-B-3#4", actor=ACTOR,
                                     now=utcnow())
            return "moved"
        except Conflict:
            return "conflict"

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(clerk, [first, second]))
    assert sorted(outcomes) == ["conflict", "moved"]
    assert_consistent(committed_db, [first, second])
    with committed_db.reader() as session:
        holders = session.scalars(select(FolderPosition.household_id).where(FolderPosition.slot == 4)).all()
        assert len(holders) == 1


# --- numbering: PD-2026-0001, YJ-2026-0001 ---------------------------------------------------------------------

NUMBERED = 10


def _all_at_once(count: int, work):  # type: ignore[no-untyped-def]
    """Run `work(n)` in `count` threads released together, each on its own committed transaction."""
    gate = threading.Barrier(count, timeout=30)

    def run(n: int) -> str:
        gate.wait()
        return work(n)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_ten_counts_started_at_once_get_ten_consecutive_numbers(committed_db):
    prepare(committed_db)

    def start(n: int) -> str:
        with committed_db.transaction() as session:
            return inventory.start_inventory(session, counters=[f"盘点人{n}"], shelves=["K1-M-1-A-1"],
                                             actor=f"clerk{n}", now=utcnow()).number

    numbers = _all_at_once(NUMBERED, start)
    expected = [f"PD-{utcnow().year}-{n:04d}" for n in range(1, NUMBERED + 1)]
    assert sorted(numbers) == expected
    with committed_db.reader() as session:
        stored = list(session.execute(select(Inventory.number, Inventory.serial).order_by(Inventory.serial)))
        assert [number for number, _ in stored] == expected and [serial for _, serial in stored] == list(
            range(1, NUMBERED + 1))
        started = session.scalar(select(func.count()).select_from(Event).where(Event.kind == "inventory.started"))
        assert started == NUMBERED  # one event per count, none left from a lost attempt


def test_ten_handovers_recorded_at_once_get_ten_consecutive_numbers(committed_db):
    ids = prepare(committed_db, NUMBERED)
    with committed_db.reader() as session:
        codes = [folder_code(h.village.full_code, h.number).value
                 for h in (session.get(Household, household_id) for household_id in ids)]

    def hand(n: int) -> str:
        with committed_db.transaction() as session:
            return handover.hand_over(session, from_party="东村卫生院", to_party=f"接收方{n}", codes=[codes[n]],
                                      actor=f"clerk{n}", now=utcnow()).number or ""

    numbers = _all_at_once(NUMBERED, hand)
    expected = [f"YJ-{utcnow().year}-{n:04d}" for n in range(1, NUMBERED + 1)]
    assert sorted(numbers) == expected
    with committed_db.reader() as session:
        assert session.scalar(select(func.count()).select_from(HandoverItem)) == NUMBERED
        assert session.scalar(select(func.count()).select_from(Event).where(Event.kind == "handover.recorded")) \
            == NUMBERED
        released = session.scalars(select(FolderPosition.household_id)).all()
        assert released == []  # every folder left the shelves once, under its own handover
    assert_consistent(committed_db, [])
