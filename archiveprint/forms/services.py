"""Print forms for a scope of residents (or blank) into one PDF — or several, zipped — with progress and audit."""

from __future__ import annotations

import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from archiveprint.accounts.services import audit
from archiveprint.errors import ArchiveprintError, InvalidValue
from archiveprint.forms.by_sex import for_resident
from archiveprint.forms.catalog import Catalog, FormDef, FormSet, load_catalog
from archiveprint.forms.context import person_values, slot_values
from archiveprint.forms.instructions import NONE, PER_FORM, check_mode, pages_after, pages_once
from archiveprint.forms.paper import check_one_paper
from archiveprint.forms.printer import FormPrinter
from archiveprint.forms.sets import find_form_set
from archiveprint.pdf.fonts import font_path, load_metrics
from archiveprint.register.codes import parse_code
from archiveprint.register.models import Household, Resident
from archiveprint.register.populations import find_population
from archiveprint.register.queries import select_for_print
from archiveprint.register.services import find_village, get_township

Progress = Callable[[int, int], None]
TEXT_KEYS = ("name", "address", "phone", "village", "township", "unit", "household_head")


class MissingGlyphs(ArchiveprintError):
    """Some names or addresses hold characters the shipped font cannot draw: say so before printing."""


EVERYONE = "all"  # 全部居民: chosen so that a set's population does not narrow its print


