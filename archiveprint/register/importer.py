"""Import a provincial-platform register export: check every row, then add or update residents all-or-nothing."""

from __future__ import annotations

import gc
import hashlib
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from archiveprint.config import ImportLimits
from archiveprint.db import utcnow
from archiveprint.errors import N_, ArchiveprintError, Conflict, InvalidValue, Message, Problem
from archiveprint.eventlog import Event, record_event
from archiveprint.register import services
from archiveprint.register.bulk import insert_rows
from archiveprint.register.codes import format_code
from archiveprint.register.findings import FindingGroup, group
from archiveprint.register.models import (
    Household,
    ImportRun,
    PopulationTag,
    Resident,
    Township,
    Village,
    resident_tags,
)
from archiveprint.register.names import SEX_CODES, pinyin_initials
from archiveprint.register.rowcheck import ImportRow, MissingVillage, Normalised, ReviewFlag, RowChecker
from archiveprint.register.servicedates import SERVICE_DATES
from archiveprint.register.sources import FIELD_LABELS, field_for_label, header_key, open_table
from archiveprint.register.text import to_halfwidth
from archiveprint.sites.models import Site, working_site

log = logging.getLogger(__name__)
CHUNK_ROWS = 1000
SQLITE_CACHE_KIB = 64 * 1024
LABELS = {"name": "姓名", "sex": "性别", "birth_date": "出生日期", "id_number": "身份证号", "phone": "联系电话",
          "address": "现住址", "registered_on": "建档日期", "relation_to_head": "与户主关系",
          **{field: str(label) for field, label in SERVICE_DATES.items()}}
HOUSEHOLD_LABEL = "所在户"
TAGS_LABEL = "人群分类"
REVIEW_LABEL = "待核实"
# Every change to the register writes one of these events (the rest — lending, locations — do not touch what an
# import compares). Prefixes, so a kind added later is counted too.
REGISTER_EVENT_KINDS = ("resident.%", "household.%", "village.%", "township.%")
SHOWN_TIMEZONE = "Asia/Shanghai"  # the township's wall clock, as the web pages show times


@dataclass
class RowChange:
    """One resident the import changes, with each changed field's old and new value as the clerk reads them."""

    archive_code: str
    name: str
    fields: dict[str, tuple[str, str]]


@dataclass(frozen=True)
class FlaggedRow:
    """A row imported with a questionable value (待核实), the resident it went to and the flag."""

    row: int
    archive_code: str
    name: str
    flag: ReviewFlag

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row, "archive_code": self.archive_code, "name": self.name, **self.flag.as_dict()}


@dataclass(frozen=True)
class PriorImport:
    """The applied import run a file was recognised as, when it was not read again."""

    run: int
    at: datetime  # UTC
    filename: str
    actor: str

    @property
    def shown_at(self) -> str:
        return self.at.replace(tzinfo=UTC).astimezone(ZoneInfo(SHOWN_TIMEZONE)).strftime("%Y-%m-%d %H:%M")


