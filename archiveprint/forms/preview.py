"""Before printing: how many residents and pages a print makes, and small pictures of its first pages."""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiveprint.forms.by_sex import for_resident
from archiveprint.forms.catalog import FormDef, FormSet, load_catalog
from archiveprint.forms.context import person_values, slot_values
from archiveprint.forms.instructions import (
    NONE,
    ONCE,
    PER_FORM,
    has_instructions,
    layout_instructions,
    pages_after,
    pages_once,
)
from archiveprint.forms.layout import layout_form
from archiveprint.forms.printer import FormPrinter
from archiveprint.forms.services import (
    PrintOptions,
    Scope,
    check_glyphs,
    count_households,
    count_scope,
    forms_of,
    whose,
)
from archiveprint.register.models import Resident
from archiveprint.register.populations import Population, find_population
from archiveprint.register.services import get_township

THUMBNAIL_DPI = 40
THUMBNAILS_MAX = 8


@dataclass
class PrintPlan:
    """What a print will make, told to the clerk before it starts."""

    form_set: FormSet
    forms: list[FormDef]
    residents: int
    households: int
    pages: int
    blank: bool
    missing_glyphs: dict[str, set[str]] = field(default_factory=dict)
    unknown_codes: list[str] = field(default_factory=list)  # typed in the 档案编号 box, not in the register
    instructions: str = NONE  # 填表说明 asked for (PrintOptions.instructions)
    instruction_pages: int = 0  # the pages they add to `pages` (with duplex, their blank backs too)
    population: Population | None = None  # the key population the residents were narrowed to
    whose: list[str] = field(default_factory=list)  # 东村, 东村第17户, a tag, 3份档案, 高血压患者

    @property
    def headline(self) -> str:
        """What will print, in one line: 高血压随访 · 东村 · 高血压患者：20 人，20 页."""
        head = " · ".join([self.form_set.name, *self.whose])
        if self.blank:
            return f"{head} · 空白表：{self.pages} 页"
        return f"{head}：{self.residents} 人，{self.pages} 页"

    @property
    def pages_per_resident(self) -> int:
        forms = self.forms if self.blank else for_resident(self.forms, None)  # a resident gets one chart of a sex group
        return sum(form.pages for form in forms)

    @property
    def no_instructions(self) -> bool:
        """填表说明 asked for, but none of the chosen forms has any: nothing is added (the clerk is told)."""
        return self.instructions != NONE and not any(has_instructions(form) for form in self.forms)


def count_pages(forms: list[FormDef], *, residents: int, households: int, options: PrintOptions,
                scope_empty: bool) -> int:
    """The pages print_forms writes for this many residents and households, without rendering anything.

    Follows print_forms: with duplex each resident (or blank copy) and each separator ends on a whole sheet;
    forms with several residents per sheet (the A4 card sheet) are filled per_page residents at a time; 填表说明
    come once at the front (on whole sheets) or after each form.
    """
    def whole_sheets(pages: int) -> int:
        return pages + pages % 2 if options.duplex else pages

    mode = options.instructions
    front = whole_sheets(pages_once(forms, mode))
    if options.blank or scope_empty:
        copies = max(1, options.copies if scope_empty else residents)
        return front + copies * whole_sheets(sum(form.pages + pages_after(form, mode) for form in forms))
    single = sum(form.pages + pages_after(form, mode)
                 for form in for_resident(forms, None) if form.per_page == 1)  # one chart per sex group
    sheets = sum(math.ceil(residents / form.per_page) * form.pages for form in forms if form.per_page > 1)
    separators = households * whole_sheets(1) if options.separators else 0
    return front + residents * whole_sheets(single) + sheets + separators


def plan_print(session: Session, form_set: FormSet, scope: Scope, options: PrintOptions) -> PrintPlan:
    """Count residents, households and pages of a print (the numbers the print centre shows)."""
    forms = forms_of(load_catalog(), form_set)
    residents = 0 if scope.empty else count_scope(session, scope)
    households = 0 if scope.empty else count_households(session, scope)
    blank = options.blank or scope.empty
    missing = {} if blank or options.allow_missing_glyphs else check_glyphs(session, scope)
    count = partial(count_pages, forms, residents=residents, households=households, scope_empty=scope.empty)
    pages = count(options=options)
    known = set(session.scalars(select(Resident.archive_code).where(Resident.archive_code.in_(scope.codes)))) \
        if scope.codes else set()
    return PrintPlan(form_set=form_set, forms=forms, residents=residents, households=households, pages=pages,
                     blank=blank, missing_glyphs=missing,
                     unknown_codes=[code for code in dict.fromkeys(scope.codes) if code not in known],
                     instructions=options.instructions,
                     instruction_pages=pages - count(options=replace(options, instructions=NONE)),
                     population=find_population(scope.population) if scope.population else None,
                     whose=[words for words, _ascii in whose(session, scope)])


