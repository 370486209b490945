"""Shelf planning (pure): each village a contiguous run of shelves in code order, moving as few folders as possible.

Positions are numbered globally along the filling order: shelf i holds positions P[i] … P[i+1]-1, where P is the
running sum of capacities. A village whose k folders (in household order) get the run of shelves s…e has the
positions A = P[s] … B-1 = P[e+1]-1. Folder i, now at position g_i, can stay where it is exactly when the i folders
before it fit in front of it and the k-1-i after it fit behind it, i.e. A ≤ g_i - i ≤ B - k; and a set of folders
can all stay when g_i - i never decreases along it. So the folders that stay form the longest non-decreasing run of
d_i = g_i - i inside that window, and a dynamic programme over (village, last shelf of its run) finds the runs with
the fewest moves (then the fewest shelves changing village, i.e. labels to reprint).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from archiveprint.errors import Conflict

INF = (math.inf, math.inf)


def village_order(village: str) -> tuple[bool, str]:
    """Where a village's run comes in the filling order. A village is named by its 3-digit code, or by its 12-digit
    code when a site took it over from another township (机构撤并): the site's own villages come first in code
    order, then those taken over, by township and code."""
    return len(village) > 3, village


@dataclass(frozen=True)
class PlanShelf:
    """A shelf of the village area, in filling order: its key (shelf id), capacity and current village."""

    key: int
    capacity: int
    village: str | None = None


@dataclass(frozen=True)
class PlanFolder:
    """A folder to plan: village code and household number give its order; `at` is (shelf index, slot) or None."""

    key: int
    village: str
    number: int
    at: tuple[int, int] | None = None


@dataclass(frozen=True)
class Move:
    folder: int
    village: str
    number: int
    source: tuple[int, int] | None  # None: the folder had no position yet
    target: tuple[int, int]


@dataclass(frozen=True)
class Step:
    """One thing to do on the floor, in an order that never needs an occupied position: move (or first put a folder
    aside when a ring of folders must trade places)."""

    move: Move
    aside: bool = False  # take the folder out and keep it aside; a later step puts it at its target


@dataclass(frozen=True)
class ShelfContent:
    """What a shelf holds after the plan: the data a shelf label needs."""

    index: int
    village: str | None
    first: int | None
    last: int | None
    count: int
    changed: bool  # village or folder range differs from before


@dataclass(frozen=True)
class Plan:
    runs: dict[str, tuple[int, int]]  # village → (first shelf index, last shelf index), inclusive
    targets: dict[int, tuple[int, int]]  # folder → (shelf index, slot)
    moves: tuple[Move, ...]  # shelved folders that change position
    placed: tuple[Move, ...]  # folders that had no position
    steps: tuple[Step, ...] = ()
    shelves: tuple[ShelfContent, ...] = field(default=())

    @property
    def relabelled(self) -> tuple[ShelfContent, ...]:
        return tuple(s for s in self.shelves if s.changed)


# --- positions -----------------------------------------------------------------------------------------------

def prefix_sums(shelves: Sequence[PlanShelf]) -> list[int]:
    out = [0]
    for shelf in shelves:
        out.append(out[-1] + shelf.capacity)
    return out


def to_global(prefix: Sequence[int], at: tuple[int, int]) -> int:
    return prefix[at[0]] + at[1] - 1


def to_local(prefix: Sequence[int], position: int) -> tuple[int, int]:
    index = bisect_right(prefix, position) - 1
    return index, position - prefix[index] + 1


# --- one village ---------------------------------------------------------------------------------------------

@dataclass
class _Village:
    code: str
    folders: list[PlanFolder]  # household order
    shelved: int  # folders with a position inside the area
    keep: list[tuple[int, int]]  # (index i, d_i): the longest non-decreasing subsequence of d, candidates to stay
    keep_d: list[int]
    target: int
    owned: list[int] = field(default_factory=list)  # owned[i] = shelves before i now allocated to this village

    @property
    def k(self) -> int:
        return len(self.folders)


def _village(code: str, folders: list[PlanFolder], prefix: Sequence[int], target: int,
             shelves: Sequence[PlanShelf]) -> _Village:
    folders = sorted(folders, key=lambda f: f.number)
    n = len(shelves)
    points = []
    shelved = 0
    for i, folder in enumerate(folders):
        if folder.at is not None and 0 <= folder.at[0] < n and 1 <= folder.at[1] <= shelves[folder.at[0]].capacity:
            shelved += 1
            d = to_global(prefix, folder.at) - i
            if 0 <= d <= prefix[-1] - len(folders):  # else no run could keep it where it is
                points.append((i, d))
    keep = _longest_nondecreasing(points)
    owned = [0]
    for shelf in shelves:
        owned.append(owned[-1] + (shelf.village == code))
    return _Village(code, folders, shelved, keep, [d for _, d in keep], target, owned)


def _longest_nondecreasing(points: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Longest subsequence (by index order) whose d values never decrease; ties keep the earliest folders."""
    if all(points[j][1] <= points[j + 1][1] for j in range(len(points) - 1)):
        return points
    tails: list[int] = []  # tails[L] = smallest last d of a subsequence of length L+1
    tail_at: list[int] = []
    parent = [-1] * len(points)
    for j, (_, d) in enumerate(points):
        length = bisect_right(tails, d)
        if length == len(tails):
            tails.append(d)
            tail_at.append(j)
        else:
            tails[length], tail_at[length] = d, j
        parent[j] = tail_at[length - 1] if length else -1
    out, j = [], tail_at[-1] if tail_at else -1
    while j >= 0:
        out.append(points[j])
        j = parent[j]
    return out[::-1]


