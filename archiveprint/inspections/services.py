"""Draw an inspection, record what is read in each folder, give up or replace a folder, sign, and put 整改 right."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from archiveprint.db import utcnow
from archiveprint.due.schedules import add_months
from archiveprint.errors import N_, Conflict, InvalidValue, Message, NotFound, joined
from archiveprint.eventlog import diff, record_event
from archiveprint.inspections import draw
from archiveprint.inspections.checklist import Checklist
from archiveprint.inspections.models import Inspection, InspectionCheck, InspectionFolder, InspectionTask
from archiveprint.inspections.queries import checklist_of, compute_report, failed_items
from archiveprint.locations.models import add_numbered
from archiveprint.locations.planner import village_order
from archiveprint.locations.queries import Place, StatusProvider, find_places
from archiveprint.register.codes import folder_code
from archiveprint.register.models import Household, Resident, Village
from archiveprint.register.populations import Population, find_population
from archiveprint.register.services import find_village, get_township

ENTITY = "inspection"
NUMBER_PREFIX = "CC"  # 抽查
SIZE_MAX = 5000
MINIMUM_MAX = 100
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)  # an inspection's day (the 动态记录 window counts back)
RESERVES_KEPT = 10  # reserves kept per village beyond its sample, in draw order, for replacing a folder later
# Statuses at draw of a folder that cannot simply be taken from its shelf (reported; the inspector may insist).
UNAVAILABLE = ("lent", "out", "missing", "unshelved", "gone")

METHOD = N_("分层随机抽样，以户档案袋为抽样单位。抽样框：{frame_text}，共 {frame} 袋（{strata} 个村(居)委会，"
            "抽样框指纹 {digest}）。样本量 {size} 袋：{size_rule}。按村(居)委会分层，按各村档案袋数比例分配，"
            "每村至少 {minimum} 袋（不足者全抽），最大余数法取整。随机种子“{seed}”：各村档案袋按户号排列，以 "
            "Python random.Random(“{seed}/村代码”) 洗牌，取前若干袋，其后依次为替补。{reading}")
SIZE_GIVEN = N_("由检查人指定 {requested} 袋")
SIZE_FROM_MARGIN = N_("由允许误差 ±{margin}、置信水平 {confidence}、p = 0.5 算得：n₀ = z²p(1−p)/e²，"
                      "经有限总体校正 n = n₀ / (1 + (n₀ − 1) / N)")
SIZE_RAISED = N_("{rule}；为使每村至少 {minimum} 袋，增至 {size} 袋")
SIZE_ALL = N_("{rule}；不少于抽样框，全部抽取")
FRAME_ALL = N_("{villages}有在档居民的户")
FRAME_POPULATION = N_("{villages}有{populations}（在档）的户")
WHOLE_TOWNSHIP = N_("全乡镇")
READ_ALL = N_("每袋阅读户内全部在档居民的档案，一袋为一份：任一份有项目不合格，该袋即不合格。")
READ_POPULATION = N_("每袋阅读户内属于{populations}的在档居民的档案，一袋为一份：任一份有项目不合格，该袋即不合格。")
NOT_OPEN = N_("抽查 {number} 已签署，不能再修改")


@dataclass
class _Stratum:
    """One village of the frame: its folders in household-number order and the records read in each."""

    code: str  # as the site names the village (Village.ref): 201, or 12 digits for a village taken over
    name: str
    households: list[tuple[int, int, str]] = field(default_factory=list)  # (number, household id, head name)
    residents: dict[int, list[str]] = field(default_factory=dict)  # household id → archive codes read


def _frame(session: Session, villages: Sequence[Village], populations: Sequence[Population],
           on: date) -> dict[str, _Stratum]:
    """The sampling frame: every household of the villages with an active resident (of the populations, when
    named), by village (as the site names it, `Village.ref`: two villages coded 201 are two strata) then household
    number."""
    stmt = (select(Village.id, Village.name, Household.id, Household.number, Household.head_name,
                   Resident.archive_code)
            .join(Household, Household.id == Resident.household_id)
            .join(Village, Village.id == Household.village_id)
            .where(Resident.status == "active"))
    if villages:
        stmt = stmt.where(Village.id.in_([village.id for village in villages]))
    if populations:
        stmt = stmt.where(or_(*(population.clause(on) for population in populations)))
    strata: dict[str, _Stratum] = {}
    refs: dict[int, str] = {}
    for village_id, name, household_id, number, head, archive_code in session.execute(
            stmt.order_by(Village.code, Village.id, Household.number, Resident.archive_code)):
        if village_id not in refs:
            village = session.get(Village, village_id)
            assert village is not None
            refs[village_id] = village.ref
        stratum = strata.setdefault(refs[village_id], _Stratum(refs[village_id], name))
        if household_id not in stratum.residents:
            stratum.households.append((number, household_id, head))
            stratum.residents[household_id] = []
        stratum.residents[household_id].append(archive_code)
    return {code: strata[code] for code in sorted(strata, key=village_order)}


def _percent(value: float) -> str:
    return f"{value * 100:g}%"


def _size(frame: int, size: int | None, margin: float | None, confidence: float) -> tuple[int, Message]:
    """The size wanted and how it was arrived at, in words."""
    if (size is None) == (margin is None):
        raise InvalidValue(N_("请给出样本量，或给出允许误差（由它计算样本量），二者选一"), field=N_("样本量"))
    draw.z_of(confidence)  # refuses a confidence out of range
    if size is not None:
        if not 1 <= size <= SIZE_MAX:
            raise InvalidValue(N_("样本量应在 1 与 {most} 之间"), params={"most": SIZE_MAX}, field=N_("样本量"),
                               value=size)
        return size, Message(SIZE_GIVEN, {"requested": size})
    assert margin is not None
    return draw.size_for_margin(margin, confidence, frame), Message(
        SIZE_FROM_MARGIN, {"margin": _percent(margin), "confidence": _percent(confidence)})


def draw_inspection(session: Session, *, seed: str, inspector: str, on: date, checklist: Checklist,
                    size: int | None = None, margin: float | None = None, confidence: float = 0.95,
                    minimum: int = 2, villages: Sequence[str] = (), populations: Sequence[str] = (),
                    replace_unavailable: bool = False, providers: Sequence[StatusProvider] = (), actor: str,
                    now: datetime | None = None) -> Inspection:
    """Draw the folders of a new inspection (numbered CC-<year>-0001): the frame of the scope, the size (given, or
    from the margin), the allocation to villages, each village's seeded shuffle. Folders lent, out or missing are
    drawn like any other and reported with their status; with `replace_unavailable` each is swapped at once for
    its village's next reserve that is on its shelf (the original is kept, marked replaced)."""
    now = now or utcnow()
    seed, inspector = seed.strip(), inspector.strip()
    if not seed or len(seed) > 64:
        raise InvalidValue(N_("请给出随机种子（1～64 个字符，如当天的日期或抽签所得的数）"), field=N_("随机种子"),
                           value=seed[:64] or None)
    if not inspector:
        raise InvalidValue(N_("请写明检查人"), field=N_("检查人"))
    if not EARLIEST <= on <= LATEST:
        raise InvalidValue(N_("检查日期应在 {first} 与 {last} 之间"), params={"first": EARLIEST, "last": LATEST},
                           field=N_("检查日期"), value=on.isoformat())
    if not 0 <= minimum <= MINIMUM_MAX:
        raise InvalidValue(N_("每村最少袋数应在 0 与 {most} 之间"), params={"most": MINIMUM_MAX},
                           field=N_("每村最少袋数"), value=minimum)
    township = get_township(session)
    chosen = [find_village(session, key) for key in dict.fromkeys(villages)]
    groups = [find_population(key) for key in dict.fromkeys(populations)]
    strata = _frame(session, chosen, groups, on)
    frame = sum(len(s.households) for s in strata.values())
    village_words = joined(v.name for v in chosen) if chosen else WHOLE_TOWNSHIP
    population_words = joined(p.name for p in groups)
    frame_text = Message(FRAME_POPULATION if groups else FRAME_ALL,
                         {"villages": village_words, "populations": population_words})
    if not frame:
        raise InvalidValue(N_("抽样范围内没有可抽查的档案袋：{scope}"), params={"scope": frame_text},
                           field=N_("抽样范围"))
    wanted, rule = _size(frame, size, margin, confidence)
    counts = draw.allocate({code: len(s.households) for code, s in strata.items()}, wanted, minimum)
    drawn = sum(counts.values())
    if wanted >= frame:
        rule = Message(SIZE_ALL, {"rule": rule})
    elif drawn > wanted:
        rule = Message(SIZE_RAISED, {"rule": rule, "minimum": minimum, "size": drawn})
    digest = draw.frame_digest({code: [number for number, _id, _head in s.households] for code, s in strata.items()})
    method = Message(METHOD, {
        "frame_text": frame_text, "frame": frame, "strata": len(strata), "digest": digest, "size": drawn,
        "size_rule": rule, "minimum": minimum, "seed": seed,
        "reading": Message(READ_POPULATION, {"populations": population_words}) if groups else Message(READ_ALL)})
    inspection = Inspection(
        scope={"villages": [v.ref for v in chosen], "populations": [p.id for p in groups]},
        scope_text=f"{village_words}；{population_words or '全部居民'}"[:300], method=method.as_values(), seed=seed,
        requested_size=size, margin=margin, confidence=confidence, minimum=minimum, size=drawn, frame=frame,
        frame_digest=digest, strata=[], checklist=checklist.as_json(), inspector=inspector[:100], inspected_on=on,
        status="open", drawn_at=now, drawn_by=actor)
    add_numbered(session, inspection, NUMBER_PREFIX, on.year)  # type: ignore[arg-type]  # numbered like 盘点, 移交
    orders = {code: draw.shuffled(seed, code, s.households) for code, s in strata.items()}
    sampled = [hid for code, order in orders.items() for _n, hid, _h in order[:counts[code]]]
    places = find_places(session, sampled, providers)
    seq = 0
    stored = []
    for code, stratum in strata.items():
        order, take = orders[code], counts[code]
        reserves = list(enumerate(order[take:], start=take + 1))
        for rank, (number, household_id, head) in enumerate(order[:take], start=1):
            seq += 1
            row = _add_folder(session, inspection, stratum, township.prefix, seq, rank, number, household_id, head,
                              places[household_id])
            if replace_unavailable and row.status_at_draw in UNAVAILABLE:
                replacement = _next_reserve(session, reserves, providers)
                if replacement is not None:
                    seq += 1
                    (r_rank, (r_number, r_id, r_head)), r_place = replacement
                    new = _add_folder(session, inspection, stratum, township.prefix, seq, r_rank, r_number, r_id,
                                      r_head, r_place)
                    _mark_replaced(row, new)
        stored.append({"village": code, "name": stratum.name, "frame": len(stratum.households), "size": take,
                       "reserves": [[rank, hid] for rank, (_n, hid, _h) in reserves[:max(RESERVES_KEPT, take)]],
                       "residents": {str(hid): stratum.residents[hid] for _r, (_n, hid, _h) in
                                     reserves[:max(RESERVES_KEPT, take)]}})
    inspection.strata = stored
    session.flush()
    record_event(session, "inspection.drawn", ENTITY, inspection.number, actor=actor, now=now, seed=seed,
                 size=drawn, frame=frame, digest=digest, scope=inspection.scope, inspector=inspection.inspector,
                 on=on, folders=[f.household_id for f in inspection.folders])
    return inspection


