"""Label use cases: print a kind of label for a scope onto a stock, audit it, and keep printer profiles."""

from __future__ import annotations

import io
import itertools
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiveprint import resources
from archiveprint.accounts.services import audit
from archiveprint.errors import InvalidValue, NotFound
from archiveprint.labels import calibration as calibration_sheet
from archiveprint.labels import queries
from archiveprint.labels.content import (
    HouseholdFacts,
    Member,
    ResidentFacts,
    ShelfFacts,
    household_values,
    resident_values,
    shelf_values,
)
from archiveprint.labels.design import LabelKind, find_kind, load_kinds
from archiveprint.labels.printers import printer_setup
from archiveprint.labels.render import NOTICE, LabelPrinter, MissingGlyphs, missing_glyphs
from archiveprint.labels.sheet import (
    free_cells,
    pages_needed,
)
from archiveprint.labels.stock import LabelStock, find_stock, load_stocks
from archiveprint.locations.queries import ShelfLabel, list_shelf_labels
from archiveprint.register.codes import looks_like_folder_code, parse_code, parse_folder_code
from archiveprint.register.models import Household, Resident
from archiveprint.register.queries import find_household_by_folder, ordered_members
from archiveprint.register.services import find_village
from archiveprint.register.text import clean_code

Progress = Callable[[int, int], None]
PROGRESS_EVERY = 100


# --- kinds and stocks -----------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def label_kinds() -> dict[str, LabelKind]:
    """The label kinds shipped in templates/labels/layouts."""
    return load_kinds(resources.template_dir() / "labels" / "layouts")


def stock_folders(instance_dir: Path | None = None) -> list[Path]:
    """The shipped stocks, then the site's own (<instance>/labels/stock/*.yaml), which may override them."""
    folders = [resources.template_dir() / "labels" / "stock"]
    if instance_dir is not None:
        folders.append(Path(instance_dir) / "labels" / "stock")
    return folders


def label_stocks(instance_dir: Path | None = None) -> dict[str, LabelStock]:
    return load_stocks(stock_folders(instance_dir))


# --- scope ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LabelScope:
    """Which folders or residents. Every criterion given narrows the set (a village and a date: that village's
    folders changed since the date). Folder codes and archive codes name households, or residents for resident
    kinds; `locations` are location codes for shelf labels."""

    household_ids: tuple[int, ...] = ()
    village: str | None = None  # 3-digit segment
    codes: tuple[str, ...] = ()  # folder codes (F…) and 17-digit archive codes, normalised
    since: date | None = None
    locations: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.household_ids or self.village or self.codes or self.since or self.locations)

    def describe(self) -> str:
        parts = []
        if self.household_ids:
            parts.append(f"{len(self.household_ids)} 户")
        if self.village:
            parts.append(f"村 {self.village}")
        if self.codes:
            parts.append(f"{len(self.codes)} 个编号")
        if self.since:
            parts.append(f"{self.since.isoformat()} 以来有变动")
        if self.locations:
            parts.append(f"{len(self.locations)} 个位置")
        return "，".join(parts) or "全部"

    def as_json(self) -> dict[str, object]:
        return {"household_ids": list(self.household_ids), "village": self.village, "codes": list(self.codes),
                "since": self.since.isoformat() if self.since else None, "locations": list(self.locations)}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> LabelScope:
        since = data.get("since")
        return cls(household_ids=tuple(int(v) for v in data.get("household_ids") or ()),  # type: ignore[union-attr]
                   village=data.get("village") or None,  # type: ignore[arg-type]
                   codes=tuple(data.get("codes") or ()),  # type: ignore[arg-type]
                   since=date.fromisoformat(str(since)) if since else None,
                   locations=tuple(data.get("locations") or ()))  # type: ignore[arg-type]


LOCATION_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9./-]{0,39}")


def resolve_label_scope(session: Session, *, household: str | int | None = None, village: str | None = None,
                        codes: Sequence[str] = (), since: date | None = None,
                        locations: Sequence[str] = ()) -> LabelScope:
    """Turn what a clerk typed into a scope: a household as an id, 村代码-户号 (201-17) or a folder code; a
    village by name or code; codes as scanned (folder codes or archive codes, dashes allowed)."""
    household_ids: tuple[int, ...] = ()
    if household is not None:
        household_ids = (_household_id(session, str(household).strip()),)
    normalised = []
    for raw in codes:
        text = clean_code(raw).upper()
        if looks_like_folder_code(text):
            normalised.append(parse_folder_code(text).value)
        else:
            normalised.append(parse_code(raw).value)
    locations = tuple(c.strip() for c in locations if c.strip())
    for location in locations:
        if not LOCATION_CODE.fullmatch(location):
            raise InvalidValue("架位代码只能由字母、数字和 - . / 组成（要印成条码），位置说明请写在“位置说明”里",
                               field="架位代码", value=location)
    return LabelScope(household_ids=household_ids, village=find_village(session, village).ref if village else None,
                      codes=tuple(normalised), since=since, locations=locations)