@dataclass(frozen=True)
class Scope:
    """Whose forms: a list of codes, a household, a village, a population tag, a key population (within a village
    or all) — every criterion given narrows. A key population is counted on the day `on` (ages change)."""

    codes: tuple[str, ...] = ()
    household_id: int | None = None
    village: str | None = None
    tag: str | None = None
    population: str | None = None  # a populations.yaml id
    on: date | None = None

    @property
    def empty(self) -> bool:
        return not (self.codes or self.household_id or self.village or self.tag or self.population)

    def describe(self) -> str:
        parts = []
        if self.codes:
            parts.append(f"{len(self.codes)} 份档案")
        if self.household_id:
            parts.append(f"户 #{self.household_id}")
        if self.village:
            parts.append(f"村 {self.village}")
        if self.tag:
            parts.append(f"人群 {self.tag}")
        if self.population:
            parts.append(find_population(self.population).name)
        return "，".join(parts) or "空白"

    def select(self) -> Select[tuple[Resident]]:
        """The residents in scope, in filing order (the one query every count, check and print reads)."""
        return select_for_print(codes=self.codes, household_id=self.household_id, village=self.village,
                                tag=self.tag, population=self.population, on=self.on)

    def as_json(self) -> dict[str, object]:
        return {"codes": list(self.codes), "household_id": self.household_id, "village": self.village,
                "tag": self.tag, "population": self.population, "on": self.on.isoformat() if self.on else None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Scope:
        """A job's stored scope (jobs from before #12 hold no population and no day)."""
        on = data.get("on")
        return cls(codes=tuple(data.get("codes") or ()), household_id=data.get("household_id"),
                   village=data.get("village"), tag=data.get("tag"), population=data.get("population"),
                   on=date.fromisoformat(on) if on else None)


@dataclass(frozen=True)
class PrintOptions:
    blank: bool = False
    copies: int = 1  # blank sets without a scope
    duplex: bool = False  # each resident's set starts on a fresh sheet
    separators: bool = False  # a separator sheet before each household
    split_pages: int | None = None  # at most this many pages per PDF; the parts are zipped
    marks: bool = True  # re-filing mark on prefilled pages
    allow_missing_glyphs: bool = False
    instructions: str = NONE  # 填表说明: none | once (at the front of the run) | per_form (after each form)

    def __post_init__(self) -> None:
        check_mode(self.instructions)


@dataclass
class PrintResult:
    pages: int = 0
    residents: int = 0
    seconds: float = 0.0
    outputs: list[Path] = field(default_factory=list)
    printed: list[str] = field(default_factory=list)  # archive codes, for the audit trail
    set_name: str = ""
    population: str | None = None  # the key population printed (its id), None for everyone in scope

    def as_json(self) -> dict[str, object]:
        return {"pages": self.pages, "residents": self.residents, "seconds": round(self.seconds, 3),
                "population": self.population,
                "outputs": [str(p) for p in self.outputs], "output": str(self.outputs[0]) if self.outputs else None}

    def text_lines(self) -> list[str]:
        return [f"已生成 {self.pages} 页（{self.residents} 人），用时 {self.seconds:.1f} 秒："
                + "，".join(str(p) for p in self.outputs)]


def resolve_scope(session: Session, *, codes: tuple[str, ...] = (), household: str | int | None = None,
                  village: str | None = None, tag: str | None = None, population: str | None = None,
                  form_set: FormSet | None = None, blank: bool = False, today: date | None = None) -> Scope:
    """Turn what a clerk typed (village name or segment, household id or village+number) into a Scope.

    `population` is a key population's id or name, or EVERYONE (全部居民) for none; without one, a set that names
    its population (`form_set.population`) prints that population by default (see `choose_population`). A key
    population is counted on `today`.
    """
    village_code = find_village(session, village).ref if village else None
    household_id = None
    if household is not None:
        text = str(household).strip()
        if "-" in text:  # "201-17": village segment + household number
            seg, number = text.split("-", 1)
            row = session.scalar(select(Household.id).where(
                Household.village_id == find_village(session, seg).id, Household.number == int(number)))
        else:
            row = session.scalar(select(Household.id).where(Household.id == int(text))) if text.isdigit() else None
        if row is None:
            raise InvalidValue("没有这一户", field="户", value=household)
        household_id = row
    codes = tuple(parse_code(c).value for c in codes)
    chosen = choose_population(population, form_set, codes=codes, blank=blank,
                               whom=bool(village_code or household_id or tag))
    if chosen is not None and today is None:
        raise ValueError("a key population is counted on a day: pass `today`")
    return Scope(codes=codes, household_id=household_id, village=village_code, tag=tag, population=chosen,
                 on=today if chosen is not None else None)


def choose_population(chosen: str | None, form_set: FormSet | None, *, codes: tuple[str, ...], blank: bool,
                      whom: bool) -> str | None:
    """Which key population a print is narrowed to (its id), or None for everyone in scope.

    The clerk's choice wins: EVERYONE (全部居民) is none, a population's id or name is that one — but a list of codes
    is printed as given, never narrowed, so a population chosen with codes is refused. Without a choice, a set for
    one population (高血压随访 → 高血压患者) prints that population when it is printed prefilled for a village, a
    household or a tag (`whom`); a blank print and a list of codes keep everyone.
    """
    if chosen == EVERYONE:
        return None
    if chosen:
        found = find_population(chosen)
        if codes:
            raise InvalidValue("档案编号按原样打印，不按重点人群筛选：请把人群选为“全部居民”，或不填档案编号",
                               field="人群", value=found.name)
        return found.id
    if form_set is None or form_set.population is None or codes or blank or not whom:
        return None
    return form_set.population


def whose(session: Session, scope: Scope) -> list[tuple[str, str]]:
    """Whose records, in words and in ASCII (for file names): 东村 / 201, 东村第17户 / 201-17, a tag, 3份档案 / 3codes,
    高血压患者 / hypertension."""
    parts = []
    if scope.village:
        parts.append((find_village(session, scope.village).name, scope.village))
    if scope.household_id:
        household = session.get(Household, scope.household_id)
        if household is not None:
            parts.append((f"{household.village.name}第{household.number}户",
                          f"{household.village.code}-{household.number}"))
    if scope.tag:
        parts.append((scope.tag, ""))
    if scope.codes:
        parts.append((f"{len(scope.codes)}份档案", f"{len(scope.codes)}codes"))
    if scope.population:
        parts.append((find_population(scope.population).name, scope.population))
    return parts


def count_scope(session: Session, scope: Scope) -> int:
    stmt = scope.select()
    return session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0


def count_households(session: Session, scope: Scope) -> int:
    """Households in a scope: each gets a separator sheet when 分户页 is chosen."""
    stmt = scope.select()
    rows = stmt.order_by(None).with_only_columns(Resident.household_id).distinct().subquery()
    return session.scalar(select(func.count()).select_from(rows)) or 0


def iter_scope(session: Session, scope: Scope, batch: int = 500) -> Iterator[Resident]:
    yield from session.scalars(scope.select().execution_options(yield_per=batch))


def check_glyphs(session: Session, scope: Scope) -> dict[str, set[str]]:
    """Characters of the scope's names and addresses that the font lacks, by archive code."""
    metrics = load_metrics(font_path())
    stmt = scope.select().with_only_columns(Resident.archive_code, Resident.name, Resident.address)
    missing: dict[str, set[str]] = {}
    for code, name, address in session.execute(stmt):
        lacking = metrics.missing([name, address or ""])
        if lacking:
            missing[code] = lacking
    return missing


def missing_glyphs_error(missing: dict[str, set[str]]) -> MissingGlyphs:
    """The message naming the records (at most ten) whose names or addresses the font cannot draw."""
    sample = "；".join(f"{code}：{''.join(sorted(chars))}" for code, chars in list(missing.items())[:10])
    return MissingGlyphs("{count} 份档案的姓名或地址含字体缺少的字，打印会出现空框：{sample}",
                         params={"count": len(missing), "sample": sample}, field="字形")


def forms_of(catalog: Catalog, form_set: FormSet) -> list[FormDef]:
    """The set's forms in folder order, as every print, plan and preview takes them: refused when they need
    different paper (a custom set naming the card and an A4 form)."""
    forms = [catalog.form(form_id) for form_id in form_set.forms]
    check_one_paper(form_set.name, forms)
    return forms


def audit_print(session: Session, result: PrintResult, *, user=None, actor: str) -> None:  # type: ignore[no-untyped-def]
    """One audit row per resident printed: who printed whose record, which set."""
    for code in result.printed:
        audit(session, user, "print", "resident", code, detail=f"{result.set_name}（{actor}）")


def print_forms(session: Session, set_key: str | FormSet, scope: Scope, target: Path, *, kind: str | None = None,
                options: PrintOptions = PrintOptions(), today: date, progress: Progress | None = None) -> PrintResult:
    """Render a form set for every resident in scope (or blank copies) in filing order.

    `set_key` is a FormSet, or the id or name of a set (`kind="set"`: built-in or custom) or of a single form
    (`kind="form"`); without a kind, a key naming both (encounter) is refused.
    Only reads the register, so a long job holds no write lock; the caller records `audit_print` after it.
    One PDF unless `split_pages` is set; then parts of at most that many pages, zipped next to `target`.
    """
    started = time.perf_counter()
    catalog = load_catalog()
    form_set = set_key if isinstance(set_key, FormSet) else find_form_set(session, set_key, kind=kind, catalog=catalog)
    forms = forms_of(catalog, form_set)
    result = PrintResult(set_name=form_set.name, population=scope.population)
    target.parent.mkdir(parents=True, exist_ok=True)
    writer = _PartWriter(target, options.split_pages, title=form_set.name)

    if options.blank or scope.empty:
        copies = max(1, options.copies if scope.empty else count_scope(session, scope))
        _instructions_once(writer, forms, options)
        for copy in range(copies):
            pages = writer.ensure_room(sum(f.pages + pages_after(f, options.instructions) for f in forms))
            for form in forms:
                if form.per_page > 1:
                    pages.add_sheet(form, [{}] * form.per_page)
                else:
                    pages.add_form(form, {})
                _instructions_after(pages, form, options)
            _pad_for_duplex(pages, options)
            if progress:
                progress(copy + 1, copies)
        result.pages = writer.close()
        result.outputs = writer.outputs
        result.seconds = time.perf_counter() - started
        return result

    if not options.allow_missing_glyphs:
        missing = check_glyphs(session, scope)
        if missing:
            raise missing_glyphs_error(missing)
    _instructions_once(writer, forms, options)
    township = get_township(session)
    total = count_scope(session, scope)
    sheet_forms = [f for f in forms if f.per_page > 1]
    single_forms = [f for f in forms if f.per_page == 1]
    sheet_queue: dict[str, list[dict[str, str]]] = {f.id: [] for f in sheet_forms}
    last_household = None
    for resident in iter_scope(session, scope):
        person = person_values(resident, township, today=today)
        resident_forms = for_resident(single_forms, person["sex"])  # 男童 or 女童 chart: forms/by_sex.py
        needed = sum(f.pages + pages_after(f, options.instructions) for f in resident_forms)
        pages = writer.ensure_room(needed + (1 if options.separators else 0))
        if options.separators and resident.household_id != last_household:
            _separator(pages, resident, options)
        last_household = resident.household_id
        for form in resident_forms:
            pages.add_form(form, slot_values(form, person), code17=resident.archive_code)
            _instructions_after(pages, form, options)
        _pad_for_duplex(pages, options)
        for form in sheet_forms:
            sheet_queue[form.id].append(slot_values(form, person))
            if len(sheet_queue[form.id]) == form.per_page:
                writer.ensure_room(form.pages).add_sheet(form, sheet_queue[form.id])
                sheet_queue[form.id] = []
        result.printed.append(resident.archive_code)
        result.residents += 1
        if progress and (result.residents % 50 == 0 or result.residents == total):
            progress(result.residents, total)
    for form in sheet_forms:
        if sheet_queue[form.id]:
            writer.ensure_room(form.pages).add_sheet(form, sheet_queue[form.id])
    result.pages = writer.close()
    result.outputs = writer.outputs
    result.seconds = time.perf_counter() - started
    return result


def _instructions_once(writer: _PartWriter, forms: list[FormDef], options: PrintOptions) -> None:
    """填表说明 once (`once`): every form's that has them, in the set's order, before the run's first page (the first
    part's, when split); with duplex the first record then starts on a fresh sheet."""
    pages = pages_once(forms, options.instructions)
    if pages:
        printer = writer.ensure_room(pages)
        for form in forms:
            printer.add_instructions(form)
        _pad_for_duplex(printer, options)


def _instructions_after(pages: FormPrinter, form: FormDef, options: PrintOptions) -> None:
    """The form's 填表说明 right after it (`per_form`), as the spec book prints them: handy with blank copies."""
    if options.instructions == PER_FORM:
        pages.add_instructions(form)


def _pad_for_duplex(pages: FormPrinter, options: PrintOptions) -> None:
    if options.duplex and pages.page_count % 2:
        pages.add_blank_page()


def _separator(pages: FormPrinter, resident: Resident, options: PrintOptions) -> None:
    household = resident.household
    members = sorted(household.members, key=lambda r: r.archive_code)
    lines = [f"{resident.village.name}  第 {household.number} 户", f"户主：{household.head_name}",
             f"地址：{household.address}", ""] + [f"{m.archive_code[-8:]}  {m.name}" for m in members]
    _pad_for_duplex(pages, options)
    pages.add_text_page("分户页", lines)
    _pad_for_duplex(pages, options)


class _PartWriter:
    """Hands out a FormPrinter with room for the next resident's pages, starting a new part when full."""

    def __init__(self, target: Path, split_pages: int | None, *, title: str) -> None:
        self.target = target
        self.split = split_pages
        self.title = title
        self.parts: list[Path] = []
        self.outputs: list[Path] = []
        self.total = 0
        self._printer: FormPrinter | None = None
        self._file = None

    def _open(self) -> FormPrinter:
        index = len(self.parts) + 1
        path = self.target if not self.split else self.target.with_name(f"{self.target.stem}-{index:03d}.pdf")
        partial = path.with_name(path.name + ".part")
        self.parts.append(path)
        self._file = partial.open("wb")
        self._printer = FormPrinter(self._file)
        return self._printer

    def _finish_part(self) -> None:
        if self._printer is None:
            return
        self._printer.close(title=self.title)
        self.total += self._printer.page_count
        assert self._file is not None
        self._file.close()
        path = self.parts[-1]
        path.with_name(path.name + ".part").replace(path)  # atomic: a re-run never leaves half a file
        self._printer = None

    def ensure_room(self, pages: int) -> FormPrinter:
        printer = self._printer or self._open()
        if self.split and printer.page_count and printer.page_count + pages > self.split:
            self._finish_part()
            printer = self._open()
        return printer

    def close(self) -> int:
        if self._printer is None and not self.parts:
            self._open()
        self._finish_part()
        if self.split:
            archive = self.target.with_suffix(".zip")
            with zipfile.ZipFile(archive.with_name(archive.name + ".part"), "w", zipfile.ZIP_STORED) as zf:
                for part in self.parts:
                    zf.write(part, part.name)
            archive.with_name(archive.name + ".part").replace(archive)
            self.outputs = [archive, *self.parts]
        else:
            self.outputs = [self.target]
        return self.total