def _add_folder(session: Session, inspection: Inspection, stratum: _Stratum, prefix: str, seq: int, rank: int,
                number: int, household_id: int, head: str, place: Place) -> InspectionFolder:
    row = InspectionFolder(
        seq=seq, household_id=household_id, village_code=stratum.code, village_name=stratum.name, rank=rank,
        folder=folder_code(stratum.code if len(stratum.code) == 12 else prefix + stratum.code, number).display,
        head_name=head[:64],
        status_at_draw=place.status.code, status_text=place.status.text[:200],
        residents=stratum.residents[household_id], state="sampled", note="")
    inspection.folders.append(row)
    session.flush()
    return row


def _mark_replaced(row: InspectionFolder, new: InspectionFolder) -> None:
    row.state = "replaced"
    row.note = f"{row.status_text}，由替补 {new.folder} 替换"[:200]
    new.replaces_id = row.id


def _next_reserve(session: Session, reserves: list[tuple[int, tuple[int, int, str]]],
                  providers: Sequence[StatusProvider]):  # type: ignore[no-untyped-def]
    """Take the next reserve on its shelf off the front of `reserves` (those not on it are passed over and
    dropped): ((rank, (number, id, head)), place), or None when the village has none left."""
    while reserves:
        batch = reserves[:20]
        places = find_places(session, [hid for _rank, (_n, hid, _h) in batch], providers)
        for index, (rank, member) in enumerate(batch):
            if places[member[1]].status.code not in UNAVAILABLE:
                del reserves[:index + 1]
                return (rank, member), places[member[1]]
        del reserves[:len(batch)]
    return None


