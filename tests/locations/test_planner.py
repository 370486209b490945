"""Shelf planning (pure): hand-made cases, and properties over random archive rooms checked against brute force."""

from __future__ import annotations

from itertools import combinations_with_replacement, pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiveprint.errors import Conflict
from archiveprint.locations.planner import (
    Move,
    PlanFolder,
    PlanShelf,
    grow_run,
    order_steps,
    place_in_run,
    plan_runs,
    prefix_sums,
    run_targets,
    to_global,
)


def packed(village: str, count: int, first_shelf: int, capacity: int, *, key_base: int = 0,
           start_number: int = 1) -> list[PlanFolder]:
    """`count` folders filling shelves from `first_shelf` on, slot 1 upward."""
    return [PlanFolder(key_base + n, village, start_number + n,
                       (first_shelf + n // capacity, n % capacity + 1)) for n in range(count)]


def check_plan(shelves, folders, targets, plan) -> None:  # type: ignore[no-untyped-def]
    """No folder lost or duplicated, positions real, order kept, runs contiguous and big enough."""
    assert set(plan.targets) == {f.key for f in folders}
    positions = list(plan.targets.values())
    assert len(set(positions)) == len(positions)
    for index, slot in positions:
        assert 1 <= slot <= shelves[index].capacity
    prefix = prefix_sums(shelves)
    ordered = sorted(folders, key=lambda f: (f.village, f.number))
    globals_ = [to_global(prefix, plan.targets[f.key]) for f in ordered]
    assert globals_ == sorted(globals_)
    runs = sorted(plan.runs.items(), key=lambda item: item[1])
    assert [code for code, _ in runs] == sorted(plan.runs)  # runs in village-code order
    for (_, (_s1, e1)), (_, (s2, _e2)) in pairwise(runs):
        assert e1 < s2
    for code, (s, e) in plan.runs.items():
        assert sum(shelf.capacity for shelf in shelves[s:e + 1]) >= targets.get(code, 0)
        for folder in folders:
            if folder.village == code:
                assert s <= plan.targets[folder.key][0] <= e
    moved = {m.folder for m in plan.moves}
    assert moved == {f.key for f in folders if f.at is not None and f.at != plan.targets[f.key]}
    # carrying out the steps in order never needs an occupied position and ends at the targets
    occupied = {f.at: f.key for f in folders if f.at is not None}
    aside: set[int] = set()
    for step in plan.steps:
        move = step.move
        if step.aside:
            occupied.pop(move.source)
            aside.add(move.folder)
            continue
        if move.source is not None and move.folder not in aside:
            assert occupied.pop(move.source) == move.folder
        assert move.target not in occupied
        occupied[move.target] = move.folder
        aside.discard(move.folder)
    assert occupied == {plan.targets[f.key]: f.key for f in folders}


# --- simple cases: the fewest moves is obvious ---------------------------------------------------------------

def test_a_full_village_with_free_shelves_after_it_grows_without_moves():
    shelves = [PlanShelf(i, 4, "201" if i < 2 else None) for i in range(5)]
    folders = [*packed("201", 8, 0, 4), PlanFolder(100, "201", 9)]
    plan = plan_runs(shelves, folders, {"201": 9})
    check_plan(shelves, folders, {"201": 9}, plan)
    assert plan.moves == () and plan.runs == {"201": (0, 2)}
    assert [m.target for m in plan.placed] == [(2, 1)]


def test_a_village_boxed_in_by_its_neighbour_moves_the_smaller_side():
    # 201 full on shelves 0-1; 202 has 2 folders on shelf 2; shelves 3-4 free. 201 needs one more shelf:
    # shifting 202 right (2 moves) beats shifting 201 anywhere (8 moves).
    shelves = [PlanShelf(i, 4, "201" if i < 2 else "202" if i == 2 else None) for i in range(5)]
    folders = packed("201", 8, 0, 4) + packed("202", 2, 2, 4, key_base=50) + [PlanFolder(100, "201", 9)]
    targets = {"201": 9, "202": 2}
    plan = plan_runs(shelves, folders, targets)
    check_plan(shelves, folders, targets, plan)
    assert {m.folder for m in plan.moves} == {50, 51}
    assert plan.runs == {"201": (0, 2), "202": (3, 3)}
    assert [s.index for s in plan.relabelled] == [2, 3]  # the two shelves whose label changes


def test_free_room_before_a_village_is_used_by_moving_the_earlier_folders_only():
    # 202 sits on shelves 1-2 with shelf 0 free before it and 203 right after: it grows to the left.
    shelves = [PlanShelf(0, 2), PlanShelf(1, 2, "202"), PlanShelf(2, 2, "202"), PlanShelf(3, 2, "203")]
    folders = packed("202", 4, 1, 2) + packed("203", 2, 3, 2, key_base=50) + [PlanFolder(100, "202", 5)]
    targets = {"202": 5, "203": 2}
    plan = plan_runs(shelves, folders, targets)
    check_plan(shelves, folders, targets, plan)
    assert plan.runs["202"] == (0, 2) and plan.runs["203"] == (3, 3)
    assert len(plan.moves) == 4  # 202 shifts left by its new member's worth … all four move one slot


def test_not_enough_room_is_a_chinese_conflict():
    shelves = [PlanShelf(0, 2), PlanShelf(1, 2)]
    with pytest.raises(Conflict, match="架位不足"):
        plan_runs(shelves, packed("201", 4, 0, 2), {"201": 5})


def test_a_ring_of_folders_trading_places_puts_one_aside_first():
    # out of order after manual moves: household 1 sits where 2 belongs and the other way round
    shelves = [PlanShelf(0, 2, "201")]
    folders = [PlanFolder(1, "201", 1, (0, 2)), PlanFolder(2, "201", 2, (0, 1))]
    steps = order_steps([Move(1, "201", 1, (0, 2), (0, 1)), Move(2, "201", 2, (0, 1), (0, 2))], folders)
    assert [(s.move.folder, s.aside) for s in steps] == [(1, True), (2, False), (1, False)]
    plan = plan_runs(shelves, folders, {"201": 2})
    check_plan(shelves, folders, {"201": 2}, plan)
    assert len(plan.moves) == 2 and plan.steps[0].aside  # no free slot: both move, one goes aside first
    roomy = [PlanShelf(0, 3, "201")]
    plan = plan_runs(roomy, folders, {"201": 2})
    check_plan(roomy, folders, {"201": 2}, plan)
    assert len(plan.moves) == 1 and not any(step.aside for step in plan.steps)  # one stays, one goes round


def test_targets_give_growth_room_to_the_growing_village_only():
    shelves = [PlanShelf(0, 10, "201"), PlanShelf(1, 10, "202")]
    folders = packed("201", 10, 0, 10) + packed("202", 4, 1, 10, key_base=50)
    targets = run_targets(shelves, folders, grow="201", reserve=0.2)
    assert targets == {"201": 12, "202": 5}  # 202 keeps the room it has, up to the same 20 %


def test_grow_run_extends_over_free_neighbours_and_places_new_villages_between_their_neighbours():
    shelves = [PlanShelf(0, 4, "201"), PlanShelf(1, 4), PlanShelf(2, 4), PlanShelf(3, 4, "205"), PlanShelf(4, 4)]
    assert grow_run(shelves, "201", 6, ["201", "205"]) == (0, 1)
    assert grow_run(shelves, "201", 13, ["201", "205"]) is None
    assert grow_run(shelves, "203", 5, ["201", "205"]) == (1, 2)
    assert grow_run(shelves, "209", 4, ["201", "205"]) == (4, 4)
    assert grow_run(shelves, "203", 9, ["201", "205"]) is None


def test_place_in_run_keeps_shelved_folders_and_appends_new_ones():
    shelves = [PlanShelf(0, 3, "201"), PlanShelf(1, 3)]
    folders = [PlanFolder(1, "201", 1, (0, 1)), PlanFolder(2, "201", 2, (0, 3)), PlanFolder(3, "201", 3),
               PlanFolder(4, "201", 4)]
    plan = place_in_run(shelves, folders, (0, 1))
    assert plan.moves == ()
    assert [plan.targets[k] for k in (3, 4)] == [(1, 1), (1, 2)]


# --- properties over random rooms ----------------------------------------------------------------------------

VILLAGES = ("201", "202", "203")


@st.composite
def rooms(draw: st.DrawFn) -> tuple[list[PlanShelf], list[PlanFolder], dict[str, int]]:
    """A room in a valid state: villages on runs in code order, folders in household order inside them (with
    gaps), some new households not shelved yet, and targets at least the folder counts."""
    n = draw(st.integers(1, 7))
    capacities = draw(st.lists(st.integers(1, 4), min_size=n, max_size=n))
    codes = sorted(draw(st.sets(st.sampled_from(VILLAGES), min_size=1, max_size=3)))
    cuts = sorted(draw(st.lists(st.integers(0, n), min_size=2 * len(codes), max_size=2 * len(codes))))
    owners: list[str | None] = [None] * n
    folders: list[PlanFolder] = []
    key = 0
    for j, code in enumerate(codes):
        s, e = cuts[2 * j], cuts[2 * j + 1] - 1  # possibly empty run
        slots = [(i, slot) for i in range(s, e + 1) for slot in range(1, capacities[i] + 1)]
        for i in range(s, e + 1):
            owners[i] = code
        chosen = sorted(draw(st.sets(st.sampled_from(slots), max_size=len(slots)))) if slots else []
        number = 0
        for at in chosen:
            number += draw(st.integers(1, 3))
            key += 1
            folders.append(PlanFolder(key, code, number, at))
        for _ in range(draw(st.integers(0, 2))):
            number += 1
            key += 1
            folders.append(PlanFolder(key, code, number))
    shelves = [PlanShelf(i, capacities[i], owners[i]) for i in range(n)]
    counts = {c: sum(1 for f in folders if f.village == c) for c in codes}
    targets = {c: counts[c] + draw(st.integers(0, 2)) for c in codes if counts[c]}
    return shelves, folders, targets


def brute_force_moves(shelves, folders, targets) -> int | None:  # type: ignore[no-untyped-def]
    """The fewest moves over every way of giving the villages ordered, disjoint runs (None: impossible)."""
    prefix = prefix_sums(shelves)
    codes = sorted({f.village for f in folders})
    n = len(shelves)
    best: int | None = None

    def stays(code: str, low: int, high: int) -> tuple[int, int]:
        mine = sorted((f for f in folders if f.village == code), key=lambda f: f.number)
        k = len(mine)
        d = [to_global(prefix, f.at) - i for i, f in enumerate(mine) if f.at is not None]
        shelved = len(d)
        d = [x for x in d if low <= x <= high - k]
        longest = [1] * len(d)  # longest non-decreasing subsequence, O(k²)
        for b in range(len(d)):
            for a in range(b):
                if d[a] <= d[b]:
                    longest[b] = max(longest[b], longest[a] + 1)
        return shelved, max(longest, default=0)

    bounds = list(range(n + 1))
    for cut in combinations_with_replacement(bounds, 2 * len(codes)):
        runs = [(cut[2 * j], cut[2 * j + 1] - 1) for j in range(len(codes))]
        if any(e < s for s, e in runs):
            continue
        if any(prefix[e + 1] - prefix[s] < max(targets.get(c, 0), sum(f.village == c for f in folders))
               for c, (s, e) in zip(codes, runs, strict=True)):
            continue
        total = 0
        for c, (s, e) in zip(codes, runs, strict=True):
            shelved, kept = stays(c, prefix[s], prefix[e + 1])
            total += shelved - kept
        best = total if best is None else min(best, total)
    return best


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rooms())
def test_plans_lose_nothing_keep_order_respect_capacity_and_move_as_few_as_brute_force(room):
    shelves, folders, targets = room
    expected = brute_force_moves(shelves, folders, targets)
    if expected is None:
        with pytest.raises(Conflict):
            plan_runs(shelves, folders, targets)
        return
    plan = plan_runs(shelves, folders, targets)
    check_plan(shelves, folders, targets, plan)
    assert len(plan.moves) == expected


@settings(max_examples=200, deadline=None)
@given(rooms(), st.randoms(use_true_random=False))
def test_folders_out_of_order_still_get_a_valid_plan(room, rng):
    """After manual moves the shelves may be in any order: the plan is still complete, ordered and executable."""
    shelves, folders, targets = room
    spots = [f.at for f in folders if f.at is not None]
    rng.shuffle(spots)
    shuffled, it = [], iter(spots)
    for folder in folders:
        shuffled.append(PlanFolder(folder.key, folder.village, folder.number,
                                   next(it) if folder.at is not None else None))
    try:
        plan = plan_runs(shelves, shuffled, targets)
    except Conflict:
        assert brute_force_moves(shelves, folders, targets) is None
        return
    check_plan(shelves, shuffled, targets, plan)