def _household_id(session: Session, text: str) -> int:
    if looks_like_folder_code(text):
        found = find_household_by_folder(session, parse_folder_code(text))
        if found is None:
            raise NotFound("没有这个档案袋", field="户", value=text)
        return found.id
    if "-" in text:  # 201-17: village segment and household number
        segment, number = text.split("-", 1)
        row = session.scalar(select(Household.id).where(Household.village_id == find_village(session, segment).id,
                                                        Household.number == int(number))) \
            if number.strip().isdigit() else None
    else:
        row = session.scalar(select(Household.id).where(Household.id == int(text))) if text.isdigit() else None
    if row is None:
        raise NotFound("没有这一户", field="户", value=text)
    return row


def _scope_households(session: Session, scope: LabelScope) -> list[int]:
    """Household ids of a scope in filing order."""
    ids: set[int] | None = None
    if scope.household_ids or scope.codes:
        ids = set(scope.household_ids)
        for code in scope.codes:
            if code.startswith("F"):
                household = find_household_by_folder(session, parse_folder_code(code))
                if household is None:
                    raise NotFound("没有这个档案袋", field="档案袋编号", value=parse_folder_code(code).display)
                ids.add(household.id)
            else:
                household_id = session.scalar(select(Resident.household_id).where(Resident.archive_code == code))
                if household_id is None:
                    raise NotFound("没有这份档案", field="档案编号", value=code)
                ids.add(household_id)
    if scope.since is not None:
        changed = queries.find_relabel_households(session, scope.since)
        ids = changed if ids is None else ids & changed
    return queries.household_ids_in_order(session, ids, scope.village)


def _scope_residents(session: Session, scope: LabelScope, include_closed: bool) -> list[int]:
    """Resident ids in filing order: the residents named by archive code, else the members of the households."""
    named = [code for code in scope.codes if not code.startswith("F")]
    if named and not scope.household_ids and len(named) == len(scope.codes):
        rows = {code: rid for code, rid in session.execute(
            select(Resident.archive_code, Resident.id).where(Resident.archive_code.in_(named)))}
        missing = [code for code in named if code not in rows]
        if missing:
            raise NotFound("没有这份档案", field="档案编号", value=missing[0])
        return [rows[code] for code in named]
    ids = []
    for household in queries.iter_households(session, _scope_households(session, scope)):
        ids += [r.id for r in ordered_members(household) if include_closed or r.status == "active"]
    return ids


# --- printing ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LabelOptions:
    """How to print: where to start on a partly used sheet, which printer, test outlines, privacy."""

    start: int = 1
    used: tuple[tuple[int, ...], ...] = ()  # cells already used on the first sheets, one tuple per sheet
    outline: bool = False
    printer: str | None = None  # a printer profile: offset, creep and dpi for this stock
    dpi: int | None = None  # without a profile: 203 for rolls, 300 for sheets unless given
    mask_names: bool = False
    qr: bool = False
    include_closed: bool = False  # closed (结案) residents in member lists and resident labels
    allow_missing_glyphs: bool = False
    copies: int = 1  # of each label
    location_title: str = ""  # shelf labels: a title for every location given
    from_command_line: bool = False  # a calibration sheet names the command to type, not the web page

    @classmethod
    def from_json(cls, data: dict[str, object]) -> LabelOptions:
        values = dict(data)
        values["used"] = tuple(tuple(int(c) for c in sheet) for sheet in values.get("used") or ())  # type: ignore[union-attr]
        return cls(**values)  # type: ignore[arg-type]

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data["used"] = [list(sheet) for sheet in self.used]
        return data


@dataclass
class LabelResult:
    kind: str
    stock: str
    labels: int = 0
    pages: int = 0
    seconds: float = 0.0
    output: Path | None = None
    dpi: int = 0
    module_mm: float | None = None
    households: list[int] = field(default_factory=list)  # for the audit trail
    residents: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {"kind": self.kind, "stock": self.stock, "labels": self.labels, "pages": self.pages,
                "seconds": round(self.seconds, 3), "output": str(self.output) if self.output else None,
                "dpi": self.dpi, "module_mm": round(self.module_mm, 3) if self.module_mm else None}

    def text_lines(self) -> list[str]:
        return [f"已生成 {self.labels} 张标签、{self.pages} 页，用时 {self.seconds:.1f} 秒：{self.output}"]