@dataclass(frozen=True)
class PreviewPerson:
    """The resident whose pages the preview shows: the first in filing order, as plain values."""

    archive_code: str
    values: dict[str, object]


def preview_person(session: Session, scope: Scope, *, today: date) -> PreviewPerson | None:
    """Read the first resident of a scope (None when the scope is empty), so rendering needs no database."""
    if scope.empty:
        return None
    first = session.scalar(scope.select().limit(1))
    if first is None:
        return None
    return PreviewPerson(first.archive_code, person_values(first, get_township(session), today=today))


def _shown(form_set: FormSet, person: PreviewPerson | None, instructions: str) -> Iterator[tuple[FormDef, bool]]:
    """What a preview shows, in print order: (form, True) for a form's 填表说明, (form, False) for the form."""
    forms = forms_of(load_catalog(), form_set)
    if instructions == ONCE:
        yield from ((form, True) for form in forms if has_instructions(form))
    for form in for_resident(forms, person.values.get("sex")) if person else forms:
        yield form, False
        if instructions == PER_FORM and has_instructions(form):
            yield form, True


def preview_pdf(form_set: FormSet, person: PreviewPerson | None, *, instructions: str = NONE) -> bytes:
    """One set in memory: a person's (stamped like the real print, re-filing mark included) or a blank one, with
    the 填表说明 where the print puts them."""
    buffer = io.BytesIO()
    printer = FormPrinter(buffer)
    for form, is_instructions in _shown(form_set, person, instructions):
        if is_instructions:
            printer.add_instructions(form)
            continue
        slots = slot_values(form, person.values) if person else {}
        if form.per_page > 1:
            printer.add_sheet(form, [slots] + [{}] * (form.per_page - 1))
        else:
            printer.add_form(form, slots, code17=person.archive_code if person else None)
    printer.close(title=form_set.name)
    return buffer.getvalue()


def preview_captions(form_set: FormSet, person: PreviewPerson | None, *, instructions: str = NONE
                     ) -> list[tuple[str, int]]:
    """What each page of `preview_pdf` is: (the form's or its 填表说明's title, page number within it)."""
    captions = []
    for form, is_instructions in _shown(form_set, person, instructions):
        title, pages = (form.instructions.title, form.instructions.pages) if is_instructions and form.instructions \
            else (form.title, form.pages)
        captions += [(title, page) for page in range(1, pages + 1)]
    return captions


def warm_up() -> None:
    """Pay at start what the first preview would: every form's blank layout and 填表说明 pages (read from the disk
    cache when they are there), the font metrics, the subsetter's and rasteriser's first run. `archiveprint serve`
    runs it in a thread."""
    catalog = load_catalog()
    for form in catalog.forms.values():
        layout_form(form)
        if has_instructions(form):
            layout_instructions(form)
    first = next(iter(catalog.sets.values()), None)
    if first is not None:
        thumbnails(preview_pdf(first, None), limit=1)


@dataclass(frozen=True)
class Thumbnail:
    """One page as a small grey PNG, with its size in pixels (a card is smaller than an A4 page)."""

    png: bytes
    width: int
    height: int


def thumbnails(pdf: bytes, *, dpi: int = THUMBNAIL_DPI, limit: int = THUMBNAILS_MAX) -> list[Thumbnail]:
    """The first pages as small grey PNGs (pypdfium2 rasterises; the page is only a picture of the form)."""
    import pypdfium2  # lazy: pypdfium2 only to draw thumbnails

    document = pypdfium2.PdfDocument(pdf)
    try:
        pictures = []
        for index in range(min(limit, len(document))):
            page = document[index]
            try:
                image = page.render(scale=dpi / 72, grayscale=True).to_pil()
                out = io.BytesIO()
                image.save(out, format="PNG", optimize=True)
                pictures.append(Thumbnail(png=out.getvalue(), width=image.width, height=image.height))
            finally:
                page.close()
        return pictures
    finally:
        document.close()