def _stays(village: _Village, low: int, high: int) -> int:
    return max(0, bisect_right(village.keep_d, high) - bisect_left(village.keep_d, low))


def _assign(village: _Village, low: int, high: int) -> list[int]:
    """Global positions for every folder of the village in the window [low, high) (high = B), order kept."""
    k = village.k
    fixed = {i: d + i for i, d in village.keep if low <= d <= high - k}
    out: list[int] = []
    next_free = low
    for i in range(k):
        position = fixed.get(i)
        if position is None:
            position = next_free
        if position < next_free or position >= high:
            raise AssertionError("planner: positions out of order")  # the window condition rules this out
        out.append(position)
        next_free = position + 1
    return out


# --- the plan ------------------------------------------------------------------------------------------------

def run_targets(shelves: Sequence[PlanShelf], folders: Iterable[PlanFolder], *, grow: str | None,
                reserve: float) -> dict[str, int]:
    """How many positions each village's run must have: its folders, plus growth room for `grow` (reserve, at
    least one), and for every other village the room it has now, up to the same reserve."""
    counts: dict[str, int] = {}
    for folder in folders:
        counts[folder.village] = counts.get(folder.village, 0) + 1
    current: dict[str, int] = {}
    for shelf in shelves:
        if shelf.village is not None:
            current[shelf.village] = current.get(shelf.village, 0) + shelf.capacity
    out = {}
    for village, k in counts.items():
        wanted = max(k + 1, math.ceil(k * (1 + reserve))) if village == grow else math.ceil(k * (1 + reserve))
        out[village] = wanted if village == grow else max(k, min(current.get(village, 0), wanted))
    return out


def plan_runs(shelves: Sequence[PlanShelf], folders: Iterable[PlanFolder], targets: Mapping[str, int]) -> Plan:
    """The plan with the fewest moves that gives every village with folders a run of at least its target."""
    prefix = prefix_sums(shelves)
    by_village: dict[str, list[PlanFolder]] = {}
    for folder in folders:
        by_village.setdefault(folder.village, []).append(folder)
    villages = [_village(code, by_village[code], prefix, max(targets.get(code, 0), len(by_village[code])), shelves)
                for code in sorted(by_village, key=village_order)]
    total = sum(v.target for v in villages)
    if total > prefix[-1]:
        raise Conflict("架位不足：需要 {total} 个位置，村档区只有 {room} 个",
                       params={"total": total, "room": prefix[-1]}, value=total - prefix[-1])
    runs = _best_runs(villages, prefix, len(shelves))
    return _build(shelves, prefix, villages, runs)