def _open(inspection: Inspection) -> None:
    if inspection.status != "open":
        raise Conflict(NOT_OPEN, params={"number": inspection.number}, field=N_("抽查"), value=inspection.number)


def replace_folder(session: Session, folder: InspectionFolder, *, reason: str, providers: Sequence[StatusProvider] = (),
                   actor: str, now: datetime | None = None) -> InspectionFolder:
    """The inspector does not insist on a folder (lent, missing): it is kept, marked replaced, and its village's
    next reserve in draw order that is on its shelf is added in its place. Refused once anything was read in it."""
    inspection = folder.inspection
    _open(inspection)
    if folder.state == "replaced":
        raise Conflict(N_("该档案袋已被替补替换"), field=N_("档案袋"), value=folder.folder)
    if folder.checks:
        raise Conflict(N_("该档案袋已有检查结果，不能替换"), field=N_("档案袋"), value=folder.folder)
    stratum = next(s for s in inspection.strata if s["village"] == folder.village_code)
    taken = {f.household_id for f in inspection.folders}
    members = {hid: (number, head) for number, hid, head in _households(session, [hid for _r, hid in
                                                                                   stratum["reserves"]])}
    reserves = [(rank, (members[hid][0], hid, members[hid][1])) for rank, hid in stratum["reserves"]
                if hid not in taken and hid in members]
    found = _next_reserve(session, reserves, providers)
    if found is None:
        raise Conflict(N_("{village}已没有可用的替补档案袋"), params={"village": folder.village_name},
                       field=N_("档案袋"), value=folder.folder)
    (rank, (number, household_id, head)), place = found
    stratum_view = _Stratum(folder.village_code, folder.village_name,
                            residents={household_id: stratum["residents"].get(str(household_id), [])})
    new = _add_folder(session, inspection, stratum_view, get_township(session).prefix,
                      max(f.seq for f in inspection.folders) + 1, rank, number, household_id, head, place)
    _mark_replaced(folder, new)
    if reason.strip():
        folder.note = f"{reason.strip()}；{folder.note}"[:200]
    record_event(session, "inspection.replaced", ENTITY, inspection.number, actor=actor, now=now,
                 folder=folder.folder, household=folder.household_id, replacement=new.folder, rank=rank,
                 reason=reason.strip())
    return new


