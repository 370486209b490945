"""Re-layout (重新排架): plan runs with planner.py, show the move list and new shelf labels, apply it as moves."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from archiveprint.errors import N_, Conflict, Message
from archiveprint.eventlog import record_event
from archiveprint.locations.models import FolderMovement, FolderPosition, Shelf
from archiveprint.locations.planner import Plan, plan_runs, run_targets, village_order
from archiveprint.locations.queries import ShelfLabel, current_layout, display_code, full_address, list_shelves
from archiveprint.locations.services import Change, apply_change, flush_or_conflict, plan_shelves, village_folders
from archiveprint.register.models import Household, Village

NOTES = {"out": "（现不在架，归还时放到新位置）", "missing": "（下落不明，找到后放到新位置）"}


@dataclass(frozen=True)
class MoveRow:
    """One line of the printed move list."""

    step: int
    folder: str
    head_name: str
    village: str
    source: str  # full address, or "" for a folder that had no position
    target: str
    state: str  # on_shelf / out / missing: a folder that is out gets its new position when it comes back
    aside: bool = False  # first take this folder out and keep it aside (a ring of folders trading places)

    def line(self) -> str:
        if self.aside:
            return f"{self.step:>4}. {self.folder} {self.head_name}：先从 {self.source} 取下暂放一旁"
        source = self.source or "（新上架）"
        note = NOTES.get(self.state, "")
        return f"{self.step:>4}. {self.folder} {self.head_name}：{source} → {self.target}{note}"

    def as_json(self) -> dict[str, object]:
        return {"step": self.step, "folder": self.folder, "head": self.head_name, "village": self.village,
                "from": self.source or None, "to": self.target, "state": self.state, "aside": self.aside}


@dataclass
class RelayoutPlan:
    village: str | None
    runs_before: dict[str, tuple[str, str, int]]  # village → (first shelf code, last shelf code, shelves)
    runs_after: dict[str, tuple[str, str, int]]
    rows: list[MoveRow]
    moved: int
    placed: int
    labels: list[ShelfLabel]  # shelves whose label changes
    fingerprint: str
    applied: bool = False
    plan: Plan | None = field(default=None, repr=False)
    shelves: list[Shelf] = field(default_factory=list, repr=False)
    households: dict[int, Household] = field(default_factory=dict, repr=False)

    def as_json(self) -> dict[str, object]:
        return {"village": self.village, "moved": self.moved, "placed": self.placed, "applied": self.applied,
                "fingerprint": self.fingerprint,
                "runs_before": {k: list(v) for k, v in self.runs_before.items()},
                "runs_after": {k: list(v) for k, v in self.runs_after.items()},
                "moves": [r.as_json() for r in self.rows], "labels": [label.as_json() for label in self.labels]}

    @property
    def capacity_before(self) -> dict[str, int]:
        """Positions in each village's run of shelves now."""
        return self._run_capacity(self.runs_before)

    @property
    def capacity_after(self) -> dict[str, int]:
        """Positions in each village's run of shelves once the plan is carried out."""
        return self._run_capacity(self.runs_after)

    def _run_capacity(self, runs: dict[str, tuple[str, str, int]]) -> dict[str, int]:
        seqs = {s.code: s.seq for s in self.shelves}
        out = {}
        for village, (first, last, _count) in runs.items():
            low, high = seqs.get(first, 0), seqs.get(last, -1)
            out[village] = sum(s.capacity for s in self.shelves if low <= s.seq <= high)
        return out

    @property
    def moved_households(self) -> list[int]:
        """The households whose folders the move list names, in its order."""
        steps = self.plan.steps if self.plan is not None else ()
        return [step.move.folder for step in steps if step.move.folder in self.households]

    def text_lines(self) -> list[str]:
        out = [f"重新排架{'（已执行）' if self.applied else '方案（预览，加 --apply 执行）'}："
               f"挪动 {self.moved} 袋，新上架 {self.placed} 袋，需更换 {len(self.labels)} 个架位标签。"]
        for code, (first, last, count) in self.runs_after.items():
            before = self.runs_before.get(code)
            was = f"（原 {before[0]} … {before[1]}，{before[2]} 层）" if before and before != (first, last, count) \
                else "" if before else "（新分配）"
            out.append(f"  村 {code}：{first} … {last}，{count} 层{was}")
        if self.rows:
            out.append("挪动清单（按此顺序操作）：")
            out += [row.line() for row in self.rows]
        if self.labels:
            out.append("需更换的架位标签：")
            out += [f"  {label.code}  {label.address}  {label.village_name} {label.range_text}".rstrip()
                    for label in self.labels]
        return out


def plan_relayout(session: Session, village: Village | None, *, reserve: float | None = None,
                  extra: Sequence[Household] = ()) -> RelayoutPlan:
    """The plan that gives `village` room to grow (its never-shelved folders included) and keeps every village in
    one run in code order, with the fewest folders moved; `extra` are folders to place as well (received from
    another site, 机构撤并). Nothing is written."""
    layout = current_layout(session)
    reserve = layout.growth_reserve if reserve is None else reserve
    shelves = list_shelves(session)
    folders, households = village_folders(session, shelves, unshelved_of=village.id if village else None,
                                          extra=extra)
    pending = _pending_counts(session, exclude={*([village.id] if village else []),
                                                *(h.village_id for h in extra)})
    planned = plan_shelves(shelves)
    code = village.ref if village else None
    targets = run_targets(planned, folders, grow=code, reserve=reserve)
    for other, count in pending.items():
        if other in targets and other != code:
            targets[other] += count
    try:
        plan = plan_runs(planned, folders, targets)
    except Conflict:
        counts: dict[str, int] = {}
        for folder in folders:
            counts[folder.village] = counts.get(folder.village, 0) + 1
        tight = {v: n + (1 if v == code else 0) for v, n in counts.items()}
        plan = plan_runs(planned, folders, tight)  # no growth room for anyone: still refuses if nothing fits
    return _describe(session, village, shelves, households, plan, layout.position_format)