def _best_runs(villages: list[_Village], prefix: Sequence[int], n: int) -> dict[str, tuple[int, int]]:
    """Dynamic programme: cost[j][e] is the best (moves, relabelled shelves) for villages 0…j when village j's
    run ends at shelf e; earlier villages end anywhere before its start (free shelves may lie between runs)."""
    upto = [(0.0, 0.0)] * (n + 1)  # upto[x + 1]: best cost of the villages so far, all runs ending at or before x
    costs: list[list[tuple[float, float]]] = []
    starts: list[list[int]] = []
    for village in villages:
        first, span = _reach(village, prefix, n)
        own = village.owned.index(1) - 1 if village.owned[-1] else None  # the current run's first shelf
        cost = [INF] * n
        start = [-1] * n
        for e in range(n):
            end = prefix[e + 1]
            s_max = min(bisect_right(prefix, end - village.target) - 1, e)
            if s_max < 0:
                continue
            candidates = set(range(max(min(s_max, first), s_max - span), s_max + 1))
            if own is not None and own <= s_max:
                candidates.add(own)
            for s in sorted(candidates, reverse=True):
                before = upto[s]
                if before[0] == math.inf:
                    continue
                stays = _stays(village, prefix[s], end - village.k)
                kept = village.owned[e + 1] - village.owned[s]
                relabel = (e - s + 1 - kept) + (village.owned[-1] - kept)  # shelves gained + shelves given up
                candidate = (before[0] + village.shelved - stays, before[1] + relabel)
                if candidate < cost[e]:
                    cost[e], start[e] = candidate, s
        costs.append(cost)
        starts.append(start)
        upto = [INF] * (n + 1)
        for x in range(n):
            upto[x + 1] = min(upto[x], cost[x])
    if villages and upto[n][0] == math.inf:
        raise Conflict("架位不足：无法按村代码顺序给每个村分配连续的架位", value=sum(v.target for v in villages))
    runs: dict[str, tuple[int, int]] = {}
    limit = n - 1
    for j in range(len(villages) - 1, -1, -1):
        best_e = min(range(limit + 1), key=lambda e: (costs[j][e], e))
        runs[villages[j].code] = (starts[j][best_e], best_e)
        limit = starts[j][best_e] - 1
    return runs


def _reach(village: _Village, prefix: Sequence[int], n: int) -> tuple[int, int]:
    """The shelves a run must cover to keep every staying candidate: a start further left, or a run longer than
    this span past its minimum, keeps no more folders (it only takes shelves from the neighbours)."""
    if not village.keep:
        return n, 0
    low = max(0, village.keep_d[0])
    high = min(prefix[-1] - 1, village.keep_d[-1] + village.k - 1)
    first, last = to_local(prefix, low)[0], to_local(prefix, high)[0]
    return first, last - first + 1


def _build(shelves: Sequence[PlanShelf], prefix: Sequence[int], villages: list[_Village],
           runs: dict[str, tuple[int, int]]) -> Plan:
    targets: dict[int, tuple[int, int]] = {}
    moves, placed = [], []
    for village in villages:
        s, e = runs[village.code]
        for folder, position in zip(village.folders, _assign(village, prefix[s], prefix[e + 1]), strict=True):
            target = to_local(prefix, position)
            targets[folder.key] = target
            if folder.at is None:
                placed.append(Move(folder.key, folder.village, folder.number, None, target))
            elif folder.at != target:
                moves.append(Move(folder.key, folder.village, folder.number, folder.at, target))
    everyone = [f for v in villages for f in v.folders]
    return Plan(runs=runs, targets=targets, moves=tuple(moves), placed=tuple(placed),
                steps=order_steps([*moves, *placed], everyone),
                shelves=_contents(shelves, villages, runs, targets))


def _contents(shelves: Sequence[PlanShelf], villages: list[_Village], runs: dict[str, tuple[int, int]],
              targets: dict[int, tuple[int, int]]) -> tuple[ShelfContent, ...]:
    def ranges(where: Mapping[int, tuple[int, int] | None]) -> dict[int, tuple[int, int, int]]:
        out: dict[int, tuple[int, int, int]] = {}
        for village in villages:
            for folder in village.folders:
                at = where.get(folder.key)
                if at is None:
                    continue
                first, last, count = out.get(at[0], (folder.number, folder.number, 0))
                out[at[0]] = (min(first, folder.number), max(last, folder.number), count + 1)
        return out

    before = ranges({f.key: f.at for v in villages for f in v.folders})
    after = ranges(targets)
    owner = {i: code for code, (s, e) in runs.items() for i in range(s, e + 1)}
    out = []
    for index, shelf in enumerate(shelves):
        village = owner.get(index)
        first, last, count = after.get(index, (None, None, 0))
        old = before.get(index, (None, None, 0))
        changed = village != shelf.village or (first, last) != old[:2]
        out.append(ShelfContent(index, village, first, last, count, changed))
    return tuple(out)