def _households(session: Session, ids: Iterable[int]) -> list[tuple[int, int, str]]:
    return [(number, hid, head) for hid, number, head in session.execute(
        select(Household.id, Household.number, Household.head_name).where(Household.id.in_(list(ids))))]


def set_unavailable(session: Session, folder: InspectionFolder, *, unavailable: bool, note: str = "", actor: str,
                    now: datetime | None = None) -> InspectionFolder:
    """A folder that could not be produced for reading (未调到), or found after all. What it counts as follows the
    checklist's `unavailable` rule."""
    _open(folder.inspection)
    if folder.state == "replaced":
        raise Conflict(N_("该档案袋已被替补替换"), field=N_("档案袋"), value=folder.folder)
    if unavailable and not note.strip():
        raise InvalidValue(N_("请说明未能调阅的原因"), field=N_("说明"), value=None)
    before = {"state": folder.state, "note": folder.note}
    folder.state = "unavailable" if unavailable else "sampled"
    folder.note = note.strip()[:200] if unavailable else ""
    record_event(session, "inspection.unavailable" if unavailable else "inspection.available", ENTITY,
                 folder.inspection.number, actor=actor, now=now, folder=folder.folder, household=folder.household_id,
                 changes=diff(before, {"state": folder.state, "note": folder.note}))
    return folder