@dataclass
class ImportReport:
    """What an import found and did; with any problem the whole file is left unwritten."""

    filename: str
    rows: int = 0
    accepted: int = 0
    refused: int = 0
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)
    changes: list[RowChange] = field(default_factory=list)
    new_villages: list[tuple[str, str]] = field(default_factory=list)
    normalised: list[Normalised] = field(default_factory=list)  # values rewritten on the way in
    flagged: list[FlaggedRow] = field(default_factory=list)  # imported with the row, flagged 待核实
    missing_villages: list[MissingVillage] = field(default_factory=list)  # unregistered villages the file uses
    applied: bool = False
    dry_run: bool = False
    already: PriorImport | None = None  # recognised as already applied: not read, nothing written

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem_groups(self) -> list[FindingGroup]:
        """Problems that share a cause (column and reason) together: 705 rows of one unregistered village are one."""
        return group((p.column, p.reason, p.row, p.value, "") for p in self.problems)

    def normalised_groups(self) -> list[FindingGroup]:
        return group((n.column, n.kind, n.row, n.old, n.new) for n in self.normalised)

    def flagged_groups(self) -> list[FindingGroup]:
        return group((f.flag.column, f.flag.reason, f.row, f.flag.value, f"{format_code(f.archive_code)} {f.name}")
                     for f in self.flagged)

    @property
    def already_text(self) -> str:
        if self.already is None:
            return ""
        return f"此文件已于 {self.already.shown_at} 导入（第 {self.already.run} 次导入），未作改动"

    def summary(self) -> str:
        if self.already is not None:
            return (f"{self.filename}：{self.already_text}\n"
                    f"登记册自那次导入后没有变化，未重新读取（共{self.rows}行）")
        counts = (f"{self.filename}：共{self.rows}行，接受{self.accepted}，拒绝{self.refused}；"
                  f"新增{self.added}，变更{self.changed}，未变{self.unchanged}")
        villages = "、".join(f"{code} {name}" for code, name in self.new_villages)
        if self.problems:
            outcome = f"发现{len(self.problems)}个问题，整份文件未写入"
        elif self.dry_run:
            outcome = "预览，未写入" + (f"（将登记新村(居)委会：{villages}）" if villages else "")
        elif self.applied:
            outcome = "已写入" + (f"（新登记村(居)委会：{villages}）" if villages else "")
        else:
            outcome = "没有需要写入的变化"
        return f"{counts}\n{outcome}"

    def as_json(self) -> dict[str, object]:
        return {"rows": self.rows, "accepted": self.accepted, "refused": self.refused, "added": self.added,
                "changed": self.changed, "unchanged": self.unchanged,
                "errors": [problem.as_dict() for problem in self.problems],
                "normalised": [note.as_dict() for note in self.normalised],
                "flagged": [flagged.as_dict() for flagged in self.flagged],
                "applied": self.applied, "dry_run": self.dry_run,
                "already_imported": None if self.already is None else {
                    "run": self.already.run, "at": self.already.at.isoformat(), "filename": self.already.filename}}