def order_steps(moves: Sequence[Move], folders: Iterable[PlanFolder]) -> tuple[Step, ...]:
    """Order moves so each goes to a position already emptied; a ring of folders trading places is broken by
    putting one folder aside first. A target held by a folder that does not move is a bug, not a step."""
    occupant = {f.at: f.key for f in folders if f.at is not None}
    moving = {m.folder: m for m in moves}
    done: set[int] = set()
    steps: list[Step] = []
    for first in moves:
        if first.folder in done:
            continue
        chain, in_chain = [first], {first.folder}
        aside: int | None = None
        while True:
            blocker = occupant.get(chain[-1].target)
            if blocker is None:
                break
            if blocker in done:
                raise AssertionError(f"planner: two folders have the target {chain[-1].target}")
            if blocker in in_chain:
                aside = blocker
                break
            if blocker not in moving:
                raise AssertionError(f"planner: target {chain[-1].target} is held by a folder that stays")
            chain.append(moving[blocker])
            in_chain.add(blocker)
        if aside is not None:
            move = moving[aside]
            steps.append(Step(move, aside=True))
            occupant.pop(move.source, None)
        for move in reversed(chain):
            if move.source is not None and occupant.get(move.source) == move.folder:
                occupant.pop(move.source)
            occupant[move.target] = move.folder
            steps.append(Step(move))
            done.add(move.folder)
    return tuple(steps)


# --- growing one village without moving anyone ---------------------------------------------------------------

def place_in_run(shelves: Sequence[PlanShelf], folders: Sequence[PlanFolder], run: tuple[int, int]) -> Plan:
    """Positions for one village's folders inside a given run, keeping as many folders where they are as possible."""
    prefix = prefix_sums(shelves)
    code = folders[0].village if folders else ""
    village = _village(code, list(folders), prefix, len(folders), shelves)
    s, e = run
    if prefix[e + 1] - prefix[s] < village.k:
        raise Conflict("村 {code} 的架位只有 {room} 个位置，放不下 {folders} 袋",
                       params={"code": code, "room": prefix[e + 1] - prefix[s], "folders": village.k},
                       value=village.k - (prefix[e + 1] - prefix[s]))
    return _build(shelves, prefix, [village], {code: run})


def grow_run(shelves: Sequence[PlanShelf], village: str, need: int, order: Sequence[str], *,
             skip: int = 0) -> tuple[int, int] | None:
    """The village's run, extended over free neighbouring shelves until it holds `need` folders — or, for a village
    with no run yet, the first free shelves between its neighbours in code order, after leaving `skip` positions
    free for villages that come before it but have no run yet. None when there is no such room."""
    owned = [i for i, shelf in enumerate(shelves) if shelf.village == village]
    if owned:
        s, e = owned[0], owned[-1]
        if any(shelf.village not in (village, None) for shelf in shelves[s:e + 1]):
            return None  # another village's shelf sits inside the run: only a re-layout can sort that out
        room = sum(shelf.capacity for shelf in shelves[s:e + 1])
        while room < need and e + 1 < len(shelves) and shelves[e + 1].village is None:
            e += 1
            room += shelves[e].capacity
        while room < need and s > 0 and shelves[s - 1].village is None:
            s -= 1
            room += shelves[s].capacity
        return (s, e) if room >= need else None
    earlier = [c for c in order if village_order(c) < village_order(village)]
    later = [c for c in order if village_order(c) > village_order(village)]
    low = max((i for i, shelf in enumerate(shelves) if shelf.village in earlier), default=-1) + 1
    high = min((i for i, shelf in enumerate(shelves) if shelf.village in later), default=len(shelves))
    skipped = 0
    while skip > skipped and low < high and shelves[low].village is None:
        skipped += shelves[low].capacity
        low += 1
    for s in range(low, high):
        if shelves[s].village is not None:
            continue
        room, e = 0, s
        while e < high and shelves[e].village is None:
            room += shelves[e].capacity
            if room >= need:
                return s, e
            e += 1
    return None