def print_labels(session: Session, kind_key: str, stock_key: str, scope: LabelScope, target: Path, *,
                 options: LabelOptions = LabelOptions(), instance_dir: Path | None = None,
                 progress: Progress | None = None) -> LabelResult:
    """Draw one label per household (or resident, or location) of the scope, in filing order, into one PDF.

    Only reads the register; the caller records `audit_labels` afterwards. The PDF is written next to `target`
    and moved into place when complete, so a failed job never leaves half a file.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with partial.open("wb") as fp:
            result = _render(session, kind_key, stock_key, scope, fp, options=options, instance_dir=instance_dir,
                             progress=progress)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    result.output = target
    return result


def preview_labels(session: Session, kind_key: str, stock_key: str, scope: LabelScope, *,
                   options: LabelOptions = LabelOptions(), instance_dir: Path | None = None) -> bytes:
    """The first sheet of a job as PDF bytes (the print centre shows it before the clerk prints)."""
    buffer = io.BytesIO()
    _render(session, kind_key, stock_key, scope, buffer, options=options, instance_dir=instance_dir, sheets=1)
    return buffer.getvalue()


def _render(session: Session, kind_key: str, stock_key: str, scope: LabelScope, fp: BinaryIO, *,
            options: LabelOptions, instance_dir: Path | None, progress: Progress | None = None,
            sheets: int | None = None) -> LabelResult:
    started = time.perf_counter()
    kind = find_kind(label_kinds(), kind_key)
    stock = find_stock(label_stocks(instance_dir), stock_key or kind.default_stock)
    calibration, dpi = printer_setup(session, stock, options.printer, options.dpi)
    if kind.binds != "calibration" and scope.empty:
        raise InvalidValue("请指定要打印哪些标签：户、村、编号或日期", field="范围")
    result = LabelResult(kind=kind.id, stock=stock.id, dpi=dpi)
    used = tuple(frozenset(sheet) for sheet in options.used)
    printer = LabelPrinter(fp, stock, kind, dpi=dpi, calibration=calibration, start=options.start, used=used,
                           outline=options.outline, qr=options.qr, notice=NOTICE if kind.page_notice else "")
    if kind.binds == "calibration":
        calibration_sheet.draw_sheet(printer, options.printer or "", command=options.from_command_line)
    else:
        total, values = _values(session, kind, scope, options, result)
        if total == 0:
            raise NotFound("这个范围内没有要打印的标签（{scope}）", params={"scope": scope.describe()}, field="范围")
        if sheets is not None:
            total = min(total, count_labels_on(stock, sheets, options))
        _draw(printer, total, values, options, progress)
    result.pages = printer.close(title=f"{kind.title} · {stock.name}")
    result.labels = printer.labels
    if printer.last_plan is not None:
        result.module_mm = printer.last_plan.module_mm
    result.seconds = time.perf_counter() - started
    return result


def count_labels_on(stock: LabelStock, sheets: int, options: LabelOptions) -> int:
    """How many labels the first `sheets` sheets take, after the start cell and the used cells."""
    used = tuple(frozenset(sheet) for sheet in options.used)
    return sum(len(free_cells(stock, page, options.start, used)) for page in range(sheets)) // max(1, options.copies)


def _draw(printer: LabelPrinter, total: int, values: Iterator[dict[str, object]], options: LabelOptions,
          progress: Progress | None) -> None:
    """Draw `total` labels; names the fonts cannot draw are collected and refused at the end, all at once."""
    copies = max(1, options.copies)
    lacking: dict[str, set[str]] = {}
    fonts = printer.fonts
    drawable: set[str] = set()  # texts already checked (village names and given names repeat)
    done = 0
    for item in itertools.islice(values, total):
        if not options.allow_missing_glyphs:
            texts = [v for k, v in item.items() if isinstance(v, str) and v not in drawable]
            texts += [name for name, _code in item.get("members") or [] if name not in drawable]  # type: ignore[union-attr]
            missing = missing_glyphs(fonts, texts)
            if missing:
                key = str(item.get("folder_code_display") or item.get("archive_code_display") or item.get("name"))
                lacking.setdefault(key, set()).update(missing)
            elif len(drawable) < 100_000:
                drawable.update(texts)
        for _ in range(copies):
            printer.add(item)
            done += 1
            if progress and (done % PROGRESS_EVERY == 0 or done == total * copies):
                progress(done, total * copies)
    if lacking:
        sample = "；".join(f"{key}：{''.join(sorted(chars))}" for key, chars in list(lacking.items())[:10])
        raise MissingGlyphs("{count} 张标签上的名字含字体缺少的字，打印会出现空框：{sample}",
                            params={"count": len(lacking), "sample": sample}, field="字形")
    if progress and total == 0:
        progress(0, 0)


def _values(session: Session, kind: LabelKind, scope: LabelScope, options: LabelOptions,
            result: LabelResult) -> tuple[int, Iterator[dict[str, object]]]:
    """How many labels, and their values one by one (households are loaded a chunk at a time)."""
    township = queries.find_township(session)
    township_name = township.name if township else ""
    unit_name = township.unit_name if township else ""
    if kind.binds == "household":
        ids = _scope_households(session, scope)

        def households() -> Iterator[dict[str, object]]:
            for household in queries.iter_households(session, ids):
                village = household.village
                members = tuple(Member(r.name, r.archive_code) for r in ordered_members(household)
                                if options.include_closed or r.status == "active")
                facts = HouseholdFacts(village.full_code, village.name, household.number, household.head_name,
                                       members, village.township.name, unit_name)
                result.households.append(household.id)
                yield household_values(facts, mask=options.mask_names)

        return len(ids), households()
    if kind.binds == "resident":
        resident_ids = _scope_residents(session, scope, options.include_closed)

        def residents() -> Iterator[dict[str, object]]:
            for resident in queries.iter_residents(session, resident_ids):
                household = resident.household
                facts = ResidentFacts(resident.archive_code, resident.name, resident.sex, resident.birth_date,
                                      resident.village.name, household.village.full_code, household.number,
                                      household.head_name, resident.village.township.name, unit_name)
                result.residents.append(resident.archive_code)
                yield resident_values(facts, mask=options.mask_names)

        return len(resident_ids), residents()
    shelves = _shelf_values(session, scope, options, township_name)
    return len(shelves), iter(shelves)


def _shelf_values(session: Session, scope: LabelScope, options: LabelOptions,
                  township_name: str) -> list[dict[str, object]]:
    """Shelf labels from the storage layout: the shelves named (a code not in the layout, e.g. a cabinet, prints as
    typed), every shelf of a village's run, or every shelf. Without a layout (or for a village with no shelves yet)
    a village gets one section label for its whole folder range, under the location code typed."""
    if scope.locations and not scope.village:
        known = {label.code: label for label in list_shelf_labels(session, codes=scope.locations)}
        return [_shelf_label_values(known[code], options, township_name) if code in known
                else shelf_values(ShelfFacts(code, options.location_title, township_name=township_name))
                for code in scope.locations]
    if not scope.locations:
        labels = list_shelf_labels(session, village=scope.village) if scope.village else list_shelf_labels(session)
        if labels:
            return [_shelf_label_values(label, options, township_name) for label in labels]
    code = scope.locations[0] if scope.locations else ""
    return [shelf_values(ShelfFacts(code, options.location_title, village.name, village.full_code, first, last,
                                    count, township_name))
            for village, first, last, count in queries.village_ranges(session, scope.village)]


def _shelf_label_values(label: ShelfLabel, options: LabelOptions, township_name: str) -> dict[str, object]:
    return shelf_values(ShelfFacts(label.code, options.location_title or label.address, label.village_name,
                                   label.village_prefix, label.first_number, label.last_number, label.folder_count,
                                   township_name))


def count_labels(session: Session, kind_key: str, stock: LabelStock, scope: LabelScope,
                 options: LabelOptions = LabelOptions()) -> int:
    """How many different labels a job prints (before copies), without drawing any: the print centre shows it."""
    kind = find_kind(label_kinds(), kind_key)
    if kind.binds == "calibration":
        return stock.per_page
    if kind.binds == "household":
        return len(_scope_households(session, scope))
    if kind.binds == "resident":
        return len(_scope_residents(session, scope, options.include_closed))
    return len(_shelf_values(session, scope, options, ""))


def count_pages(stock: LabelStock, labels: int, options: LabelOptions) -> int:
    """Sheets a job will take (the print centre shows it before printing)."""
    return pages_needed(stock, labels * max(1, options.copies), start=options.start,
                        used=tuple(frozenset(s) for s in options.used))


def audit_labels(session: Session, result: LabelResult, *, user=None, actor: str) -> None:  # type: ignore[no-untyped-def]
    """One audit row per folder or resident whose label was printed: labels carry names."""
    detail = f"标签 {result.kind} · {result.stock}（{actor}）"
    for household_id in result.households:
        audit(session, user, "print", "household", household_id, detail=detail)
    for code in result.residents:
        audit(session, user, "print", "resident", code, detail=detail)