def parse_mapping(pairs: Iterable[str]) -> dict[str, str]:
    """`--map 居民姓名=姓名` pairs as {file header: standard label}, so odd exports need no editing."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        source, sep, target = to_halfwidth(pair).partition("=")
        if not sep or not source.strip() or not target.strip():
            raise InvalidValue("列映射应写成“文件中的列名=标准列名”，例如 居民姓名=姓名", field="列映射", value=pair)
        target_field = field_for_label(target)
        if target_field is None:
            raise InvalidValue("“{target}”不是可导入的字段，可用：{fields}",
                               params={"target": target.strip(), "fields": "、".join(FIELD_LABELS.values())},
                               field="列映射", value=pair)
        mapping[source.strip()] = FIELD_LABELS[target_field]
    return mapping


def _column_mapping(mapping: dict[str, str] | None) -> dict[str, str]:
    columns: dict[str, str] = {}
    for source, target in (mapping or {}).items():
        target_field = field_for_label(target)
        if target_field is None or not header_key(source):
            raise InvalidValue("列映射“{source}={target}”无效",
                               params={"source": source, "target": target}, field="列映射", value=target)
        columns[header_key(source)] = target_field
    return columns


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def register_event_count(session: Session) -> int:
    """How many register events the database holds (visible to this transaction).

    Events are append-only (the database refuses UPDATE and DELETE), so an equal count later means no register
    change was committed in between, including one that began before an import and committed after it.
    """
    kinds = or_(*(Event.kind.like(pattern) for pattern in REGISTER_EVENT_KINDS))
    return session.scalar(select(func.count()).select_from(Event).where(kinds)) or 0


def find_unchanged_import(session: Session, digest: str, columns: dict[str, str]) -> ImportRun | None:
    """The applied run of this very file (same sha256, same column mapping) if the register has not changed since.

    Not changed: it is the last applied import of all, and the register events number what they did right after
    it. Reading the file again could then only find every row unchanged. Runs from before this was recorded
    (register_events None) are never matched.
    """
    run = session.scalars(select(ImportRun).where(ImportRun.sha256 == digest)
                          .order_by(ImportRun.id.desc()).limit(1)).first()
    if run is None or run.register_events is None or (run.mapping or {}) != columns:
        return None
    if session.scalar(select(ImportRun.id).where(ImportRun.id > run.id).limit(1)) is not None:
        return None
    return run if register_event_count(session) == run.register_events else None


def other_sites(session: Session, own: Township, held: Iterable[Village] = ()) -> dict[str, str]:
    """The townships other sites issue codes for (their 9-digit prefix → the site's name), and the villages of this
    site's townships (its own and those it took villages over from) that another site keeps (12-digit code → that
    site's name): read from the tables, so a site's import can name the site a stray code belongs to without
    seeing anything of it."""
    townships, sites, villages = Township.__table__, Site.__table__, Village.__table__
    rows = session.execute(select(townships.c.county_code, townships.c.code, sites.c.name)
                           .join(sites, sites.c.township_id == townships.c.id).where(townships.c.id != own.id))
    out = {county + code: name for county, code, name in rows}
    site_id = working_site(session)
    if site_id is not None:
        mine = {own.id, *(village.township_id for village in held)}
        out |= {county + township + code: name for county, township, code, name in session.execute(
            select(townships.c.county_code, townships.c.code, villages.c.code, sites.c.name)
            .join(villages, villages.c.township_id == townships.c.id)
            .join(sites, sites.c.id == villages.c.site_id)
            .where(villages.c.township_id.in_(mine), villages.c.site_id != site_id))}
    return out


def held_villages(session: Session, own: Township) -> list[Village]:
    """The villages of other townships the working site keeps (taken over from another site, 机构撤并)."""
    if working_site(session) is None:
        return []  # not kept to a site: one site, whose villages are all of its own township
    return list(session.scalars(select(Village).where(Village.township_id != own.id)
                                .options(selectinload(Village.township))))


def import_file(session: Session, path: Path, *, actor: str, dry_run: bool = False,
                mapping: dict[str, str] | None = None, add_villages: bool = False, today: date,
                progress: Callable[[int], None] | None = None, filename: str | None = None,
                force: bool = False, limits: ImportLimits | None = None) -> ImportReport:
    """Check every row of an export and apply it inside a savepoint that is kept only if no row has a problem.

    The caller owns the transaction; a dry run or a file with problems leaves nothing for it to commit. A file
    already applied into a register unchanged since (find_unchanged_import) is not read again unless `force`:
    the report says when it was imported, and every row counts as unchanged. A file over the `limits` is refused
    before its rows are read (FileTooLarge).
    """
    name = filename or path.name
    report = ImportReport(filename=name, dry_run=dry_run)
    columns = _column_mapping(mapping)
    township = services.get_township(session)
    try:
        digest = file_sha256(path)
    except OSError:
        raise ArchiveprintError("无法读取文件“{name}”", params={"name": name}) from None
    prior = None if force else find_unchanged_import(session, digest, columns)
    if prior is not None:
        report.already = PriorImport(run=prior.id, at=prior.at, filename=prior.filename, actor=prior.actor)
        report.rows = report.accepted = report.unchanged = prior.rows
        log.info("import: same file as import run %d and no register change since: not read", prior.id)
        return report
    with open_table(path, name=name, mapping=columns, limits=limits) as table, _sqlite_cache(session), \
            _gc_paused():
        held = held_villages(session, township)
        checker = RowChecker(table.columns, county=township.county_code, township=township.code,
                             villages={v.code: v.name for v in township.villages}, add_villages=add_villages,
                             today=today, other_sites=other_sites(session, township, held),
                             held={v.full_code: v.name for v in held})
        savepoint = session.begin_nested()
        try:
            applier = _Applier(session, township, checker, present=frozenset(table.columns), actor=actor,
                               report=report, held=held)
            chunk: list[ImportRow] = []
            for number, values in table.rows:
                row, problems = checker.check(number, values)
                if row is None and not problems:
                    continue
                report.rows += 1
                report.problems.extend(problems)
                if row is not None:
                    chunk.append(row)
                if report.rows % CHUNK_ROWS == 0:
                    applier.apply(chunk)
                    chunk = []
                    if progress:
                        progress(report.rows)
            applier.apply(chunk)
            applier.finish()
            if progress:
                progress(report.rows)
            report.problems.sort(key=lambda problem: problem.row)
            refused = {problem.row for problem in report.problems}
            report.refused = len(refused)
            report.normalised = [note for note in checker.normalised if note.row not in refused]
            report.flagged = [flagged for flagged in report.flagged if flagged.row not in refused]
            report.missing_villages = checker.missing_villages()
            report.accepted = report.rows - report.refused
            keep = report.ok and not dry_run and bool(report.added or report.changed or report.new_villages)
            if keep:
                session.flush()  # the ORM-added events too, before they are counted
                session.add(ImportRun(actor=actor, filename=name[:255], sha256=digest, rows=report.rows,
                                      added=report.added, changed=report.changed, unchanged=report.unchanged,
                                      mapping=columns, register_events=register_event_count(session)))
                session.flush()
                savepoint.commit()
                report.applied = True
            else:
                savepoint.rollback()
        except IntegrityError:
            savepoint.rollback()
            raise Conflict("写入时数据库发现重复的档案编号或身份证号（可能有人正在同时登记），整份文件未写入，"
                           "请稍后重试") from None
        except BaseException:
            if savepoint.is_active:
                savepoint.rollback()
            raise
    # Counts only: rows of a register export are personal data and never go to the log.
    log.info("import: rows=%d added=%d changed=%d unchanged=%d problems=%d applied=%s", report.rows,
             report.added, report.changed, report.unchanged, len(report.problems), report.applied)
    return report


_gc_lock = threading.Lock()
_gc_pausers = 0  # imports running with the cyclic garbage collector paused
_gc_was_enabled = False


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while the rows are read, checked and written.

    An import makes millions of short-lived objects and keeps tens of thousands (loaded households, the caches):
    the collector, set off by the allocations, then walks every one of them again and again. For 100,000 rows
    that was about 1.5 of 11 CPU seconds. Objects without cycles are still freed at once (reference counting);
    the few cycles made meanwhile wait until the last running import ends and the collector resumes.
    """
    global _gc_pausers, _gc_was_enabled
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_was_enabled:
                gc.enable()


@contextmanager
def _sqlite_cache(session: Session) -> Iterator[None]:
    """A large import dirties more pages than SQLite's default 2 MB cache holds, and spilling them in the middle
    of the transaction makes a 100k-row import about half again as slow; widen the cache meanwhile."""
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    connection = session.connection()
    before = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size = {int(before or -2000)}")


# The statements every chunk sends, built once: building them coerced each of a thousand values every time.
_RESIDENTS = select(Resident).where(Resident.archive_code.in_(bindparam("codes", expanding=True)))
_RESIDENTS_WITH_TAGS = _RESIDENTS.options(selectinload(Resident.tags))
_HOLDERS = select(Resident.id_number, Resident.archive_code).where(
    Resident.id_number.in_(bindparam("ids", expanding=True)))
_HELD_ANYWHERE = select(Resident.__table__.c.id_number).where(  # the table's: no scope criteria
    Resident.__table__.c.id_number.in_(bindparam("ids", expanding=True)))
_RESIDENT_IDS = select(Resident.archive_code, Resident.id).where(
    Resident.archive_code.in_(bindparam("codes", expanding=True)))
_HOUSEHOLDS_BY_KEY = select(Household).where(Household.match_key.in_(bindparam("keys", expanding=True)),
                                             Household.village_id.in_(bindparam("villages", expanding=True)))


@dataclass
class _Release:
    """An ID number taken from a resident whose own row has not come yet; that row must give it a new one."""

    id_number: str
    row: int
    outcome: str = ""


class _Applier:
    """Writes checked rows one chunk at a time, with a few IN queries per chunk and caches keyed by ids."""

    def __init__(self, session: Session, township: Township, checker: RowChecker, *, present: frozenset[str],
                 actor: str, report: ImportReport, held: Iterable[Village] = ()) -> None:
        self.session = session
        self.checker = checker
        self.present = present
        self.actor = actor
        self.report = report
        self.villages: dict[str, Village] = {village.code: village for village in township.villages}
        self.villages_by_id: dict[int, Village] = {village.id: village for village in township.villages}
        self.village_ids: dict[str, int] = {village.code: village.id for village in township.villages}  # per row
        for village in held:  # villages of another township this site keeps: by their 12-digit code (ImportRow)
            self.villages[village.full_code] = village
            self.villages_by_id[village.id] = village
            self.village_ids[village.full_code] = village.id
        self.tags: dict[str, PopulationTag] = {tag.name: tag for tag in session.scalars(select(PopulationTag))}
        self.household_ids: dict[tuple[int, str], int] = {}  # (village id, match key) → household id
        self.created: set[int] = set()  # households created by this import
        self.released: dict[str, _Release] = {}  # archive code → the ID number taken from it
        self.releasing_rows: dict[int, _Release] = {}  # row number → the release it caused, until applied
        self.freed: set[str] = set()  # ID numbers given up by residents not flushed yet
        self.new_residents: list[dict[str, object]] = []
        self.new_tags: list[list[PopulationTag]] = []

    def apply(self, rows: list[ImportRow]) -> None:
        if not rows:
            return
        for segment in dict.fromkeys(row.village for row in rows):  # in the order the file names them
            if segment not in self.villages:
                self._ensure_village(segment)
        stmt = _RESIDENTS_WITH_TAGS if "tags" in self.present else _RESIDENTS
        existing = {resident.archive_code: resident for resident in self.session.scalars(
            stmt, {"codes": [row.code.value for row in rows]})}
        id_numbers = [row.id_number for row in rows if row.id_number]
        holders: dict[str, str] = {}
        elsewhere: set[str] = set()
        if id_numbers:
            holders = {id_number: code for id_number, code in self.session.execute(_HOLDERS, {"ids": id_numbers})}
            # ID numbers are unique in the whole installation: one held out of this scope (another site's) is
            # refused, without a word of whose it is.
            unseen = [id_number for id_number in id_numbers if id_number not in holders]
            elsewhere = set(self.session.scalars(_HELD_ANYWHERE, {"ids": unseen})) if unseen else set()
        targets, households = self._households(rows, existing)
        top_serial: dict[str, int] = {}
        freed = self.freed
        for row in rows:
            id_number = row.id_number
            if id_number in elsewhere:
                self._problem(row, "id_number", id_number, services.ID_NUMBER_TAKEN)
                continue
            # Most rows' numbers are held by nobody else (or by their own record): no need to look further.
            if id_number and (holders.get(id_number, row.code.value) != row.code.value or id_number in freed) \
                    and not self._id_number_free(row, holders, existing):
                continue
            resident = existing.get(row.code.value)
            household = targets.get(row.number)
            if resident is None:
                if household is None:
                    self._problem(row, "household_no", "", N_("无法确定所在户：户号和户主姓名都为空，且本人不是户主"))
                    continue
                outcome = self._add(row, household)
            else:
                outcome = self._update(row, resident, household, households, holders)
            release = self.releasing_rows.pop(row.number, None)
            if release is not None:
                release.outcome = outcome
            top_serial[row.village] = max(top_serial.get(row.village, 0), row.code.serial)
        self._insert_new()
        for segment, serial in top_serial.items():
            services.reserve_serial(self.session, self.villages[segment], serial)
        self.session.flush()
        self.freed.clear()

    def _insert_new(self) -> None:
        """Bulk INSERTs (executemany) instead of one ORM object per row: several times faster on 100k rows.

        The event rows are the same `resident.registered` rows that services.register_resident writes.
        """
        if not self.new_residents:
            return
        self.session.flush()  # new tags first
        insert_rows(self.session, Resident.__table__, self.new_residents)
        tagged = {str(values["archive_code"]): tags for values, tags in zip(self.new_residents, self.new_tags,
                                                                           strict=True) if tags}
        if tagged:
            ids = self.session.execute(_RESIDENT_IDS, {"codes": list(tagged)}).all()
            insert_rows(self.session, resident_tags, [{"resident_id": resident_id, "tag_id": tag.id}
                                                      for code, resident_id in ids for tag in tagged[code]])
        insert_rows(self.session, Event.__table__, [
            {"entity_id": values["archive_code"],
             "data": {"household": values["household_id"], "name": values["name"],
                      **({"review": _review_lines(values["review_flags"])} if values["review_flags"] else {})}}
            for values in self.new_residents],
            same={"occurred_at": utcnow(), "actor": self.actor, "kind": "resident.registered",
                  "entity_type": "resident"})
        self.new_residents = []
        self.new_tags = []

    def finish(self) -> None:
        """ID numbers taken from residents whose rows never gave them a new one are duplicates after all."""
        for code, release in self.released.items():
            self._problem_at(release.row, "id_number", release.id_number,
                             Message("身份证号已属于另一份档案 {code}，本文件没有为该档案更正身份证号",
                                     {"code": format_code(code)}))
            if release.outcome:
                setattr(self.report, release.outcome, getattr(self.report, release.outcome) - 1)

    # --- problems found against the database ------------------------------------------------------------------

    def _problem(self, row: ImportRow, field_name: str, value: str, reason: str) -> None:
        self._problem_at(row.number, field_name, value, reason)

    def _problem_at(self, number: int, field_name: str, value: str, reason: str) -> None:
        self.report.problems.append(Problem(number, self.checker.header(field_name), value, reason))

    def _id_number_free(self, row: ImportRow, holders: dict[str, str], existing: dict[str, Resident]) -> bool:
        """An ID number held by another record is refused, unless that record's own row comes later (a swap)."""
        if not row.id_number:
            return True
        holder = holders.get(row.id_number)
        if holder is None or holder == row.code.value:
            if row.id_number in self.freed:
                self.session.flush()  # the old holder's UPDATE must reach the database first
                self.freed.clear()
            return True
        first = self.checker.seen_codes.get(holder)
        if first is not None and first < row.number:
            self._problem(row, "id_number", row.id_number,
                          Message("身份证号已属于另一份档案 {holder}（本文件第{first}行的该档案未能导入）",
                                  {"holder": format_code(holder), "first": first}))
            return False
        resident = existing.get(holder) or self.session.scalar(select(Resident).where(Resident.archive_code == holder))
        if resident is None:  # pragma: no cover - the holder was read a moment ago
            return False
        self.released[holder] = self.releasing_rows[row.number] = _Release(row.id_number, row.number)
        services.update_resident(self.session, resident, {"id_number": None}, actor=self.actor)
        self.session.flush()
        del holders[row.id_number]
        return True

    # --- villages, households, tags ------------------------------------------------------------------------------

    def _ensure_village(self, segment: str) -> None:
        name, _first = self.checker.new_villages[segment]
        village = services.add_village(self.session, segment, name, actor=self.actor)
        self.villages[village.code] = village
        self.villages_by_id[village.id] = village
        self.village_ids[village.code] = village.id
        self.report.new_villages.append((village.code, village.name))

    def _key(self, row: ImportRow) -> str | None:
        """户号 when given, else head of household + address; None when the row says nothing about it."""
        head = row.head_name or (row.name if row.is_head else "")
        if not row.household_no and not head:
            return None
        return services.household_key(row.household_no, head, row.address or "")

    def _households(self, rows: list[ImportRow], existing: dict[str, Resident]
                    ) -> tuple[dict[int, Household], dict[int, Household]]:
        """Each row's household (found by key or created), plus the households loaded, by id."""
        keys: dict[int, tuple[int, str]] = {}
        village_ids = self.village_ids
        for row in rows:
            key = self._key(row)
            if key is not None:
                keys[row.number] = (village_ids[row.village], key)
        wanted = {key for key in keys.values() if key not in self.household_ids}
        ids = {self.household_ids[key] for key in keys.values() if key in self.household_ids}
        ids |= {resident.household_id for resident in existing.values()}
        conditions = []
        if ids:
            conditions.append(Household.id.in_(ids))
        if wanted:
            # Both columns, so the (village_id, match_key) unique index serves the lookup.
            conditions.append(and_(Household.village_id.in_({village for village, _key in wanted}),
                                   Household.match_key.in_({key for _village, key in wanted})))
        by_id: dict[int, Household] = {}
        if conditions:
            by_id = {household.id: household for household in self.session.scalars(
                select(Household).where(or_(*conditions)))}
        for household in by_id.values():
            self.household_ids[(household.village_id, household.match_key)] = household.id
        missing: dict[tuple[int, str], ImportRow] = {}
        for row in rows:
            key = keys.get(row.number)
            if key is not None and key not in self.household_ids and key not in missing:
                missing[key] = row
        if missing:
            self._create_households(missing, by_id)
        return {number: by_id[self.household_ids[key]] for number, key in keys.items()}, by_id

    def _create_households(self, missing: dict[tuple[int, str], ImportRow], by_id: dict[int, Household]) -> None:
        """One numbers UPDATE per village, one executemany INSERT, one SELECT back, one executemany of events.

        Rows and events are those services.create_household writes; an INSERT … RETURNING in parameter order
        would run row by row on SQLite.
        """
        per_village: dict[int, list[tuple[str, ImportRow]]] = defaultdict(list)
        for (village_id, key), row in missing.items():
            per_village[village_id].append((key, row))
        values: list[dict[str, object]] = []
        for village_id, wanted in per_village.items():
            numbers = services.allocate_household_numbers(self.session, self.villages_by_id[village_id], len(wanted))
            for number, (key, row) in zip(numbers, wanted, strict=True):
                values.append({"village_id": village_id, "number": number, "external_no": row.household_no or None,
                               "match_key": key, "head_name": row.head_name or (row.name if row.is_head else ""),
                               "address": row.address or ""})
        insert_rows(self.session, Household.__table__, values)
        created = self.session.scalars(_HOUSEHOLDS_BY_KEY, {"keys": list({key for _village, key in missing}),
                                                            "villages": list(per_village)}).all()
        inserted = {(value["village_id"], value["match_key"]): value for value in values}
        now = utcnow()
        events = []
        for household in created:
            key = (household.village_id, household.match_key)
            value = inserted.get(key)
            if value is None:
                continue  # same key in another of this chunk's villages, created earlier
            # The values just inserted, not the loaded object's attributes (the same, read faster).
            events.append({"entity_id": str(household.id),
                           "data": {"village": self.villages_by_id[key[0]].code, "number": value["number"],
                                    "head_name": value["head_name"], "external_no": value["external_no"]}})
            self.household_ids[key] = household.id
            self.created.add(household.id)
            by_id[household.id] = household
        insert_rows(self.session, Event.__table__, events, same={"occurred_at": now, "actor": self.actor,
                                                                 "kind": "household.created",
                                                                 "entity_type": "household"})

    def _tag_rows(self, names: list[str]) -> list[PopulationTag]:
        rows = []
        for name in names:
            tag = self.tags.get(name)
            if tag is None:
                tag = self.tags[name] = PopulationTag(name=name)
                self.session.add(tag)
            rows.append(tag)
        return rows

    def _follow_head(self, row: ImportRow, household: Household) -> None:
        """The household's head name follows the member marked 户主/本人."""
        if not row.is_head or household.head_name == row.name:
            return
        old, household.head_name = household.head_name, row.name
        if household.id not in self.created:
            record_event(self.session, "household.updated", "household", household.id, actor=self.actor,
                         changes={"head_name": [old, row.name]})

    def _describe(self, household: Household | None) -> str:
        if household is None:
            return ""
        head = f"（户主 {household.head_name}）" if household.head_name else ""
        return f"{self.villages_by_id[household.village_id].name}第{household.number}户{head}"

    # --- residents -----------------------------------------------------------------------------------------------

    def _add(self, row: ImportRow, household: Household) -> str:
        """Queue a new resident; `_insert_new` writes the chunk's new residents, tags and events in bulk."""
        self.new_residents.append({
            "archive_code": row.code.value, "village_id": self.village_ids[row.village], "serial": row.code.serial,
            "household_id": household.id, "relation_to_head": row.relation or "", "name": row.name,
            "name_initials": pinyin_initials(row.name), "sex": row.sex or "0", "birth_date": row.birth_date,
            "id_number": row.id_number, "phone": row.phone or "", "address": row.address or "",
            "registered_on": row.registered_on, "status": "active", "due_date": row.due_date,
            "delivery_date": row.delivery_date, "tb_treatment_start": row.tb_treatment_start,
            "review_flags": [flag.as_dict() for flag in row.flags] if row.flags else None,
        })
        if row.flags:
            self._report_flags(row)
        self.new_tags.append(self._tag_rows(row.tags) if row.tags else [])
        if row.is_head:
            self._follow_head(row, household)
        self.report.added += 1
        return "added"

    def _report_flags(self, row: ImportRow) -> None:
        self.report.flagged.extend(FlaggedRow(row.number, row.code.value, row.name, flag) for flag in row.flags)

    def _update(self, row: ImportRow, resident: Resident, household: Household | None,
                households: dict[int, Household], holders: dict[str, str]) -> str:
        """Compare the fields the file gives with the stored ones and apply the differences through services."""
        release = self.released.pop(resident.archive_code, None)
        wanted = {"name": row.name, "sex": row.sex, "birth_date": row.birth_date, "id_number": row.id_number,
                  "phone": row.phone, "address": row.address, "registered_on": row.registered_on,
                  "relation_to_head": row.relation, "due_date": row.due_date, "delivery_date": row.delivery_date,
                  "tb_treatment_start": row.tb_treatment_start}
        changes: dict[str, object] = {}
        fields: dict[str, tuple[str, str]] = {}
        for attr, new in wanted.items():
            if new is not None and getattr(resident, attr) != new:
                changes[attr] = new  # a None means the file does not say: a blank never erases an ID or a date
        if release is not None:
            # Its number went to an earlier row; report the change from the number it had before this import.
            fields[LABELS["id_number"]] = (release.id_number, row.id_number or "")
        elif row.id_number is not None and "id_number" in changes:
            stored = resident.id_number
            if stored and holders.get(stored) == resident.archive_code:
                del holders[stored]
                self.freed.add(stored)
        for attr, new in changes.items():
            if attr != "id_number":
                fields[LABELS[attr]] = (_show(attr, getattr(resident, attr)), _show(attr, new))
            elif release is None:
                fields[LABELS[attr]] = (_show(attr, resident.id_number), _show(attr, new))
        current = households.get(resident.household_id)
        if household is not None and household.id != resident.household_id:
            fields[HOUSEHOLD_LABEL] = (self._describe(current), self._describe(household))
            relation = str(changes.pop("relation_to_head", resident.relation_to_head))
            services.move_resident(self.session, resident, household, relation_to_head=relation, actor=self.actor)
            current = household
        if changes:
            services.update_resident(self.session, resident, changes, actor=self.actor)
        if row.tags is not None:
            before = resident.tag_names
            if sorted(before) != sorted(row.tags):
                resident.tags = self._tag_rows(row.tags)
                # The same event services.set_tags writes, without its per-call SELECT of the tag table.
                record_event(self.session, "resident.tags_changed", "resident", resident.archive_code,
                             actor=self.actor, changes={"tags": [before, row.tags]})
                fields[TAGS_LABEL] = ("、".join(before), "、".join(row.tags))
        if current is not None:
            self._follow_head(row, current)
        if row.flags:
            self._report_flags(row)
            added = services.flag_for_review(self.session, resident, [flag.as_dict() for flag in row.flags],
                                             actor=self.actor)
            if added:
                fields[REVIEW_LABEL] = ("", "；".join(f"{flag['column']}：{flag['reason']}" for flag in added))
        if not fields:
            self.report.unchanged += 1
            return "unchanged"
        self.report.changes.append(RowChange(resident.archive_code, row.name, fields))
        self.report.changed += 1
        return "changed"


def _review_lines(flags: object) -> list[str]:
    """待核实 flags as the resident's history shows them (the same text services.flag_for_review logs)."""
    return [f"{flag['column']}：{flag['reason']}（{flag['value']}）" for flag in flags]  # type: ignore[attr-defined]


def _show(attr: str, value: object) -> str:
    if value is None:
        return ""
    if attr == "sex":
        return SEX_CODES.get(str(value), str(value))
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def write_error_report(report: ImportReport, target: Path | BinaryIO) -> None:
    """The problems (行号, 列, 值, 原因) and the changes as an .xlsx the clerk can sort and fix the export with."""
    from openpyxl import Workbook  # lazy: openpyxl (~0.1 s) only to write an .xlsx
    from openpyxl.cell import WriteOnlyCell  # lazy: openpyxl (~0.1 s) only to write an .xlsx
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE  # lazy: openpyxl (~0.1 s) only to write an .xlsx

    workbook = Workbook(write_only=True)

    def text(sheet: object, value: object) -> WriteOnlyCell:
        cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", str(value)))  # type: ignore[arg-type]
        cell.data_type = "s"  # never a formula, whatever the export's cell held (=HYPERLINK(…))
        return cell

    problems = workbook.create_sheet("错误")
    problems.append(["行号", "列", "值", "原因"])
    for problem in report.problems:
        problems.append([problem.row, text(problems, problem.column), text(problems, problem.value),
                         text(problems, problem.reason)])
    changes = workbook.create_sheet("变更")
    changes.append(["档案编号", "姓名", "字段", "原值", "新值"])
    for change in report.changes:
        for label, (old, new) in change.fields.items():
            changes.append([text(changes, change.archive_code), text(changes, change.name), label,
                            text(changes, old), text(changes, new)])
    workbook.save(target)