def _pending_counts(session: Session, exclude: Collection[int]) -> dict[str, int]:
    """Never-shelved folders per village (they need room even when this re-layout does not shelve them)."""
    stmt = (select(Village, func.count(Household.id)).join(Household, Household.village_id == Village.id)
            .where(~exists().where(FolderMovement.household_id == Household.id)).group_by(Village.id))
    if exclude:
        stmt = stmt.where(Village.id.not_in(list(exclude)))
    return {village.ref: count for village, count in session.execute(stmt)}


def _runs(shelves: list[Shelf], owners: list[str | None]) -> dict[str, tuple[str, str, int]]:
    out: dict[str, tuple[str, str, int]] = {}
    for shelf, owner in zip(shelves, owners, strict=True):
        if owner is None:
            continue
        first, _, count = out.get(owner, (shelf.code, shelf.code, 0))
        out[owner] = (first, shelf.code, count + 1)
    return dict(sorted(out.items(), key=lambda item: village_order(item[0])))


def _describe(session: Session, village: Village | None, shelves: list[Shelf], households: dict[int, Household],
              plan: Plan, fmt: str) -> RelayoutPlan:
    positions = {p.household_id: p for p in session.scalars(
        select(FolderPosition).where(FolderPosition.household_id.in_([m.move.folder for m in plan.steps])))} \
        if plan.steps else {}
    rows = []
    for number, step in enumerate(plan.steps, start=1):
        move = step.move
        household = households[move.folder]
        source = full_address(shelves[move.source[0]], move.source[1], fmt) if move.source else ""
        target = full_address(shelves[move.target[0]], move.target[1], fmt)
        state = positions[move.folder].state if move.folder in positions else "on_shelf"
        rows.append(MoveRow(number, display_code(household), household.head_name, household.village.ref, source,
                            target, state, step.aside))
    owners_after: list[str | None] = [content.village for content in plan.shelves]
    villages = {v.ref: v for v in session.scalars(select(Village))}
    labels = []
    for content in plan.relabelled:
        shelf = shelves[content.index]
        v = villages.get(content.village) if content.village else None
        labels.append(ShelfLabel(shelf.code, shelf.address, content.village, v.name if v else "",
                                 v.full_code if v else "", content.first, content.last, content.count,
                                 shelf.capacity))
    digest = hashlib.sha256(repr((sorted(plan.runs.items()), [(s.move.folder, s.move.source, s.move.target, s.aside)
                                                              for s in plan.steps])).encode()).hexdigest()[:16]
    return RelayoutPlan(village.ref if village else None,
                        _runs(shelves, [s.village.ref if s.village else None for s in shelves]),
                        _runs(shelves, owners_after), rows, len(plan.moves), len(plan.placed), labels, digest,
                        plan=plan, shelves=shelves, households=households)


def apply_relayout(session: Session, village: Village | None, *, expected: str | None = None,
                   reserve: float | None = None, extra: Sequence[Household] = (), actor: str,
                   now: datetime) -> RelayoutPlan:
    """Carry out the plan: shelves change village, and every folder moved or placed gets a movement row, one step
    at a time in the printed order. `expected` (the fingerprint of the plan the clerk saw) must still match."""
    result = plan_relayout(session, village, reserve=reserve, extra=extra)
    if expected is not None and expected != result.fingerprint:
        raise Conflict("排架方案在预览之后有了变化，请重新预览后再执行", field="方案", value=expected)
    plan, shelves, households = result.plan, result.shelves, result.households
    assert plan is not None
    received = {h.id for h in extra}  # released in another site: their history goes on
    planned_villages = set(plan.runs)
    by_code = {v.ref: v for v in session.scalars(select(Village))}
    with session.begin_nested():
        for shelf, content in zip(shelves, plan.shelves, strict=True):
            if content.village is not None:
                shelf.village = by_code[content.village]
            elif shelf.village is not None and shelf.village.ref in planned_villages:
                shelf.village = None
        event = record_event(session, "location.relayout", "village", village.id if village else "all", actor=actor,
                             now=now, village=village.ref if village else None, moved=result.moved,
                             placed=result.placed, fingerprint=result.fingerprint)
        session.flush()
        positions = {p.household_id: p for p in session.scalars(
            select(FolderPosition).where(FolderPosition.household_id.in_(list(households))))}
        kept: dict[int, tuple[str, str]] = {}
        for step in plan.steps:
            move = step.move
            household = households[move.folder]
            position = positions.get(move.folder)
            if step.aside:
                assert position is not None
                kept[move.folder] = (position.state, position.holder)
                session.delete(position)
                positions.pop(move.folder)
                flush_or_conflict(session, N_("重新排架"))
                continue
            state, holder = kept.pop(move.folder, (position.state, position.holder) if position else ("on_shelf", ""))
            kind = "relayout" if move.source is not None else "shelve"
            change = Change(kind, shelves[move.target[0]], move.target[1], state, holder,
                            f"重新排架 {result.fingerprint}")
            positions[move.folder] = apply_change(  # type: ignore[assignment]
                session, household, change, event=event, actor=actor, now=now, position=position,
                first=move.source is None and move.folder not in received)  # else: never shelved
            flush_or_conflict(session, Message("重新排架（{folder}）", {"folder": display_code(household)}))
    result.applied = True
    return result