def record_check(session: Session, folder: InspectionFolder, item_key: str, *, passed: bool | None,
                 note: str = "", seen_on: date | None = None, actor: str,
                 now: datetime | None = None) -> InspectionCheck | None:
    """What was read for one item of a folder: 合格 / 不合格 with a note; for the 动态记录 item the latest date seen
    decides it (within the checklist's window before the inspection's day) and a contradicting 合格/不合格 is
    refused. Recording the same again changes nothing (None); a change is an event with before and after."""
    inspection = folder.inspection
    _open(inspection)
    if folder.state != "sampled":
        raise Conflict(N_("该档案袋未在检查中（已登记未调到或已被替换）"), field=N_("档案袋"), value=folder.folder)
    checklist = checklist_of(inspection)
    item = checklist.item(item_key)
    if item.kind != "dynamic":
        seen_on = None
    elif seen_on is not None:
        if seen_on > inspection.inspected_on:
            raise InvalidValue(N_("动态记录日期不能晚于检查日期 {day}"), params={"day": inspection.inspected_on},
                               field=N_("最近动态记录日期"), value=seen_on.isoformat())
        within = seen_on >= add_months(inspection.inspected_on, -checklist.window_months)
        if passed is not None and passed != within:
            raise InvalidValue(N_("最近动态记录日期与“有/无动态记录”矛盾：{months}个月内的记录才算有"),
                               params={"months": checklist.window_months}, field=N_("最近动态记录日期"),
                               value=seen_on.isoformat())
        passed = within
    if passed is None:
        raise InvalidValue(N_("请选择合格或不合格"), field=item.title)
    note = note.strip()[:200]
    row = next((check for check in folder.checks if check.item == item.key), None)
    before = {"passed": row.passed, "note": row.note, "seen_on": row.seen_on} if row else {}
    after = {"passed": passed, "note": note, "seen_on": seen_on}
    if row is not None and before == after:
        return None
    if row is None:
        row = InspectionCheck(item=item.key, passed=passed, note=note, seen_on=seen_on, recorded_by=actor)
        folder.checks.append(row)
    else:
        row.passed, row.note, row.seen_on, row.recorded_by = passed, note, seen_on, actor
    row.recorded_at = now or utcnow()
    session.flush()
    record_event(session, "inspection.checked", ENTITY, inspection.number, actor=actor, now=now, folder=folder.folder,
                 household=folder.household_id, item=item.key, changes=diff(before, after))
    return row


def sign_inspection(session: Session, inspection: Inspection, *, actor: str,
                    now: datetime | None = None) -> Inspection:
    """Close the reading: every folder read to the end or given up; the result is kept as signed, and each folder
    that failed becomes a 整改 task for the clerk (a folder not produced: to be found)."""
    _open(inspection)
    report = compute_report(session, inspection)
    if report.pending:
        raise Conflict(N_("还有 {count} 袋未读完：{folders}"),
                       params={"count": len(report.pending),
                               "folders": "、".join(f.folder for f in report.pending[:10])},
                       field=N_("抽查"), value=inspection.number)
    now = now or utcnow()
    checklist = checklist_of(inspection)
    for view in report.failing:
        folder = session.get(InspectionFolder, view.id)
        assert folder is not None
        failed = [item for item in failed_items(folder, checklist) if checklist.item(item[0]).qualified]
        text = "；".join(f"{title}{'：' + note if note else ''}" for _key, title, note in failed) if failed else \
            f"档案袋未能调阅，请查找归位：{folder.note}"
        session.add(InspectionTask(inspection_id=inspection.id, folder_id=folder.id, household_id=folder.household_id,
                                   items=[key for key, _title, _note in failed], text=text[:500], state="open",
                                   created_at=now))
    inspection.status, inspection.signed_at, inspection.signed_by = "signed", now, actor
    inspection.result = report.as_json()
    session.flush()
    record_event(session, "inspection.signed", ENTITY, inspection.number, actor=actor, now=now,
                 qualified=report.overall.qualified.as_json() if report.overall.qualified else None,
                 usage=report.overall.usage.as_json() if report.overall.usage else None,
                 tasks=len(report.failing))
    return inspection


def complete_task(session: Session, task_id: int, *, note: str = "", actor: str,
                  now: datetime | None = None) -> InspectionTask:
    """The clerk put a failing folder right (补填、补签、找回): the task is done, with what was done."""
    task = session.get(InspectionTask, task_id)
    if task is None:
        raise NotFound(N_("没有这项整改任务"), field=N_("整改任务"), value=task_id)
    if task.state == "done":
        raise Conflict(N_("这项整改任务已完成"), field=N_("整改任务"), value=task_id)
    task.state, task.done_at, task.done_by, task.done_note = "done", now or utcnow(), actor, note.strip()[:200]
    record_event(session, "inspection.task_done", ENTITY, task.inspection.number, actor=actor, now=now,
                 task=task.id, folder=task.folder.folder, household=task.household_id, note=task.done_note)
    return task
