"""FormPrinter: many residents' forms into one PDF — each blank page imported once, values stamped per page."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import BinaryIO

from pypdf import PdfReader

from archiveprint.forms.catalog import FormDef
from archiveprint.forms.instructions import has_instructions, layout_instructions
from archiveprint.forms.layout import FormLayout, PageLayout, layout_form
from archiveprint.forms.stamp import DEFAULT_STYLE, MM, StampStyle, _text, refile_mark, stamp_values
from archiveprint.pdf.fonts import EmbeddedFont, font_path, load_metrics
from archiveprint.pdf.table import Table, table_pages
from archiveprint.pdf.writer import PdfStream, dictionary, ref

# Pages smaller than this (the ID-1 card) have no margin for the re-filing mark; the card stays with the resident.
MIN_MARKED_HEIGHT = 500.0


class FormPrinter:
    """Streams pages to `fp`; memory does not grow with the number of pages."""

    def __init__(self, fp: BinaryIO, *, site: dict[str, str] | None = None, marks: bool = True,
                 style: StampStyle = DEFAULT_STYLE) -> None:
        self.pdf = PdfStream(fp)
        self.site = site
        self.marks = marks
        self.style = style
        self.font = EmbeddedFont(load_metrics(font_path()))
        self.font_id = self.pdf.reserve()
        self._imported: dict[str, tuple[FormLayout, list[int]]] = {}
        self._source_keys = 0
        self._last_size = (595.2756, 841.8898)

    @property
    def page_count(self) -> int:
        return self.pdf.page_count

    def _form(self, form: FormDef) -> tuple[FormLayout, list[int]]:
        return self._import(form.id, lambda: layout_form(form, site=self.site))

    def _import(self, key: str, lay_out: Callable[[], FormLayout]) -> tuple[FormLayout, list[int]]:
        """A laid-out PDF's pages as Form XObjects, imported once into this file and drawn on every page that
        shows them."""
        if key not in self._imported:
            layout = lay_out()
            reader = PdfReader(io.BytesIO(layout.pdf))
            self._source_keys += 1
            xobjects = [self.pdf.import_page_as_xobject(page, self._source_keys) for page in reader.pages]
            self._imported[key] = (layout, xobjects)
        return self._imported[key]

    def _resources(self, xobject_id: int | None) -> bytes:
        entries = {"Font": dictionary({self.font.resource_name: ref(self.font_id)})}
        if xobject_id is not None:
            entries["XObject"] = dictionary({"P": ref(xobject_id)})
        return dictionary(entries)

    def add_form(self, form: FormDef, values: dict[str, str], *, code17: str | None = None) -> int:
        """All pages of one form for one resident (or blank, with empty values). Returns pages written."""
        layout, xobjects = self._form(form)
        for page, xobject_id in zip(layout.pages, xobjects, strict=True):
            content = b"q /P Do Q\n" + stamp_values(page, values, self.font, self.style)
            if code17 and self.marks and page.height >= MIN_MARKED_HEIGHT:
                content += refile_mark(page, code17=code17, form_title=form.title, form_number=form.number,
                                       page_number=page.number, page_count=len(layout.pages), font=self.font,
                                       style=self.style)
            self.pdf.add_page(content, self._resources(xobject_id), size=(page.width, page.height))
            self._last_size = (page.width, page.height)
        return len(layout.pages)

    def add_instructions(self, form: FormDef) -> int:
        """The form's 填表说明 pages (A4, laid out once): no values, no re-filing mark — they are not part of a
        resident's folder. Returns pages written (0 for a form without instructions)."""
        if not has_instructions(form):
            return 0
        layout, xobjects = self._import(f"{form.id}:instructions", lambda: layout_instructions(form))
        for page, xobject_id in zip(layout.pages, xobjects, strict=True):
            self.pdf.add_page(b"q /P Do Q\n", self._resources(xobject_id), size=(page.width, page.height))
            self._last_size = (page.width, page.height)
        return len(layout.pages)

    def add_sheet(self, form: FormDef, people: list[dict[str, str]]) -> int:
        """Several residents on one sheet (cut-out cards): resident n fills the slots <prefix><n>.<slot>."""
        merged = {f"{form.slot_prefix}{n}.{slot}": value
                  for n, values in enumerate(people, start=1) for slot, value in values.items()}
        return self.add_form(form, merged)

    def add_blank_page(self) -> None:
        """The back of a sheet left empty so the next resident starts on a fresh sheet (duplex)."""
        self.pdf.add_page(b"", self._resources(None), size=self._last_size)

    def add_text_page(self, title: str, lines: list[str]) -> None:
        """A plain sheet (e.g. the household separator) drawn with the stamp font, no layout engine needed."""
        page = PageLayout(number=1, width=595.2756, height=841.8898)
        ops = [b"0 g\n", self._line(title, 20 * MM, page.height - 40 * MM, 22)]
        y = page.height - 55 * MM
        for line in lines:
            ops.append(self._line(line, 20 * MM, y, 13))
            y -= 8 * MM
        self.pdf.add_page(b"".join(ops), self._resources(None))

    def add_table(self, table: Table) -> int:
        """A list (随访名单, 调档单) as ruled A4 pages in the same stream and font. Returns pages written."""
        pages = table_pages(self.font, table)
        for content in pages:
            self.pdf.add_page(content, self._resources(None))
        return len(pages)

    def _line(self, text: str, x: float, y: float, size: float) -> bytes:
        return _text(self.font, text, x, y, size)

    def close(self, *, title: str = "") -> None:
        self.font.write(self.pdf, self.font_id)
        self.pdf.close(title=title)
